"""Run the benchmarks and print their figures: python -m bench [--quick]."""

from __future__ import annotations

import statistics
import sys

from bench import labrpc_bench
from labrpc.cpu import pin_to_one_cpu


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    runs = 1 if quick else 5
    print(f"pinned to {pin_to_one_cpu()}; medians of {runs} runs")
    calls = 10_000 if quick else 100_000
    seq = [labrpc_bench.sequential(calls) for _ in range(runs)]
    print(
        f"labrpc sequential: {statistics.median(seq):6.1f} us/call "
        f"({calls} calls; runs: {', '.join(f'{x:.1f}' for x in seq)})"
    )
    conc = [labrpc_bench.concurrent(20, 1.0 if quick else 2.0) for _ in range(runs)]
    print(
        f"labrpc concurrent: {statistics.median(conc):8.0f} calls/s with 20 clients "
        f"(runs: {', '.join(f'{x:.0f}' for x in conc)})"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
