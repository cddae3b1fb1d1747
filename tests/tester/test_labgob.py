"""Unit tests of labgob: twins of Go's src/labgob/test_test.go, then safety checks."""

from __future__ import annotations

import io
import math
import os
import pickle
import posix
import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

import labgob


@dataclass
class T1:
    T1int0: int = 0
    T1int1: int = 0
    T1string0: str = ""
    T1string1: str = ""


@dataclass
class T2:
    T2slice: list[T1] = field(default_factory=list)
    T2map: dict[int, T1] = field(default_factory=dict)
    T2t3: Any = None  # Go's interface{}


@dataclass
class T3:
    T3int999: int = 0


labgob.Register(T1)
labgob.Register(T2)


def roundtrip(value: Any) -> Any:
    return labgob.decode(labgob.encode(value))


def same_shape(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (True is not 1, a tuple not a list)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_shape(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_shape(a[k], b[k]) for k in a)
    if isinstance(a, float) and a == 0.0:
        return math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


# ---------------------------------------------------------------- Go's tests


def test_GOB() -> None:
    """Go's TestGOB: several values through one encoder and one decoder, no warnings."""
    labgob.reset_warnings()
    e0 = labgob.error_count()

    labgob.Register(T3)  # Go registers T3 because it travels inside an interface{}

    w = io.BytesIO()
    x0 = 0
    x1 = 1
    t1 = T1()
    t1.T1int1 = 1
    t1.T1string1 = "6.5840"
    t2 = T2()
    t2.T2slice = [T1(), t1]
    t2.T2map = {99: T1(1, 2, "x", "y")}
    t2.T2t3 = T3(999)

    e = labgob.NewEncoder(w)
    e.Encode(x0)
    e.Encode(x1)
    e.Encode(t1)
    e.Encode(t2)
    data = w.getvalue()

    d = labgob.NewDecoder(io.BytesIO(data))
    x0 = d.Decode()
    x1 = d.Decode()
    t1 = d.Decode()
    t2 = d.Decode()

    assert x0 == 0, f"wrong x0 {x0}"
    assert x1 == 1, f"wrong x1 {x1}"
    assert type(t1) is T1
    assert t1.T1int0 == 0, f"wrong t1.T1int0 {t1.T1int0}"
    assert t1.T1int1 == 1, f"wrong t1.T1int1 {t1.T1int1}"
    assert t1.T1string0 == "", f"wrong t1.T1string0 {t1.T1string0}"
    assert t1.T1string1 == "6.5840", f"wrong t1.T1string1 {t1.T1string1}"
    assert type(t2) is T2
    assert len(t2.T2slice) == 2, f"wrong t2.T2slice len {len(t2.T2slice)}"
    assert t2.T2slice[1].T1int1 == 1, "wrong slice value"
    assert len(t2.T2map) == 1, f"wrong t2.T2map len {len(t2.T2map)}"
    assert t2.T2map[99].T1string1 == "y", "wrong map value"
    t3 = t2.T2t3
    assert type(t3) is T3
    assert t3.T3int999 == 999, "wrong t2.T2t3.T3int999"

    with pytest.raises(EOFError):
        d.Decode()

    assert labgob.error_count() == e0, "there were errors, but should not have been"


@dataclass
class T4:
    Yes: int = 0


labgob.Register(T4)


def test_Capital(capsys: pytest.CaptureFixture[str]) -> None:
    """Go's TestCapital: Go warns about a lower-case (unexported) field, which gob drops.

    The Python twin of such a field is an attribute that is not a declared field of a
    registered class: it does not travel, and labgob warns once per class.
    """
    labgob.reset_warnings()
    e0 = labgob.error_count()

    t4 = T4(Yes=1)
    t4.no = 2  # type: ignore[attr-defined]  # not a declared field
    v = [{7: t4}]

    w = io.BytesIO()
    labgob.NewEncoder(w).Encode(v)
    v1 = labgob.NewDecoder(io.BytesIO(w.getvalue())).Decode()

    assert labgob.error_count() == e0 + 1, "failed to warn about undeclared field"
    err = capsys.readouterr().err
    assert "labgob warning" in err and "no" in err and "T4" in err, err

    # the declared field travelled; the undeclared one did not
    assert v1[0][7].Yes == 1
    assert not hasattr(v1[0][7], "no")

    # once per class: encoding it again does not warn again
    labgob.encode(v)
    assert labgob.error_count() == e0 + 1
    assert "labgob warning" not in capsys.readouterr().err


@dataclass
class RequestVoteReply:
    Term: int = 0
    VoteGranted: bool = False


labgob.Register(RequestVoteReply)


def test_Capital_typo_names_class_and_attribute(capsys: pytest.CaptureFixture[str]) -> None:
    """The classic bug: `reply.votegranted = True` instead of `reply.VoteGranted`."""
    labgob.reset_warnings()
    reply = RequestVoteReply(Term=3)
    reply.votegranted = True  # type: ignore[attr-defined]
    got = roundtrip(reply)
    assert got.VoteGranted is False and got.Term == 3
    assert labgob.error_count() == 1
    err = capsys.readouterr().err
    assert "votegranted" in err and "RequestVoteReply" in err, err

    labgob.reset_warnings()
    assert labgob.error_count() == 0


@dataclass
class DD:
    X: int = 7
    Y: Any = "default"


labgob.Register(DD)


def test_Default() -> None:
    """Go's TestDefault, in Python.

    Go's gob does not send zero values, so decoding a zero into memory that already
    holds a non-zero value leaves the stale value there; Go's labgob warns about it.
    labgob cannot have that bug: Decode() builds a fresh object (there is no target to
    decode into), and every declared field travels, zero values included. So the
    twin checks that zero values arrive as sent (not as the class defaults, nor as
    anything stale) and that no warning is counted.
    """
    labgob.reset_warnings()
    e0 = labgob.error_count()

    dd1 = DD(X=0, Y=None)
    reply = DD(X=99, Y="stale")  # memory that holds non-default values
    reply = labgob.NewDecoder(labgob.encode(dd1)).Decode()

    assert type(reply) is DD
    assert reply.X == 0 and reply.Y is None
    assert labgob.error_count() == e0


# ---------------------------------------------------------------- round trips


def test_roundtrip_builtins_and_big_ints() -> None:
    values: list[Any] = [
        None, True, False, 0, 1, -1, 255, 256, -129,
        2**31, 2**32, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 2**200, -(3**150),
        0.0, -0.0, 1.5, -2.25e300, float("inf"), float("-inf"), float("nan"),
        "", "6.5840", "h\u00e9llo \u2603 \U0001f600", "\x00",
        b"", b"\x00\xff" * 100, bytearray(b"ab"),
        [], (), {}, set(), frozenset(),
        [1, [2, [3, [4, []]]]], (1, (2,), ()), {1: "a", "b": [1, 2], (1, 2): {3: None}},
        {1, "x", (2, 3)}, frozenset({frozenset({1}), 2}), [True, 1, 1.0],
    ]
    for v in values:
        got = roundtrip(v)
        assert same_shape(v, got), f"{v!r} came back as {got!r}"
    got = roundtrip(values)
    assert same_shape(values, got)


def test_roundtrip_registered_dataclasses_nested() -> None:
    labgob.Register(T3)
    t2 = T2(
        T2slice=[T1(1, 2, "a", "b"), T1()],
        T2map={-5: T1(T1string0="neg"), 2**70: T1(T1int0=2**70)},
        T2t3=[T3(1), (T3(2), {"k": T3(3)})],
    )
    got = roundtrip([t2, {"inner": t2}])
    assert got == [t2, {"inner": t2}]
    assert type(got[0].T2t3[1]) is tuple
    assert type(got[0].T2t3[1][1]["k"]) is T3


class Annotated:
    """A registered plain class that declares its fields with annotations."""

    A: int
    B: list[str]

    def __init__(self, a: int, b: list[str]) -> None:
        self.A = a
        self.B = b


labgob.Register(Annotated)


def test_roundtrip_annotated_class() -> None:
    labgob.reset_warnings()
    got = roundtrip(Annotated(5, ["x", "y"]))
    assert type(got) is Annotated
    assert got.A == 5 and got.B == ["x", "y"]
    assert labgob.error_count() == 0


@dataclass
class Renamed:
    V: int = 0


def test_RegisterName() -> None:
    labgob.RegisterName("raftlab.tests.Renamed", Renamed)
    data = labgob.encode(Renamed(4))
    assert b"raftlab.tests.Renamed" in data
    assert roundtrip(Renamed(4)) == Renamed(4)

    @dataclass
    class Other:
        V: int = 0

    with pytest.raises(labgob.LabgobError):
        labgob.RegisterName("raftlab.tests.Renamed", Other)  # name taken by another class


def test_decoder_sources_and_stream() -> None:
    data = labgob.encode([1, "two"])
    for src in (data, bytearray(data), memoryview(data), io.BytesIO(data)):
        assert labgob.NewDecoder(src).Decode() == [1, "two"]

    w = io.BytesIO()
    enc = labgob.NewEncoder(w)
    for i in range(50):
        enc.Encode(T1(T1int0=i))
    dec = labgob.NewDecoder(io.BytesIO(w.getvalue()))
    assert [dec.Decode().T1int0 for _ in range(50)] == list(range(50))
    with pytest.raises(EOFError):
        dec.Decode()
    with pytest.raises(EOFError):
        labgob.NewDecoder(b"").Decode()


# ---------------------------------------------------------------- no shared references


def test_decoded_value_shares_nothing_with_original() -> None:
    inner = [1, 2]
    original = [T1(T1string1="a"), {"k": inner}, bytearray(b"ab"), T2(T2slice=[T1()])]
    data = labgob.encode(original)
    decoded = labgob.decode(data)
    assert decoded == original

    # mutate the decoded value: the original is unchanged
    decoded[0].T1string1 = "changed"
    decoded[1]["k"].append(3)
    decoded[2][0] = ord("z")
    decoded[3].T2slice[0].T1int0 = 42
    assert original == [T1(T1string1="a"), {"k": [1, 2]}, bytearray(b"ab"), T2(T2slice=[T1()])]

    # mutate the original: the decoded value (and the bytes) are unchanged
    fresh = labgob.decode(data)
    inner.append(99)
    original[0].T1int0 = 7
    assert fresh == [T1(T1string1="a"), {"k": [1, 2]}, bytearray(b"ab"), T2(T2slice=[T1()])]
    assert labgob.decode(data) == fresh

    # two decodes of the same bytes are distinct objects
    again = labgob.decode(data)
    assert again[1]["k"] is not fresh[1]["k"] and again[0] is not fresh[0]


# ---------------------------------------------------------------- errors


@dataclass
class Holder:
    name: str = ""
    mu: Any = None


labgob.Register(Holder)


def test_unencodable_names_the_path() -> None:
    value = [1, Holder("h", threading.Lock())]
    with pytest.raises(labgob.LabgobError) as ei:
        labgob.encode(value)
    msg = str(ei.value)
    assert "[1].mu" in msg and "lock" in msg, msg

    # the same through an Encoder, deeper
    with pytest.raises(labgob.LabgobError) as ei:
        labgob.NewEncoder(io.BytesIO()).Encode({"x": T2(T2t3=[Holder(mu=threading.Lock())])})
    msg = str(ei.value)
    assert ".T2t3[0].mu" in msg and "lock" in msg, msg


def test_unregistered_class_cannot_be_encoded() -> None:
    @dataclass
    class NotRegistered:
        X: int = 0

    with pytest.raises(labgob.LabgobError) as ei:
        labgob.encode({"a": [NotRegistered()]})
    assert "NotRegistered" in str(ei.value)


class NeverRegistered:
    X: int


@dataclass
class Canary:
    X: int = 0


@dataclass
class Canary2:
    X: int = 0


# The crafted payloads below replace a registered name by one that is not registered.
# The registered names are exactly as long as their replacements, so the tampered
# bytes stay well-formed and only the name is wrong.
EVIL_NAME = "os.system"
UNREGISTERED_NAME = f"{NeverRegistered.__module__}.{NeverRegistered.__qualname__}"
CANARY_NAME = "q" * len(EVIL_NAME)
CANARY2_NAME = "Q" * len(UNREGISTERED_NAME)
labgob.RegisterName(CANARY_NAME, Canary)
labgob.RegisterName(CANARY2_NAME, Canary2)


def test_payload_naming_unregistered_class_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a) or 0)

    data = labgob.encode([Canary(X=1)])
    assert CANARY_NAME.encode() in data, "labgob no longer stores names verbatim; adapt the test"
    evil = data.replace(CANARY_NAME.encode(), EVIL_NAME.encode())
    with pytest.raises(labgob.DecodeError) as ei:
        labgob.decode(evil)
    assert EVIL_NAME in str(ei.value)

    data = labgob.encode({"k": Canary2(5)})
    assert CANARY2_NAME.encode() in data
    evil = data.replace(CANARY2_NAME.encode(), UNREGISTERED_NAME.encode())
    with pytest.raises(labgob.DecodeError) as ei:
        labgob.decode(evil)
    assert "NeverRegistered" in str(ei.value)
    assert calls == []


