"""Run one test simulated over many seeds; report each failure and how to replay it.

    make explore T=InitialElection N=1000 P=2
    .venv/bin/python -m tools.explore InitialElection -n 1000 -p 2 [--first 1] [--preempt 0.05]

Run k of the test has seed FIRST + k, and each seed is a different interleaving
and network history (harness/sim). Failures are grouped by test and first line,
its numbers aside, most frequent first, each with its seeds and the command
that replays the first of them exactly. A live bar shows the runs and the rate.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _pytest._io import TerminalWriter
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # harness, as pytest finds it

from harness import simtest  # noqa: E402


@dataclass
class Failure:
    """Runs of one test that failed with the same first line, numbers aside."""

    first_line: str
    seeds: list[int] = field(default_factory=list)
    nodeid: str = ""
    lines: list[str] = field(default_factory=list)  # the first run's first lines


class ExplorePlugin:
    """In pytest's controller process: the bar, and the failures by first line."""

    def __init__(self, console: Console, label: str) -> None:
        self.console = console
        self.failures: dict[str, Failure] = {}
        self.digests: dict[str, str] = {}  # "test seed" -> the run's trace digest
        self.done = 0
        self.failed = 0
        self.started = time.monotonic()
        self._devnull: Any = None
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = self.progress.add_task(label, total=None, failed=0, rate="")

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:  # the bar and the summary replace pytest's report here
            self._devnull = open(os.devnull, "w")
            reporter._tw = TerminalWriter(self._devnull)
        if hasattr(os, "sched_setaffinity"):  # workers pin themselves, each to the idlest CPU
            os.sched_setaffinity(0, range(os.cpu_count() or 1))
        self.started = time.monotonic()
        self.progress.start()

    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        self.progress.update(self.task, total=len(ids))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if session.items:
            self.progress.update(self.task, total=len(session.items))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.progress.console.print(f"[red]cannot collect {escape(report.nodeid)}[/]")
            self.progress.console.print(report.longreprtext, markup=False, highlight=False)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        digest = getattr(report, "raftlab_digest", None)
        seed = simtest.seed_of(report)
        if report.when == "call" and digest and seed is not None:
            self.digests[f"{report.nodeid.split('[')[0]} {seed}"] = str(digest[0])
        if report.failed:
            self._fail(report)
        if report.when == "teardown":
            self.done += 1
            hours = (time.monotonic() - self.started) / 3600
            rate = f"{self.done / hours:,.0f} runs/hour" if hours > 0 else ""
            self.progress.update(self.task, advance=1, failed=self.failed, rate=rate)

    def _fail(self, report: pytest.TestReport) -> None:
        seed = simtest.seed_of(report)
        crash = getattr(report.longrepr, "reprcrash", None)
        message = str(getattr(crash, "message", "") or report.longreprtext or "?")
        lines = [line for line in message.splitlines() if line.strip()][:5]
        first = lines[0] if lines else "?"
        # One failure, whatever its numbers (terms, servers, times): "term N has N leaders".
        key = f"{report.nodeid.split('[')[0]} {re.sub(r'[0-9]+(?:[.][0-9]+)?', 'N', first)}"
        group = self.failures.setdefault(key, Failure(first, nodeid=report.nodeid, lines=lines))
        if seed is not None and seed not in group.seeds:
            group.seeds.append(seed)
            self.failed += 1

    def close(self) -> None:
        if self.progress.live.is_started:
            self.progress.stop()
        if self._devnull is not None:
            self._devnull.close()

    def check_digests(self, path: Path) -> None:
        """Write the runs' digests to path, or if it exists, compare with those there."""
        if not path.exists():
            path.write_text("".join(f"{k} {v}\n" for k, v in sorted(self.digests.items())))
            self.console.print(f"explore: {len(self.digests)} digests written to {path}")
            return
        before = dict(line.rsplit(" ", 1) for line in path.read_text().splitlines() if line)
        both = set(before) & set(self.digests)
        differ = sorted(k for k in both if before[k] != self.digests[k])
        self.console.print(
            f"explore: {len(both)} runs compared with {path}: {len(differ)} digest mismatches"
        )
        for key in differ[:10]:
            self.console.print(f"    {key}: {before[key][:12]} then, {self.digests[key][:12]} now")

    def summary(self) -> None:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed * 3600 if elapsed > 0 else 0.0
        self.console.print(
            f"explore: {self.done} runs, {self.failed} failed, {elapsed:.1f} s, "
            f"{rate:,.0f} runs/hour"
        )
        for group in sorted(self.failures.values(), key=lambda g: -len(g.seeds)):
            seeds = sorted(group.seeds)
            path, _, name = group.nodeid.partition("::")
            replay = simtest.replay_command(path, name.split("[")[0], seeds[0])
            shown = ", ".join(map(str, seeds[:10])) + (" ..." if len(seeds) > 10 else "")
            self.console.print(f"\n[red]{len(seeds)} failing seed(s)[/]: {shown}", markup=True)
            for line in group.lines:
                self.console.print(f"    {line}", markup=False)
            self.console.print(f"  replay: {replay}", markup=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=".venv/bin/python -m tools.explore",
        description="Run one test simulated over N seeds in P processes; group the failures.",
    )
    parser.add_argument("pattern", help="which test, as pytest -k (e.g. InitialElection)")
    parser.add_argument("-n", "--seeds", type=int, default=1000, help="how many seeds")
    parser.add_argument("-p", "--parallel", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--first", type=int, default=1, help="the first seed (default 1)")
    parser.add_argument(
        "--preempt", type=float, default=None,
        help=f"chance of a switch at each lock acquire and release ({simtest.PREEMPT_ENV})",
    )  # fmt: skip
    parser.add_argument(
        "--digests", type=Path, default=None,
        help="write each run's trace digest to this file, or compare with it if it exists",
    )  # fmt: skip
    parser.add_argument("tests", nargs="*", default=["tests/lab"], help="where the test is")
    args = parser.parse_intermixed_args(argv)
    if args.seeds < 1 or args.parallel < 1:
        parser.error("-n and -p must be at least 1")
    os.environ.update(RAFTLAB_SIM="1", PYTHONHASHSEED="0", RAFTLAB_TIMELINE="off")
    os.environ.pop("RAFTLAB_SEED", None)
    if args.seeds == 1:  # pytest-repeat leaves a test alone for --count 1
        os.environ["RAFTLAB_SEED"] = str(args.first)
    else:
        os.environ[simtest.SEEDS_ENV] = str(args.first)  # pytest-repeat counts from 0
    if args.preempt is not None:
        os.environ[simtest.PREEMPT_ENV] = str(args.preempt)
    console = Console(highlight=False, soft_wrap=True)
    plugin = ExplorePlugin(console, escape(f"explore {args.pattern}"))
    pytest_args = [
        *args.tests, "-k", args.pattern, "--count", str(args.seeds), "-p", "no:cacheprovider",
        "-q", *(["-n", str(args.parallel)] if args.parallel > 1 else []),
    ]  # fmt: skip
    try:
        code = pytest.main(pytest_args, plugins=[plugin])
    finally:
        plugin.close()
    plugin.summary()
    if args.digests is not None:
        plugin.check_digests(args.digests)
    if plugin.done == 0:
        console.print(f"explore: no test matched {args.pattern!r}")
        return 2
    return 1 if plugin.failed else int(code) if code not in (0, 1) else 0


if __name__ == "__main__":
    sys.exit(main())
