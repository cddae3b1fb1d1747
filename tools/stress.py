"""Run tests many times in parallel and keep every failing run's output.

    make stress T=ManyElections N=200 P=2
    .venv/bin/python -m tools.stress ManyElections -n 200 -p 2
    .venv/bin/python -m tools.stress 3A -n 50 -- tests/lab/test_raft_3a.py -x
                                               (pytest arguments after --)

Each test matching the pattern (pytest's -k) runs N times (pytest-repeat) in
P worker processes (pytest-xdist), under a live progress bar. Each failing
run's full output (the tester's lines, the failure, captured stdout and
stderr, which hold the debug log) is kept as one file in a folder named at
the start, with a header giving its seed, how to run it again, and its
timeline (the tester writes failing runs' timelines into the same folder).
At the end, and after Ctrl-C too, a table gives per test: failed, total and
mean time. Into a file or a pipe, where no bar is drawn, each finished run
prints a line with the count so far.

Debug lines are on in every run (RAFTLAB_DEBUG=all unless --debug says
otherwise or RAFTLAB_DEBUG is already set), so a kept run holds its log:
pytest keeps a test's stderr only when the test fails, so passing runs cost
little. `.venv/bin/python -m tools.dslogs FILE` pretty-prints a kept run.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
from _pytest._io import TerminalWriter
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / ".raftlab" / "stress"

# test_ManyElections3A[57-200], test_x[param-3-10]: pytest-repeat's suffix.
_REPEAT = re.compile(r"^(?P<name>.*?)\[(?:(?P<param>.*)-)?(?P<rep>\d+)-(?P<count>\d+)\]$")
_SEED = re.compile(r"RAFTLAB_SEED=(\d+)")
_TIMELINE = re.compile(r"timeline: (\S+\.html)")


@dataclass
class TestStats:
    """Runs of one test (all its repetitions)."""

    runs: int = 0
    failed: int = 0
    seconds: float = 0.0
    kept: list[Path] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return self.seconds / self.runs if self.runs else 0.0


@dataclass
class Run:
    """The reports of one repetition of one test, phase by phase."""

    nodeid: str
    reports: list[Any] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(r.failed for r in self.reports)

    @property
    def seconds(self) -> float:
        return sum(float(getattr(r, "duration", 0.0) or 0.0) for r in self.reports)


def split_nodeid(nodeid: str) -> tuple[str, str]:
    """(test id without pytest-repeat's suffix, repetition number or "")."""
    path, _, name = nodeid.rpartition("::")
    m = _REPEAT.match(name)
    if m is None:
        return nodeid, ""
    base = m["name"] + (f"[{m['param']}]" if m["param"] else "")
    return (f"{path}::{base}" if path else base), m["rep"]


class StressPlugin:
    """In pytest's main process (xdist's controller): progress, kept failures, the table."""

    def __init__(self, out: Path, console: Console, label: str) -> None:
        self.out = out
        self.console = console
        self.stats: dict[str, TestStats] = {}
        self.total: int | None = None
        self.done = 0
        self.failures = 0
        self.interrupted = False
        self._runs: dict[str, Run] = {}
        self._cpus: set[int] | None = None
        self._devnull: IO[str] | None = None
        if hasattr(os, "sched_getaffinity"):
            self._cpus = set(os.sched_getaffinity(0))
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task(label, total=None, failed=0)

    # -- pytest hooks (controller side) ----------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # The progress bar and the table replace pytest's own report in this process.
        # (Only here: workers keep their reporter, which pytest-timeout dumps a hung
        # test's stacks through, into the test's captured output.)
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            self._devnull = open(os.devnull, "w")  # closed by close()
            reporter._tw = TerminalWriter(self._devnull)
        # tests/conftest.py pins this process to one CPU; xdist's workers would
        # inherit that, so give them all CPUs back: each pins itself to the idlest.
        if self._cpus and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, self._cpus)
        self.progress.start()

    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        if self.total is None:
            self.total = len(ids)
            self.progress.update(self.task, total=self.total)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.total is None and session.items:  # when pytest runs without xdist
            self.total = len(session.items)
            self.progress.update(self.task, total=self.total)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        run = self._runs.setdefault(report.nodeid, Run(report.nodeid))
        run.reports.append(report)
        if report.when in ("teardown", "???"):  # "???": xdist's report of a crashed worker
            self._finish(self._runs.pop(report.nodeid))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:  # pytest's own report is silenced: show why
            self.progress.console.print(f"[red]cannot collect {escape(report.nodeid)}[/]")
            self.progress.console.print(report.longreprtext, markup=False, highlight=False)

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        self.interrupted = True

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        for run in self._runs.values():  # runs cut short by Ctrl-C count only if they failed
            if run.failed:
                self._finish(run)
        self._runs.clear()
        self.stop()

    def stop(self) -> None:
        if self.progress.live.is_started:
            self.progress.stop()

    def close(self) -> None:
        """After pytest.main: pytest's reporter writes until the very end."""
        self.stop()
        if self._devnull is not None:
            self._devnull.close()
            self._devnull = None

    def pytest_internalerror(self, excrepr: Any) -> None:
        self.progress.console.print(str(excrepr), markup=False, highlight=False)

    # -- bookkeeping -------------------------------------------------------------

    def _finish(self, run: Run) -> None:
        test, rep = split_nodeid(run.nodeid)
        stats = self.stats.setdefault(test, TestStats())
        stats.runs += 1
        stats.seconds += run.seconds
        self.done += 1
        if run.failed:
            stats.failed += 1
            self.failures += 1
            path = self._keep(run, test, rep or str(stats.runs))
            if path is not None:
                stats.kept.append(path)
                shown = f"{escape(run.nodeid)} -> {escape(_show(path))}"
                self.progress.console.print(f"[red]FAIL[/] {shown}")
        self.progress.update(self.task, advance=1, failed=self.failures)
        if not self.console.is_terminal:
            # No live bar into a file or a pipe: a line a run, so that a log cut
            # short (a CI job's limit, a timeout) still says how far it got.
            outcome = "failed" if run.failed else "passed"
            self.console.print(
                f"{self.done}/{self.total_shown} runs, {self.failures} failed: "
                f"{escape(run.nodeid)} {outcome} in {run.seconds:.1f}s"
            )

    @property
    def total_shown(self) -> str:
        """The runs to do, as printed: "?" until collection has counted them."""
        return str(self.total) if self.total is not None else "?"

    def _keep(self, run: Run, test: str, rep: str) -> Path | None:
        """Write the failing run's output; return its path."""
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", test.rpartition("::")[2]).strip("-")
        path = self.out / f"{name}-{rep}.log"
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            path.write_text(describe(run, path), encoding="utf-8")
        except OSError as e:
            self.progress.console.print(f"[red]cannot keep {escape(run.nodeid)}: {escape(str(e))}")
            return None
        return path

    # -- the end -----------------------------------------------------------------

    def table(self) -> Table:
        table = Table(title="stress: runs per test", title_justify="left")
        table.add_column("test")
        table.add_column("failed", justify="right")
        table.add_column("total", justify="right")
        table.add_column("mean time", justify="right")
        for test in sorted(self.stats):
            s = self.stats[test]
            style = "red" if s.failed else ""
            table.add_row(
                test.rpartition("::")[2], str(s.failed), str(s.runs), f"{s.mean:.2f}s", style=style
            )
        return table


