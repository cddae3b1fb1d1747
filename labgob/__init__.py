"""labgob: the encoder every RPC and every persisted byte goes through.

The Go lab's labgob wraps encoding/gob and warns about lower-case fields,
which gob silently drops.  This one has the same shape (NewEncoder(w).Encode,
NewDecoder(r).Decode, Register, RegisterName) over a small format of its own:
decoding builds only builtins and registered classes, never shares a
reference with the sender, and an attribute that is not a declared field of
its class is reported instead of vanishing.
"""

from __future__ import annotations

from typing import IO, Any

from labgob.codec import Decoder, Foreign, decode, encode
from labgob.registry import (
    DecodeError,
    LabgobError,
    Register,
    RegisterName,
    error_count,
    reset_warnings,
    undeclared_counts,
)

__all__ = [
    "DecodeError",
    "Decoder",
    "Encoder",
    "Foreign",
    "LabgobError",
    "NewDecoder",
    "NewEncoder",
    "Register",
    "RegisterName",
    "decode",
    "encode",
    "error_count",
    "reset_warnings",
    "undeclared_counts",
]


class Encoder:
    """Writes encoded values, one after another, to a writable stream."""

    def __init__(self, w: IO[bytes]) -> None:
        self._w = w

    def Encode(self, value: Any) -> None:
        self._w.write(encode(value))


def NewEncoder(w: IO[bytes]) -> Encoder:
    return Encoder(w)


def NewDecoder(r: bytes | bytearray | memoryview | IO[bytes]) -> Decoder:
    return Decoder(r)
