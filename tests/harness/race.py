"""The lock discipline checker behind `make test-race` (pytest --race, RAFTLAB_RACE=1).

Go students run `go test -race`. Python has no race detector, and the GIL
hides most locking mistakes, so in race mode the tester checks the rule the
lab's Raft lives by instead: every field of Raft is guarded by rf.mu, except
the few the class declares safe without it in ``Raft.UNGUARDED`` (a frozenset
of field names; DEFAULT_UNGUARDED for a Raft that declares none) and the
threading.Conditions built on rf.mu (using one needs rf.mu anyway). It reports:

  * DATA RACE: a guarded field read or written by a thread that does not hold
    rf.mu while another thread's access to it (a write, for a read) is not
    ordered before it (below), with both stacks, as Go's race reports do;
  * LOCK HELD ACROSS RPC: a labrpc Call made while holding rf.mu (the call is
    not made: it returns False, so the test fails with the report instead of
    deadlocking);
  * APPLYCH SEND UNDER LOCK: a put on applyCh while holding rf.mu;
  * LOCK HELD TOO LONG: rf.mu held for more than HOLD_LIMIT seconds (the
    holder's stack as it is now, and where it took the lock);
  * LOCK ACQUIRED TWICE: a thread taking rf.mu, a threading.Lock, again while
    it holds it (a certain deadlock; RaceError is raised in that thread).

Each report is printed to stderr at once and fails the test, like cfg.fatalf
from a tester thread. It starts with the one-line summary and, indented, how to
fix it (the lines the tester's "--- FAIL" block shows); the stacks follow,
without the standard library's, pytest's or this module's frames.

How: before the first Make(), RaceChecker.instrument() patches the class
Make() constructs (the module's ``Raft``). Its __init__ is wrapped so that the
lock assigned to ``self.mu`` is replaced by a CheckedLock (so Conditions built
on it in __init__ use it too) and, once __init__ returns, every field it set
except the unguarded ones becomes a data descriptor on the class that checks
each access. close() undoes every patch. With race mode off nothing is
patched, so it costs nothing.

When an access without rf.mu is a race: the checker is a lock rule plus the one
happens-before edge of Go's race detector a Raft leans on, thread start. As
`go f()` does in Go, Thread.start() orders what the starting thread did before
it before all the started thread does, and all the threads that one starts.
Each thread has a vector clock of those edges alone (_Clock): an epoch of its
own, bumped at each start() it makes, and its starters' epochs as they were
when they started its line. An access records its thread's clock id and epoch,
and is ordered before a thread whose clock has seen that epoch. An access
without rf.mu races with an access to the field by another thread (a write,
for a read) that is not ordered before it, whether that one held rf.mu or not
(two that both held it are ordered by the lock); of a field, the checker keeps
the latest access and the latest by another thread, for writes and for all.
Setting the peer up is ordered before every thread (epoch 0): what the thread
that constructs it does until that thread starts a thread or another thread
touches the peer. So a field set before Make() starts the peer's threads and
only read after needs no rf.mu, as in Go, and one written after that start is
ordered only before threads started later. Other synchronization (an Event, a
Queue, join()) is not followed: a field shared through it still needs rf.mu or
a place in UNGUARDED. labrpc runs handlers on reused threads: two handlers one
thread ran are ordered as that thread's own accesses are.
"""

from __future__ import annotations

import functools
import itertools
import linecache
import os
import sys
import sysconfig
import threading
import time
import traceback
from collections.abc import Callable, Hashable
from types import CodeType, FrameType
from typing import Any, NamedTuple

__all__ = [
    "DEFAULT_UNGUARDED",
    "HOLD_LIMIT",
    "CheckedLock",
    "RaceChecker",
    "RaceError",
    "enabled",
    "force",
]

# Fields of a Raft that declares no UNGUARDED of its own that are safe without
# rf.mu: fixed at creation (me, peers, persister, the apply channel), the lock
# itself, and dead, which Kill() sets and killed() reads.
DEFAULT_UNGUARDED = frozenset({"me", "peers", "persister", "applyCh", "apply_ch", "dead", "mu"})

