"""make grade SUBMISSIONS=dir [PARTS= RUNS= P= ROSTER= BUDGET=]: grade a folder of submissions.

    python -m grade SUBMISSIONS [--parts 3A 3B] [--runs 3] [-p 2] [--out grades]
                    [--roster roster.csv] [--budget MINUTES] [--in-process]

Every project3_NAME.tar.gz, .tgz and .zip in SUBMISSIONS (as make submit names
it) is NAME's submission; with a roster (columns archive and student), every
archive it lists is its student's.  Anything else is ignored, with the reason.
Its raft/raft.py is graded in fresh copies of the pristine handout that
`make handout` built (dist/project3/.handout), with the points of
grade/points.ini, all its runs within the time budget.  Results go to
grades/<date-time>/: grades.csv, ignored.csv, and per submission, in
submissions/NAME/, report.txt, the raft.py graded, and failed/ with each failed
run's output, seed and timeline.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from grade import grader, report, runner, sandbox
from grade.points import PointsError, lab_tests
from grade.pristine import HandoutError, Pristine
from grade.runner import Limits

REPO = Path(__file__).resolve().parents[1]
GRADE = REPO / "grade"
HANDOUT = REPO / "dist" / "project3" / ".handout"
SHOWN = 20  # ignored files listed on the terminal; ignored.csv has them all


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
    parser.add_argument(
        "--roster", type=Path, default=None,
        help="CSV with the columns archive and student: who each archive is "
        "(default: NAME of project3_NAME.tar.gz)",
    )  # fmt: skip
    parser.add_argument(
        "--budget", type=float, default=None,
        help="minutes a submission's runs may take in all (default: from the parts and "
        "--runs); the runs left then are recorded as not run",
    )  # fmt: skip
    parser.add_argument(
        "--unsandboxed", action="store_true",
        help="grade even where no sandbox can be had (UNSANDBOXED=1 does the same); "
        "every report says so",
    )  # fmt: skip
    parser.add_argument(
        "--in-process", action="store_true",
        help="run each student's Raft in the process of pytest and the tester, the whole "
        "run in the sandbox (make grade SEALED=0), rather than sealed: each peer its own "
        "process in a sandbox of its own, the test process outside it; every report says which",
    )  # fmt: skip
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # a kill stops the children too, as Ctrl-C does
    console = Console(stderr=True)
    if args.runs < 1 or args.parallel < 1:
        console.print("grade: RUNS and P must be at least 1")
        return 2
    if args.budget is not None and not args.budget > 0:
        console.print(f"grade: BUDGET={args.budget:g}: give a submission's minutes, e.g. BUDGET=30")
        return 2
    try:
        pristine = Pristine(args.handout)
        tests = lab_tests(
            pristine.lab_tests, [p.upper() for p in args.parts] if args.parts else None
        )
        roster = grader.read_roster(args.roster) if args.roster else None
        found = grader.find_submissions(args.submissions, roster)
    except (HandoutError, PointsError, grader.RosterError, FileNotFoundError) as e:
        console.print(str(e), markup=False)
        return 2
    submissions = found.submissions
    if found.ignored:
        ignored = _count(len(found.ignored), "file")
        console.print(f"grade: ignored {ignored} (ignored.csv lists them):", markup=False)
        for entry in found.ignored[:SHOWN]:
            console.print(f"  {_shown(entry.file)}: {entry.why}", markup=False)
        if len(found.ignored) > SHOWN:
            console.print(f"  ... and {len(found.ignored) - SHOWN} more")
    if found.unsubmitted:
        console.print(
            f"grade: the roster lists {_count(len(found.unsubmitted), 'archive')} not in "
            f"{args.submissions}: " + ", ".join(map(_shown, found.unsubmitted[:SHOWN])),
            markup=False,
        )
    if not submissions:
        console.print(f"grade: no submissions to grade in {args.submissions}", markup=False)
        return 2
    isolation = sandbox.detect()
    if not isolation.sandboxed and not (args.unsandboxed or os.environ.get("UNSANDBOXED") == "1"):
        console.print(
            f"grade: refusing to grade: {isolation.describe()}. A run executes a student's "
            "code: without a sandbox it can read the repository and other submissions, "
            "and change grades. Install bubblewrap (apt-get install bubblewrap), or grade "
            "anyway with UNSANDBOXED=1 (every report then says so)",
            markup=False,
        )
        return 2
    limits = Limits(seconds=args.time_limit, isolation=isolation, sealed=not args.in_process)
    console.print(f"grade: {runner.describe(limits)}", markup=False)
    trusted = _hashes(args.handout)  # what grading trusts, as it is now, kept in memory
    out = args.out / time.strftime("%Y-%m-%d-%H%M%S")
    parts = " ".join(sorted({t.part for t in tests}))
    budget = (
        args.budget * 60 if args.budget is not None
        else grader.default_budget(tests, args.runs, limits)
    )  # fmt: skip
    console.print(
        f"grade: {len(submissions)} submissions, parts {parts} ({len(tests)} tests), "
        f"{args.runs} runs each, at most {grader.minutes(budget)} a submission, "
        f"{args.parallel} at a time -> {out}",
        markup=False,
    )
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
            outcome = (
                "grader error" if result.grader_failed
                else "refused" if result.refused
                else f"{result.score:g}/{result.max_score:g}"
            )  # fmt: skip
            now = _hashes(args.handout)
            changed = [name for name, sha in now.items() if trusted.get(name) != sha]
            if changed or len(now) != len(trusted):
                raise Tampered(changed or ["(a file was removed)"])
            flagged = ", flagged for review" if result.flags else ""
            progress.console.print(  # above the bar; the only progress where there is no terminal
                f"graded {result.submission.folder}: {outcome}{flagged} "
                f"({done[0]} of {len(submissions)}, {time.monotonic() - started:.0f} s)",
                markup=False,
            )

        try:
            results = grader.grade_all(
                submissions, pristine, tests, args.runs, args.parallel, limits, on_run, on_done,
                budget,
            )  # fmt: skip
        except KeyboardInterrupt:
            console.print("grade: interrupted; every run was stopped and no grades were written")
            return 130
        except Tampered as e:
            runner.stop_all()
            console.print(
                f"grade: STOPPED: {', '.join(e.files[:5])} changed while grading; no grades "
                "were written. Nothing a run can write should reach them: check the sandbox "
                "line above, rebuild with make handout, and grade again",
                markup=False,
            )
            return 3
    csv_path = report.write_all(out, results, tests, found.ignored)
    report.print_summary(results, tests, Console())
    minutes = (time.monotonic() - started) / 60
    print(
        f"grade: {len(results)} submissions in {minutes:.1f} min; wrote {csv_path} "
        f"and a report per submission in {out / report.SUBMISSIONS}/"
    )
    return 0


class Tampered(Exception):
    """A file grading trusts changed while grading."""

    def __init__(self, files: list[str]) -> None:
        super().__init__(", ".join(files))
        self.files = files


def _hashes(handout: Path) -> dict[str, str]:
    """SHA-256 of the grader's own code and of the pristine handout's files."""
    paths = [p for p in sorted(GRADE.rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    paths += [handout / "manifest.json", handout / "pristine.tar.gz"]
    found = {}
    for path in paths:
        try:
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            found[str(path)] = "unreadable"
    return found


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _shown(file_name: str, limit: int = 80) -> str:
    """A file name as one printable line: a name is its submitter's to choose."""
    text = file_name if file_name.isprintable() else repr(file_name)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
