"""The tester's simulation of threads and time (harness/sim): each primitive in virtual
time, what it catches (deadlock, busy loop, livelock, unsupported primitive), the
determinism of its digest, and a lab test of the reference Raft run simulated."""

from __future__ import annotations

import _thread
import importlib
import os
import queue
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from harness import sim
from harness.sim import world as sim_world

# Real clocks, for what a test measures of the simulation itself.
_wall = time.perf_counter


def run(fn: Callable[[], Any], seed: int = 1, **opts: Any) -> tuple[Any, sim.World]:
    with sim.World(seed, **opts) as w:
        return w.run(fn), w


def now() -> float:
    w = sim.current_world()
    assert w is not None
    return round(w.now(), 9)


# -- install and uninstall ------------------------------------------------------------


def test_install_patches_and_uninstall_restores_exactly() -> None:
    names = [
        (threading, "_start_new_thread"),
        (threading, "_allocate_lock"),
        (threading, "Lock"),
        (threading, "RLock"),
        (threading, "get_ident"),
        (threading, "_time"),
        (threading, "local"),
        (_thread, "allocate_lock"),
        (_thread, "start_new_thread"),
        (time, "sleep"),
        (time, "monotonic"),
        (time, "time_ns"),
        (queue, "SimpleQueue"),
        (queue, "time"),
        (sys, "_current_frames"),
        (threading.Condition, "wait"),
        (random.Random, "seed"),
        (socket.socket, "__init__"),
    ]
    before = [vars(t).get(n) for t, n in names]
    with sim.World(1):
        during = [vars(t).get(n) for t, n in names]
        assert all(a is not b for a, b in zip(before, during, strict=True))
    assert [vars(t).get(n) for t, n in names] == before
    assert "RLock" in vars(_thread) and time.sleep is before[9]


def test_other_os_threads_keep_real_time_and_real_threads() -> None:
    seen: dict[str, Any] = {}
    go, done = _thread.allocate_lock(), _thread.allocate_lock()
    go.acquire()
    done.acquire()

    def real_thread() -> None:
        go.acquire()
        t0 = time.monotonic()
        time.sleep(0.01)
        seen["slept"] = time.monotonic() - t0
        seen["lock"] = type(threading.Lock())
        done.release()

    real = threading.Thread(target=real_thread)
    real.start()
    with sim.World(1) as w:

        def main() -> None:
            time.sleep(100)
            go.release()
            while not done.acquire(False):
                time.sleep(0.001)  # virtual: real time passes only as the loop runs

        w.run(main)
    real.join()
    assert 0.005 < seen["slept"] < 1.0
    assert seen["lock"] is type(_thread.allocate_lock())


# -- locks ---------------------------------------------------------------------------


def test_lock_excludes_and_a_contended_acquire_switches() -> None:
    def main() -> list[str]:
        mu = threading.Lock()
        events = []

        def worker(name: str) -> None:
            for _ in range(3):
                with mu:
                    events.append(f"{name}+")
                    time.sleep(0.01)  # others wait for mu meanwhile
                    events.append(f"{name}-")

        ts = [threading.Thread(target=worker, args=(n,)) for n in "abc"]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return events

    events, w = run(main)
    assert len(events) == 18
    for i in range(0, 18, 2):  # never two holders at once
        assert events[i][0] == events[i + 1][0] and events[i].endswith("+")
    assert w.now() == pytest.approx(0.09)


def test_lock_acquire_timeout_is_virtual() -> None:
    def main() -> tuple[bool, float, bool, bool]:
        mu = threading.Lock()
        mu.acquire()
        t0 = time.monotonic()
        got = mu.acquire(timeout=5)
        waited = time.monotonic() - t0
        threading.Timer(1, mu.release).start()
        got2 = mu.acquire(timeout=5)
        return got, waited, got2, mu.acquire(blocking=False)

    t0 = _wall()
    (got, waited, got2, again), w = run(main)
    assert (got, got2, again) == (False, True, False)
    assert waited == pytest.approx(5.0)
    assert w.now() == pytest.approx(6.0)
    assert _wall() - t0 < 1.0


