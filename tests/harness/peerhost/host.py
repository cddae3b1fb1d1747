"""One Raft peer behind a channel: the host side of sealed mode.

The tester starts the process with its sockets (its only way out: the main
channel, the lanes of runtime/lanes.py and the inboxes of runtime/inboxes.py)
and the name of the Make to call. The host imports the student's module at
once, so that a spare host is warm when the tester needs a peer, then waits for
("make", caller, me, endnames, raftstate, snapshot, ...) and calls Make with
stand-ins that forward to the tester:

  * a ClientEnd per peer, whose Call sends ("call", ...) and waits for the
    network's answer (on a reply inbox, if one is free), so every RPC takes
    the tester's labrpc path;
  * a Persister that keeps a copy for reads and sends each Save to the tester,
    on the main channel and so in order with the replies that follow it;
  * an applyCh whose put waits until the tester has taken the message (Go's
    unbuffered channel).

Requests on the main channel (Make, RPCs, stacks, and lab calls when no lane is
free) run on workers, handler threads as in-process; who reads that channel is
readers.py's. Each lane has a thread of its own, which runs the calls on it, and
so has each RPC inbox, which runs the RPCs sent there. A lab call (Make,
GetState, ...) runs in-process on the tester thread that makes it, so here it
runs as that thread (its caller): under its name, and in race mode ordered as
its accesses are, so that reports read the same.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import labrpc
from harness import race as racecheck
from harness.causes import Causes
from harness.hangs import local_thread_places
from harness.observe import call_hook, take_sample
from harness.peerhost.readers import Job, Readers, worker_name
from harness.rpckinds import describe_handlers
from harness.runtime.inboxes import CHANNELS, Inboxes, by_use
from harness.runtime.wire import APPLY_FIELDS, CALLER_KINDS, Channel, fits
from harness.thread_errors import ThreadErrors, ThreadFailure, running_in_own_code
from labrpc.network import ClientEnd
from labrpc.pool import report_exception
from labrpc.service import LabrpcError, register_handler_types

SAMPLER = "tester-timeline"  # the thread that samples the Raft for the timeline
QUIET_SECONDS = 0.1  # the longest the timeline's sampler waits for a stir
LOG_SLACK = 1.5  # the safety checks' log sample waits up to this many intervals for a stir


class Host:
    def __init__(
        self, chan: Channel, module: str, make: str, race: bool, lanes: list[Channel],
        rpc_inboxes: list[Channel], reply_inboxes: list[Channel],
    ) -> None:  # fmt: skip
        self.chan = chan
        self.readers = Readers(chan, frozenset(("called", "taken")), self._request)
        self._replies = Inboxes(reply_inboxes)
        self._reply_tokens = itertools.count(1)
        self._make = getattr(importlib.import_module(module), make)
        cls = getattr(self._make, "raft_class", None) or getattr(
            sys.modules[self._make.__module__], "Raft", None
        )
        self.raft_class = cls if isinstance(cls, type) else None
        if self.raft_class is not None:
            register_handler_types(self.raft_class)
        self.causes = Causes(self.raft_class)
        self.errors = ThreadErrors(self._thread_error)
        self.errors.install()
        self.race: racecheck.RaceChecker | None = None
        if race and self.raft_class is not None:
            self.race = racecheck.RaceChecker(lambda text: self.chan.send("violation", text))
            self.race.instrument(self.raft_class)
        self.rf: Any = None
        self.server: labrpc.Server | None = None
        self._sent_log = LogDelta()
        self._killed = threading.Event()  # Kill() was called: the sampler stops
        # Set by stir(), when the timeline samples; made before the peer's threads start.
        self._stirred: threading.Event | None = None
        for n, lane in enumerate(lanes, 1):
            threading.Thread(
                target=self._serve_lane, args=(lane,), name=f"peerhost-lane-{n}", daemon=True
            ).start()
        for inbox in rpc_inboxes:
            threading.Thread(
                target=self._serve_rpc_inbox, args=(inbox,), name=worker_name(), daemon=True
            ).start()
        self._baseline = set(threading.enumerate())  # no leftover of the Raft's

    # -- requests of the host's own ------------------------------------------------

    def ask(self, kind: str, *args: Any) -> tuple[Any, ...]:
        """Send (kind, token, *args, inbox) and wait for the tester's answer to token:
        on a free reply inbox, read by this thread (runtime/inboxes.py), else (inbox
        -1) on the main channel."""
        inbox = self._replies.take()
        if inbox < 0:

            def send(token: int) -> None:
                self.chan.send(kind, token, *args, -1)
                self.stir()

            return self.readers.ask(send)
        token = next(self._reply_tokens)
        try:
            self.chan.send(kind, token, *args, inbox)
            self.stir()
            answer = self._replies.all[inbox].receive()
        except EOFError:
            os._exit(0)  # the tester is gone
        finally:
            self._replies.give(inbox)
        if answer[1] != token:
            raise LabrpcError(f"peer host: answer {answer[1]} on a reply inbox, not {token}")
        return answer[2:]

    def _thread_error(self, failure: ThreadFailure) -> None:
        r = failure.report
        self.chan.send("thread_error", r.summary, r.where, r.source, r.details)

    # -- serving -------------------------------------------------------------------

    def serve(self) -> None:
        self.readers.serve()

    def _request(self, message: tuple[Any, ...]) -> Job:
        """The job that serves a message from the tester that is no answer."""
        kind = message[0]
        if kind == "finish":  # on a worker: the reading thread may be a leaked one to list
            return lambda: self._finish(message[1], message[2])
        if kind == "make":  # on a worker: a Make may wait for its own Call's reply
            return lambda: self._as_caller(message[1], lambda: self._make_peer(*message[2:]))
        if kind == "rpc":
            return lambda: self._rpc(*message[1:])
        return lambda: self._invoke(self.chan.send, *message)

    def _serve_lane(self, lane: Channel) -> None:
        """The lab's calls that come on a lane (runtime/lanes.py), one at a time, each
        run on this thread as its caller; each answer after how many frames the main
        channel had carried by then, so the tester handles its Saves first."""

        def answer(*message: Any) -> None:
            lane.send_frames(("after", self.chan.frames_sent), message)

        while True:
            try:
                self._invoke(answer, *lane.receive())
            except (EOFError, OSError):
                return  # the tester is done with this host
            except BaseException:
                report_exception()  # as a worker's job does (readers.py)

    def _serve_rpc_inbox(self, inbox: Channel) -> None:
        """The RPCs the tester sends to this inbox (runtime/inboxes.py), one at a time,
        each run on this thread as on a worker."""
        while True:
            try:
                message = inbox.receive()
            except (EOFError, OSError):
                return  # the tester is done with this host
            try:
                self._rpc(*message[1:])
            except BaseException:
                report_exception()  # as a worker's job does (readers.py)

    def _make_peer(
        self, me: int, endnames: list[str], raftstate: bytes, snapshot: bytes, epoch: float,
        sample_every: float, log_every: float,
    ) -> None:  # fmt: skip
        from raft import debug

        debug._epoch = epoch  # the tester's clock: time.monotonic is the machine's
        net = _Net(self)
        ends = [ClientEnd(net, name) for name in endnames]  # type: ignore[arg-type]
        persister = _Persister(self, raftstate, snapshot)
        apply_ch = _ApplyCh(self)
        self.rf = self._make(ends, me, persister, apply_ch)
        svc = labrpc.MakeService(self.rf)
        self.server = labrpc.MakeServer()
        self.server.AddService(svc)
        handlers = describe_handlers(type(self.rf))
        self.chan.send(
            "hello",
            type(self.rf).__name__,
            {name: [args, list(fields)] for name, (args, fields) in handlers.items()},
            callable(getattr(self.rf, "inspect", None)),
        )
        if sample_every > 0:
            self._stirred = threading.Event()
        if sample_every > 0 or log_every > 0:
            threading.Thread(
                target=self._sample, args=(sample_every, log_every), name=SAMPLER, daemon=True
            ).start()

    def _sample(self, every: float, log_every: float) -> None:
        """The samplers of the timeline (role and term, harness/timeline.py) and of
        the safety checks (inspect() with the log, harness/safety.py), run here so
        that a sample costs no round trip. Each sends only what changed, after when
        the state it ends was last seen; an interval of 0 turns one off. Until Kill().

        A Raft's role, term and log change as it handles a request or a Call's
        reply, or on its timer; then it saves, calls or applies. So the timeline
        samples after each of those (stir()), at most once every `every` seconds,
        and the log is taken at such a sample once `log_every` has gone by, or at
        the latest after LOG_SLACK times it: a busy peer's log as often as the
        tester's own sampler takes it in-process, since each sample costs the
        safety checks a pass over every log. A peer that hears or sends a
        heartbeat every 100-150 ms then wakes this thread once per heartbeat, not
        forty times a second, and a change is drawn when it happened."""
        rf = self.rf
        hook = getattr(rf, "inspect", None)
        inspect = (lambda: _inspect(rf, False)) if callable(hook) else (lambda: None)
        logs = LogSampler(rf, self.chan) if callable(hook) and log_every > 0 else None
        stirred = self._stirred
        if logs is None:
            quiet = QUIET_SECONDS
        else:
            quiet = log_every * (LOG_SLACK if stirred is not None else 1.0)
        sent = last = None
        taken = logged = -quiet  # when the last sample and the last log sample were taken
        busy = False  # stirred again within `every` of a sample: it may well be again
        while True:
            due = (logged if logs is not None else taken) + quiet
            if stirred is None:
                time.sleep(max(0.0, due - time.monotonic()))
            else:
                if busy:  # sleep out `every`, then sample if stirred meanwhile
                    time.sleep(max(0.0, taken + every - time.monotonic()))
                    busy = stirred.is_set()
                if not busy:
                    stirred.wait(max(0.0, due - time.monotonic()))
                    if (early := taken + every - time.monotonic()) > 0:
                        time.sleep(early)
                        busy = True
                stirred.clear()
            if self._killed.is_set():
                return
            now = taken = time.monotonic()
            if every > 0:
                sample = take_sample(inspect, rf.GetState, now)
                if sent is None or sample[1:] != sent[1:]:
                    ended: list[Any] = [last] if last is not None and last is not sent else []
                    self.chan.send("sampled", [list(s) for s in [*ended, sample]])
                    sent = sample
                last = sample
            if logs is not None and now >= logged + log_every:
                logs.take(now)
                logged = now

    def stir(self) -> None:
        """Something happened that may change the Raft's role or term: sample it."""
        stirred = self._stirred
        if stirred is not None:
            stirred.set()

    def _rpc(self, token: int, svc_meth: str, args: bytes) -> None:
        assert self.server is not None
        try:
            reply = self.server.dispatch(svc_meth, args)
        except LabrpcError as e:
            self.chan.send("rpc_done", token, None, str(e))
            return
        except BaseException:
            self.chan.send("rpc_done", token, None, "")
            raise  # to threading.excepthook: a thread error, as in-process
        self.chan.send("rpc_done", token, reply, "")
        self.stir()

    def _invoke(self, send: Callable[..., None], kind: str, token: int, *args: Any) -> None:
        """Make the call a request names, and send(*answer)."""
        try:
            if kind in CALLER_KINDS:
                value = self._as_caller(args[0], lambda: self._call(kind, *args[1:]))
            else:
                value = self._call(kind, *args)
        except BaseException as e:
            send("done", token, None, _raised(e))
            return
        if kind == "Start" and fits("started", token, *value):
            send("started", token, *value)
        else:
            send("done", token, value, "")
        if kind in ("Start", "Snapshot"):
            self.stir()

    def _as_caller(self, caller: str, call: Callable[[], Any]) -> Any:
        """call(), run as the tester's thread named caller runs it in-process: under its
        name, and in race mode ordered as that thread's accesses are."""
        me = threading.current_thread()
        own = me.name
        me.name = caller
        try:
            if self.race is None:
                return call()
            with racecheck.acting_for(caller):
                return call()
        finally:
            me.name = own

    def _call(self, kind: str, *args: Any) -> Any:
        rf = self.rf
        if kind == "GetState":
            term, is_leader = rf.GetState()
            return [term, is_leader]
        if kind == "Start":
            index, term, is_leader = rf.Start(*args)
            return [index, term, is_leader]
        if kind == "Snapshot":
            rf.Snapshot(*args)
            return None
        if kind == "Kill":
            self._killed.set()
            rf.Kill()
            return None
        if kind == "inspect":
            (with_log,) = args
            info = _inspect(rf, with_log)
            return self._sent_log.answer(info) if with_log else info
        if kind == "stacks":
            return [list(place) for place in local_thread_places()]
        if kind == "causes":
            return self.causes.lines()
        raise LabrpcError(f"peer host: unknown request {kind!r}")

    def _finish(self, token: int, grace: float) -> None:
        """After Kill(): the threads still running once grace seconds are up, then exit."""
        deadline = time.monotonic() + grace
        me = threading.current_thread()
        left: list[threading.Thread] = []
        while True:
            left = [
                t for t in threading.enumerate()
                if t not in self._baseline and t is not me and t.is_alive()
                and not self.readers.is_worker(t) and t.name != SAMPLER
            ]  # fmt: skip
            if not left or time.monotonic() >= deadline:
                break
            left[0].join(min(0.05, max(0.0, deadline - time.monotonic())))
        frames = sys._current_frames()
        places = []
        for t in left:
            frame = frames.get(t.ident) if t.ident is not None else None
            target = getattr(t, "_target", None)
            what = str(getattr(target, "__qualname__", target)) if target else ""
            stack = "".join(traceback.format_stack(frame)) if frame else "    (no frame)\n"
            places.append([t.name, what, running_in_own_code(frame), stack, t.daemon])
        if self.race is not None:
            self.race.close()
        self.chan.send("done", token, places, "")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _raised(e: BaseException) -> str:
    """An exception of the student's code, as the tester reports it: what, and where."""
    where = traceback.extract_tb(e.__traceback__)[-1]
    return (
        f"{type(e).__name__}: {e} (at {os.path.relpath(where.filename)}:{where.lineno}, "
        f"in {where.name})"
    )


