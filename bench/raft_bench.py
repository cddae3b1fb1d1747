"""Raft figures: commit throughput, failover latency, a long run with snapshots,
threads under stress."""

from __future__ import annotations

import itertools
import os
import queue
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import labgob
import labrpc
import raft

# As the tester's applierSnap does (tests/harness/config.py): a snapshot every ten entries.
SNAPSHOT_INTERVAL = 10


class Cluster:
    """n Raft peers on a reliable network, wired the way the tester wires them."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.net = labrpc.MakeNetwork()
        self.apply_chs: list[queue.Queue[Any]] = [queue.Queue() for _ in range(n)]
        self.rafts: list[raft.Raft] = []
        for i in range(n):
            ends = []
            for j in range(n):
                name = f"{i}->{j}"
                ends.append(self.net.MakeEnd(name))
                self.net.Connect(name, j)
                self.net.Enable(name, True)
            rf = raft.Make(ends, i, raft.MakePersister(), self.apply_chs[i])
            srv = labrpc.MakeServer()
            srv.AddService(labrpc.MakeService(rf))
            self.net.AddServer(i, srv)
            self.rafts.append(rf)

    def set_connected(self, i: int, connected: bool) -> None:
        for j in range(self.n):
            self.net.Enable(f"{i}->{j}", connected)
            self.net.Enable(f"{j}->{i}", connected)

    def leader(self, among: list[int], timeout: float = 10.0) -> int:
        """Poll every 2 ms until exactly one of `among` says it leads."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leaders = [i for i in among if self.rafts[i].GetState()[1]]
            if len(leaders) == 1:
                return leaders[0]
            time.sleep(0.002)
        raise RuntimeError("no leader")

    def close(self) -> None:
        for rf in self.rafts:
            rf.Kill()
        self.net.Cleanup()


def throughput(seconds: float = 3.0, clients: int = 4) -> float:
    """Commands applied on every one of 3 peers per second, with clients calling Start flat out."""
    cluster = Cluster(3)
    try:
        leader = cluster.leader(list(range(3)))
        stop = threading.Event()

        def client() -> None:
            while not stop.is_set():
                if not cluster.rafts[leader].Start(0)[2]:
                    return

        applied = [0] * 3

        def drain(i: int) -> None:
            ch = cluster.apply_chs[i]
            while not stop.is_set() or not ch.empty():
                try:
                    ch.get(timeout=0.1)
                except queue.Empty:
                    continue
                applied[i] += 1

        threads = [threading.Thread(target=client, name="bench-client") for _ in range(clients)]
        threads += [threading.Thread(target=drain, args=(i,), name="bench-drain") for i in range(3)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(seconds)
        done = min(applied)
        elapsed = time.perf_counter() - start
        stop.set()
        for t in threads:
            t.join()
        return done / elapsed
    finally:
        cluster.close()


def failover(trials: int = 50) -> list[float]:
    """Seconds from disconnecting a 3-peer cluster's leader until another peer leads."""
    cluster = Cluster(3)
    times = []
    try:
        leader = cluster.leader(list(range(3)))
        for _ in range(trials):
            time.sleep(0.3)  # let heartbeats settle so each trial starts from a steady state
            cluster.set_connected(leader, False)
            start = time.monotonic()
            others = [i for i in range(3) if i != leader]
            new = cluster.leader(others)
            times.append(time.monotonic() - start)
            cluster.set_connected(leader, True)
            leader = new
    finally:
        cluster.close()
    return times


def peak_threads_figure8_unreliable() -> int:
    """Run the Figure8Unreliable test in this process, sampling the thread count."""
    import pytest

    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, threading.active_count())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, name="bench-sampler", daemon=True)
    sampler.start()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tests = os.path.join(repo, "tests", "lab")
    try:
        code = pytest.main(["-q", "-p", "no:cacheprovider", "-k", "Figure8Unreliable3C", tests])
    finally:
        stop.set()
        sampler.join()
    if code != 0:
        print("Figure8Unreliable failed; the thread figure is not meaningful", file=sys.stderr)
    return peak


