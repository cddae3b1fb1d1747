"""The lab's heartbeat rule, watched in every test: at most ten a second while idle.

The assignment allows a leader at most ten heartbeats a second.  Go's tester
checks it only through 3B's RPC count test, so a Raft that sends fifty a second
passes 3A silently.  Here a peer that sends one other peer more than ten
AppendEntries a second, over a whole window in which the tester started no
command and connected, crashed or restarted nothing, gets a one-line warning in
the test's output, once per test: a warning, not a failure, as Go's 3A passes
such a Raft.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from harness.observe import Observer, Peer

__all__ = ["HeartbeatRate", "LIMIT", "WINDOW"]

LIMIT = 10  # AppendEntries a second from one peer to another, while idle
WINDOW = 1.0  # seconds over which the rate is measured
SLACK = 2  # sends a window may have beyond LIMIT a second: a heartbeat every 100 ms is fine


class HeartbeatRate(Observer):
    """Counts each peer's AppendEntries to each other peer (labrpc's GetEndCount of
    the handlers harness/rpckinds.py recognises as AppendEntries)."""

    def __init__(
        self,
        count: Callable[[str], int],
        endnames: Callable[[], Sequence[Sequence[str] | None]],
        warn: Callable[[str], None],
    ) -> None:
        self._count = count  # endname -> AppendEntries sent through that end so far
        self._endnames = endnames  # endnames()[i][j]: server i's end to server j
        self._warn = warn
        self._mu = threading.Lock()
        self._changed_at = time.monotonic()  # guarded by _mu: the latest Start, connect, ...

    def _changed(self) -> None:
        with self._mu:
            self._changed_at = time.monotonic()

    def on_make(self, peer: Peer) -> None:
        self._changed()

    def on_crash(self, peer: Peer) -> None:
        self._changed()

    def on_connect(self, server: int, connected: bool) -> None:
        self._changed()

    def on_start(
        self, peer: Peer, started_at: float, command: Any, index: int, term: int, is_leader: bool
    ) -> None:
        if is_leader:
            self._changed()

    def run(self, finished: threading.Event) -> None:
        """The sampler: every WINDOW, each pair's sends since the last sample."""
        last: dict[str, int] = {}
        since = time.monotonic()
        while not finished.wait(WINDOW):
            now = time.monotonic()
            with self._mu:
                idle = self._changed_at < since
            counts: dict[str, tuple[int, int, int]] = {}  # endname -> (from, to, count)
            for i, names in enumerate(list(self._endnames())):
                for j, name in enumerate(names or ()):
                    if j != i:
                        counts[name] = (i, j, self._count(name))
            if idle:
                for name, (i, j, n) in counts.items():
                    sent = n - last.get(name, n)
                    if sent > LIMIT * (now - since) + SLACK:
                        self._warn(
                            f"warning: server {i} sent server {j} {sent} AppendEntries in "
                            f"{now - since:.1f} s while idle; the lab allows at most {LIMIT} "
                            "heartbeats a second. Besides a short heartbeat interval, the "
                            "causes are a second heartbeat loop (one more each time a peer "
                            "wins an election), two leaders in one term, and acting on a "
                            "stale reply (check a reply's term, and that you are still in "
                            "the role and term you sent it in, before acting on it)"
                        )
                        return
            last = {name: n for name, (_, _, n) in counts.items()}
            since = now