def describe(run: Run, path: Path) -> str:
    """A kept run: a header (test, seed, how to run it again, timeline), then its output."""
    test, _ = split_nodeid(run.nodeid)
    failed = [r for r in run.reports if r.failed]
    first = failed[0] if failed else run.reports[-1]
    sections: dict[tuple[str, str], None] = {}  # a phase's report repeats earlier phases'
    lines: list[str] = []
    for r in run.reports:
        lines += getattr(r, "raftlab_lines", None) or []
        for title, text in getattr(r, "sections", []):
            sections[(title, text)] = None
    body = "\n".join(f"----- {title} -----\n{text}" for title, text in sections)
    failures = "\n".join(f"----- failure ({r.when}) -----\n{r.longreprtext}" for r in failed)
    seeds: list[int] = []
    for r in run.reports:
        seeds += getattr(r, "raftlab_seeds", None) or []
    if not seeds:
        seeds = [int(s) for s in _SEED.findall(failures + body)]
    seeds = list(dict.fromkeys(seeds))
    timelines: list[str] = []
    for r in run.reports:
        timelines += getattr(r, "raftlab_timelines", None) or []
    timelines = list(dict.fromkeys(timelines or _TIMELINE.findall(body)))
    env = " ".join(f"RAFTLAB_SEED={s}" for s in seeds[:1])
    python = _show(Path(sys.executable))
    again = f"{env} RAFTLAB_DEBUG=all {python} -m pytest {shlex.quote(test)}".strip()
    worker = getattr(first, "node", None)
    worker_id = getattr(worker, "gateway", None)
    where = f" on worker {worker_id.id}" if worker_id is not None else ""
    header = [
        f"# a failing run kept by `{python} -m tools.stress`",
        f"test:     {run.nodeid}",
        f"outcome:  failed in {first.when} after {run.seconds:.2f}s{where}",
        "seed:     "
        + (" ".join(f"RAFTLAB_SEED={s}" for s in seeds) if seeds else "(no tester seed)"),
        f"again:    {again}",
    ]
    header += [f"timeline: {t}" for t in timelines]
    header.append(f"log:      {python} -m tools.dslogs {_show(path)}")
    tester = "----- tester output -----\n" + "\n".join(lines) if lines else ""
    parts = ["\n".join(header), tester, failures, body]
    return "\n\n".join(p for p in parts if p) + "\n"


