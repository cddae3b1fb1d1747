"""A call into the Raft that never returns fails the test within seconds, naming the
call and the server, showing where the Raft's threads are, and giving the race-mode
command that finds the culprit (harness/hangs.py)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import fixture_raft
import pytest
from harness.config import make_config
from harness.hangs import HANG_SECONDS


@pytest.fixture(autouse=True)
def no_timeline_pages(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RAFTLAB_TIMELINE", "off")
    yield


class KeepsTheLock(fixture_raft.Raft):
    """A new leader's thread takes rf.mu again while holding it, and waits forever."""

    stuck: ClassVar[list[KeepsTheLock]] = []

    def become_leader(self) -> None:
        super().become_leader()
        KeepsTheLock.stuck.append(self)
        self.mu.acquire()  # planted: already held by this thread, so it waits forever


KeepsTheLock.__name__ = "Raft"


def test_a_call_that_never_returns_fails_the_test_within_seconds() -> None:
    KeepsTheLock.stuck.clear()
    start = time.monotonic()
    try:
        with pytest.raises(AssertionError) as failure:
            with make_config(3, False, make=fixture_raft.make_with(KeepsTheLock)) as cfg:
                cfg.begin("Test (3A): initial election")
                cfg.checkOneLeader()
        took = time.monotonic() - start
    finally:
        for rf in KeepsTheLock.stuck:  # let the stuck threads go, so none outlives the test
            rf.mu.release()
            rf.Kill()  # cleanup's Kill() was cut short
    lines = str(failure.value).splitlines()
    assert re.fullmatch(r"GetState\(\) on server \d has not returned after \d s", lines[0])
    assert any(re.fullmatch(
        r"    raft-\d-\w+( and \d+ more threads)?: \S*test_hangs\.py:\d+, in become_leader: "
        r"self\.mu\.acquire\(\).*",
        line,
    ) for line in lines), lines  # fmt: skip
    hint = (
        "    a thread may be holding rf.mu forever (for example across Call or applyCh): "
        'run make test-race RACE_ARGS="-k test_a_call_that_never_returns_fails_the_test_within'
        '_seconds" to find it'
    )
    assert hint in lines
    dump = next(line for line in lines if line.startswith("    every thread's stack: "))
    path = Path(dump.split(": ", 1)[1])
    assert "become_leader" in path.read_text()
    assert took < 3 * HANG_SECONDS  # the call, then Kill() in cleanup, each cut short
