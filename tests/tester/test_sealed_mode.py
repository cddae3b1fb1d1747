"""Sealed mode (harness/runtime/sealed.py): each peer its own process.

What only sealed mode gives: no student code in the test process, a crash that
is a real SIGKILL, peers that share no memory, and a peer that breaks the
channel's rules failing its own test while the tester carries on. What must not
change: the reports read as they do in-process.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sealed_fixtures as fx
from harness import hangs, leftovers
from harness.config import make_config
from harness.runtime import sealed, wire
from harness.runtime.inboxes import REPLY_INBOXES, RPC_INBOXES
from harness.runtime.lanes import LANES, LaneBroken, _check
from harness.runtime.sealed import HELLO_SECONDS
from harness.runtime.wire import APPLY_FIELDS, MAX_BYTES, Channel, WireError, expect, fits

import labgob

REPO = Path(__file__).resolve().parents[2]


def _fails(make: object, *, n: int = 3, wait: float = 0.0) -> str:
    """The failure of a sealed cluster of make's Raft that waits for an election."""
    with pytest.raises(AssertionError) as failure:
        with make_config(n, False, make=make, sealed=True) as cfg:  # type: ignore[arg-type]
            cfg.checkOneLeader()
            if wait:
                import time

                time.sleep(wait)
            cfg.checkOneLeader()
    return str(failure.value)


