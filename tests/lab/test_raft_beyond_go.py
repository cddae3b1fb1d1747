"""Lab tests beyond Go's: crash points, and duplicated and stale messages.

Go's tests find some classic bugs only by luck: a Raft that replies before it
persists, a follower that truncates its log on an old AppendEntries, a leader
that acts on a stale reply, a Figure 8 commit. These tests set up the moment
each bug needs. A crash point (harness/crashpoints.py) crashes a server right
after it grants a vote or acknowledges entries, with its persister as it was
when the reply left; labrpc's modes beyond Go (set_duplicates, set_stale)
deliver requests twice and old requests and replies late, and the tester can
keep a request and deliver it again later (harness/keep.py). Go's tests keep
Go's network: only these tests turn the modes on.

Their names carry no part, so `make test-3A` ... `make test-3D` run exactly
Go's tests; `make test-beyond-go` runs these. They need 3C (persistence), and
three need 3D: OldInstallSnapshotKeepsLog, and the last two, Go's
SnapshotAllCrash3D and SnapshotInit3D on an unreliable network (Go runs them on
a reliable one). The quick, scripted ones come first.

The tests that crash, keep or count one kind of RPC know the Raft's handler
by the fields of its args class (harness/rpckinds.py), whatever its name; a
Raft whose handlers the tester cannot recognise gets those tests skipped, with
the reason.

Every check here is one of Raft's own guarantees (Figure 3) or one of the lab's
rules, so a correct Raft passes whatever the timing; the timing only decides
whether a bug is reached.
"""

from __future__ import annotations

import time
from typing import Any

from harness.config import Config, RaftElectionTimeout, SnapShotInterval, make_config
from harness.heartbeats import LIMIT, SLACK
from harness.rpckinds import Rpc
from harness.safety import SAMPLE_INTERVAL
from test_raft_3d import snapallcrash, snapinit

from labrpc.network import STALE_MAX_MS

# Long enough for every held message to land (labrpc holds one at most STALE_MAX_MS).
_IN_FLIGHT = STALE_MAX_MS / 1000 + 0.3


def _peer_state(cfg: Config, i: int) -> tuple[int, bool] | None:
    with cfg.mu:
        rf = cfg.rafts[i]
    return rf.GetState() if rf is not None else None


def _await_state(cfg: Config, i: int, ok: Any, timeout: float) -> tuple[int, bool] | None:
    """Server i's (term, is_leader) once ok(term, is_leader) holds; None if it did not in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cfg._check_failed()
        state = _peer_state(cfg, i)
        if state is not None and ok(*state):
            return state
        time.sleep(0.005)
    return None


def _settled_term(cfg: Config) -> int:
    """The term once every running server is in it and one of them leads."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        states = [s for s in (_peer_state(cfg, i) for i in range(cfg.n)) if s is not None]
        terms = {t for t, _ in states}
        if len(states) == cfg.n and len(terms) == 1 and sum(lead for _, lead in states) == 1:
            return terms.pop()
        time.sleep(0.02)
    cfg.fatalf("the servers did not settle in one term with one leader within 5 s")


def _leaders_seen(cfg: Config, seconds: float) -> dict[int, set[int]]:
    """Every (term -> leaders) GetState shows over the next few seconds."""
    seen: dict[int, set[int]] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for i in range(cfg.n):
            state = _peer_state(cfg, i)
            if state is not None and state[1]:
                seen.setdefault(state[0], set()).add(i)
        time.sleep(0.01)
    return seen