HOLD_LIMIT = 5.0  # seconds rf.mu may be held before the watchdog reports it
WATCH_INTERVAL = 0.25  # how often the watchdog looks
MAX_REPORTS = 20  # per checker; later ones are dropped (the test has failed anyway)
_RECORD_DEPTH = 10  # frames kept of every access, for "Previous ... access" sections
_REPORT_DEPTH = 16  # frames shown of the access being reported
_STATE = "_raftlab_race"  # the per-peer state's key in a Raft's __dict__
_MISSING = object()

_forced = False


def force(on: bool = True) -> None:
    """Turn race mode on for every Config from now on (pytest --race does this)."""
    global _forced
    _forced = on


def enabled() -> bool:
    """Is race mode on: pytest --race, or RAFTLAB_RACE set to anything but "" or "0"?"""
    return _forced or os.environ.get("RAFTLAB_RACE", "") not in ("", "0")


class RaceError(RuntimeError):
    """Raised in a thread about to deadlock on rf.mu for certain."""


# -- stacks -------------------------------------------------------------------------

Stack = tuple[tuple[CodeType, int], ...]


def _capture(frame: FrameType | None, depth: int = _RECORD_DEPTH) -> Stack:
    """The innermost `depth` frames from frame outwards, cheaply (code and line only)."""
    out = []
    while frame is not None and depth:
        out.append((frame.f_code, frame.f_lineno))
        frame = frame.f_back
        depth -= 1
    return tuple(out)


# Folders whose frames say nothing about the code under test: the standard library
# (threading's bootstrap), installed packages (pytest's and pluggy's dozen frames
# under every test), and a sealed host's own (harness/peerhost, where in-process the
# tester's calling frames would be). _hidden() also hides this module (the wrapped
# __init__).
_HIDDEN_DIRS = (
    *(
        os.path.realpath(sysconfig.get_paths()[key]) + os.sep
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
    ),
    os.path.join(os.path.dirname(os.path.realpath(__file__)), "peerhost") + os.sep,
)


@functools.lru_cache(maxsize=512)
def _hidden(filename: str) -> bool:
    path = os.path.realpath(filename)
    return path == os.path.realpath(__file__) or path.startswith(_HIDDEN_DIRS)


def _format(stack: Stack) -> str:
    """Python's traceback layout, innermost frame last: the innermost frame, and the
    frames outside the standard library, installed packages and this module."""
    frames = [f for i, f in enumerate(stack) if i == 0 or not _hidden(f[0].co_filename)]
    frames.reverse()
    summaries = [
        traceback.FrameSummary(
            _shown_path(code.co_filename), lineno, code.co_name,
            line=linecache.getline(code.co_filename, lineno),
        )
        for code, lineno in frames
    ]  # fmt: skip
    return "".join(traceback.format_list(summaries))


def _shown_path(filename: str) -> str:
    """filename relative to the current folder (raft/raft.py in a handout), if inside it."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith(os.pardir) else relative


def _where(stack: Stack) -> str:
    if not stack:
        return "?"
    code, lineno = stack[0]
    return f"in {code.co_name}, {os.path.basename(code.co_filename)}:{lineno}"


def _thread_name(ident: int | None) -> str:
    for t in threading.enumerate():
        if t.ident == ident:
            return t.name
    return f"thread {ident} (ended)"


# The CheckedLocks each thread holds, by thread ident.
_held_by: dict[int, list[CheckedLock]] = {}


def _holding() -> list[CheckedLock]:
    """The CheckedLocks the calling thread holds."""
    me = threading.get_ident()
    return [lock for lock in _held_by.get(me, ()) if lock._owner == me]


# Go code may take rf.mu in one goroutine and release it in one that goroutine starts
# (the race detector orders the two by the `go` statement), and so may its port. A
# thread started while its starter holds rf.mu is that hold's heir: it may be the one
# to release it. Its accesses while the hold lasts are judged when the hold ends: if
# the heir releases it, the lock was handed to it and they were guarded; if the
# starter (or anyone else) releases it, they were races, and are reported then.
_HEIR = "_raftlab_heir_of"  # a Thread's attribute: [(lock, episode)] it was started under


# -- happens-before at Thread.start ---------------------------------------------------

_CLOCK = "_raftlab_clock"  # a Thread's attribute: its _Clock
_clock_ids = itertools.count(1)


class _Clock:
    """A thread's vector clock over Thread.start edges alone (see the module docstring).
    Only its own thread changes it (start() runs in the starting thread)."""

    __slots__ = ("id", "seen")

    def __init__(self, inherited: dict[int, int]) -> None:
        self.id = next(_clock_ids)
        # Clock id -> the latest epoch of that thread ordered before this one's now.
        self.seen = dict(inherited)
        self.seen[self.id] = 1

    @property
    def epoch(self) -> int:
        return self.seen[self.id]

    def fork(self) -> _Clock:
        """The clock of a thread this one starts now; later accesses here are not
        ordered before that thread's."""
        child = _Clock(self.seen)
        self.seen[self.id] += 1
        return child

    def has_seen(self, clock: int, epoch: int) -> bool:
        """Whether an access at epoch of thread clock is ordered before this thread's now."""
        return self.seen.get(clock, 0) >= epoch


