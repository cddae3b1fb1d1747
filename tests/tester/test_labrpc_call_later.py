"""Network.call_later: call_bytes for a caller that does not wait (sealed mode's).

Both drivers carry the same journey (Network._journey), so the same seed gives
the same outcomes; what call_later adds is that no thread waits for a Call in
flight, and that it still always ends: by the handler's answer, by its server
dying, or by Cleanup.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import labgob
import labrpc
from labrpc.network import SERVER_CHECK_SECONDS
from labrpc.service import LabrpcError

Answer = tuple[bytes | None, LabrpcError | None]


@dataclass
class Echo:
    X: int = 0


labgob.Register(Echo)


class EchoService:
    def Handler(self, args: Echo, reply: Echo) -> None:
        reply.X = args.X


class LaterServer(labrpc.Server):
    """A server that answers when the test says so, as a sealed host does."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[bytes, Callable[[bytes | None, LabrpcError | None], None]]] = []

    def dispatch_later(
        self, svc_meth: str, args: bytes, done: Callable[[bytes | None, LabrpcError | None], None]
    ) -> None:
        self.calls.append((args, done))


def network(server: labrpc.Server, seed: int = 1) -> labrpc.Network:
    net = labrpc.MakeNetwork(seed=seed)
    net.AddServer("s", server)
    net.MakeEnd("e")
    net.Connect("e", "s")
    net.Enable("e", True)
    return net


def echo_server() -> labrpc.Server:
    srv = labrpc.MakeServer()
    srv.AddService(labrpc.MakeService(EchoService()))
    return srv


class Later:
    """One call_later's answer, waited for."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.on: list[str] = []
        self._ended = threading.Event()

    def __call__(self, reply: bytes | None, error: LabrpcError | None) -> None:
        self.answers.append((reply, error))
        self.on.append(threading.current_thread().name)
        self._ended.set()

    def wait(self, seconds: float = 5.0) -> Answer:
        assert self._ended.wait(seconds), "call_later never called back"
        return self.answers[0]


def call_later(net: labrpc.Network, x: int) -> Later:
    later = Later()
    net.call_later("e", "EchoService.Handler", labgob.encode(Echo(x)), later)
    return later


def test_the_same_seed_gives_call_later_the_outcomes_call_bytes_gets() -> None:
    outcomes: dict[str, list[Any]] = {}
    for way in ("call_bytes", "call_later"):
        net = network(echo_server(), seed=7)
        net.Reliable(False)
        got = []
        for x in range(120):
            if way == "call_bytes":
                reply = net.call_bytes("e", "EchoService.Handler", labgob.encode(Echo(x)))
            else:
                reply, error = call_later(net, x).wait()
                assert error is None
            got.append(None if reply is None else labgob.decode(reply).X)
        net.Cleanup()
        outcomes[way] = got
    assert outcomes["call_later"] == outcomes["call_bytes"]
    lost = outcomes["call_bytes"].count(None)
    assert 5 < lost < 60, lost  # requests and replies dropped, as Go's unreliable network


def test_no_thread_waits_for_a_call_in_flight_and_the_answer_ends_it_where_it_comes() -> None:
    server = LaterServer()
    net = network(server)
    before = threading.active_count()
    laters = [call_later(net, x) for x in range(20)]
    # One thread for them all: the network's timer, which checks their server.
    assert threading.active_count() == before + 1
    assert all(later.answers == [] for later in laters[1:])
    for (args, done), later in list(zip(server.calls, laters, strict=True))[1:]:
        done(args, None)
        assert later.wait() == (args, None)
    later = laters[0]
    args, done = server.calls[0]
    answering = threading.Thread(target=done, args=(args, None), name="the-answer")
    answering.start()
    answering.join()
    assert later.wait() == (args, None) and later.on == ["the-answer"]
    net.Cleanup()


def test_a_call_whose_server_dies_while_its_handler_runs_ends_with_no_reply() -> None:
    server = LaterServer()
    net = network(server)
    later = call_later(net, 1)
    start = time.monotonic()
    net.DeleteServer("s")
    assert later.wait() == (None, None)
    assert time.monotonic() - start < 3 * SERVER_CHECK_SECONDS + 0.5
    ((args, done),) = server.calls
    done(args, None)  # the dead server's late answer is not a second one
    assert len(later.answers) == 1
    net.Cleanup()


def test_cleanup_ends_every_call_and_leaves_no_labrpc_thread() -> None:
    server = LaterServer()
    net = network(server)
    net.LongDelays(True)
    net.MakeEnd("off")  # never enabled: its Call fails after up to 7 s
    waiting, delayed = call_later(net, 1), Later()
    net.call_later("off", "EchoService.Handler", labgob.encode(Echo(2)), delayed)
    time.sleep(0.05)  # let the timer thread start and wait
    start = time.monotonic()
    net.Cleanup()
    assert waiting.wait(1) == (None, None) and delayed.wait(1) == (None, None)
    assert time.monotonic() - start < 1.5
    assert [t.name for t in threading.enumerate() if t.name.startswith("labrpc-")] == []
    late = Later()
    net.call_later("e", "EchoService.Handler", labgob.encode(Echo(3)), late)
    assert late.wait(1) == (None, None)


def test_a_reply_hook_that_raises_is_reported_and_the_reply_still_delivered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reported: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: reported.append(args.exc_value))
    net = network(echo_server())

    def hook(servername: object, svc_meth: str, args: bytes, reply: bytes) -> None:
        raise RuntimeError("the hook broke")

    net.set_reply_hook(hook)
    # As call_bytes: the handler's reply is delivered, and the hook's error reported.
    assert call_later(net, 1).wait() == (labgob.encode(Echo(1)), None)
    assert net.call_bytes("e", "EchoService.Handler", labgob.encode(Echo(1))) is not None
    assert [str(e) for e in reported] == ["the hook broke"] * 2
    net.Cleanup()
