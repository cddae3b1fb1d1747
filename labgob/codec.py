"""The wire format: a tag byte, then the value's payload.

Lengths and counts are little-endian u32; ints that fit in 64 bits are
fixed-width, larger ones carry their byte length.  A registered object is
its registered name, then (field name, value) pairs.  The decoder only ever
builds builtins and registered classes, so bytes cannot make it run code.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import IO, Any

from labgob.registry import (
    OBJECT_TAG,
    ClassInfo,
    DecodeError,
    LabgobError,
    info_for_class,
    info_for_raw_name,
    warn_undeclared,
)

NONE, FALSE, TRUE, INT, BIGINT, FLOAT, STR, BYTES, BYTEARRAY = range(9)
LIST, TUPLE, DICT, SET, FROZENSET, OBJECT = range(9, 15)
assert OBJECT == OBJECT_TAG

MAX_DEPTH = 200
PLAIN = "None, bool, int, float, str, bytes, list, tuple and dict"  # decode(plain=True)

_u32 = struct.Struct("<I")
_i64 = struct.Struct("<q")
_f64 = struct.Struct("<d")
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


class _PathError(LabgobError):
    """An encoding failure that collects its path as it unwinds."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = []


def encode(value: Any) -> bytes:
    """One value as bytes."""
    out: list[bytes] = []
    try:
        _encode(value, out, 0)
    except _PathError as e:
        steps = list(reversed(e.path))
        if len(steps) > 12:
            steps = steps[:6] + ["..."] + steps[-6:]
        where = "value" + "".join(steps)
        raise LabgobError(f"labgob: {where}: {e.reason}") from None
    return b"".join(out)