def test_the_test_process_never_imports_the_raft_package(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(textwrap.dedent("""
        import sys
        from harness.config import make_config

        def test_probe():
            with make_config(3, False) as cfg:
                cfg.begin("probe")
                cfg.one(101, 3, False)
                assert cfg.runtime.name == "sealed"
                cfg.end()
            assert [m for m in sys.modules if m == "raft" or m.startswith("raft.")] == []
    """))
    env = dict(os.environ, RAFTLAB_SEALED="1", PYTHONPATH=f"{REPO}{os.pathsep}{REPO / 'tests'}")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(probe)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_a_crash_is_a_sigkill_and_a_restart_reads_the_testers_copy() -> None:
    with make_config(3, False, make=fx.MakeCorrect, sealed=True) as cfg:
        cfg.one(101, 3, True)
        old = [peer.raft._host.proc for peer in cfg.rafts]  # type: ignore[union-attr]
        for i in range(3):
            cfg.crash1(i)
        assert [p.returncode for p in old] == [-9, -9, -9]
        for i in range(3):
            cfg.start1(i, cfg.applier)
            cfg.connect(i)
        new = [peer.raft._host.proc.pid for peer in cfg.rafts]  # type: ignore[union-attr]
        assert not set(new) & {p.pid for p in old}
        assert cfg.one(102, 3, True) == 2  # the log came back from the tester's Store
        cfg.end()


def test_peers_share_no_memory() -> None:
    with make_config(3, False, make=fx.MakeSharedLeader, sealed=False) as cfg:
        assert cfg.checkOneLeader() in range(3)  # one process: the variable is shared
    fx.LEADER.clear()
    assert re.match(r"term 1 has [23] \(>1\) leaders", _fails(fx.MakeSharedLeader))


def test_an_exception_in_a_peers_thread_reads_as_in_process() -> None:
    first = _fails(fx.MakeTypoInHandler).splitlines()
    assert first[0].startswith("AttributeError: 'RequestVoteArgs' object has no attribute 'term'")
    assert re.match(
        r"    at \S*sealed_fixtures\.py:\d+, in RequestVote \(thread labrpc-handler-\d+\): "
        r"reply\.Term = args\.term", first[1]
    ), first[1]  # fmt: skip


@pytest.mark.parametrize(
    "make, why",
    [
        (fx.MakeSendsGarbage, "a message of unknown kind byte 104"),
        (fx.MakeSendsGarbageOnLanes, "a message of unknown kind byte 104"),
        (fx.MakeClosesItsLanes, "it closed a lane of its channel"),
        (fx.MakeSendsHugeFrame, f"over the limit of {MAX_BYTES}"),
        (fx.MakeNamesAnotherInbox, f"a request naming reply inbox {REPLY_INBOXES}, not one"),
        (fx.MakeForgesLogSample, "an inspect() sample that does not fit"),
    ],
)
def test_a_peer_that_sends_garbage_fails_its_test_and_is_killed(make: object, why: str) -> None:
    message = _fails(make, wait=0.5)
    assert "server 0's peer host sent a malformed message (" in message
    assert why in message and "sealed mode killed its process" in message
    with make_config(3, False, make=fx.MakeCorrect, sealed=True) as cfg:
        cfg.one(101, 3, True)  # the tester carries on


def test_a_message_whose_handling_raises_fails_its_test_and_ends_no_reader(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tester's own handling of a well-formed message raising (here a Save) is
    no silent end of that host's reader: the test fails saying so, with the stack."""

    def broken_save(self: sealed.Store, state: bytes, snapshot: bytes) -> None:
        raise RuntimeError("planted in the tester's Save")

    monkeypatch.setattr(sealed.Store, "Save", broken_save)
    with pytest.raises(AssertionError) as failure:
        with make_config(3, False, sealed=True) as cfg:  # the reference Raft saves its vote
            cfg.checkOneLeader()
    message = str(failure.value)
    assert re.match(
        r"server \d's peer host sent a malformed message \(the tester's handling of it "
        r"raised RuntimeError: planted in the tester's Save\); sealed mode killed its process",
        message,
    ), message
    assert "in broken_save" in capsys.readouterr().err


@pytest.mark.parametrize("sealed_mode", [False, True])
def test_a_start_whose_answer_fits_no_layout_reads_as_in_process(sealed_mode: bool) -> None:
    with make_config(1, False, make=fx.MakeOddStart, sealed=sealed_mode) as cfg:
        peer = cfg.rafts[0]
        assert peer is not None
        answer = peer.Start(5)
    assert answer == (-1, 7, 1) and type(answer[2]) is int


@pytest.mark.parametrize("sealed_mode", [False, True])
def test_an_applymsg_flag_that_is_an_int_reads_as_in_process(sealed_mode: bool) -> None:
    with make_config(3, False, make=fx.MakeIntCommandValid, sealed=sealed_mode) as cfg:
        cfg.one(101, 3, True)


def test_an_applymsg_field_of_another_type_is_refused_saying_which() -> None:
    assert sealed.Applied.from_fields([1, "x", 3, None, None, None, None]).CommandValid == 1
    with pytest.raises(WireError, match="whose CommandIndex is a str, not an int"):
        sealed.Applied.from_fields([True, "x", "3", None, None, None, None])


def test_a_peer_that_stops_reading_fails_its_test_and_holds_no_other() -> None:
    """A host that reads nothing more (here its process is stopped) fills the channels
    the tester writes to it. The tester's write waits STUCK_SECONDS, not for good:
    the other peer's Start, whose Calls go to the stopped one, is not held behind it."""
    start = time.monotonic()
    with pytest.raises(AssertionError) as failure:
        with make_config(2, False, make=fx.MakeStopsReading, sealed=True) as cfg:
            stops, floods = cfg.rafts[1], cfg.rafts[0]
            assert stops is not None and floods is not None
            stops.Start("stop")
            time.sleep(0.5)
            floods.Start("flood")
            while time.monotonic() - start < 4 * sealed.STUCK_SECONDS:
                time.sleep(0.1)
                cfg._check_failed()
    assert re.fullmatch(
        r"server 1's peer host stopped reading what the tester sends it \(nothing read for "
        rf"{sealed.STUCK_SECONDS:g} s, with \d+ bytes waiting\); sealed mode killed its process",
        str(failure.value),
    ), failure.value
    assert time.monotonic() - start < 3 * sealed.STUCK_SECONDS


def test_a_make_too_large_for_the_channel_waits_for_the_host_to_be_ready(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new host reads nothing until it has imported the student's module, so the
    tester's Make, with the persisted state, may wait for room that long: the
    stopped-reading limit counts from the host's ready, not from its start."""
    import slow_import_fixture

    monkeypatch.setattr(sealed, "STUCK_SECONDS", 0.2)
    state = b"x" * (1 << 20)  # several times a socket's buffer
    with make_config(1, False, make=slow_import_fixture.Make, sealed=True) as cfg:
        cfg.crash1(0)  # so the restart below is a new host, still importing
        cfg.saved[0].Save(state, None)
        cfg.start1(0, cfg.applier)
        peer = cfg.rafts[0]
        assert peer is not None
        assert peer.Start(1)[0] == len(state)
        cfg.end()


def test_a_peer_that_ends_its_process_fails_its_test() -> None:
    message = _fails(fx.MakeExits, wait=0.5)
    assert "server 0's process exited (exit code 3) while the test ran" in message


@pytest.mark.parametrize("make", [fx.MakeExitsInMake, fx.MakeExitsInGetState])
def test_a_request_to_a_peer_that_ended_raises_why_it_ended(make: object) -> None:
    """The grader reports the test's own exception: it must be the exit, not that an
    answer is missing; and nobody waits for a hello that will not come."""
    start = time.monotonic()
    with pytest.raises(AssertionError) as failure:
        with make_config(3, False, make=make, sealed=True) as cfg:  # type: ignore[arg-type]
            cfg.checkOneLeader()
    assert re.match(
        r"server \d's process exited \(exit code 0\) while the test ran: a Raft peer must "
        r"not end its process", str(failure.value)
    ), failure.value
    assert time.monotonic() - start < HELLO_SECONDS / 2


def test_nobody_waits_for_the_hello_of_peers_that_ended_without_one() -> None:
    start = time.monotonic()
    with pytest.raises(AssertionError, match="a Raft peer must not end its process"):
        with make_config(3, False, make=fx.MakeExitsInMake, sealed=True) as cfg:
            assert cfg.rpc_kinds is None  # what the heartbeat counter asks first
            assert time.monotonic() - start < HELLO_SECONDS / 2


def test_the_first_call_into_a_peer_is_timed_from_when_its_make_returned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In-process, start1 returns once Make has; sealed too, so a host slow to start
    (a new interpreter importing raft under load) is no hang of GetState()."""
    monkeypatch.setattr(hangs, "HANG_SECONDS", fx.SlowMake.SECONDS / 2)
    with make_config(3, False, make=fx.MakeSlowMake, sealed=True) as cfg:
        cfg.checkOneLeader()


def test_a_make_that_never_returns_fails_saying_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sealed, "HELLO_SECONDS", 1.0)
    start = time.monotonic()
    with pytest.raises(AssertionError) as failure:
        with make_config(1, False, make=fx.MakeEndlessMake, sealed=True):
            pass
    assert str(failure.value).startswith(
        "server 0's Make() has not returned after 1 s (its host imports raft, then calls "
        "Make): Make() must return quickly"
    ), failure.value
    assert time.monotonic() - start < 10


def test_a_make_may_wait_for_its_own_calls_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host reads its channel while Make runs (peerhost/readers.py), so a Call
    made in Make gets its answer."""
    monkeypatch.setattr(sealed, "HELLO_SECONDS", 10.0)
    with make_config(1, False, make=fx.MakeCallsInMake, sealed=True) as cfg:
        assert cfg.rafts[0] is not None
        term, _ = cfg.rafts[0].GetState()  # its Make has returned, and it answers
        assert term >= 0


def test_a_thread_left_calling_after_kill_is_reported() -> None:
    """It is listed, and its host, exiting with the answers to its Calls in flight
    (a reset channel), fails nothing else."""
    leftovers.take()
    with make_config(1, False, make=fx.MakeLeavesACaller, sealed=True):
        time.sleep(0.2)  # a while of calls, whose answers then cross the host's exit
    left = leftovers.take()
    assert [t.name for t in left] == ["leaky-caller"], left


def test_race_mode_runs_in_the_peers_and_reports_as_in_process() -> None:
    with pytest.raises(AssertionError) as failure:
        with make_config(3, False, race=True, make=fx.MakeUnlockedGetState, sealed=True) as cfg:
            for _ in range(10):
                cfg.checkOneLeader()
    message = str(failure.value)
    # GetState reads both fields unlocked: whichever a write on another thread came
    # before is reported first. The reader is the test's thread, as in-process (a
    # host's worker runs the call as it), and so is the write in Make.
    assert re.match(
        r"DATA RACE: read of rf\.(current_term|state) by thread MainThread without holding "
        r"rf\.mu \(in GetState, sealed_fixtures\.py:\d+\)",
        message,
    ), message


def test_a_hung_call_lists_the_peers_threads() -> None:
    message = _fails(fx.MakeStuckGetState)
    assert message.startswith("GetState() on server 0 has not returned after 5 s")
    assert re.search(r"\(server \d\): \S*sealed_fixtures\.py:\d+, in GetState", message), message


# -- the channel --------------------------------------------------------------------


def _pair() -> tuple[Channel, socket.socket]:
    ours, theirs = socket.socketpair()
    return Channel(ours), theirs


def _frame(data: bytes) -> bytes:
    return struct.pack("<I", len(data)) + data


@pytest.mark.parametrize(
    "data, why",
    [
        (b"\0" + labgob.encode(["call", 1]), r"not a \(kind, \.\.\.\) tuple"),
        (b"\0" + labgob.encode((1, 2)), r"not a \(kind, \.\.\.\) tuple"),
        (b"\0" + b"\x09\x01\0\0\0" * 250 + b"\0", "nested more than 200 deep"),  # [[[...None]]]
        (b"\0" + labgob.encode(("hello", {1, 2})), "holds a set"),
        (b"\0\xff\xff", "cannot decode"),
        (b"", "an empty message"),
        (b"\xff", "unknown kind byte 255"),
        (b"\x05\x01\x00", "'save' message cut short"),
        (b"\x05" + struct.pack("<I", 99) + b"ab", "runs past its end"),
        (b"\x06" + struct.pack("<Q", 1) + b"!", "1 bytes too many"),
        (b"\x03" + struct.pack("<QI", 1, 1) + b"\xff" + struct.pack("<I", 0), "not UTF-8"),
        (b"\x08" + struct.pack("<Qqq", 1, 1, 1) + b"\x02", "a bool that is not 0 or 1"),
        (b"\x07" + struct.pack("<QI", 1, 0) + struct.pack("<I", 1) + b"\xff", "cannot decode"),
        (
            b"\x07" + struct.pack("<QI", 1, 0)
            + struct.pack("<I", len(labgob.encode({1}))) + labgob.encode({1}),
            "holds a set",
        ),  # fmt: skip
    ],
)
def test_the_channel_refuses_what_breaks_its_rules(data: bytes, why: str) -> None:
    chan, theirs = _pair()
    theirs.sendall(_frame(data))
    with pytest.raises(WireError, match=why):
        chan.receive()


def test_a_channels_write_fails_once_the_other_end_has_read_nothing_for_its_seconds() -> None:
    """A reader that is slow but reads lets a write go on past write_seconds in all;
    one that reads nothing fails the write after write_seconds, through on_stuck."""
    mine, theirs = socket.socketpair()
    stuck: list[str] = []
    chan = Channel(mine, 0.3, stuck.append)
    big = b"x" * (4 << 20)
    frame = wire._frame(("save", big, b""))
    got = bytearray()

    def read_slowly() -> None:
        while len(got) < len(frame):
            got.extend(theirs.recv(1 << 18))
            time.sleep(0.05)  # some 1.6 s in all, each wait for room well under 0.3 s

    reader = threading.Thread(target=read_slowly)
    reader.start()
    chan.send("save", big, b"")
    reader.join()
    assert stuck == [] and got == frame
    start = time.monotonic()
    with pytest.raises(wire.Stuck, match=r"nothing read for 0.3 s, with \d+ bytes waiting"):
        chan.send("save", big, b"")
    assert 0.3 <= time.monotonic() - start < 2 and len(stuck) == 1
    chan.close()
    theirs.close()


def test_the_channel_refuses_an_object_of_a_registered_class() -> None:
    chan, theirs = _pair()
    theirs.sendall(_frame(b"\0" + labgob.encode(("hello", fx.RequestVoteArgs()))))
    with pytest.raises(WireError, match="holds a fixture_raft.RequestVoteArgs, where only None"):
        chan.receive()


def test_every_kind_of_message_crosses_as_it_was_sent() -> None:
    chan, theirs = _pair()
    other = Channel(theirs)
    for message in [
        ("call", 7, "end-name", "Raft.AppendEntries", b"args", -1),
        ("called", 7, None, "labrpc: no such method"),
        ("rpc_done", 2**64 - 1, b"", ""),
        ("save", b"state", b""),
        ("taken", 3),
        ("hello", "Raft", {"RequestVote": ["RequestVoteArgs", ["Term"]]}, True),
        ("Start", 9, "MainThread", [1, "x", None]),
        ("started", 9, -1, 2**63 - 1, True),
        ("apply", 4, True, 101, 3, False, b"", 0, 0, "raft-0-applier", "raft/raft.py:1, in f", 2),
        ("apply_any", 4, [1, 101, 3, None, None, None, None], "raft-0-applier", "?", -1),
    ]:
        other.send(*message)
        assert chan.receive() == message


@pytest.mark.parametrize(
    "request_kind, message",
    [
        ("GetState", ("started", 1, 1, 1, True)),  # Start's answer, to a GetState
        ("rpc", ("done", 1, "x", "")),  # a call's answer, to an RPC delivery
        ("Start", ("rpc_done", 1, b"x", "")),
    ],
)
def test_an_answer_of_another_requests_kind_is_refused(
    request_kind: str, message: tuple[Any, ...]
) -> None:
    """A host that forges the answer to a pending request in another request's shape
    fails as a malformed message does: the caller never unpacks the wrong shape."""
    host = sealed._Host.__new__(sealed._Host)  # its reader's handling alone, no process
    host._mu = threading.Lock()
    host._answers = {1: sealed._Answer(request_kind)}
    why = f"a '{message[0]}' answer to request 1, a '{request_kind}'"
    with pytest.raises(WireError, match=why):
        host._handle(message)
    assert 1 in host._answers  # still waiting: the host's end answers it as a failure


@pytest.mark.parametrize("sealed_mode", [False, True])
def test_a_lab_calls_saves_are_in_the_testers_store_when_it_returns(sealed_mode: bool) -> None:
    """A call on a lane (runtime/lanes.py) returns once the tester has handled what its
    host sent before answering on the main channel: the Saves the call made."""
    with make_config(1, False, make=fx.MakeSavesInStart, sealed=sealed_mode) as cfg:
        peer, store = cfg.rafts[0], cfg.saved[0]
        assert peer is not None and store is not None
        for i in range(300):
            peer.Start(i)
            assert store.ReadRaftState() == str(i).encode()
        cfg.end()


def test_calls_go_on_when_every_lane_is_held_by_a_call_that_blocks() -> None:
    """A call that never returns keeps its lane, as it keeps its thread in-process;
    with every lane held, calls go on the main channel."""
    with make_config(1, False, make=fx.MakeBlocksInStart, sealed=True) as cfg:
        peer = cfg.rafts[0]
        assert peer is not None
        lanes = peer.raft._host._lanes
        blocked = [threading.Thread(target=peer.Start, args=("block",)) for _ in range(LANES)]
        for t in blocked:
            t.start()
        deadline = time.monotonic() + 5
        while lanes._free and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not lanes._free, "the blocking Starts did not take every lane"
        assert peer.GetState() == (0, False)
        peer.Start("free")
        for t in blocked:
            t.join(5)
            assert not t.is_alive()
        assert len(lanes._free) == LANES  # given back once answered
        cfg.end()


def test_rpcs_and_answers_go_on_when_every_inbox_is_taken() -> None:
    """RPCs beyond a host's free RPC inboxes are delivered on its main channel, and the
    answers to Calls beyond its free reply inboxes come there (runtime/inboxes.py);
    an inbox is free again once its RPC has been answered."""
    with make_config(2, False, make=fx.MakeHolds, sealed=True) as cfg:
        caller, callee = cfg.rafts
        assert caller is not None and callee is not None
        inboxes = callee.raft._host._rpc_inboxes
        caller.Start("hold")
        deadline = time.monotonic() + 5
        while inboxes._free and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not inboxes._free, "the held RPCs did not take every RPC inbox"
        callee.Start("free")
        while caller.Start("held")[0] < fx.Holds.HOLDS and time.monotonic() < deadline:
            time.sleep(0.01)
        assert caller.Start("held")[0] == fx.Holds.HOLDS
        assert sorted(inboxes._free) == list(range(RPC_INBOXES))
        cfg.end()


@pytest.mark.parametrize(
    "fence, answer, why",
    [
        (("done", 1, None, ""), ("done", 1, None, ""), "a 'done' message on a lane, where"),
        (("after",), ("done", 1, None, ""), r"a 'after' message shaped \(\)"),
        (("after", 0), ("rpc_done", 1, b"", ""), "a 'rpc_done' answer on a lane to request 1"),
        (("after", 0), ("done", 2, None, ""), "to request 2, where 1 was asked"),
        (("after", 0), ("done", 1), r"a 'done' message shaped \(int\)"),
    ],
)
def test_a_lanes_answer_is_checked(
    fence: tuple[Any, ...], answer: tuple[Any, ...], why: str
) -> None:
    with pytest.raises(LaneBroken, match=why):
        _check("GetState", 1, fence, answer)
    assert _check("Start", 1, ("after", 3), ("started", 1, 5, 2, True)) == (3, [5, 2, True], None)


def test_the_hosts_apply_fields_are_the_testers() -> None:
    """A host sends the fields of wire.APPLY_FIELDS, defaults filled in; the tester
    builds its Applied from them, in order."""
    applied = [(f.name, f.default) for f in dataclasses.fields(sealed.Applied)]
    assert applied == list(APPLY_FIELDS)


def test_fits_says_whether_values_fit_a_layout_exactly() -> None:
    assert fits("started", 1, -5, 3, False)
    assert not fits("started", 1, -5, 3, 1)  # isLeader an int: the general "done"
    assert not fits("started", 1, True, 3, False)  # a bool is no int here
    assert not fits("started", 1, 2**63, 3, False)  # past an i64
    assert not fits("started", -1, 0, 0, False)  # a token is unsigned
    assert not fits("started", 1, 0, 0)  # a field short
    assert fits("Start", 1, "MainThread", object())  # v: whatever labgob can encode
    assert not fits("apply", 1, True, 5, 1, False, None, 0, 0, "t", "w", -1)  # Snapshot None


def test_expect_checks_a_messages_shape() -> None:
    assert expect(("save", b"a", b"b"), bytes, bytes) == (b"a", b"b")
    with pytest.raises(WireError, match=r"a 'call' message shaped \(bool\)"):
        expect(("call", True), int)
    with pytest.raises(WireError, match="shaped"):
        expect(("save", b"a"), bytes, bytes)


@pytest.mark.parametrize("zygote", ["on", "off"])
def test_a_host_starts_as_a_new_interpreter_would_forked_or_not(
    zygote: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forked from the zygote (harness/runtime/hostprocs.py) or not, a host takes the
    tester's environment and working directory as they are when it starts, and the
    command line `python -m harness.peerhost` gives it."""
    monkeypatch.setenv("RAFTLAB_ZYGOTE", zygote)
    monkeypatch.setenv("RAFTLAB_PROBE", f"set just before the {zygote} test")
    monkeypatch.chdir(tmp_path)
    with make_config(3, False, make=fx.MakeTellsItsProcess, sealed=True) as cfg:
        infos = [peer.inspect() for peer in cfg.rafts]  # type: ignore[union-attr]
        cfg.end()
    assert len({info["pid"] for info in infos}) == 3
    parents = {info["ppid"] for info in infos}
    assert (parents == {os.getpid()}) == (zygote == "off"), parents
    for info in infos:
        assert info["probe"] == f"set just before the {zygote} test"
        assert info["cwd"] == info["path0"] == str(tmp_path)
        assert info["argv"][0] == str(REPO / "tests/harness/peerhost/__main__.py")
        # a forked host's code was compiled once, in the zygote
        assert (info["loaded_by"] == "harness.peerhost.precompiled") == (zygote == "on")


def test_an_inspected_log_crosses_as_what_changed_and_is_rebuilt_whole() -> None:
    """LogDelta (peerhost/host.py) sends a log as what changed since the last one;
    the tester's copy (_LogCopy, of a handle's answers or of a host's LogSampler)
    rebuilds it. Each log below must come back whole, the entry whose command
    changed under the same term included."""
    from harness.peerhost.host import LogDelta
    from harness.runtime.sealed import _LogCopy

    sent = LogDelta()
    held = _LogCopy()
    logs = [
        (1, [(0, None)]),
        (1, [(0, None), (1, 101)]),
        (1, [(0, None), (1, 101), (1, 102), (2, 103)]),
        (1, [(0, None), (1, 101), (1, 102), (2, 104)]),  # same term, another command
        (1, [(0, None), (1, 101), [3, 105]]),  # cut, and an entry that is a list
        (3, [(1, 101), (3, 105), (3, 106)]),  # compacted up to index 2
        (3, [(1, 101), (3, 105), (3, 106)]),
        (9, [(4, 107)]),  # a snapshot past every entry held: sent whole
        (2, [(1, 101), (3, 105)]),  # log_start back: sent whole
        (2, [(1, 101), (3, 999)]),
    ]
    kinds = []
    for start, log in logs:
        answer = sent.answer({"term": 3, "role": "leader", "commit_index": 1,
                              "log_start": start, "log": log})  # fmt: skip
        kinds.append(answer[0])
        info = held.rebuilt(answer)
        assert [tuple(e) for e in info["log"]] == [tuple(e) for e in log], (start, log)
        assert (info["log_start"], info["term"], info["role"]) == (start, 3, "leader")
    assert kinds == ["full"] + ["delta"] * 6 + ["full", "full", "delta"]
    assert sent.answer({"term": 3, "log": "not a log"})[0] == "full"


def test_a_delta_that_does_not_fit_the_log_held_fails_the_host() -> None:
    """Sent by a LogSampler, the reader's WireError fails the host (fail_wire)."""
    import threading

    from harness.runtime.sealed import _Host, _LogCopy

    held = _LogCopy()
    assert held.rebuilt(["full", {"log": [(0, None)]}]) == {"log": [(0, None)]}
    assert held.rebuilt(["delta", {}, 0, 5, []]) is None  # keeps 5 entries of 1
    reader = _Host.__new__(_Host)  # only what _inspected uses
    reader._pushed, reader._mu, reader._inspections = _LogCopy(), threading.Lock(), []
    reader._inspected(None, 1.0, ["full", {"log": [(0, None)]}])
    with pytest.raises(WireError, match="an inspect\\(\\) sample that does not fit"):
        reader._inspected(2.0, 3.0, ["delta", {}, 0, 5, []])
    assert reader.take_inspections() == [(1.0, {"log": [(0, None)]})]


def test_the_timeline_samples_a_sealed_peer_where_it_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each host samples its Raft for the timeline and sends what changed: the
    tester's sampler asks no host for anything, and the lanes read as in-process."""
    from harness.runtime.sealed import _Host

    asked: list[tuple[str, tuple[Any, ...]]] = []
    request = _Host.request

    def counted(self: _Host, kind: str, *args: Any, **kw: Any) -> Any:
        asked.append((kind, args))
        return request(self, kind, *args, **kw)

    monkeypatch.setattr(_Host, "request", counted)
    with make_config(3, False, make=fx.MakeCorrect, sealed=True) as cfg:
        leader = cfg.checkOneLeader()
        term, _ = cfg.rafts[leader].GetState()  # type: ignore[union-attr]
        time.sleep(0.3)
        data = cfg.timeline.data(False, "")
        cfg.end()
    assert ("inspect", (False,)) not in asked
    assert data["sampling"] == "inspect()"
    lanes = [[(s[2], s[3]) for s in lane["segments"]] for lane in data["lanes"]]
    assert ("leader", term) in lanes[leader], lanes
    for lane in lanes:
        assert lane[-1][0] in ("leader", "follower"), lanes


def test_the_safety_checks_sample_a_sealed_peers_log_where_it_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harness.runtime.sealed import _Host

    asked: list[str] = []
    request = _Host.request

    def counted(self: _Host, kind: str, *args: Any, **kw: Any) -> Any:
        asked.append(kind)
        return request(self, kind, *args, **kw)

    monkeypatch.setattr(_Host, "request", counted)
    with make_config(3, False, make=fx.MakeCorrect, sealed=True) as cfg:
        cfg.one(101, 3, True)
        time.sleep(0.5)
        samples = cfg.safety.samples
        cfg.end()
    assert "inspect" not in asked
    assert samples >= 3  # each peer's log at least once, with 101 in it or before


def test_a_host_sends_a_log_sample_when_it_changed_after_when_the_last_was_seen() -> None:
    from harness.peerhost.host import LogSampler

    class Chan:
        sent: list[tuple[Any, ...]] = []

        def send(self, *message: Any) -> None:
            self.sent.append(message)

    class Rf:
        info: dict[str, Any] = {"term": 1, "role": "leader", "commit_index": 0, "log": [(0, None)]}

        def inspect(self, with_log: bool = True) -> dict[str, Any]:
            return dict(self.info, log=list(self.info["log"]))

    rf, chan = Rf(), Chan()
    sampler = LogSampler(rf, chan)  # type: ignore[arg-type]
    sampler.take(1.0)
    sampler.take(2.0)  # the same: nothing sent
    rf.info = dict(rf.info, log=[(0, None), (1, 101)])
    sampler.take(3.0)
    rf.info = dict(rf.info, commit_index=1)
    sampler.take(4.0)
    assert [m[:3] for m in chan.sent] == [
        ("inspected", None, 1.0), ("inspected", 2.0, 3.0), ("inspected", None, 4.0)
    ]
    assert [m[3][0] for m in chan.sent] == ["full", "delta", "delta"]


def test_a_host_samples_its_peer_when_stirred_and_seldom_when_idle() -> None:
    """The host's sampler (Host._sample) takes the timeline's sample as soon as the
    peer acts (stir()), not on a 25 ms clock, and wakes on its own only for the
    safety checks' log, at most LOG_SLACK intervals apart."""
    import threading

    from harness.peerhost import host as peerhost

    class Chan:
        def __init__(self) -> None:
            self.sent: list[tuple[float, tuple[Any, ...]]] = []
            self.got = threading.Condition()

        def send(self, *message: Any) -> None:
            with self.got:
                self.sent.append((time.monotonic(), message))
                self.got.notify_all()

    class Rf:
        term = 1
        looks = 0  # inspect() calls: one per wake of the sampler

        def inspect(self, with_log: bool = True) -> dict[str, Any]:
            self.looks += 1
            return {"term": self.term, "role": "follower", "commit_index": 0, "log": []}

        def GetState(self) -> tuple[int, bool]:
            return self.term, False

    h = peerhost.Host.__new__(peerhost.Host)
    h.rf, h.chan = Rf(), Chan()
    h._killed, h._stirred = threading.Event(), threading.Event()
    log_every = 0.1
    sampler = threading.Thread(target=h._sample, args=(0.025, log_every), daemon=True)
    sampler.start()
    try:
        time.sleep(1.0)
        with h.chan.got:
            idle = [m for _, m in h.chan.sent if m[0] == "inspected"]
        assert len(idle) == 1  # the log, once: unchanged since, it is not sent again
        # Idle, it woke for the log's clock alone: 1 s / 150 ms, not 1 s / 25 ms.
        assert h.rf.looks <= 2 * (1 + 1.0 / (peerhost.LOG_SLACK * log_every)), h.rf.looks
        h.rf.term = 2
        stirred_at = time.monotonic()
        h.stir()
        with h.chan.got:
            assert h.chan.got.wait_for(
                lambda: any(m[0] == "sampled" and m[1][-1][3] == 2 for _, m in h.chan.sent), 5
            )
            at = next(m[1][-1][0] for _, m in h.chan.sent if m[0] == "sampled" and m[1][-1][3] == 2)
        # Taken at the stir, well before the log's clock (LOG_SLACK * 100 ms) would have.
        assert stirred_at <= at < stirred_at + peerhost.LOG_SLACK * log_every / 2
        # Busy, stirred every 5 ms with a new log each time, its log goes out once per
        # log_every at most: as often as the tester's sampler takes it in-process.
        with h.chan.got:
            before = sum(m[0] == "inspected" for _, m in h.chan.sent)
        busy_from = time.monotonic()
        while time.monotonic() < busy_from + 1.0:
            h.rf.term += 1
            h.stir()
            time.sleep(0.005)
        with h.chan.got:
            busy = sum(m[0] == "inspected" for _, m in h.chan.sent) - before
        assert 2 <= busy <= 1 + 1.0 / log_every, busy
    finally:
        h._killed.set()
        h.stir()
        sampler.join(5)
    assert not sampler.is_alive()


@pytest.mark.parametrize("zygote", ["on", "off"])
def test_a_host_run_to_its_end_is_killed_when_out_of_time(
    zygote: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hostprocs.run (pytest's header, sealed: the handlers' rebound parameters) gives
    up on a student's module whose import never ends, and leaves no process."""
    from harness.runtime import hostprocs

    (tmp_path / "slow_import.py").write_text("import time\ntime.sleep(60)\nMake = None\n")
    (tmp_path / "quick_import.py").write_text("def Make(): pass\n")
    path = os.pathsep.join([str(tmp_path), *(p for p in sys.path if p)])
    env = dict(os.environ, RAFTLAB_ZYGOTE=zygote, PYTHONPATH=path)
    assert hostprocs.run(["--rebound", "quick_import", "Make"], env, [], 30) == (0, b"")
    started = time.monotonic()
    assert hostprocs.run(["--rebound", "slow_import", "Make"], env, [], 1.0) == (None, b"")
    assert time.monotonic() - started < 10
    assert "slow_import" not in subprocess.run(["ps", "-eo", "args"], capture_output=True,
                                               text=True).stdout  # fmt: skip
