"""The channel between the tester and a peer host (sealed mode): framed labgob tuples.

A message is a u32 length (little-endian), then one labgob-encoded tuple whose
first item names its kind, e.g. ("call", 7, endname, "Raft.AppendEntries",
args_bytes). RPC args and replies travel inside as the bytes labgob made of
them, so the tester never decodes a class of the student's.

The tester reads what an untrusted process wrote: receive() refuses a frame
over MAX_BYTES, bytes labgob cannot decode, and any value that is not made of
builtins; expect() checks a message's shape. Each raises WireError, which fails
that peer's test with a clear line and never reaches the tester's own state.
"""

from __future__ import annotations

import socket
import struct
import threading
from typing import Any

import labgob

__all__ = ["MAX_BYTES", "Channel", "WireError", "expect"]

MAX_BYTES = 64 << 20  # far over any snapshot the lab makes
_u32 = struct.Struct("<I")
_PLAIN = (type(None), bool, int, float, str, bytes)


class WireError(Exception):
    """A message that breaks the channel's rules."""


class Channel:
    """One end of a socket pair. send() may be called from any thread; receive()
    from one thread only."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._send_mu = threading.Lock()  # one frame at a time
        self._rfile = sock.makefile("rb", buffering=1 << 16)

    def send(self, *message: Any) -> None:
        data = labgob.encode(message)
        with self._send_mu:
            self._sock.sendall(_u32.pack(len(data)) + data)

    def receive(self) -> tuple[Any, ...]:
        """The next message; EOFError once the other end has closed."""
        header = self._rfile.read(4)
        if len(header) < 4:
            raise EOFError("the channel is closed")
        (n,) = _u32.unpack(header)
        if n > MAX_BYTES:
            raise WireError(f"a message of {n} bytes, over the limit of {MAX_BYTES}")
        data = self._rfile.read(n)
        if len(data) < n:
            raise EOFError("the channel closed within a message")
        try:
            message = labgob.decode(data)
        except labgob.LabgobError as e:
            raise WireError(f"a message labgob cannot decode: {e}") from None
        if not isinstance(message, tuple) or not message or not isinstance(message[0], str):
            raise WireError(f"a message that is not a (kind, ...) tuple: {_short(message)}")
        _check_plain(message, 0)
        return message

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()


def _check_plain(value: Any, depth: int) -> None:
    """Builtins only: no object of a class labgob knows, however it got registered."""
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        if depth > 8:
            raise WireError("a message nested too deep")
        for item in value:
            _check_plain(item, depth + 1)
    elif isinstance(value, dict) and type(value) is dict:
        if depth > 8:
            raise WireError("a message nested too deep")
        for key, item in value.items():
            _check_plain(key, depth + 1)
            _check_plain(item, depth + 1)
    elif type(value) not in _PLAIN:
        raise WireError(f"a message holding a {type(value).__name__}")


def expect(message: tuple[Any, ...], *types: type | tuple[type, ...]) -> tuple[Any, ...]:
    """message if its items after the kind have these types (bool is not an int here)."""
    items = message[1:]
    if len(items) != len(types) or not all(
        isinstance(v, t) and not (isinstance(v, bool) and t is int)
        for v, t in zip(items, types, strict=True)
    ):
        shape = ", ".join(type(v).__name__ for v in items)
        raise WireError(f"a {message[0]!r} message shaped ({shape}): {_short(message)}")
    return items


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
