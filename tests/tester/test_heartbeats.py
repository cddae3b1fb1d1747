"""The heartbeat rule is watched in every test: a Raft that sends a follower more
than ten AppendEntries a second while idle gets one warning line, and still passes
(harness/heartbeats.py); the repository's Raft gets none."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import fixture_raft
import pytest
from harness import transcript
from harness.config import make_config
from harness.heartbeats import WINDOW


@pytest.fixture(autouse=True)
def no_timeline_pages(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RAFTLAB_TIMELINE", "off")
    yield


class Chatty(fixture_raft.Raft):
    """Heartbeats 50 times a second."""

    def broadcast_append_entries(self) -> None:
        super().broadcast_append_entries()
        self.heartbeat_due = time.monotonic() + 0.02  # planted: the lab allows 0.1 at least


Chatty.__name__ = "Raft"


def lines_of_this_test() -> list[str]:
    current = transcript.current()
    return list(current.lines) if current is not None else []


def test_heartbeats_fifty_a_second_get_one_warning_and_still_pass() -> None:
    with make_config(3, False, make=fixture_raft.make_with(Chatty)) as cfg:
        cfg.begin("Test (3A): initial election")
        cfg.checkOneLeader()
        time.sleep(2.5 * WINDOW)  # two whole idle windows after the election
        cfg.end()
    warnings = [line for line in lines_of_this_test() if line.startswith("warning: server")]
    assert len(warnings) == 1, lines_of_this_test()
    match = re.fullmatch(
        r"warning: server \d sent server \d (\d+) AppendEntries in (\d+\.\d) s while idle; "
        r"the lab allows at most 10 heartbeats a second\. Besides a short heartbeat "
        r"interval, the causes are a second heartbeat loop .*, two leaders in one term, "
        r"and acting on a stale reply .*",
        warnings[0],
    )
    assert match, warnings[0]
    assert int(match.group(1)) > 10 * float(match.group(2))


def test_the_repository_raft_gets_no_warning() -> None:
    with make_config(3, False) as cfg:
        cfg.begin("Test (3A): initial election")
        cfg.checkOneLeader()
        time.sleep(2.5 * WINDOW)
        cfg.one(101, 3, False)
        cfg.end()
    assert not [line for line in lines_of_this_test() if "heartbeats a second" in line]