def _clock_of(thread: threading.Thread) -> _Clock:
    """The calling thread's clock; a thread started while no checker was on gets a
    clock of its own then, with no starters: nothing is ordered before it."""
    clock: _Clock | None = thread.__dict__.get(_CLOCK)
    if clock is None:
        clock = thread.__dict__[_CLOCK] = _Clock({})
    return clock


# A sealed host runs each lab call of a tester thread (Make, Start, GetState, ...) on a
# worker of its own; in-process it runs on that tester thread. The clocks the workers
# borrow for those calls, by the tester thread they stand for.
_borrowed: dict[Hashable, _Clock] = {}


class acting_for:
    """Within it, the calling thread is ordered as the thread key names, of another
    process: its accesses, and the threads it starts, are that thread's (its clock).
    That thread makes one call at a time, so one thread at a time borrows its clock."""

    __slots__ = ("_key", "_thread", "_own")

    def __init__(self, key: Hashable) -> None:
        self._key = key

    def __enter__(self) -> None:
        thread = self._thread = threading.current_thread()
        self._own = thread.__dict__.get(_CLOCK)
        clock = _borrowed.get(self._key)
        if clock is None:
            clock = _borrowed[self._key] = _Clock({})
        thread.__dict__[_CLOCK] = clock

    def __exit__(self, *exc: object) -> None:
        if self._own is None:
            self._thread.__dict__.pop(_CLOCK, None)
        else:
            self._thread.__dict__[_CLOCK] = self._own


# -- the lock -----------------------------------------------------------------------


