"""Raft 3B (log): port of the 3B tests in 6.5840's src/raft/test_test.go."""

import time

from harness.config import RaftElectionTimeout, make_config, randstring


def test_BasicAgree3B() -> None:
    servers = 3
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (3B): basic agreement")

        iters = 3
        for index in range(1, iters + 1):
            nd, _ = cfg.nCommitted(index)
            if nd > 0:
                cfg.fatalf("some have committed before Start()")

            xindex = cfg.one(index * 100, servers, False)
            if xindex != index:
                cfg.fatalf("got index %s but expected %s", xindex, index)

        cfg.end()


def test_RPCBytes3B() -> None:
    """Check, based on counting bytes of RPCs, that each command is sent to each peer just once."""
    servers = 3
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (3B): RPC byte count")

        cfg.one(99, servers, False)
        bytes0 = cfg.bytesTotal()

        iters = 10
        sent = 0
        for index in range(2, iters + 2):
            cmd = randstring(5000, cfg.rand)
            xindex = cfg.one(cmd, servers, False)
            if xindex != index:
                cfg.fatalf("got index %s but expected %s", xindex, index)
            sent += len(cmd)

        bytes1 = cfg.bytesTotal()
        got = bytes1 - bytes0
        expected = servers * sent
        if got > expected + 50000:
            cfg.fatalf("too many RPC bytes; got %s, expected %s", got, expected)

        cfg.end()


def test_FollowerFailure3B() -> None:
    """Test just failure of followers."""
    servers = 3
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (3B): test progressive failure of followers")

        cfg.one(101, servers, False)

        # disconnect one follower from the network.
        leader1 = cfg.checkOneLeader()
        cfg.disconnect((leader1 + 1) % servers)

        # the leader and remaining follower should be
        # able to agree despite the disconnected follower.
        cfg.one(102, servers - 1, False)
        time.sleep(RaftElectionTimeout)
        cfg.one(103, servers - 1, False)

        # disconnect the remaining follower
        leader2 = cfg.checkOneLeader()
        cfg.disconnect((leader2 + 1) % servers)
        cfg.disconnect((leader2 + 2) % servers)

        # submit a command.
        index, _, ok = cfg.rafts[leader2].Start(104)
        if not ok:
            cfg.fatalf("leader rejected Start()")
        if index != 4:
            cfg.fatalf("expected index 4, got %s", index)

        time.sleep(2 * RaftElectionTimeout)

        # check that command 104 did not commit.
        n, _ = cfg.nCommitted(index)
        if n > 0:
            cfg.fatalf("%s committed but no majority", n)

        cfg.end()


def test_LeaderFailure3B() -> None:
    """Test just failure of leaders."""
    servers = 3
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (3B): test failure of leaders")

        cfg.one(101, servers, False)

        # disconnect the first leader.
        leader1 = cfg.checkOneLeader()
        cfg.disconnect(leader1)

        # the remaining followers should elect
        # a new leader.
        cfg.one(102, servers - 1, False)
        time.sleep(RaftElectionTimeout)
        cfg.one(103, servers - 1, False)

        # disconnect the new leader.
        leader2 = cfg.checkOneLeader()
        cfg.disconnect(leader2)

        # submit a command to each server.
        for i in range(servers):
            cfg.rafts[i].Start(104)

        time.sleep(2 * RaftElectionTimeout)

        # check that command 104 did not commit.
        n, _ = cfg.nCommitted(4)
        if n > 0:
            cfg.fatalf("%s committed but no majority", n)

        cfg.end()


def test_FailAgree3B() -> None:
    """Test that a follower participates after disconnect and re-connect."""
    servers = 3
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (3B): agreement after follower reconnects")

        cfg.one(101, servers, False)

        # disconnect one follower from the network.
        leader = cfg.checkOneLeader()
        cfg.disconnect((leader + 1) % servers)

        # the leader and remaining follower should be
        # able to agree despite the disconnected follower.
        cfg.one(102, servers - 1, False)
        cfg.one(103, servers - 1, False)
        time.sleep(RaftElectionTimeout)
        cfg.one(104, servers - 1, False)
        cfg.one(105, servers - 1, False)

        # re-connect
        cfg.connect((leader + 1) % servers)

        # the full set of servers should preserve
        # previous agreements, and be able to agree
        # on new commands.
        cfg.one(106, servers, True)
        time.sleep(RaftElectionTimeout)
        cfg.one(107, servers, True)

        cfg.end()


