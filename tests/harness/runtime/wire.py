"""The channel between the tester and a peer host (sealed mode): framed labgob tuples.

A message is a tuple whose first item names its kind, e.g. ("call", 7,
endname, "Raft.AppendEntries", args_bytes, -1). On the wire: a u32 length
(little-endian), a kind byte, then the rest. The messages a lab test sends most
(LAYOUTS: every RPC, Save, Start and applyCh put) have a fixed layout of fields,
since labgob's general encoding would double an RPC's round trip and is most of
the tester's work in a Start; the others are one labgob-encoded tuple (kind
byte 0). RPC args and replies travel as the bytes labgob made of them, so the
tester never decodes a class of the student's.

The tester reads what an untrusted process wrote: receive() refuses a frame
over MAX_BYTES, and bytes that labgob cannot decode as builtins alone (no
object of any class, however it got registered); expect() checks a message's
shape. Each raises WireError, which fails that peer's test with a clear line
and never reaches the tester's own state.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

import labgob

__all__ = [
    "ANSWERED_BY",
    "APPLY_FIELDS",
    "CALLER_KINDS",
    "GENERAL",
    "LAYOUTS",
    "MAX_BYTES",
    "Channel",
    "Stuck",
    "WireError",
    "expect",
    "fits",
]

MAX_BYTES = 64 << 20  # far over any snapshot the lab makes
_u32 = struct.Struct("<I")
_u64 = struct.Struct("<Q")
_i64 = struct.Struct("<q")
_NONE = 0xFFFFFFFF  # the length that stands for None in a "B" field

# The fixed layouts: T a token (u64), i an int (i64), ? a bool, s a str, b bytes, B
# bytes or None, v one value labgob encodes (decoded as plain values alone). A
# message whose values do not fit its layout (a Start's answer that is no
# (int, int, bool), say) goes as the general tuple, under its kind in GENERAL.
LAYOUTS = {
    # A host's Call: token, endname, svcMeth, args, and the reply inbox it waits on
    # (runtime/inboxes.py; -1: the answer comes on this channel).
    "call": "Tssbi",
    "called": "TBs",  # its outcome: token, reply (None: no reply), error
    "rpc": "Tsb",  # a request for a host's Raft: token, svcMeth, args
    "rpc_done": "TBs",  # its outcome: token, reply, error
    "save": "bb",  # a host's Save: raftstate, snapshot
    "taken": "T",  # the tester took an applied message: token
    "Start": "Tsv",  # a Start: token, caller, command
    "started": "Tii?",  # its answer: token, index, term, isLeader
    # An applyCh put: token, the seven fields of raft.ApplyMsg (CommandValid, Command,
    # CommandIndex, SnapshotValid, Snapshot, SnapshotTerm, SnapshotIndex), the putting
    # thread's name, where it put, and its reply inbox (as a Call's).
    "apply": "T?vi?biissi",
    # Before a lane's answer (runtime/lanes.py): how many frames the host had sent on
    # its main channel when it answered.
    "after": "T",
}
GENERAL = {"started": "done", "apply": "apply_any"}
# raft.ApplyMsg's fields in the "apply" layout's order, each with the value the tester
# reads for one left None (runtime/sealed.py's Applied has the same).
APPLY_FIELDS: tuple[tuple[str, Any], ...] = (
    ("CommandValid", False), ("Command", None), ("CommandIndex", 0),
    ("SnapshotValid", False), ("Snapshot", b""), ("SnapshotTerm", 0), ("SnapshotIndex", 0),
)  # fmt: skip  # a fixed kind -> its general one
_CODES = {kind: code for code, kind in enumerate(LAYOUTS, start=1)}

# The tester's requests that carry, after their token, the name of the tester thread
# that made them (the tester's threads have names of their own): the lab's calls,
# which in-process run on that thread, and which a host runs as if on it (named so,
# and in race mode ordered so).
CALLER_KINDS = frozenset(("make", "GetState", "Start", "Snapshot", "Kill", "inspect"))
_KINDS = {code: kind for kind, code in _CODES.items()}
# The kinds of answer to a request of the tester's, by the request's kind: "done" unless
# named here.
ANSWERED_BY = {"rpc": ("rpc_done",), "Start": ("started", "done")}


class WireError(Exception):
    """A message that breaks the channel's rules."""


class Stuck(OSError):
    """A write made no progress for the channel's write_seconds: the other end is
    not reading. An OSError, so a writer takes the path of a peer that has gone."""


