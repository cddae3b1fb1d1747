"""Run the whole lab suite against each planted bug: which test kills it, how fast.

    make test-bugs [BUGS="a b"] [P=2] [BEFORE=1]
    .venv/bin/python -m tools.bugs [-p 2] [--before] [--only NAME ...] [--list]

Each bug of tests/tester/planted_bugs.py is planted in the reference Raft as one
file, which takes the place of raft/raft.py in a fresh copy of the students'
handout (handout/build.py; the copy has no raft/log.py, so nothing of the
reference but the planted file can be imported).  A child process runs the lab's
tests there, stopping at the first failure (pytest -x), with the environment the
grader gives its children (grade/runner.py: `python -S` and an explicit
PYTHONPATH, so the editable install of this repository is never on the path).
P children run at once (default 2).

Suite order: tests/lab/test_raft_beyond_go.py first, if the lab has it, then
Go's 3A, 3B, 3C and 3D files; --before leaves the beyond-Go file out, so the
same command gives the table before and after the tests Go does not have.

Time to kill is the tests' own time (junit XML durations: setup, call and
teardown) summed up to and including the failing test; a survivor's is the
whole suite's.  Every child's output, its junit XML, any timeline the tester
wrote and the lab's .raftlab folder (full tracebacks, hang reports) are kept in
a folder named at the start.  `--only reference` runs the
unplanted reference the same way: if that is killed, the harness is at fault.
Ctrl-C (or SIGTERM) kills every child's process group.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grade.pristine import Pristine
from grade.runner import Children, Stopped, isolated_environment
from handout import build
from tests.tester.planted_bugs import BUGS, REFERENCE, Bug, by_name, plant

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / ".raftlab" / "bugs"
BEYOND_GO = "tests/lab/test_raft_beyond_go.py"
GO_FILES = tuple(f"tests/lab/test_raft_3{part}.py" for part in "abcd")
# A whole suite takes ~5 min alone; a child still running after this is stopped.
CHILD_SECONDS = 45 * 60.0

# Every bug's child: Ctrl-C or SIGTERM leaves none behind.
_children = Children()


@dataclass
class Outcome:
    """One bug's run of the suite."""

    bug: Bug
    killed_by: str  # the failing test's name; "" if it survived
    seconds: float  # test time up to and including the failing test (the suite's if survived)
    failure: str  # the first line of the failure, or why the run ended without one
    tests: int  # tests run
    wall: float  # the child's wall-clock time
    log: Path  # the child's folder

    @property
    def killed(self) -> bool:
        return bool(self.killed_by)


def suite(lab: Path, before: bool) -> list[str]:
    """The lab test files in the order they run."""
    files = [] if before or not (lab / BEYOND_GO).is_file() else [BEYOND_GO]
    return files + [f for f in GO_FILES if (lab / f).is_file()]


