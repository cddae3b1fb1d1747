"""Run the benchmarks and print their figures:

    python -m bench [--quick] [SECTION ...] [--parts=3A,3C] [--rounds=N]

--parts and --rounds choose the lab parts the sealed section runs, and how many
rounds of each (the full section runs every part three times, some 40 minutes)."""

from __future__ import annotations

import statistics
import sys

from bench import labrpc_bench, raft_bench, sealed_bench, sim_bench
from labrpc.cpu import pin_to_one_cpu


def labrpc_figures(quick: bool) -> None:
    runs = 1 if quick else 5
    calls = 10_000 if quick else 100_000
    seq = [labrpc_bench.sequential(calls) for _ in range(runs)]
    print(
        f"labrpc sequential: {statistics.median(seq):6.1f} us/call, median of {runs} runs "
        f"of {calls} calls ({', '.join(f'{x:.1f}' for x in seq)})"
    )
    conc = [labrpc_bench.concurrent(20, 1.0 if quick else 2.0) for _ in range(runs)]
    print(
        f"labrpc concurrent: {statistics.median(conc):8.0f} calls/s with 20 clients, "
        f"median of {runs} runs ({', '.join(f'{x:.0f}' for x in conc)})"
    )


def thread_figures(quick: bool) -> None:
    print(f"peak threads during Figure8Unreliable: {raft_bench.peak_threads_figure8_unreliable()}")


# snapshots before raft: its throughput runs grow logs without snapshots, and the
# memory they leave behind would hide the snapshot run's own RSS.
SECTIONS = {
    "labrpc": labrpc_figures,
    "snapshots": raft_bench.snapshot_report,
    "raft": raft_bench.report,
    "threads": thread_figures,
    "sealed": sealed_bench.report,
    "sim": sim_bench.report,
    "sim-suite": sim_bench.suite_report,
}


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    options = dict(a[2:].split("=", 1) for a in argv if a.startswith("--") and "=" in a)
    names = [a for a in argv if not a.startswith("-")] or list(SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        sys.exit(f"unknown benchmark(s) {unknown}; choose from {list(SECTIONS)}")
    parts = options.pop("parts", "").split(",") if "parts" in options else None
    rounds = options.pop("rounds", "0")
    bare = [a for a in argv if a.startswith("-") and a != "--quick" and "=" not in a]
    if options or bare or not rounds.isdigit():
        sys.exit(f"unknown options {argv}; the options are --quick, --parts=3A,3C, --rounds=N")
    if parts is not None and (bad := [p for p in parts if p not in sealed_bench.PARTS]):
        sys.exit(f"unknown part(s) {bad} for --parts; choose from {list(sealed_bench.PARTS)}")
    print(f"pinned to {pin_to_one_cpu()}")
    for name in names:
        if name == "sealed":
            sealed_bench.report(quick, parts, int(rounds))
        else:
            SECTIONS[name](quick)


if __name__ == "__main__":
    main(sys.argv[1:])
