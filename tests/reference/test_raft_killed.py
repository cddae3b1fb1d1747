"""A killed peer behaves as a crashed one, even if RPCs still reach it.

raftlab's tester cuts a killed peer off the network; other harnesses crash a
peer by Kill() alone and go on delivering to it. There a killed peer that still
answered would vote, and acknowledge entries, beside the instance that replaced
it: its handlers must leave the reply as it came, and persist() save nothing.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import pytest

import labrpc
from raft import ApplyMsg, Make, Persister
from raft.log import LogEntry
from raft.raft import (
    AppendEntriesArgs,
    AppendEntriesReply,
    InstallSnapshotArgs,
    InstallSnapshotReply,
    Raft,
    RequestVoteArgs,
    RequestVoteReply,
)


class CountingPersister(Persister):
    """A Persister that counts its Saves."""

    def __init__(self) -> None:
        super().__init__()
        self.saves = 0

    def Save(self, raftstate: bytes, snapshot: bytes | None) -> None:
        self.saves += 1
        super().Save(raftstate, snapshot)


@pytest.fixture
def peer() -> Iterator[tuple[Raft, CountingPersister, queue.Queue[ApplyMsg]]]:
    """Peer 0 of three, whose ends lead nowhere, in term 1 with one entry."""
    net = labrpc.MakeNetwork()
    persister = CountingPersister()
    apply_ch: queue.Queue[ApplyMsg] = queue.Queue()
    rf = Make([net.MakeEnd(str(i)) for i in range(3)], 0, persister, apply_ch)
    with rf.mu:
        rf.current_term = 1
        rf.log.append(LogEntry(Term=1, Command="a"))
        rf.persist()
    try:
        yield rf, persister, apply_ch
    finally:
        rf.Kill()
        net.Cleanup()


def _calls(rf: Raft) -> dict[str, Any]:
    """A vote, entries and a snapshot that a live peer 0 in term 1 accepts."""
    vote = RequestVoteReply()
    rf.RequestVote(RequestVoteArgs(Term=5, CandidateId=1, LastLogIndex=1, LastLogTerm=1), vote)
    entries = AppendEntriesReply()
    rf.AppendEntries(
        AppendEntriesArgs(
            Term=5, LeaderId=1, PrevLogIndex=1, PrevLogTerm=1,
            Entries=[LogEntry(Term=5, Command="b")], LeaderCommit=2,
        ),
        entries,
    )  # fmt: skip
    snapshot = InstallSnapshotReply()
    rf.InstallSnapshot(
        InstallSnapshotArgs(
            Term=5, LeaderId=1, LastIncludedIndex=4, LastIncludedTerm=5, Data=b"through 4"
        ),
        snapshot,
    )
    return {"vote": vote, "entries": entries, "snapshot": snapshot}


def test_a_live_peer_accepts_the_calls(
    peer: tuple[Raft, CountingPersister, queue.Queue[ApplyMsg]],
) -> None:
    """The calls below would change a live peer: a vote, entries, a snapshot, each saved."""
    rf, persister, _ = peer
    saves = persister.saves
    replies = _calls(rf)
    assert replies["vote"] == RequestVoteReply(Term=5, VoteGranted=True)
    assert replies["entries"].Success
    assert replies["snapshot"] == InstallSnapshotReply(Term=5)
    assert rf.inspect()["log_start"] == 5
    assert persister.saves > saves
    assert persister.ReadSnapshot() == b"through 4"


def test_a_killed_peer_answers_nothing_and_saves_nothing(
    peer: tuple[Raft, CountingPersister, queue.Queue[ApplyMsg]],
) -> None:
    rf, persister, apply_ch = peer
    rf.Kill()
    saves, state = persister.saves, persister.ReadRaftState()
    before = rf.inspect(), rf.voted_for
    replies = _calls(rf)
    assert replies["vote"] == RequestVoteReply()  # no vote granted
    assert replies["entries"] == AppendEntriesReply()  # no entries acknowledged
    assert replies["snapshot"] == InstallSnapshotReply()
    assert (rf.inspect(), rf.voted_for) == before
    with rf.mu:
        rf.current_term = 9
        rf.persist()
    assert persister.saves == saves
    assert (persister.ReadRaftState(), persister.ReadSnapshot()) == (state, b"")
    assert apply_ch.empty()
