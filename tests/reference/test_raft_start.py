"""Start() on a cluster of one peer, which the lab's tests never make: the peer
elects itself and commits alone; and a command labgob cannot carry is refused
with a clear error, leaving the log untouched."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

import pytest

import labgob
import labrpc
from raft import ApplyMsg, Make, MakePersister
from raft.raft import Raft


class Unregistered:
    pass


@pytest.fixture
def alone() -> Iterator[tuple[Raft, queue.Queue[ApplyMsg]]]:
    """A one-peer cluster, once it leads."""
    net = labrpc.MakeNetwork()
    apply_ch: queue.Queue[ApplyMsg] = queue.Queue()
    rf = Make([net.MakeEnd("0")], 0, MakePersister(), apply_ch)
    try:
        deadline = time.monotonic() + 5
        while not rf.GetState()[1]:
            assert time.monotonic() < deadline, "a one-peer cluster elected no leader in 5 s"
            time.sleep(0.010)
        yield rf, apply_ch
    finally:
        rf.Kill()
        net.Cleanup()


def test_one_peer_commits_alone(alone: tuple[Raft, queue.Queue[ApplyMsg]]) -> None:
    rf, apply_ch = alone
    term, _ = rf.GetState()
    assert rf.Start("a") == (1, term, True)
    assert rf.Start("b") == (2, term, True)
    got = [apply_ch.get(timeout=2), apply_ch.get(timeout=2)]
    assert got == [
        ApplyMsg(CommandValid=True, Command="a", CommandIndex=1),
        ApplyMsg(CommandValid=True, Command="b", CommandIndex=2),
    ]


def test_start_refuses_an_unencodable_command_and_keeps_the_log(
    alone: tuple[Raft, queue.Queue[ApplyMsg]],
) -> None:
    rf, apply_ch = alone
    with pytest.raises(labgob.LabgobError, match="was not registered with labgob.Register"):
        rf.Start(Unregistered())
    assert rf.Start("next")[0] == 1  # the refused command took no index
    assert apply_ch.get(timeout=2).Command == "next"
    assert [command for _, command in rf.inspect()["log"]] == ["next"]
