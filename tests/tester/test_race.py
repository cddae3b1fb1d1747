"""The race checker (harness/race.py) bites: the lab's classic locking bugs, planted
in subclasses of the small Raft kept with these tests (fixture_raft.py), are each
reported by name.

Each planted Raft is named Raft (labrpc routes "Raft.AppendEntries" by class
name), and fixture_raft.make_with(planted) gives the cluster a Make that builds it
and names it as the class race mode instruments. Race mode is on for these tests
whatever the command line says (make_config(race=True)). Nothing here depends on
the repository's Raft beyond the lab API.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import fixture_raft
import pytest
from fixture_raft import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    AppendEntriesArgs,
    AppendEntriesReply,
    RequestVoteArgs,
    RequestVoteReply,
    make_with,
)
from harness import race
from harness.applych import ApplyChannel
from harness.config import Config, make_config

import labrpc.network
from raft import ApplyMsg

FixtureRaft = fixture_raft.Raft


@pytest.fixture(autouse=True)
def no_timeline_pages(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """These tests fail their clusters on purpose; don't draw a timeline page for each."""
    monkeypatch.setenv("RAFTLAB_TIMELINE", "off")
    yield


def run_planted(
    planted: type[FixtureRaft], body: Callable[[Config], None]
) -> tuple[str, list[str]]:
    """Run body on a 3-peer cluster of planted Rafts in race mode; it must fail.
    Returns the failure's message and every report the checker made."""
    cfgs: list[Config] = []
    with pytest.raises(AssertionError) as failure:
        with make_config(3, False, race=True, make=make_with(planted)) as cfg:
            cfgs.append(cfg)
            body(cfg)
            cfg.end()
    assert cfgs and cfgs[0].race is not None
    return str(failure.value), list(cfgs[0].race.reports)


def report_starting(reports: list[str], prefix: str) -> str:
    found = [r for r in reports if r.startswith(prefix)]
    assert found, f"no report starts with {prefix!r}; reports: {reports}"
    return found[0]


def until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait for condition (polled, with a generous deadline, not a sleep tuned to pass)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def section(report: str, heading: str) -> str:
    """The lines of report from the one starting with heading to the next blank line."""
    start = report.index(heading)
    end = report.find("\n\n", start)
    return report[start : end if end != -1 else len(report)]


# -- bug 1: GetState reads current_term without the lock --------------------------


class UnlockedGetState(FixtureRaft):
    def GetState(self) -> tuple[int, bool]:
        return self.current_term, self.state == LEADER  # BUG: no `with self.mu`


UnlockedGetState.__name__ = "Raft"


def test_planted_unlocked_GetState_is_reported() -> None:
    def body(cfg: Config) -> None:
        # An election first, so other threads have written every peer's term (inspect()
        # takes rf.mu); then checkOneLeader's GetState calls read it without.
        rafts = [peer.raft for peer in cfg.rafts if peer is not None]
        until(lambda: all(rf.inspect(with_log=False)["term"] > 0 for rf in rafts), "an election")
        cfg.checkOneLeader()

    message, reports = run_planted(UnlockedGetState, body)
    report = report_starting(
        reports, "DATA RACE: read of rf.current_term by thread MainThread without holding rf.mu"
    )
    assert message == report  # the test fails with this report
    # This access: field, thread, and its stack down to the line in GetState.
    this = section(report, "Read of rf.current_term (Raft peer ")
    assert "by thread MainThread, which does not hold rf.mu:" in this
    assert "in checkOneLeader" in this
    assert re.search(r'test_race\.py", line \d+, in GetState\n +return self\.current_term', this)
    # The last write from another thread, which held the lock, with its stack.
    other = section(report, "Previous write of rf.current_term by thread ")
    assert re.match(
        r"Previous write of rf\.current_term by thread (raft|labrpc)-\S+ \(holding rf\.mu\):", other
    )
    assert re.search(r'fixture_raft\.py", line \d+, in (observe_term|start_election)', other)


# -- bug 2: a peer is called while holding mu --------------------------------------


class CallsHoldingLock(FixtureRaft):
    def send_request_vote(self, peer: int, args: RequestVoteArgs) -> None:
        reply = RequestVoteReply()
        with self.mu:
            ok = self.peers[peer].Call("Raft.RequestVote", args, reply)  # BUG: mu held
            if not ok:
                return
            self.observe_term(reply.Term)
            if self.state == CANDIDATE and self.current_term == args.Term and reply.VoteGranted:
                self.count_vote()


