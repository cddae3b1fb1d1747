"""Raft 3A (leader election): port of the 3A tests in 6.5840's src/raft/test_test.go."""

import time

from harness.config import RaftElectionTimeout, make_config


def test_InitialElection3A() -> None:
    servers = 3
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (3A): initial election")

        # is a leader elected?
        cfg.checkOneLeader()

        # sleep a bit to avoid racing with followers learning of the
        # election, then check that all peers agree on the term.
        time.sleep(0.050)
        term1 = cfg.checkTerms()
        if term1 < 1:
            cfg.fatalf("term is %s, but should be at least 1", term1)

        # does the leader+term stay the same if there is no network failure?
        time.sleep(2 * RaftElectionTimeout)
        term2 = cfg.checkTerms()
        if term1 != term2:
            cfg.warnf("warning: term changed even though there were no failures")

        # there should still be a leader.
        cfg.checkOneLeader()

        cfg.end()


def test_ReElection3A() -> None:
    servers = 3
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (3A): election after network failure")

        leader1 = cfg.checkOneLeader()

        # if the leader disconnects, a new one should be elected.
        cfg.disconnect(leader1)
        cfg.checkOneLeader()

        # if the old leader rejoins, that shouldn't
        # disturb the new leader. and the old leader
        # should switch to follower.
        cfg.connect(leader1)
        leader2 = cfg.checkOneLeader()

        # if there's no quorum, no new leader should
        # be elected.
        cfg.disconnect(leader2)
        cfg.disconnect((leader2 + 1) % servers)
        time.sleep(2 * RaftElectionTimeout)

        # check that the one connected server
        # does not think it is the leader.
        cfg.checkNoLeader()

        # if a quorum arises, it should elect a leader.
        cfg.connect((leader2 + 1) % servers)
        cfg.checkOneLeader()

        # re-join of last node shouldn't prevent leader from existing.
        cfg.connect(leader2)
        cfg.checkOneLeader()

        cfg.end()


def test_ManyElections3A() -> None:
    servers = 7
    with make_config(servers, False, False) as cfg:
        rand = cfg.rand
        cfg.begin("Test (3A): multiple elections")

        cfg.checkOneLeader()

        iters = 10
        for _ in range(1, iters):
            # disconnect three nodes
            i1 = rand.Int() % servers
            i2 = rand.Int() % servers
            i3 = rand.Int() % servers
            cfg.disconnect(i1)
            cfg.disconnect(i2)
            cfg.disconnect(i3)

            # either the current leader should still be alive,
            # or the remaining four should elect a new one.
            cfg.checkOneLeader()

            cfg.connect(i1)
            cfg.connect(i2)
            cfg.connect(i3)

        cfg.checkOneLeader()

        cfg.end()
