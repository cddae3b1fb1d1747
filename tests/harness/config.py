"""Port of 6.5840's src/raft/config.go: the Raft tester's cluster and checks.

Method and field names follow Go's so the lab tests port line by line. The
tester uses only the raft package's public API (Make, MakePersister, the
ApplyMsg fields, GetState/Start/Kill/Snapshot), so a student's raft/ can be
dropped in; the optional inspect() hook adds checks (README.md here).

Beyond Go's checks, every test checks Figure 3's safety properties
(harness/safety.py) and records a timeline (harness/timeline.py). Both are
observers (harness/observe.py): the Config tells cfg.observers what it does,
and cfg.rafts[i] is an observe.Peer, a handle that calls the Raft and tells
them its answers; the Raft itself is neither wrapped nor patched. Race mode
(make test-race) checks the rf.mu discipline (harness/race.py).

Differences forced by Python, not by taste:
  * Go's ``defer cfg.cleanup()`` is ``with make_config(...) as cfg:`` (or
    try/finally cfg.cleanup()).
  * t.Fatalf is cfg.fatalf: it raises AssertionError with Go's message. From a
    tester thread it also marks the test failed, and the main thread raises it
    at its next check (nCommitted, one, wait, checkOneLeader, end, cleanup).
  * log.Fatalf in the appliers cannot end the process; the error is printed,
    kept, and fails the test the same way.
  * applyCh is Go's unbuffered channel made a queue.Queue (harness/applych.py):
    put() returns once the tester has taken the message. A put that waits on
    a tester inside that server's Snapshot() (the sender holds rf.mu) fails the
    test within seconds instead of hanging it. Where Go's tester leaves a
    crashed server's channel unread, it is closed here: a killed Raft's later
    puts return at once.
  * Every random choice comes from cfg.rand, seeded by RAFTLAB_SEED when set.
  * A panic in a goroutine ends Go's test process; an uncaught exception ends
    only its Python thread, so the cluster takes threading.excepthook and fails
    the test with it (harness/thread_errors.py).
  * A Go test stuck on a lock is ended by the test binary's timeout; here a
    tester call that has not returned in 5 s fails the test, and SIGUSR1 frees
    the test's thread (harness/hangs.py).
"""

from __future__ import annotations

import base64
import io
import os
import queue
import random
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import labgob
import labrpc
from harness import race as racecheck
from harness import runtime, transcript
from harness.applych import ApplyChannel
from harness.crashpoints import CrashPoint
from harness.hangs import CallWatch
from harness.heartbeats import HeartbeatRate
from harness.keep import KeptRequest, KeptRequests
from harness.observe import Observer, Peer
from harness.rpckinds import Rpc, RpcKinds, is_skip, skip
from harness.runtime.inprocess import raft_class_of
from harness.safety import Safety
from harness.thread_errors import ThreadFailure
from harness.timeline import Timeline

if TYPE_CHECKING:
    from harness.runtime import Persister

__all__ = [
    "Config",
    "GoRand",
    "RaftElectionTimeout",
    "SnapShotInterval",
    "TesterThread",
    "make_config",
    "raft_class_of",
    "randstring",
    "seed_from_env",
]

# The tester generously allows solutions to complete elections in one second
# (much more than the paper's range of timeouts).
RaftElectionTimeout = 1.0

SnapShotInterval = 10

_TIME_LIMIT = 120.0
_THREAD_EXIT_GRACE = 30.0
_QUIET_GRACE = 5.0
# After a call into the Raft hung, threads are likely stuck behind the same lock.
_STUCK_GRACE = 1.0


Applier = Callable[[int, ApplyChannel], None]


class GoRand(random.Random):
    """random.Random with Go's math/rand names, so rand.Int() ports as is."""

    def Int(self) -> int:
        return self.getrandbits(63)

    def Int63(self) -> int:
        return self.getrandbits(63)

    def Int31(self) -> int:
        return self.getrandbits(31)


def seed_from_env() -> int:
    """RAFTLAB_SEED if set, else a fresh seed (printed when a test fails); in a
    simulation, its World's seed, which fixes everything else too (harness/sim)."""
    sim = sys.modules.get("harness.sim")
    world = sim.current_world() if sim is not None else None
    if world is not None:
        return int(world.seed)
    text = os.environ.get("RAFTLAB_SEED", "").strip()
    if not text:
        return random.SystemRandom().getrandbits(32)
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"RAFTLAB_SEED must be an integer, got {text!r}") from None


