"""The scheduler: simulated threads as greenlets, the virtual clock, and the one lock
every other primitive is built on (SimLock). See the package docstring for the rules."""

from __future__ import annotations

import _thread
import hashlib
import heapq
import math
import random
import signal
import struct
import sys
import threading
import time
import traceback
from array import array
from collections.abc import Callable
from typing import Any

import greenlet  # type: ignore[import-untyped]

from harness.sim import report
from harness.sim.errors import (
    BusyLoopError,
    DeadlockError,
    SimError,
    SimExit,
    SimTimeLimit,
    UnsupportedPrimitive,
)

__all__ = ["SimLock", "World", "current_world"]

# Real references, taken at import (before any World patches the modules).
_real_get_ident = _thread.get_ident
_real_monotonic = time.monotonic
_real_setitimer = signal.setitimer

# Fixed bases for the virtual clocks, so that what a run prints does not depend on
# when it ran: monotonic and perf_counter start at 100000 s, time() at 2026-01-01 UTC.
MONOTONIC_BASE_NS = 100_000 * 10**9
TIME_BASE_NS = 1_767_225_600 * 10**9
# A sleep shorter than this (sleep(0) included) sleeps this long, so that a loop
# that only yields still lets the clock move on.
MIN_SLEEP_NS = 1_000
# Simulated threads' idents (and native ids): far above any pthread_t address.
IDENT_BASE = 1 << 56
# How often the busy-loop watchdog looks (real seconds).
WATCH_INTERVAL = 0.1

_TIME_JUMP = 1 << 63
_CONDITION_WAIT = threading.Condition.wait.__code__
# A cycle of threads waiting (with no timeout) for locks the next one holds fails the
# run once it has stood this long (virtual s), even while other threads still run. Not
# at once: a plain Lock may be released by a thread other than its owner.
CYCLE_GRACE_NS = 1_000_000_000

# The installed World, if any (one at a time per process).
_installed: World | None = None


def current_world() -> World | None:
    """The installed World if the caller runs in its OS thread, else None."""
    w = _installed
    if w is not None and _real_get_ident() == w._os_ident:
        return w
    return None


def _ns(seconds: float) -> int:
    """A timeout in ns, rounded up: a wait never ends before its deadline, and a
    positive one always lets the clock move."""
    return math.ceil(seconds * 1e9)


class _Task:
    """A simulated thread: its greenlet and what it waits for."""

    __slots__ = (
        "id",
        "ident",
        "glet",
        "thread",
        "daemon",
        "func",
        "done",
        "token",
        "wake",
        "wake_exc",
        "blocked_on",
        "deadline",
        "sentinels",
    )

    def __init__(self, tid: int, ident: int, func: Any, thread: threading.Thread | None):
        self.id = tid
        self.ident = ident
        self.glet: greenlet.greenlet | None = None
        self.thread = thread  # the threading.Thread it runs, if any
        self.daemon = True if thread is None else thread.daemon
        self.func = func
        self.done = False
        self.token = 0  # bumped at every block and wake: stale timers are skipped
        self.wake: Any = None  # what the waker hands back (True: got the lock)
        self.wake_exc: BaseException | None = None  # World.interrupt's exception
        self.blocked_on: Any = None  # a SimLock, "sleep", or None while runnable
        self.deadline: int | None = None
        self.sentinels: list[SimLock] = []  # released when the thread ends (join)

    @property
    def name(self) -> str:
        if self.thread is not None:
            return self.thread.name
        return f"_thread-{self.id} ({getattr(self.func, '__qualname__', self.func)!r})"


def _importing(frame: Any) -> bool:
    """Whether a module is being imported here: its locks are made once a process, by
    whichever run imports it first, so they never preempt (else a run's draws would
    depend on what the process ran before it)."""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "<module>" or code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