def run_bug(
    bug: Bug,
    pristine: Pristine,
    before: bool,
    out: Path,
    seconds: float,
    select: str = "",
    seeds: int = 0,
) -> Outcome:
    """Run the suite (only the tests pytest's -k select picks, if given) against bug
    in a child; the copy of the lab is removed after."""
    workdir = out / bug.name
    lab = workdir / "lab"
    pristine.copy_with(plant(bug).encode(), lab)
    (workdir / "tmp").mkdir()
    report = workdir / "junit.xml"
    env = isolated_environment(lab, workdir)
    env["RAFTLAB_TIMELINE_DIR"] = str(workdir)
    if os.environ.get("RAFTLAB_SEALED", "") not in ("", "0"):
        env["RAFTLAB_SEALED"] = "1"  # make test-bugs SEALED=1: each peer its own process
    if os.environ.get("RAFTLAB_SIM", "") not in ("", "0"):
        env.update(RAFTLAB_SIM="1", PYTHONHASHSEED="0")  # make test-bugs SIM=1: simulated
        for name in ("RAFTLAB_SEED", "RAFTLAB_SIM_PREEMPT"):
            if name in os.environ:
                env[name] = os.environ[name]
        if seeds:
            env["RAFTLAB_SIM_SEEDS"] = "1"  # run k (from 0) of a test has seed 1 + k
    files = suite(lab, before)
    command = [
        sys.executable, "-S", "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
        f"--junitxml={report}", "-o", "junit_duration_report=total", *files,
    ]  # fmt: skip
    if select:
        command += ["-k", select]
    if seeds:
        command += ["--count", str(seeds)]  # each test over seeds 1..seeds, in turn
    start = time.monotonic()
    returncode, timed_out, stopped = _children.run(
        command, lab, env, workdir / "output.txt", seconds
    )
    wall = time.monotonic() - start
    if (lab / ".raftlab").is_dir():  # full tracebacks, hang reports: the output names them
        shutil.move(lab / ".raftlab", workdir / ".raftlab")
    shutil.rmtree(lab, ignore_errors=True)
    shutil.rmtree(workdir / "tmp", ignore_errors=True)
    if stopped:
        raise Stopped  # the run was cut short: no verdict
    outcome = read_junit(bug, report, workdir, wall)
    if not outcome.killed and (timed_out or returncode != 0):
        # No failing test in the report, yet the run did not pass: it hung or crashed.
        why = (
            f"still running after {seconds:g} s" if timed_out
            else f"pytest exited {returncode} with no failing test in its report"
        )  # fmt: skip
        outcome.killed_by = "(the run itself)"
        outcome.failure = f"{why}; see {workdir / 'output.txt'}"
    return outcome


def read_junit(bug: Bug, report: Path, workdir: Path, wall: float) -> Outcome:
    """The first failing test in the junit XML report and the test time up to it."""
    outcome = Outcome(bug, "", 0.0, "", 0, wall, workdir)
    try:
        root = ET.parse(report).getroot()
    except (OSError, ET.ParseError):
        return outcome
    for case in root.iter("testcase"):
        outcome.tests += 1
        outcome.seconds += float(case.get("time") or 0.0)
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        if bad is not None:
            outcome.killed_by = case.get("name", "?")
            message = (bad.get("message") or bad.text or "").strip()
            outcome.failure = message.splitlines()[0] if message else bad.tag
            break
    return outcome


def table(outcomes: list[Outcome], title: str) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("bug")
    t.add_column("killed by")
    t.add_column("seconds", justify="right")
    t.add_column("first line of the failure", overflow="fold")
    for o in outcomes:
        style = "" if o.killed != (o.bug is REFERENCE) else "yellow"
        t.add_row(
            o.bug.name,
            o.killed_by or "survived",
            f"{o.seconds:.1f}",
            escape(o.failure[:160]),
            style=style,
        )
    return t