def randstring(n: int, rand: random.Random) -> str:
    b = rand.randbytes(2 * n)
    return base64.urlsafe_b64encode(b).decode("ascii")[:n]


class TesterThread(threading.Thread):
    """A tester goroutine whose failure fails the test instead of vanishing."""

    def __init__(self, cfg: Config, name: str, fn: Callable[..., Any], args: tuple[Any, ...]):
        super().__init__(name=f"tester-{name}", daemon=True)
        self._cfg = cfg
        self._fn = fn
        self._args = args
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._fn(*self._args)
        except BaseException as e:
            self.error = e
            self._cfg._record(e)

    def wait(self, timeout: float | None = None) -> Any:
        """join(); then raise the thread's failure here, or return its result."""
        __tracebackhide__ = True
        self.join(timeout)
        if self.is_alive():
            self._cfg.fatalf("%s did not finish within %.0f s", self.name, timeout)
        if self.error is not None:
            raise self.error
        return self.result


_cpu_warned = False


def _warn_one_cpu() -> None:
    """Go's warning, given only where it tells something: unless RAFTLAB_CPUS=all the
    tester pins itself to one CPU (labrpc/cpu.py; pytest's header says so), so a
    one-CPU machine runs the tests as any other does."""
    global _cpu_warned
    if not _cpu_warned:
        _cpu_warned = True
        if (os.cpu_count() or 1) < 2 and os.environ.get("RAFTLAB_CPUS") == "all":
            transcript.emit("warning: only one CPU, which may conceal locking bugs")


MakeFn = Callable[[list[Any], int, "Persister", "queue.Queue[Any]"], Any]


def make_config(
    n: int,
    unreliable: bool,
    snapshot: bool = False,
    *,
    race: bool | None = None,
    make: MakeFn | None = None,
    sealed: bool | None = None,
) -> Config:
    """A cluster of n connected Rafts on a fresh labrpc network.

    make builds each peer: raft.Make unless a test of the tester passes
    another Raft's Make (race mode instruments the class named by its
    raft_class attribute, or else the class Raft of its module). Where the
    peers run is the runtime's affair (harness/runtime): sealed=None runs them
    sealed if this run is (pytest --sealed, RAFTLAB_SEALED)."""
    _warn_one_cpu()
    cfg = Config(n, seed_from_env(), race=race, make=make, sealed=sealed)
    try:
        cfg.go("safety", cfg.safety.watch, cfg._live_peers, cfg._finished)
        cfg.setunreliable(unreliable)
        cfg.net.LongDelays(True)
        applier = cfg.applierSnap if snapshot else cfg.applier
        for i in range(cfg.n):
            cfg.logs[i] = {}
            cfg.start1(i, applier)
        for i in range(cfg.n):
            cfg.connect(i)
        cfg.go("timeline", cfg.timeline.run, cfg.rafts, cfg._finished)
        cfg.go("heartbeats", cfg.heartbeats.run, cfg._finished)
    except BaseException:
        cfg._teardown()
        raise
    return cfg


def _describe(failure: BaseException) -> str:
    """A recorded failure as the test reports it (a thread's exception with its count)."""
    if isinstance(failure, ThreadFailure):
        return failure.report.describe()
    if isinstance(failure, AssertionError):
        return str(failure)
    return f"tester thread failed: {failure!r}"