class SimLock:
    """threading.Lock (_thread.allocate_lock) under the simulation: a contended acquire
    blocks the simulated thread (a switch point); timeouts are virtual. Used outside a
    running World it behaves as a lock that cannot wait (it raises instead of blocking)."""

    __slots__ = (
        "_locked",
        "_owner",
        "_waiters",
        "_site",
        "_made",
        "_sentinel_of",
        "_waiter",
        "_world",
        "__weakref__",
    )

    def __init__(self) -> None:
        self._locked = False
        # The World it was made in: only its own locks may preempt (draw from its PRNG),
        # so a lock of an earlier run, met by a finalizer, cannot change this run's draws.
        self._world = None if _importing(sys._getframe(1)) else current_world()
        self._owner: _Task | None = None  # who acquired it (for the wait-for graph)
        self._waiters: list[_Task] = []
        self._site: tuple[Any, int] | None = None  # (code, line) of the last acquire
        caller = sys._getframe(1)
        # a Condition's waiter: its owner waits on it until notified, no deadlock
        outer = caller.f_back  # allocate_lock() (patches.py) in between
        self._waiter = caller.f_code is _CONDITION_WAIT or (
            outer is not None and outer.f_code is _CONDITION_WAIT
        )
        # where it was made (a waiter is reported by the wait it is in, not so)
        self._made = None if self._waiter else report.site(caller)
        self._sentinel_of: _Task | None = None  # a thread's end-of-life lock (join)

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not blocking and timeout != -1:
            raise ValueError("can't specify a timeout for a non-blocking call")
        if timeout < 0 and timeout != -1:
            raise ValueError("timeout value must be a non-negative number")
        w = current_world()
        task = w._current if w is not None else None
        if w is None or task is None:
            return self._acquire_outside(blocking, timeout)
        if w._preempt and self._world is w:
            w._maybe_preempt(task)
        if not self._locked:
            self._locked = True
            self._owner = task
            if not self._waiter:
                self._site = report.site(sys._getframe(1))
            return True
        if not blocking or timeout == 0:
            return False
        deadline = None if timeout == -1 else w._now + _ns(timeout)
        self._waiters.append(task)
        try:
            got = w._block(task, deadline, self)
        except BaseException:
            if task in self._waiters:
                self._waiters.remove(task)
            elif task.wake is True and self._owner is task and self._locked:
                self.release()  # handed to us as we were interrupted: pass it on
            raise
        if got and not self._waiter:
            self._site = report.site(sys._getframe(1))
        return bool(got)

    def _acquire_outside(self, blocking: bool, timeout: float) -> bool:
        if not self._locked:
            self._locked = True
            self._owner = None
            return True
        if not blocking or timeout == 0:
            return False
        raise SimError(
            "a lock of the simulation is held and this thread cannot wait for it: "
            "it is not a simulated thread (run the code inside World.run)"
        )

    def _cancel(self, task: _Task) -> None:
        """The waiting task timed out or was interrupted: it no longer waits."""
        if task in self._waiters:
            self._waiters.remove(task)

    def release(self) -> None:
        if not self._locked:
            raise RuntimeError("release unlocked lock")
        w = _installed
        if self._waiters:
            n = len(self._waiters)
            i = w._rng.randrange(n) if (w is not None and n > 1) else 0
            task = self._waiters.pop(i)
            self._owner = task  # handed over: it stays locked
            if w is not None:
                w._wake(task, True)
        else:
            self._locked = False
            self._owner = None
        if w is not None and w._preempt and self._world is w:
            me = current_world()
            if me is not None and me._current is not None and not me._killing:
                me._maybe_preempt(me._current)

    def locked(self) -> bool:
        return self._locked

    def _is_owned(self) -> bool:  # Condition's test, as it makes for a plain lock
        return self._locked

    def _at_fork_reinit(self) -> None:
        self._locked = False
        self._owner = None
        self._waiters = []

    __enter__ = acquire

    def __exit__(self, *exc: object) -> None:
        self.release()

    # _thread's old names
    acquire_lock = acquire
    release_lock = release
    locked_lock = locked

    def __repr__(self) -> str:
        state = "locked" if self._locked else "unlocked"
        return f"<{state} sim lock made at {report.format_site(self._made)}>"


