"""make grade SUBMISSIONS=dir [PARTS=3A] [RUNS=3] [P=2]: grade a folder of submissions.

    python -m grade SUBMISSIONS [--parts 3A 3B] [--runs 3] [-p 2] [--out grades]

Every .tar.gz, .tgz and .zip in SUBMISSIONS is one submission (project3_NAME.*).
Its raft/raft.py is graded in fresh copies of the pristine handout that
`make handout` built (dist/project3/.handout), with the points of
grade/points.toml.  Results go to grades/<date-time>/: grades.csv, and per
submission report.txt, the raft.py graded, and failed/ with each failed run's
output, seed and timeline.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from grade import grader, report
from grade.points import PointsError, lab_tests
from grade.pristine import HandoutError, Pristine
from grade.runner import Limits

REPO = Path(__file__).resolve().parents[1]
HANDOUT = REPO / "dist" / "project3" / ".handout"


def default_parallel() -> int:
    """Submissions graded at once: one per CPU this process may use.  Each run is
    a test process that pins itself to the idlest CPU (labrpc/cpu.py), so with one
    submission per CPU each running test usually has a core to itself.
    `make bench-grade` measures it: 20 copies of the reference, 3A, 3 runs each,
    lost no point at this default."""
    return max(1, len(os.sched_getaffinity(0)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grade", description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="the folder of submitted archives")
    parser.add_argument(
        "--parts", nargs="*", default=None, help="e.g. 3A 3B (default: all in grade/points.toml)"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each test (default 3)")
    parser.add_argument(
        "-p",
        "--parallel",
        type=int,
        default=default_parallel(),
        help=f"submissions graded at once (default {default_parallel()}: the CPU count)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "grades", help="default: grades/")
    parser.add_argument("--handout", type=Path, default=HANDOUT, help=argparse.SUPPRESS)
    parser.add_argument("--time-limit", type=float, default=Limits.seconds, help="seconds per run")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # a kill stops the children too, as Ctrl-C does
    console = Console(stderr=True)
    if args.runs < 1 or args.parallel < 1:
        console.print("grade: RUNS and P must be at least 1")
        return 2
    try:
        pristine = Pristine(args.handout)
        tests = lab_tests(
            pristine.lab_tests, [p.upper() for p in args.parts] if args.parts else None
        )
        submissions, skipped = grader.find_submissions(args.submissions)
    except (HandoutError, PointsError, FileNotFoundError) as e:
        console.print(str(e), markup=False)
        return 2
    if skipped:
        console.print(
            f"grade: skipped {len(skipped)} entries that are not .tar.gz, .tgz or .zip files: "
            + ", ".join(p.name for p in skipped[:10]),
            markup=False,
        )
    if not submissions:
        console.print(f"grade: no .tar.gz, .tgz or .zip files in {args.submissions}", markup=False)
        return 2
    out = args.out / time.strftime("%Y-%m-%d-%H%M%S")
    parts = " ".join(sorted({t.part for t in tests}))
    console.print(
        f"grade: {len(submissions)} submissions, parts {parts} ({len(tests)} tests), "
        f"{args.runs} runs each, {args.parallel} at a time -> {out}",
        markup=False,
    )
    limits = Limits(seconds=args.time_limit)
    per_submission = len(tests) * args.runs
    started = time.monotonic()
    with Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(),
        MofNCompleteColumn(), TextColumn("runs"), TimeRemainingColumn(), console=console,
    ) as progress:  # fmt: skip
        task = progress.add_task("grading", total=len(submissions) * per_submission)
        done = [0]

        def on_run(run: object) -> None:
            progress.advance(task)

        def on_done(result: grader.Result) -> None:
            done[0] += 1
            progress.advance(task, per_submission - sum(len(r) for r in result.runs.values()))
            progress.update(task, description=f"grading ({done[0]}/{len(submissions)} submissions)")
            outcome = "refused" if result.refused else f"{result.score:g}/{result.max_score:g}"
            flagged = ", flagged for review" if result.flags else ""
            progress.console.print(  # above the bar; the only progress where there is no terminal
                f"graded {result.submission.name}: {outcome}{flagged} "
                f"({done[0]} of {len(submissions)}, {time.monotonic() - started:.0f} s)",
                markup=False,
            )

        try:
            results = grader.grade_all(
                submissions, pristine, tests, args.runs, args.parallel, limits, on_run, on_done
            )
        except KeyboardInterrupt:
            console.print("grade: interrupted; every run was stopped and no grades were written")
            return 130
    csv_path = report.write_all(out, results, tests)
    report.print_summary(results, tests, Console())
    minutes = (time.monotonic() - started) / 60
    print(
        f"grade: {len(results)} submissions in {minutes:.1f} min; wrote {csv_path} "
        f"and a report per submission in {out}/"
    )
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
