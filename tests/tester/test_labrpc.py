"""Unit tests of labrpc: twins of Go's src/labrpc/test_test.go, then the failure model,
Cleanup, and what labrpc refuses.

No handler here sleeps for long: Go's Handler3 sleeps 20 s; its twin waits on an Event
that the test sets at the end, so no thread outlives the test (conftest checks).
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

import labgob
import labrpc

# How long a test waits for threads it started before declaring them stuck.
JOIN_SECONDS = 30.0


@dataclass
class JunkArgs:
    X: int = 0


@dataclass
class JunkReply:
    X: str = ""


# Go's handlers reply into an *int or a *string; here replies are classes.
@dataclass
class IntReply:
    X: int = 0


@dataclass
class StrReply:
    X: str = ""


@dataclass
class ItemsArgs:
    Items: list[int] = field(default_factory=list)


@dataclass
class ItemsReply:
    Items: list[int] = field(default_factory=list)


for _cls in (JunkArgs, JunkReply, IntReply, StrReply, ItemsArgs, ItemsReply):
    labgob.Register(_cls)


class JunkServer:
    def __init__(self) -> None:
        self.mu = threading.Lock()
        self.log1: list[str] = []
        self.log2: list[int] = []
        self.items: list[int] = [1, 2, 3]
        self.stored: list[int] = []
        self.entered = threading.Event()  # Handler3 has started
        self.release = threading.Event()  # lets Handler3 return

    def Handler1(self, args: str, reply: IntReply) -> None:
        with self.mu:
            self.log1.append(args)
            reply.X = int(args)

    def Handler2(self, args: int, reply: StrReply) -> None:
        with self.mu:
            self.log2.append(args)
            reply.X = "handler2-" + str(args)

    def Handler3(self, args: int, reply: IntReply) -> None:
        # Go: time.Sleep(20 * time.Second) while holding mu
        with self.mu:
            self.entered.set()
            assert self.release.wait(JOIN_SECONDS), "Handler3 was never released"
            reply.X = -args

    def Handler4(self, args: JunkArgs, reply: JunkReply) -> None:
        args.X = 12345  # the caller's args are a different object
        reply.X = "pointer"

    def Handler5(self, args: JunkArgs, reply: JunkReply) -> None:
        reply.X = "no pointer"

    def Handler6(self, args: str, reply: IntReply) -> None:
        with self.mu:
            reply.X = len(args)

    def Handler7(self, args: int, reply: StrReply) -> None:
        with self.mu:
            reply.X = "y" * args

    # -- not in Go's test

    def Handler8(self, args: int, reply: JunkReply) -> None:
        """Leaves the reply at its default."""

    def Items(self, args: ItemsArgs, reply: ItemsReply) -> None:
        with self.mu:
            self.stored = args.Items
            reply.Items = self.items

    def Fail(self, args: int, reply: IntReply) -> None:
        raise ValueError(f"handler failure {args}")

    def Snapshot(self, index: int, snapshot: bytes) -> None:
        """Two parameters, but the second is a builtin: not a handler."""


@pytest.fixture
def rn() -> Iterator[labrpc.Network]:
    net = labrpc.MakeNetwork()
    yield net
    net.Cleanup()


@pytest.fixture
def js() -> Iterator[JunkServer]:
    server = JunkServer()
    yield server
    server.release.set()


def serve(rn: labrpc.Network, js: JunkServer, servername: Any) -> None:
    rs = labrpc.MakeServer()
    rs.AddService(labrpc.MakeService(js))
    rn.AddServer(servername, rs)


def connected_end(
    rn: labrpc.Network, endname: Any, servername: Any, enabled: bool = True
) -> labrpc.ClientEnd:
    e = rn.MakeEnd(endname)
    rn.Connect(endname, servername)
    rn.Enable(endname, enabled)
    return e


class Clients:
    """Runs fn(i) on n threads; results[i] is what it returned, finished[i] when."""

    def __init__(self, n: int, fn: Callable[[int], Any], prefix: str = "tester-client") -> None:
        self.results: list[Any] = [None] * n
        self.finished: list[float | None] = [None] * n
        self.errors: list[BaseException] = []
        self.start = time.monotonic()
        self.threads = [
            threading.Thread(target=self._run, args=(fn, i), name=f"{prefix}-{i}") for i in range(n)
        ]
        for t in self.threads:
            t.start()

    def _run(self, fn: Callable[[int], Any], i: int) -> None:
        try:
            self.results[i] = fn(i)
        except BaseException as e:  # reported by join()
            self.errors.append(e)
        finally:
            self.finished[i] = time.monotonic()

    def done_count(self) -> int:
        return sum(f is not None for f in self.finished)

    def join(self, timeout: float = JOIN_SECONDS) -> list[Any]:
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self.threads if t.is_alive()]
        assert not stuck, f"client threads still running after {timeout} s: {stuck}"
        if self.errors:
            raise self.errors[0]
        return self.results


def run_clients(n: int, fn: Callable[[int], Any]) -> list[Any]:
    return Clients(n, fn).join()


def binomial_bounds(n: int, p: float, z: float = 5.0) -> tuple[float, float]:
    """mean -+ z standard deviations of Binomial(n, p); z=5 is outside ~1 run in 10^6."""
    mean = n * p
    sd = math.sqrt(n * p * (1 - p))
    return mean - z * sd, mean + z * sd


# ---------------------------------------------------------------- Go's tests


def test_Basic(rn: labrpc.Network, js: JunkServer) -> None:
    e = rn.MakeEnd("end1-99")
    serve(rn, js, "server99")
    rn.Connect("end1-99", "server99")
    rn.Enable("end1-99", True)

    reply = StrReply()
    assert e.Call("JunkServer.Handler2", 111, reply) is True
    assert reply.X == "handler2-111", "wrong reply from Handler2"

    reply1 = IntReply()
    assert e.Call("JunkServer.Handler1", "9099", reply1) is True
    assert reply1.X == 9099, "wrong reply from Handler1"

    assert js.log1 == ["9099"] and js.log2 == [111]


def test_Types(rn: labrpc.Network, js: JunkServer) -> None:
    """Go checks pointer and non-pointer args; in Python args always arrive as a copy."""
    e = connected_end(rn, "end1-99", "server99")
    serve(rn, js, "server99")

    args = JunkArgs()
    reply = JunkReply()
    assert e.Call("JunkServer.Handler4", args, reply)
    assert reply.X == "pointer", "wrong reply from Handler4"
    assert args.X == 0, "the handler's change to its args reached the caller"

    args = JunkArgs()
    reply = JunkReply()
    assert e.Call("JunkServer.Handler5", args, reply)
    assert reply.X == "no pointer", "wrong reply from Handler5"


def test_Disconnect(rn: labrpc.Network, js: JunkServer) -> None:
    """Does net.Enable(endname, False) really disconnect a client?"""
    e = rn.MakeEnd("end1-99")
    serve(rn, js, "server99")
    rn.Connect("end1-99", "server99")

    reply = StrReply()
    assert e.Call("JunkServer.Handler2", 111, reply) is False
    assert reply.X == "", "unexpected reply from Handler2"
    assert js.log2 == [], "the handler ran for a disabled end"

    rn.Enable("end1-99", True)

    reply1 = IntReply()
    assert e.Call("JunkServer.Handler1", "9099", reply1) is True
    assert reply1.X == 9099, "wrong reply from Handler1"


def test_Counts(rn: labrpc.Network, js: JunkServer) -> None:
    e = connected_end(rn, "end1-99", 99)
    serve(rn, js, 99)

    for i in range(17):
        reply = StrReply()
        assert e.Call("JunkServer.Handler2", i, reply)
        wanted = "handler2-" + str(i)
        assert reply.X == wanted, f"wrong reply {reply.X} from Handler2, expecting {wanted}"

    n = rn.GetCount(99)
    assert n == 17, f"wrong GetCount() {n}, expected 17"
    assert rn.GetTotalCount() == 17


# Bytes a labgob-encoded call may add to its payload: the framing of the args plus the
# whole reply object, whose encoding names its class and field. Measured: ~5 bytes of
# args framing and ~45 bytes for IntReply/StrReply in this module, so about 2x headroom,
# the same spirit as Go's bounds ("about 5000": payload -1%, +23%).
OVERHEAD_PER_CALL = 100


def test_Bytes(rn: labrpc.Network, js: JunkServer) -> None:
    e = connected_end(rn, "end1-99", 99)
    serve(rn, js, 99)

    args = "x" * 72
    args = args + args
    args = args + args
    for _ in range(17):
        reply = IntReply()
        assert e.Call("JunkServer.Handler6", args, reply)
        wanted = len(args)
        assert reply.X == wanted, f"wrong reply {reply.X} from Handler6, expecting {wanted}"

    n = rn.GetTotalBytes()
    lo, hi = 17 * len(args), 17 * (len(args) + OVERHEAD_PER_CALL)
    assert lo <= n <= hi, f"wrong GetTotalBytes() {n}, expected between {lo} and {hi}"

    for _ in range(17):
        arg = 107
        reply2 = StrReply()
        assert e.Call("JunkServer.Handler7", arg, reply2)
        got = len(reply2.X)
        assert got == arg, f"wrong reply len={got} from Handler7, expecting {arg}"

    nn = rn.GetTotalBytes() - n
    lo, hi = 17 * 107, 17 * (107 + OVERHEAD_PER_CALL)
    assert lo <= nn <= hi, f"wrong GetTotalBytes() {nn}, expected between {lo} and {hi}"


def test_ConcurrentMany(rn: labrpc.Network, js: JunkServer) -> None:
    """RPCs from concurrent ClientEnds."""
    serve(rn, js, 1000)
    nclients = 20
    nrpcs = 10

    def client(i: int) -> int:
        e = connected_end(rn, i, 1000)
        n = 0
        for j in range(nrpcs):
            arg = i * 100 + j
            reply = StrReply()
            e.Call("JunkServer.Handler2", arg, reply)
            wanted = "handler2-" + str(arg)
            assert reply.X == wanted, f"wrong reply {reply.X} from Handler2, expecting {wanted}"
            n += 1
        return n

    total = sum(run_clients(nclients, client))
    wanted = nclients * nrpcs
    assert total == wanted, f"wrong number of RPCs completed, got {total}, expected {wanted}"
    n = rn.GetCount(1000)
    assert n == total, f"wrong GetCount() {n}, expected {total}"


def test_Unreliable(rn: labrpc.Network, js: JunkServer) -> None:
    rn.Reliable(False)
    serve(rn, js, 1000)
    nclients = 300

    def client(i: int) -> int:
        e = connected_end(rn, i, 1000)
        arg = i * 100
        reply = StrReply()
        ok = e.Call("JunkServer.Handler2", arg, reply)
        if ok:
            wanted = "handler2-" + str(arg)
            assert reply.X == wanted, f"wrong reply {reply.X} from Handler2, expecting {wanted}"
            return 1
        assert reply.X == "", "a failed Call changed the reply"
        return 0

    total = sum(run_clients(nclients, client))
    assert total != nclients and total != 0, "all RPCs succeeded despite unreliable"


def test_ConcurrentOne(rn: labrpc.Network, js: JunkServer) -> None:
    """Concurrent RPCs from a single ClientEnd."""
    serve(rn, js, 1000)
    e = connected_end(rn, "c", 1000)
    nrpcs = 20

    def client(i: int) -> int:
        arg = 100 + i
        reply = StrReply()
        e.Call("JunkServer.Handler2", arg, reply)
        wanted = "handler2-" + str(arg)
        assert reply.X == wanted, f"wrong reply {reply.X} from Handler2, expecting {wanted}"
        return 1

    total = sum(run_clients(nrpcs, client))
    assert total == nrpcs, f"wrong number of RPCs completed, got {total}, expected {nrpcs}"
    with js.mu:
        assert sorted(js.log2) == [100 + i for i in range(nrpcs)], "wrong RPCs delivered"
    n = rn.GetCount(1000)
    assert n == total, f"wrong GetCount() {n}, expected {total}"


def test_Regression1(rn: labrpc.Network, js: JunkServer) -> None:
    """An RPC that's delayed during Enabled=False should not delay subsequent RPCs
    (e.g. after Enabled=True)."""
    serve(rn, js, 1000)
    e = connected_end(rn, "c", 1000, enabled=False)

    # start some RPCs while the ClientEnd is disabled. they'll be delayed.
    nrpcs = 20

    def client(i: int) -> bool:
        reply = StrReply()
        return e.Call("JunkServer.Handler2", 100 + i, reply)  # ought to return False

    clients = Clients(nrpcs, client)
    time.sleep(0.1)

    # now enable the ClientEnd and check that an RPC completes quickly.
    t0 = time.monotonic()
    rn.Enable("c", True)
    reply = StrReply()
    assert e.Call("JunkServer.Handler2", 99, reply)
    assert reply.X == "handler2-99", f"wrong reply {reply.X} from Handler2, expecting handler2-99"
    dur = time.monotonic() - t0
    assert dur <= 0.05, f"RPC took too long ({dur:.3f} s) after Enable"  # Go: 0.03

    results = clients.join()
    assert results == [False] * nrpcs, "a Call sent while disabled succeeded"
    with js.mu:
        assert len(js.log2) == 1, f"wrong number ({len(js.log2)}) of RPCs delivered, expected 1"
    n = rn.GetCount(1000)
    assert n == 1, f"wrong GetCount() {n}, expected 1"


def test_Killed(rn: labrpc.Network, js: JunkServer) -> None:
    """If an RPC is stuck in a server, and the server is killed with DeleteServer(),
    does the RPC get un-stuck?"""
    e = connected_end(rn, "end1-99", "server99")
    serve(rn, js, "server99")

    call = Clients(1, lambda _: e.Call("JunkServer.Handler3", 99, IntReply()))
    try:
        assert js.entered.wait(5.0), "Handler3 was never called"
        time.sleep(0.1)
        assert call.done_count() == 0, "Handler3 should not have returned yet"

        rn.DeleteServer("server99")
        t0 = time.monotonic()
        while call.done_count() == 0 and time.monotonic() - t0 < 0.5:
            time.sleep(0.005)
        assert call.done_count() == 1, "Handler3 should return after DeleteServer()"
        assert call.join() == [False], "Handler3 returned successfully despite DeleteServer()"
    finally:
        js.release.set()
        call.join()


def test_Benchmark(rn: labrpc.Network, js: JunkServer) -> None:
    """Go's TestBenchmark, small and for correctness only; speed is `make bench`'s job."""
    e = connected_end(rn, "end1-99", "server99")
    serve(rn, js, "server99")
    n = 1000
    for _ in range(n):
        reply = StrReply()
        e.Call("JunkServer.Handler2", 111, reply)
        assert reply.X == "handler2-111", "wrong reply from Handler2"
    assert rn.GetCount("server99") == n


# ---------------------------------------------------------------- the failure model


def test_unreliable_drops_and_delays(rn: labrpc.Network, js: JunkServer) -> None:
    """Reliable(False): each request is delayed 0-26 ms, then ~10% of requests are
    dropped (the handler never runs) and ~10% of replies are dropped (it ran, but Call
    returns False). Bounds are 5 standard deviations of the binomial distributions."""
    rn.Reliable(False)
    serve(rn, js, "s")
    nclients, ncalls = 20, 50
    n = nclients * ncalls
    durations: list[float] = []
    dlock = threading.Lock()

    def client(i: int) -> int:
        e = connected_end(rn, ("unreliable", i), "s")
        ok_count = 0
        for j in range(ncalls):
            arg = i * 1000 + j
            reply = StrReply()
            t0 = time.monotonic()
            ok = e.Call("JunkServer.Handler2", arg, reply)
            dt = time.monotonic() - t0
            with dlock:
                durations.append(dt)
            if ok:
                assert reply.X == f"handler2-{arg}"
                ok_count += 1
        return ok_count

    succeeded = sum(run_clients(nclients, client))
    with js.mu:
        executed = len(js.log2)
    assert rn.GetTotalCount() == n
    assert rn.GetCount("s") == executed

    lo, hi = binomial_bounds(n, 0.9)
    assert lo <= executed <= hi, f"{executed} of {n} requests reached the handler; expected ~90%"
    lo, hi = binomial_bounds(executed, 0.9)
    assert lo <= succeeded <= hi, (
        f"{succeeded} of {executed} executed calls got a reply; expected ~90%"
    )

    # delays: uniform 0..26 ms (mean 13 ms) plus a little overhead
    ms = sorted(d * 1000 for d in durations)
    mean = statistics.fmean(ms)
    short = sum(m < 5 for m in ms) / n  # ~5/27 = 18.5%
    long = sum(m >= 20 for m in ms) / n  # ~7/27 = 26%
    slow = sum(m >= 80 for m in ms) / n
    summary = f"mean {mean:.1f} ms, <5 ms {short:.0%}, >=20 ms {long:.0%}, >=80 ms {slow:.1%}"
    assert 9 <= mean <= 22, summary
    assert short >= 0.05 and long >= 0.10, summary
    assert slow <= 0.02, summary


def test_disabled_end_fails_after_0_to_100ms(rn: labrpc.Network, js: JunkServer) -> None:
    serve(rn, js, "s")
    e = connected_end(rn, "e", "s", enabled=False)
    n = 20

    def client(i: int) -> tuple[bool, float]:
        t0 = time.monotonic()
        ok = e.Call("JunkServer.Handler2", i, StrReply())
        return ok, time.monotonic() - t0

    results = run_clients(n, client)
    oks = [ok for ok, _ in results]
    durs = [d for _, d in results]
    assert oks == [False] * n
    assert max(durs) <= 0.25, f"a Call to a disabled end took {max(durs):.3f} s"
    # uniform 0..100 ms: P(all < 30 ms) = 0.3^20
    assert max(durs) >= 0.03 and min(durs) <= 0.07, f"no spread in the delays: {sorted(durs)}"
    assert js.log2 == [] and rn.GetCount("s") == 0

    # a deleted server behaves the same
    rn.Enable("e", True)
    rn.DeleteServer("s")
    for i in range(5):
        t0 = time.monotonic()
        assert e.Call("JunkServer.Handler2", i, StrReply()) is False
        assert time.monotonic() - t0 <= 0.25
    assert js.log2 == []


def test_disabled_end_with_LongDelays_takes_longer(rn: labrpc.Network, js: JunkServer) -> None:
    """LongDelays(True): a disabled end fails after 0-7000 ms. Sample 20 calls for 1 s
    (each returns in that time with p = 1/7), then Cleanup() ends the rest."""
    serve(rn, js, "s")
    e = connected_end(rn, "e", "s", enabled=False)
    rn.LongDelays(True)
    n = 20
    clients = Clients(n, lambda i: e.Call("JunkServer.Handler2", i, StrReply()))
    time.sleep(1.0)
    returned = clients.done_count()
    # Binomial(20, 1/7): mean 2.9; P(>= 12) < 1e-6. Without long delays all 20 return.
    assert returned < 12, f"{returned} of {n} calls returned within 1 s despite LongDelays"

    t0 = time.monotonic()
    rn.Cleanup()
    results = clients.join(timeout=5.0)
    assert time.monotonic() - t0 <= 1.0, "Cleanup() did not end the pending calls promptly"
    assert results == [False] * n


def test_LongReordering_holds_some_replies(rn: labrpc.Network, js: JunkServer) -> None:
    """LongReordering(True): 2/3 of replies are held back 200-2200 ms."""
    serve(rn, js, "s")
    rn.LongReordering(True)
    n = 30

    def client(i: int) -> tuple[bool, str]:
        e = connected_end(rn, ("reorder", i), "s")
        reply = StrReply()
        ok = e.Call("JunkServer.Handler2", i, reply)
        return ok, reply.X

    clients = Clients(n, client)
    time.sleep(0.15)
    early = clients.done_count()
    # P(none held) = (1/3)^30, P(all held) = (2/3)^30 ~ 5e-6
    assert 0 < early < n, f"{early} of {n} replies arrived within 150 ms; expected ~1/3"
    rn.Cleanup()
    results = clients.join(timeout=5.0)
    for i, (ok, x) in enumerate(results):
        assert not ok or x == f"handler2-{i}"
    assert sum(ok for ok, _ in results) >= early
    assert rn.GetCount("s") == n, "every request should have reached the handler"


# ---------------------------------------------------------------- Cleanup


def labrpc_threads(before: set[threading.Thread]) -> list[str]:
    return [
        t.name for t in threading.enumerate() if t not in before and t.name.startswith("labrpc")
    ]


def wait_no_labrpc_threads(before: set[threading.Thread], timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while labrpc_threads(before) and time.monotonic() < deadline:
        time.sleep(0.01)
    return labrpc_threads(before)


def test_Cleanup_fails_pending_call_and_ends_threads(js: JunkServer) -> None:
    before = set(threading.enumerate())
    rn = labrpc.MakeNetwork()
    try:
        e = connected_end(rn, "e", "s")
        serve(rn, js, "s")
        call = Clients(1, lambda _: e.Call("JunkServer.Handler3", 7, IntReply()))
        assert js.entered.wait(5.0), "Handler3 was never called"

        t0 = time.monotonic()
        rn.Cleanup()
        assert call.join(timeout=5.0) == [False]
        took = time.monotonic() - t0
        assert took <= 0.5, f"the pending Call returned {took:.3f} s after Cleanup()"

        # later Calls fail at once and reach no handler
        t0 = time.monotonic()
        assert e.Call("JunkServer.Handler2", 1, StrReply()) is False
        assert time.monotonic() - t0 <= 0.05
        assert js.log2 == []
    finally:
        js.release.set()
        rn.Cleanup()
    left = wait_no_labrpc_threads(before, 2.0)
    assert not left, f"labrpc threads alive after Cleanup() and the handler returned: {left}"


def test_Cleanup_ends_idle_threads_at_once(rn: labrpc.Network, js: JunkServer) -> None:
    before = set(threading.enumerate())
    serve(rn, js, "s")
    e = connected_end(rn, "e", "s")

    def client(i: int) -> bool:
        return e.Call("JunkServer.Handler2", i, StrReply())

    assert run_clients(10, client) == [True] * 10
    rn.Cleanup()
    # at once, not after some idle timeout of labrpc's threads
    left = wait_no_labrpc_threads(before, 0.5)
    assert not left, f"labrpc threads alive 0.5 s after Cleanup(): {left}"


# ---------------------------------------------------------------- values and references


def test_reply_defaults_overwrite_stale_values(rn: labrpc.Network, js: JunkServer) -> None:
    """The twin of Go's labgob TestDefault at the RPC level: the handler leaves the reply
    at its defaults; the caller's reply held non-default values, which must not survive."""
    e = connected_end(rn, "e", "s")
    serve(rn, js, "s")
    reply = JunkReply(X="stale")
    assert e.Call("JunkServer.Handler8", 0, reply)
    assert reply.X == ""