class World:
    """A simulation of threads and time that a seed determines (see the package docstring)."""

    def __init__(
        self,
        seed: int,
        *,
        preempt: float = 0.0,
        busy_limit: float = 2.0,
        time_limit: float | None = None,
        exit_limit: float = 60.0,
        seed_random: bool = True,
    ):
        self.seed = seed
        self.preempt = preempt
        self.busy_limit = busy_limit
        self.time_limit = time_limit
        self.exit_limit = exit_limit
        self.seed_random = seed_random
        self._preempt = preempt > 0
        self._rng = random.Random(f"raftlab-sim:{seed}")
        self._seeds = random.Random(f"raftlab-sim-seeds:{seed}")
        self._now = 0  # virtual ns since the World began
        self._ready: list[_Task] = []
        self._timers: list[tuple[int, int, _Task, int]] = []
        self._seq = 0
        self._tasks: dict[int, _Task] = {}  # the live tasks by id, in creation order
        self._next_id = 0
        self._current: _Task | None = None  # the running task; None while the hub runs
        self._hub: greenlet.greenlet | None = None
        self._os_ident = _real_get_ident()
        self._killing = False
        self._slice_start = 0.0
        self._hash = hashlib.sha256()
        self._buf = array("Q")
        self.decisions = 0  # scheduling decisions taken so far
        self._patches: Any = None
        self._alarm: Any = None
        self._clock_seen = (0, 0.0)
        self._pending: tuple[Any, ...] | None = None  # what the alarm found, for the hub
        self._cycle: tuple[Any, int] | None = None  # a cycle of lock waits, since when
        self._failing = False  # ending the threads after a failure

    # -- public API ---------------------------------------------------------

    def __enter__(self) -> World:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def install(self) -> None:
        from harness.sim import patches

        global _installed
        if _installed is not None:
            raise SimError("a World is already installed (one at a time)")
        self._os_ident = _real_get_ident()
        self._patches = patches.install(self)
        _installed = self

    def uninstall(self) -> None:
        global _installed
        if _installed is not self:
            return
        _installed = None
        self._patches.restore()
        self._patches = None

    def now(self) -> float:
        """Virtual seconds since the World began."""
        return self._now / 1e9

    def digest(self) -> str:
        """Hex SHA-256 of every scheduling decision, clock jump and record() so far."""
        self._flush()
        return self._hash.hexdigest()

    def record(self, event: bytes | str) -> None:
        """Feed an event (a message, an applied entry) into the digest."""
        data = event.encode() if isinstance(event, str) else bytes(event)
        self._flush()
        self._hash.update(b"R" + struct.pack("<Q", len(data)) + data)

    def threads(self) -> list[str]:
        """One line per live simulated thread: its name, what it waits for, and where."""
        return [report.describe_task(t, self) for t in self._tasks.values()]

    def interrupt(self, thread: threading.Thread, exc: BaseException) -> bool:
        """Raise exc in a simulated thread at the wait it is blocked in (or at its next
        one if it is runnable). Returns False if thread is not a live simulated thread."""
        for t in self._tasks.values():
            if t.thread is thread or (t.ident == thread.ident and not t.done):
                t.wake_exc = exc
                if t.blocked_on is not None:
                    self._wake_blocked(t, None)
                return True
        return False

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run fn(*args, **kwargs) as the simulated main thread and return its result.

        When fn returns, run() goes on until every non-daemon thread has ended (at most
        exit_limit virtual seconds more), as the interpreter does at exit; the daemon
        threads left are then ended (SimExit is raised at their wait). If fn raises, or
        the simulation finds a failure (deadlock, busy loop, unsupported primitive, time
        limit), every simulated thread is ended the same way and run() raises it."""
        if _installed is not self:
            raise SimError("World.run needs the World installed: `with World(seed) as w:`")
        if self._hub is not None:
            raise SimError("World.run cannot nest")
        if _real_get_ident() != self._os_ident:
            raise SimError("World.run must be called in the thread that installed the World")
        self._hub = greenlet.getcurrent()
        saved_random = random.getstate()
        if self.seed_random:
            random.seed(self._seeds.getrandbits(64))
        outcome: list[Any] = []

        def main() -> None:
            try:
                outcome.append(("ok", fn(*args, **kwargs)))
            except SimExit:
                outcome.append(("killed", None))
            except BaseException as e:  # noqa: BLE001 - re-raised by run()
                outcome.append(("error", e))

        main_task = self._spawn(main, (), {}, threading.current_thread(), ident=self._os_ident)
        main_task.daemon = False
        self._alarm_start()
        self._pending = None
        self._failing = False
        try:
            self._loop(main_task, outcome)
        except BaseException:
            self._failing = True
            raise
        finally:
            try:
                self._kill_all()
            finally:
                self._alarm_stop()
                self._hub = None
                self._current = None
                self._ready.clear()
                self._timers.clear()
                if self.seed_random:
                    random.setstate(saved_random)
        kind, value = outcome[0]
        if kind == "error":
            raise value
        if kind == "killed":
            raise SimError("the main simulated thread was ended by the simulation")
        return value

    # -- the scheduler (hub side) --------------------------------------------

    def _spawn(
        self,
        func: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        thread: threading.Thread | None,
        ident: int | None = None,
    ) -> _Task:
        if self._hub is None:
            raise SimError("start simulated threads inside World.run")
        self._next_id += 1
        tid = self._next_id
        task = _Task(tid, IDENT_BASE + tid if ident is None else ident, func, thread)

        def body() -> None:
            try:
                func(*args, **kwargs)
            except SimExit:
                pass
            except BaseException:  # as _thread does for a function it started
                print(f"Exception ignored in thread started by: {func!r}", file=sys.stderr)
                traceback.print_exc()
            finally:
                task.done = True
                self._tasks.pop(task.id, None)
                for s in task.sentinels:
                    if s._locked:
                        s.release()

        task.glet = greenlet.greenlet(body, parent=self._hub)
        self._tasks[tid] = task
        self._ready.append(task)
        return task

    def _flush(self) -> None:
        if self._buf:
            self._hash.update(self._buf.tobytes())
            del self._buf[:]

    def _loop(self, main: _Task, outcome: list[Any]) -> None:
        exit_deadline: int | None = None
        while True:
            if self._pending is not None:
                note, self._pending = self._pending, None
                self._handle(note)
            if main.done:
                if outcome and outcome[0][0] != "ok":
                    self._failing = True
                    return
                if not any(not t.daemon for t in self._tasks.values()):
                    return
                if exit_deadline is None:
                    exit_deadline = self._now + _ns(self.exit_limit)
                elif self._now > exit_deadline:
                    raise SimError(
                        f"non-daemon threads still running {self.exit_limit:g} virtual s "
                        "after the main thread ended:\n" + "\n".join(self.threads())
                    )
            ready = self._ready
            if not ready:
                if not self._advance():
                    if main.done and not any(not t.daemon for t in self._tasks.values()):
                        return
                    raise DeadlockError(report.deadlock(self))
                continue
            n = len(ready)
            if n == 1:
                task = ready.pop()
            else:
                i = self._rng.randrange(n)
                task = ready[i]
                ready[i] = ready[-1]
                ready.pop()
            self._buf.append(task.id)
            self.decisions += 1
            if len(self._buf) >= 4096:
                self._flush()
            self._current = task
            self._slice_start = _real_monotonic()
            assert task.glet is not None
            note = task.glet.switch()
            self._current = None
            if note:  # () from a wait, None from an end
                self._handle(note)

    def _handle(self, note: tuple[Any, ...]) -> None:
        kind, task = note[0], note[1]
        if kind == "busy":
            raise BusyLoopError(report.busy(self, task))
        if kind == "livelock":
            raise BusyLoopError(report.livelock(self))
        if kind == "unsupported":
            raise UnsupportedPrimitive(report.unsupported(self, task, note[2]))
        if kind == "alarm":
            handler, signum = note[2], note[3]
            handler(signum, sys._getframe())
            raise SimError("the real-time alarm interrupted the simulation")
        raise SimError(f"unknown note {note!r}")

    def _advance(self) -> bool:
        """No task can run: move the clock to the earliest pending timer and wake what
        is due then. False if no timer is pending."""
        timers = self._timers
        while timers and timers[0][2].token != timers[0][3]:
            heapq.heappop(timers)  # stale: the task was woken otherwise
        if not timers:
            return False
        self._check_cycles()
        when = timers[0][0]
        if self.time_limit is not None and when > _ns(self.time_limit):
            raise SimTimeLimit(
                f"virtual time limit of {self.time_limit:g} s reached; threads:\n"
                + "\n".join(self.threads())
            )
        if when > self._now:
            self._now = when
            self._buf.append(_TIME_JUMP | when)
        while timers and timers[0][0] <= when:
            _, _, task, token = heapq.heappop(timers)
            if task.token == token:
                self._wake_blocked(task, False)
        return True

    def _check_cycles(self) -> None:
        """Raise DeadlockError for a cycle of lock waits that has stood CYCLE_GRACE_NS."""
        cycle = self._lock_cycle()
        if cycle is None:
            self._cycle = None
            return
        key = tuple((t.id, id(lock)) for t, lock in cycle)
        if self._cycle is None or self._cycle[0] != key:
            self._cycle = (key, self._now)
        elif self._now - self._cycle[1] >= CYCLE_GRACE_NS:
            raise DeadlockError(report.cycle(self, cycle, self._cycle[1]))

    def _lock_cycle(self) -> list[tuple[_Task, SimLock]] | None:
        """Threads each waiting, with no timeout, for a lock the next one holds, the
        last for one the first holds; None if there is no such cycle."""
        for start in self._tasks.values():
            chain: list[tuple[_Task, SimLock]] = []
            task: _Task | None = start
            while task is not None:
                lock = task.blocked_on
                if (
                    not isinstance(lock, SimLock)
                    or task.deadline is not None
                    or lock._waiter
                    or lock._sentinel_of is not None
                ):
                    break
                chain.append((task, lock))
                task = lock._owner
                if task is start:
                    return chain
                if any(t is task for t, _ in chain) or len(chain) > len(self._tasks):
                    break  # a cycle that does not pass start: found from one of its own
        return None

    def _kill_all(self) -> None:
        """End every live task: SimExit is raised where it waits; any wait it then
        starts raises SimExit at once."""
        if not self._tasks:
            return
        self._killing = True
        previous_hook = threading.excepthook

        failing = self._failing

        def quiet(args: Any) -> None:
            # After a failure, what the ended threads raise is its consequence.
            if not failing and not isinstance(args.exc_value, SimExit):
                previous_hook(args)

        threading.excepthook = quiet
        try:
            for _ in range(100):
                live = list(self._tasks.values())
                if not live:
                    break
                for task in live:
                    if task.done:
                        continue
                    glet = task.glet
                    assert glet is not None
                    if not glet:  # never started: it never ran a line
                        self._drop(task)
                        continue
                    self._current = task
                    glet.throw(SimExit)
                    self._current = None
            for task in list(self._tasks.values()):  # caught SimExit 100 times: forget it
                _graveyard.append(task.glet)
                self._drop(task)
        finally:
            self._current = None
            self._killing = False
            if threading.excepthook is quiet:
                threading.excepthook = previous_hook
            self._ready.clear()

    def _drop(self, task: _Task) -> None:
        """Forget a task that did not end by itself (as the interpreter forgets a daemon)."""
        task.done = True
        self._tasks.pop(task.id, None)
        if task.thread is not None:
            threading._limbo.pop(task.thread, None)  # type: ignore[attr-defined]
            if threading._active.get(task.ident) is task.thread:  # type: ignore[attr-defined]
                del threading._active[task.ident]  # type: ignore[attr-defined]
        for s in task.sentinels:
            s._waiters.clear()
            s._locked = False

    # -- the scheduler (task side) ---------------------------------------------

    def _block(self, task: _Task, deadline: int | None, what: Any) -> Any:
        """Suspend task until it is woken (returns what the waker handed over) or its
        deadline passes (returns False)."""
        if self._killing:
            raise SimExit
        if task.wake_exc is not None:
            exc, task.wake_exc = task.wake_exc, None
            if hasattr(what, "_cancel"):
                what._cancel(task)
            raise exc
        task.token += 1
        task.blocked_on = what
        task.wake = None
        task.deadline = deadline
        if deadline is not None:
            self._seq += 1
            heapq.heappush(self._timers, (deadline, self._seq, task, task.token))
        assert self._hub is not None
        self._hub.switch()
        task.blocked_on = None
        task.deadline = None
        if task.wake_exc is not None:
            exc, task.wake_exc = task.wake_exc, None
            raise exc
        return task.wake

    def _wake(self, task: _Task, value: Any) -> None:
        """Make a blocked task runnable; its wait returns value."""
        task.token += 1
        task.wake = value
        task.blocked_on = None
        self._ready.append(task)

    def _wake_blocked(self, task: _Task, value: Any) -> None:
        """Wake a task from outside its wait (a timeout, an interrupt)."""
        what = task.blocked_on
        if hasattr(what, "_cancel"):
            what._cancel(task)
        self._wake(task, value)

    def _yield(self, task: _Task) -> None:
        """Let the scheduler choose again; task stays runnable."""
        if self._killing:
            return
        self._ready.append(task)
        assert self._hub is not None
        self._hub.switch()
        if task.wake_exc is not None:
            exc, task.wake_exc = task.wake_exc, None
            raise exc

    def _maybe_preempt(self, task: _Task) -> None:
        if self._rng.random() < self.preempt:
            self._yield(task)

    def sleep(self, seconds: float) -> None:
        ns = max(_ns(seconds), MIN_SLEEP_NS)
        task = self._current
        if task is None:
            if self._hub is not None:
                raise SimError("time.sleep in the simulation's scheduler")
            self._now += ns  # outside run(): no thread to wait for, only the clock moves
            self._buf.append(_TIME_JUMP | self._now)
            return
        self._block(task, self._now + ns, "sleep")

    def _unsupported(self, what: str) -> None:
        task = self._current
        if task is None or self._hub is None:
            raise UnsupportedPrimitive(report.unsupported(self, None, what))
        self._hub.switch(("unsupported", task, what))
        raise SimExit  # only a kill resumes it

    # -- the busy-loop watchdog ---------------------------------------------

    def _alarm_start(self) -> None:
        """A periodic SIGALRM (main thread only): a task that has run busy_limit real
        seconds since it was switched in is stopped where it is. pytest-timeout's alarm,
        if armed, is kept: its deadline is checked here and it fires in the hub."""
        self._alarm = None
        if threading.current_thread() is not threading.main_thread() or self.busy_limit <= 0:
            return
        try:
            previous_handler = signal.signal(signal.SIGALRM, self._on_alarm)
        except (ValueError, OSError):
            return
        remaining, _ = _real_setitimer(signal.ITIMER_REAL, WATCH_INTERVAL, WATCH_INTERVAL)
        deadline = _real_monotonic() + remaining if remaining > 0 else None
        self._alarm = [previous_handler, deadline]
        self._clock_seen = (self._now, _real_monotonic())

    def _alarm_stop(self) -> None:
        if self._alarm is None:
            return
        previous_handler, deadline = self._alarm
        self._alarm = None
        _real_setitimer(signal.ITIMER_REAL, 0)
        restored = signal.SIG_DFL if previous_handler is None else previous_handler
        signal.signal(signal.SIGALRM, restored)
        if deadline is not None:
            _real_setitimer(signal.ITIMER_REAL, max(deadline - _real_monotonic(), 0.001))

    def _on_alarm(self, signum: int, frame: Any) -> None:
        """Runs between two bytecodes of whatever runs: it only sets _pending for the
        hub to act on at its next turn, except for a busy loop, whose thread will not
        give the hub a turn: that one is switched out of here."""
        alarm = self._alarm
        if alarm is None or self._hub is None or self._killing:
            return
        now = _real_monotonic()
        previous_handler, deadline = alarm
        task = self._current
        in_task = task is not None and greenlet.getcurrent() is task.glet
        if deadline is not None and now >= deadline and callable(previous_handler):
            alarm[1] = None  # pytest-timeout's: fired here, not re-armed at the end
            self._pending = ("alarm", task, previous_handler, signum)
            return
        if in_task and now - self._slice_start >= self.busy_limit:
            assert task is not None
            self._hub.switch(("busy", task))
            raise SimExit  # only a kill resumes it
        seen_now, seen_at = self._clock_seen
        if seen_now != self._now:
            self._clock_seen = (self._now, now)
        elif now - seen_at >= 2 * self.busy_limit:
            # the clock stood still that long although no one thread ran busy_limit
            self._clock_seen = (self._now, now)
            self._pending = ("livelock", task)


# Greenlets of tasks that would not end: kept, so that no garbage collection runs
# their code later, outside the simulation.
_graveyard: list[Any] = []
