"""The tester's Figure 3 checks (harness/safety.py and the appliers) fail a test on a
faulty history: scripted peers and hand-made ApplyMsgs stand in for a buggy Raft.
The checks see the scripted peers as the tester does, through observe.Peer handles."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from harness.applych import ApplyChannel
from harness.config import Config, make_config
from harness.observe import Observer, Peer
from harness.safety import Safety

from raft import ApplyMsg


@pytest.fixture(autouse=True)
def no_timeline_pages(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """These tests fail on purpose; don't draw a timeline page for each."""
    monkeypatch.setenv("RAFTLAB_TIMELINE", "off")
    yield


class ScriptedRaft:
    """A peer that answers GetState() and Start() from its fields, and has no inspect()."""

    def __init__(self, term: int = 0, role: str = "follower", log: Any = (), commit: int = 0):
        self.term = term
        self.role = role
        self.log: list[tuple[int, Any]] = list(log)
        self.commit_index = commit

    def GetState(self) -> tuple[int, bool]:
        return self.term, self.role == "leader"

    def Start(self, command: Any) -> tuple[int, int, bool]:
        if self.role != "leader":
            return -1, self.term, False
        self.log.append((self.term, command))
        return len(self.log), self.term, True

    def Kill(self) -> None:
        pass

    def Snapshot(self, index: int, snapshot: bytes) -> None:
        pass


class InspectableRaft(ScriptedRaft):
    """A scripted peer that offers the inspect() hook."""

    def inspect(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "role": self.role,
            "log": list(self.log),
            "commit_index": self.commit_index,
        }


class CompactedRaft(InspectableRaft):
    """An inspectable peer whose log starts after a snapshot through index start - 1."""

    def __init__(self, term: int, role: str, start: int, log: Any, commit: int = 0):
        super().__init__(term, role, log, commit)
        self.start = start

    def inspect(self) -> dict[str, Any]:
        return {**super().inspect(), "log_start": self.start}


def scripted_config(rafts: list[Any]) -> Config:
    """A Config whose peers are scripted (no network traffic, no Raft threads)."""
    cfg = Config(len(rafts), seed=1)
    for i, rf in enumerate(rafts):
        cfg.rafts[i] = Peer(rf, i, cfg.observers)
        cfg.connected[i] = True
    return cfg


# -- Election Safety ----------------------------------------------------------------


def test_two_leaders_in_one_term_fail_the_test() -> None:
    """Go's checkOneLeader sees one leader at a time here; the history has two in term 3."""
    a, b, c = ScriptedRaft(3, "leader"), ScriptedRaft(3), ScriptedRaft(3)
    cfg = scripted_config([a, b, c])
    assert cfg.checkOneLeader() == 0
    a.role, b.role = "follower", "leader"
    assert cfg.checkOneLeader() == 1
    with pytest.raises(AssertionError) as failure:
        cfg.cleanup()
    assert re.fullmatch(
        r"term 3 has 2 \(>1\) leaders: server 0 by GetState at \d+\.\d\d s, "
        r"server 1 by GetState at \d+\.\d\d s",
        str(failure.value),
    )


def test_two_leaders_reported_by_the_peers() -> None:
    failures: list[str] = []
    safety = Safety(failures.append)
    a = Peer(InspectableRaft(2, "leader"), 0, [safety])
    b = Peer(InspectableRaft(2, "candidate"), 1, [safety])
    a.inspect()
    b.inspect()
    assert failures == []
    b.raft.role = "leader"
    b.inspect()
    assert len(failures) == 1
    assert re.fullmatch(
        r"term 2 has 2 \(>1\) leaders: server 0 by inspect\(\) at \d+\.\d\d s, "
        r"server 1 by inspect\(\) at \d+\.\d\d s",
        failures[0],
    )
    b.inspect()  # reported once
    assert len(failures) == 1


def test_a_raft_without_inspect_is_checked_through_GetState_and_Start() -> None:
    failures: list[str] = []
    safety = Safety(failures.append)
    a = Peer(ScriptedRaft(5, "leader"), 0, [safety])
    b = Peer(ScriptedRaft(5, "leader"), 1, [safety])
    assert a.inspect() is None  # nothing to sample, so the timeline falls back to GetState
    assert a.GetState() == (5, True)
    assert b.Start("x") == (1, 5, True)
    assert failures and failures[0].startswith(
        "term 5 has 2 (>1) leaders: server 0 by GetState at "
    )
    assert ", server 1 by Start at " in failures[0]


# -- State Machine Safety: what the peers apply ----------------------------------------


def apply(cfg: Config, server: int, *msgs: tuple[int, Any]) -> None:
    """Run server's applier over these (index, command) messages."""
    ch = ApplyChannel(server, cfg._record)

    def send() -> None:
        for index, command in msgs:
            ch.put(ApplyMsg(CommandValid=True, Command=command, CommandIndex=index))
        ch.close()

    sender = threading.Thread(target=send, name="test-sender")
    sender.start()
    cfg.applier(server, ch)
    sender.join()