def _encode(v: Any, out: list[bytes], depth: int) -> None:
    t = type(v)
    if t is int:
        if _INT_MIN <= v <= _INT_MAX:
            out.append(b"\x03" + _i64.pack(v))
        else:
            raw = v.to_bytes((v.bit_length() + 8) // 8, "little", signed=True)
            out.append(b"\x04" + _u32.pack(len(raw)) + raw)
    elif t is str:
        raw = v.encode("utf-8", "surrogatepass")
        out.append(b"\x06" + _u32.pack(len(raw)) + raw)
    elif v is None:
        out.append(b"\x00")
    elif t is bool:
        out.append(b"\x02" if v else b"\x01")
    elif t is float:
        out.append(b"\x05" + _f64.pack(v))
    elif t is bytes or t is bytearray:
        out.append((b"\x07" if t is bytes else b"\x08") + _u32.pack(len(v)) + v)
    else:
        if depth >= MAX_DEPTH:
            raise _PathError(f"nested more than {MAX_DEPTH} deep (is there a cycle?)")
        info = info_for_class(t)
        if info is not None:
            _encode_object(v, info, out, depth + 1)
        else:
            _encode_composite(v, t, out, depth + 1)


def _encode_composite(v: Any, t: type, out: list[bytes], depth: int) -> None:
    if t is list or t is tuple or t is set or t is frozenset:
        tag = {list: LIST, tuple: TUPLE, set: SET, frozenset: FROZENSET}[t]
        out.append(bytes((tag,)) + _u32.pack(len(v)))
        for i, item in enumerate(v):
            try:
                _encode(item, out, depth)
            except _PathError as e:
                e.path.append(f"[{i}]" if t in (list, tuple) else "{...}")
                raise
    elif t is dict:
        out.append(bytes((DICT,)) + _u32.pack(len(v)))
        for key, item in v.items():
            try:
                _encode(key, out, depth)
                _encode(item, out, depth)
            except _PathError as e:
                e.path.append(f"[{key!r}]")
                raise
    else:
        raise _PathError(
            f"cannot encode {t.__module__}.{t.__qualname__}: "
            f"it is not a builtin and was not registered with labgob.Register"
        )


def _encode_object(v: Any, info: ClassInfo, out: list[bytes], depth: int) -> None:
    attrs = getattr(v, "__dict__", None)
    if attrs is not None and len(attrs) > len(info.fields):
        extra = set(attrs) - info.field_set
        if extra:
            warn_undeclared(info, extra)
    out.append(info.prefix)
    for field, header in info.pairs:
        out.append(header)
        try:
            item = getattr(v, field)
        except AttributeError:
            raise _PathError(f"declared field {field} of {info.name} is not set") from None
        try:
            _encode(item, out, depth)
        except _PathError as e:
            e.path.append(f".{field}")
            raise


class Foreign:
    """An object of a class this process has not registered, as decode_foreign reads
    it: its registered name and its fields, as builtins (or more Foreign objects)."""

    __slots__ = ("name", "fields")

    def __init__(self, name: str, fields: dict[str, Any]) -> None:
        self.name = name
        self.fields = fields

    def __repr__(self) -> str:
        inside = ", ".join(f"{k}={v!r}" for k, v in self.fields.items())
        return f"{self.name}({inside})"


class Decoder:
    """Reads values back, one at a time, from bytes or a readable stream."""

    def __init__(
        self,
        source: bytes | bytearray | memoryview | IO[bytes],
        foreign: bool = False,
        plain: bool = False,
    ) -> None:
        self._foreign = foreign  # an unregistered class reads as a Foreign, not an error
        self._plain = plain  # only the builtins PLAIN names are read; any other is an error
        self._source: IO[bytes] | None = None
        self._buf = b""
        if isinstance(source, (bytes, bytearray, memoryview)):
            self._buf = bytes(source)
        else:
            self._source = source
        self._pos = 0

    def Decode(self) -> Any:
        """The next value; EOFError when none is left."""
        if self._source is not None:
            self._buf = self._buf[self._pos :] + self._source.read()
            self._pos = 0
            self._source = None
        if self._pos >= len(self._buf):
            raise EOFError("labgob: no more values to decode")
        return self._decode_one()

    def _decode_one(self) -> Any:
        start = self._pos
        try:
            return self._value(0)
        except (IndexError, struct.error):
            raise DecodeError(
                f"labgob: data truncated: the value starting at byte {start} "
                f"runs past the end of the {len(self._buf)} bytes"
            ) from None
        except (ValueError, TypeError) as e:
            raise DecodeError(f"labgob: corrupt data near byte {self._pos}: {e}") from None

    def _length(self) -> int:
        """A u32 length or count, checked so that bad data cannot make us allocate."""
        (n,) = _u32.unpack_from(self._buf, self._pos)
        self._pos += 4
        if n > len(self._buf) - self._pos:
            raise DecodeError(
                f"labgob: corrupt data: length {n} at byte {self._pos - 4} "
                f"exceeds the {len(self._buf) - self._pos} bytes left"
            )
        return int(n)

    def _raw(self) -> bytes:
        n = self._length()
        start = self._pos
        self._pos = start + n
        return self._buf[start : start + n]

    def _value(self, depth: int) -> Any:
        buf = self._buf
        pos = self._pos
        tag = buf[pos]
        self._pos = pos + 1
        if tag == INT:
            self._pos = pos + 9
            return _i64.unpack_from(buf, pos + 1)[0]
        if tag == STR:
            return self._raw().decode("utf-8", "surrogatepass")
        if tag <= TRUE:
            return (None, False, True)[tag]
        if tag == OBJECT:
            return self._object(depth + 1)
        if tag == FLOAT:
            self._pos = pos + 9
            return _f64.unpack_from(buf, pos + 1)[0]
        if tag == BYTES:
            return self._raw()
        if tag == BYTEARRAY:
            if self._plain:
                self._not_plain("bytearray")
            return bytearray(self._raw())
        if tag == BIGINT:
            return int.from_bytes(self._raw(), "little", signed=True)
        if depth >= MAX_DEPTH:
            raise DecodeError(f"labgob: corrupt data: nested more than {MAX_DEPTH} deep")
        if tag == LIST:
            return [self._value(depth + 1) for _ in range(self._length())]
        if tag in _CONTAINERS:
            if self._plain and tag != TUPLE:
                self._not_plain("set" if tag == SET else "frozenset")
            return _CONTAINERS[tag](self._value(depth + 1) for _ in range(self._length()))
        if tag == DICT:
            result = {}
            for _ in range(self._length()):
                key = self._value(depth + 1)
                result[key] = self._value(depth + 1)
            return result
        raise DecodeError(f"labgob: corrupt data: unknown tag {tag} at byte {pos}")

    def _not_plain(self, what: str) -> None:
        raise DecodeError(f"labgob: the data holds a {what}, where only {PLAIN} are read")

    def _object(self, depth: int) -> Any:
        if depth >= MAX_DEPTH:
            raise DecodeError(f"labgob: corrupt data: nested more than {MAX_DEPTH} deep")
        raw_name = self._raw()
        if self._plain:
            self._not_plain(raw_name.decode("utf-8", "replace"))
        info = info_for_raw_name(raw_name)
        if info is None and self._foreign:
            name = raw_name.decode("utf-8", "replace")
            fields = {}
            for _ in range(self._length()):
                field = self._raw().decode("utf-8", "replace")
                fields[field] = self._value(depth)
            return Foreign(name, fields)
        if info is None:
            raise DecodeError(
                f"labgob: the data names class {raw_name.decode('utf-8', 'replace')!r}, "
                f"which is not registered; only builtins and classes passed to "
                f"labgob.Register are decoded"
            )
        if self._length() != len(info.fields):
            raise DecodeError(
                f"labgob: the data for {info.name} does not carry exactly its declared "
                f"fields {', '.join(info.fields) or '(none)'}"
            )
        obj: Any = object.__new__(info.cls)
        buf = self._buf
        for field, header in info.pairs:
            pos = self._pos
            if not buf.startswith(header, pos):
                raise DecodeError(
                    f"labgob: the data for {info.name} has an unexpected field near byte "
                    f"{pos}; declared fields are {', '.join(info.fields)}"
                )
            self._pos = pos + len(header)
            object.__setattr__(obj, field, self._value(depth))
        return obj


_CONTAINERS: dict[int, Callable[[Iterator[Any]], Any]] = {
    TUPLE: tuple,
    SET: set,
    FROZENSET: frozenset,
}


def decode(data: bytes | bytearray | memoryview, foreign: bool = False, plain: bool = False) -> Any:
    """The one value in data; trailing bytes are an error. foreign=True reads an
    object of a class this process has not registered as a Foreign (a tester
    reading a peer's messages without the peer's classes); plain=True reads
    only PLAIN values, and no object of any class, registered or not (a tester
    reading what a process it does not trust sent)."""
    d = Decoder(data, foreign, plain)
    if not d._buf:
        raise DecodeError("labgob: no data to decode")
    value = d._decode_one()
    if d._pos != len(d._buf):
        raise DecodeError(f"labgob: {len(d._buf) - d._pos} unexpected bytes after the value")
    return value
