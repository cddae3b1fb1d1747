"""Which classes may cross the wire, under which names, with which fields.

Go's gob needs a type registered before it can travel inside an interface
value; in Python every object is "inside an interface", so every class must
be registered.  Registration also fixes the class's declared fields: only
they travel, which is what makes a misspelt attribute detectable.
"""

from __future__ import annotations

import dataclasses
import struct
import sys
import threading
from typing import Any

OBJECT_TAG = 14
_u32 = struct.Struct("<I")


class LabgobError(Exception):
    """A value cannot be encoded, or bytes cannot be decoded."""


class DecodeError(LabgobError):
    """The bytes are corrupt, truncated, or name a class that is not registered."""


class ClassInfo:
    """What labgob knows of one registered class."""

    __slots__ = ("cls", "name", "fields", "field_set", "prefix", "pairs")

    def __init__(self, cls: type, name: str, fields: tuple[str, ...]) -> None:
        self.cls = cls
        self.name = name
        self.fields = fields
        self.field_set = frozenset(fields)
        # Precomputed wire bytes (see codec.py): the object tag, name and field count,
        # then each field name with its length.
        raw = name.encode("utf-8")
        self.prefix = bytes((OBJECT_TAG,)) + _u32.pack(len(raw)) + raw + _u32.pack(len(fields))
        self.pairs = tuple((f, _u32.pack(len(f.encode())) + f.encode()) for f in fields)


# _mu guards _by_class, _by_name, _warned, _error_count and _undeclared.
_mu = threading.Lock()
_by_class: dict[type, ClassInfo] = {}
_by_name: dict[bytes, ClassInfo] = {}  # keyed by the UTF-8 name, as it is on the wire
_warned: set[type] = set()
_error_count = 0
# (class, attribute) -> how many encodings met it; the warning is printed once, but a
# tester reads these counts to name the mistake in each test it spoils.
_undeclared: dict[tuple[type, str], int] = {}


def declared_fields(cls: type) -> tuple[str, ...]:
    """A dataclass's fields, or the names a class annotates (bases first)."""
    if dataclasses.is_dataclass(cls):
        return tuple(f.name for f in dataclasses.fields(cls))
    names: dict[str, None] = {}
    for klass in reversed(cls.__mro__):
        for name, annotation in klass.__dict__.get("__annotations__", {}).items():
            if "ClassVar" not in str(annotation):
                names[name] = None
    return tuple(names)


def RegisterName(name: str, cls: Any) -> None:
    """Let instances of cls travel under the given name (Go's gob.RegisterName)."""
    if not isinstance(cls, type):
        cls = type(cls)
    if cls.__module__ == "builtins":
        raise LabgobError(f"labgob: {cls.__name__} is a builtin type; it needs no registration")
    info = ClassInfo(cls, name, declared_fields(cls))
    with _mu:
        old = _by_name.get(name.encode("utf-8"))
        if old is not None and old.cls is not cls:
            raise LabgobError(
                f"labgob: name {name!r} is already registered for {old.cls!r}; "
                f"cannot register {cls!r} under it too"
            )
        known = _by_class.get(cls)
        if known is not None and known.name != name:
            raise LabgobError(
                f"labgob: {cls!r} is already registered as {known.name!r}, not {name!r}"
            )
        _by_class[cls] = info
        _by_name[name.encode("utf-8")] = info


def Register(cls: Any) -> None:
    """Let instances of cls travel, named by module and qualified name."""
    if not isinstance(cls, type):
        cls = type(cls)
    RegisterName(f"{cls.__module__}.{cls.__qualname__}", cls)


def info_for_class(cls: type) -> ClassInfo | None:
    return _by_class.get(cls)


def info_for_raw_name(name: bytes) -> ClassInfo | None:
    return _by_name.get(name)


def warn_undeclared(info: ClassInfo, attributes: set[str]) -> None:
    """Report attributes that will not travel, once per class, as Go warns of lower-case fields."""
    global _error_count
    with _mu:
        for name in attributes:
            _undeclared[info.cls, name] = _undeclared.get((info.cls, name), 0) + 1
        if info.cls in _warned:
            return
        _warned.add(info.cls)
        _error_count += 1
    print(
        f"labgob warning: attribute(s) {', '.join(sorted(attributes))} of {info.name} "
        f"are not declared fields and will not be sent in an RPC or persisted; "
        f"declared fields are: {', '.join(info.fields) or '(none)'}. "
        f"Fix the spelling or declare the field in the class.",
        file=sys.stderr,
    )


def error_count() -> int:
    """How many warnings labgob has printed (Go's errorCount)."""
    with _mu:
        return _error_count


def undeclared_counts() -> dict[tuple[type, str], int]:
    """How often each (class, attribute) that is not a declared field was met while
    encoding, since the process started (or reset_warnings)."""
    with _mu:
        return dict(_undeclared)


def reset_warnings() -> None:
    """Forget which classes were reported and zero the counts; for tests."""
    global _error_count
    with _mu:
        _warned.clear()
        _undeclared.clear()
        _error_count = 0