CallsHoldingLock.__name__ = "Raft"


def test_planted_call_holding_mu_is_reported() -> None:
    def body(cfg: Config) -> None:
        assert cfg.race is not None
        race_reports = cfg.race.reports
        until(lambda: bool(race_reports), "a report")  # an election: RequestVote calls

    message, reports = run_planted(CallsHoldingLock, body)
    report = report_starting(
        reports,
        "LOCK HELD ACROSS RPC: thread raft-",
    )
    assert message == report
    assert re.match(
        r"LOCK HELD ACROSS RPC: thread raft-\d-send_request_vote calls Raft\.RequestVote while "
        r"holding rf\.mu \(in send_request_vote, test_race\.py:\d+\)",
        report,
    )
    call = section(report, "Call at:")
    assert re.search(r"in send_request_vote\n +ok = self\.peers\[peer\]\.Call\(", call)
    taken = section(report, "rf.mu taken at:")
    assert re.search(r"in send_request_vote\n +with self\.mu:", taken)
    assert "The Call was not made (it returned False)" in report
    # Reported before it could deadlock: no report of a lock held too long.
    assert not [r for r in reports if r.startswith("LOCK HELD TOO LONG")]


# -- bug 3: an RPC handler writes the log after releasing mu -----------------------


class UnlockedLogWrite(FixtureRaft):
    def AppendEntries(self, args: AppendEntriesArgs, reply: AppendEntriesReply) -> None:
        with self.mu:
            self.observe_term(args.Term)
            reply.Term = self.current_term
            if args.Term < self.current_term:
                return
            self.state = FOLLOWER
            self.reset_election_timer()
            prev = args.PrevLogIndex
            if prev > self.last_log_index() or self.log[prev].Term != args.PrevLogTerm:
                return
        if args.Entries:
            # BUG: the log is rewritten after mu is released.
            log = self.log[: prev + 1] + args.Entries
            self.log = log
        with self.mu:
            self.persist()
            commit = min(args.LeaderCommit, prev + len(args.Entries))
            if commit > self.commit_index:
                self.commit_index = commit
                self.apply_cond.notify()
            reply.Success = True


UnlockedLogWrite.__name__ = "Raft"


def test_planted_unlocked_log_write_is_reported() -> None:
    def body(cfg: Config) -> None:
        cfg.one(101, 3, False)
        cfg.one(102, 3, False)

    message, reports = run_planted(UnlockedLogWrite, body)
    assert message.startswith("DATA RACE: ")
    report = report_starting(reports, "DATA RACE: write of rf.log by thread labrpc-handler-")
    this = section(report, "Write of rf.log (Raft peer ")
    writer = re.match(
        r"Write of rf\.log \(Raft peer \d\) by thread (labrpc-handler-\d+), which does not hold "
        r"rf\.mu:",
        this,
    )
    assert writer
    assert re.search(r"in AppendEntries\n +self\.log = log", this)
    assert "in dispatch" in this  # the stack goes back through labrpc's handler
    # The other thread's access, not ordered before the write (never one made setting up).
    other = section(report, "Previous ")
    match = re.match(
        r"Previous (read|write) of rf\.log by thread (\S+) \((not )?holding rf\.mu\):", other
    )
    assert match and match[2] != writer[1]
    assert re.search(r"line \d+, in \w+\n +\S", other)  # a stack with source lines


# -- bug 4: the applier puts on applyCh while holding mu ---------------------------


class AppliesHoldingLock(FixtureRaft):
    def applier(self) -> None:
        with self.mu:
            while not self.killed():
                if self.last_applied < self.commit_index:
                    self.last_applied += 1
                    msg = ApplyMsg(
                        CommandValid=True,
                        Command=self.log[self.last_applied].Command,
                        CommandIndex=self.last_applied,
                    )
                    self.applyCh.put(msg)  # BUG: mu held
                else:
                    self.apply_cond.wait()


AppliesHoldingLock.__name__ = "Raft"