def test_a_diverging_apply_fails_the_test() -> None:
    cfg = scripted_config([ScriptedRaft(), ScriptedRaft(), ScriptedRaft()])
    apply(cfg, 0, (1, "x"), (2, "y"))
    apply(cfg, 1, (1, "x"), (2, "z"))
    with pytest.raises(
        AssertionError, match=r"^apply error: commit index=2 server=1 z != server=0 y$"
    ):
        cfg.cleanup()


def test_an_apply_that_skips_an_index_fails_the_test() -> None:
    cfg = scripted_config([ScriptedRaft(), ScriptedRaft(), ScriptedRaft()])
    apply(cfg, 0, (1, "x"), (3, "z"))
    with pytest.raises(AssertionError, match=r"^apply error: server 0 apply out of order 3$"):
        cfg.cleanup()


def test_an_apply_that_repeats_an_index_fails_the_test() -> None:
    cfg = scripted_config([ScriptedRaft(), ScriptedRaft(), ScriptedRaft()])
    apply(cfg, 0, (1, "x"), (2, "y"), (2, "y"))
    with pytest.raises(
        AssertionError, match=r"^apply error: server 0 apply out of order, expected index 3, got 2$"
    ):
        cfg.cleanup()


def test_a_log_that_contradicts_what_was_applied_below_commit_index() -> None:
    failures: list[str] = []
    safety = Safety(failures.append)
    safety.on_apply(0, 1, "x")
    safety.on_apply(0, 2, "y")
    Peer(InspectableRaft(2, log=[(1, "x"), (2, "q")], commit=1), 0, [safety]).inspect()
    assert failures == []  # index 2 is not committed as far as server 0 knows
    Peer(InspectableRaft(2, log=[(1, "x"), (2, "q")], commit=2), 1, [safety]).inspect()
    Peer(InspectableRaft(2, log=[(1, "x")], commit=2), 2, [safety]).inspect()
    assert failures == [
        "state machine safety: server 1 counts index 2 committed (commitIndex 2) with "
        "'q' (term 2), but 'y' was applied there",
        "server 2 reports commitIndex 2, but its log ends at 1",
    ]


# -- Log Matching, Leader Append-Only, Leader Completeness ---------------------------


def test_log_matching_violation() -> None:
    failures: list[str] = []
    safety = Safety(failures.append)
    Peer(InspectableRaft(3, log=[(1, "a"), (2, "b"), (2, "c")]), 0, [safety]).inspect()
    # A log that diverges for good (a later term at index 2) is fine ...
    Peer(InspectableRaft(3, log=[(1, "a"), (3, "z")]), 1, [safety]).inspect()
    assert failures == []
    # ... one with the same entry (index 3, term 2) after a different one is not.
    Peer(InspectableRaft(3, log=[(1, "a"), (3, "z"), (2, "c")]), 2, [safety]).inspect()
    assert failures == [
        "log matching: servers 0 and 2 both have an entry of term 2 at index 3, but their "
        "logs differ at index 2: server 0 has 'b' (term 2), server 2 has 'z' (term 3)"
    ]


def test_leader_append_only_violation() -> None:
    failures: list[str] = []
    safety = Safety(failures.append)
    rf = InspectableRaft(1, "leader", log=[(1, "a"), (1, "b")])
    peer = Peer(rf, 0, [safety])
    peer.inspect()
    rf.log.append((1, "c"))
    peer.inspect()
    assert failures == []
    rf.log[1:] = [(1, "B")]
    peer.inspect()
    assert failures == [
        "leader append-only: server 0, leader in term 1, changed its log while leading: "
        "index 2 held 'b' (term 1), now 'B' (term 1)"
    ]


def test_leader_completeness_violation() -> None:
    failures: list[str] = []
    safety = Safety(failures.append)
    stale = InspectableRaft(1, "leader", log=[])
    old = Peer(stale, 0, [safety])
    old.inspect()  # leader of term 1 from before the commits below
    safety.on_apply(0, 1, "x")
    safety.on_apply(0, 2, "y")
    old.inspect()  # still thinks it leads term 1 and lacks both: no violation (elected before)
    rf = InspectableRaft(1, "follower", log=[(1, "x"), (1, "y")])
    peer = Peer(rf, 2, [safety])
    peer.inspect()  # in term 1, after index 2 was committed
    assert failures == []
    rf.term, rf.role, rf.log = 2, "leader", [(1, "x")]  # elected in term 2 without index 2
    peer.inspect()
    assert failures == [
        "leader completeness: server 2 became leader of term 2 after index 2 was committed "
        "with 'y', but its log has nothing (its log ends at 1) there"
    ]


