"""What the simulation says when it stops a run: where threads are, what they wait for,
who holds which lock (the wait-for graph of a deadlock), a busy loop's stack."""

from __future__ import annotations

import _threading_local
import gc
import linecache
import os
import queue
import threading
import traceback
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.sim.world import SimLock, World, _Task

_HERE = os.path.dirname(os.path.abspath(__file__))
# Frames of these files are the machinery: a site is the first frame outside them.
_SKIP = {
    threading.__file__,
    queue.__file__,
    _threading_local.__file__,
    *(os.path.join(_HERE, f) for f in os.listdir(_HERE) if f.endswith(".py")),
}
_SIM_FILES = {f for f in _SKIP if f.startswith(_HERE)}

RULE = "every loop must sleep or wait"


def site(frame: FrameType | None) -> tuple[Any, int] | None:
    """(code, line) of the first frame outside threading, queue and the simulation."""
    while frame is not None and frame.f_code.co_filename in _SKIP:
        frame = frame.f_back
    return None if frame is None else (frame.f_code, frame.f_lineno)


def _short(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def format_site(s: tuple[Any, int] | None, source: bool = False) -> str:
    if s is None:
        return "?"
    code, line = s
    text = f"{_short(code.co_filename)}:{line} in {code.co_name}"
    if source:
        src = linecache.getline(code.co_filename, line).strip()
        if src:
            text += f" ({src})"
    return text


def _api(frame: FrameType | None) -> str | None:
    """The threading/queue function the user's code called to get where frame is."""
    api = None
    while frame is not None and frame.f_code.co_filename in _SKIP:
        if frame.f_code.co_filename not in _SIM_FILES:
            code = frame.f_code
            module = os.path.splitext(os.path.basename(code.co_filename))[0]
            api = f"{module}.{getattr(code, 'co_qualname', code.co_name)}"
        frame = frame.f_back
    return api


def describe_lock(lock: SimLock) -> str:
    return f"the lock made at {format_site(lock._made, source=True)}"


def describe_task(task: _Task, world: World) -> str:
    glet = task.glet
    frame = glet.gr_frame if glet is not None else None
    where = format_site(site(frame), source=True)
    what = task.blocked_on
    from harness.sim.world import SimLock  # the cycle: world imports report

    if task is world._current:
        state = "running"
    elif what is None:
        state = "runnable" if glet else "started, not yet run"
    elif what == "sleep":
        state = f"sleeps until t={task.deadline / 1e9 if task.deadline else 0:.6f}"
    elif isinstance(what, SimLock):
        api = _api(frame)
        if what._sentinel_of is not None:
            state = f"waits for thread {what._sentinel_of.name!r} to end"
        elif what._waiter:  # a Condition's waiter: Condition/Event/Queue/... wait
            state = f"waits in {api or 'a wait'}"
        else:
            owner = what._owner
            holder = (
                f"held by {owner.name!r} (acquired at {format_site(what._site)})"
                if owner is not None
                else "held outside the simulated threads"
            )
            state = f"waits for {describe_lock(what)}, {holder}"
            if api is not None and api not in ("threading._RLock.acquire",):
                state += f", in {api}"
        if task.deadline is not None:
            state += f" (timeout at t={task.deadline / 1e9:.6f})"
        else:
            state += " (no timeout)"
    else:
        state = f"waits on {what!r}"
    return f"  {task.name!r}{' daemon' if task.daemon else ''}: {state}\n      at {where}"


def _held_locks(world: World) -> list[str]:
    from harness.sim.world import SimLock

    live = {id(t): t for t in world._tasks.values()}
    lines = []
    for obj in gc.get_objects():
        if not isinstance(obj, SimLock) or not obj._locked or obj._sentinel_of is not None:
            continue
        owner = obj._owner
        if owner is None or id(owner) not in live or obj._waiter:
            continue  # a Condition's waiter, or a lock of no live thread
        lines.append(
            (
                owner.id,
                f"  {owner.name!r} holds {describe_lock(obj)}, "
                f"acquired at {format_site(obj._site)}",
            )
        )
    return [text for _, text in sorted(lines)]


def deadlock(world: World) -> str:
    held = _held_locks(world)
    return (
        f"DEADLOCK at virtual time {world.now():.6f} s: every thread is blocked and no "
        "timer is pending, so none can ever run again.\nThreads (what each waits for, "
        "and where):\n"
        + "\n".join(describe_task(t, world) for t in world._tasks.values())
        + ("\nLocks held:\n" + "\n".join(held) if held else "\nNo lock is held.")
    )


def cycle(world: World, chain: list[tuple[_Task, SimLock]], since: int) -> str:
    links = []
    for task, lock in chain:
        owner = lock._owner
        whom = "itself" if owner is task else repr(owner.name if owner else None)
        frame = task.glet.gr_frame if task.glet is not None else None
        links.append(
            f"  {task.name!r} waits for {describe_lock(lock)}, held by {whom} "
            f"(acquired at {format_site(lock._site)})\n"
            f"      at {format_site(site(frame), source=True)}"
        )
    return (
        f"DEADLOCK at virtual time {world.now():.6f} s: threads wait for each other's "
        f"locks in a cycle, with no timeout, since {since / 1e9:.6f} s (other threads "
        "still run, but none has released these locks):\n"
        + "\n".join(links)
        + "\nEvery thread:\n"
        + "\n".join(describe_task(t, world) for t in world._tasks.values())
    )


def stack(task: _Task) -> str:
    frame = task.glet.gr_frame if task.glet is not None else None
    entries = [
        e for e in traceback.extract_stack(frame) if e.filename not in _SIM_FILES
    ]  # fmt: skip
    return "".join(traceback.format_list(entries))


def busy(world: World, task: _Task) -> str:
    return (
        f"BUSY LOOP: thread {task.name!r} ran {world.busy_limit:g} s of real time without "
        "reaching a switch point (a lock it has to wait for, a Condition or Event wait, "
        "a queue get/put that waits, join or time.sleep): under the simulation no other "
        f"thread and no clock can move meanwhile. The rule: {RULE}. (Or it is blocked in "
        "what the simulation does not see: a lock or queue made before the World was "
        "installed, held by a simulated thread that waits, or a C call that blocks.)\n"
        f"At virtual time {world.now():.6f} s it was here:\n{stack(task)}"
    )


def livelock(world: World) -> str:
    return (
        f"LIVELOCK: threads kept running for {2 * world.busy_limit:g} s of real time, and "
        f"{world.decisions} scheduling decisions so far, but the virtual clock stayed at "
        f"{world.now():.6f} s: no thread sleeps or waits with a timeout long enough for "
        f"time to move (a loop that polls, or waits with a timeout of 0). The rule: {RULE}."
        "\nThreads:\n" + "\n".join(describe_task(t, world) for t in world._tasks.values())
    )


def unsupported(world: World, task: _Task | None, what: str) -> str:
    where = ""
    if task is not None:
        frame = task.glet.gr_frame if task.glet is not None else None
        where = f" (thread {task.name!r}, at {format_site(site(frame))})"
    return (
        f"UNSUPPORTED UNDER SIMULATION: {what}{where}. The simulation runs threads, locks, "
        "queues and time in virtual time, and cannot run this; run the test without SIM "
        "(no --sim, RAFTLAB_SIM unset)."
    )
