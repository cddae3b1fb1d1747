"""Crash points, beyond Go's tester: crash a server right after it promises something.

Figure 2 asks a server to update its persistent state "on stable storage before
responding to RPCs". Go's tests crash servers at random moments, so a Raft that
replies first and persists later is caught only by luck. A crash point crashes
the server at the moment that matters: its RequestVote or AppendEntries handler
has just returned a reply that grants a vote or acknowledges entries. The reply
is delivered, and the server's persister is kept as it was when the reply left
(labrpc's reply hook runs before the reply travels), so a restart brings back
exactly what the server had saved by then.

The tester does not know a Raft's field names (they are the student's). It
reads a reply as labgob decodes it: a reply promises when one of its bool
fields is true (VoteGranted, Success). With `command`, only a reply to an
AppendEntries whose args hold that command anywhere inside counts. Which
handler is a RequestVote or an AppendEntries comes from harness/rpckinds.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

import labgob
from labgob.codec import Foreign
from labgob.registry import info_for_class

if TYPE_CHECKING:
    from harness.config import Config


def read(data: bytes) -> Any:
    """A request or reply as the tester reads it: with the Raft's classes if they are
    registered here, else (a sealed peer's) as labgob.Foreign objects; None if the
    bytes do not decode (a peer's garbage is its own test's failure, not the hook's)."""
    try:
        return labgob.decode(data, foreign=True)
    except labgob.LabgobError:
        return None


def promises(reply: Any) -> bool:
    """True if one of the reply's bool fields is true (a vote granted, entries taken)."""
    if isinstance(reply, Foreign):
        return any(v is True for v in reply.fields.values())
    info = info_for_class(type(reply))
    if info is None:
        return False
    return any(getattr(reply, f, None) is True for f in info.fields)


def holds(value: Any, command: Any, depth: int = 0) -> bool:
    """True if command is value or is somewhere inside it (lists, dicts, labgob objects)."""
    if type(value) is type(command) and value == command:
        return True
    if depth > 8:
        return False
    if isinstance(value, (list, tuple)):
        return any(holds(v, command, depth + 1) for v in value)
    if isinstance(value, dict):
        return any(holds(v, command, depth + 1) for v in value.values())
    if isinstance(value, Foreign):
        return any(holds(v, command, depth + 1) for v in value.fields.values())
    info = info_for_class(type(value))
    if info is not None:
        return any(holds(getattr(value, f, None), command, depth + 1) for f in info.fields)
    return False


class CrashPoint:
    """One armed crash point: the first matching reply crashes its server (once)."""

    def __init__(
        self,
        cfg: Config,
        svc_meths: list[str],
        servers: list[int],
        command: Any = None,
        what: str = "",
    ) -> None:
        self._cfg = cfg
        self._svc_meths = set(svc_meths)
        self._servers = set(servers)
        self._command = command
        self._what = what or f"a {' or '.join(sorted(svc_meths))} reply that promises"
        self._mu = threading.Lock()
        self._armed = True  # guarded by _mu
        self.server = -1  # the server crashed; set before `crashed` is
        self.crashed = threading.Event()  # set once the server is down, its persister frozen

    def hook(
        self, servername: Hashable, svc_meth: str, args: bytes, reply: bytes
    ) -> Callable[[], None] | None:
        """labrpc's reply hook: the crash if this reply is the one armed for."""
        if svc_meth not in self._svc_meths or servername not in self._servers:
            return None
        if not promises(read(reply)):
            return None
        if self._command is not None and not holds(read(args), self._command):
            return None
        with self._mu:
            if not self._armed:
                return None
            self._armed = False
        assert isinstance(servername, int)
        return lambda: self._crash(servername)

    def _crash(self, i: int) -> None:
        """Before the reply leaves: freeze i's persister and cut i off; then crash it."""
        cfg = self._cfg
        cfg.net.set_reply_hook(None)
        frozen = cfg.freeze_and_cut(i)
        self.server = i
        cfg.note(f"crash point: server {i} crashes right after {self._what}")
        cfg.go(f"crash-point-{i}", self._finish, i, frozen)

    def _finish(self, i: int, frozen: Any) -> None:
        self._cfg.crash_frozen(i, frozen)
        self.crashed.set()

    def wait(self, timeout: float) -> int:
        """The server crashed at this point; fails the test if none did within timeout."""
        __tracebackhide__ = True
        if not self.crashed.wait(timeout):
            self._cfg.net.set_reply_hook(None)
            self._cfg.fatalf(
                "crash point never reached: no server among %s sent %s within %.0f s",
                sorted(self._servers), self._what, timeout,
            )
        return self.server
