"""pytest plugin: show the tester's Go lines for each test, without -s.

cfg.begin()/cfg.end() add lines to a per-test transcript (harness.transcript).
When the test's report is logged, the lines are written through the terminal
reporter in place of the test's progress letter ("." or "F"), so a run reads
like `go test`:

    tests/lab/test_raft_3a.py
                     secs  n rpcs   bytes cmds  (n: peers; rpcs, bytes: sent; cmds: agreed)
    Test (3A): initial election ...
      ... Passed --   3.1  3   56   14022    0

The header over the Passed line's numbers comes once, above the run's first
test that prints one. With -v the lines follow pytest's "PASSED" line. A
failed test gets Go's "--- FAIL" line with the seed that repeats the tester's
random choices; the seed also appears as a "raftlab" section in pytest's
failure report, with the path of the run's timeline (harness.timeline) when
the tester wrote one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from harness import race, runtime, simtest, transcript

_PLUGIN_NAME = "raftlab-golines"
_MAX_MESSAGE = 300


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--sealed",
        action="store_true",
        help="raftlab: run each peer in its own process, and no student code in the test "
        "process (make ... SEALED=1; RAFTLAB_SEALED=1 does the same; harness/runtime/sealed.py)",
    )
    parser.addoption(
        "--sim",
        action="store_true",
        help="raftlab: run each test in virtual time under a seeded scheduler, replayable "
        "exactly (make ... SIM=1; RAFTLAB_SIM=1 does the same; harness/sim, harness/simtest.py)",
    )
    parser.addoption(
        "--race",
        action="store_true",
        help="raftlab: check Raft's rf.mu discipline in every test (make test-race; "
        "RAFTLAB_RACE=1 does the same; see tests/harness/race.py)",
    )


def pytest_configure(config: pytest.Config) -> None:
    _check_debug_topics()
    if config.getoption("race", False):
        race.force()
    if config.getoption("sealed", False):
        runtime.force_sealed()
        os.environ["RAFTLAB_SEALED"] = "1"  # for xdist's workers and child processes
    if config.getoption("sim", False):
        runtime.force_sim()
        os.environ["RAFTLAB_SIM"] = "1"
    if runtime.sim_enabled():
        if runtime.sealed_enabled():
            raise pytest.UsageError(
                "raftlab: --sim and --sealed cannot go together: the simulation runs every "
                "peer in the test's own process. Choose one"
            )
        simtest.preempt()  # a bad RAFTLAB_SIM_PREEMPT stops the run here
    if not config.pluginmanager.has_plugin(_PLUGIN_NAME):
        config.pluginmanager.register(GoLines(config), _PLUGIN_NAME)


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"raftlab: warning: {line}" for line in _rebound_handlers()]
    if runtime.sealed_enabled():
        lines.append(
            "raftlab: sealed mode: each peer runs in its own process (harness/runtime/sealed.py)"
        )
    if runtime.sim_enabled():
        lines.append(
            "raftlab: simulation: virtual time under a seeded scheduler (harness/sim); CPU time "
            "costs none, so a Raft too slow in real time can pass here: make test-3A without "
            "SIM=1 is the real test"
        )
        if os.environ.get("PYTHONHASHSEED") != "0":
            lines.append(
                "raftlab: simulation: PYTHONHASHSEED is not 0, so a replay in another process "
                "may differ (make ... SIM=1 sets it)"
            )
    if race.enabled():
        lines.append(
            "raftlab: race mode: every test checks Raft's rf.mu discipline (harness/race.py)"
        )
    return lines


def _lab_raft_class() -> type | None:
    """The class Raft that raft.Make builds, or None if raft/ does not import: the
    tests then report why."""
    try:
        from harness.config import raft_class_of
        from raft import Make

        return raft_class_of(Make)
    except Exception:
        return None


def _rebound_handlers() -> tuple[str, ...]:
    if runtime.sealed_enabled():  # the test process imports no student code
        from harness.runtime.sealed import rebound_parameters as in_a_child

        return in_a_child()
    cls = _lab_raft_class()
    if cls is None:
        return ()
    from harness.causes import rebound_parameters

    return rebound_parameters(cls)


def _check_debug_topics() -> None:
    """A misspelt RAFTLAB_DEBUG topic stops the run at once, listing the topics:
    pytest would hide raft.debug's own warning with the test's captured output."""
    spec = os.environ.get("RAFTLAB_DEBUG")
    if not spec:
        return
    try:
        from harness import labdebug

        debug = labdebug.module()
    except Exception:
        return
    if debug is None:
        return
    try:
        debug.parse(spec)
    except ValueError as e:
        raise pytest.UsageError(
            f"{e}. Set RAFTLAB_DEBUG=1 for every topic, or to some of them, e.g. "
            "RAFTLAB_DEBUG=vote,leader"
        ) from None


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """In a --sim run, the test function runs inside a simulated World."""
    __tracebackhide__ = True
    if not runtime.sim_enabled():
        return None
    simtest.run(pyfuncitem)
    return True


class GoLines:
    """Collects each test's transcript and prints it after the test's result."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self._dangling = False  # our last line is still the terminal's current line
        self._fresh_line = False  # we just ended that line; nothing was written since
        self._file = ""  # the file of the test whose lines we wrote last
        self._columns_shown = False  # the header over the Passed line's numbers

    @pytest.hookimpl(tryfirst=True)  # before the reporter writes a new file's header
    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, Any, str]) -> None:
        transcript.start()
        self._fresh_line = False
        if not self._dangling:
            return
        self._dangling = False
        # With -v the reporter starts a new line itself. Otherwise the next test's "."
        # would be glued to our last line, and so would the progress ("[ 50%]") that
        # the reporter writes before a new file's header.
        reporter = self._reporter()
        if reporter is None or self._verbose():
            return
        new_header = location[0] != self._file and getattr(reporter, "showfspath", True)
        if not new_header or getattr(reporter, "_show_progress_info", True):
            reporter.write("\n")
            self._fresh_line = not new_header

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        """End our last line before the reporter writes its final "[100%]" after it."""
        try:
            return (yield)
        finally:
            reporter = self._reporter()
            if self._dangling and reporter is not None and not self._verbose():
                reporter.write("\n")
                self._dangling = False

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        transcript.stop()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, None]:
        outcome = yield
        report = outcome.get_result()
        current = transcript.current()
        if call.when != "call" or current is None or not current.used:
            return
        report.raftlab_lines = list(current.lines)
        report.raftlab_digest = (current.digest, current.virtual)
        report.raftlab_seeds = list(current.seeds)
        report.raftlab_timelines = list(current.timelines)
        report.raftlab_details = ""
        repr_failure = getattr(item, "_repr_failure_py", None)
        if (
            report.failed
            and call.excinfo is not None
            and callable(repr_failure)
            and item.config.option.tbstyle == "auto"
        ):
            # Go-like: a short traceback here; the long one, with what the test printed, to a file.
            long = repr_failure(call.excinfo, style="long")
            report.raftlab_details = _write_details(item, report, str(long), current.seeds)
            report.longrepr = repr_failure(call.excinfo, style="short")
        if report.failed and (current.seeds or current.timelines):
            hints = [transcript.seed_hint(current.seeds)] if current.seeds else []
            if current.digest:
                hints.append(f"replay: {_replay(report)}")
            hints += [f"timeline: {path}" for path in current.timelines]
            if report.raftlab_details:
                hints.append(f"full traceback: {report.raftlab_details}")
            report.sections.append(("raftlab", "\n".join(hints)))

    def pytest_report_teststatus(
        self, report: pytest.TestReport, config: pytest.Config
    ) -> tuple[str, str, str] | None:
        """Drop the progress letter of tests that print Go lines; keep the word."""
        if report.when != "call" or not hasattr(report, "raftlab_lines"):
            return None
        if hasattr(report, "wasxfail"):
            return None
        if report.passed:
            return "passed", "", "PASSED"
        if report.failed:
            return "failed", "", "FAILED"
        if report.skipped:
            return "skipped", "", "SKIPPED"
        return None

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        lines: list[str] | None = getattr(report, "raftlab_lines", None)
        if report.when != "call" or lines is None:
            return
        reporter = self._reporter()
        if reporter is None:
            return
        out = self._with_columns(lines)
        digest, virtual = getattr(report, "raftlab_digest", ("", 0.0))
        tag = f" {simtest.digest_tag(digest, virtual)}" if digest else ""
        if tag and not report.failed:
            passed = [i for i, line in enumerate(out) if line.startswith(transcript.PASSED)]
            if passed:
                out[passed[-1]] += tag
        if report.failed:
            name = report.nodeid.split("::")[-1]
            out.append(f"--- FAIL: {name} ({report.duration:.2f}s){tag}")
            message = _crash_message(report)
            if message:
                out.append("    " + message.replace("\n", "\n    "))
            seeds: list[int] = getattr(report, "raftlab_seeds", [])
            if seeds:
                out.append(f"    {transcript.seed_hint(seeds)}")
            if digest:
                out.append(f"    replay: {_replay(report)}")
        elif report.skipped:
            name = report.nodeid.split("::")[-1]
            out.append(f"--- SKIP: {name} ({report.duration:.2f}s)")
            out.append("    " + _skip_reason(report))
        timelines: list[str] = getattr(report, "raftlab_timelines", [])
        out += [f"    timeline: {path}" for path in timelines]
        details: str = getattr(report, "raftlab_details", "")
        if details:
            out.append(f"    full traceback: {details}")
        if not out:
            return
        first = "" if self._fresh_line else "\n"
        reporter.write(first + "\n".join(out))
        reporter.flush()
        self._dangling = True
        self._fresh_line = False
        self._file = report.location[0]

    def _with_columns(self, lines: list[str]) -> list[str]:
        """lines, under a header saying what the Passed line's numbers are if they are the
        run's first to hold one (on top, so the test's own lines stay together)."""
        if self._columns_shown or not any(s.startswith(transcript.PASSED) for s in lines):
            return list(lines)
        self._columns_shown = True
        return [transcript.PASSED_COLUMNS, *lines]

    def _reporter(self) -> Any:
        return self.config.pluginmanager.get_plugin("terminalreporter")

    def _verbose(self) -> bool:
        kind = getattr(pytest.Config, "VERBOSITY_TEST_CASES", None)
        if kind is not None:
            return bool(self.config.get_verbosity(kind) > 0)
        return bool(self.config.option.verbose > 0)


