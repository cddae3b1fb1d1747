"""This repository's Raft beyond Figure 2: a leader that cannot hear from a
majority steps down (raft.Raft.check_quorum).  Not a lab test: a student's
Raft need not do this."""

from __future__ import annotations

import time

from harness.config import make_config

from raft.raft import HEARTBEAT_INTERVAL, QUORUM_TIMEOUT


def test_partitioned_leader_steps_down() -> None:
    with make_config(3, False) as cfg:
        leader = cfg.checkOneLeader()
        rf = cfg.rafts[leader]
        assert rf is not None
        cfg.disconnect(leader)
        cut = time.monotonic()
        while rf.GetState()[1] and time.monotonic() - cut < 2 * QUORUM_TIMEOUT:
            time.sleep(0.010)
        took = time.monotonic() - cut
        assert not rf.GetState()[1], f"leader still leads {took:.2f} s after losing its majority"
        # The last reply it heard came at most a heartbeat before the cut.
        assert took > QUORUM_TIMEOUT - 2 * HEARTBEAT_INTERVAL, f"stepped down after {took:.2f} s"
        assert rf.Start(1)[2] is False
        cfg.connect(leader)
        cfg.one(2, 3, True)


def test_leader_with_a_majority_keeps_leading() -> None:
    with make_config(3, False) as cfg:
        leader = cfg.checkOneLeader()
        rf = cfg.rafts[leader]
        assert rf is not None
        term, _ = rf.GetState()
        cfg.disconnect((leader + 1) % 3)
        deadline = time.monotonic() + 2 * QUORUM_TIMEOUT
        while time.monotonic() < deadline:
            assert rf.GetState() == (term, True), "the leader of a majority stepped down"
            time.sleep(0.050)
        cfg.one(1, 2, True)
