"""Install the simulation under unchanged code: the attributes of the real `_thread`,
`threading`, `time`, `queue`, `random` and `sys` modules (and the entry points of what
it cannot simulate) are replaced while a World is installed, and restored exactly.

Every replacement asks current_world() first: called from any OS thread other than the
World's (pytest's own, a real thread left from elsewhere), it is the real function.
threading's own classes (Thread, Condition, Event, Semaphore, Timer, Barrier, the
Python RLock) are not replaced: they are built on _start_new_thread, _allocate_lock,
_set_sentinel, get_ident and _time, which are, so a class that subclassed them before
the World was installed (the tester's TesterThread, its queue.Queue applyCh) runs
simulated too."""

from __future__ import annotations

import _thread
import _threading_local
import asyncio
import multiprocessing.process
import os
import queue
import random
import select
import socket
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from harness.sim import world as _world
from harness.sim.world import MIN_SLEEP_NS, MONOTONIC_BASE_NS, TIME_BASE_NS, SimLock, current_world

if TYPE_CHECKING:
    from harness.sim.world import World

__all__ = ["Patches", "install"]

_MISSING = object()

# Real references, taken at import.
_r_start = _thread.start_new_thread
_r_allocate = _thread.allocate_lock
_r_sentinel = _thread._set_sentinel  # type: ignore[attr-defined]
_r_get_ident = _thread.get_ident
_r_native = _thread.get_native_id
_r_crlock = _thread.RLock
_r_time = time.time
_r_time_ns = time.time_ns
_r_monotonic = time.monotonic
_r_monotonic_ns = time.monotonic_ns
_r_perf = time.perf_counter
_r_perf_ns = time.perf_counter_ns
_r_sleep = time.sleep
_r_frames = sys._current_frames
_r_seed = random.Random.seed
_r_cond_wait = threading.Condition.wait