class _Evil:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (os.system, (f"touch {self.path}",))


def test_pickle_payload_is_refused_and_runs_nothing(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "pwned"
    payloads = [
        pickle.dumps(_Evil(str(marker)), protocol=proto)
        for proto in range(pickle.HIGHEST_PROTOCOL + 1)
    ]
    calls: list[Any] = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a) or 0)
    monkeypatch.setattr(posix, "system", lambda *a: calls.append(a) or 0)
    for payload in payloads:
        with pytest.raises(labgob.DecodeError):
            labgob.decode(payload)
        with pytest.raises(labgob.DecodeError):
            labgob.NewDecoder(io.BytesIO(payload)).Decode()
    assert calls == [] and not marker.exists()


def test_truncated_data_raises_DecodeError() -> None:
    labgob.Register(T3)
    data = labgob.encode(
        [T2(T2slice=[T1(1, 2, "x", "y")], T2map={1: T1()}, T2t3=T3(3)), 2**100, "s", b"b", 1.5]
    )
    for k in range(1, len(data)):
        with pytest.raises(labgob.DecodeError) as ei:
            labgob.decode(data[:k])
        assert str(ei.value).startswith("labgob"), str(ei.value)
    msg = str(pytest.raises(labgob.DecodeError, labgob.decode, data[:-1]).value)
    assert any(w in msg for w in ("truncat", "end", "exceeds", "left")), msg

    # a stream whose second value is cut short: the first decodes, the second fails
    w = io.BytesIO()
    enc = labgob.NewEncoder(w)
    enc.Encode("first")
    enc.Encode(["second", 2])
    dec = labgob.NewDecoder(w.getvalue()[:-3])
    assert dec.Decode() == "first"
    with pytest.raises(labgob.DecodeError):
        dec.Decode()