def test_FailNoAgree3B() -> None:
    servers = 5
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (3B): no agreement if too many followers disconnect")

        cfg.one(10, servers, False)

        # 3 of 5 followers disconnect
        leader = cfg.checkOneLeader()
        cfg.disconnect((leader + 1) % servers)
        cfg.disconnect((leader + 2) % servers)
        cfg.disconnect((leader + 3) % servers)

        index, _, ok = cfg.rafts[leader].Start(20)
        if not ok:
            cfg.fatalf("leader rejected Start()")
        if index != 2:
            cfg.fatalf("expected index 2, got %s", index)

        time.sleep(2 * RaftElectionTimeout)

        n, _ = cfg.nCommitted(index)
        if n > 0:
            cfg.fatalf("%s committed but no majority", n)

        # repair
        cfg.connect((leader + 1) % servers)
        cfg.connect((leader + 2) % servers)
        cfg.connect((leader + 3) % servers)

        # the disconnected majority may have chosen a leader from
        # among their own ranks, forgetting index 2.
        leader2 = cfg.checkOneLeader()
        index2, _, ok2 = cfg.rafts[leader2].Start(30)
        if not ok2:
            cfg.fatalf("leader2 rejected Start()")
        if index2 < 2 or index2 > 3:
            cfg.fatalf("unexpected index %s", index2)

        cfg.one(1000, servers, True)

        cfg.end()


def test_ConcurrentStarts3B() -> None:
    servers = 3
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (3B): concurrent Start()s")

        success = False
        for attempt in range(5):
            if attempt > 0:
                # give solution some time to settle
                time.sleep(3)

            leader = cfg.checkOneLeader()
            _, term, ok = cfg.rafts[leader].Start(1)
            if not ok:
                # leader moved on really quickly
                continue

            iters = 5

            def starter(i: int, leader: int = leader, term: int = term) -> int | None:
                index, term1, ok = cfg.rafts[leader].Start(100 + i)
                if term1 != term:
                    return None
                if not ok:
                    return None
                return index

            wg = [cfg.go(f"start-{ii}", starter, ii) for ii in range(iters)]
            is_ = [index for index in (th.wait() for th in wg) if index is not None]

            if any(cfg.rafts[j].GetState()[0] != term for j in range(servers)):
                # term changed -- can't expect low RPC counts
                continue

            failed = False
            cmds: list[int] = []
            for index in is_:
                cmd = cfg.wait(index, servers, term)
                if isinstance(cmd, int):
                    if cmd == -1:
                        # peers have moved on to later terms
                        # so we can't expect all Start()s to
                        # have succeeded
                        failed = True
                        break
                    cmds.append(cmd)
                else:
                    cfg.fatalf("value %s is not an int", cmd)

            if failed:
                continue

            for ii in range(iters):
                x = 100 + ii
                if x not in cmds:
                    cfg.fatalf("cmd %s missing in %s", x, cmds)

            success = True
            break

        if not success:
            cfg.fatalf("term changed too often")

        cfg.end()


def test_Rejoin3B() -> None:
    servers = 3
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (3B): rejoin of partitioned leader")

        cfg.one(101, servers, True)

        # leader network failure
        leader1 = cfg.checkOneLeader()
        cfg.disconnect(leader1)

        # make old leader try to agree on some entries
        cfg.rafts[leader1].Start(102)
        cfg.rafts[leader1].Start(103)
        cfg.rafts[leader1].Start(104)

        # new leader commits, also for index=2
        cfg.one(103, 2, True)

        # new leader network failure
        leader2 = cfg.checkOneLeader()
        cfg.disconnect(leader2)

        # old leader connected again
        cfg.connect(leader1)

        cfg.one(104, 2, True)

        # all together now
        cfg.connect(leader2)

        cfg.one(105, servers, True)

        cfg.end()