class CheckedLock:
    """A threading.Lock (or RLock) that knows its owner; usable as a Condition's lock."""

    def __init__(self, checker: RaceChecker, peer: _PeerState | None, reentrant: bool) -> None:
        self._raw = threading.Lock()
        self._checker = checker
        self._peer = peer
        self._reentrant = reentrant
        self._owner: int | None = None
        self._count = 0
        self._since = 0.0  # time.monotonic() when the owner took it
        self._taken: Stack = ()  # where the owner took it
        self._episode = 0  # counts acquisitions, so a long hold is reported once
        self._heirs: list[tuple[threading.Thread, int]] = []  # threads started under a hold
        # An heir's accesses that are races unless it releases the hold: (thread, report).
        self._deferred: list[tuple[int, Callable[[], None]]] = []

    def _held_in(self, episode: int) -> bool:
        """Whether the hold that began as episode still goes on."""
        return self._owner is not None and self._episode == episode

    def heir_here(self) -> bool:
        """Whether the calling thread is an heir of the current hold (see _HEIR)."""
        heir: list[tuple[CheckedLock, int]] = getattr(threading.current_thread(), _HEIR, [])
        return any(lock is self and self._held_in(e) for lock, e in heir)

    def defer(self, report: Callable[[], None]) -> None:
        """An heir's access: report it when the hold ends, unless the heir ends it."""
        self._deferred.append((threading.get_ident(), report))

    def _heir_alive(self) -> bool:
        """Whether a live thread started under the current hold may release it."""
        self._heirs = [(t, e) for t, e in self._heirs if t.is_alive() and self._held_in(e)]
        return bool(self._heirs)

    def _took(self, count: int, frame: FrameType | None) -> None:
        while frame is not None and frame.f_code.co_filename == threading.__file__:
            frame = frame.f_back  # `with cond:` takes the lock in Condition.__enter__
        me = threading.get_ident()
        self._owner = me
        self._count = count
        self._since = time.monotonic()
        self._taken = _capture(frame)
        self._episode += 1
        held = _held_by.get(me)
        if held is None:
            held = _held_by[me] = []
        held.append(self)

    def _gives_up(self) -> int:
        me = threading.get_ident()
        owner, count = self._owner, self._count
        handed_to = me if me != owner and self.heir_here() else None
        deferred, self._deferred = self._deferred, []
        self._heirs = []
        self._owner, self._count = None, 0
        held = _held_by.get(owner) if owner is not None else None
        if held is not None and self in held:
            held.remove(self)
        self._raw.release()
        for thread, report in deferred:
            if thread != handed_to:
                report()
        return count

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._acquire(blocking, timeout, sys._getframe(1))

    def _acquire(self, blocking: bool, timeout: float, frame: FrameType) -> bool:
        if self._owner == threading.get_ident():
            if self._reentrant:
                self._count += 1
                return True
            # Taken again by its holder: a deadlock, unless an heir is to release it.
            while blocking and self._heir_alive():
                if self._raw.acquire(timeout=0.05):
                    self._took(1, frame)
                    return True
            if blocking:
                self._checker._twice(self, _capture(frame, _REPORT_DEPTH))
                raise RaceError(
                    "rf.mu acquired again by the thread that holds it: deadlock (see the report)"
                )
            return False
        if not self._raw.acquire(blocking, timeout):
            return False
        self._took(1, frame)
        return True

    def release(self) -> None:
        if self._owner is None:
            raise RuntimeError("release unlocked lock")
        if self._owner != threading.get_ident() and self._reentrant:
            raise RuntimeError("cannot release un-acquired lock")
        if self._count > 1:
            self._count -= 1
            return
        self._gives_up()

    def __enter__(self) -> bool:
        if self._owner == threading.get_ident():
            return self._acquire(True, -1, sys._getframe(1))  # reentrant, or a report
        self._raw.acquire()
        self._took(1, sys._getframe(1))
        return True

    def __exit__(self, *exc: object) -> None:
        self.release()

    def locked(self) -> bool:
        return self._owner is not None

    # What threading.Condition uses when its lock has them.
    def _is_owned(self) -> bool:
        return self._owner == threading.get_ident() or self.heir_here()

    def _release_save(self) -> int:
        return self._gives_up()

    def _acquire_restore(self, count: int) -> None:
        self._raw.acquire()
        self._took(count, sys._getframe(2))  # the frame that called Condition.wait

    def __repr__(self) -> str:
        state = f"held by {_thread_name(self._owner)}" if self._owner is not None else "unlocked"
        return f"<CheckedLock of rf.mu, {state}>"


# -- the fields ---------------------------------------------------------------------


class _Access(NamedTuple):
    """One access to a field, as a report shows it and as the race rule orders it."""

    thread: threading.Thread
    name: str  # the thread's name then (a sealed host's worker takes its caller's, acting_for)
    write: bool
    how: str  # _HOLDING or _NOT_HOLDING
    stack: Stack
    clock: int  # the id of its thread's _Clock
    epoch: int  # that clock's epoch then; 0 while the peer was being set up


_HOLDING, _NOT_HOLDING = "holding rf.mu", "not holding rf.mu"


