"""Old requests the tester keeps, beyond Go's tester, to deliver late on purpose.

labrpc's stale mode delivers old messages late at random. To reach a bug on
every run, a test keeps a copy of a request (as labrpc's reply hook sees it,
once its handler has run) and later has labrpc deliver that copy again, at the
moment the bug needs: cfg.keep_requests(...), then cfg.deliver_old(...).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

import labgob
from harness.crashpoints import holds


class KeptRequests:
    """The latest svc_meth request each server handled (holding command, if given), as bytes."""

    def __init__(self, svc_meth: str, command: Any = None) -> None:
        self._svc_meth = svc_meth
        self._command = command
        self._mu = threading.Lock()
        self._kept: dict[Hashable, bytes] = {}  # guarded by _mu

    def hook(
        self, servername: Hashable, svc_meth: str, args: bytes, reply: bytes
    ) -> Callable[[], None] | None:
        """labrpc's reply hook: keep the request; never crash anything."""
        if svc_meth != self._svc_meth:
            return None
        if self._command is None or holds(labgob.decode(args), self._command):
            with self._mu:
                self._kept[servername] = args
        return None

    def get(self, server: int) -> bytes | None:
        with self._mu:
            return self._kept.get(server)
