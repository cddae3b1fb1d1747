"""pytest plugin loaded in every grading child (-p raftlab_grade_report).

At the end of the session it writes --grade-report=PATH: each test's outcome
in setup, call and teardown and, for a failure, pytest's report of it.  The
grader counts a run as passed only when this file exists, says the test
passed, and the child exited 0: a run that ends early (os._exit, a crash, a
kill) never writes it.  It also lists the modules of the raft package loaded in
this process: a sealed run's test process must have none (the student's raft.py
runs only in the peer hosts), and the grader fails a sealed run whose report
names one.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

_results: dict[str, dict[str, Any]] = {}
_collect_errors: list[str] = []  # why a test file could not be imported


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--grade-report", default="", help="raftlab grading: write results here")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entry = _results.setdefault(report.nodeid, {"phases": {}, "failure": ""})
    entry["phases"][report.when] = report.outcome
    if report.failed:
        entry["failure"] += f"[{report.when}] {report.longreprtext}\n"
    if report.outcome != "passed" and "message" not in entry:
        entry["message"] = _message(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        lines = [line for line in report.longreprtext.splitlines() if line.startswith("E ")]
        _collect_errors.append((lines[-1][1:].strip() if lines else report.longreprtext)[:300])


def _message(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The failure's one line (AssertionError: ...), or a skip's reason."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (file, line, reason)
        text = f"{report.outcome}: {longrepr[2]}"
    else:
        crash = getattr(longrepr, "reprcrash", None)
        text = str(crash.message) if crash is not None else report.longreprtext
    lines = text.strip().splitlines()
    return lines[0][:300] if lines else report.outcome


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = session.config.getoption("grade_report")
    if path:
        with open(path, "w") as f:
            report = {"exitstatus": int(exitstatus), "tests": _results}
            raft = sorted(name for name in sys.modules if name.split(".")[0] == "raft")
            json.dump(report | {"collect_errors": _collect_errors, "raft_modules": raft}, f)