def kill_rate(outcomes: list[Outcome]) -> str:
    bugs = [o for o in outcomes if o.bug is not REFERENCE]
    times = [o.seconds for o in bugs if o.killed]
    line = f"kill rate: {len(times)}/{len(bugs)} killed"
    if times:
        line += f"; time to kill median {statistics.median(times):.1f} s, max {max(times):.1f} s"
    return line


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=".venv/bin/python -m tools.bugs",
        description="Run the lab suite against each planted Raft bug; report the kill rate.",
    )
    parser.add_argument("-p", "--parallel", type=int, default=2, help="bugs at once (default 2)")
    parser.add_argument(
        "--before", action="store_true", help=f"Go's tests only: leave {BEYOND_GO} out"
    )
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", default=[],
        help="these bugs only (`reference`: the unplanted reference, a control)",
    )  # fmt: skip
    parser.add_argument(
        "-k", dest="select", default="", metavar="EXPR",
        help="only the lab tests pytest's -k EXPR selects (e.g. 3A)",
    )  # fmt: skip
    parser.add_argument(
        "--seeds", type=int, default=0, metavar="K",
        help="simulated runs only (SIM=1): each test over seeds 1..K before the next; the "
        "killing run's seed is its [k-K] suffix",
    )  # fmt: skip
    parser.add_argument("--list", action="store_true", help="list the bugs and stop")
    parser.add_argument(
        "-o", "--out", type=Path, default=None,
        help="folder for each run's output (default .raftlab/bugs/<date-time>)",
    )  # fmt: skip
    parser.add_argument(
        "--child-seconds", type=float, default=CHILD_SECONDS,
        help=f"stop a suite run still going after this long (default {CHILD_SECONDS:g})",
    )  # fmt: skip
    args = parser.parse_args(argv)
    console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)

    if args.list:
        for bug in BUGS:
            console.print(escape(f"{bug.name:40} [{bug.covers}] {bug.description}"))
        return 0
    if args.parallel < 1:
        parser.error("-p must be at least 1")
    if args.seeds and os.environ.get("RAFTLAB_SIM", "") in ("", "0"):
        parser.error("--seeds needs the simulation: make test-bugs SIM=1 SEEDS=K")
    try:
        bugs = [REFERENCE if name == REFERENCE.name else by_name([name])[0] for name in args.only]
    except ValueError as e:
        parser.error(str(e))
    bugs = bugs or list(BUGS)
    for bug in bugs:
        plant(bug)  # a stale anchor fails here, before any child starts

    out = (args.out or DEFAULT_OUT / time.strftime("%Y%m%d-%H%M%S")).resolve()
    out.mkdir(parents=True)
    handout = build.build(out / "handout")
    pristine = Pristine(handout / ".handout")
    files = suite(handout, args.before)
    shutil.rmtree(out / "handout")
    console.print(
        f"{len(bugs)} bug(s), {args.parallel} at once, each against {' '.join(files)} "
        f"(pytest -x{f' -k {args.select!r}' if args.select else ''}); "
        f"output in {escape(str(out))}"
    )

    outcomes: dict[str, Outcome] = {}
    outcomes_lock = threading.Lock()  # guards outcomes

    def one(bug: Bug) -> None:
        try:
            o = run_bug(
                bug, pristine, args.before, out, args.child_seconds, args.select, args.seeds
            )
        except Stopped:
            return
        with outcomes_lock:
            outcomes[bug.name] = o
            finished = len(outcomes)
        verdict = (
            f"[red]killed[/] by {escape(o.killed_by)} after {o.seconds:.1f} s"
            if o.killed else f"[green]survived[/] {o.tests} tests, {o.seconds:.1f} s"
        )  # fmt: skip
        verdict += f" ({o.wall:.0f} s wall)"
        console.print(f"{finished}/{len(bugs)} {bug.name}: {verdict}")

    signal.signal(signal.SIGTERM, _interrupt)  # a kill stops the children too
    pool = ThreadPoolExecutor(max_workers=args.parallel, thread_name_prefix="bug")
    futures = [pool.submit(one, bug) for bug in bugs]
    interrupted = False
    try:
        for future in futures:
            while not future.done():
                time.sleep(0.2)  # the main thread stays free to take Ctrl-C
            future.result()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        _children.stop_all()
        pool.shutdown(wait=True, cancel_futures=True)

    done = [outcomes[bug.name] for bug in bugs if bug.name in outcomes]
    title = "planted bugs, " + ("Go's tests only" if args.before else "the whole lab suite")
    if args.select:
        title += f", tests -k {args.select!r}"
    console.print(table(done, title))
    with open(out / "table.txt", "w") as f:
        file_console = Console(file=f, width=200, highlight=False, no_color=True)
        file_console.print(table(done, title))
        file_console.print(kill_rate(done))
    if interrupted:
        console.print(f"[yellow]interrupted[/] after {len(done)} of {len(bugs)} bugs")
    for o in done:
        if o.bug is REFERENCE and o.killed:
            console.print(
                f"[red]the unplanted reference failed[/]: a kill is not the bug's doing; "
                f"see {escape(str(o.log / 'output.txt'))}"
            )
    console.print(f"output of each run in {escape(str(out))}")
    console.print(kill_rate(done))
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
