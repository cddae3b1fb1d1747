"""labrpc speed: Go's TestBenchmark shape, then many concurrent clients."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import labrpc


@dataclass
class StrReply:
    X: str = ""


class JunkServer:
    def Handler2(self, args: int, reply: StrReply) -> None:
        reply.X = f"handler2-{args}"


def _network() -> tuple[labrpc.Network, labrpc.Server]:
    net = labrpc.MakeNetwork()
    srv = labrpc.MakeServer()
    srv.AddService(labrpc.MakeService(JunkServer()))
    net.AddServer("server99", srv)
    return net, srv


def sequential(calls: int = 100_000) -> float:
    """Microseconds per call, one client calling back to back (Go's TestBenchmark)."""
    net, _ = _network()
    try:
        end = net.MakeEnd("end1-99")
        net.Connect("end1-99", "server99")
        net.Enable("end1-99", True)
        reply = StrReply()
        start = time.perf_counter()
        for i in range(calls):
            if not end.Call("JunkServer.Handler2", i, reply) or reply.X != f"handler2-{i}":
                raise RuntimeError(f"call {i} failed: {reply}")
        return (time.perf_counter() - start) / calls * 1e6
    finally:
        net.Cleanup()


def concurrent(clients: int = 20, seconds: float = 2.0) -> float:
    """Calls per second with several clients calling at once, each on its own end."""
    net, _ = _network()
    counts = [0] * clients
    stop = threading.Event()

    def client(i: int) -> None:
        end = net.MakeEnd(f"c{i}")
        net.Connect(f"c{i}", "server99")
        net.Enable(f"c{i}", True)
        reply = StrReply()
        while not stop.is_set():
            if end.Call("JunkServer.Handler2", i, reply):
                counts[i] += 1

    threads = [
        threading.Thread(target=client, args=(i,), name=f"bench-client-{i}") for i in range(clients)
    ]
    try:
        start = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join()
        return sum(counts) / (time.perf_counter() - start)
    finally:
        net.Cleanup()