class Channel:
    """One end of a socket pair. send() may be called from any thread; receive()
    from one thread only.

    With write_seconds, a write that makes no progress for that long (the other
    end reads nothing, and the socket's buffer is full) calls on_stuck(why), then
    raises Stuck: the tester's side, so that a host that stops reading fails its
    test saying so instead of holding a tester thread, and every other peer's
    messages behind it, until the test times out. write_seconds may be changed
    at any time: a write reads it at each wait for room."""

    def __init__(
        self, sock: socket.socket, write_seconds: float | None = None,
        on_stuck: Callable[[str], None] | None = None,
    ) -> None:  # fmt: skip
        self._sock = sock
        self.write_seconds = write_seconds
        self._on_stuck = on_stuck
        self._send_mu = threading.Lock()  # one write of frames at a time
        self.frames_sent = 0  # written under _send_mu; a read without it is a lower bound
        self._rfile = sock.makefile("rb", buffering=1 << 16)

    def send(self, *message: Any) -> None:
        self._send(_frame(message), 1)

    def send_frames(self, *messages: tuple[Any, ...]) -> None:
        """Each message in turn, in one write: the reader wakes once for them all."""
        self._send(b"".join(_frame(message) for message in messages), len(messages))

    def _send(self, data: bytes, frames: int) -> None:
        try:
            with self._send_mu:
                if self.write_seconds is None:
                    self._sock.sendall(data)
                else:
                    self._send_within(data)
                self.frames_sent += frames
        except Stuck as e:
            if self._on_stuck is not None:
                self._on_stuck(str(e))
            raise

    def _send_within(self, data: bytes) -> None:
        """sendall(data), or Stuck once a wait for room has lasted write_seconds.
        Needs _send_mu held."""
        view = memoryview(data)
        poller: select.poll | None = None
        while view:
            try:
                view = view[self._sock.send(view, socket.MSG_DONTWAIT) :]
                continue
            except BlockingIOError:
                pass
            if poller is None:
                poller = select.poll()
                poller.register(self._sock, select.POLLOUT)
            seconds = self.write_seconds or 0.0
            if not poller.poll(seconds * 1000):  # a hang-up wakes it: send() then raises
                raise Stuck(f"nothing read for {seconds:g} s, with {len(view)} bytes waiting")

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
        if not data:
            raise WireError("an empty message")
        if data[0]:
            return _unpack(data)
        try:
            message = labgob.decode(memoryview(data)[1:], plain=True)
        except labgob.LabgobError as e:
            raise WireError(f"a message labgob cannot decode: {e}") from None
        if not isinstance(message, tuple) or not message or not isinstance(message[0], str):
            raise WireError(f"a message that is not a (kind, ...) tuple: {_short(message)}")
        return message

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()


_TYPES: dict[str, type | tuple[type, ...]] = {
    "?": bool,
    "s": str,
    "b": bytes,
    "B": (bytes, type(None)),
}
_RANGES = {"T": range(1 << 64), "i": range(-(1 << 63), 1 << 63)}


def fits(kind: str, *values: Any) -> bool:
    """Whether values (a message's after its kind) fit kind's fixed layout exactly: a
    bool is no int here, an int must fit its field (v takes any value labgob can
    encode, which send() tries)."""
    layout = LAYOUTS[kind]
    if len(values) != len(layout):
        return False
    for how, value in zip(layout, values, strict=True):
        if how in _RANGES:
            if type(value) is not int or value not in _RANGES[how]:
                return False
        elif how != "v" and not isinstance(value, _TYPES[how]):
            return False
    return True


def _frame(message: tuple[Any, ...]) -> bytes:
    """message on the wire: its length, then its kind byte and the rest."""
    code = _CODES.get(message[0], 0)
    data = _pack(code, message) if code else b"\x00" + labgob.encode(message)
    return _u32.pack(len(data)) + data


def _pack(code: int, message: tuple[Any, ...]) -> bytes:
    out = [bytes((code,))]
    for how, value in zip(LAYOUTS[message[0]], message[1:], strict=True):
        if how == "T":
            out.append(_u64.pack(value))
        elif how == "i":
            out.append(_i64.pack(value))
        elif how == "?":
            out.append(b"\x01" if value else b"\x00")
        elif value is None and how == "B":
            out.append(_u32.pack(_NONE))
        else:
            if how == "s":
                raw = value.encode("utf-8")
            elif how == "v":
                raw = labgob.encode(value)
            else:
                raw = value
            out.append(_u32.pack(len(raw)))
            out.append(raw)
    return b"".join(out)


def _unpack(data: bytes) -> tuple[Any, ...]:
    kind = _KINDS.get(data[0])
    if kind is None:
        raise WireError(f"a message of unknown kind byte {data[0]}")
    message: list[Any] = [kind]
    pos = 1
    try:
        for how in LAYOUTS[kind]:
            if how == "T":
                message.append(_u64.unpack_from(data, pos)[0])
                pos += 8
                continue
            if how == "i":
                message.append(_i64.unpack_from(data, pos)[0])
                pos += 8
                continue
            if how == "?":
                if pos >= len(data) or data[pos] > 1:
                    raise WireError(f"a {kind!r} message with a bool that is not 0 or 1")
                message.append(data[pos] == 1)
                pos += 1
                continue
            (n,) = _u32.unpack_from(data, pos)
            pos += 4
            if n == _NONE and how == "B":
                message.append(None)
                continue
            if n > len(data) - pos:
                raise WireError(f"a {kind!r} message whose field runs past its end")
            raw = data[pos : pos + n]
            pos += n
            if how == "v":
                try:
                    message.append(labgob.decode(raw, plain=True))
                except labgob.LabgobError as e:
                    raise WireError(
                        f"a {kind!r} message with a value labgob cannot decode: {e}"
                    ) from None
                continue
            message.append(raw.decode("utf-8") if how == "s" else raw)
    except struct.error:
        raise WireError(f"a {kind!r} message cut short") from None
    except UnicodeDecodeError:
        raise WireError(f"a {kind!r} message with a string that is not UTF-8") from None
    if pos != len(data):
        raise WireError(f"a {kind!r} message with {len(data) - pos} bytes too many")
    return tuple(message)


def expect(message: tuple[Any, ...], *types: type | tuple[type, ...]) -> tuple[Any, ...]:
    """message if its items after the kind have these types (bool is not an int here)."""
    items = message[1:]
    if len(items) == len(types):
        for v, t in zip(items, types, strict=True):  # a loop: every message comes here
            if not isinstance(v, t) or (t is int and type(v) is bool):
                break
        else:
            return items
    shape = ", ".join(type(v).__name__ for v in items)
    raise WireError(f"a {message[0]!r} message shaped ({shape}): {_short(message)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
