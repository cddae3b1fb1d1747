"""Raft 3C (persistence): port of the 3C tests in 6.5840's src/raft/test_test.go."""

import threading
import time

from harness.config import Config, GoRand, RaftElectionTimeout, make_config


def test_Persist13C() -> None:
    servers = 3
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (3C): basic persistence")

        cfg.one(11, servers, True)

        # crash and re-start all
        for i in range(servers):
            cfg.start1(i, cfg.applier)
        for i in range(servers):
            cfg.disconnect(i)
            cfg.connect(i)

        cfg.one(12, servers, True)

        leader1 = cfg.checkOneLeader()
        cfg.disconnect(leader1)
        cfg.start1(leader1, cfg.applier)
        cfg.connect(leader1)

        cfg.one(13, servers, True)

        leader2 = cfg.checkOneLeader()
        cfg.disconnect(leader2)
        cfg.one(14, servers - 1, True)
        cfg.start1(leader2, cfg.applier)
        cfg.connect(leader2)

        cfg.wait(4, servers, -1)  # wait for leader2 to join before killing i3

        i3 = (cfg.checkOneLeader() + 1) % servers
        cfg.disconnect(i3)
        cfg.one(15, servers - 1, True)
        cfg.start1(i3, cfg.applier)
        cfg.connect(i3)

        cfg.one(16, servers, True)

        cfg.end()


def test_Persist23C() -> None:
    servers = 5
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (3C): more persistence")

        index = 1
        for _ in range(5):
            cfg.one(10 + index, servers, True)
            index += 1

            leader1 = cfg.checkOneLeader()

            cfg.disconnect((leader1 + 1) % servers)
            cfg.disconnect((leader1 + 2) % servers)

            cfg.one(10 + index, servers - 2, True)
            index += 1

            cfg.disconnect((leader1 + 0) % servers)
            cfg.disconnect((leader1 + 3) % servers)
            cfg.disconnect((leader1 + 4) % servers)

            cfg.start1((leader1 + 1) % servers, cfg.applier)
            cfg.start1((leader1 + 2) % servers, cfg.applier)
            cfg.connect((leader1 + 1) % servers)
            cfg.connect((leader1 + 2) % servers)

            time.sleep(RaftElectionTimeout)

            cfg.start1((leader1 + 3) % servers, cfg.applier)
            cfg.connect((leader1 + 3) % servers)

            cfg.one(10 + index, servers - 2, True)
            index += 1

            cfg.connect((leader1 + 4) % servers)
            cfg.connect((leader1 + 0) % servers)

        cfg.one(1000, servers, True)

        cfg.end()


def test_Persist33C() -> None:
    servers = 3
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (3C): partitioned leader and one follower crash, leader restarts")

        cfg.one(101, 3, True)

        leader = cfg.checkOneLeader()
        cfg.disconnect((leader + 2) % servers)

        cfg.one(102, 2, True)

        cfg.crash1((leader + 0) % servers)
        cfg.crash1((leader + 1) % servers)
        cfg.connect((leader + 2) % servers)
        cfg.start1((leader + 0) % servers, cfg.applier)
        cfg.connect((leader + 0) % servers)

        cfg.one(103, 2, True)

        cfg.start1((leader + 1) % servers, cfg.applier)
        cfg.connect((leader + 1) % servers)

        cfg.one(104, servers, True)

        cfg.end()


