"""DPrintf: per-topic debug lines, off unless RAFTLAB_DEBUG is set.

    RAFTLAB_DEBUG=1 (or "all")          every topic
    RAFTLAB_DEBUG=vote,leader,term      only these topics
    unset, "" or "0"                    off: DPrintf returns after one set lookup

One line per event: milliseconds since the clock started (the tester restarts
it when it builds a cluster), the topic, the peer, its term, the message:

    001234 VOTE    S2 T3 grant S1

Lines go through `logging` to whatever sys.stderr is at the time, so pytest
keeps them with a failing test's output. The tester writes its own events
(topic TEST, peer "--" when it concerns no single peer) into the same stream.
`.venv/bin/python -m tools.dslogs FILE` shows a log one column per peer.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any, TextIO

# Topics (named as in "Debugging by Pretty Printing", which 6.5840 students know).
dTimer = "timer"  # election timeout, heartbeat due
dVote = "vote"  # votes granted, denied, counted
dLeader = "leader"  # becoming leader
dTerm = "term"  # a higher term seen: currentTerm changes, step down
dLog = "log"  # Start, entries appended, conflicts, truncations, nextIndex backing up
dCommit = "commit"  # commitIndex advances, entries applied
dPersist = "persist"  # state saved and restored
dSnap = "snap"  # snapshots taken, sent and installed (3D)
dDrop = "drop"  # RPCs lost or unanswered
dTest = "test"  # the tester's events (connect, crash, Start, commit, checks)

TOPICS = (dTimer, dVote, dLeader, dTerm, dLog, dCommit, dPersist, dSnap, dDrop, dTest)

ENV = "RAFTLAB_DEBUG"

_on: frozenset[str] = frozenset()  # the topics DPrintf writes; empty when off
_epoch = time.monotonic()
# A logger of its own, outside logging's registry: pytest copies every registered
# logger's records into a "Captured log" section, which would show each line twice.
_logger = logging.Logger("raftlab", logging.DEBUG)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time, so pytest's capture gets each test's lines."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def parse(spec: str | None) -> frozenset[str]:
    """The topics a RAFTLAB_DEBUG value turns on; raises ValueError on an unknown topic."""
    text = (spec or "").strip().lower()
    if text in ("", "0", "off", "false", "no"):
        return frozenset()
    if text in ("1", "all", "on", "true", "yes"):
        return frozenset(TOPICS)
    topics = frozenset(t for t in text.replace(",", " ").split() if t)
    unknown = sorted(topics - set(TOPICS))
    if unknown:
        raise ValueError(
            f"{ENV}: unknown topic(s) {', '.join(unknown)}; topics: {', '.join(TOPICS)}"
        )
    return topics


def configure(spec: str | None) -> frozenset[str]:
    """Turn topics on or off at run time (spec as in RAFTLAB_DEBUG); returns them."""
    global _on
    topics = parse(spec)
    if topics and not _logger.handlers:
        _logger.addHandler(_StderrHandler())
    _on = topics
    return topics


def enabled(topic: str) -> bool:
    return topic in _on


def restart_clock() -> None:
    """Count milliseconds from now (the tester calls this as it builds a cluster)."""
    global _epoch
    _epoch = time.monotonic()


def DPrintf(topic: str, peer: int | None, term: int | None, format: str, *args: Any) -> None:
    """Write one debug line if topic is on; costs one set lookup when it is not.

    peer and term may be None (a tester event about no single peer)."""
    if topic not in _on:
        return
    ms = int((time.monotonic() - _epoch) * 1000)
    who = "--" if peer is None else f"S{peer}"
    when = "--" if term is None else f"T{term}"
    message = format % args if args else format
    _logger.debug("%06d %-7s %s %s %s", ms, topic.upper(), who, when, message)


try:
    configure(os.environ.get(ENV))
except ValueError as e:
    print(f"raft.debug: {e}; debug lines stay off", file=sys.stderr)