def test_no_references_cross_the_network(rn: labrpc.Network, js: JunkServer) -> None:
    e = connected_end(rn, "e", "s")
    serve(rn, js, "s")
    args = ItemsArgs(Items=[7, 8])
    reply = ItemsReply()
    filled = reply
    assert e.Call("JunkServer.Items", args, reply)
    assert reply is filled, "Call must fill the caller's reply in place"
    assert reply.Items == [1, 2, 3] and js.stored == [7, 8]

    reply.Items.append(4)  # the caller's copy, not the server's list
    args.Items.append(9)
    assert js.items == [1, 2, 3]
    assert js.stored == [7, 8]


def test_handler_exception_is_reported_and_Call_returns_False(
    rn: labrpc.Network, js: JunkServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", seen.append)
    e = connected_end(rn, "e", "s")
    serve(rn, js, "s")
    assert e.Call("JunkServer.Fail", 5, IntReply()) is False
    assert len(seen) == 1
    assert seen[0].exc_type is ValueError and "handler failure 5" in str(seen[0].exc_value)


# ---------------------------------------------------------------- bad inputs


def test_unknown_service_or_method(rn: labrpc.Network, js: JunkServer) -> None:
    e = connected_end(rn, "e", "s")
    serve(rn, js, "s")

    with pytest.raises(labrpc.LabrpcError) as ei:
        e.Call("Nope.Handler2", 1, StrReply())
    assert "Nope" in str(ei.value) and "JunkServer" in str(ei.value), str(ei.value)

    with pytest.raises(labrpc.LabrpcError) as ei:
        e.Call("JunkServer.Nope", 1, StrReply())
    msg = str(ei.value)
    assert "Nope" in msg and "Handler2" in msg and "Handler7" in msg, msg

    # Snapshot(self, index: int, snapshot: bytes) is not a handler
    with pytest.raises(labrpc.LabrpcError) as ei:
        e.Call("JunkServer.Snapshot", 1, StrReply())
    assert "Handler2" in str(ei.value)

    assert js.log2 == []


class Unannotated:
    def Handler(self, args, reply):  # type: ignore[no-untyped-def]
        reply.X = args


def test_unannotated_handler_is_skipped_and_a_Call_to_it_says_why(rn: labrpc.Network) -> None:
    """Like Go's labrpc, MakeService skips what does not look like a handler (a
    helper taking two arguments); a Call to it explains the missing annotations."""
    svc = labrpc.MakeService(Unannotated())
    assert "Handler" not in svc.methods
    e = connected_end(rn, "e", "s")
    srv = labrpc.MakeServer()
    srv.AddService(svc)
    rn.AddServer("s", srv)
    with pytest.raises(labrpc.LabrpcError) as ei:
        e.Call("Unannotated.Handler", 1, IntReply())
    msg = str(ei.value)
    assert "Unannotated.Handler(self, args, reply) is not fully annotated" in msg, msg
    # says how to fix it: annotate args and reply
    assert "def Handler(self, args: ArgsType, reply: ReplyType) -> None" in msg, msg


@dataclass
class NeedsArgs:
    """Cannot be built with no arguments, so it can be no reply."""

    Term: int


@dataclass
class Unregistered:
    X: int = 0


@dataclass
class Holder:
    Inner: Any = None


labgob.Register(Holder)


class LooksLikeHandlers:
    """Methods a student's Raft may have beside its handlers."""

    def Vote(self, args: int, reply: IntReply) -> None:
        reply.X = args

    def sendVote(self, server: int, args: NeedsArgs) -> bool:
        """A helper shaped like the skeleton's sendRequestVote: returns something."""
        return False

    def BadReply(self, args: int, reply: NeedsArgs) -> None:
        """A handler whose reply needs arguments."""

    def Unresolvable(self, args: NoSuchClass, reply: IntReply) -> None:  # type: ignore[name-defined]  # noqa: F821
        """A handler whose annotation names a class that does not exist."""

    def Bare(self, args, reply):  # type: ignore[no-untyped-def]
        """A handler whose annotations were forgotten."""


def serve_service(rn: labrpc.Network, rcvr: Any) -> labrpc.ClientEnd:
    e = connected_end(rn, "e", "s")
    srv = labrpc.MakeServer()
    srv.AddService(labrpc.MakeService(rcvr))
    rn.AddServer("s", srv)
    return e


def test_only_handler_shaped_methods_are_handlers_and_none_stops_MakeService(
    rn: labrpc.Network,
) -> None:
    """Go takes (args, *reply) methods that return nothing: a helper returning a
    value is skipped, and a handler written wrong is skipped with its reason."""
    svc = labrpc.MakeService(LooksLikeHandlers())
    assert sorted(svc.methods) == ["Vote"]
    assert sorted(svc.refused) == ["BadReply", "Bare", "Unresolvable"]
    e = serve_service(rn, LooksLikeHandlers())
    reply = IntReply()
    assert e.Call("LooksLikeHandlers.Vote", 7, reply) and reply.X == 7
    with pytest.raises(labrpc.LabrpcError, match=r"reply type NeedsArgs of .*BadReply.* must be "
                       r"constructible with no arguments \(give every field a default\)"):
        e.Call("LooksLikeHandlers.BadReply", 1, IntReply())
    with pytest.raises(labrpc.LabrpcError, match=r"cannot resolve the annotations of "
                       r"LooksLikeHandlers\.Unresolvable\(self, args, reply\): .*NoSuchClass"):
        e.Call("LooksLikeHandlers.Unresolvable", 1, IntReply())
    with pytest.raises(labrpc.LabrpcError, match="expecting one of \\['Vote'\\]"):
        e.Call("LooksLikeHandlers.sendVote", 1, IntReply())


def test_a_class_is_examined_again_once_its_methods_change() -> None:
    """labrpc remembers what it found of a class (a restart need not resolve its
    annotations again), but not past a change to its methods."""

    class Changing:
        def Vote(self, args: int, reply: IntReply) -> None:
            reply.X = args

    assert sorted(labrpc.MakeService(Changing()).methods) == ["Vote"]

    def Ping(self: object, args: int, reply: IntReply) -> None:
        reply.X = -args

    Changing.Ping = Ping  # type: ignore[attr-defined]
    assert sorted(labrpc.MakeService(Changing()).methods) == ["Ping", "Vote"]
    del Changing.Vote
    assert sorted(labrpc.MakeService(Changing()).methods) == ["Ping"]


def test_unannotated_handler_comes_first_whatever_else_is_wrong(rn: labrpc.Network) -> None:
    """Args of an unregistered class to a handler without annotations: the fix is to
    annotate it (then labrpc registers the class), so that is what the Call says."""
    e = serve_service(rn, LooksLikeHandlers())
    with pytest.raises(labrpc.LabrpcError) as ei:
        e.Call("LooksLikeHandlers.Bare", Unregistered(), IntReply())
    assert str(ei.value).startswith(
        "labrpc: LooksLikeHandlers.Bare(self, args, reply) is not fully annotated"
    )


def test_unregistered_args_say_both_ways_to_fix_it(rn: labrpc.Network) -> None:
    e = serve_service(rn, LooksLikeHandlers())
    with pytest.raises(labrpc.LabrpcError) as ei:
        e.Call("LooksLikeHandlers.Vote", Unregistered(), IntReply())
    msg = str(ei.value)
    assert "Call('LooksLikeHandlers.Vote') cannot send its args" in msg, msg
    assert "Either the handler LooksLikeHandlers.Vote takes int" in msg, msg
    assert "or call labgob.Register(Unregistered) once, at import" in msg, msg


def test_an_unregistered_class_inside_args_says_to_register_it(rn: labrpc.Network) -> None:
    e = serve_service(rn, LooksLikeHandlers())
    with pytest.raises(labrpc.LabrpcError) as ei:
        e.Call("LooksLikeHandlers.Vote", Holder(Inner=Unregistered()), IntReply())
    msg = str(ei.value)
    assert "value.Inner: cannot encode" in msg and "Unregistered" in msg, msg
    assert "labrpc registers only a handler's annotated args and reply classes" in msg, msg


def test_MakeEnd_twice_is_an_error(rn: labrpc.Network) -> None:
    rn.MakeEnd("dup")
    with pytest.raises(labrpc.LabrpcError) as ei:
        rn.MakeEnd("dup")
    assert "dup" in str(ei.value)