class Config:
    """Go's config struct: the cluster under test and what it has applied."""

    def __init__(
        self,
        n: int,
        seed: int,
        race: bool | None = None,
        make: MakeFn | None = None,
        sealed: bool | None = None,
    ):
        # Where the peers run (harness/runtime): it makes them, and tells which handler
        # is which RPC (rpc_kinds) and what silent mistakes to name first (causes).
        self.runtime: runtime.Runtime = runtime.select(
            self._record,
            self._violation,
            make,
            racecheck.enabled() if race is None else race,
            sealed,
        )
        self.mu = threading.Lock()
        self.seed = seed
        self.rand = GoRand(seed)
        transcript.note_seed(seed)
        self.net = labrpc.MakeNetwork(seed=seed)
        self.n = n
        self.applyErr = [""] * n
        self.rafts: list[Peer | None] = [None] * n  # handles on the running Rafts
        self.connected = [False] * n
        self.saved: list[Persister | None] = [None] * n
        self.endnames: list[list[str] | None] = [None] * n
        self.logs: list[dict[int, Any]] = [{} for _ in range(n)]
        self.lastApplied = [0] * n
        self.start = time.monotonic()
        self.t0 = self.start  # begin() sets it; an end() without one times from here
        self.rpcs0 = 0
        self.cmds0 = 0
        self.bytes0 = 0
        self.maxIndex = 0
        self.maxIndex0 = 0
        self._finished = threading.Event()
        self._torn_down = False
        self._failed = False
        self._failures: list[BaseException] = []
        self._threads: list[TesterThread] = []
        self._applyChs: list[ApplyChannel | None] = [None] * n
        self.timeline = Timeline(n, seed)  # drawn as a page when the test fails
        self.safety = Safety(self._violation)  # Figure 3's properties (harness/safety.py)
        # The heartbeat rule (at most ten a second while idle), warned about in every test.
        self.heartbeats = HeartbeatRate(
            lambda name: self.sent_through(name, Rpc.AppendEntries),
            lambda: self.endnames,
            self.warnf,
        )
        # Told every event, in this order; the peers' handles read this list too.
        self.observers: list[Observer] = [
            self.safety, self.timeline, self.heartbeats, *self.runtime.observers
        ]
        # A GetState/Start/Kill that does not return fails the test within seconds.
        self.calls = CallWatch(
            self._record, self.timeline.test, seed, places=self.runtime.thread_places
        )

    @property
    def rpc_kinds(self) -> RpcKinds | None:
        return self.runtime.rpc_kinds

    @property
    def causes(self) -> runtime.Causes:
        return self.runtime.causes

    @property
    def race(self) -> racecheck.RaceChecker | None:
        """Race mode's checker when it runs in this process (harness/race.py)."""
        return self.runtime.race

    def __enter__(self) -> Config:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self._cleanup(exc)

    # -- failures ---------------------------------------------------------

    def fatalf(self, format: str, *args: Any) -> NoReturn:
        """Go's t.Fatalf: fail the test with this message (%-style format).

        If another thread already failed the test (an exception in a Raft thread,
        a safety violation), that is the cause, and this message follows it as a
        consequence."""
        __tracebackhide__ = True
        self._failed = True
        message = format % args if args else format
        for o in self.observers:
            o.on_fail(message)
        if self._failures:
            message = f"{_describe(self._failures[0])}\n    then: {message}"
        raise AssertionError(self.causes.first(message))

    def Failed(self) -> bool:
        """Go's t.Failed()."""
        return self._failed

    def _record(self, failure: BaseException) -> None:
        """Keep a failure from another thread for the test's thread to raise."""
        with self.mu:
            self._failed = True
            self._failures.append(failure)
        for o in self.observers:
            o.on_fail(str(failure))

    def _check_failed(self) -> None:
        """Raise the first failure another thread recorded (Go: the test already failed)."""
        __tracebackhide__ = True
        if not self._failures:
            return
        first = self._failures[0]
        if isinstance(first, ThreadFailure):
            # its traceback went to stderr
            raise AssertionError(self.causes.first(_describe(first))) from None
        if isinstance(first, AssertionError):
            raise AssertionError(self.causes.first(str(first))) from None  # shown once
        raise AssertionError(self.causes.first(f"tester thread failed: {first!r}")) from first

    def _violation(self, message: str) -> None:
        """A report of the safety or race checks: fail the test with it (as _record),
        and print it at once when no pytest report will show it (outside pytest)."""
        if not transcript.collecting():
            transcript.log(message)
        self._record(AssertionError(message))

    def _apply_error(self, i: int, err_msg: str) -> None:
        """Go's log.Fatalf in the appliers: report, keep reading so Raft doesn't block."""
        transcript.log(f"apply error: {err_msg}")
        self.applyErr[i] = err_msg
        self._record(AssertionError(f"apply error: {err_msg}"))

    # -- threads ----------------------------------------------------------

    def go(self, name: str, fn: Callable[..., Any], *args: Any) -> TesterThread:
        """Go's `go fn(args...)`: a thread named tester-<name>, joined by cleanup at the latest."""
        th = TesterThread(self, name, fn, args)
        self._threads.append(th)
        th.start()
        return th

    # -- peers ------------------------------------------------------------

    def crash1(self, i: int) -> None:
        """Shut down a Raft server but save its persistent state."""
        self.disconnect(i)
        self.net.DeleteServer(i)  # disable client connections to the server.

        with self.mu:
            # a fresh persister, in case old instance continues to update the
            # Persister, but copy old persister's content so that we always
            # pass Make() the last persisted state.
            saved = self.saved[i]
            if saved is not None:
                self.saved[i] = saved.Copy()
            rf = self.rafts[i]

        if rf is not None:
            self.runtime.crash(i, rf)
            for o in self.observers:
                o.on_crash(rf)
            with self.mu:
                self.rafts[i] = None
                applyCh, self._applyChs[i] = self._applyChs[i], None
            if applyCh is not None:
                applyCh.close()

        with self.mu:
            saved = self.saved[i]
            if saved is not None:
                raftlog = saved.ReadRaftState()
                snapshot = saved.ReadSnapshot()
                fresh = self.runtime.MakePersister()
                fresh.Save(raftlog, snapshot)
                self.saved[i] = fresh

    def checkLogs(self, i: int, m: Any) -> tuple[str, bool]:
        """Record m in server i's log; complain if another server applied a different value."""
        err_msg = ""
        v = m.Command
        for j in range(len(self.logs)):
            if m.CommandIndex in self.logs[j]:
                old = self.logs[j][m.CommandIndex]
                if old != v:
                    transcript.log(f"{i}: log {self.logs[i]}; server {self.logs[j]}")
                    # some server has already committed a different value for this entry!
                    err_msg = (
                        f"commit index={m.CommandIndex} server={i} {m.Command} != server={j} {old}"
                    )
        prevok = (m.CommandIndex - 1) in self.logs[i]
        self.logs[i][m.CommandIndex] = v
        for o in self.observers:
            o.on_apply(i, m.CommandIndex, v)
        if m.CommandIndex > self.maxIndex:
            self.maxIndex = m.CommandIndex
        return err_msg, prevok

    def applier(self, i: int, applyCh: ApplyChannel) -> None:
        """Read applyCh and check that messages match the log contents."""
        last = 0  # the index this instance of server i applied last
        for m in applyCh:
            if not m.CommandValid:
                continue  # ignore other types of ApplyMsg
            with self.mu:
                err_msg, prevok = self.checkLogs(i, m)
            if m.CommandIndex > 1 and not prevok:
                err_msg = f"server {i} apply out of order {m.CommandIndex}"
            if m.CommandIndex != last + 1 and not err_msg:
                # Figure 3: a peer applies every index once, in order (as applierSnap checks).
                err_msg = (
                    f"server {i} apply out of order, expected index {last + 1}, "
                    f"got {m.CommandIndex}"
                )
            last = m.CommandIndex
            if err_msg:
                self._apply_error(i, err_msg)

    def ingestSnap(self, i: int, snapshot: bytes | None, index: int) -> str:
        """Load a snapshot made by applierSnap; returns "" or an error string."""
        if snapshot is None:
            transcript.log("nil snapshot")
            return "nil snapshot"
        d = labgob.NewDecoder(io.BytesIO(snapshot))
        try:
            lastIncludedIndex = d.Decode()
            xlog = d.Decode()
        except (labgob.LabgobError, EOFError):
            lastIncludedIndex = xlog = None
        if not isinstance(lastIncludedIndex, int) or not isinstance(xlog, list):
            transcript.log("snapshot decode error")
            return "snapshot Decode() error"
        if index != -1 and index != lastIncludedIndex:
            return f"server {i} snapshot doesn't match m.SnapshotIndex"
        self.logs[i] = {j: x for j, x in enumerate(xlog)}
        self.lastApplied[i] = lastIncludedIndex
        return ""

    def applierSnap(self, i: int, applyCh: ApplyChannel) -> None:
        """Like applier, and snapshot the state every SnapShotInterval entries (3D)."""
        with self.mu:
            rf = self.rafts[i]
        if rf is None:
            return
        for m in applyCh:
            err_msg = ""
            if m.SnapshotValid:
                with self.mu:
                    err_msg = self.ingestSnap(i, m.Snapshot, m.SnapshotIndex)
            elif m.CommandValid:
                if m.CommandIndex != self.lastApplied[i] + 1:
                    err_msg = (
                        f"server {i} apply out of order, expected index "
                        f"{self.lastApplied[i] + 1}, got {m.CommandIndex}"
                    )
                if not err_msg:
                    with self.mu:
                        err_msg, prevok = self.checkLogs(i, m)
                    if m.CommandIndex > 1 and not prevok:
                        err_msg = f"server {i} apply out of order {m.CommandIndex}"
                with self.mu:
                    self.lastApplied[i] = m.CommandIndex
                if (m.CommandIndex + 1) % SnapShotInterval == 0:
                    w = io.BytesIO()
                    e = labgob.NewEncoder(w)
                    e.Encode(m.CommandIndex)
                    with self.mu:
                        xlog = [self.logs[i].get(j) for j in range(m.CommandIndex + 1)]
                    e.Encode(xlog)
                    rf.Snapshot(m.CommandIndex, w.getvalue())
            if err_msg:
                self._apply_error(i, err_msg)

    def start1(self, i: int, applier: Applier) -> None:
        """Start or re-start a Raft, killing any running instance first.

        Fresh outgoing end names isolate the old instance (it cannot really be
        killed), and a copy of its persister keeps it from overwriting the new
        instance's state.
        """
        self.crash1(i)

        endnames = [randstring(20, self.rand) for _ in range(self.n)]
        self.endnames[i] = endnames
        ends = []
        for j in range(self.n):
            ends.append(self.net.MakeEnd(endnames[j]))
            self.net.Connect(endnames[j], j)

        with self.mu:
            self.lastApplied[i] = 0
            saved = self.saved[i]
            if saved is not None:
                saved = saved.Copy()
                self.saved[i] = saved
                snapshot = saved.ReadSnapshot()
                if snapshot:
                    # mimic KV server and process snapshot now.
                    # ideally Raft should send it up on applyCh...
                    err = self.ingestSnap(i, snapshot, -1)
                    if err:
                        self.fatalf("%s", err)
            else:
                saved = self.runtime.MakePersister()
                self.saved[i] = saved

        applyCh = ApplyChannel(i, self._record, self.runtime.before_put)
        rf, srv = self.runtime.make_peer(i, ends, endnames, saved, applyCh)
        peer = Peer(rf, i, self.observers, self.calls, applyCh)
        for o in self.observers:
            o.on_make(peer)

        with self.mu:
            self.rafts[i] = peer
            self._applyChs[i] = applyCh

        self.go(f"applier-{i}", applier, i, applyCh)
        self.net.AddServer(i, srv)

    def checkTimeout(self) -> None:
        """Enforce a two minute real-time limit on each test."""
        __tracebackhide__ = True  # a failure shows the test's line, not the tester's
        if not self.Failed() and time.monotonic() - self.start > _TIME_LIMIT:
            self.fatalf("test took longer than 120 seconds")

    def checkFinished(self) -> bool:
        return self._finished.is_set()

    def cleanup(self) -> None:
        """Go's cleanup, and also end the tester's threads; raise what went wrong.

        Called while an exception is propagating (try/finally), it only tears
        down and logs further problems, leaving that exception to report.
        """
        __tracebackhide__ = True  # a failure shows the test's line, not the tester's
        self._cleanup(sys.exc_info()[1])

    def _cleanup(self, in_flight: BaseException | None) -> None:
        __tracebackhide__ = True  # a failure shows the test's line, not the tester's
        problems = self._teardown()
        if is_skip(in_flight) and not (self.Failed() or problems):
            return  # a test that cannot run on this Raft (rpckinds.skip): no failure
        failed = in_flight is not None or self.Failed() or bool(problems)
        for o in self.observers:
            o.on_cleanup(failed, [in_flight, *self._failures, *problems])
        if failed and not transcript.collecting():
            transcript.log(transcript.seed_hint([self.seed]))
        if in_flight is not None:
            related = (in_flight, in_flight.__cause__)
            shown = str(in_flight)
            for p in self._failures + problems:
                if p not in related and _describe(p) not in shown:
                    transcript.log(f"also: {_describe(p).splitlines()[0]}")
            return
        self._check_failed()
        if problems:
            raise problems[0]
        self.checkTimeout()

    def _teardown(self) -> list[BaseException]:
        """Stop peers, network and tester threads; return Kill errors and stuck threads."""
        if self._torn_down:
            return []
        self._torn_down = True
        self._finished.set()
        problems: list[BaseException] = []
        for rf in self.rafts:
            if rf is not None:
                try:
                    rf.Kill()
                except Exception as e:
                    problems.append(e)
        self.net.Cleanup()
        with self.mu:
            applyChs = [ch for ch in self._applyChs if ch is not None]
            self._applyChs = [None] * self.n
        for ch in applyChs:
            ch.close()

        # A peer stuck holding its lock (already reported) may hold a tester thread too.
        grace = _STUCK_GRACE if self.calls.failed else _THREAD_EXIT_GRACE
        deadline = time.monotonic() + grace
        stuck = []
        for th in self._threads:
            th.join(max(0.0, deadline - time.monotonic()))
            if th.is_alive():
                stuck.append(th.name)
        if stuck:
            problems.append(AssertionError(f"tester threads did not exit: {', '.join(stuck)}"))
        self.calls.close()
        problems += self.runtime.close(_STUCK_GRACE if self.calls.failed else _QUIET_GRACE)
        return problems

    def _live_peers(self) -> list[Peer]:
        """The running peers (cfg.rafts without the crashed ones)."""
        with self.mu:
            return [rf for rf in self.rafts if rf is not None]

    # -- network ----------------------------------------------------------

    def connect(self, i: int) -> None:
        """Attach server i to the net."""
        self.connected[i] = True
        for o in self.observers:
            o.on_connect(i, True)
        mine = self.endnames[i]
        assert mine is not None, f"server {i} was never started"

        # outgoing ClientEnds
        for j in range(self.n):
            if self.connected[j]:
                self.net.Enable(mine[j], True)

        # incoming ClientEnds
        for j in range(self.n):
            theirs = self.endnames[j]
            if self.connected[j] and theirs is not None:
                self.net.Enable(theirs[i], True)

    def disconnect(self, i: int) -> None:
        """Detach server i from the net."""
        self.connected[i] = False
        for o in self.observers:
            o.on_connect(i, False)

        # outgoing ClientEnds
        mine = self.endnames[i]
        if mine is not None:
            for j in range(self.n):
                self.net.Enable(mine[j], False)

        # incoming ClientEnds
        for j in range(self.n):
            theirs = self.endnames[j]
            if theirs is not None:
                self.net.Enable(theirs[i], False)

    def link(self, i: int, j: int, up: bool) -> None:
        """Beyond Go: open or cut the link between two connected servers only."""
        for a, b in ((i, j), (j, i)):
            ends = self.endnames[a]
            assert ends is not None, f"server {a} was never started"
            self.net.Enable(ends[b], up)
        for o in self.observers:
            o.on_note(f"link {i}-{j} {'up' if up else 'cut'}")

    def rpcCount(self, server: int) -> int:
        return int(self.net.GetCount(server))

    def rpcTotal(self) -> int:
        return int(self.net.GetTotalCount())

    def setunreliable(self, unrel: bool) -> None:
        self.net.Reliable(not unrel)
        for o in self.observers:
            o.on_note("unreliable network" if unrel else "reliable network")

    def bytesTotal(self) -> int:
        return int(self.net.GetTotalBytes())

    def setlongreordering(self, longrel: bool) -> None:
        self.net.LongReordering(longrel)
        for o in self.observers:
            o.on_note(f"long reordering {'on' if longrel else 'off'}")

    # -- beyond Go: crash points and old requests (crashpoints.py, keep.py) ----

    def needs_rpc(self, kind: Rpc) -> list[str]:
        """The svc_meths of the Raft's kind handlers; if the tester cannot tell which
        they are, the test is skipped, saying how to make it run (rpckinds.py)."""
        kinds = self.rpc_kinds
        methods = kinds.methods(kind) if kinds is not None else []
        if not methods:
            why = kinds.why_unknown(kind) if kinds is not None else "no Raft was made"
            skip(why)
        return methods

    def sent_through(self, endname: str, kind: Rpc) -> int:
        """The kind RPCs sent through one end so far (0 for a kind not recognised)."""
        kinds = self.rpc_kinds
        methods = kinds.methods(kind) if kinds is not None else []
        return sum(self.net.GetEndCount(endname, m) for m in methods)

    def crash_point(
        self, kind: Rpc, servers: list[int], command: Any = None, what: str = ""
    ) -> CrashPoint:
        """Arm a crash point: the first of servers to send a promising kind reply
        (one that holds command in its args, if given) crashes right after it."""
        point = CrashPoint(self, self.needs_rpc(kind), servers, command, what)
        self.net.set_reply_hook(point.hook)
        return point

    def freeze_and_cut(self, i: int) -> Persister | None:
        """On the handler's thread, as a reply leaves: a copy of server i's persister
        as it is now, and i disconnected, so nothing it does later is seen."""
        with self.mu:
            saved = self.saved[i]
            frozen = saved.Copy() if saved is not None else None
        self.disconnect(i)
        return frozen

    def crash_frozen(self, i: int, frozen: Persister | None) -> None:
        """crash1, then give the next start1 the persister frozen by freeze_and_cut."""
        self.crash1(i)
        if frozen is not None:
            with self.mu:
                self.saved[i] = frozen

    def keep_requests(self, kind: Rpc, command: Any = None) -> KeptRequests:
        """Keep the latest kind request each server handles, of those that hold
        command if given (harness/keep.py)."""
        kept = KeptRequests(self.needs_rpc(kind), command)
        self.net.set_reply_hook(kept.hook)
        return kept

    def deliver_old(self, i: int, old: KeptRequest) -> None:
        """Deliver to server i, now, a request kept by keep_requests: a stale message."""
        self.note(f"an old {old.svc_meth} request delivered to server {i}")
        if not self.net.deliver_copy(i, old.svc_meth, old.args):
            self.fatalf("deliver_old: server %d is not running", i)

    def note(self, text: str) -> None:
        """A line in the test's log (shown if it fails) and a mark on its timeline."""
        transcript.log(text)
        for o in self.observers:
            o.on_note(text)

    # -- checks -----------------------------------------------------------

    def checkOneLeader(self) -> int:
        """One connected server thinks it leads, and no other in its term does.

        Tries a few times in case re-elections are needed.
        """
        __tracebackhide__ = True  # a failure shows the test's line, not the tester's
        for _ in range(10):
            ms = 450 + self.rand.Int63() % 100
            time.sleep(ms / 1000)
            self._check_failed()

            leaders: dict[int, list[int]] = {}
            for i in range(self.n):
                rf = self.rafts[i]
                if self.connected[i] and rf is not None:
                    term, leader = rf.GetState()
                    if leader:
                        leaders.setdefault(term, []).append(i)

            lastTermWithLeader = -1
            for term, ls in leaders.items():
                if len(ls) > 1:
                    self.fatalf("term %d has %d (>1) leaders", term, len(ls))
                if term > lastTermWithLeader:
                    lastTermWithLeader = term

            if leaders:
                first = leaders[lastTermWithLeader][0]
                for o in self.observers:
                    o.on_check(f"checkOneLeader: S{first} leads T{lastTermWithLeader}")
                return first
        self.fatalf("expected one leader, got none")

    def checkTerms(self) -> int:
        """Check that everyone agrees on the term."""
        __tracebackhide__ = True  # a failure shows the test's line, not the tester's
        term = -1
        for i in range(self.n):
            rf = self.rafts[i]
            if self.connected[i] and rf is not None:
                xterm, _ = rf.GetState()
                if term == -1:
                    term = xterm
                elif term != xterm:
                    self.fatalf("servers disagree on term")
        for o in self.observers:
            o.on_check(f"checkTerms: all at T{term}")
        return term

    def checkNoLeader(self) -> None:
        """Check that none of the connected servers thinks it is the leader."""
        __tracebackhide__ = True  # a failure shows the test's line, not the tester's
        for i in range(self.n):
            rf = self.rafts[i]
            if self.connected[i] and rf is not None:
                _, is_leader = rf.GetState()
                if is_leader:
                    self.fatalf(
                        "expected no leader among connected servers, but %s claims to be leader", i
                    )
        for o in self.observers:
            o.on_check("checkNoLeader: no connected leader")

    def nCommitted(self, index: int) -> tuple[int, Any]:
        """How many servers think a log entry is committed, and its command."""
        __tracebackhide__ = True  # a failure shows the test's line, not the tester's
        count = 0
        cmd: Any = None
        for i in range(len(self.rafts)):
            if self.applyErr[i]:
                self.fatalf("apply error: %s", self.applyErr[i])
            self._check_failed()

            with self.mu:
                ok = index in self.logs[i]
                cmd1 = self.logs[i].get(index)

            if ok:
                if count > 0 and cmd != cmd1:
                    self.fatalf(
                        "committed values do not match: index %s, %s, %s", index, cmd, cmd1
                    )
                count += 1
                cmd = cmd1
        return count, cmd

    def wait(self, index: int, n: int, startTerm: int) -> Any:
        """Wait for at least n servers to commit, but not forever.

        Returns -1 if some peer moved past startTerm (then nobody can promise
        the entry will commit).
        """
        to = 0.010
        for _ in range(30):
            nd, _ = self.nCommitted(index)
            if nd >= n:
                break
            time.sleep(to)
            if to < 1.0:
                to *= 2
            if startTerm > -1:
                for r in self.rafts:
                    if r is not None:
                        t, _ = r.GetState()
                        if t > startTerm:
                            # someone has moved on
                            # can no longer guarantee that we'll "win"
                            return -1
        nd, cmd = self.nCommitted(index)
        if nd < n:
            self.fatalf("only %d decided for index %d; wanted %d", nd, index, n)
        return cmd

    def one(self, cmd: Any, expectedServers: int, retry: bool) -> int:
        """Do a complete agreement on cmd and return its index.

        It might choose the wrong leader initially, and have to re-submit
        after giving up; it gives up entirely after about 10 seconds.
        Indirectly checks that the servers agree on the same value, since
        nCommitted() checks this, as do the appliers. If retry is true, may
        submit the command multiple times, in case a leader fails just after
        Start(); if false, calls Start() only once, to keep the early 3B tests
        simple.
        """
        __tracebackhide__ = True  # a failure shows the test's line, not the tester's
        t0 = time.monotonic()
        starts = 0
        while time.monotonic() - t0 < 10 and not self.checkFinished():
            self._check_failed()
            # try all the servers, maybe one is the leader.
            index = -1
            for _ in range(self.n):
                starts = (starts + 1) % self.n
                rf = None
                with self.mu:
                    if self.connected[starts]:
                        rf = self.rafts[starts]
                if rf is not None:
                    index1, _, ok = rf.Start(cmd)
                    if ok:
                        index = index1
                        break

            if index != -1:
                # somebody claimed to be the leader and to have
                # submitted our command; wait a while for agreement.
                t1 = time.monotonic()
                while time.monotonic() - t1 < 2:
                    nd, cmd1 = self.nCommitted(index)
                    if nd > 0 and nd >= expectedServers:
                        # committed
                        if cmd1 == cmd:
                            # and it was the command we submitted.
                            for o in self.observers:
                                o.on_agree(cmd, index, nd)
                            return index
                    time.sleep(0.020)
                if not retry:
                    self.fatalf("one(%s) failed to reach agreement", cmd)
            else:
                time.sleep(0.050)
        if not self.checkFinished():
            self.fatalf("one(%s) failed to reach agreement", cmd)
        return -1

    # -- reporting ----------------------------------------------------------

    def begin(self, description: str) -> None:
        """Start a test: print its description, e.g. "Test (3B): RPC counts aren't too high"."""
        transcript.emit(f"{description} ...")
        for o in self.observers:
            o.on_begin(description)
        self.t0 = time.monotonic()
        self.rpcs0 = self.rpcTotal()
        self.bytes0 = self.bytesTotal()
        self.cmds0 = 0
        self.maxIndex0 = self.maxIndex

    def end(self) -> None:
        """End a test that got here without failing: print Passed and its numbers."""
        __tracebackhide__ = True  # a failure shows the test's line, not the tester's
        self.checkTimeout()
        self._check_failed()
        with self.mu:
            t = time.monotonic() - self.t0  # real time
            npeers = self.n  # number of Raft peers
            nrpc = self.rpcTotal() - self.rpcs0  # number of RPC sends
            nbytes = self.bytesTotal() - self.bytes0  # number of bytes
            ncmds = self.maxIndex - self.maxIndex0  # number of Raft agreements reported
        transcript.emit(f"  ... Passed --  {t:4.1f}  {npeers} {nrpc:4d} {nbytes:7d} {ncmds:4d}")
        for o in self.observers:
            o.on_note("Passed")

    def warnf(self, format: str, *args: Any) -> None:
        """Go's fmt.Printf of a warning from a test."""
        transcript.emit(format % args if args else format)

    def LogSize(self) -> int:
        """Maximum log size across all servers."""
        logsize = 0
        for saved in self.saved:
            if saved is not None:
                logsize = max(logsize, saved.RaftStateSize())
        return logsize
