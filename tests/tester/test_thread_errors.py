"""A student's Raft whose thread raises fails the test at once, with that exception as
the cause: its type and message, and the student's own line (harness/thread_errors.py).

The wrong Rafts are subclasses of the small Raft kept with these tests, each named
Raft for labrpc, with one mistake planted.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import fixture_raft
import pytest
from fixture_raft import RequestVoteArgs, RequestVoteReply
from harness.config import make_config
from harness.thread_errors import ThreadErrors, ThreadFailure

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_timeline_pages(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """These tests fail their clusters on purpose; don't draw a timeline page for each."""
    monkeypatch.setenv("RAFTLAB_TIMELINE", "off")
    yield


class TypoInHandler(fixture_raft.Raft):
    def RequestVote(self, args: RequestVoteArgs, reply: RequestVoteReply) -> None:
        if args.term > 0:  # type: ignore[attr-defined]  # planted: the field is Term
            pass
        super().RequestVote(args, reply)


TypoInHandler.__name__ = "Raft"


class ApplierOffByOne(fixture_raft.Raft):
    def applier(self) -> None:
        while not self.killed():
            with self.mu:
                if self.commit_index > 0:
                    entry = self.log[self.commit_index + 1]  # planted: one past the end
                    del entry
            time.sleep(0.01)


ApplierOffByOne.__name__ = "Raft"


def test_an_exception_in_a_handler_fails_the_test_at_once_as_its_cause() -> None:
    start = time.monotonic()
    with pytest.raises(AssertionError) as failure:
        with make_config(3, False, make=fixture_raft.make_with(TypoInHandler)) as cfg:
            cfg.checkOneLeader()
    took = time.monotonic() - start
    lines = str(failure.value).splitlines()
    assert re.fullmatch(
        r"AttributeError: 'RequestVoteArgs' object has no attribute 'term'( \(raised \d+ times\))?",
        lines[0],
    )
    assert re.fullmatch(
        r"    at \S*test_thread_errors\.py:\d+, in RequestVote \(thread labrpc-\S+\): "
        r"if args\.term > 0:.*",
        lines[1],
    )
    assert took < 5, f"failed after {took:.1f} s"


def test_an_exception_in_the_applier_fails_agreement_at_once() -> None:
    start = time.monotonic()
    with pytest.raises(AssertionError) as failure:
        with make_config(3, False, make=fixture_raft.make_with(ApplierOffByOne)) as cfg:
            cfg.one(101, 3, False)
    took = time.monotonic() - start
    lines = str(failure.value).splitlines()
    assert lines[0] == "IndexError: list index out of range"
    assert re.fullmatch(
        r"    at \S*test_thread_errors\.py:\d+, in applier \(thread raft-\d-applier\): "
        r"entry = self\.log\[self\.commit_index \+ 1\].*",
        lines[1],
    )
    assert took < 5, f"failed after {took:.1f} s"


def test_a_later_failure_follows_the_cause_as_a_consequence() -> None:
    with pytest.raises(AssertionError) as failure:
        with make_config(3, False, make=fixture_raft.make_with(TypoInHandler)) as cfg:
            deadline = time.monotonic() + 10
            while not cfg.Failed() and time.monotonic() < deadline:
                time.sleep(0.01)
            cfg.fatalf("expected one leader, got none")
    lines = str(failure.value).splitlines()
    assert lines[0].startswith("AttributeError: 'RequestVoteArgs' object has no attribute 'term'")
    assert lines[-1] == "    then: expected one leader, got none"


def test_an_exception_raised_again_is_reported_once_with_a_count() -> None:
    failures: list[ThreadFailure] = []
    errors = ThreadErrors(failures.append)
    errors.install()
    try:
        for _ in range(3):
            thread = threading.Thread(target=lambda: {}["missing"], name="raft-0-ticker")
            thread.start()
            thread.join()
    finally:
        errors.uninstall()
    assert len(failures) == 1
    (report,) = errors.reports()
    assert report.count == 3
    assert report.describe().splitlines()[0] == "KeyError: 'missing' (raised 3 times)"
    assert threading.excepthook is not errors._hook


WRONG_RAFT_TEST = """
import fixture_raft
from harness.config import make_config
from test_thread_errors import TypoInHandler

def test_Typo3A():
    with make_config(3, False, make=fixture_raft.make_with(TypoInHandler)) as cfg:
        cfg.begin("Test (3A): initial election")
        cfg.checkOneLeader()
        cfg.end()
"""


def test_the_fail_line_gives_the_cause_and_the_traceback_hides_the_tester(
    tmp_path: Path,
) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["harness.plugin"]\n')
    (tmp_path / "test_wrong.py").write_text(WRONG_RAFT_TEST)
    env = {"PATH": "/usr/bin:/bin", "RAFTLAB_TIMELINE": "off", "PYTHONIOENCODING": "utf-8"}
    env["PYTHONPATH"] = f"{REPO / 'tests'}:{REPO / 'tests' / 'tester'}:{REPO}"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = done.stdout
    fail = out.index("--- FAIL: test_Typo3A (")
    first = out[fail:].splitlines()[:3]
    assert first[1].startswith("    AttributeError: 'RequestVoteArgs' object has no attribute")
    assert re.match(r"        at \S*test_thread_errors\.py:\d+, in RequestVote", first[2])
    assert "def checkOneLeader" not in out  # the tester's frames are hidden
    assert re.search(r"\n=+ 1 failed in [\d.]+s", out), out[-2000:]
