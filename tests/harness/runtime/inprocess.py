"""Peers in the test's own process, as Go's tester runs them (the default runtime).

Make() runs here and its Raft is handed to labrpc as a Service; the tester
calls the Raft directly. What the tester learns of the code under test it
learns from the Raft class itself: its handlers (harness/rpckinds.py), its
silent mistakes (harness/causes.py), and in race mode its rf.mu discipline,
checked by instrumenting the class (harness/race.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import labrpc
from harness import race as racecheck
from harness import runtime
from harness.applych import ApplyChannel
from harness.causes import Causes
from harness.hangs import ThreadPlace, local_thread_places
from harness.observe import Peer, RaftPeer
from harness.rpckinds import RpcKinds
from harness.thread_errors import ThreadErrors
from labrpc.service import register_handler_types

# raft.persister imports the raft package, and so the student's raft.py: in-process, at
# once (a raft.py that cannot be imported fails the tests as they load); never in a
# sealed test process, which must run no student code.
if TYPE_CHECKING or not runtime.sealed_enabled():
    from raft.persister import Persister

__all__ = ["InProcess", "raft_class_of"]


def raft_class_of(make: Any) -> type | None:
    """The class Make() constructs: the class a Make names as its raft_class
    attribute (a test of the tester building a subclass), or else its module's Raft."""
    import sys

    cls = getattr(make, "raft_class", None) or getattr(sys.modules[make.__module__], "Raft", None)
    return cls if isinstance(cls, type) else None


class InProcess:
    """The peers are objects of this process; their threads are this process's."""

    name = "in-process"
    observers: list[Any] = []  # told what the tester does, after Config's own

    def __init__(
        self,
        fail: Callable[[BaseException], None],
        violation: Callable[[str], None],
        make: Any,
        race: bool,
    ) -> None:
        from raft import Make

        self._baseline = set(threading.enumerate())
        self._make: Callable[..., Any] = Make if make is None else make
        raft_class = raft_class_of(self._make)
        if raft_class is not None:
            # Before Make() starts any thread: a peer's first Call must not find the
            # classes of its handlers unregistered (MakeService comes after Make).
            register_handler_types(raft_class)
        # From the first peer's class if Make names none.
        self.rpc_kinds = RpcKinds.of_class(raft_class) if raft_class is not None else None
        self.causes = Causes(raft_class)
        # An uncaught exception in a Raft thread fails the test as its cause.
        self.thread_errors = ThreadErrors(fail)
        self.thread_errors.install()
        self.race: racecheck.RaceChecker | None = None
        self.before_put: Callable[[], None] | None = None
        if race:
            if raft_class is None:
                self.thread_errors.uninstall()
                raise RuntimeError(
                    f"race mode: {self._make.__module__} has no class Raft for Make to build"
                )
            self.race = racecheck.RaceChecker(violation)
            self.race.instrument(raft_class)
            self.before_put = self.race.check_put

    def MakePersister(self) -> Persister:
        from raft.persister import Persister

        return Persister()

    def make_peer(
        self,
        i: int,
        ends: list[labrpc.ClientEnd],
        endnames: list[str],
        persister: runtime.Persister,
        apply_ch: ApplyChannel,
    ) -> tuple[RaftPeer, labrpc.Server]:
        rf = self._make(ends, i, persister, apply_ch)
        if self.rpc_kinds is None:
            self.rpc_kinds = RpcKinds.of_class(type(rf))
        svc = labrpc.MakeService(rf)
        srv = labrpc.MakeServer()
        srv.AddService(svc)
        return rf, srv

    def crash(self, i: int, peer: Peer) -> None:
        """A Raft object cannot be killed: Kill() it; the tester has cut its links, and
        a copy of its persister keeps it from overwriting its successor's state."""
        peer.Kill()

    def thread_places(self) -> list[ThreadPlace]:
        return local_thread_places()

    def close(self, grace: float) -> list[BaseException]:
        if self.race is not None:
            self.race.close()
        self._await_quiet(grace)
        self.thread_errors.uninstall()
        return []

    def _await_quiet(self, grace: float) -> None:
        """Give threads started during the test (Raft's, labrpc's) time to end after Kill."""
        deadline = time.monotonic() + grace
        me = threading.current_thread()
        while time.monotonic() < deadline:
            extra = [
                t for t in threading.enumerate()
                if t not in self._baseline and t is not me and t.is_alive()
            ]  # fmt: skip
            if not extra:
                return
            extra[0].join(max(0.0, min(0.1, deadline - time.monotonic())))
