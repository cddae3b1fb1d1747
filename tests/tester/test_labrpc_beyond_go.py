"""labrpc's modes beyond Go (duplicated requests, stale messages) and its reply hook.

The modes are off unless a test turns them on, so Go's tests keep Go's network.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass

import pytest

import labgob
import labrpc
from labrpc.network import DUPLICATE_MAX_MS, DUPLICATE_PER_MILLE, STALE_MAX_MS, STALE_PER_MILLE

# Every late copy has landed by then.
LATE = max(DUPLICATE_MAX_MS, STALE_MAX_MS) / 1000 + 0.5


@dataclass
class Echo:
    X: int = 0


labgob.Register(Echo)


class Recorder:
    def __init__(self) -> None:
        self.mu = threading.Lock()
        self.seen: list[int] = []  # guarded by mu

    def Handler(self, args: Echo, reply: Echo) -> None:
        with self.mu:
            self.seen.append(args.X)
        reply.X = args.X

    def count(self) -> int:
        with self.mu:
            return len(self.seen)


@pytest.fixture
def setup() -> Iterator[tuple[labrpc.Network, Recorder, labrpc.ClientEnd]]:
    net = labrpc.MakeNetwork(seed=1)
    rec = Recorder()
    srv = labrpc.MakeServer()
    srv.AddService(labrpc.MakeService(rec))
    net.AddServer("s", srv)
    end = net.MakeEnd("e")
    net.Connect("e", "s")
    net.Enable("e", True)
    yield net, rec, end
    net.Cleanup()


def call_all(end: labrpc.ClientEnd, xs: range, threads: int = 20) -> list[tuple[bool, float]]:
    """Call Handler with each x, `threads` at a time; (ok, seconds) for each."""
    results: list[tuple[bool, float]] = [(False, 0.0)] * len(xs)

    def run(k: int) -> None:
        for i in range(k, len(xs), threads):
            t0 = time.monotonic()
            reply = Echo()
            ok = end.Call("Recorder.Handler", Echo(xs[i]), reply)
            assert not ok or reply.X == xs[i]
            results[i] = (ok, time.monotonic() - t0)

    workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    return results


def test_modes_are_off_by_default(setup: tuple[labrpc.Network, Recorder, labrpc.ClientEnd]) -> None:
    net, rec, end = setup
    results = call_all(end, range(300))
    time.sleep(LATE)
    assert all(ok for ok, _ in results)
    assert sorted(rec.seen) == list(range(300)), "a request was delivered twice or lost"
    assert max(s for _, s in results) < 0.1


def test_duplicates_deliver_one_request_in_ten_twice(
    setup: tuple[labrpc.Network, Recorder, labrpc.ClientEnd],
) -> None:
    net, rec, end = setup
    net.set_duplicates(True)
    n = 1000
    results = call_all(end, range(n))
    time.sleep(LATE)
    assert all(ok for ok, _ in results), "a duplicate must not cost the original its reply"
    twice = [x for x in range(n) if rec.seen.count(x) == 2]
    assert set(rec.seen) == set(range(n)) and len(rec.seen) == n + len(twice)
    p = DUPLICATE_PER_MILLE / 1000
    assert n * p / 2 < len(twice) < n * p * 2, f"{len(twice)} of {n} delivered twice"


def test_stale_holds_one_request_and_one_reply_in_five(
    setup: tuple[labrpc.Network, Recorder, labrpc.ClientEnd],
) -> None:
    net, rec, end = setup
    net.set_stale(True)
    n = 300
    results = call_all(end, range(n), threads=30)
    assert all(ok for ok, _ in results)
    held = sum(s >= 0.09 for _, s in results)
    p = 1 - (1 - STALE_PER_MILLE / 1000) ** 2  # the request, the reply, or both
    assert n * p / 2 < held < n * p * 1.5, f"{held} of {n} calls held"
    assert max(s for _, s in results) < 2 * STALE_MAX_MS / 1000 + 0.5
    assert sorted(rec.seen) == list(range(n))


def test_a_held_request_arrives_after_its_link_is_cut(
    setup: tuple[labrpc.Network, Recorder, labrpc.ClientEnd],
) -> None:
    net, rec, end = setup
    net.set_stale(True)
    n = 60
    calls = threading.Thread(target=call_all, args=(end, range(n), n))  # all sent at once
    calls.start()
    # Cut the link once every call is on its way (counted as sent), some of them held.
    deadline = time.monotonic() + 30
    while net.GetTotalCount() < n and time.monotonic() < deadline:
        time.sleep(0.001)
    net.Enable("e", False)
    delivered_at_cut = rec.count()
    calls.join(60)
    time.sleep(LATE)
    assert delivered_at_cut < n, "no request was held"
    assert sorted(rec.seen) == list(range(n)), "a held request is in flight: it still arrives"


def test_reply_hook_crash_runs_before_the_reply_and_the_reply_still_arrives(
    setup: tuple[labrpc.Network, Recorder, labrpc.ClientEnd],
) -> None:
    net, rec, end = setup
    net.Reliable(False)  # the crash point's reply is never dropped
    seen: list[tuple[Hashable, str, object, object]] = []
    order: list[str] = []

    def crash() -> None:
        order.append("crash")
        net.Enable("e", False)
        net.DeleteServer("s")

    def hook(servername: Hashable, svc_meth: str, args: bytes, reply: bytes) -> Callable[[], None]:
        seen.append((servername, svc_meth, labgob.decode(args), labgob.decode(reply)))
        net.set_reply_hook(None)
        return crash

    net.set_reply_hook(hook)
    reply = Echo()
    ok = False
    while not ok:  # the request itself may be dropped
        ok = end.Call("Recorder.Handler", Echo(7), reply)
        order.append("reply")
    assert ok and reply.X == 7
    assert order[-2:] == ["crash", "reply"]
    assert seen == [("s", "Recorder.Handler", Echo(7), Echo(7))]
    assert not end.Call("Recorder.Handler", Echo(8), Echo()), "the server is down"


def test_deliver_copy_reaches_the_server_whatever_its_links(
    setup: tuple[labrpc.Network, Recorder, labrpc.ClientEnd],
) -> None:
    net, rec, end = setup
    net.Enable("e", False)
    assert net.deliver_copy("s", "Recorder.Handler", labgob.encode(Echo(5)))
    assert rec.seen == [5]
    assert not net.deliver_copy("nobody", "Recorder.Handler", labgob.encode(Echo(6)))