def test_rlock_reentrant_and_exclusive() -> None:
    def main() -> list[tuple[str, float]]:
        mu = threading.RLock()
        log = []

        def other() -> None:
            with mu:
                log.append(("other", now()))

        with mu, mu:
            t = threading.Thread(target=other)
            t.start()
            time.sleep(2)
            log.append(("main", now()))
        t.join()
        return log

    log, _ = run(main)
    assert log == [("main", 2.0), ("other", 2.0)]


def test_condition_wait_timeout_and_notify() -> None:
    def main() -> list[Any]:
        cond = threading.Condition()
        out: list[Any] = []
        with cond:
            out.append(cond.wait(timeout=1.5))  # nobody notifies: times out
            out.append(now())

        def notifier() -> None:
            time.sleep(0.25)
            with cond:
                cond.notify_all()

        threading.Thread(target=notifier).start()
        with cond:
            out.append(cond.wait(timeout=10))
            out.append(now())
        with cond:  # wait_for with a predicate that never holds
            out.append(cond.wait_for(lambda: False, timeout=2))
            out.append(now())
        return out

    out, _ = run(main)
    assert out == [False, 1.5, True, 1.75, False, 3.75]


def test_event_semaphore_bounded_semaphore() -> None:
    def main() -> list[Any]:
        out: list[Any] = []
        ev = threading.Event()
        out.append(ev.wait(0.5))
        threading.Timer(2, ev.set).start()
        out.append(ev.wait())
        out.append(now())
        sem = threading.Semaphore(1)
        out.append(sem.acquire())
        out.append(sem.acquire(timeout=0.5))
        threading.Timer(1, sem.release).start()
        out.append(sem.acquire(timeout=5))
        out.append(now())
        bs = threading.BoundedSemaphore(1)
        with pytest.raises(ValueError):
            bs.release()
        return out

    out, _ = run(main)
    assert out == [False, True, 2.5, True, False, True, 4.0]


def test_queue_get_put_block_and_time_out() -> None:
    def main() -> list[Any]:
        out: list[Any] = []
        q: queue.Queue[int] = queue.Queue(maxsize=1)
        try:
            q.get(timeout=3)
        except queue.Empty:
            out.append(("empty", now()))
        q.put(1)
        try:
            q.put(2, timeout=1)
        except queue.Full:
            out.append(("full", now()))

        def consumer() -> None:
            time.sleep(2)
            out.append(("got", q.get(), now()))
            out.append(("got", q.get(), now()))

        threading.Thread(target=consumer).start()
        q.put(3)  # waits for the consumer's first get
        out.append(("put", now()))
        sq: queue.SimpleQueue[str] = queue.SimpleQueue()
        threading.Timer(0.5, sq.put, args=("x",)).start()
        out.append(("simple", sq.get(timeout=5), now()))
        try:
            sq.get(timeout=0.25)
        except queue.Empty:
            out.append(("simple-empty", now()))
        return out

    out, _ = run(main)
    assert out == [
        ("empty", 3.0),
        ("full", 4.0),
        ("got", 1, 6.0),
        ("put", 6.0),
        ("got", 3, 6.0),
        ("simple", "x", 6.5),
        ("simple-empty", 6.75),
    ]


def test_timer_fires_and_cancels() -> None:
    def main() -> list[Any]:
        fired: list[Any] = []
        t1 = threading.Timer(3, lambda: fired.append(("t1", now())))
        t2 = threading.Timer(1, lambda: fired.append(("t2", now())))
        t1.start()
        t2.start()
        t3 = threading.Timer(2, lambda: fired.append("t3"))
        t3.start()
        time.sleep(1.5)
        t3.cancel()
        for t in (t1, t2, t3):
            t.join()
        return fired

    fired, _ = run(main)
    assert fired == [("t2", 1.0), ("t1", 3.0)]


def test_join_with_timeout() -> None:
    def main() -> list[Any]:
        t = threading.Thread(target=time.sleep, args=(10,))
        t.start()
        t.join(timeout=4)
        out: list[Any] = [t.is_alive(), now()]
        t.join()
        out += [t.is_alive(), now()]
        return out

    out, _ = run(main)
    assert out == [True, 4.0, False, 10.0]


