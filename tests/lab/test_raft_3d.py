"""Raft 3D (log compaction): port of the 3D tests in 6.5840's src/raft/test_test.go."""

from harness.config import SnapShotInterval, make_config

MAXLOGSIZE = 2000


def snapcommon(name: str, disconnect: bool, reliable: bool, crash: bool) -> None:
    iters = 30
    servers = 3
    with make_config(servers, not reliable, True) as cfg:
        rand = cfg.rand
        cfg.begin(name)

        cfg.one(rand.Int(), servers, True)
        leader1 = cfg.checkOneLeader()

        for i in range(iters):
            victim = (leader1 + 1) % servers
            sender = leader1
            if i % 3 == 1:
                sender = (leader1 + 1) % servers
                victim = leader1

            if disconnect:
                cfg.disconnect(victim)
                cfg.one(rand.Int(), servers - 1, True)
            if crash:
                cfg.crash1(victim)
                cfg.one(rand.Int(), servers - 1, True)

            # perhaps send enough to get a snapshot
            nn = (SnapShotInterval // 2) + (rand.Int() % SnapShotInterval)
            for _ in range(nn):
                rf = cfg.rafts[sender]
                assert rf is not None, f"server {sender} is not running"
                rf.Start(rand.Int())

            # let applier threads catch up with the Start()'s
            if not disconnect and not crash:
                # make sure all followers have caught up, so that
                # an InstallSnapshot RPC isn't required for
                # TestSnapshotBasic3D().
                cfg.one(rand.Int(), servers, True)
            else:
                cfg.one(rand.Int(), servers - 1, True)

            if cfg.LogSize() >= MAXLOGSIZE:
                cfg.fatalf("Log size too large")
            if disconnect:
                # reconnect a follower, who maybe behind and
                # needs to rceive a snapshot to catch up.
                cfg.connect(victim)
                cfg.one(rand.Int(), servers, True)
                leader1 = cfg.checkOneLeader()
            if crash:
                cfg.start1(victim, cfg.applierSnap)
                cfg.connect(victim)
                cfg.one(rand.Int(), servers, True)
                leader1 = cfg.checkOneLeader()
        cfg.end()


def test_SnapshotBasic3D() -> None:
    snapcommon("Test (3D): snapshots basic", False, True, False)


def test_SnapshotInstall3D() -> None:
    snapcommon("Test (3D): install snapshots (disconnect)", True, True, False)


def test_SnapshotInstallUnreliable3D() -> None:
    snapcommon("Test (3D): install snapshots (disconnect+unreliable)", True, False, False)


def test_SnapshotInstallCrash3D() -> None:
    snapcommon("Test (3D): install snapshots (crash)", False, True, True)


def test_SnapshotInstallUnCrash3D() -> None:
    snapcommon("Test (3D): install snapshots (unreliable+crash)", False, False, True)


def snapallcrash(name: str, reliable: bool) -> None:
    """Do the servers persist the snapshots, and restart using snapshot along
    with the tail of the log?"""
    servers = 3
    iters = 5
    with make_config(servers, not reliable, True) as cfg:
        rand = cfg.rand
        cfg.begin(name)

        cfg.one(rand.Int(), servers, True)

        for _ in range(iters):
            # perhaps enough to get a snapshot
            nn = (SnapShotInterval // 2) + (rand.Int() % SnapShotInterval)
            for _ in range(nn):
                cfg.one(rand.Int(), servers, True)

            index1 = cfg.one(rand.Int(), servers, True)

            # crash all
            for i in range(servers):
                cfg.crash1(i)

            # revive all
            for i in range(servers):
                cfg.start1(i, cfg.applierSnap)
                cfg.connect(i)

            index2 = cfg.one(rand.Int(), servers, True)
            if index2 < index1 + 1:
                cfg.fatalf("index decreased from %s to %s", index1, index2)
        cfg.end()


def test_SnapshotAllCrash3D() -> None:
    snapallcrash("Test (3D): crash and restart all servers", True)


def snapinit(name: str, reliable: bool) -> None:
    """Do servers correctly initialize their in-memory copy of the snapshot,
    making sure that future writes to persistent state don't lose state?"""
    servers = 3
    with make_config(servers, not reliable, True) as cfg:
        rand = cfg.rand
        cfg.begin(name)
        cfg.one(rand.Int(), servers, True)

        # enough ops to make a snapshot
        nn = SnapShotInterval + 1
        for _ in range(nn):
            cfg.one(rand.Int(), servers, True)

        # crash all
        for i in range(servers):
            cfg.crash1(i)

        # revive all
        for i in range(servers):
            cfg.start1(i, cfg.applierSnap)
            cfg.connect(i)

        # a single op, to get something to be written back to persistent storage.
        cfg.one(rand.Int(), servers, True)

        # crash all
        for i in range(servers):
            cfg.crash1(i)

        # revive all
        for i in range(servers):
            cfg.start1(i, cfg.applierSnap)
            cfg.connect(i)

        # do another op to trigger potential bug
        cfg.one(rand.Int(), servers, True)
        cfg.end()


def test_SnapshotInit3D() -> None:
    snapinit("Test (3D): snapshot initialization after crash", True)
