"""Sealed mode: each peer its own OS process, and no student code in the test process.

In-process, the student's Raft shares the test's memory: it can reach the
tester's objects, pytest's and the report's, and peers can agree through a
module-level variable instead of RPCs. Sealed, the test process is pytest, the
tester, labrpc's network and the report, and nothing else. Each peer is a peer
host (harness/peerhost), a process that imports the student's raft and calls
Make, joined to the tester by one socket (harness/runtime/wire.py), by a few
lanes that carry the lab's calls alone (harness/runtime/lanes.py), and by
inboxes that carry RPCs and answers to one waiting host thread each
(harness/runtime/inboxes.py):

  * the network stays here: a peer's Call arrives as ("call", ...) and takes
    labrpc's path (Network.call_later: call_bytes's journey, with no thread
    waiting for it), drops, delays, counts and hooks included; a request for
    a peer goes to its host as ("rpc", ...), on a free RPC inbox if it has one;
  * persistence is the tester's: each Save arrives as ("save", ...) and goes
    into the tester's own Store; a crash is SIGKILL, and a restart is a new
    process given the tester's copy, as Go's tester does;
  * applyCh messages cross with Go's unbuffered semantics: the host's put
    returns when the tester's applier has taken the message;
  * GetState/Start/Snapshot/Kill/inspect are requests to the host, on a free
    lane, timed by the same hang watch; a hang's report lists the host's threads;
  * thread errors, race mode's reports, labgob's and DPrintf's lines come from
    the host and read as they do in-process.

Everything a host sends is checked; a host that breaks the rules (garbage, a
message of the wrong shape, an exit while the test runs) fails its test with a
line saying so, and its process is killed.

A host is forked from the zygote, which has the host's code imported, or,
under the grader's sandbox, started as a new interpreter (runtime/hostprocs.py).
Spare hosts are started ahead (SPARES), so a restart does not wait for the
student's module to be imported: from the start for new interpreters, from a
test's first crash for forked hosts.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import labrpc
from harness import leftovers, safety, timeline
from harness.applych import ApplyChannel
from harness.hangs import ThreadPlace
from harness.observe import CRASHED, Peer, Sample, SelfSampling
from harness.rpckinds import RpcKinds
from harness.runtime import hostprocs
from harness.runtime.hostprocs import HostProcess
from harness.runtime.inboxes import CHANNELS, Inboxes, by_use
from harness.runtime.lanes import LANE_KINDS, LaneBroken, LaneEnded, Lanes
from harness.runtime.wire import ANSWERED_BY, Channel, WireError, expect
from harness.thread_errors import Report, ThreadFailure
from labrpc.service import LabrpcError

__all__ = ["Applied", "Sealed", "Store"]

SPARES = 2  # hosts started ahead, warm
HELLO_SECONDS = 20.0  # for a host to import the student's module and return from Make
ASK_SECONDS = 2.0  # for a host's stacks or causes, when a report needs them
EXIT_SECONDS = 2.0  # for a host to exit once told to
# For a host to make room in a channel the tester writes to, once it has said it is
# ready: a host reads all the time from then, so a full channel that long is a host
# that stopped reading. Under the hang watch's HANG_SECONDS, so that the test's
# failure names the host that stopped. Before, a Make too large for the channel
# waits up to HELLO_SECONDS, while the host imports the student's module.
STUCK_SECONDS = 3.0

# A command to run each host under (the grader's sandbox): a JSON list of words,
# to which the host's own command is appended.
WRAP_ENV = "RAFTLAB_PEER_WRAP"


class Store:
    """The tester's persister for a sealed peer: the host's saves land here, and a
    restart is given a copy (the API of raft/persister.py, which the test process
    does not import: it is in the student's package)."""

    def __init__(self) -> None:
        self._mu = threading.Lock()
        self._raftstate = b""  # guarded by _mu
        self._snapshot = b""  # guarded by _mu

    def Copy(self) -> Store:
        with self._mu:
            new = Store()
            new._raftstate, new._snapshot = self._raftstate, self._snapshot
            return new

    def Save(self, raftstate: bytes, snapshot: bytes | None) -> None:
        with self._mu:
            self._raftstate, self._snapshot = bytes(raftstate), bytes(snapshot or b"")

    def ReadRaftState(self) -> bytes:
        with self._mu:
            return self._raftstate

    def ReadSnapshot(self) -> bytes:
        with self._mu:
            return self._snapshot

    def RaftStateSize(self) -> int:
        with self._mu:
            return len(self._raftstate)

    def SnapshotSize(self) -> int:
        with self._mu:
            return len(self._snapshot)


@dataclass
class Applied:
    """An ApplyMsg as it reaches the tester from a host (raft.ApplyMsg's fields)."""

    CommandValid: bool = False
    Command: Any = None
    CommandIndex: int = 0
    SnapshotValid: bool = False
    Snapshot: bytes = b""
    SnapshotTerm: int = 0
    SnapshotIndex: int = 0

    @classmethod
    def from_fields(cls, fields: list[Any]) -> Applied:
        """From the host's list of the seven fields; None is a field left unset.

        A flag may be an int, as the tester's `if m.CommandValid` reads it in-process."""
        defaults = cls()
        if len(fields) != 7:
            raise WireError(f"an ApplyMsg of {len(fields)} fields, not 7")
        values = {}
        for (name, default), value in zip(vars(defaults).items(), fields, strict=True):
            if value is None and name != "Command":
                value = default
            elif name != "Command" and not (
                type(value) is type(default) or (type(default) is bool and type(value) is int)
            ):
                raise WireError(
                    f"an ApplyMsg whose {name} is {_a(type(value).__name__)}, "
                    f"not {_a(type(default).__name__)}"
                )
            values[name] = value
        return cls(**values)


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


_ENDED = "(its process ended)"  # the error of a request whose host is gone
_NO_LANE = object()  # a request that found no lane free


class PeerGone(AssertionError):
    """A request to a host whose process has ended."""


class _Answer:
    """A request to a host, waiting for its answer: a thread waits on done, or the
    reader calls then(value, error) as the answer arrives."""

    __slots__ = ("kind", "done", "value", "error", "then", "inbox")

    def __init__(self, kind: str, then: Callable[[Any, str | None], None] | None = None) -> None:
        self.kind = kind  # the request's: only the kinds in ANSWERED_BY[kind] answer it
        self.inbox = -1  # the RPC inbox it was sent to, free again once answered
        self.done = threading.Lock()
        self.done.acquire()
        self.value: Any = None
        self.error: str | None = None  # set when the request failed
        self.then = then

    def give(self, value: Any, error: str | None) -> None:
        self.value, self.error = value, error
        if self.then is not None:
            self.then(value, error)
        else:
            self.done.release()


class _Host:
    """One peer host process, from spawn to exit."""

    def __init__(self, runtime: Sealed) -> None:
        self._runtime = runtime
        self.server = -1  # which server it runs, once attached
        pairs = [socket.socketpair() for _ in range(CHANNELS)]
        args = [runtime.make_module, runtime.make_name, *(["--race"] if runtime.race_mode else [])]
        self.proc: HostProcess = hostprocs.start(
            args, [child for _, child in pairs], runtime.env, runtime.wrap
        )
        for _, child in pairs:
            child.close()
        main, lanes, rpc_inboxes, reply_inboxes = by_use([sock for sock, _ in pairs])
        self.ready = False  # written by the reader: the host reads its channels
        self._written: list[Channel] = []  # the tester's ends, each written by the tester
        self.chan = self._channel(main)
        self._lanes = Lanes([self._channel(sock) for sock in lanes])
        self._rpc_inboxes = Inboxes([self._channel(sock) for sock in rpc_inboxes])
        self._reply_inboxes = [self._channel(sock) for sock in reply_inboxes]  # the host's to take
        self._mu = threading.Lock()
        self._answers: dict[int, _Answer] = {}  # guarded by _mu
        self._next = 0  # guarded by _mu
        self.gone = False  # guarded by _mu: the process ended (or was killed)
        self._handled = 0  # guarded by _mu: the frames of the main channel handled
        self._progress = threading.Condition(self._mu)  # _handled grew, or gone was set
        self._samples: list[Sample] = []  # guarded by _mu: the timeline's, not yet taken
        # The safety checks' samples (at, answer), not yet taken; guarded by _mu.
        self._inspections: list[tuple[float, Any]] = []
        self._pushed = _LogCopy()  # the reader's alone: the log those samples rebuild
        self.killed = False  # the tester killed it, or told it to exit: its end is no failure
        self.ended: AssertionError | None = None  # guarded by _mu: why it ended on its own
        self.hello = threading.Event()  # Make has returned, or the host has ended
        self.has_inspect = False  # the Raft has the optional inspect(); told in its hello
        self.samples_logs = runtime.log_every > 0  # its LogSampler runs (if has_inspect)
        self._endnames: frozenset[str] = frozenset()
        self._persister: Store | None = None
        self._apply_ch: ApplyChannel | None = None
        self._threads = [
            threading.Thread(target=self._relay_output, name="tester-sealed-output", daemon=True),
            threading.Thread(target=self._read, name="tester-sealed-reader", daemon=True),
        ]
        for t in self._threads:
            t.start()

    # -- the tester's side of a peer ------------------------------------------------

    def attach(
        self, i: int, endnames: list[str], persister: Store, apply_ch: ApplyChannel,
        epoch: float,
    ) -> None:  # fmt: skip
        self.server = i
        self._endnames = frozenset(endnames)
        self._persister = persister
        self._apply_ch = apply_ch
        try:
            self.chan.send(
                "make",
                _caller(),
                i,
                endnames,
                persister.ReadRaftState(),
                persister.ReadSnapshot(),
                epoch,
                self._runtime.sample_every,
                self._runtime.log_every,
            )
        except OSError:  # a spare that has already exited
            try:
                code: int | str | None = self.proc.wait(EXIT_SECONDS)
            except subprocess.TimeoutExpired:
                code = "none yet"
            self._runtime.fail(AssertionError(
                f"server {i}'s process exited (exit code {code}) before Make was called: "
                "a peer host must not end its process"
            ))  # fmt: skip

    def request(self, kind: str, *args: Any, timeout: float | None = None) -> Any:
        """Ask the host to call kind (GetState, Start, ...) and return its answer."""
        if timeout is None and kind in LANE_KINDS:
            value = self._request_on_lane(kind, *args)
            if value is not _NO_LANE:
                return value
        answer = self._ask(kind, *args)
        if not answer.done.acquire(timeout=-1 if timeout is None else timeout):
            raise PeerGone(f"server {self.server}'s host did not answer {kind} in time")
        if answer.error is not None:
            raise PeerGone(f"server {self.server}: {kind}() raised {answer.error}")
        return answer.value

    def rpc(self, svc_meth: str, args: bytes) -> bytes | None:
        """Deliver one request to the Raft; its reply's bytes, or None if it gave none."""
        try:
            answer = self._ask("rpc", svc_meth, args)
        except PeerGone:
            return None
        answer.done.acquire()
        if answer.error == _ENDED:
            return None  # a crashed server gives no reply
        if answer.error:
            raise LabrpcError(answer.error)
        return answer.value  # type: ignore[no-any-return]

    def rpc_later(
        self, svc_meth: str, args: bytes, done: Callable[[bytes | None, str | None], None]
    ) -> None:
        """rpc(), answered by calling done(reply, error) (from the reader thread); sent
        to a free RPC inbox, if there is one."""
        try:
            self._ask("rpc", svc_meth, args, then=done, inbox=self._rpc_inboxes.take())
        except PeerGone:
            done(None, None)

    def _ask(
        self, kind: str, *args: Any, then: Callable[[Any, str | None], None] | None = None,
        inbox: int = -1,
    ) -> _Answer:  # fmt: skip
        answer = _Answer(kind, then)
        answer.inbox = inbox
        token = self._new_token(answer)
        if inbox >= 0:
            try:
                self._rpc_inboxes.all[inbox].send(kind, token, *args)
                return answer
            except OSError:  # the host has gone, or closed that inbox: it stays taken
                answer.inbox = -1
        try:
            self.chan.send(kind, token, *args)
        except OSError:
            pass  # the reader sees the end and answers every waiting request
        return answer

    def _request_on_lane(self, kind: str, *args: Any) -> Any:
        """request() on a free lane (runtime/lanes.py); _NO_LANE if none is free."""
        try:
            answer = self._lanes.call(kind, self._new_token(), *args)
        except LaneEnded:
            self._wait_gone()
            raise PeerGone(f"server {self.server}: {kind}() raised {_ENDED}") from None
        except LaneBroken as e:
            self.fail_wire(str(e))
            raise PeerGone(f"server {self.server}: {kind}() raised {_ENDED}") from None
        if answer is None:
            return _NO_LANE
        sent, value, error = answer
        self._wait_handled(sent)
        if error is not None:
            raise PeerGone(f"server {self.server}: {kind}() raised {error}")
        return value

    def _new_token(self, answer: _Answer | None = None) -> int:
        """A request's token, its answer waited for (if given) by the reader; PeerGone
        once the host is gone."""
        with self._mu:
            if self.gone:
                raise PeerGone(f"server {self.server}'s process has ended")
            self._next += 1
            if answer is not None:
                self._answers[self._next] = answer
            return self._next

    def _wait_handled(self, frames: int) -> None:
        """Until the reader has handled the first frames of the main channel (a lane's
        answer comes after them), or the host has gone."""
        with self._mu:
            while self._handled < frames and not self.gone:
                self._progress.wait()

    def _wait_gone(self) -> None:
        """A lane has closed: until the reader has seen the main channel close too, so
        that the request fails as one on the main channel would. A host that closes a
        lane and keeps running breaks the rules."""
        with self._mu:
            gone = self._progress.wait_for(lambda: self.gone, EXIT_SECONDS)
        if not gone:
            self.fail_wire("it closed a lane of its channel")

    def take_samples(self) -> list[Sample]:
        with self._mu:
            samples, self._samples = self._samples, []
        return samples

    def take_inspections(self) -> list[tuple[float, Any]]:
        with self._mu:
            taken, self._inspections = self._inspections, []
        return taken

    def kill(self) -> None:
        """SIGKILL the process: a crash."""
        self.killed = True
        try:
            self.proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def finish(self, grace: float) -> list[leftovers.Leftover]:
        """Ask a Kill()ed host for the threads that do not end within grace, and let
        it exit; kill it if it does not."""
        left: list[leftovers.Leftover] = []
        # Its end is no failure from now: it exits once it has answered, and the answers
        # to Calls still in flight then meet a closed socket, which resets the channel.
        self.killed = True
        try:
            found = self.request("finish", grace, timeout=grace + ASK_SECONDS)
            left = [
                leftovers.Leftover(t[0], t[1], t[2], t[3], daemon=t[4])
                for t in found
                if isinstance(t, list) and len(t) == 5 and _is_strings(t[:4], 4)
                and isinstance(t[4], bool)
            ]  # fmt: skip
        except PeerGone:
            pass
        try:
            self.proc.wait(EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
        return left

    def join(self) -> None:
        for t in self._threads:
            t.join(EXIT_SECONDS)
        self.chan.close()
        self._lanes.close()
        self._rpc_inboxes.close()
        for inbox in self._reply_inboxes:
            inbox.close()

    # -- what the host sends -----------------------------------------------------------

    def _read(self) -> None:
        why = ""
        try:
            while True:
                self._handle(self.chan.receive())
                with self._mu:
                    self._handled += 1
                    self._progress.notify_all()
        except EOFError:
            pass
        except (WireError, OSError) as e:
            why = str(e)
        except Exception as e:  # a message that passed the checks and broke its handling
            traceback.print_exc()  # the tester's own code raised: its stack, for a bug report
            why = f"the tester's handling of it raised {type(e).__name__}: {e}"
        # The failure first: a request woken below fails too, but says less.
        ended = None
        if why:
            self.fail_wire(why)
        elif not self.killed:
            ended = self._runtime.host_exited(self, self.proc.wait())
        with self._mu:
            self.gone = True
            self.ended = ended
            answers, self._answers = self._answers, {}
            self._progress.notify_all()
        self.hello.set()  # no hello will come: nobody waits for it
        for answer in answers.values():
            answer.give(None, _ENDED if answer.then is None else None)

    def fail_wire(self, why: str) -> None:
        """The host broke the channel's rules: kill it, and fail the test saying so."""
        self._kill_failing(f"server {self.server}'s peer host sent a malformed message ({why})")

    def _channel(self, sock: socket.socket) -> Channel:
        """The tester's end of one of the host's channels, whose writes fail the host
        once it has stopped reading (wire.Stuck)."""
        channel = Channel(sock, HELLO_SECONDS, self._stuck)
        self._written.append(channel)
        return channel

    def _stuck(self, why: str) -> None:
        if not self.ready:
            self._kill_failing(_make_too_slow(self.server))
            return
        self._kill_failing(
            f"server {self.server}'s peer host stopped reading what the tester sends it ({why})"
        )

    def _kill_failing(self, what: str) -> None:
        if self.killed:
            return
        self.kill()
        self._runtime.fail(AssertionError(f"{what}; sealed mode killed its process"))

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "call":  # its fixed layout typed it
            token, endname, svc_meth, args, inbox = message[1:]
            if endname not in self._endnames:
                raise WireError(f"a Call through end {endname!r}, which is not one of its own")
            self._call(token, endname, svc_meth, args, self._reply_inbox(inbox))
        elif kind == "save":
            state, snap = expect(message, bytes, bytes)
            assert self._persister is not None
            self._persister.Save(state, snap)
        elif kind == "started":  # Start's answer; its fixed layout typed it
            token, index, term, is_leader = message[1:]
            self._answer(kind, token, [index, term, is_leader], None)
        elif kind == "done":
            token, value, error = expect(message, int, object, str)
            self._answer(kind, token, value, error or None)
        elif kind == "rpc_done":
            token, reply, error = expect(message, int, (bytes, type(None)), str)
            self._answer(kind, token, reply, error or None)
        elif kind == "apply":  # an ApplyMsg of ApplyMsg's types; its fixed layout typed it
            token, *fields, thread, where, inbox = message[1:]
            to = self._reply_inbox(inbox)
            assert self._apply_ch is not None
            applied = Applied(*fields)
            self._apply_ch.put_later(applied, thread, where, lambda: self._taken(token, to))
        elif kind == "apply_any":  # any other: its fields are checked
            token, fields, thread, where, inbox = expect(message, int, list, str, str, int)
            to = self._reply_inbox(inbox)
            assert self._apply_ch is not None
            applied = Applied.from_fields(fields)
            self._apply_ch.put_later(applied, thread, where, lambda: self._taken(token, to))
        elif kind == "hello":
            service, handlers, self.has_inspect = expect(message, str, dict, bool)
            self._runtime.hello(service, _handlers(handlers))
            self.hello.set()
        elif kind == "sampled":
            (batch,) = expect(message, list)
            samples = [_sample(item) for item in batch]
            with self._mu:
                self._samples.extend(samples)
        elif kind == "inspected":
            seen_until, at, answer = expect(message, (float, type(None)), float, list)
            self._inspected(seen_until, at, answer)
        elif kind == "ready":
            self.ready = True
            for channel in self._written:
                channel.write_seconds = STUCK_SECONDS
        elif kind == "thread_error":
            summary, where, source, details = expect(message, str, str, str, str)
            self._runtime.fail(ThreadFailure(Report(summary, where, source, details)))
        elif kind == "violation":
            (text,) = expect(message, str)
            self._runtime.violation(text)
        elif kind == "broken":
            (text,) = expect(message, str)
            sys.stderr.write(text)
            last = text.strip().splitlines()[-1] if text.strip() else "?"
            self._runtime.fail(AssertionError(
                f"sealed mode: a peer host could not import {self._runtime.make_module} "
                f"and find {self._runtime.make_name}: {last}"
            ))  # fmt: skip
        else:
            raise WireError(f"a message of unknown kind {kind!r}")

    def _inspected(self, seen_until: float | None, at: float, answer: list[Any]) -> None:
        """A sample of the host's LogSampler: the answer it ends, if it was seen again
        since it was sent, then the new one, rebuilt whole."""
        if len(answer) == 2 and answer[0] == "raised" and isinstance(answer[1], str):
            taken = [(at, _Raised(answer[1]))]
        else:
            before = self._pushed.info
            info = self._pushed.rebuilt(answer)
            if info is None:
                raise WireError(f"an inspect() sample that does not fit: {answer!r:.120}")
            taken = [(seen_until, before)] if seen_until is not None and before is not None else []
            taken.append((at, info))
        with self._mu:
            self._inspections.extend(taken)

    def _answer(self, kind: str, token: int, value: Any, error: str | None) -> None:
        """Answer request token with a message of kind, which must be one that answers it."""
        with self._mu:
            answer = self._answers.get(token)
            its_kind = answer is not None and kind in ANSWERED_BY.get(answer.kind, ("done",))
            if its_kind:
                del self._answers[token]
        if answer is None:
            raise WireError(f"an answer to request {token}, which was not asked or was answered")
        if not its_kind:
            raise WireError(f"a {kind!r} answer to request {token}, a {answer.kind!r}")
        if answer.inbox >= 0:
            self._rpc_inboxes.give(answer.inbox)
        answer.give(value, error)

    def _reply_inbox(self, inbox: int) -> Channel:
        """Where to answer a request that names reply inbox inbox (-1: the main channel)."""
        if inbox == -1:
            return self.chan
        if not 0 <= inbox < len(self._reply_inboxes):
            raise WireError(f"a request naming reply inbox {inbox}, not one of its own")
        return self._reply_inboxes[inbox]

    def _call(self, token: int, endname: str, svc_meth: str, args: bytes, to: Channel) -> None:
        """The host's Call, through the network; answered from whichever thread ends
        its journey (labrpc's call_later), so no thread of the tester waits for it."""

        def called(reply: bytes | None, error: LabrpcError | None) -> None:
            try:
                to.send("called", token, reply, str(error) if error else "")
            except OSError:
                pass  # the host is gone

        self._runtime.net_of(self).call_later(endname, svc_meth, args, called)

    def _taken(self, token: int, to: Channel) -> None:
        """The tester's applier took the message of the host's put token: it returns."""
        try:
            to.send("taken", token)
        except OSError:
            pass  # the host is gone

    def _relay_output(self) -> None:
        """The host's prints, DPrintf's and labgob's lines, into the test's stderr."""
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            sys.stderr.write(line.decode("utf-8", "replace"))


def _make_too_slow(i: int) -> str:
    return (
        f"server {i}'s Make() has not returned after {HELLO_SECONDS:.0f} s (its host imports "
        "raft, then calls Make): Make() must return quickly, so it should start threads "
        "for any long-running work"
    )


def _caller() -> str:
    """The calling thread, as a lab call's request names it (wire.CALLER_KINDS)."""
    return threading.current_thread().name


def _is_strings(p: Any, n: int) -> bool:
    return isinstance(p, list) and len(p) == n and all(isinstance(x, str) for x in p)


def _sample(item: Any) -> Sample:
    """A sample the host's timeline sampler sent, checked field by field."""
    if not (isinstance(item, list) and len(item) == 6):
        raise WireError(f"a sample that is not a list of 6 fields: {item!r:.120}")
    at, how, role, term, seen_term, seen_leader = item
    if not (
        isinstance(at, float) and how in ("inspect()", "GetState()") and isinstance(role, str)
        and all(t is None or type(t) is int for t in (term, seen_term))
        and isinstance(seen_leader, bool)
    ):  # fmt: skip
        raise WireError(f"a sample with a field of the wrong type: {item!r:.120}")
    return Sample(at, how, role, term, seen_term, seen_leader)


def _handlers(raw: dict[Any, Any]) -> dict[str, tuple[str, tuple[str, ...]]]:
    found = {}
    for name, value in raw.items():
        if not (
            isinstance(name, str) and isinstance(value, list) and len(value) == 2
            and isinstance(value[0], str) and isinstance(value[1], list)
            and all(isinstance(f, str) for f in value[1])
        ):  # fmt: skip
            raise WireError(f"a hello whose handler {name!r} is described as {value!r}")
        found[name] = (value[0], tuple(value[1]))
    return found


class _RemoteRaft(SelfSampling):
    """The Raft in a host, with the lab's calls (the .raft of the tester's Peer).

    Once the tester has crashed it, it answers as a killed Raft object would in
    this process, since a tester thread may still hold its handle: GetState its
    last answer, Start "not leader", inspect nothing, Snapshot and Kill nothing."""

    def __init__(self, host: _Host) -> None:
        self._host = host
        self._last_state: tuple[int, bool] = (0, False)
        self._log_mu = threading.Lock()  # one inspect() with the log at a time
        self._log = _LogCopy()  # guarded by _log_mu: the log of the last such answer

    def _request(self, kind: str, *args: Any) -> Any:
        try:
            return self._host.request(kind, _caller(), *args)
        except PeerGone:
            if self._host.killed:
                return _CRASHED
            if self._host.ended is not None:
                raise self._host.ended from None  # the cause, not that an answer is missing
            raise

    def GetState(self) -> tuple[int, bool]:
        answer = self._request("GetState")
        if answer is not _CRASHED:
            term, is_leader = answer
            self._last_state = (term, is_leader)
        return self._last_state

    def Start(self, command: Any) -> tuple[int, int, bool]:
        answer = self._request("Start", command)
        if answer is _CRASHED:
            return -1, self._last_state[0], False
        index, term, is_leader = answer
        return index, term, is_leader

    def Snapshot(self, index: int, snapshot: bytes) -> None:
        self._request("Snapshot", index, snapshot)

    def Kill(self) -> None:
        self._request("Kill")

    def samples(self) -> list[Sample]:
        """What the host's sampler saw since the last call (SelfSampling)."""
        return self._host.take_samples()

    @property
    def inspect(self) -> Callable[..., Any] | None:
        """The Raft's inspect(), if it has one (it is optional), as Peer.inspect calls it.
        Its host said so in its hello, which make_peer waited for."""
        return self._inspect if self._host.has_inspect else None

    def _inspect(self, with_log: bool = True) -> Any:
        if not with_log:
            answer = self._request("inspect", False)
            return CRASHED if answer is _CRASHED else answer
        with self._log_mu:  # so that the host's last log sent is the one held here
            answer = self._request("inspect", True)
            if answer is _CRASHED:
                return CRASHED
            info = self._log.rebuilt(answer)
            if info is None:
                self._host.fail_wire(f"an inspect() answer that does not fit: {answer!r:.120}")
                return CRASHED
            return info

    def inspections(self) -> list[tuple[float, Any]] | None:
        """What the host's LogSampler took since the last call (SelfSampling)."""
        if not (self._host.has_inspect and self._host.samples_logs):
            return None
        taken = self._host.take_inspections()
        for _, info in taken:
            if isinstance(info, _Raised):
                raise PeerGone(f"server {self._host.server}: inspect() raised {info}")
        return taken

    def __repr__(self) -> str:
        return f"<sealed peer, pid {self._host.proc.pid}>"


_CRASHED = object()  # the answer of a host the tester has killed


class _Raised(str):
    """A LogSampler's sample whose inspect() raised: what, and where."""


class _LogCopy:
    """The tester's copy of a log that crosses as LogDelta's answers: each answer,
    ["full", info] or ["delta", ...], rebuilt whole against the one before."""

    def __init__(self) -> None:
        self.log: list[Any] = []
        self.info: Any = None  # the last answer rebuilt

    def rebuilt(self, answer: Any) -> Any:
        """The hook's answer, whole; None if it does not fit the log held."""
        if isinstance(answer, list) and len(answer) == 2 and answer[0] == "full":
            info = answer[1]
            log = info.get("log") if isinstance(info, dict) else None
            self.log = log if isinstance(log, list) else []
            self.info = info
            return info
        if isinstance(answer, list) and len(answer) == 5 and answer[0] == "delta":
            _, rest, shift, keep, tail = answer
            if (
                isinstance(rest, dict) and isinstance(tail, list)
                and type(shift) is int and type(keep) is int
                and 0 <= shift and 0 <= keep <= len(self.log) - shift
            ):  # fmt: skip
                self.log = self.log[shift : shift + keep] + tail
                self.info = dict(rest, log=self.log)
                return self.info
        return None


class _RemoteServer(labrpc.Server):
    """The labrpc Server the network delivers a host's RPCs to."""

    def __init__(self, host: _Host) -> None:
        super().__init__()
        self._host = host

    def dispatch(self, svc_meth: str, args_bytes: bytes) -> bytes:
        with self._mu:
            self._count += 1
        reply = self._host.rpc(svc_meth, args_bytes)
        if reply is None:
            raise _NoReply
        return reply

    def dispatch_later(
        self,
        svc_meth: str,
        args_bytes: bytes,
        done: Callable[[bytes | None, LabrpcError | None], None],
    ) -> None:
        """dispatch(), answered by calling done(reply, error): what labrpc's network
        uses, so that no thread of the tester waits for a host's handler."""
        with self._mu:
            self._count += 1

        def then(reply: bytes | None, error: str | None) -> None:
            done(reply, LabrpcError(error) if error else None)

        self._host.rpc_later(svc_meth, args_bytes, then)


class _NoReply(LabrpcError):
    """A handler that raised (its thread error is reported by the host)."""


class _HostCauses:
    """The silent mistakes the live hosts saw (harness/causes.py runs in each)."""

    def __init__(self, runtime: Sealed) -> None:
        self._runtime = runtime

    def first(self, message: str) -> str:
        causes: dict[str, None] = {}
        for host in self._runtime.live():
            try:
                lines = host.request("causes", timeout=ASK_SECONDS)
            except PeerGone:
                continue
            if isinstance(lines, list):
                causes.update((line, None) for line in lines if isinstance(line, str))
        if not causes:
            return message
        return "\n    ".join([*causes, f"then: {message}"])


class Sealed:
    """Peers in processes of their own (see the module's docstring)."""

    name = "sealed"
    observers: list[Any] = []  # told what the tester does, after Config's own
    race = None  # race mode runs in each host
    before_put = None

    def __init__(
        self,
        fail: Callable[[BaseException], None],
        violation: Callable[[str], None],
        make: Any,
        race: bool,
    ) -> None:
        self.fail = fail
        self.violation = violation
        self.race_mode = race
        if make is None:
            self.make_module, self.make_name = "raft", "Make"
        else:
            self.make_module, self.make_name = make.__module__, _name_in_module(make)
        self.wrap: list[str] = _wrap_from_env()
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.env["RAFTLAB_SEALED_HOST"] = "1"
        self.causes = _HostCauses(self)
        # The timeline's sampler runs in each host, so a sample needs no round trip.
        self.sample_every = timeline.SAMPLE_INTERVAL if timeline.mode() != "off" else 0.0
        self.log_every = safety.SAMPLE_INTERVAL  # and the safety checks' sampler
        self._mu = threading.Lock()
        self._rpc_kinds: RpcKinds | None = None  # guarded by _mu
        self._hosts: dict[int, _Host] = {}  # the live peer of each server; guarded by _mu
        self._all: list[_Host] = []  # every host started; guarded by _mu
        self._spares: list[_Host] = []  # guarded by _mu
        # How many spares to keep warm (guarded by _mu). A host forked from the zygote
        # is ready in a few ms, so none are kept until a crash says restarts will come.
        self._want_spares = 0 if hostprocs.forks(self.env, self.wrap) else SPARES
        self._net: labrpc.Network | None = None
        self._closed = False
        self._top_up()

    # -- what Config asks -----------------------------------------------------------

    @property
    def rpc_kinds(self) -> RpcKinds | None:
        """Known from the first host's hello (make_peer waits for each peer's); None
        while every peer made has ended without one."""
        with self._mu:
            return self._rpc_kinds

    def MakePersister(self) -> Store:
        return Store()

    def make_peer(
        self,
        i: int,
        ends: list[labrpc.ClientEnd],
        endnames: list[str],
        persister: Any,
        apply_ch: ApplyChannel,
    ) -> tuple[_RemoteRaft, labrpc.Server]:
        if not isinstance(persister, Store):
            raise TypeError(f"sealed mode keeps peers' state in a Store, not {persister!r}")
        self._net = ends[0].net if ends else self._net
        with self._mu:
            spare = self._spares.pop(0) if self._spares else None
        host = spare or _Host(self)
        with self._mu:
            if spare is None:
                self._all.append(host)
            # The server's before its Make is sent, so that a host ending inside Make
            # is reported as a peer that ended (host_exited), not as nobody's.
            host.server = i
            self._hosts[i] = host
        host.attach(i, endnames, persister, apply_ch, _epoch())
        self._top_up()
        # In-process, start1 returns once Make has: so here, and the tester's first
        # calls into the peer are timed from then, not from before its host had
        # imported the student's module (seconds, for a new interpreter under load).
        if not host.hello.wait(HELLO_SECONDS):
            self.fail(AssertionError(f"{_make_too_slow(i)}; sealed mode killed its process"))
            host.kill()  # then answered as a crashed peer: no later call waits on it
        return _RemoteRaft(host), _RemoteServer(host)

    def crash(self, i: int, peer: Peer) -> None:
        """A real crash: SIGKILL (the tester has already cut the peer's links)."""
        host = peer.raft._host
        with self._mu:
            if self._hosts.get(i) is host:
                del self._hosts[i]
            self._want_spares = SPARES
        host.kill()
        host.join()
        self._top_up()

    def thread_places(self) -> list[ThreadPlace]:
        places = []
        for host in self.live():
            try:
                found = host.request("stacks", timeout=ASK_SECONDS)
            except PeerGone:
                continue
            for p in found if isinstance(found, list) else []:
                if _is_strings(p, 3):
                    name, place, stack = p
                    places.append(ThreadPlace(f"{name} (server {host.server})", place, stack))
        return places

    def close(self, grace: float) -> list[BaseException]:
        with self._mu:
            self._closed = True
            hosts = list(self._hosts.items())
            spares, self._spares = self._spares, []
            self._hosts = {}
        problems: list[BaseException] = []
        for spare in spares:
            spare.kill()
        for _, host in hosts:
            # Reported with this process's own leftovers, after the test (tests/conftest.py).
            leftovers.add(host.finish(grace))
        with self._mu:
            every = list(self._all)
        for host in every:
            host.join()
        return problems

    # -- what the hosts tell ----------------------------------------------------------

    def live(self) -> list[_Host]:
        with self._mu:
            return list(self._hosts.values())

    def net_of(self, host: _Host) -> labrpc.Network:
        assert self._net is not None
        return self._net

    def hello(self, service: str, handlers: dict[str, tuple[str, tuple[str, ...]]]) -> None:
        with self._mu:
            if self._rpc_kinds is None:
                self._rpc_kinds = RpcKinds(service, handlers)

    def host_exited(self, host: _Host, code: int | None) -> AssertionError | None:
        """Fail the test if a running peer's host (or a spare) ended on its own; the
        failure, which the peer's waiting requests then raise, or None."""
        with self._mu:
            running = self._hosts.get(host.server) is host and not self._closed
            spare = host in self._spares
        if not (running or spare):
            return None
        failure = AssertionError(
            f"server {host.server}'s process exited (exit code {code}) while the test "
            "ran: a Raft peer must not end its process"
            if running else f"sealed mode: a spare peer host exited (exit code {code})"
        )  # fmt: skip
        self.fail(failure)
        return failure

    def _top_up(self) -> None:
        """Start spare hosts until as many as wanted are warm."""
        while True:
            with self._mu:
                if self._closed or len(self._spares) >= self._want_spares:
                    return
            host = _Host(self)
            with self._mu:
                self._spares.append(host)
                self._all.append(host)


def rebound_parameters() -> tuple[str, ...]:
    """harness/causes.rebound_parameters of raft.Make's Raft, found in a child process
    (wrapped as the hosts are), since a sealed test process imports no student code."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    try:
        code, out = hostprocs.run(["--rebound", "raft", "Make"], env, _wrap_from_env(), 60)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    if code != 0:
        return ()
    return tuple(line for line in out.decode("utf-8", "replace").splitlines() if line)


def _name_in_module(make: Any) -> str:
    """The name make's module holds it under: a peer host imports it by that name."""
    module = sys.modules.get(make.__module__)
    names = [k for k, v in vars(module).items() if v is make] if module else []
    if not names:
        raise RuntimeError(
            f"sealed mode: a peer host imports its Make by name, and {make!r} is not a "
            f"module-level name of {make.__module__}"
        )
    return make.__qualname__ if make.__qualname__ in names else names[0]


def _wrap_from_env() -> list[str]:
    text = os.environ.get(WRAP_ENV, "").strip()
    if not text:
        return []
    words = json.loads(text)
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ValueError(f"{WRAP_ENV} must be a JSON list of strings, got {text!r}")
    return words


def _epoch() -> float:
    """The clock DPrintf's lines count from (raft/debug.py, restarted by the timeline)."""
    return timeline.debug_epoch()