def test_planted_applych_send_holding_mu_is_reported() -> None:
    def body(cfg: Config) -> None:
        cfg.one(101, 3, False)

    message, reports = run_planted(AppliesHoldingLock, body)
    assert message == reports[0]
    report = report_starting(reports, "APPLYCH SEND UNDER LOCK: thread raft-")
    assert re.match(
        r"APPLYCH SEND UNDER LOCK: thread raft-\d-applier puts on applyCh while holding rf\.mu "
        r"\(in applier, test_race\.py:\d+\)",
        report,
    )
    assert re.search(r"in applier\n +self\.applyCh\.put\(msg\)", section(report, "put at:"))
    # Where it last took rf.mu: the with statement, or the wait() that took it back.
    taken = section(report, "rf.mu taken at:")
    assert re.search(r"in applier\n +(with self\.mu:|self\.apply_cond\.wait\(\))", taken)


# -- bug 5: a lock held for long ----------------------------------------------------


class SleepsHoldingLock(FixtureRaft):
    def Start(self, command: Any) -> tuple[int, int, bool]:
        with self.mu:
            time.sleep(1.5)  # BUG: e.g. waiting for the entry to commit, holding mu
        return super().Start(command)


SleepsHoldingLock.__name__ = "Raft"


def test_planted_long_hold_dumps_the_holders_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(race, "HOLD_LIMIT", 0.5)

    def body(cfg: Config) -> None:
        leader = cfg.checkOneLeader()
        peer = cfg.rafts[leader]
        assert peer is not None
        peer.Start(101)

    message, reports = run_planted(SleepsHoldingLock, body)
    report = report_starting(reports, "LOCK HELD TOO LONG: rf.mu of Raft peer ")
    assert message == report
    assert re.match(
        r"LOCK HELD TOO LONG: rf\.mu of Raft peer \d held 0\.\d s by thread MainThread "
        r"\(now in Start, test_race\.py:\d+\)",
        report,
    )
    assert re.search(r"in Start\n +time\.sleep\(1\.5\)", section(report, "Its stack now:"))
    assert re.search(r"in Start\n +with self\.mu:", section(report, "rf.mu taken at:"))


# -- and a certain deadlock: taking mu twice -----------------------------------------


class LocksTwice(FixtureRaft):
    def GetState(self) -> tuple[int, bool]:
        with self.mu:
            return self.current_term, self.is_leader()

    def is_leader(self) -> bool:
        with self.mu:  # BUG: threading.Lock is not reentrant
            return self.state == LEADER


LocksTwice.__name__ = "Raft"


def test_planted_double_acquire_raises_instead_of_hanging() -> None:
    cfgs: list[Config] = []
    with pytest.raises(race.RaceError):
        with make_config(3, False, race=True, make=make_with(LocksTwice)) as cfg:
            cfgs.append(cfg)
            cfg.checkOneLeader()
    assert cfgs[0].race is not None
    report = report_starting(
        cfgs[0].race.reports,
        "LOCK ACQUIRED TWICE: thread MainThread takes rf.mu again while holding it "
        "(in is_leader, test_race.py:",
    )
    assert re.search(r"in is_leader\n +with self\.mu:", section(report, "Taken again at:"))
    assert re.search(r"in GetState\n +with self\.mu:", section(report, "First taken at:"))


# -- not a bug: rf.mu handed from one thread to another ------------------------------


class HandsTheLockOff(FixtureRaft):
    """Go code may Lock in one goroutine and Unlock in one it starts; so may its port.
    GetState takes mu, starts a thread that reads the fields and releases mu, and
    takes mu again itself, which waits for that release: correct, if roundabout."""

    def GetState(self) -> tuple[int, bool]:
        answer: list[tuple[int, bool]] = []

        def finish() -> None:
            time.sleep(0.01)
            answer.append((self.current_term, self.state == LEADER))
            self.mu.release()

        self.mu.acquire()
        threading.Thread(target=finish, name=f"raft-{self.me}-finish").start()
        with self.mu:  # waits for finish() to release it
            term = self.current_term
        assert answer and answer[0][0] <= term
        return answer[0]


HandsTheLockOff.__name__ = "Raft"


def test_a_lock_handed_to_another_thread_is_no_race_and_no_deadlock() -> None:
    with make_config(3, False, race=True, make=make_with(HandsTheLockOff)) as cfg:
        cfg.begin("Test: rf.mu handed off in race mode")
        cfg.checkOneLeader()
        cfg.checkTerms()
        cfg.end()
    assert cfg.race is not None and cfg.race.reports == []