class Patches:
    """The replaced attributes, to put back in reverse order."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def set(self, target: Any, name: str, value: Any) -> None:
        old = vars(target).get(name, _MISSING)
        self._saved.append((target, name, old))
        setattr(target, name, value)

    def restore(self) -> None:
        while self._saved:
            target, name, old = self._saved.pop()
            if old is _MISSING:
                delattr(target, name)
            else:
                setattr(target, name, old)


# -- threads ----------------------------------------------------------------


def start_new_thread(function: Any, args: Any, kwargs: Any = _MISSING) -> int:
    w = current_world()
    if w is None:
        if kwargs is _MISSING:
            return _r_start(function, args)
        return _r_start(function, args, kwargs)
    if not isinstance(args, tuple):
        raise TypeError("2nd arg must be a tuple")
    if kwargs is not _MISSING and not isinstance(kwargs, dict):
        raise TypeError("optional 3rd arg must be a dictionary")
    thread = getattr(function, "__self__", None)
    if not isinstance(thread, threading.Thread):
        thread = None
    kw = dict(kwargs) if isinstance(kwargs, dict) else {}  # else _MISSING, as checked
    return w._spawn(function, args, kw, thread).ident


def allocate_lock() -> Any:
    if current_world() is None:
        return _r_allocate()
    return SimLock()


def _set_sentinel() -> Any:
    w = current_world()
    if w is None or w._current is None:
        return _r_sentinel()
    lock = SimLock()
    lock._sentinel_of = w._current
    w._current.sentinels.append(lock)
    return lock


def get_ident() -> int:
    w = current_world()
    if w is None or w._current is None:
        return _r_get_ident()
    return w._current.ident


def get_native_id() -> int:
    w = current_world()
    if w is None or w._current is None or w._current.ident == w._os_ident:
        return _r_native()
    return w._current.ident


def RLock(*args: Any, **kwargs: Any) -> Any:
    if current_world() is None:
        return _r_crlock(*args, **kwargs)
    return threading._PyRLock(*args, **kwargs)  # type: ignore[attr-defined]


def _cond_wait(self: threading.Condition, timeout: float | None = None) -> bool:
    # A wait with timeout <= 0 is a poll in threading; here it waits MIN_SLEEP, as
    # sleep(0) does: a loop `cond.wait(deadline - time.monotonic())` that finds the
    # deadline passed must let the clock move (real time moves while it computes).
    if timeout is not None and timeout <= 0:
        w = current_world()
        if w is not None and w._current is not None:
            timeout = MIN_SLEEP_NS / 1e9
    return _r_cond_wait(self, timeout)


def _current_frames() -> dict[int, Any]:
    frames = _r_frames()
    w = _world._installed
    if w is None or w._hub is None:
        return frames
    running = frames.get(w._os_ident)
    for task in list(w._tasks.values()):
        if task is w._current:
            if running is not None:
                frames[task.ident] = running
        elif task.glet is not None and task.glet.gr_frame is not None:
            frames[task.ident] = task.glet.gr_frame
    return frames


# -- time ---------------------------------------------------------------------


def _time() -> float:
    w = current_world()
    return _r_time() if w is None else (TIME_BASE_NS + w._now) / 1e9


def _time_ns() -> int:
    w = current_world()
    return _r_time_ns() if w is None else TIME_BASE_NS + w._now


def monotonic() -> float:
    w = current_world()
    return _r_monotonic() if w is None else (MONOTONIC_BASE_NS + w._now) / 1e9


def monotonic_ns() -> int:
    w = current_world()
    return _r_monotonic_ns() if w is None else MONOTONIC_BASE_NS + w._now


def perf_counter() -> float:
    w = current_world()
    return _r_perf() if w is None else (MONOTONIC_BASE_NS + w._now) / 1e9


def perf_counter_ns() -> int:
    w = current_world()
    return _r_perf_ns() if w is None else MONOTONIC_BASE_NS + w._now


def sleep(secs: float) -> None:
    w = current_world()
    if w is None:
        return _r_sleep(secs)
    if secs < 0:
        raise ValueError("sleep length must be non-negative")
    w.sleep(secs)


# -- random ----------------------------------------------------------------------


def _seed(self: random.Random, a: Any = None, version: int = 2) -> None:
    w = current_world()
    if a is None and w is not None:
        a = w._seeds.getrandbits(64)  # random.Random(): seeded from the World's seed
    _r_seed(self, a, version)


# -- what the simulation cannot run ---------------------------------------------------


def _refuse(real: Any, what: str) -> Any:
    def refused(*args: Any, **kwargs: Any) -> Any:
        w = current_world()
        if w is not None:
            w._unsupported(what)
        return real(*args, **kwargs)

    refused.__name__ = getattr(real, "__name__", "refused")
    refused.__doc__ = getattr(real, "__doc__", None)
    return refused


_REFUSED: list[tuple[Any, str, str]] = [
    (socket.socket, "__init__", "a socket (socket.socket)"),
    (select, "select", "select.select"),
    (select, "poll", "select.poll"),
    (select, "epoll", "select.epoll"),
    (subprocess.Popen, "__init__", "a subprocess (subprocess.Popen)"),
    (os, "fork", "os.fork"),
    (os, "forkpty", "os.forkpty"),
    (os, "system", "os.system"),
    (os, "posix_spawn", "os.posix_spawn"),
    (os, "posix_spawnp", "os.posix_spawnp"),
    (multiprocessing.process.BaseProcess, "start", "a multiprocessing process"),
    (asyncio.events.BaseDefaultEventLoopPolicy, "new_event_loop", "an asyncio event loop"),
]


def install(world: World) -> Patches:
    p = Patches()
    try:
        for mod in (_thread,):
            p.set(mod, "start_new_thread", start_new_thread)
            p.set(mod, "start_new", start_new_thread)
            p.set(mod, "allocate_lock", allocate_lock)
            p.set(mod, "allocate", allocate_lock)
            p.set(mod, "get_ident", get_ident)
            p.set(mod, "get_native_id", get_native_id)
            p.set(mod, "RLock", RLock)
        p.set(threading, "_start_new_thread", start_new_thread)
        p.set(threading, "_allocate_lock", allocate_lock)
        p.set(threading, "Lock", allocate_lock)
        p.set(threading, "RLock", RLock)
        p.set(threading, "_set_sentinel", _set_sentinel)
        p.set(threading, "get_ident", get_ident)
        p.set(threading, "get_native_id", get_native_id)
        p.set(threading, "_time", monotonic)
        p.set(threading, "local", _threading_local.local)
        p.set(threading.Condition, "wait", _cond_wait)
        p.set(queue, "time", monotonic)
        p.set(queue, "SimpleQueue", queue._PySimpleQueue)  # type: ignore[attr-defined]
        for name, fn in (
            ("time", _time),
            ("time_ns", _time_ns),
            ("monotonic", monotonic),
            ("monotonic_ns", monotonic_ns),
            ("perf_counter", perf_counter),
            ("perf_counter_ns", perf_counter_ns),
            ("sleep", sleep),
        ):
            p.set(time, name, fn)
        p.set(sys, "_current_frames", _current_frames)
        p.set(random.Random, "seed", _seed)
        for target, name, what in _REFUSED:
            real = getattr(target, name, None)
            if real is not None:
                p.set(target, name, _refuse(real, what))
    except BaseException:
        p.restore()
        raise
    return p
