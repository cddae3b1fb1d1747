"""Old requests the tester keeps, beyond Go's tester, to deliver late on purpose.

labrpc's stale mode delivers old messages late at random. To reach a bug on
every run, a test keeps a copy of a request (as labrpc's reply hook sees it,
once its handler has run) and later has labrpc deliver that copy again, at the
moment the bug needs: cfg.keep_requests(...), then cfg.deliver_old(...).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from harness.crashpoints import holds, read


@dataclass(frozen=True)
class KeptRequest:
    svc_meth: str  # the handler it went to, e.g. "Raft.AppendEntries"
    args: bytes  # as labgob encoded them


class KeptRequests:
    """The latest request to one of svc_meths each server handled (holding command,
    if given)."""

    def __init__(self, svc_meths: list[str], command: Any = None) -> None:
        self._svc_meths = set(svc_meths)
        self._command = command
        self._mu = threading.Lock()
        self._kept: dict[Hashable, KeptRequest] = {}  # guarded by _mu

    def hook(
        self, servername: Hashable, svc_meth: str, args: bytes, reply: bytes
    ) -> Callable[[], None] | None:
        """labrpc's reply hook: keep the request; never crash anything."""
        if svc_meth not in self._svc_meths:
            return None
        if self._command is None or holds(read(args), self._command):
            with self._mu:
                self._kept[servername] = KeptRequest(svc_meth, args)
        return None

    def get(self, server: int) -> KeptRequest | None:
        with self._mu:
            return self._kept.get(server)
