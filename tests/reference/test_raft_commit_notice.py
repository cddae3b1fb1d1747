"""This repository's Raft beyond Figure 2: a new commitIndex reaches the followers
within COMMIT_NOTICE_DELAY, carried by the next command's AppendEntries when one
comes sooner (raft.Raft.commit_notice).  Not a lab test: a student's Raft need not
do this, though Count3B's budget leaves little room for a second AppendEntries
per entry."""

from __future__ import annotations

import time

from harness.config import make_config

from raft.raft import COMMIT_NOTICE_DELAY, HEARTBEAT_INTERVAL

SPACING = COMMIT_NOTICE_DELAY / 4  # commands a few ms apart, as a sealed tester sends them
COMMANDS = 10


def test_commands_a_few_ms_apart_cost_one_append_entries_each() -> None:
    with make_config(3, False) as cfg:
        leader = cfg.checkOneLeader()
        rf = cfg.rafts[leader]
        assert rf is not None
        before = cfg.rpcTotal()
        times = []
        for i in range(COMMANDS):
            times.append(time.monotonic())
            index, _, is_leader = rf.Start(100 + i)
            assert is_leader
            time.sleep(SPACING)
        cfg.wait(index, 3, -1)  # every peer has applied the last one
        took = time.monotonic() - times[0]
        sent = cfg.rpcTotal() - before
        # Each command's AppendEntries to each follower; a notice to each of the last
        # commitIndex, and of any before a gap the machine's load made too long to
        # wait out; and the heartbeats of the while. Told at once, each commitIndex
        # would cost another 2 (about 4 * COMMANDS in all).
        gaps = sum(b - a >= COMMIT_NOTICE_DELAY for a, b in zip(times, times[1:], strict=False))
        heartbeats = int(took / HEARTBEAT_INTERVAL) + 1
        allowed = 2 * (COMMANDS + 1 + gaps + heartbeats)
        assert sent <= allowed, f"{sent} RPCs for {COMMANDS} commands ({gaps} long gaps)"


def test_the_last_commit_index_reaches_the_followers_well_before_a_heartbeat() -> None:
    """Left to the heartbeats, a follower would learn it 55 ms later on average."""
    with make_config(3, False) as cfg:
        leader = cfg.checkOneLeader()
        rf = cfg.rafts[leader]
        assert rf is not None
        took = []
        for i in range(5):
            index, _, _ = rf.Start(i)
            started = time.monotonic()
            while cfg.nCommitted(index)[0] < 3:
                assert time.monotonic() - started < 2, f"entry {index} not applied everywhere"
                time.sleep(0.002)
            took.append(time.monotonic() - started)
        median = sorted(took)[len(took) // 2]
        assert median < HEARTBEAT_INTERVAL / 2, f"applied everywhere after {took}"