class ReadsUnderItsStartersHold(FixtureRaft):
    """A thread started while GetState holds mu reads current_term without mu; GetState,
    not that thread, releases mu: no hand-off, so the read was a race."""

    def GetState(self) -> tuple[int, bool]:
        seen: list[int] = []
        with self.mu:
            reader = threading.Thread(
                target=lambda: seen.append(self.current_term),  # BUG: no `with self.mu`
                name=f"raft-{self.me}-reader",
            )
            reader.start()
            reader.join()
            return self.current_term, self.state == LEADER


ReadsUnderItsStartersHold.__name__ = "Raft"


def test_an_heir_that_does_not_release_the_lock_raced() -> None:
    def body(cfg: Config) -> None:
        cfg.checkOneLeader()

    message, reports = run_planted(ReadsUnderItsStartersHold, body)
    report = report_starting(reports, "DATA RACE: read of rf.current_term by thread raft-")
    assert re.match(r"DATA RACE: read of rf\.current_term by thread raft-\d-reader without "
                    r"holding rf\.mu", report)  # fmt: skip
    assert "in <lambda>" in report


# -- fields set before the peer's threads start (Go's `go` orders the two) -------------


class ApplyChGuarded(FixtureRaft):
    """applyCh, set in __init__ before Make starts the threads and only read after (by
    the applier, without mu), as a student's `self.apply_q = applyCh` is: no race."""

    UNGUARDED = FixtureRaft.UNGUARDED - {"applyCh"}


ApplyChGuarded.__name__ = "Raft"


def test_a_field_set_before_the_threads_start_and_only_read_after_is_no_race() -> None:
    with make_config(3, False, race=True, make=make_with(ApplyChGuarded)) as cfg:
        cfg.begin("Test: applyCh read without mu in race mode")
        assert isinstance(vars(ApplyChGuarded)["applyCh"], race._Guarded)
        cfg.one(101, 3, True)
        cfg.crash1(0)  # a restarted peer is set up again, after many threads started
        cfg.start1(0, cfg.applier)
        cfg.connect(0)
        cfg.one(102, 3, True)
        cfg.end()
    assert cfg.race is not None and cfg.race.reports == []


class DeadlineWrittenWithoutLock(FixtureRaft):
    def AppendEntries(self, args: AppendEntriesArgs, reply: AppendEntriesReply) -> None:
        super().AppendEntries(args, reply)
        self.election_deadline = time.monotonic() + 0.5  # BUG: written without mu


DeadlineWrittenWithoutLock.__name__ = "Raft"


def test_a_field_set_before_the_threads_start_and_written_after_without_mu_races() -> None:
    def body(cfg: Config) -> None:
        cfg.checkOneLeader()

    message, reports = run_planted(DeadlineWrittenWithoutLock, body)
    assert message == reports[0]
    assert re.match(
        r"DATA RACE: write of rf\.election_deadline by thread labrpc-handler-\d+ without "
        r"holding rf\.mu \(in AppendEntries, test_race\.py:\d+\)\n"
        r"    Take rf\.mu around this access: ",
        message,
    )
    other = section(message, "Previous ")
    assert re.match(r"Previous (read|write) of rf\.election_deadline by thread \S+ ", other)
    assert "in __init__" not in other  # the setting up is ordered before every thread


# -- the repository's Raft (through the lab API only), and race mode's footprint -------


def test_repository_raft_is_clean_in_race_mode() -> None:
    with make_config(3, False, race=True) as cfg:
        cfg.begin("Test: the repository's Raft in race mode")
        assert cfg.race is not None
        assert isinstance(cfg.rafts[0].raft.mu, race.CheckedLock)  # type: ignore[union-attr]
        cfg.one(101, 3, True)
        leader = cfg.checkOneLeader()
        cfg.disconnect(leader)
        cfg.one(102, 2, True)
        cfg.crash1((leader + 1) % 3)
        cfg.connect(leader)
        cfg.start1((leader + 1) % 3, cfg.applier)
        cfg.connect((leader + 1) % 3)
        cfg.one(103, 3, True)
        cfg.end()
    assert cfg.race.reports == []