def _inspect(rf: Any, with_log: bool) -> Any:
    """rf's inspect() answer, as Peer.inspect asks it; None if it has no hook."""
    hook = getattr(rf, "inspect", None)
    return call_hook(hook, with_log) if callable(hook) else None


class LogDelta:
    """inspect()'s log as what changed since the last answer with a log.

    The safety checks sample every peer's whole log several times a second, and
    the tester decodes and checks all that crosses the channel; the part it
    already holds need not cross again. The answer is ["full", info], or
    ["delta", info without its log, shift, keep, tail]: the new log is the last
    one sent, less its first shift entries (a snapshot's compaction), cut to
    keep entries, then tail. The tester asks for one log at a time per host
    (sealed.py, _RemoteRaft), so the last log sent here is the one it holds.
    With unless_same, an answer equal to the last one is None: not to be sent."""

    def __init__(self) -> None:
        self._mu = threading.Lock()
        self._log: list[tuple[Any, ...]] | None = None  # guarded by _mu: the last log sent
        self._start = 0  # guarded by _mu: its log_start
        self._rest: dict[Any, Any] | None = None  # guarded by _mu: the rest of that answer

    def answer(self, info: Any, unless_same: bool = False) -> list[Any] | None:
        try:
            start = info.get("log_start", 1)
            log = [e if type(e) is tuple else tuple(e) for e in info["log"]]
            if type(start) is not int or not isinstance(info["log"], list):
                raise TypeError("not a log of the lab's hook")
        except Exception:  # the tester's checks say what is wrong with it
            with self._mu:
                self._log = None
            return ["full", info]
        rest = {k: v for k, v in info.items() if k != "log"}
        with self._mu:
            old, old_start, old_rest = self._log, self._start, self._rest
            self._log, self._start, self._rest = log, start, rest
        shift = start - old_start
        if old is None or not 0 <= shift <= len(old):
            return ["full", info]
        keep = min(len(old) - shift, len(log))
        try:
            if old[shift : shift + keep] != log[:keep]:
                keep = next(k for k in range(keep) if old[shift + k] != log[k])
            if unless_same and shift == 0 and keep == len(old) == len(log) and rest == old_rest:
                return None
        except Exception:  # a command whose == raises
            keep = 0
        return ["delta", rest, shift, keep, log[keep:]]


