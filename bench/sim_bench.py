"""The simulation's switch cost (tests/harness/sim): a greenlet switch, a hand-off
between two real threads, and a hand-off between two simulated threads (a greenlet
switch there and back through the scheduler, plus the lock's own bookkeeping); and
3A's InitialElection in real and in virtual time."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable

import greenlet

_TESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)  # the harness imports as harness.*, as under pytest

from harness import sim  # noqa: E402

_real_perf = time.perf_counter  # taken before any World patches time


def greenlet_switch(n: int) -> float:
    """Microseconds per switch between two greenlets (n round trips, 2n switches)."""
    main = greenlet.getcurrent()

    def other() -> None:
        while True:
            main.switch()

    g = greenlet.greenlet(other)
    g.switch()
    t0 = time.perf_counter()
    for _ in range(n):
        g.switch()
    elapsed = time.perf_counter() - t0
    return elapsed / (2 * n) * 1e6


def _ping_pong(n: int) -> Callable[[], None]:
    """Two threads taking turns n times each through two locks used as semaphores."""

    def body() -> None:
        a, b = threading.Lock(), threading.Lock()
        a.acquire()
        b.acquire()

        def pong() -> None:
            for _ in range(n):
                a.acquire()
                b.release()

        t = threading.Thread(target=pong)
        t.start()
        for _ in range(n):
            a.release()
            b.acquire()
        t.join()

    return body


def thread_handoff(n: int) -> float:
    """Microseconds per hand-off between two real threads (2n hand-offs)."""
    body = _ping_pong(n)
    t0 = time.perf_counter()
    body()
    return (time.perf_counter() - t0) / (2 * n) * 1e6


def sim_handoff(n: int) -> float:
    """Microseconds (real) per hand-off between two simulated threads."""
    body = _ping_pong(n)
    with sim.World(1) as w:
        start = _real_perf()
        w.run(body)
        elapsed = _real_perf() - start
    return elapsed / (2 * n) * 1e6


def initial_election(simulated: bool) -> tuple[float, float]:
    """(wall seconds, test seconds) of tests/lab's test_InitialElection3A."""
    os.environ.setdefault("RAFTLAB_SEED", "5")
    from lab.test_raft_3a import test_InitialElection3A

    start = _real_perf()
    if simulated:
        with sim.World(5) as w:
            w.run(test_InitialElection3A)
        return _real_perf() - start, w.now()
    test_InitialElection3A()
    elapsed = _real_perf() - start
    return elapsed, elapsed


def report(quick: bool) -> None:
    n = 20_000 if quick else 200_000
    g = min(greenlet_switch(n) for _ in range(3))
    t = min(thread_handoff(n // 10) for _ in range(3))
    s = min(sim_handoff(n // 10) for _ in range(3))
    print(f"greenlet switch:               {g:6.2f} us (best of 3 runs of {2 * n} switches)")
    print(f"real thread hand-off:          {t:6.2f} us (two threads, two locks)")
    print(f"simulated thread hand-off:     {s:6.2f} us (the same code under sim.World)")
    print(f"  a real hand-off costs {t / s:.1f}x a simulated one, {t / g:.0f}x a greenlet switch")
    wall, virtual = initial_election(simulated=True)
    print(f"InitialElection3A simulated:   {wall:6.2f} s wall for {virtual:.2f} s of test time")
    if not quick:
        wall, _ = initial_election(simulated=False)
        print(f"InitialElection3A real time:   {wall:6.2f} s wall")



def lab_suite(simulated: bool, target: str = "tests/lab") -> tuple[float, bool]:
    """Wall seconds of a child pytest over target, real time or simulated; passed?"""
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAFTLAB_")}
    env.update(RAFTLAB_SIM="1" if simulated else "", PYTHONHASHSEED="0")
    t0 = _real_perf()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    return _real_perf() - t0, done.returncode == 0


def suite_report(quick: bool) -> None:
    """The whole lab suite (Go's tests and beyond), real time against simulated, by
    turns in one run; and 3A simulated alone."""
    import statistics

    rounds = 1 if quick else 2
    real, simulated, failed = [], [], 0
    for _ in range(rounds):
        for mode, into in ((False, real), (True, simulated)):
            seconds, ok = lab_suite(mode)
            into.append(seconds)
            failed += not ok
    part_3a = [lab_suite(True, "tests/lab/test_raft_3a.py")[0] for _ in range(3)]
    r, s = statistics.median(real), statistics.median(simulated)
    print(
        f"lab suite (42 tests): {r:6.1f} s real time, {s:5.1f} s simulated = {r / s:.1f}x "
        f"faster (medians of {rounds} runs each, by turns; failed runs {failed}); "
        f"3A simulated {statistics.median(part_3a):.2f} s wall (median of 3, with pytest's start)"
    )


if __name__ == "__main__":
    report("--quick" in sys.argv)
