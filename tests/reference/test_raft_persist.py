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
        assert state["log_start"] == 1
    finally:
        again.Kill()


def test_snapshot_is_saved_with_the_state_and_restored() -> None:
    """Snapshot() trims the log and saves the snapshot with the state; a peer
    restarted from that persister starts after the snapshot, and its next
    persist() saves the snapshot again instead of erasing it (SnapshotInit3D)."""
    p = MakePersister()
    rf = _make(p)
    try:
        with rf.mu:
            rf.current_term = 2
            for i in range(1, 6):
                rf.log.append(LogEntry(Term=1 if i < 4 else 2, Command=i * 10))
            rf.commit_index = rf.last_applied = 5  # as if applied
            rf.persist()
        rf.Snapshot(3, b"through 3")
        rf.Snapshot(2, b"older")  # an older snapshot than Raft has changes nothing
        state = rf.inspect()
        assert (state["log_start"], state["log"]) == (4, [(2, 40), (2, 50)])
        assert p.ReadSnapshot() == b"through 3"
    finally:
        rf.Kill()
    again = _make(p.Copy())
    try:
        state = again.inspect()
        assert (state["log_start"], state["log"]) == (4, [(2, 40), (2, 50)])
        assert state["commit_index"] == 3
        assert (again.log.snapshot_index, again.log.snapshot_term) == (3, 1)
        with again.mu:
            again.current_term = 3
            again.persist()
        assert p.ReadSnapshot() == b"through 3"
    finally:
        again.Kill()


def test_snapshot_of_an_entry_not_applied_is_refused() -> None:
    rf = _make(MakePersister())
    try:
        with rf.mu:
            rf.log.append(LogEntry(Term=1, Command="x"))
        with pytest.raises(ValueError, match=r"Snapshot\(1, ...\) names an entry not yet applied"):
            rf.Snapshot(1, b"s")
    finally:
        rf.Kill()


@pytest.mark.parametrize(
    "data, why",
    [
        (b"\xff\x00garbage", "corrupt"),
        (_state(3, None), "no more values"),
        (_state("3", None, 0, 0, b""), "expected (current_term: int"),
        (_state(3, "me", 0, 0, b""), "expected (current_term: int"),
        (_state(3, None, "0", 0, b""), "last_included_index: int"),
        (_state(3, None, 0, 0, [1, 2]), "expected (current_term: int"),
        (_state(3, None, 0, 0, labgob.encode("5")), "is a str, not an int"),
        (_state(3, None, 0, 0, labgob.encode(5)), "before its command"),
        (_state(3, None, 40, 2, labgob.encode(5)), "entry 41, before its command"),
    ],
)
def test_corrupt_state_is_refused(data: bytes, why: str) -> None:
    p = MakePersister()
    p.Save(data, None)
    with pytest.raises(ValueError, match="persisted state is corrupt") as info:
        _make(p)
    assert why in str(info.value)