class LogSampler:
    """The safety checks' sampler of inspect() with the log, run in the host.

    It sends ("inspected", seen_until, at, answer) when the answer differs from
    the last one sent: answer as LogDelta gives it (a stream of its own, apart
    from the answers to the tester's inspect() requests), at when it was taken,
    and seen_until the last time the previous answer was seen unchanged, or None.
    A hook that raises is sent as ["raised", what and where], as a request's is."""

    def __init__(self, rf: Any, chan: Channel) -> None:
        self._rf = rf
        self._chan = chan
        self._delta = LogDelta()
        self._seen_until: float | None = None  # the last answer sent, seen since

    def take(self, at: float) -> None:
        try:
            info = _inspect(self._rf, True)
        except Exception as e:
            self._chan.send("inspected", None, at, ["raised", _raised(e)])
            return
        answer = self._delta.answer(info, unless_same=True)
        if answer is None:
            self._seen_until = at
            return
        self._chan.send("inspected", self._seen_until, at, answer)
        self._seen_until = None


class _Net:
    """What a ClientEnd needs of a network: the tester's, across the channel."""

    def __init__(self, host: Host) -> None:
        self._host = host

    def call_bytes(self, endname: str, svc_meth: str, args: bytes) -> bytes | None:
        reply, error = self._host.ask("call", endname, svc_meth, args)
        if error:
            raise LabrpcError(error)
        return reply  # type: ignore[no-any-return]

    def _why_args_cannot_go(self, endname: str, svc_meth: str, args: Any, error: Exception) -> str:
        server = self._host.server
        if server is None:
            return f"labrpc: Call({svc_meth!r}) cannot send its args: {error}"
        return server.why_args_cannot_go(svc_meth, args, error)