def test_a_leader_elected_before_the_commit_is_not_held_to_it() -> None:
    failures: list[str] = []
    safety = Safety(failures.append)
    rf = InspectableRaft(1, "follower", log=[])
    peer = Peer(rf, 0, [safety])
    peer.inspect()
    rf.term, rf.role = 2, "leader"
    peer.GetState()  # seen leading term 2 before anything was committed
    safety.on_apply(0, 1, "x")
    peer.inspect()  # a stale leader of term 2 (a later leader committed x): allowed
    assert failures == []


def test_the_checks_compare_what_compacted_logs_still_hold() -> None:
    """After snapshots (3D) logs start at log_start: the checks compare the indexes two
    logs both hold and report absolute indexes."""
    failures: list[str] = []
    safety = Safety(failures.append)
    for index, command in enumerate("abcdef", start=1):
        safety.on_apply(0, index, command)
    full = [(1, c) for c in "abcdef"]
    Peer(InspectableRaft(1, log=full, commit=6), 0, [safety]).inspect()
    leader = CompactedRaft(1, "leader", 5, [(1, "e"), (1, "f")], commit=6)
    lead = Peer(leader, 1, [safety])
    lead.inspect()
    leader.start, leader.log = 7, [(1, "g")]  # a snapshot through 6, then a new entry
    lead.inspect()
    Peer(CompactedRaft(1, "follower", 3, [(1, "c"), (1, "d")], commit=4), 2, [safety]).inspect()
    assert failures == []
    # Index 6 (term 1) matches server 0's, index 5 differs: Log Matching, in absolute indexes.
    bad = CompactedRaft(1, "follower", 5, [(1, "E"), (1, "f")], commit=4)
    Peer(bad, 3, [safety]).inspect()
    assert failures == [
        "log matching: servers 0 and 3 both have an entry of term 1 at index 6, but their "
        "logs differ at index 5: server 0 has 'e' (term 1), server 3 has 'E' (term 1)"
    ]
    bad.log, bad.commit_index = [(1, "e"), (1, "F")], 6
    Peer(bad, 4, [safety]).inspect()
    assert failures[-1] == (
        "state machine safety: server 4 counts index 6 committed (commitIndex 6) with "
        "'F' (term 1), but 'f' was applied there"
    )
    leader.log = [(1, "G")]
    lead.inspect()
    assert failures[-1] == (
        "leader append-only: server 1, leader in term 1, changed its log while leading: "
        "index 7 held 'g' (term 1), now 'G' (term 1)"
    )


def test_a_malformed_inspect_answer_is_reported() -> None:
    failures: list[str] = []
    safety = Safety(failures.append)

    class Broken(ScriptedRaft):
        def inspect(self) -> dict[str, Any]:
            return {"term": 1}

    Peer(Broken(), 4, [safety]).inspect()
    assert len(failures) == 1
    assert failures[0].startswith(
        "server 4: inspect() returned {'term': 1}: KeyError: 'role'; it must return {"
    )
    assert "tests/harness/README.md" in failures[0]


# -- a real cluster ------------------------------------------------------------------


def test_the_checks_sample_a_real_cluster() -> None:
    with make_config(3, False) as cfg:
        cfg.begin("Test: the safety checks sample a real cluster")
        cfg.one(101, 3, False)
        cfg.one(102, 3, False)
        cfg.end()
    assert cfg.safety.samples > 0
    assert cfg.safety.violations == []


def test_the_checks_see_the_peers_through_their_handles_alone() -> None:
    """The tester neither wraps nor patches a Raft: cfg.rafts[i] is a handle, and
    an observer sees what each handle's calls answer and what Config does."""
    seen: list[tuple[Any, ...]] = []

    class Recorder(Observer):
        def on_start(
            self, peer: Peer, started_at: float, command: Any, index: int, term: int, ok: bool
        ) -> None:
            seen.append(("start", peer.server, command, ok))

        def on_crash(self, peer: Peer) -> None:
            seen.append(("crash", peer.server))

        def on_make(self, peer: Peer) -> None:
            seen.append(("make", peer.server))

    with make_config(3, False) as cfg:
        cfg.observers.append(Recorder())
        cfg.begin("Test: the checks observe a real cluster")
        cfg.one(101, 3, True)
        cfg.crash1(2)
        cfg.start1(2, cfg.applier)
        cfg.connect(2)
        cfg.one(102, 3, True)
        for peer in cfg.rafts:
            assert isinstance(peer, Peer)
            assert not {"GetState", "Start", "inspect"} & vars(peer.raft).keys()
        cfg.end()
    assert cfg.safety.violations == []
    assert ("crash", 2) in seen and seen.index(("crash", 2)) < seen.index(("make", 2))
    accepted = [e[2] for e in seen if e[0] == "start" and e[3]]
    assert 101 in accepted and 102 in accepted