def test_Backup3B() -> None:
    servers = 5
    with make_config(servers, False, False) as cfg:
        rand = cfg.rand
        cfg.begin("Test (3B): leader backs up quickly over incorrect follower logs")

        cfg.one(rand.Int(), servers, True)

        # put leader and one follower in a partition
        leader1 = cfg.checkOneLeader()
        cfg.disconnect((leader1 + 2) % servers)
        cfg.disconnect((leader1 + 3) % servers)
        cfg.disconnect((leader1 + 4) % servers)

        # submit lots of commands that won't commit
        for _ in range(50):
            cfg.rafts[leader1].Start(rand.Int())

        time.sleep(RaftElectionTimeout / 2)

        cfg.disconnect((leader1 + 0) % servers)
        cfg.disconnect((leader1 + 1) % servers)

        # allow other partition to recover
        cfg.connect((leader1 + 2) % servers)
        cfg.connect((leader1 + 3) % servers)
        cfg.connect((leader1 + 4) % servers)

        # lots of successful commands to new group.
        for _ in range(50):
            cfg.one(rand.Int(), 3, True)

        # now another partitioned leader and one follower
        leader2 = cfg.checkOneLeader()
        other = (leader1 + 2) % servers
        if leader2 == other:
            other = (leader2 + 1) % servers
        cfg.disconnect(other)

        # lots more commands that won't commit
        for _ in range(50):
            cfg.rafts[leader2].Start(rand.Int())

        time.sleep(RaftElectionTimeout / 2)

        # bring original leader back to life,
        for i in range(servers):
            cfg.disconnect(i)
        cfg.connect((leader1 + 0) % servers)
        cfg.connect((leader1 + 1) % servers)
        cfg.connect(other)

        # lots of successful commands to new group.
        for _ in range(50):
            cfg.one(rand.Int(), 3, True)

        # now everyone
        for i in range(servers):
            cfg.connect(i)
        cfg.one(rand.Int(), servers, True)

        cfg.end()


def test_Count3B() -> None:
    servers = 3
    with make_config(servers, False, False) as cfg:
        rand = cfg.rand
        cfg.begin("Test (3B): RPC counts aren't too high")

        def rpcs() -> int:
            return sum(cfg.rpcCount(j) for j in range(servers))

        leader = cfg.checkOneLeader()

        total1 = rpcs()

        if total1 > 30 or total1 < 1:
            cfg.fatalf("too many or few RPCs (%s) to elect initial leader\n", total1)

        total2 = 0
        success = False
        for attempt in range(5):
            if attempt > 0:
                # give solution some time to settle
                time.sleep(3)

            leader = cfg.checkOneLeader()
            total1 = rpcs()

            iters = 10
            starti, term, ok = cfg.rafts[leader].Start(1)
            if not ok:
                # leader moved on really quickly
                continue
            cmds: list[int] = []
            retry = False
            for i in range(1, iters + 2):
                x = rand.Int31()
                cmds.append(x)
                index1, term1, ok = cfg.rafts[leader].Start(x)
                if term1 != term:
                    # Term changed while starting
                    retry = True
                    break
                if not ok:
                    # No longer the leader, so term has changed
                    retry = True
                    break
                if starti + i != index1:
                    cfg.fatalf("Start() failed")
            if retry:
                continue

            for i in range(1, iters + 1):
                cmd = cfg.wait(starti + i, servers, term)
                if not isinstance(cmd, int) or cmd != cmds[i - 1]:
                    if cmd == -1:
                        # term changed -- try again
                        retry = True
                        break
                    cfg.fatalf(
                        "wrong value %s committed for index %s; expected %s\n",
                        cmd, starti + i, cmds,
                    )
            if retry:
                continue

            failed = False
            total2 = 0
            for j in range(servers):
                t, _ = cfg.rafts[j].GetState()
                if t != term:
                    # term changed -- can't expect low RPC counts
                    # need to keep going to update total2
                    failed = True
                total2 += cfg.rpcCount(j)

            if failed:
                continue

            if total2 - total1 > (iters + 1 + 3) * 3:
                cfg.fatalf("too many RPCs (%s) for %s entries\n", total2 - total1, iters)

            success = True
            break

        if not success:
            cfg.fatalf("term changed too often")

        time.sleep(RaftElectionTimeout)

        total3 = 0
        for j in range(servers):
            total3 += cfg.rpcCount(j)

        if total3 - total2 > 3 * 20:
            cfg.fatalf("too many RPCs (%s) for 1 second of idleness\n", total3 - total2)

        cfg.end()