class _Persister:
    """The peer's Persister: reads from its own copy, each Save sent to the tester."""

    def __init__(self, host: Host, raftstate: bytes, snapshot: bytes) -> None:
        self._host = host
        self._mu = threading.Lock()
        self._raftstate = raftstate  # guarded by _mu
        self._snapshot = snapshot  # guarded by _mu

    def Save(self, raftstate: bytes, snapshot: bytes | None) -> None:
        state = bytes(raftstate)
        snap = bytes(snapshot) if snapshot is not None else b""
        with self._mu:  # the tester gets the saves in the order they were made
            self._raftstate, self._snapshot = state, snap
            self._host.chan.send("save", state, snap)
        self._host.stir()

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


class _ApplyCh:
    """applyCh: put() returns once the tester has taken the message."""

    def __init__(self, host: Host) -> None:
        self._host = host

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if self._host.race is not None:
            self._host.race.check_put()
        fields = [getattr(item, name, None) for name, _ in APPLY_FIELDS]
        frame = sys._getframe(1)
        code = frame.f_code
        where = f"{_relpath(code.co_filename)}:{frame.f_lineno}, in {code.co_name}"
        thread = threading.current_thread().name
        # A field left None is the tester's default (Applied.from_fields does the same).
        exact = [
            default if value is None and name != "Command" else value
            for (name, default), value in zip(APPLY_FIELDS, fields, strict=True)
        ]
        if fits("apply", 0, *exact, thread, where, -1):
            self._host.ask("apply", *exact, thread, where)
        else:  # a field of another type: as it is, for the tester to say which
            self._host.ask("apply_any", fields, thread, where)

    def put_nowait(self, item: Any) -> None:
        self.put(item)