def test_sleeps_wake_in_deadline_order_and_time_jumps() -> None:
    def main() -> list[Any]:
        woke: list[Any] = []

        def sleeper(d: float) -> None:
            time.sleep(d)
            woke.append((d, now()))

        ts = [threading.Thread(target=sleeper, args=(d,)) for d in (5, 0.001, 3600, 2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return woke

    t0 = _wall()
    woke, w = run(main)
    assert woke == [(0.001, 0.001), (2, 2.0), (5, 5.0), (3600, 3600.0)]
    assert w.now() == 3600.0
    assert _wall() - t0 < 1.0


def test_clocks_read_the_virtual_time() -> None:
    def main() -> list[float]:
        a = [time.monotonic(), time.time(), time.perf_counter(), time.monotonic_ns()]
        time.sleep(1.25)
        b = [time.monotonic(), time.time(), time.perf_counter(), time.monotonic_ns()]
        return [y - x for x, y in zip(a, b, strict=True)]

    diffs, _ = run(main)
    assert diffs[:3] == [pytest.approx(1.25)] * 3
    assert diffs[3] == 1_250_000_000
    with sim.World(1) as w:
        assert time.time() == sim_world.TIME_BASE_NS / 1e9  # fixed, whenever it runs
        time.sleep(2)  # outside run(): only the clock moves
        assert w.now() == 2.0


def test_thread_identity_local_enumerate_and_current_frames() -> None:
    def main() -> dict[str, Any]:
        data = threading.local()
        data.x = "main"
        seen: dict[str, Any] = {}

        def worker() -> None:
            seen["has_x"] = hasattr(data, "x")
            data.x = "worker"
            seen["current"] = threading.current_thread().name
            seen["ident"] = threading.get_ident() == threading.current_thread().ident
            seen["enumerate"] = sorted(t.name for t in threading.enumerate())
            seen["main"] = threading.main_thread() is main_thread
            seen["frames"] = threading.current_thread().ident in sys._current_frames()
            time.sleep(1)

        main_thread = threading.current_thread()
        t = threading.Thread(target=worker, name="w1")
        t.start()
        time.sleep(0.5)
        seen["frames_main"] = t.ident in sys._current_frames()
        t.join()
        seen["x"] = data.x
        return seen

    seen, _ = run(main)
    assert seen["has_x"] is False and seen["x"] == "main"
    assert seen["current"] == "w1" and seen["ident"] and seen["main"]
    assert "w1" in seen["enumerate"] and threading.current_thread().name in seen["enumerate"]
    assert seen["frames"] and seen["frames_main"]


def test_random_is_seeded_from_the_world() -> None:
    def main() -> tuple[float, float]:
        return random.random(), random.Random().random()

    a, _ = run(main, seed=7)
    b, _ = run(main, seed=7)
    c, _ = run(main, seed=8)
    assert a == b and a != c


# -- the end of a run ---------------------------------------------------------------


def test_run_waits_for_non_daemon_threads_and_ends_daemons() -> None:
    log: list[str] = []

    def main() -> str:
        def slow() -> None:
            time.sleep(5)
            log.append("non-daemon done")

        def forever() -> None:
            try:
                while True:
                    time.sleep(1)
            finally:
                log.append("daemon ended")

        threading.Thread(target=slow).start()
        threading.Thread(target=forever, daemon=True).start()
        return "main done"

    result, w = run(main)
    assert result == "main done"
    assert log == ["non-daemon done", "daemon ended"]
    assert w.now() == 5.0
    assert not [t for t in threading.enumerate() if t.name.startswith("Thread-")]


def test_run_raises_what_main_raises() -> None:
    def main() -> None:
        threading.Thread(target=time.sleep, args=(100,), daemon=True).start()
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        run(main)


def test_uncaught_thread_exception_goes_to_excepthook(monkeypatch: pytest.MonkeyPatch) -> None:
    got: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: got.append(args))

    def main() -> None:
        def bad() -> None:
            time.sleep(1)
            raise ValueError("in a thread")

        t = threading.Thread(target=bad, name="bad")
        t.start()
        t.join()

    run(main)
    assert len(got) == 1
    assert got[0].exc_type is ValueError and got[0].thread.name == "bad"


def test_interrupt_raises_in_a_waiting_thread() -> None:
    class Stop(Exception):
        pass

    def main() -> list[Any]:
        out: list[Any] = []
        ev = threading.Event()

        def waiter() -> None:
            try:
                ev.wait()
            except Stop:
                out.append(("stopped", now()))

        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(3)
        w = sim.current_world()
        assert w is not None
        out.append(w.interrupt(t, Stop()))
        t.join()
        return out

    out, _ = run(main)
    assert out == [True, ("stopped", 3.0)]


# -- what the simulation catches ------------------------------------------------------


def test_deadlock_reports_the_wait_for_graph() -> None:
    def main() -> None:
        a = threading.Lock()
        b = threading.Lock()

        def ab() -> None:
            with a:
                time.sleep(0.1)
                with b:
                    pass

        def ba() -> None:
            with b:
                time.sleep(0.1)
                with a:
                    pass

        t1 = threading.Thread(target=ab, name="ab")
        t2 = threading.Thread(target=ba, name="ba")
        t1.start()
        t2.start()
        t1.join()

    t0 = _wall()
    with pytest.raises(sim.DeadlockError) as info:
        run(main)
    assert _wall() - t0 < 1.0
    text = str(info.value)
    print(text)
    here = os.path.relpath(__file__)
    assert "DEADLOCK at virtual time 0.100000 s" in text
    assert "'ab': waits for the lock made at" in text and "(b = threading.Lock())" in text
    assert "held by 'ba'" in text and "'ba': waits for the lock made at" in text
    assert "(a = threading.Lock())" in text
    assert f"at {here}:" in text and "(with b:)" in text and "(with a:)" in text
    assert "waits for thread 'ab' to end" in text  # the main thread, in join
    assert "Locks held:" in text and "'ab' holds the lock made at" in text


def test_a_cycle_of_lock_waits_fails_while_other_threads_still_run() -> None:
    def main() -> None:
        mu = threading.Lock()

        def ticker() -> None:  # keeps timers pending: not every thread is blocked
            while True:
                time.sleep(0.01)

        def twice() -> None:
            with mu:
                mu.acquire()  # a thread taking a Lock it holds waits for ever

        threading.Thread(target=ticker, daemon=True).start()
        t = threading.Thread(target=twice, name="twice")
        t.start()
        time.sleep(0.5)
        with mu:  # the main thread waits behind it
            pass

    with pytest.raises(sim.DeadlockError) as info:
        run(main)
    text = str(info.value)
    assert "threads wait for each other's locks in a cycle" in text
    assert "'twice' waits for the lock made at" in text and "held by itself" in text
    assert "(mu.acquire()  # a thread taking a Lock it holds waits for ever)" in text
    assert "DEADLOCK at virtual time 1.000000 s" in text  # CYCLE_GRACE after it began


def test_a_lock_another_thread_releases_in_time_is_no_deadlock() -> None:
    def main() -> float:
        mu = threading.Lock()
        mu.acquire()
        threading.Timer(0.5, mu.release).start()  # Go-style: released by another thread
        mu.acquire()
        return now()

    assert run(main)[0] == 0.5


def test_busy_loop_is_reported_with_its_stack_and_the_rule() -> None:
    def main() -> None:
        flag = []

        def spin() -> None:
            while not flag:  # never sleeps or waits
                pass

        t = threading.Thread(target=spin, name="spinner", daemon=True)
        t.start()
        time.sleep(1)
        flag.append(1)

    t0 = _wall()
    with pytest.raises(sim.BusyLoopError) as info:
        run(main, busy_limit=0.5)
    assert _wall() - t0 < 5.0
    text = str(info.value)
    assert "BUSY LOOP: thread 'spinner'" in text and "every loop must sleep or wait" in text
    assert "while not flag:" in text and __file__ in text


_REAL_LOCK = threading.Lock()  # made at import, before any World: a real lock


def test_a_real_lock_held_across_a_switch_is_caught_by_the_watchdog() -> None:
    def main() -> None:
        def holder() -> None:
            with _REAL_LOCK:
                time.sleep(1)  # a switch point while holding a real lock

        threading.Thread(target=holder, daemon=True).start()
        time.sleep(0.1)
        with _REAL_LOCK:  # blocks the OS thread, every simulated thread with it
            pass

    with pytest.raises(sim.BusyLoopError) as info:
        run(main, busy_limit=0.5)
    assert "made before the World was installed" in str(info.value)
    assert "with _REAL_LOCK:  # blocks the OS thread" in str(info.value)
    assert not _REAL_LOCK.locked()  # the holder was ended, and released it


def test_livelock_is_reported() -> None:
    def main() -> None:
        ping: queue.Queue[int] = queue.Queue()
        pong: queue.Queue[int] = queue.Queue()

        def bounce() -> None:
            while True:
                pong.put(ping.get())

        threading.Thread(target=bounce, daemon=True).start()
        while True:  # switches at every get, but no clock ever moves
            ping.put(1)
            pong.get()

    with pytest.raises(sim.BusyLoopError, match="LIVELOCK"):
        run(main, busy_limit=0.5)


def test_time_limit() -> None:
    def main() -> None:
        while True:
            time.sleep(1)

    with pytest.raises(sim.SimTimeLimit, match="virtual time limit of 30 s"):
        run(main, time_limit=30)


@pytest.mark.parametrize(
    ("what", "call"),
    [
        ("socket", lambda: socket.socket()),
        ("subprocess", lambda: subprocess.run(["true"])),
        ("os.fork", lambda: os.fork()),
        ("select.select", lambda: __import__("select").select([], [], [], 0)),
        ("asyncio", lambda: __import__("asyncio").new_event_loop()),
        ("multiprocessing", lambda: __import__("multiprocessing").Process(target=print).start()),
    ],
)
def test_unsupported_primitive_fails_at_once(what: str, call: Callable[[], Any]) -> None:
    def main() -> None:
        def worker() -> None:
            try:
                call()
            except Exception:  # noqa: S110 - cannot swallow it: the run fails anyway
                pass

        t = threading.Thread(target=worker, name="user")
        t.start()
        t.join()

    with pytest.raises(sim.UnsupportedPrimitive) as info:
        run(main)
    text = str(info.value)
    assert what in text and "run the test without SIM" in text and "'user'" in text


# -- determinism -------------------------------------------------------------------------


def _racy() -> list[int]:
    """Threads that interleave wherever they wait: the order depends on the schedule."""
    order: list[int] = []
    mu = threading.Lock()
    cond = threading.Condition(mu)

    def worker(i: int) -> None:
        for k in range(5):
            with mu:
                order.append(i)
                cond.notify_all()
            time.sleep(0.01 * ((i + k) % 3))
            w = sim.current_world()
            assert w is not None
            w.record(f"{i}:{k}")

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return order


def test_same_seed_same_digest_other_seed_other_digest() -> None:
    runs = [run(_racy, seed=s) for s in (11, 11, 12)]
    (o1, w1), (o2, w2), (o3, w3) = runs
    assert o1 == o2 and w1.digest() == w2.digest() and w1.decisions == w2.decisions
    assert w1.decisions > 20
    assert w1.digest() != w3.digest()
    with sim.World(11) as w:
        w.run(_racy)
        w.record("one more event")
    assert w.digest() != w1.digest()


def test_preemption_is_seeded_too() -> None:
    (o1, w1), (o2, w2) = run(_racy, seed=3, preempt=0.3), run(_racy, seed=3, preempt=0.3)
    (_, w0) = run(_racy, seed=3)
    assert o1 == o2 and w1.digest() == w2.digest()
    assert w1.decisions > w0.decisions  # preemptions are decisions too


# -- a lab test of the reference Raft, simulated ------------------------------------------


def _lab(name: str) -> Callable[[], None]:
    module = importlib.import_module("lab.test_raft_3a")
    fn: Callable[[], None] = getattr(module, name)
    return fn


def test_reference_passes_InitialElection3A_simulated(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The lab's test function, unchanged, called inside World.run: it passes (it
    raises otherwise) in far less wall time than the virtual time it covers, with the
    same digest twice."""
    monkeypatch.setenv("RAFTLAB_SEED", "5")
    results = []
    for _ in range(2):
        t0 = _wall()
        with sim.World(5) as w:
            w.run(_lab("test_InitialElection3A"))
        results.append((_wall() - t0, w.now(), w.digest(), w.decisions))
    with capsys.disabled():
        for wall, virtual, digest, decisions in results:
            print(
                f"\nInitialElection3A simulated: {wall:.2f} s wall for {virtual:.2f} s "
                f"virtual, {decisions} decisions, digest {digest[:16]}"
            )
    (wall1, virtual1, digest1, _), (_, virtual2, digest2, _) = results
    assert digest1 == digest2 and virtual1 == virtual2
    assert virtual1 > 2 * 1.0  # it sleeps 2 * RaftElectionTimeout at least
    assert wall1 < virtual1 / 3