def test_race_mode_off_patches_nothing_and_on_undoes_its_patches() -> None:
    call = labrpc.network.ClientEnd.Call
    before = dict(vars(FixtureRaft))
    with make_config(3, False, race=False, make=fixture_raft.Make) as cfg:
        assert cfg.race is None
        assert dict(vars(FixtureRaft)) == before
        assert labrpc.network.ClientEnd.Call is call
        peer = cfg.rafts[0]
        assert peer is not None
        rf = peer.raft
        assert type(rf.mu) is type(threading.Lock())
        assert type(rf.applyCh) is ApplyChannel
        assert "_raftlab_race" not in vars(rf)
    with make_config(3, False, race=True, make=fixture_raft.Make) as cfg:
        assert isinstance(vars(FixtureRaft)["current_term"], race._Guarded)
        assert isinstance(vars(FixtureRaft)["mu"], race._Mu)
        assert "me" not in vars(FixtureRaft)  # unguarded: Raft.UNGUARDED
        assert labrpc.network.ClientEnd.Call is not call
    assert dict(vars(FixtureRaft)) == before
    assert labrpc.network.ClientEnd.Call is call


# -- CheckedLock as a Condition's lock --------------------------------------------------


def test_checked_lock_works_under_a_condition() -> None:
    checker = race.RaceChecker(lambda report: None)
    lock = race.CheckedLock(checker, None, reentrant=False)
    cond = threading.Condition(lock)  # type: ignore[arg-type]
    ready: list[int] = []

    def waiter() -> None:
        with cond:
            while not ready:
                cond.wait()
            assert lock._is_owned()  # owned again after wait
            ready.append(threading.get_ident())

    t = threading.Thread(target=waiter, name="tester-waiter")
    t.start()
    time.sleep(0.05)
    assert not lock.locked()  # released by wait()
    with cond:
        assert lock._is_owned() and lock.locked()
        ready.append(0)
        cond.notify()
    t.join(5)
    assert not t.is_alive() and ready[1] == t.ident
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()
    assert checker.reports == []


# -- the checker on a class of its own (no cluster) -----------------------------------


def instrumented(cls: type) -> tuple[race.RaceChecker, list[str]]:
    reports: list[str] = []
    checker = race.RaceChecker(reports.append)
    checker.instrument(cls)
    return checker, reports


def in_thread(name: str, fn: Callable[[], object]) -> None:
    t = threading.Thread(target=fn, name=name)
    t.start()
    t.join(5)
    assert not t.is_alive()


def test_field_checks_on_a_class_of_its_own() -> None:
    class Raft:
        UNGUARDED = frozenset({"me"})

        def __init__(self) -> None:
            self.mu = threading.Lock()
            self.me = 7
            self.term = 0  # set up without the lock: fine, no other thread has it yet

    checker, reports = instrumented(Raft)
    try:
        rf = Raft()
        rf.term = 1  # no thread started yet: still setting the peer up

        def locked() -> None:
            with rf.mu:
                rf.term += 1

        in_thread("tester-locked", locked)
        assert rf.me == 7  # unguarded
        assert reports == []

        def unlocked() -> None:
            rf.term = 5

        in_thread("tester-unlocked", unlocked)
        with rf.mu:
            assert rf.term == 5
    finally:
        checker.close()
    assert len(reports) == 1
    assert re.match(
        r"DATA RACE: write of rf\.term by thread tester-unlocked without holding rf\.mu "
        r"\(in unlocked, test_race\.py:\d+\)",
        reports[0],
    )
    assert "Write of rf.term (Raft peer 7) by thread tester-unlocked" in reports[0]
    previous = section(reports[0], "Previous write of rf.term by thread tester-locked")
    assert re.search(r"in locked\n +rf\.term \+= 1", previous)
    assert "term" not in vars(Raft)  # close() took the descriptors away


class StartOrdered:
    """A Raft whose first instance installs the field checks (its own setting up goes
    unseen), so each test checks a second one."""

    def __init__(self) -> None:
        self.mu = threading.Lock()
        self.apply_q = object()  # set up before any thread starts
        self.term = 0