def _rss_bytes() -> int:
    """This process's resident set size now (Linux: /proc/self/statm), else 0."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@dataclass
class Stretch:
    """One part of the snapshot run: how far it got and the most it used."""

    commands: int  # applied on all 3 peers by the end of it
    seconds: float  # since the run began
    peak_rss: int  # bytes, the largest sample (every 50 ms) of this process's RSS in this part
    peak_state: int  # bytes, the largest persisted Raft state of any peer in this part


def snapshot_run(commands: int = 200_000, parts: int = 4, window: int = 1000) -> list[Stretch]:
    """commands through 3 peers, each peer's service snapshotting every
    SNAPSHOT_INTERVAL entries, as the tester's applierSnap does; clients call
    Start flat out with at most `window` commands not yet applied on the leader.
    Returns the run in `parts` stretches, to show memory and state staying flat."""
    cluster = Cluster(3)
    try:
        leader = cluster.leader(list(range(3)))
        applied = [0] * 3  # the last index each peer's service applied
        done = threading.Event()
        window_left = threading.Semaphore(window)
        failure: list[str] = []

        def service(i: int) -> None:
            """The state machine: a count and a checksum, saved as a fixed-size snapshot."""
            rf, ch = cluster.rafts[i], cluster.apply_chs[i]
            count = checksum = 0
            while not done.is_set():
                try:
                    m = ch.get(timeout=0.1)
                except queue.Empty:
                    continue
                if m.SnapshotValid:
                    _, count, checksum = labgob.decode(m.Snapshot)
                    applied[i] = m.SnapshotIndex
                    continue
                if m.CommandIndex != applied[i] + 1:
                    failure.append(f"peer {i} applied {m.CommandIndex} after {applied[i]}")
                    done.set()
                    return
                count += 1
                checksum = (checksum * 31 + m.Command) % (1 << 61)
                applied[i] = m.CommandIndex
                if i == leader:
                    window_left.release()
                if (m.CommandIndex + 1) % SNAPSHOT_INTERVAL == 0:
                    rf.Snapshot(m.CommandIndex, labgob.encode([m.CommandIndex, count, checksum]))
                if min(applied) >= commands:
                    done.set()

        numbers = itertools.count(1)

        def client() -> None:
            rf = cluster.rafts[leader]
            while not done.is_set():
                if not window_left.acquire(timeout=0.1):
                    continue
                index, _, ok = rf.Start(next(numbers))
                if not ok:
                    failure.append(f"peer {leader} lost the lead")
                    done.set()
                    return
                if index >= commands:
                    return

        threads = [threading.Thread(target=service, args=(i,), name="bench-service")
                   for i in range(3)]  # fmt: skip
        threads += [threading.Thread(target=client, name="bench-client") for _ in range(4)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        stretches: list[Stretch] = []
        peak_rss = peak_state = 0
        while not done.wait(0.05):
            peak_rss = max(peak_rss, _rss_bytes())
            peak_state = max(peak_state, *(rf.persister.RaftStateSize() for rf in cluster.rafts))
            if min(applied) >= commands * (len(stretches) + 1) // parts:
                stretches.append(
                    Stretch(min(applied), time.perf_counter() - start, peak_rss, peak_state)
                )
                peak_rss = peak_state = 0
        if len(stretches) < parts and not failure:
            stretches.append(
                Stretch(min(applied), time.perf_counter() - start, peak_rss, peak_state)
            )
        for t in threads:
            t.join()
        if failure:
            raise RuntimeError(f"snapshot run: {failure[0]}")
        return stretches
    finally:
        cluster.close()


def snapshot_report(quick: bool) -> None:
    commands = 20_000 if quick else 200_000
    runs = [snapshot_run(commands) for _ in range(1 if quick else 3)]
    rates = [run[-1].commands / run[-1].seconds for run in runs]
    print(
        f"raft with snapshots every {SNAPSHOT_INTERVAL} entries, {commands} commands through "
        f"3 peers: {statistics.median(rates):6.0f} commands/s applied on all 3, median of "
        f"{len(runs)} ({', '.join(f'{x:.0f}' for x in rates)})"
    )
    for n, run in enumerate(runs, start=1):
        rss = " ".join(f"{s.peak_rss / 2**20:.1f}" for s in run)
        state = " ".join(str(s.peak_state) for s in run)
        print(
            f"    run {n}, per quarter of the commands: peak RSS {rss} MiB; "
            f"largest persisted Raft state {state} bytes"
        )


def percentile(xs: list[float], p: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def report(quick: bool) -> None:
    runs = 1 if quick else 3
    for clients in (1, 4):
        tp = [throughput(1.0 if quick else 3.0, clients) for _ in range(runs)]
        print(
            f"raft commit throughput, {clients} client(s) calling Start flat out: "
            f"{statistics.median(tp):6.0f} commands/s applied on all 3 peers, median of {runs} "
            f"({', '.join(f'{x:.0f}' for x in tp)})"
        )
    times = failover(10 if quick else 50)
    print(
        f"raft failover: median {statistics.median(times) * 1000:4.0f} ms, "
        f"p99 {percentile(times, 99) * 1000:4.0f} ms over {len(times)} trials"
    )