def _sleep_a_while(rand: GoRand) -> None:
    """Mostly a few ms, sometimes up to half an election timeout (Figure 8 tests)."""
    if (rand.Int() % 1000) < 100:
        ms = rand.Int63() % (int(RaftElectionTimeout * 1000) // 2)
    else:
        ms = rand.Int63() % 13
    time.sleep(ms / 1000)


def test_Figure83C() -> None:
    """The scenarios of Figure 8 of the extended Raft paper.

    Each iteration asks a leader, if there is one, to insert a command in the
    Raft log. If there is a leader, that leader will fail quickly with a high
    probability (perhaps without committing the command), or crash after a
    while with low probability (most likely committing the command). If the
    number of alive servers isn't enough to form a majority, perhaps start a
    new server. The leader in a new term may try to finish replicating log
    entries that haven't been committed yet.
    """
    servers = 5
    with make_config(servers, False, False) as cfg:
        rand = cfg.rand
        cfg.begin("Test (3C): Figure 8")

        cfg.one(rand.Int(), 1, True)

        nup = servers
        for _ in range(1000):
            leader = -1
            for i in range(servers):
                rf = cfg.rafts[i]
                if rf is not None:
                    _, _, ok = rf.Start(rand.Int())
                    if ok:
                        leader = i

            _sleep_a_while(rand)

            if leader != -1:
                cfg.crash1(leader)
                nup -= 1

            if nup < 3:
                s = rand.Int() % servers
                if cfg.rafts[s] is None:
                    cfg.start1(s, cfg.applier)
                    cfg.connect(s)
                    nup += 1

        for i in range(servers):
            if cfg.rafts[i] is None:
                cfg.start1(i, cfg.applier)
                cfg.connect(i)

        cfg.one(rand.Int(), servers, True)

        cfg.end()


def test_UnreliableAgree3C() -> None:
    servers = 5
    with make_config(servers, True, False) as cfg:
        cfg.begin("Test (3C): unreliable agreement")

        wg = []
        for iters in range(1, 50):
            for j in range(4):
                wg.append(cfg.go(f"one-{iters}-{j}", cfg.one, (100 * iters) + j, 1, True))
            cfg.one(iters, 1, True)

        cfg.setunreliable(False)

        for th in wg:
            th.wait()

        cfg.one(100, servers, True)

        cfg.end()


def test_Figure8Unreliable3C() -> None:
    servers = 5
    with make_config(servers, True, False) as cfg:
        rand = cfg.rand
        cfg.begin("Test (3C): Figure 8 (unreliable)")

        cfg.one(rand.Int() % 10000, 1, True)

        nup = servers
        for iters in range(1000):
            if iters == 200:
                cfg.setlongreordering(True)
            leader = -1
            for i in range(servers):
                _, _, ok = cfg.rafts[i].Start(rand.Int() % 10000)
                if ok and cfg.connected[i]:
                    leader = i

            _sleep_a_while(rand)

            if leader != -1 and (rand.Int() % 1000) < int(RaftElectionTimeout * 1000) // 2:
                cfg.disconnect(leader)
                nup -= 1

            if nup < 3:
                s = rand.Int() % servers
                if not cfg.connected[s]:
                    cfg.connect(s)
                    nup += 1

        for i in range(servers):
            if not cfg.connected[i]:
                cfg.connect(i)

        cfg.one(rand.Int() % 10000, servers, True)

        cfg.end()


def _churn_client(
    cfg: Config, me: int, rand: GoRand, stop: threading.Event, servers: int
) -> list[int]:
    """A client that keeps submitting commands and returns those it saw committed.

    Each client draws from its own GoRand, seeded from cfg.rand, so the thread
    interleaving does not change the main sequence of random choices.
    """
    values: list[int] = []
    while not stop.is_set():
        x = rand.Int()
        index = -1
        ok = False
        for i in range(servers):
            # try them all, maybe one of them is a leader
            with cfg.mu:
                rf = cfg.rafts[i]
            if rf is not None:
                index1, _, ok1 = rf.Start(x)
                if ok1:
                    ok = ok1
                    index = index1
        if ok:
            # maybe leader will commit our value, maybe not.
            # but don't wait forever.
            for to in (10, 20, 50, 100, 200):
                nd, cmd = cfg.nCommitted(index)
                if nd > 0:
                    if isinstance(cmd, int):
                        if cmd == x:
                            values.append(x)
                    else:
                        cfg.fatalf("wrong command type")
                    break
                time.sleep(to / 1000)
        else:
            time.sleep((79 + me * 17) / 1000)
    return values


def internalChurn(unreliable: bool) -> None:
    servers = 5
    with make_config(servers, unreliable, False) as cfg:
        rand = cfg.rand
        if unreliable:
            cfg.begin("Test (3C): unreliable churn")
        else:
            cfg.begin("Test (3C): churn")

        stop = threading.Event()

        # create concurrent clients
        ncli = 3
        cha = [
            cfg.go(f"client-{i}", _churn_client, cfg, i, GoRand(rand.Int()), stop, servers)
            for i in range(ncli)
        ]

        for _ in range(20):
            if (rand.Int() % 1000) < 200:
                i = rand.Int() % servers
                cfg.disconnect(i)

            if (rand.Int() % 1000) < 500:
                i = rand.Int() % servers
                if cfg.rafts[i] is None:
                    cfg.start1(i, cfg.applier)
                cfg.connect(i)

            if (rand.Int() % 1000) < 200:
                i = rand.Int() % servers
                if cfg.rafts[i] is not None:
                    cfg.crash1(i)

            # Make crash/restart infrequent enough that the peers can often
            # keep up, but not so infrequent that everything has settled
            # down from one change to the next. Pick a value smaller than
            # the election timeout, but not hugely smaller.
            time.sleep((RaftElectionTimeout * 7) / 10)

        time.sleep(RaftElectionTimeout)
        cfg.setunreliable(False)
        for i in range(servers):
            if cfg.rafts[i] is None:
                cfg.start1(i, cfg.applier)
            cfg.connect(i)

        stop.set()

        values: list[int] = []
        for th in cha:
            vv = th.wait()
            if vv is None:
                cfg.fatalf("client failed")
            values.extend(vv)

        time.sleep(RaftElectionTimeout)

        lastIndex = cfg.one(rand.Int(), servers, True)

        really: list[int] = []
        for index in range(1, lastIndex + 1):
            v = cfg.wait(index, servers, -1)
            if isinstance(v, int):
                really.append(v)
            else:
                cfg.fatalf("not an int")

        for v1 in values:
            if v1 not in really:
                cfg.fatalf("didn't find a value")

        cfg.end()


def test_ReliableChurn3C() -> None:
    internalChurn(False)


def test_UnreliableChurn3C() -> None:
    internalChurn(True)
