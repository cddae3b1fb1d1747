"""raft/debug.py: DPrintf is off by default, on through RAFTLAB_DEBUG (all topics or a
list), and a cluster's peers and tester write their events into one stream."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.config import make_config

from raft import debug

REPO = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^(\d{6}) ([A-Z]+) +(S\d+|--) (T\d+|--) (.*)$")

SCRIPT = """
from raft import debug
debug.DPrintf(debug.dVote, 1, 2, "grant S%d", 0)
debug.DPrintf(debug.dLog, 1, 2, "append %d entries", 3)
debug.DPrintf(debug.dTest, None, None, "disconnect")
print(sorted(debug._on))
"""


def run_with(env_value: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != debug.ENV}
    if env_value is not None:
        env[debug.ENV] = env_value
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


@pytest.fixture
def topics() -> Iterator[None]:
    """Restore this process's topics after a test changes them."""
    saved = ",".join(sorted(debug._on)) or "off"
    yield
    debug.configure(saved)


def test_off_by_default() -> None:
    done = run_with(None)
    assert done.stderr == ""
    assert done.stdout.strip() == "[]"


def test_all_topics_from_env() -> None:
    done = run_with("1")
    lines = done.stderr.splitlines()
    assert len(lines) == 3, done.stderr
    fields = [LINE.match(line) for line in lines]
    assert all(fields), lines
    assert [(m[2], m[3], m[4], m[5]) for m in fields if m] == [
        ("VOTE", "S1", "T2", "grant S0"),
        ("LOG", "S1", "T2", "append 3 entries"),
        ("TEST", "--", "--", "disconnect"),
    ]
    assert done.stdout.strip() == str(sorted(debug.TOPICS))


def test_listed_topics_only() -> None:
    done = run_with("vote, test")
    matches = [LINE.match(line) for line in done.stderr.splitlines()]
    assert [m[2] if m else None for m in matches] == ["VOTE", "TEST"]


def test_unknown_topic_is_reported_and_leaves_debug_off() -> None:
    done = run_with("vote,bogus")
    assert "unknown topic(s) bogus" in done.stderr
    assert not LINE.search(done.stderr)
    assert done.stdout.strip() == "[]"


def test_parse() -> None:
    assert debug.parse(None) == frozenset()
    assert debug.parse(" 0 ") == frozenset()
    assert debug.parse("all") == frozenset(debug.TOPICS)
    assert debug.parse("Vote,LEADER term") == {"vote", "leader", "term"}
    with pytest.raises(ValueError, match="unknown topic"):
        debug.parse("votes")


class Explodes:
    """An argument whose formatting fails: proves DPrintf formats nothing when off."""

    def __repr__(self) -> str:
        raise AssertionError("formatted")

    __str__ = __repr__


def test_off_formats_nothing(topics: None, capsys: pytest.CaptureFixture[str]) -> None:
    debug.configure("off")
    debug.DPrintf(debug.dVote, 0, 1, "%s %r", Explodes(), Explodes())
    debug.configure("leader")  # on, but not this topic
    debug.DPrintf(debug.dVote, 0, 1, "%s %r", Explodes(), Explodes())
    assert capsys.readouterr().err == ""
    with pytest.raises(AssertionError, match="formatted"):
        debug.configure("vote")
        debug.DPrintf(debug.dVote, 0, 1, "%s", Explodes())


def test_line_format_and_clock(topics: None, capsys: pytest.CaptureFixture[str]) -> None:
    debug.configure("vote,term")
    debug.restart_clock()
    debug.DPrintf(debug.dVote, 4, 17, "grant S%d", 2)
    time.sleep(0.05)
    debug.DPrintf(debug.dTerm, 0, 3, "see T%d: follower", 4)
    debug.DPrintf(debug.dLog, 0, 3, "hidden")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    first, second = (LINE.match(line) for line in lines)
    assert first and second
    assert first.group(2, 3, 4, 5) == ("VOTE", "S4", "T17", "grant S2")
    assert lines[0][7:14] == "VOTE   "  # topics padded to one width, so columns line up
    assert int(first[1]) < 40  # milliseconds since restart_clock()
    assert int(second[1]) - int(first[1]) >= 45


def test_cluster_writes_figure2_and_tester_events(
    topics: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real election, logged: the peers' Figure 2 events and the tester's, one clock."""
    debug.configure("all")
    with make_config(3, False) as cfg:
        leader = cfg.checkOneLeader()
        cfg.disconnect(leader)
        cfg.checkOneLeader()
        cfg.connect(leader)
        cfg.one(101, 3, True)
    lines = capsys.readouterr().err.splitlines()
    entries = [m.groups() for m in map(LINE.match, lines) if m]
    assert len(entries) == len(lines), [line for line in lines if not LINE.match(line)][:5]
    topics_seen = {e[1] for e in entries}
    assert {"TIMER", "VOTE", "LEADER", "TERM", "LOG", "COMMIT", "PERSIST", "TEST"} <= topics_seen
    tester = [e[4] for e in entries if e[1] == "TEST"]
    for word in ("restart", "connect", "disconnect", "start Start(101)", "commit", "check"):
        assert any(t.startswith(word) for t in tester), (word, tester)
    assert {e[2] for e in entries if e[1] != "TEST"} == {"S0", "S1", "S2"}
    assert int(entries[0][0]) < 100  # the tester restarted the clock as it built the cluster
    assert any(e[1] == "LEADER" and e[2] == f"S{leader}" for e in entries)
