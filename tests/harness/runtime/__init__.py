"""Where a cluster's peers run: the one seam between Config and the Rafts.

Config owns what the tester trusts: the labrpc network, the persisters, the
applyCh channels, the checks and the report. A Runtime makes and unmakes the
peers behind it, and tells Config what only the peers' code can tell:

  * InProcess (runtime/inprocess.py): Make() in the test's own process, as Go's
    tester does. The default.
  * Sealed (runtime/sealed.py): each peer its own OS process, a peer host
    (harness/peerhost) that imports the student's raft; no student code runs in
    the test process. pytest --sealed, RAFTLAB_SEALED=1, make ... SEALED=1.

  * Simulated (runtime/simulated.py): in-process peers in a World of
    harness/sim, virtual time under a scheduler a seed determines. The World
    wraps the whole test (the tester's waits are virtual too), so pytest --sim
    (RAFTLAB_SIM=1, make ... SIM=1) runs each test inside one (harness/plugin.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from harness.applych import ApplyChannel
    from harness.hangs import ThreadPlace
    from harness.observe import Observer, Peer, RaftPeer
    from harness.race import RaceChecker
    from harness.rpckinds import RpcKinds
    from labrpc import ClientEnd, Server

__all__ = [
    "Causes",
    "Persister",
    "Runtime",
    "force_sealed",
    "force_sim",
    "sealed_enabled",
    "select",
    "sim_enabled",
]

Fail = Callable[[BaseException], None]


class Causes(Protocol):
    """The silent mistakes seen so far (harness/causes.py), put first in a failure."""

    def first(self, message: str) -> str: ...


class Persister(Protocol):
    """A peer's persister as the tester uses it: raft/persister.py's in-process, the
    tester's own Store sealed (harness/runtime/sealed.py)."""

    def Copy(self) -> Persister: ...
    def Save(self, raftstate: bytes, snapshot: bytes | None) -> None: ...
    def ReadRaftState(self) -> bytes: ...
    def ReadSnapshot(self) -> bytes: ...
    def RaftStateSize(self) -> int: ...
    def SnapshotSize(self) -> int: ...


class Runtime(Protocol):
    """What Config asks of the place its peers run in.

    make_peer returns the Raft's handle (the lab's calls: GetState, Start, Kill,
    Snapshot, and inspect if it has one) and the labrpc Server the network
    delivers its RPCs to. fail(e) fails the test (Config._record)."""

    @property
    def name(self) -> str:
        """The runtime's name in failures and reports: "in-process", "sealed"."""

    @property
    def rpc_kinds(self) -> RpcKinds | None:
        """Which handler is which RPC, once a peer is made."""

    @property
    def causes(self) -> Causes: ...

    @property
    def race(self) -> RaceChecker | None:
        """Race mode's checker, when it runs in this process."""

    @property
    def observers(self) -> list[Observer]:
        """The runtime's own, told what the tester does."""

    @property
    def before_put(self) -> Callable[[], None] | None:
        """Called at the start of each applyCh put."""

    def MakePersister(self) -> Persister: ...

    def make_peer(
        self,
        i: int,
        ends: list[ClientEnd],
        endnames: list[str],
        persister: Persister,
        apply_ch: ApplyChannel,
    ) -> tuple[RaftPeer, Server]: ...

    def crash(self, i: int, peer: Peer) -> None:
        """Crash server i's running peer, whose links the tester has cut."""

    def thread_places(self) -> list[ThreadPlace]:
        """Where each thread of the code under test is now (for a hang's report)."""

    def close(self, grace: float) -> list[BaseException]:
        """After every peer was Kill()ed and the network cleaned up: give the peers'
        threads grace seconds to end, stop, and return what went wrong."""


_sealed_forced = False
_sim_forced = False


def force_sim(on: bool = True) -> None:
    """Run every test simulated from now on (pytest --sim does this)."""
    global _sim_forced
    _sim_forced = on


def sim_enabled() -> bool:
    """pytest --sim, or RAFTLAB_SIM set to anything but "" or "0"."""
    return _sim_forced or os.environ.get("RAFTLAB_SIM", "") not in ("", "0")


def force_sealed(on: bool = True) -> None:
    """Run every Config sealed from now on (pytest --sealed does this)."""
    global _sealed_forced
    _sealed_forced = on


def sealed_enabled() -> bool:
    """pytest --sealed, or RAFTLAB_SEALED set to anything but "" or "0"."""
    return _sealed_forced or os.environ.get("RAFTLAB_SEALED", "") not in ("", "0")


def simulating() -> bool:
    """Is a simulation World running this thread's test? (harness.sim is imported only
    by a simulated run, so this never imports it.)"""
    sim = sys.modules.get("harness.sim")
    return sim is not None and sim.current_world() is not None


def select(
    fail: Fail, violation: Callable[[str], None], make: Any, race: bool, sealed: bool | None
) -> Runtime:
    """The runtime asked for: sealed (None: if this run is sealed), else in-process.

    make is a test of the tester's own Make (None: raft.Make); race turns race
    mode on (in the process that runs the Raft)."""
    if sealed_enabled() if sealed is None else sealed:
        from harness.runtime.sealed import Sealed

        return Sealed(fail, violation, make, race)
    if simulating():
        from harness.runtime.simulated import Simulated

        return Simulated(fail, violation, make, race)
    from harness.runtime.inprocess import InProcess

    return InProcess(fail, violation, make, race)