def _await_applied(cfg: Config, server: int, index: int, cmd: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cfg._check_failed()
        with cfg.mu:
            if cfg.logs[server].get(index) == cmd:
                return True
        time.sleep(0.005)
    return False


def _leader_with_one_follower(cfg: Config) -> tuple[int, int, list[int]]:
    """The leader, one follower f, and the rest, which are cut off: (leader, f, rest)."""
    leader = cfg.checkOneLeader()
    f = (leader + 1) % cfg.n
    rest = [i for i in range(cfg.n) if i not in (leader, f)]
    for i in rest:
        cfg.disconnect(i)
    return leader, f, rest


def test_IdleHeartbeatRate() -> None:
    servers = 3
    with make_config(servers, False, False) as cfg:
        cfg.needs_rpc(Rpc.AppendEntries)
        cfg.begin("Test (beyond Go): at most ten heartbeats a second")
        # The lab's own rule, which Go checks only through 3B's RPC count (and
        # every other test here only warns about).
        cfg.checkOneLeader()
        time.sleep(RaftElectionTimeout / 2)
        window = 2.0
        ends = [(i, j, cfg.endnames[i][j]) for i in range(servers) for j in range(servers)]
        ends = [(i, j, name) for i, j, name in ends if i != j]
        before = {name: cfg.sent_through(name, Rpc.AppendEntries) for _, _, name in ends}
        time.sleep(window)
        for i, j, name in ends:
            sent = cfg.sent_through(name, Rpc.AppendEntries) - before[name]
            if sent > LIMIT * window + SLACK:
                cfg.fatalf(
                    "server %d sent server %d %d AppendEntries in %.0f s while idle; the lab "
                    "allows at most %d heartbeats a second",
                    i, j, sent, window, LIMIT,
                )
        cfg.end()


def test_ElectionTimeoutsRandomized() -> None:
    servers = 3
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (beyond Go): election timeouts are randomized")
        # A server alone starts an election each time its timer runs out: its term
        # goes up by one each time. With the same timeout every time, servers that
        # time out together split the vote again and again (§5.2).
        alone = (cfg.checkOneLeader() + 1) % servers
        cfg.disconnect(alone)
        changes: list[float] = []
        last = _peer_state(cfg, alone)
        deadline = time.monotonic() + 10 * RaftElectionTimeout
        while len(changes) < 9 and time.monotonic() < deadline:
            time.sleep(0.002)
            state = _peer_state(cfg, alone)
            if state is not None and last is not None and state[0] != last[0]:
                changes.append(time.monotonic())
            last = state
        if len(changes) < 9:
            cfg.fatalf(
                "server %d, alone, started %d elections in %.0f s; it should start one "
                "each time its election timeout runs out", alone, len(changes),
                10 * RaftElectionTimeout,
            )
        gaps = [round((changes[k + 1] - changes[k]) * 1000) for k in range(len(changes) - 1)]
        if max(gaps) - min(gaps) < 20:
            cfg.fatalf(
                "server %d, alone, waited %s ms between its elections: the same every time. "
                "Draw each election timeout at random (the paper: 150-300 ms), or servers "
                "that time out together split the vote again and again",
                alone, gaps,
            )
        cfg.connect(alone)
        cfg.one(cfg.rand.Int() % 10000, servers, True)
        cfg.end()


def test_PersistLogBeforeReply() -> None:
    servers = 3
    with make_config(servers, False, False) as cfg:
        cfg.needs_rpc(Rpc.AppendEntries)
        cfg.begin("Test (beyond Go): entries persisted before the reply")
        cfg.one(cfg.rand.Int() % 10000, servers, True)
        for _ in range(3):
            # Server a acknowledges x, the leader commits x with a's reply, and a
            # crashes right after it. With the leader gone, a and b elect a leader:
            # a still holds x, so x stays at its index.
            leader = cfg.checkOneLeader()
            a = (leader + 1) % servers
            b = (leader + 2) % servers
            cfg.disconnect(b)
            x = 1_000_000 + cfg.rand.Int() % 1_000_000
            point = cfg.crash_point(
                Rpc.AppendEntries, [a], command=x, what=f"acknowledging entries holding {x}"
            )
            index, _, ok = cfg.rafts[leader].Start(x)
            if not ok:
                cfg.fatalf("server %d, the one leader a moment ago, refused Start()", leader)
            point.wait(5)
            if not _await_applied(cfg, leader, index, x, 5):
                cfg.fatalf(
                    "leader %d did not commit index %d with server %d's reply", leader, index, a
                )
            cfg.crash1(leader)
            cfg.start1(a, cfg.applier)
            cfg.connect(a)
            cfg.connect(b)
            # Agreement on a new entry puts it after x, unless x was lost (the
            # appliers report a different command at x's index).
            cfg.one(cfg.rand.Int() % 10000, 2, True)
            cfg.start1(leader, cfg.applier)
            cfg.connect(leader)
            cfg.one(cfg.rand.Int() % 10000, servers, True)
        cfg.end()


def _vote_round(cfg: Config) -> bool:
    """One try at a second vote in one term; False if the timing did not allow it.

    Server g votes for c in term t and crashes right after its reply. Restarted,
    g follows c. Then d, down since before that election, comes back one term
    behind, linked to g only: its next election is in term t, and it asks g. A g
    that kept its vote refuses; a g that forgot it makes d a second leader of t.
    """
    leader = cfg.checkOneLeader()
    _settled_term(cfg)
    d = (leader + 1) % cfg.n
    f = (leader + 2) % cfg.n
    cfg.crash1(d)  # d keeps the settled term: its next election is in the one after

    # A new election between the leader, restarted as a follower, and f.
    point = cfg.crash_point(Rpc.RequestVote, [leader, f], what="granting a vote")
    cfg.start1(leader, cfg.applier)
    cfg.connect(leader)
    g = point.wait(10)
    c = f if g == leader else leader
    state = _await_state(cfg, c, lambda t, lead: lead, 2)
    if state is None:
        return False  # c lost its lead meanwhile
    t = state[0]

    cfg.start1(g, cfg.applier)
    cfg.connect(g)
    cfg.start1(d, cfg.applier)  # not connected: elections on its own, one term each
    if _await_state(cfg, d, lambda term_d, _: term_d >= t - 1, 5) is None:
        cfg.fatalf("server %d, alone, stayed below term %d for 5 s", d, t - 1)
    state_d = _peer_state(cfg, d)
    aligned = state_d is not None and state_d[0] == t - 1
    if aligned:
        cfg.connect(d)
        cfg.link(d, c, False)  # d reaches g only
        seen = _leaders_seen(cfg, 2.0)
        both = sorted(seen.get(t, set()))
        if len(both) > 1:
            cfg.fatalf(
                "term %d had two leaders, servers %s: server %d voted for server %d in term %d, "
                "crashed right after its reply, and, restarted from its persister, voted for "
                "server %d in the same term. currentTerm and votedFor must be persisted before "
                "a RequestVote reply goes out (Figure 2: 'updated on stable storage before "
                "responding to RPCs')",
                t, both, g, c, t, d,
            )
        cfg.link(d, c, True)
    else:
        cfg.connect(d)
    return aligned


def test_PersistVoteBeforeReply() -> None:
    servers = 3
    with make_config(servers, False, False) as cfg:
        cfg.needs_rpc(Rpc.RequestVote)
        cfg.begin("Test (beyond Go): votes persisted before the reply")
        aligned = sum(_vote_round(cfg) for _ in range(3))
        if aligned == 0:
            cfg.fatalf("no round could line up a second election in the voter's term")
        cfg.one(cfg.rand.Int() % 10000, servers, True)
        cfg.end()


def test_LeaderHoldsCommittedEntries() -> None:
    servers = 3
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (beyond Go): only an up-to-date candidate wins")
        cfg.one(cfg.rand.Int() % 10000, servers, True)
        for _ in range(2):
            # b misses x, which the leader and a commit. Then b, whose term rose
            # while it was alone, faces a without the leader: a must refuse b its
            # vote (b's log is behind), or b leads and overwrites x (§5.4.1).
            leader = cfg.checkOneLeader()
            b = (leader + 2) % servers
            cfg.disconnect(b)
            cfg.one(cfg.rand.Int() % 10000, servers - 1, True)
            cfg.disconnect(leader)
            cfg.connect(b)
            cfg.one(cfg.rand.Int() % 10000, servers - 1, True)
            cfg.connect(leader)
            cfg.one(cfg.rand.Int() % 10000, servers, True)
        cfg.end()


def test_FollowerCommitsOnlyWhatMatches() -> None:
    servers = 5
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (beyond Go): a follower commits only what matches")
        cfg.one(cfg.rand.Int() % 10000, servers, True)
        # The leader and f, cut off from the rest, store entries nobody commits.
        leader, f, rest = _leader_with_one_follower(cfg)
        for _ in range(3):
            cfg.rafts[leader].Start(cfg.rand.Int() % 10000)
        time.sleep(RaftElectionTimeout / 2)  # they reach f
        # The rest elect a leader and commit other entries at those indexes.
        cfg.disconnect(leader)
        cfg.disconnect(f)
        for i in rest:
            cfg.connect(i)
        for _ in range(5):
            cfg.one(cfg.rand.Int() % 10000, len(rest), True)
        # f comes back: its first AppendEntries fail the consistency check, and
        # f may move commitIndex only over entries it knows match the leader's.
        cfg.connect(f)
        cfg.one(cfg.rand.Int() % 10000, len(rest) + 1, True)
        cfg.connect(leader)
        cfg.one(cfg.rand.Int() % 10000, servers, True)
        cfg.end()


def test_OldTermAppendEntriesRefused() -> None:
    servers = 5
    with make_config(servers, False, False) as cfg:
        cfg.needs_rpc(Rpc.AppendEntries)
        cfg.begin("Test (beyond Go): an AppendEntries of an earlier term is refused")
        cfg.one(cfg.rand.Int() % 10000, servers, True)
        # The leader, with f alone, sends f an entry x that no majority stores.
        leader, f, rest = _leader_with_one_follower(cfg)
        x = 1_000_000 + cfg.rand.Int() % 1_000_000
        kept = cfg.keep_requests(Rpc.AppendEntries, command=x)
        cfg.rafts[leader].Start(x)
        deadline = time.monotonic() + 2
        while kept.get(f) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        cfg.net.set_reply_hook(None)
        old = kept.get(f)
        if old is None:
            cfg.fatalf("leader %d sent server %d no AppendEntries holding %d in 2 s", leader, f, x)
        # The rest elect a leader of a later term and commit y where x was; f
        # learns y and applies it. Then the old AppendEntries reaches f: it is of
        # an earlier term, so f must refuse it (Figure 2, AppendEntries 1).
        cfg.disconnect(leader)
        cfg.disconnect(f)
        for i in rest:
            cfg.connect(i)
        cfg.one(cfg.rand.Int() % 10000, len(rest), True)
        cfg.connect(f)
        cfg.one(cfg.rand.Int() % 10000, len(rest) + 1, True)
        cfg.disconnect(f)
        cfg.deliver_old(f, old)
        time.sleep(3 * SAMPLE_INTERVAL)  # the safety checks read f's log and commitIndex
        cfg.connect(f)
        cfg.connect(leader)
        cfg.one(cfg.rand.Int() % 10000, servers, True)
        cfg.end()


def test_OldInstallSnapshotKeepsLog() -> None:
    servers = 3
    with make_config(servers, False, True) as cfg:
        cfg.needs_rpc(Rpc.InstallSnapshot)
        cfg.begin("Test (beyond Go, needs 3D): an old InstallSnapshot delivered late")
        cfg.one(cfg.rand.Int(), servers, True)
        leader = cfg.checkOneLeader()
        f = (leader + 1) % servers
        b = (leader + 2) % servers
        # f falls behind the leader's snapshot, and catches up through it.
        cfg.disconnect(f)
        for _ in range(2 * SnapShotInterval + 5):
            cfg.one(cfg.rand.Int(), servers - 1, True)
        kept = cfg.keep_requests(Rpc.InstallSnapshot)
        cfg.connect(f)
        cfg.one(cfg.rand.Int(), servers, True)
        cfg.net.set_reply_hook(None)
        old = kept.get(f)
        if old is None:
            cfg.fatalf(
                "leader %d brought server %d up to date without an InstallSnapshot, though "
                "server %d lacked entries the leader had discarded into its snapshot",
                leader, f, f,
            )
        # The leader and f commit more entries; then the leader crashes, and the old
        # InstallSnapshot reaches f. It holds only entries f has committed: f must
        # keep its log, which now decides what b, who missed those entries, learns.
        cfg.disconnect(b)
        for _ in range(3):
            cfg.one(cfg.rand.Int(), servers - 1, True)
        cfg.crash1(leader)
        cfg.deliver_old(f, old)
        cfg.connect(b)
        cfg.one(cfg.rand.Int(), servers - 1, True)
        cfg.start1(leader, cfg.applierSnap)
        cfg.connect(leader)
        cfg.one(cfg.rand.Int(), servers, True)
        cfg.end()


def _figure8_round(cfg: Config) -> None:
    """The paper's Figure 8, step by step: an entry of an earlier term, stored
    on a majority by a later leader, is not committed by counting replicas."""
    n = cfg.n
    # (a) The leader, old, stores x, and so does a; nobody else.
    old = cfg.checkOneLeader()
    a = (old + 1) % n
    for i in range(n):
        if i not in (old, a):
            cfg.disconnect(i)
    _, _, ok = cfg.rafts[old].Start(cfg.rand.Int() % 10000)
    time.sleep(RaftElectionTimeout / 2)  # x reaches a
    # (b) The other three elect s, which stores y, of a later term, alone.
    cfg.disconnect(old)
    cfg.disconnect(a)
    for i in range(n):
        if i not in (old, a):
            cfg.connect(i)
    s = cfg.checkOneLeader()
    cfg.disconnect(s)
    _, _, ok_s = cfg.rafts[s].Start(cfg.rand.Int() % 10000)
    # (c) old and a come back: one of them leads (only they hold x) and copies x to
    # the two others. x, of an earlier term, is on four servers: still not committed.
    for i in range(n):
        if i != s:
            cfg.connect(i)
    cfg.checkOneLeader()
    time.sleep(RaftElectionTimeout)
    # (d) The holders of x leave; s, whose last entry is of a later term than x,
    # leads the two others and puts y where x was. Had anyone applied x, the
    # appliers report y at x's index.
    if ok and ok_s:
        cfg.disconnect(old)
        cfg.disconnect(a)
        cfg.connect(s)
        cfg.one(cfg.rand.Int() % 10000, n - 2, True)
    for i in range(n):
        cfg.connect(i)
    cfg.one(cfg.rand.Int() % 10000, n, True)


def test_Figure8Scripted() -> None:
    servers = 5
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (beyond Go): Figure 8, step by step")
        cfg.one(cfg.rand.Int() % 10000, servers, True)
        for _ in range(2):
            _figure8_round(cfg)
        cfg.end()


def test_OldAppendEntriesKeepLog() -> None:
    servers = 3
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (beyond Go): old AppendEntries delivered late")
        cfg.net.set_stale(True)
        cfg.net.set_duplicates(True)
        cfg.one(cfg.rand.Int() % 10000, servers, True)
        for _ in range(4):
            # The leader and f commit five entries, one at a time, while old
            # AppendEntries requests are held back; the leader crashes, and the
            # held requests reach f after newer ones. f must keep every entry
            # they match: the leader committed them with f's acknowledgement.
            leader = cfg.checkOneLeader()
            b = (leader + 2) % servers
            cfg.disconnect(b)
            last, cmd = 0, None
            for _ in range(5):
                cmd = cfg.rand.Int() % 10000
                index, _, ok = cfg.rafts[leader].Start(cmd)
                if ok:
                    last = index
                time.sleep(0.02)
            if last:
                _await_applied(cfg, leader, last, cmd, 5)
            cfg.crash1(leader)
            time.sleep(_IN_FLIGHT)  # the held requests land
            cfg.connect(b)
            cfg.one(cfg.rand.Int() % 10000, 2, True)
            cfg.start1(leader, cfg.applier)
            cfg.connect(leader)
            cfg.one(cfg.rand.Int() % 10000, servers, True)
        cfg.end()


def test_StaleRepliesCommitNothing() -> None:
    servers = 3
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (beyond Go): stale replies")
        cfg.net.set_stale(True)
        cfg.one(cfg.rand.Int() % 10000, servers, True)
        for _ in range(4):
            # Both followers are cut off, then the leader takes x: no follower can
            # store x, so nothing may commit it. Replies to older AppendEntries
            # still arrive (they were in flight); they acknowledge what their
            # requests carried, not x.
            leader = cfg.checkOneLeader()
            time.sleep(0.3)  # heartbeats, whose replies are in flight
            for i in range(servers):
                if i != leader:
                    cfg.disconnect(i)
            x = cfg.rand.Int() % 10000
            index, _, ok = cfg.rafts[leader].Start(x)
            time.sleep(_IN_FLIGHT)
            if ok:
                n, _ = cfg.nCommitted(index)
                if n > 0:
                    cfg.fatalf(
                        "leader %d committed index %d (%s) with no follower able to store it: "
                        "both were cut off before Start(). A reply counts for the entries its "
                        "request carried (matchIndex = prevLogIndex + len(entries) of that "
                        "request), and only if it answers a request of the current term",
                        leader, index, x,
                    )
            for i in range(servers):
                cfg.connect(i)
            cfg.one(cfg.rand.Int() % 10000, servers, True)
        cfg.end()


def test_ElectionsWithStaleMessages() -> None:
    servers = 5
    with make_config(servers, False, False) as cfg:
        cfg.begin("Test (beyond Go): elections with stale and duplicated messages")
        cfg.net.set_stale(True)
        cfg.net.set_duplicates(True)
        # Leaders come and go while old RequestVote requests and replies arrive
        # late: a vote counts only in the election it was granted for, and a peer
        # votes once a term, however often it is asked. Election Safety (one
        # leader a term) is checked all along.
        for _ in range(8):
            leader = cfg.checkOneLeader()
            cfg.disconnect(leader)
            other = (leader + 1 + cfg.rand.Int() % (servers - 1)) % servers
            cfg.disconnect(other)
            cfg.checkOneLeader()
            cfg.connect(leader)
            cfg.connect(other)
        cfg.one(cfg.rand.Int() % 10000, servers, True)
        cfg.end()


def test_SnapshotAllCrashUnreliable() -> None:
    snapallcrash("Test (beyond Go, needs 3D): crash and restart all servers (unreliable)", False)


def test_SnapshotInitUnreliable() -> None:
    snapinit("Test (beyond Go, needs 3D): snapshot initialization after crash (unreliable)", False)
