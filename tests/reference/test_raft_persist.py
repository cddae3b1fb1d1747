"""Raft's persisted state: what persist() saves is what readPersist() restores,
and bytes that are not such a state are refused with a clear error."""

from __future__ import annotations

import io
import queue

import pytest

import labgob
import labrpc
from raft import Make, MakePersister, Persister
from raft.log import LogEntry
from raft.raft import Raft


def _make(persister: Persister) -> Raft:
    net = labrpc.MakeNetwork()
    try:
        return Make([net.MakeEnd("0")], 0, persister, queue.Queue())
    finally:
        net.Cleanup()


def _state(*values: object) -> bytes:
    w = io.BytesIO()
    e = labgob.NewEncoder(w)
    for v in values:
        e.Encode(v)
    return w.getvalue()


def test_persist_round_trip() -> None:
    """A peer made from a persister holds the term, vote and log another peer saved."""
    p = MakePersister()
    rf = _make(p)
    try:
        with rf.mu:
            rf.current_term = 7
            rf.voted_for = 2
            rf.log.append(LogEntry(Term=5, Command="x"))
            rf.log.append(LogEntry(Term=7, Command=[1, {"k": b"v"}]))
            rf.persist()
    finally:
        rf.Kill()
    again = _make(p.Copy())
    try:
        state = again.inspect()
        assert state["term"] == 7
        assert again.voted_for == 2
        assert state["log"] == [(5, "x"), (7, [1, {"k": b"v"}])]
    finally:
        again.Kill()


@pytest.mark.parametrize(
    "data, why",
    [
        (b"\xff\x00garbage", "corrupt"),
        (_state(3, None), "no more values"),
        (_state("3", None, b""), "expected (current_term: int"),
        (_state(3, "me", b""), "expected (current_term: int"),
        (_state(3, None, [1, 2]), "expected (current_term: int"),
        (_state(3, None, labgob.encode("5")), "is a str, not an int"),
        (_state(3, None, labgob.encode(5)), "before its command"),
    ],
)
def test_corrupt_state_is_refused(data: bytes, why: str) -> None:
    p = MakePersister()
    p.Save(data, None)
    with pytest.raises(ValueError, match="persisted state is corrupt") as info:
        _make(p)
    assert why in str(info.value)