def test_corrupt_data_raises_DecodeError_only() -> None:
    labgob.Register(T3)
    data = labgob.encode({"a": [T1(1, 2, "x", "y"), T3(3)], "b": (2**70, {1, 2}), "c": b"\x00" * 5})
    with pytest.raises(labgob.DecodeError):
        labgob.decode(data + b"\x00")  # trailing bytes
    with pytest.raises(labgob.DecodeError):
        labgob.decode(b"\xff" + data)  # not a value at all
    rng = random.Random(6_5840)
    for _ in range(3000):
        bad = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(bad))
            bad[i] = rng.choice([0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)])
        try:
            labgob.decode(bytes(bad))  # may still be a valid encoding of something
        except labgob.DecodeError as e:
            assert str(e), "DecodeError without a message"
        # any other exception type fails the test


def test_foreign_reads_a_class_this_process_has_not_registered() -> None:
    """A sealed tester reads a peer's requests without the peer's classes."""

    @dataclass
    class Unseen:
        Term: int = 0
        Entries: list[Any] = field(default_factory=list)

    labgob.RegisterName("peer.Unseen", Unseen)
    data = labgob.encode(Unseen(3, [Unseen(2, ["x"])]))
    labgob.registry._by_name.pop(b"peer.Unseen")  # as in a process that never saw it
    labgob.registry._by_class.pop(Unseen)
    with pytest.raises(labgob.DecodeError, match="not registered"):
        labgob.decode(data)
    value = labgob.decode(data, foreign=True)
    assert isinstance(value, labgob.Foreign) and value.name == "peer.Unseen"
    assert value.fields["Term"] == 3
    inner = value.fields["Entries"][0]
    assert isinstance(inner, labgob.Foreign) and inner.fields == {"Term": 2, "Entries": ["x"]}


def test_plain_decoding_reads_builtins_and_refuses_any_class() -> None:
    """decode(plain=True): what sealed mode's tester reads from a peer's process."""
    value = (None, True, 7, 2**70, 1.5, "s", b"b", [1, (2, 3)], {"k": [b""]})
    assert labgob.decode(labgob.encode(value), plain=True) == value
    for other, what in [
        (Canary(X=1), CANARY_NAME),
        (bytearray(b"x"), "bytearray"),
        ({1}, "set"),
        (frozenset({1}), "frozenset"),
    ]:
        with pytest.raises(labgob.DecodeError, match=f"holds a {re.escape(what)}, where only"):
            labgob.decode(labgob.encode([1, other]), plain=True)
