"""Start() with a command labgob cannot carry: a clear error, and the log untouched."""

from __future__ import annotations

import queue

import pytest

import labgob
import labrpc
from raft import Make, MakePersister
from raft.raft import LEADER


class Unregistered:
    pass


def test_start_refuses_an_unencodable_command_and_keeps_the_log() -> None:
    net = labrpc.MakeNetwork()
    rf = Make([net.MakeEnd("0")], 0, MakePersister(), queue.Queue())
    try:
        with rf.mu:
            rf.state = LEADER  # one peer never holds an election the tester would wait for
        with pytest.raises(labgob.LabgobError, match="was not registered with labgob.Register"):
            rf.Start(Unregistered())
        assert rf.Start("next")[0] == 1  # the refused command took no index
        assert rf.inspect()["log"] == [(0, "next")]
    finally:
        rf.Kill()
        net.Cleanup()