def _show(path: Path) -> str:
    """path relative to the working directory when it lies inside it."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1 :]
    parser = argparse.ArgumentParser(
        prog=".venv/bin/python -m tools.stress",
        description="Run tests N times in P processes; keep each failing run's output.",
        epilog="Arguments after -- go to pytest (default: tests).",
    )
    parser.add_argument(
        "pattern", nargs="?", default="", help="which tests, as pytest -k (e.g. 3A, ManyElections)"
    )
    parser.add_argument("-n", "--count", type=int, default=100, help="runs of each test")
    parser.add_argument(
        "-p",
        "--parallel",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: one per CPU)",
    )
    parser.add_argument(
        "-o",
        "--out",
        type=Path,
        default=None,
        help="folder for failing runs (default .raftlab/stress/<date-time>)",
    )
    parser.add_argument(
        "--debug", default=None, help="RAFTLAB_DEBUG for the runs: all (default), topics, or off"
    )
    args = parser.parse_args(argv)
    if args.count < 1 or args.parallel < 1:
        parser.error("-n and -p must be at least 1")

    out = args.out or DEFAULT_OUT / time.strftime("%Y%m%d-%H%M%S")
    out = out.resolve()
    os.environ["RAFTLAB_DEBUG"] = args.debug or os.environ.get("RAFTLAB_DEBUG") or "all"
    os.environ["RAFTLAB_TIMELINE_DIR"] = str(out)

    console = Console(highlight=False, soft_wrap=True)  # paths stay whole, to copy
    label = f"stress {args.pattern or 'all'}"
    plugin = StressPlugin(out, console, escape(label))
    pytest_args = [
        *(extra or ["tests/lab"]),
        "-n",
        str(args.parallel),
        "--count",
        str(args.count),
    ]
    if args.pattern:
        pytest_args += ["-k", args.pattern]
    console.print(
        f"{escape(label)}: {args.count} runs of each test, {args.parallel} processes; "
        f"failing runs go to {escape(_show(out))}"
    )
    code: int | pytest.ExitCode = pytest.ExitCode.INTERRUPTED
    try:
        code = pytest.main(pytest_args, plugins=[plugin])
    except KeyboardInterrupt:
        plugin.interrupted = True
    finally:
        plugin.close()
    if code == pytest.ExitCode.INTERRUPTED:
        plugin.interrupted = True
    console.print(plugin.table())
    if plugin.interrupted:
        console.print(f"[yellow]interrupted[/] after {plugin.done} of {plugin.total_shown} runs")
    if plugin.failures:
        console.print(f"[red]{plugin.failures} failing run(s)[/] kept in {escape(_show(out))}:")
        for stats in plugin.stats.values():
            for path in stats.kept:
                console.print(f"  {escape(_show(path))}")
    elif plugin.done:
        console.print(f"no failures in {plugin.done} runs")
    if code in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED):
        console.print(f"pytest stopped: {pytest.ExitCode(code).name}")
        return int(code)
    if plugin.interrupted:
        return 130
    return 1 if plugin.failures or code != pytest.ExitCode.OK else 0


if __name__ == "__main__":
    sys.exit(main())
