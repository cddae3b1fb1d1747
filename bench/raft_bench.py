"""Raft figures: commit throughput, failover latency, threads under stress."""

from __future__ import annotations

import os
import queue
import statistics
import sys
import threading
import time
from typing import Any

import labrpc
import raft


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