def _write_details(
    item: pytest.Item, report: pytest.TestReport, traceback: str, seeds: list[int]
) -> str:
    """Write the failure's long traceback and everything the test printed to
    .raftlab/failures/; its path, or "" if it could not be written."""
    name = re.sub(r"[^\w.\[\]-]", "_", item.name)
    suffix = f"-{seeds[0]}" if seeds else ""
    path = Path(item.config.rootpath) / ".raftlab" / "failures" / f"{name}{suffix}.txt"
    sections = "".join(f"\n----- {title} -----\n{body}" for title, body in report.sections)
    text = f"{report.nodeid}\n\n{traceback}\n{sections}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
        return os.path.relpath(path)
    except (OSError, ValueError):
        return ""


def _replay(report: pytest.TestReport) -> str:
    """The command that repeats a simulated test's run exactly."""
    path, _, name = report.nodeid.partition("::")
    seed = simtest.seed_of(report)
    return simtest.replay_command(path, name.split("[")[0], seed if seed is not None else 0)


def _skip_reason(report: pytest.TestReport) -> str:
    """The reason pytest.skip() was given (longrepr is (path, line, "Skipped: reason"))."""
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def _crash_message(report: pytest.TestReport) -> str:
    """The failure's message: its first line, and the indented lines right after it
    (where a thread's exception was raised, what failed then), each kept short."""
    crash = getattr(report.longrepr, "reprcrash", None)
    message = str(getattr(crash, "message", "") or "")
    message = re.sub(r"^(AssertionError|harness\.\w+\.\w+Error): ", "", message)
    message = re.sub(r"^harness\.sim\.errors\.", "", message)  # DeadlockError: DEADLOCK ...
    lines = message.splitlines()[:1]
    for line in message.splitlines()[1:12]:
        if not line.startswith("  "):
            break
        lines.append(line)
    return "\n".join(
        line if len(line) <= _MAX_MESSAGE else line[:_MAX_MESSAGE] + "..." for line in lines
    )
