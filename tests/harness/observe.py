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
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, NamedTuple, Protocol

from harness.applych import ApplyChannel
from harness.hangs import CallWatch

__all__ = ["CRASHED", "Observer", "Peer", "RaftPeer", "Sample", "SelfSampling", "call_hook"]

# What inspect() answers when the peer crashed during the call (a sealed peer's
# process was killed): no answer, so no observer is told of one.
CRASHED: Any = type("Crashed", (), {"__repr__": lambda self: "CRASHED"})()


class RaftPeer(Protocol):
    """What the tester calls on a Raft peer: the lab's API (inspect() is optional)."""

    def GetState(self) -> tuple[int, bool]: ...

    def Start(self, command: Any) -> tuple[int, int, bool]: ...

    def Kill(self) -> None: ...

    def Snapshot(self, index: int, snapshot: bytes) -> None: ...


class Sample(NamedTuple):
    """One reading of a peer as the timeline's sampler takes it (Peer.sample)."""

    at: float  # time.monotonic() when it was taken
    how: str  # "inspect()" or "GetState()"
    role: str  # as the timeline draws it: the hook's role, lower case, or "leader"/"not leader"
    term: int | None  # None: neither call answered
    seen_term: int | None  # what observers are told: the term, None if they are told nothing
    seen_leader: bool  # and whether it was leader


class SelfSampling:
    """A Raft handle whose peer is sampled where it runs, a sealed peer's host
    (runtime/sealed.py), so that a reading needs no round trip to it."""

    def samples(self) -> list[Sample]:
        """The samples taken since the last call, oldest first: each change of role
        or term, after the last sample of the state it ends."""
        raise NotImplementedError

    def inspections(self) -> list[tuple[float, Any]] | None:
        """The inspect() answers with the log taken since the last call, oldest
        first, each with when it was taken: each change, after the last sighting
        of the answer it ends. None if none are taken there (ask inspect())."""
        raise NotImplementedError


def take_sample(
    inspect: Callable[[], Any], get_state: Callable[[], tuple[int, bool]], at: float
) -> Sample:
    """A sample through inspect() (its answer without the log, None if there is no
    hook), else through GetState(); an exception in either counts as no answer."""
    try:
        info = inspect()
        if info is not None and info is not CRASHED:
            term, role = info["term"], info["role"]
            seen = term if isinstance(term, int) else None
            return Sample(at, "inspect()", str(role).lower(), int(term), seen, role == "leader")
    except Exception:
        pass
    try:
        term, is_leader = get_state()
        return Sample(at, "GetState()", "leader" if is_leader else "not leader", int(term),
                      term if isinstance(term, int) else None, bool(is_leader))  # fmt: skip
    except Exception:
        return Sample(at, "GetState()", "unknown", None, None, False)


def call_hook(hook: Any, with_log: bool) -> Any:
    """inspect(), with with_log=False only if asked for: a hook may not take it."""
    if with_log:
        return hook()
    try:
        return hook(with_log=False)
    except TypeError:  # a hook without the argument
        return hook()


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
        info = call_hook(hook, with_log)
        if info is CRASHED:
            return None
        for o in self._observers:
            o.on_inspect(self, t, info, with_log)
        return info

    def inspect_log(self) -> None:
        """Show the observers the peer's log, role and commitIndex (the safety
        checks' sample): an inspect() call, or what a SelfSampling handle's peer
        took since the last call, each with the time it was taken."""
        if isinstance(self.raft, SelfSampling):
            taken = self.raft.inspections()
            if taken is not None:
                for at, info in taken:
                    for o in self._observers:
                        o.on_inspect(self, at, info, True)
                return
        self.inspect()

    def samples(self) -> list[Sample]:
        """The peer's role and term since the last call, for the timeline, each told
        to the observers as the inspect() or GetState() answer it is: one sample
        taken now, or, from a SelfSampling handle, what its peer's own sampler took
        since the last call (each change, after the last sample of the state it
        ends), oldest first, each with the time it was taken."""
        if isinstance(self.raft, SelfSampling):
            taken = self.raft.samples()
            for sample in taken:
                self._tell(sample)
            return taken
        # Peer.inspect and Peer.GetState tell the observers themselves.
        return [take_sample(lambda: self.inspect(with_log=False), self.GetState, time.monotonic())]

    def _tell(self, sample: Sample) -> None:
        if sample.seen_term is None:
            return
        for o in self._observers:
            if sample.how == "inspect()":
                # The hook's role, as far as observers look at it: leader or not.
                role = "leader" if sample.seen_leader else "not leader"
                info = {"term": sample.seen_term, "role": role}
                o.on_inspect(self, sample.at, info, False)
            else:
                o.on_get_state(self, sample.at, sample.seen_term, sample.seen_leader)

    def __repr__(self) -> str:
        return f"<server {self.server}: {self.raft!r}>"
