"""The one path by which the tester's extra checks see a cluster.

The safety checks (harness/safety.py) and the timeline (harness/timeline.py)
are Observers: Config tells each what it does (make, crash, connect, apply,
begin, a check passed, a failure), and cfg.rafts[i], a Peer, tells each what
a Raft answered to GetState(), Start() and inspect(). They need nothing else
from the Raft, so a student's Raft is observed without being wrapped or
patched, and without the optional inspect() it is observed through the rest.

Race mode (harness/race.py) is no Observer: it must instrument the class Raft
before Make() constructs a peer.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

from harness.applych import ApplyChannel
from harness.hangs import CallWatch

__all__ = ["CRASHED", "Observer", "Peer", "RaftPeer"]

# What inspect() answers when the peer crashed during the call (a sealed peer's
# process was killed): no answer, so no observer is told of one.
CRASHED: Any = type("Crashed", (), {"__repr__": lambda self: "CRASHED"})()


class RaftPeer(Protocol):
    """What the tester calls on a Raft peer: the lab's API (inspect() is optional)."""

    def GetState(self) -> tuple[int, bool]: ...

    def Start(self, command: Any) -> tuple[int, int, bool]: ...

    def Kill(self) -> None: ...

    def Snapshot(self, index: int, snapshot: bytes) -> None: ...


class Observer:
    """What the tester reports to its extra checks; each method is a no-op here.

    peer is the Peer of one incarnation of a server (peer.server is its index),
    so a restarted server is a new peer. started_at is time.monotonic() when
    the call began: the answer held at some moment after it.
    """

    def on_make(self, peer: Peer) -> None:
        """Make() just built peer: its server's first start, or a restart after a crash."""

    def on_crash(self, peer: Peer) -> None:
        """crash1 killed peer; its server is down until the next on_make."""

    def on_connect(self, server: int, connected: bool) -> None:
        """server was attached to the net (connected) or detached from it."""

    def on_get_state(self, peer: Peer, started_at: float, term: int, is_leader: bool) -> None:
        """peer's GetState() answered (term, is_leader)."""

    def on_start(
        self, peer: Peer, started_at: float, command: Any, index: int, term: int, is_leader: bool
    ) -> None:
        """peer's Start(command) answered (index, term, is_leader)."""

    def on_inspect(self, peer: Peer, started_at: float, info: Any, with_log: bool) -> None:
        """peer's inspect() answered info, as returned (with_log False: no log asked for)."""

    def on_apply(self, server: int, index: int, command: Any) -> None:
        """server applied command at index (after the applier's own checks)."""

    def on_begin(self, description: str) -> None:
        """The test began (cfg.begin)."""

    def on_check(self, text: str) -> None:
        """One of the tester's checks passed (text says which and what it found)."""

    def on_agree(self, command: Any, index: int, servers: int) -> None:
        """cfg.one() saw command committed at index on that many servers."""

    def on_note(self, text: str) -> None:
        """Something else worth showing: a network setting, "Passed"."""

    def on_fail(self, message: str) -> None:
        """The test failed with message (cfg.fatalf, or a failure in a tester thread)."""

    def on_cleanup(self, failed: bool, failures: Sequence[BaseException | None]) -> None:
        """The cluster is torn down; failed says whether the test failed, failures why."""


class Peer:
    """cfg.rafts[i]: the tester's handle on one Raft, through which observers see its answers.

    It has the lab's methods and calls them on the Raft (``.raft``) and nothing
    else; the Raft itself is left as Make() returned it.
    """

    def __init__(
        self,
        rf: RaftPeer,
        server: int,
        observers: Sequence[Observer],
        watch: CallWatch | None = None,
        apply_ch: ApplyChannel | None = None,
    ) -> None:
        self.raft: Any = rf
        self.server = server
        self._observers = observers  # Config's list: read at each call
        self._watch = watch  # fails the test if a call does not return (harness/hangs.py)
        self._apply_ch = apply_ch  # told when the tester waits in Snapshot() (harness/applych.py)

    def GetState(self) -> tuple[int, bool]:
        t = time.monotonic()
        with self._timed("GetState()"):
            term, is_leader = self.raft.GetState()
        for o in self._observers:
            o.on_get_state(self, t, term, bool(is_leader))
        return term, is_leader

    def Start(self, command: Any) -> tuple[int, int, bool]:
        t = time.monotonic()
        with self._timed("Start()"):
            index, term, is_leader = self.raft.Start(command)
        for o in self._observers:
            o.on_start(self, t, command, index, term, bool(is_leader))
        return index, term, is_leader

    def Kill(self) -> None:
        with self._timed("Kill()"):
            self.raft.Kill()

    def Snapshot(self, index: int, snapshot: bytes) -> None:
        ch = self._apply_ch
        busy = nullcontext() if ch is None else ch.receiver_busy("Snapshot()")
        with self._timed("Snapshot()"), busy:
            self.raft.Snapshot(index, snapshot)

    def _timed(self, call: str) -> AbstractContextManager[None]:
        if self._watch is None:
            return nullcontext()
        return self._watch.call(f"{call} on server {self.server}")

    def inspect(self, with_log: bool = True) -> Any:
        """The Raft's inspect() answer, or None if it has no inspect() (it is optional).

        with_log=False asks for no log; a hook that takes no argument is called
        without it."""
        hook = getattr(self.raft, "inspect", None)
        if not callable(hook):
            return None
        t = time.monotonic()
        if with_log:
            info = hook()
        else:
            try:
                info = hook(with_log=False)
            except TypeError:  # a hook without the argument
                info = hook()
        if info is CRASHED:
            return None
        for o in self._observers:
            o.on_inspect(self, t, info, with_log)
        return info

    def __repr__(self) -> str:
        return f"<server {self.server}: {self.raft!r}>"