@functools.lru_cache(maxsize=64)
def _relpath(path: str) -> str:
    """os.path.relpath, once a file: a host's working directory never changes, and
    an applier's put asks at every message."""
    return os.path.relpath(path)


def rebound(module: str, make: str) -> None:
    """Print the lines of harness/causes.rebound_parameters for module's Raft: the
    warnings pytest's header gives, for a test process that cannot import it."""
    from harness.causes import rebound_parameters

    cls = getattr(getattr(importlib.import_module(module), make), "raft_class", None)
    cls = cls or getattr(sys.modules[module], "Raft", None)
    if isinstance(cls, type):
        for line in rebound_parameters(cls):
            print(line)


def module_named(argv: list[str]) -> str:
    """The module a host's arguments (after its channels' fds) name, which it imports."""
    return argv[1] if argv[:1] == ["--rebound"] else argv[0]


def main() -> None:
    if sys.argv[1] == "--rebound":
        rebound(sys.argv[2], sys.argv[3])
        return
    fds, module, make = [int(fd) for fd in sys.argv[1].split(",")], sys.argv[2], sys.argv[3]
    race = "--race" in sys.argv[4:]
    channels = [Channel(socket.socket(fileno=fd)) for fd in fds]
    if len(channels) != CHANNELS:
        channels[0].send("broken", f"peer host: given {len(fds)} channels, not {CHANNELS}\n")
        raise SystemExit(1)
    chan, lanes, rpc_inboxes, reply_inboxes = by_use(channels)
    try:
        host = Host(chan, module, make, race, lanes, rpc_inboxes, reply_inboxes)
    except BaseException:
        chan.send("broken", traceback.format_exc())
        raise SystemExit(1) from None
    chan.send("ready")
    host.serve()
