"""The grader's figures: grade N copies of the reference as course staff would.

    python -m bench.grading [--copies 20] [--parts 3A] [--runs 3] [-p P] [--compare K]
                            [--compare-sealed K] [--in-process]
    (make bench-grade COPIES=20 PARTS=3A RUNS=3 COMPARE=2 COMPARE_SEALED=2 SEALED=0)

Each copy is the one-file reference (handout/reference.py) packed as
project3_RefNN.tar.gz; `python -m grade` grades the folder at the default P
(or -p).  It prints the wall time, submissions per hour, and the points lost:
a correct Raft must lose none however loaded the machine is.  Not pinned to one
CPU, unlike python -m bench: the default P follows the CPUs this process may use.
--compare K grades the folder 2K times, in the sandbox and without it by turns
(`--unsandboxed`, with bwrap off PATH), and prints each one's median and their
ratio: what the sandbox costs, measured side by side on the same machine.
--compare-sealed K grades it 2K times, sealed (make grade's default: each peer its
own sandboxed process) and in-process (--in-process) by turns, and prints the same;
--in-process alone grades in-process.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from grade.__main__ import HANDOUT, default_parallel
from handout.reference import single_file

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.grading", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--parts", nargs="*", default=["3A"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("-p", "--parallel", type=int, default=default_parallel())
    parser.add_argument("--compare", type=int, default=0, metavar="K")
    parser.add_argument("--compare-sealed", type=int, default=0, metavar="K")
    parser.add_argument("--in-process", action="store_true")
    args = parser.parse_args(argv)
    if args.compare and args.compare_sealed:
        parser.error("--compare and --compare-sealed: one at a time")
    source = single_file().encode()
    with tempfile.TemporaryDirectory(prefix="raftlab-bench-grading-") as tmp:
        folder = Path(tmp) / "submissions"
        folder.mkdir()
        for n in range(1, args.copies + 1):
            with tarfile.open(folder / f"project3_Ref{n:02d}.tar.gz", "w:gz") as tar:
                info = tarfile.TarInfo("raft/raft.py")
                info.size = len(source)
                tar.addfile(info, io.BytesIO(source))
        pair = COMPARE if args.compare else COMPARE_SEALED if args.compare_sealed else ()
        if pair:
            kinds = list(pair) * (args.compare or args.compare_sealed)
        else:
            kinds = ["in-process" if args.in_process else "as is"]
        times: dict[str, list[float]] = {}
        total_lost = 0.0
        for number, kind in enumerate(kinds):
            out = Path(tmp) / f"grades-{number}"
            seconds, lost = _grade(args, folder, out, kind)
            if seconds < 0:
                return 2
            times.setdefault(kind, []).append(seconds)
            total_lost += lost
        if pair:
            with_, without = (statistics.median(times[k]) for k in pair)
            what = "the sandbox's" if args.compare else "sealed mode's"
            print(
                f"grading: {what} cost: median {with_:.0f} s {pair[0]} "
                f"({', '.join(f'{t:.0f}' for t in times[pair[0]])}), {without:.0f} s "
                f"{pair[1]} ({', '.join(f'{t:.0f}' for t in times[pair[1]])}): "
                f"ratio {with_ / without:.2f}; lost points {total_lost:g} in all"
            )
    return 0 if total_lost == 0 else 1


COMPARE = ("sandboxed", "unsandboxed")
COMPARE_SEALED = ("sealed", "in-process")


def _grade(args: argparse.Namespace, folder: Path, out: Path, kind: str) -> tuple[float, float]:
    """Grade folder once: (wall seconds, points lost), or (-1, 0) if grading failed."""
    command = [
        sys.executable, "-m", "grade", str(folder), "--runs", str(args.runs),
        "-p", str(args.parallel), "--out", str(out), "--handout", str(HANDOUT),
        "--parts", *args.parts,
    ]  # fmt: skip
    env = dict(os.environ)
    if kind == "in-process":
        command.append("--in-process")
    if kind == "unsandboxed":
        command.append("--unsandboxed")
        env["PATH"] = os.pathsep.join(
            d for d in env.get("PATH", "").split(os.pathsep)
            if not os.path.exists(os.path.join(d, "bwrap"))
        )  # fmt: skip
    start = time.monotonic()
    done = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, text=True, env=env)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        print(done.stdout)
        return -1, 0.0
    (run_dir,) = out.iterdir()
    with open(run_dir / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    failed = sorted(run_dir.glob("submissions/*/failed/*.txt"))
    lost = sum(float(r["max_score"]) - float(r["score"]) for r in rows)
    print(
        f"grading ({kind}): {args.copies} copies of the reference, parts "
        f"{' '.join(args.parts)}, RUNS={args.runs}, P={args.parallel}: {seconds:.0f} s wall, "
        f"{seconds / args.copies:.1f} s a submission, "
        f"{3600 * args.copies / seconds:.0f} submissions/hour"
    )
    print(f"grading ({kind}): lost points {lost:g} of "
          f"{sum(float(r['max_score']) for r in rows):g}; failed runs {len(failed)}")  # fmt: skip
    for path in failed:
        print(f"  {path.parent.parent.name}: {path.read_text().splitlines()[1]}")
    return seconds, lost


if __name__ == "__main__":
    sys.exit(main())