def test_writes_before_a_thread_starts_are_ordered_before_its_accesses() -> None:
    class Raft(StartOrdered):
        pass

    checker, reports = instrumented(Raft)
    try:
        Raft()
        rf = Raft()
        in_thread("tester-ticker", lambda: rf.apply_q)  # the setting up is ordered before it
        rf.term = 1  # after a start(): ordered before the threads started from now on

        def applier() -> None:
            assert rf.term == 1 and rf.apply_q is not None
            in_thread("tester-grandchild", lambda: rf.term)  # and before the threads they start

        in_thread("tester-applier", applier)
    finally:
        checker.close()
    assert reports == []


def test_a_write_after_a_thread_starts_races_with_its_reads() -> None:
    class Raft(StartOrdered):
        pass

    checker, reports = instrumented(Raft)
    try:
        Raft()
        rf = Raft()

        def reader() -> None:
            time.sleep(0.05)
            assert rf.term in (0, 2)

        t = threading.Thread(target=reader, name="tester-reader")
        t.start()
        rf.term = 2  # BUG: after the reader started, without mu
        t.join(5)
        assert not t.is_alive()
    finally:
        checker.close()
    # Reported at whichever of the two came second.
    assert len(reports) == 1, reports
    assert re.match(
        r"DATA RACE: (read of rf\.term by thread tester-reader|write of rf\.term by thread "
        r"MainThread) without holding rf\.mu",
        reports[0],
    )
    assert re.search(r"Previous (write|read) of rf\.term by thread (MainThread|tester-reader) "
                     r"\(not holding rf\.mu\)", reports[0])  # fmt: skip


def test_an_rlock_and_its_condition_are_followed() -> None:
    class Raft:
        def __init__(self) -> None:
            self.mu = threading.RLock()
            self.cond = threading.Condition(self.mu)
            self.ready = False

    checker, reports = instrumented(Raft)
    try:
        rf = Raft()
        assert isinstance(rf.mu, race.CheckedLock)

        def waiter() -> None:
            with rf.mu:
                with rf.mu:  # reentrant
                    while not rf.ready:
                        rf.cond.wait(5)
                    rf.ready = False

        t = threading.Thread(target=waiter, name="tester-waiter")
        t.start()
        time.sleep(0.05)
        with rf.cond:  # wait() released both levels
            rf.ready = True
            rf.cond.notify()
        t.join(5)
        assert not t.is_alive()
        with rf.mu:
            assert rf.ready is False
    finally:
        checker.close()
    assert reports == []


def test_a_raft_without_a_lock_in_mu_is_reported() -> None:
    class Raft:
        def __init__(self) -> None:
            self.lock = threading.Lock()
            self.term = 0

    checker, reports = instrumented(Raft)
    try:
        Raft()
    finally:
        checker.close()
    assert reports and reports[0].startswith(
        "RACE MODE CANNOT CHECK Raft: no rf.mu, not a threading.Lock or RLock assigned in __init__"
    )


def test_threads_acting_for_one_caller_are_ordered_as_that_thread() -> None:
    """A sealed host runs each of a tester thread's calls on whichever worker is free
    (race.acting_for): two such calls are that one thread's accesses, in order, as
    they are in-process; a third thread's unlocked write still races with them, and
    the report names each access's thread as it was named then."""

    class Raft(StartOrdered):
        pass

    checker, reports = instrumented(Raft)
    try:
        Raft()
        rf = Raft()
        in_thread("tester-ticker", lambda: None)  # published: accesses are judged now

        def as_main(fn: Callable[[], object]) -> Callable[[], None]:
            def call() -> None:
                me = threading.current_thread()
                own, me.name = me.name, "MainThread"
                try:
                    with race.acting_for(("MainThread", 1)):
                        fn()
                finally:
                    me.name = own

            return call

        def write() -> None:
            rf.term = 3

        in_thread("worker-1", as_main(write))  # unlocked, like a Start without mu
        in_thread("worker-2", as_main(lambda: rf.term))  # the same caller's: ordered
        assert reports == []

        def stray() -> None:
            rf.term = 4

        in_thread("worker-3", stray)  # another thread, unlocked: a race
    finally:
        checker.close()
    assert len(reports) == 1, reports
    assert reports[0].startswith("DATA RACE: write of rf.term by thread worker-3 without")
    assert "Previous read of rf.term by thread MainThread (not holding rf.mu)" in reports[0]
