"""Where a Raft peer saves what must survive a crash (Go's persister.go).

The tester hands a restarted peer a Copy of its old Persister, so what a
peer saved before a crash is exactly what it reads back after.
"""

from __future__ import annotations

import threading


class Persister:
    """Raft state and a service snapshot, saved together as one atomic pair."""

    def __init__(self) -> None:
        self._mu = threading.Lock()
        self._raftstate = b""  # guarded by _mu
        self._snapshot = b""  # guarded by _mu

    def Copy(self) -> Persister:
        with self._mu:
            np = Persister()
            np._raftstate = self._raftstate
            np._snapshot = self._snapshot
            return np

    def ReadRaftState(self) -> bytes:
        with self._mu:
            return self._raftstate

    def RaftStateSize(self) -> int:
        with self._mu:
            return len(self._raftstate)

    def Save(self, raftstate: bytes, snapshot: bytes | None) -> None:
        """Save both Raft state and the service's snapshot, so they never get out of sync."""
        state = bytes(raftstate)
        snap = bytes(snapshot) if snapshot is not None else b""
        with self._mu:
            self._raftstate = state
            self._snapshot = snap

    def ReadSnapshot(self) -> bytes:
        with self._mu:
            return self._snapshot

    def SnapshotSize(self) -> int:
        with self._mu:
            return len(self._snapshot)


def MakePersister() -> Persister:
    return Persister()