class _PeerState:
    """What the checker keeps about one Raft instance."""

    def __init__(self, checker: RaceChecker, obj: Any) -> None:
        self.checker = checker
        self.obj_dict: dict[str, Any] = obj.__dict__
        self.creator = threading.get_ident()
        # Set up no longer: the creator started a thread, or another thread touched the peer.
        self.published = False
        self.lock: CheckedLock | None = None
        # Each field's latest access, and its latest by a thread other than that one's;
        # the same for writes alone (a read races only with a write, as in Go).
        self.last: dict[str, _Access] = {}
        self.other: dict[str, _Access] = {}
        self.last_write: dict[str, _Access] = {}
        self.other_write: dict[str, _Access] = {}
        checker._set_up_by_its_creator(self)

    def peer(self) -> str:
        me = self.obj_dict.get("me")
        return f"Raft peer {me}" if isinstance(me, int) else "a Raft peer"

    def access(self, name: str, write: bool, frame: FrameType) -> None:
        thread = threading.current_thread()
        me = thread.ident
        if not self.published and me != self.creator:
            self.published = True
        lock = self.lock
        held = lock is None or lock._owner == me
        clock = _clock_of(thread)
        epoch = clock.epoch if self.published else 0
        how = _HOLDING if held else _NOT_HOLDING
        rec = _Access(thread, thread.name, write, how, _capture(frame), clock.id, epoch)
        racing = None if held or not self.published else self._unordered(name, write, clock)
        _remember(self.last, self.other, name, rec)
        if write:
            _remember(self.last_write, self.other_write, name, rec)
        if racing is not None:
            full = _capture(frame, _REPORT_DEPTH)
            if lock is not None and lock.heir_here():
                lock.defer(lambda: self.checker._data_race(self, name, rec, racing, full))
            else:
                self.checker._data_race(self, name, rec, racing, full)

    def _unordered(self, name: str, write: bool, clock: _Clock) -> _Access | None:
        """The latest kept access to name by another thread that conflicts with this
        one (a write, if this is a read) and is not ordered before it."""
        kept: tuple[dict[str, _Access], ...]
        if write:
            kept = (self.last, self.other, self.last_write, self.other_write)
        else:
            kept = (self.last_write, self.other_write)
        for records in kept:
            prev = records.get(name)
            if prev is not None and not clock.has_seen(prev.clock, prev.epoch):
                return prev
        return None


def _remember(last: dict[str, _Access], other: dict[str, _Access], name: str, rec: _Access) -> None:
    """Record rec as name's latest access, keeping the latest by another thread in other."""
    latest = last.get(name)
    if latest is not None and latest.clock != rec.clock:
        other[name] = latest
    last[name] = rec


def _stored(obj: Any, name: str, descriptor: Any, fallback: Any) -> Any:
    """What a race descriptor's __get__ returns: the instance's value, else the class's."""
    if obj is None:
        return descriptor if fallback is _MISSING else fallback
    try:
        return obj.__dict__[name]
    except KeyError:
        if fallback is not _MISSING:
            return fallback
        raise AttributeError(name) from None


class _Guarded:
    """A data descriptor standing for one guarded field; the value stays in __dict__."""

    __slots__ = ("name", "fallback")

    def __init__(self, name: str, fallback: Any) -> None:
        self.name = name
        self.fallback = fallback

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is not None:
            st = obj.__dict__.get(_STATE)
            if st is not None:
                st.access(self.name, False, sys._getframe(1))
        return _stored(obj, self.name, self, self.fallback)

    def __set__(self, obj: Any, value: Any) -> None:
        d = obj.__dict__
        st = d.get(_STATE)
        if st is not None:
            st.access(self.name, True, sys._getframe(1))
        d[self.name] = value

    def __delete__(self, obj: Any) -> None:
        d = obj.__dict__
        st = d.get(_STATE)
        if st is not None:
            st.access(self.name, True, sys._getframe(1))
        del d[self.name]


_LOCK_TYPES: tuple[type, ...] = (type(threading.Lock()),)
# threading's own RLock in Python, which a simulation (harness/sim) builds RLocks from
_RLOCK_TYPES: tuple[type, ...] = (type(threading.RLock()), threading._PyRLock)  # type: ignore[attr-defined]


def lock_types() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(lock types, reentrant lock types) that rf.mu may be: the simulation's too."""
    sim = sys.modules.get("harness.sim")
    if sim is None:
        return _LOCK_TYPES, _RLOCK_TYPES
    return (*_LOCK_TYPES, sim.SimLock), _RLOCK_TYPES


class _Mu:
    """The descriptor for rf.mu: swaps the lock __init__ assigns for a CheckedLock."""

    def __init__(self, checker: RaceChecker, fallback: Any) -> None:
        self.checker = checker
        self.fallback = fallback

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return _stored(obj, "mu", self, self.fallback)

    def __set__(self, obj: Any, value: Any) -> None:
        st = obj.__dict__.get(_STATE)
        locks, rlocks = lock_types()
        if st is not None and isinstance(value, locks + rlocks):
            value = CheckedLock(self.checker, st, reentrant=isinstance(value, rlocks))
            st.lock = value
            self.checker._locks.append(value)
        obj.__dict__["mu"] = value


# -- the checker --------------------------------------------------------------------


_active: RaceChecker | None = None
_active_mu = threading.Lock()


class RaceChecker:
    """One test's race checks: instrument(), check_put() in applyCh's put, then close()."""

    def __init__(self, fail: Callable[[str], None]) -> None:
        """fail(report) is called once per report (from whichever thread found it)."""
        self._fail = fail
        self._mu = threading.Lock()
        self._seen: set[Any] = set()
        self.reports: list[str] = []
        self._locks: list[CheckedLock] = []
        self._undo: list[Callable[[], None]] = []
        self._closed = False
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None
        # Peers whose creator has started no thread since; guarded by _mu (start() peeks
        # without it: a thread's own appends, the only ones that matter to it, show).
        self._being_set_up: list[_PeerState] = []

    # -- setting up -------------------------------------------------------------

    def _set_up_by_its_creator(self, st: _PeerState) -> None:
        with self._mu:
            self._being_set_up.append(st)

    def _setup_ends(self, creator: int | None) -> None:
        """A thread starts a thread: the peers it is setting up are set up."""
        with self._mu:
            for st in self._being_set_up:
                if st.creator == creator:
                    st.published = True
            self._being_set_up = [st for st in self._being_set_up if not st.published]

    def instrument(self, cls: type) -> None:
        """Check every Raft of class cls made from now on; also patch labrpc's Call."""
        global _active
        with _active_mu:
            stale, _active = _active, self
        if stale is not None:
            # A cluster that was never cleaned up; its patches would stack on these.
            print("race checker: closing that of a cluster never cleaned up", file=sys.stderr)
            stale.close()
        self._undo.append(self._deactivate)
        unguarded = frozenset(getattr(cls, "UNGUARDED", DEFAULT_UNGUARDED)) | {"mu", _STATE}
        installed: set[str] = set()

        def set_class_attr(name: str, value: Any) -> None:
            had = name in cls.__dict__
            old = cls.__dict__.get(name)

            def undo() -> None:
                if had:
                    setattr(cls, name, old)
                else:
                    delattr(cls, name)

            setattr(cls, name, value)
            self._undo.append(undo)

        original_init = cls.__init__  # type: ignore[misc]
        checker = self

        def __init__(obj: Any, *args: Any, **kwargs: Any) -> None:
            st = obj.__dict__[_STATE] = _PeerState(checker, obj)
            original_init(obj, *args, **kwargs)
            if st.lock is None:
                checker._no_lock(cls, obj.__dict__.get("mu"))
            for name, value in list(obj.__dict__.items()):
                if name in unguarded or name in installed:
                    continue
                installed.add(name)
                lock_of = getattr(value, "_lock", None)  # a Condition's lock (CPython's name)
                if isinstance(value, threading.Condition) and lock_of is st.lock is not None:
                    continue  # a Condition on rf.mu: waiting on it or notifying it needs rf.mu
                set_class_attr(name, _Guarded(name, getattr(cls, name, _MISSING)))

        __init__.__wrapped__ = original_init  # type: ignore[attr-defined]
        set_class_attr("mu", _Mu(self, getattr(cls, "mu", _MISSING)))
        set_class_attr("__init__", __init__)

        import labrpc.network

        end_cls = labrpc.network.ClientEnd
        original_call = end_cls.Call

        def Call(end: Any, svcMeth: str, args: Any, reply: Any) -> bool:
            held = _holding()
            if held:
                for lock in held:
                    lock._checker._call_under_lock(lock, svcMeth, sys._getframe(1))
                return False  # not made: report, don't deadlock
            return original_call(end, svcMeth, args, reply)

        end_cls.Call = Call  # type: ignore[method-assign,assignment]
        self._undo.append(lambda: setattr(end_cls, "Call", original_call))

        original_start = threading.Thread.start

        def start(thread: threading.Thread) -> None:
            starter = threading.current_thread()
            if self._being_set_up:
                self._setup_ends(starter.ident)
            if _CLOCK not in thread.__dict__:  # else started already: original_start raises
                thread.__dict__[_CLOCK] = _clock_of(starter).fork()
            held = _holding()
            if held:  # started under rf.mu: it may be the one to release it
                setattr(thread, _HEIR, [(lock, lock._episode) for lock in held])
                for lock in held:
                    lock._heirs.append((thread, lock._episode))
            original_start(thread)

        threading.Thread.start = start  # type: ignore[method-assign,assignment]
        self._undo.append(lambda: setattr(threading.Thread, "start", original_start))

        self._watchdog = threading.Thread(
            target=self._watch, name="tester-race-watchdog", daemon=True
        )
        self._watchdog.start()

    def _deactivate(self) -> None:
        global _active
        with _active_mu:
            if _active is self:
                _active = None

    def check_put(self) -> None:
        """Called at the start of applyCh's put(): report a sender holding rf.mu."""
        for lock in _holding():
            lock._checker._put_under_lock(lock, sys._getframe(2))

    def close(self) -> None:
        """Stop the watchdog and undo every patch (peers keep their CheckedLocks)."""
        with self._mu:
            self._closed = True
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join()
            self._watchdog = None
        while self._undo:
            self._undo.pop()()
        self._locks = []

    # -- the watchdog ----------------------------------------------------------

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_INTERVAL):
            now = time.monotonic()
            for lock in list(self._locks):
                owner, since, episode = lock._owner, lock._since, lock._episode
                if owner is not None and now - since > HOLD_LIMIT:
                    self._held_too_long(lock, owner, now - since, episode)

    # -- reports -----------------------------------------------------------------

    def _report(self, key: Any, summary: str, fix: str, body: str = "") -> None:
        """Report once per key: the summary, how to fix it (indented, so the tester's
        "--- FAIL" block shows it), then the details."""
        with self._mu:
            if self._closed or key in self._seen or len(self.reports) >= MAX_REPORTS:
                return
            self._seen.add(key)
            text = summary + "".join(f"\n    {line}" for line in fix.splitlines())
            if body:
                text += f"\n==================\n{body.rstrip()}\n=================="
            self.reports.append(text)
        self._fail(text)

    def _data_race(
        self, st: _PeerState, name: str, rec: _Access, previous: _Access, full: Stack
    ) -> None:
        kind = "write" if rec.write else "read"
        key = ("race", name, rec.write, rec.stack[0] if rec.stack else None)
        if key in self._seen:
            return
        summary = (
            f"DATA RACE: {kind} of rf.{name} by thread {rec.name} without holding rf.mu "
            f"({_where(full)})"
        )
        fix = (
            f"Take rf.mu around this access: every field of Raft outside Raft.UNGUARDED is "
            f"guarded by it.\nIf rf.{name} is safe without it by design, declare it in "
            f"Raft.UNGUARDED (see tests/harness/README.md)."
        )
        body = (
            f"WARNING: DATA RACE\n"
            f"{kind.capitalize()} of rf.{name} ({st.peer()}) by thread {rec.name}, "
            f"which does not hold rf.mu:\n{_format(full)}\n"
            f"Previous {'write' if previous.write else 'read'} of rf.{name} by thread "
            f"{previous.name} ({previous.how}):\n{_format(previous.stack)}\n"
        )
        self._report(key, summary, fix, body)

    def _call_under_lock(self, lock: CheckedLock, svc_meth: str, frame: FrameType) -> None:
        self._under_lock(
            lock, frame, "LOCK HELD ACROSS RPC", f"calls {svc_meth}",
            f"makes a labrpc Call({svc_meth!r})",
            "Release rf.mu before Call: the handler on the other peer takes that peer's "
            "rf.mu; two peers doing this wait for each other forever, and a slow or lost RPC "
            "stalls every thread that needs this rf.mu.\nThe Call was not made (it returned "
            "False), so the test fails here instead of hanging.",
            "Call",
        )  # fmt: skip

    def _put_under_lock(self, lock: CheckedLock, frame: FrameType) -> None:
        self._under_lock(
            lock, frame, "APPLYCH SEND UNDER LOCK", "puts on applyCh",
            "puts an ApplyMsg on applyCh",
            "Release rf.mu before the put: in Go applyCh is unbuffered, the send waits until "
            "the service reads it, and the service may be waiting in Start() or Snapshot() "
            "for this rf.mu: deadlock.",
            "put",
        )  # fmt: skip

    def _under_lock(
        self, lock: CheckedLock, frame: FrameType, title: str, short: str, long: str,
        fix: str, what: str,
    ) -> None:  # fmt: skip
        """Report something a thread must not do while holding rf.mu, and where it took it."""
        thread = threading.current_thread()
        stack = _capture(frame, _REPORT_DEPTH)
        peer = lock._peer.peer() if lock._peer is not None else "a Raft peer"
        summary = f"{title}: thread {thread.name} {short} while holding rf.mu ({_where(stack)})"
        body = (
            f"WARNING: {title}\n"
            f"Thread {thread.name} {long} while holding rf.mu of {peer}.\n"
            f"{what} at:\n{_format(stack)}\nrf.mu taken at:\n{_format(lock._taken)}\n"
        )
        self._report((what, stack[0] if stack else None), summary, fix, body)

    def _held_too_long(self, lock: CheckedLock, owner: int, held_for: float, episode: int) -> None:
        frame = sys._current_frames().get(owner)
        if lock._owner != owner or lock._episode != episode:
            return  # released meanwhile
        name = _thread_name(owner)
        now = _capture(frame, _REPORT_DEPTH)
        peer = lock._peer.peer() if lock._peer is not None else "a Raft peer"
        summary = (
            f"LOCK HELD TOO LONG: rf.mu of {peer} held {held_for:.1f} s by thread {name} "
            f"(now {_where(now)})"
        )
        fix = "Never sleep, wait for an RPC or for applyCh while holding rf.mu."
        body = (
            f"WARNING: LOCK HELD TOO LONG\n"
            f"rf.mu of {peer} has been held for {held_for:.1f} s (limit {HOLD_LIMIT:g} s) by "
            f"thread {name}.\n"
            f"Its stack now:\n{_format(now)}\nrf.mu taken at:\n{_format(lock._taken)}\n"
        )
        self._report(("long", id(lock), episode), summary, fix, body)

    def _no_lock(self, cls: type, mu: Any) -> None:
        what = "no rf.mu" if mu is None else f"rf.mu is a {type(mu).__name__}"
        summary = (
            f"RACE MODE CANNOT CHECK {cls.__name__}: {what}, not a threading.Lock or RLock "
            f"assigned in __init__"
        )
        fix = (
            f"Race mode checks that Raft's fields are used holding rf.mu: assign it in "
            f"{cls.__name__}.__init__ with self.mu = threading.Lock() (see "
            f"tests/harness/README.md)."
        )
        self._report(("nolock", cls), summary, fix)

    def _twice(self, lock: CheckedLock, stack: Stack) -> None:
        thread = threading.current_thread()
        peer = lock._peer.peer() if lock._peer is not None else "a Raft peer"
        summary = (
            f"LOCK ACQUIRED TWICE: thread {thread.name} takes rf.mu again while holding it "
            f"({_where(stack)})"
        )
        fix = (
            "Take rf.mu once: a threading.Lock is not reentrant, so this thread would wait "
            "for itself forever (RaceError was raised instead). Have the inner function "
            "expect rf.mu held rather than take it."
        )
        body = (
            f"WARNING: LOCK ACQUIRED TWICE\n"
            f"Thread {thread.name} takes rf.mu of {peer}, which it already holds.\n"
            f"Taken again at:\n{_format(stack)}\nFirst taken at:\n{_format(lock._taken)}\n"
        )
        self._report(("twice", stack[0] if stack else None), summary, fix, body)
