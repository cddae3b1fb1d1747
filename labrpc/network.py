"""The simulated network: ends, servers, and what happens to each message.

The rules and numbers are Go's labrpc's (processReq): an unreliable network
delays a request 0-26 ms and drops 10% of requests and 10% of replies; long
reordering holds back 2/3 of replies for 200-2200 ms; a disabled end or a
missing server fails after 0-100 ms, or 0-7000 ms with long delays.  Go runs
processReq in a goroutine per request while the caller waits; here the
caller's own thread does that work, so a delayed message costs no thread.
Those rules are written once, as a journey (Network._journey) that two
drivers carry: call_bytes on the caller's thread, and call_later, for the
tester's sealed mode, on a timer thread and the thread a reply comes back on.

Beyond Go's labrpc, and off unless a test turns them on (Go's tests keep Go's
network): duplicated requests, stale messages, and a reply hook for the
tester's crash points.  See set_duplicates, set_stale and set_reply_hook.
"""

from __future__ import annotations

import functools
import random
import threading
from collections.abc import Callable, Generator, Hashable
from typing import Any, NamedTuple

import labgob
from labgob.registry import info_for_class
from labrpc.pool import HandlerPool, report_exception
from labrpc.service import LabrpcError, Server
from labrpc.timer import Timer

SERVER_CHECK_SECONDS = 0.1

# Beyond Go (set_duplicates, set_stale): how often, per thousand messages, and how late.
DUPLICATE_PER_MILLE = 100
DUPLICATE_MAX_MS = 200
STALE_PER_MILLE = 200
STALE_MIN_MS = 100
STALE_MAX_MS = 1000

# Called on the handler's thread when a handler returns: (servername, svcMeth, args, reply).
# A function returned is the crash of the server: it runs before the reply leaves, and the
# reply is delivered even if that function disconnects or deletes the server.
ReplyHook = Callable[[Hashable, str, bytes, bytes], "Callable[[], None] | None"]


class _Pending:
    """One handler run: the caller waits on `done`, a lock the worker releases."""

    __slots__ = ("done", "reply", "error", "forced")

    def __init__(self) -> None:
        self.done = threading.Lock()
        self.done.acquire()
        self.reply: bytes | None = None
        self.error: LabrpcError | None = None
        self.forced = False  # a crash point's reply: delivered whatever happens to the server


class _Deliver(NamedTuple):
    """The step of a journey (Network._journey) at which its request reaches a handler."""

    endname: Hashable
    servername: Hashable
    server: Server
    svc_meth: str
    args: bytes


class _Later:
    """Network.call_later's driver: carries a journey forward from whichever thread
    has the next answer (the caller's, the timer's, or the one a handler's answer
    comes back on), and calls done once with how it ended.

    A journey waiting for a handler also ends, with None, when its server dies,
    as call_bytes's waiting caller gives up (Network._check_waiting)."""

    __slots__ = ("_net", "_journey", "_done", "_mu", "_step", "_pending")

    def __init__(
        self,
        net: Network,
        journey: Generator[int | _Deliver, Any, bytes | None],
        done: Callable[[bytes | None, LabrpcError | None], None],
    ) -> None:
        self._net = net
        self._journey = journey
        self._done = done
        self._mu = threading.Lock()  # guards _step and _pending
        self._step = 0  # bumped at each step, so that only one answer to a step counts
        self._pending: _Pending | None = None  # the handler's outcome it waits for, if so

    def resume(self, answer: Any) -> None:
        """Send answer to the journey and carry out its steps until one must wait."""
        while True:
            try:
                step = self._journey.send(answer)
            except StopIteration as end:
                self._done(end.value, None)
                return
            except LabrpcError as e:
                self._done(None, e)
                return
            except Exception:
                # A bug of the network's own: reported as a thread's error, and the
                # Call returns False rather than never.
                report_exception()
                self._done(None, None)
                return
            with self._mu:
                self._step += 1
                number = self._step
            if isinstance(step, _Deliver):
                pending = self._net._deliver(step, functools.partial(self._answer, number))
                if pending is None:
                    answer = None
                    continue
                with self._mu:
                    waits = self._step == number  # else the answer came already
                    if waits:
                        self._pending = pending
                if waits:
                    self._net._waiting_for(self, step)
                return
            if step <= 0:
                answer = not self._net._done.is_set()
                continue
            wake = functools.partial(self._answer, number, True)
            if not self._net._timer.after(step / 1000.0, wake):
                answer = False  # the network was cleaned up
                continue
            return

    def _answer(self, number: int, answer: Any) -> None:
        """The answer to step number, unless the journey has gone past it."""
        with self._mu:
            if self._step != number:
                return
            self._step += 1
            self._pending = None
        if answer is True:
            answer = not self._net._done.is_set()
        self.resume(answer)

    def give_up(self, step: _Deliver) -> bool:
        """End the journey if it waits for a handler whose server has died (or the
        network is cleaned up). False while it waits for a live server's handler,
        True once it waits no longer, whoever ended the wait."""
        with self._mu:
            pending = self._pending
            number = self._step
        if pending is None:
            return True  # done with: forget it
        if not self._net._gave_up(step, pending):
            return False
        self._answer(number, None)  # unless the handler's answer came first
        return True


class ClientEnd:
    """One client's end-point, connected to at most one server."""

    def __init__(self, net: Network, endname: Hashable) -> None:
        self.net = net
        self.endname = endname

    def Call(self, svcMeth: str, args: Any, reply: Any) -> bool:
        """Send an RPC and wait for the reply.

        True means the server ran the handler and `reply` now holds its
        answer; False means the request or the reply was lost, or the server
        is down.  Always returns, at the latest when the network is cleaned up.
        """
        try:
            data = labgob.encode(args)
        except labgob.LabgobError as e:
            raise LabrpcError(self.net._why_args_cannot_go(self.endname, svcMeth, args, e)) from e
        answer = self.net.call_bytes(self.endname, svcMeth, data)
        if answer is None:
            return False
        _copy_reply(labgob.decode(answer), reply, svcMeth)
        return True


class Network:
    """Ends, servers and the connections between them, with Go's failure model."""

    def __init__(self, seed: int | None = None) -> None:
        self._mu = threading.Lock()
        # All of these are guarded by _mu.
        self._reliable = True
        self._long_delays = False
        self._long_reordering = False
        self._duplicates = False
        self._stale = False
        self._reply_hook: ReplyHook | None = None
        self._ends: dict[Hashable, ClientEnd] = {}
        self._enabled: dict[Hashable, bool] = {}
        self._servers: dict[Hashable, Server | None] = {}
        self._connections: dict[Hashable, Hashable] = {}
        self._count = 0
        self._bytes = 0
        self._end_counts: dict[tuple[Hashable, str], int] = {}  # (endname, svcMeth) -> sends
        self._rand = random.Random(seed)

        self._done = threading.Event()  # set by Cleanup
        self._pool = HandlerPool()
        self._timer = Timer("labrpc-timer")  # call_later's delays and server checks
        # call_later's journeys that wait for a handler, checked every
        # SERVER_CHECK_SECONDS while there are any; guarded by _mu.
        self._waiting: dict[_Later, _Deliver] = {}
        self._checking = False  # guarded by _mu: a check is due on the timer

    # -- the Go API ---------------------------------------------------------

    def Cleanup(self) -> None:
        """Fail every pending and later Call, and stop labrpc's threads."""
        self._done.set()
        self._timer.close()  # ends the journeys that wait on it
        self._check_waiting()  # and those that wait for a handler
        self._pool.close()

    def Reliable(self, yes: bool) -> None:
        with self._mu:
            self._reliable = yes

    def LongReordering(self, yes: bool) -> None:
        with self._mu:
            self._long_reordering = yes

    def LongDelays(self, yes: bool) -> None:
        with self._mu:
            self._long_delays = yes

    # -- beyond Go's labrpc -------------------------------------------------
    # Real networks duplicate and delay messages; Go's labrpc only delays and
    # reorders replies.  These modes reach the bugs that needs: a handler that is
    # not idempotent, a follower that truncates its log on an old AppendEntries,
    # a peer that acts on a reply from an older term.

    def set_duplicates(self, yes: bool) -> None:
        """Deliver 1 request in 10 twice: the copy 0-200 ms after the request, its
        reply thrown away (the caller already has one)."""
        with self._mu:
            self._duplicates = yes

    def set_stale(self, yes: bool) -> None:
        """Hold 1 request in 5, and 1 reply in 5, for 100-1000 ms, so each arrives
        after newer ones and often after a change of term.  A held message is in
        flight: it arrives even if the tester has since cut its link, and a held
        request reaches whichever server holds its name by then."""
        with self._mu:
            self._stale = yes

    def set_reply_hook(self, hook: ReplyHook | None) -> None:
        """Let the tester see every reply as its handler returns (ReplyHook above)."""
        with self._mu:
            self._reply_hook = hook

    def deliver_copy(self, servername: Hashable, svc_meth: str, args: bytes) -> bool:
        """Deliver now a copy the tester kept of a request (its bytes, as the reply
        hook saw them), as a network that held it all along would: to whichever
        server holds the name, whatever has happened to its sender and links.
        The reply is lost; False if there is no such server."""
        server = self._server_named(servername)
        if server is None or self._done.is_set():
            return False
        server.dispatch(svc_meth, args)
        return True

    # -- the Go API, continued ------------------------------------------------

    def MakeEnd(self, endname: Hashable) -> ClientEnd:
        with self._mu:
            if endname in self._ends:
                raise LabrpcError(f"labrpc: MakeEnd: {endname!r} already exists")
            end = ClientEnd(self, endname)
            self._ends[endname] = end
            self._enabled[endname] = False
            self._connections[endname] = None
            return end

    def DeleteEnd(self, endname: Hashable) -> None:
        with self._mu:
            if endname not in self._ends:
                raise LabrpcError(f"labrpc: DeleteEnd: {endname!r} doesn't exist")
            del self._ends[endname]
            del self._enabled[endname]
            del self._connections[endname]

    def AddServer(self, servername: Hashable, rs: Server) -> None:
        with self._mu:
            self._servers[servername] = rs

    def DeleteServer(self, servername: Hashable) -> None:
        with self._mu:
            self._servers[servername] = None

    def Connect(self, endname: Hashable, servername: Hashable) -> None:
        with self._mu:
            self._connections[endname] = servername

    def Enable(self, endname: Hashable, enabled: bool) -> None:
        with self._mu:
            self._enabled[endname] = enabled

    def GetCount(self, servername: Hashable) -> int:
        """The count of incoming RPCs of a server."""
        with self._mu:
            server = self._servers.get(servername)
        if server is None:
            raise LabrpcError(f"labrpc: GetCount: no server named {servername!r}")
        return server.GetCount()

    def GetTotalCount(self) -> int:
        with self._mu:
            return self._count

    def GetEndCount(self, endname: Hashable, svcMeth: str) -> int:
        """RPCs named svcMeth sent through one end: beyond Go's labrpc, so the tester
        can see how often one peer sends another heartbeats."""
        with self._mu:
            return self._end_counts.get((endname, svcMeth), 0)

    def GetTotalBytes(self) -> int:
        with self._mu:
            return self._bytes

    # -- one message's journey ---------------------------------------------

    def _randint(self, n: int) -> int:
        """A uniform int in [0, n), like Go's rand.Intn."""
        with self._mu:
            return self._rand.randrange(n)

    def _sleep_ms(self, ms: int) -> bool:
        """Sleep, or stop early; False if the network was cleaned up."""
        return not self._done.wait(ms / 1000.0) if ms > 0 else not self._done.is_set()

    def _is_server_dead(self, endname: Hashable, servername: Hashable, server: Server) -> bool:
        with self._mu:
            return (
                not self._enabled.get(endname, False) or self._servers.get(servername) is not server
            )

    def _why_args_cannot_go(
        self, endname: Hashable, svc_meth: str, args: Any, error: Exception
    ) -> str:
        with self._mu:
            servername = self._connections.get(endname)
            server = self._servers.get(servername) if servername is not None else None
        if server is None:
            return f"labrpc: Call({svc_meth!r}) cannot send its args: {error}"
        return server.why_args_cannot_go(svc_meth, args, error)

    def call_bytes(self, endname: Hashable, svc_meth: str, args: bytes) -> bytes | None:
        """One Call through endname, its args already encoded: the reply's bytes, or
        None where Call returns False. Beyond Go's labrpc: a peer in another process
        (harness/runtime/sealed.py) calls through this, so every message still takes
        the network's path, with its drops, delays, counts and hooks."""
        journey = self._journey(endname, svc_meth, args)
        answer: Any = None
        try:
            while True:
                step = journey.send(answer)
                if isinstance(step, _Deliver):
                    answer = self._deliver_and_wait(step)
                else:
                    answer = self._sleep_ms(step)
        except StopIteration as end:
            return end.value  # type: ignore[no-any-return]

    def call_later(
        self,
        endname: Hashable,
        svc_meth: str,
        args: bytes,
        done: Callable[[bytes | None, LabrpcError | None], None],
    ) -> None:
        """call_bytes for a caller that does not wait: done(reply, error) gets what
        call_bytes would return (or raise), once, from the thread that ends the
        journey. Beyond Go's labrpc, for the tester's sealed mode: the delays wait
        on the network's timer thread, and a server in another process answers by
        calling back, so no thread is held for a Call in flight."""
        _Later(self, self._journey(endname, svc_meth, args), done).resume(None)

    def _journey(
        self, endname: Hashable, svc_meth: str, args: bytes
    ) -> Generator[int | _Deliver, Any, bytes | None]:
        """One Call's path, with Go's rules (processReq), for a driver to carry out:
        it yields a delay in ms (send back whether the network is still up) or a
        _Deliver (send back the _Pending once the handler has answered, or None if
        the server died or the network was cleaned up first), and returns the
        reply's bytes, or None where Call returns False."""
        if self._done.is_set():
            return None
        with self._mu:
            self._count += 1
            self._bytes += len(args)
            key = (endname, svc_meth)
            self._end_counts[key] = self._end_counts.get(key, 0) + 1
            enabled = self._enabled.get(endname, False)
            servername = self._connections.get(endname)
            server = self._servers.get(servername) if servername is not None else None
            reliable = self._reliable
            long_reordering = self._long_reordering
            duplicates = self._duplicates
            stale = self._stale

        if not (enabled and server is not None):
            # Simulate no reply and an eventual timeout.
            with self._mu:
                ms = self._rand.randrange(7000 if self._long_delays else 100)
            yield ms
            return None

        if not reliable:
            if not (yield self._randint(27)):
                return None
            if self._randint(1000) < 100:
                return None  # drop the request

        if stale and self._randint(1000) < STALE_PER_MILLE:
            if not (yield self._stale_ms()):
                return None
            server = self._server_named(servername)
            if server is None:
                return None
        if duplicates and self._randint(1000) < DUPLICATE_PER_MILLE:
            later = self._randint(DUPLICATE_MAX_MS + 1)
            self._pool.submit(lambda: self._deliver_duplicate(servername, svc_meth, args, later))

        pending: _Pending | None = yield _Deliver(endname, servername, server, svc_meth, args)
        if pending is None:
            return None
        if pending.error is not None:
            raise pending.error
        if pending.reply is None:
            return None
        if not pending.forced:
            # Never deliver a reply from a deleted server: it may have persisted
            # into a Persister that the tester has since replaced.
            if self._is_server_dead(endname, servername, server):
                return None
            if not reliable and self._randint(1000) < 100:
                return None  # drop the reply
            if long_reordering and self._randint(900) < 600:
                if not (yield 200 + self._randint(1 + self._randint(2000))):
                    return None
            if stale and self._randint(1000) < STALE_PER_MILLE:
                if not (yield self._stale_ms()):
                    return None
        with self._mu:
            self._bytes += len(pending.reply)
        return pending.reply

    def _deliver(self, step: _Deliver, then: Callable[[_Pending], None] | None) -> _Pending | None:
        """Hand the request to its server's handler: a pending outcome, then(pending)
        called once the handler answered; None if the network is closed."""
        pending = _Pending()

        def ran(reply: bytes | None, error: LabrpcError | None) -> None:
            try:
                self._ran(step.servername, step.svc_meth, step.args, pending, reply, error)
            finally:  # a hook that raised has its reply delivered, as pending.done says
                if then is not None:
                    then(pending)

        dispatch_later = getattr(step.server, "dispatch_later", None)
        if dispatch_later is not None:
            # A server in another process (harness/runtime/sealed.py) answers by calling
            # back: no thread of ours need wait for it.
            dispatch_later(step.svc_meth, step.args, ran)
        elif not self._pool.submit(lambda: self._run(step.server, step.svc_meth, step.args, ran)):
            return None
        return pending

    def _deliver_and_wait(self, step: _Deliver) -> _Pending | None:
        """_deliver, and wait for the handler, but give up if the server is deleted
        meanwhile (the caller's thread waits, as Go's processReq does)."""
        pending = self._deliver(step, None)
        if pending is None:
            return None
        while not pending.done.acquire(timeout=SERVER_CHECK_SECONDS):
            if self._gave_up(step, pending):
                return None
        return pending

    def _waiting_for(self, later: _Later, step: _Deliver) -> None:
        """later waits for step's handler: check its server while it does."""
        with self._mu:
            self._waiting[later] = step
            if self._checking:
                return
            self._checking = True
        self._check_later()

    def _check_waiting(self) -> None:
        """End the call_later journeys whose server died while its handler ran, as
        call_bytes's waiting caller gives up; check again later while any wait."""
        with self._mu:
            waiting = list(self._waiting.items())
        ended = [later for later, step in waiting if later.give_up(step)]
        with self._mu:
            for later in ended:
                self._waiting.pop(later, None)
            self._checking = bool(self._waiting) and not self._done.is_set()
            again = self._checking
        if again:
            self._check_later()

    def _check_later(self) -> None:
        """_check_waiting in SERVER_CHECK_SECONDS, or now if the timer is closed."""
        if not self._timer.after(SERVER_CHECK_SECONDS, self._check_waiting):
            self._check_waiting()

    def _gave_up(self, step: _Deliver, pending: _Pending) -> bool:
        """Whether a caller waiting for pending stops waiting: the network is cleaned
        up, or the server is dead (and the reply is not a crash point's)."""
        if self._done.is_set():
            return True
        return self._is_server_dead(step.endname, step.servername, step.server) and not (
            pending.forced
        )

    def _run(
        self,
        server: Server,
        svc_meth: str,
        args: bytes,
        ran: Callable[[bytes | None, LabrpcError | None], None],
    ) -> None:
        """On a handler thread: dispatch, and hand the outcome to ran(reply, error)."""
        try:
            reply = server.dispatch(svc_meth, args)
        except LabrpcError as e:
            ran(None, e)
        except BaseException:
            ran(None, None)  # no reply; the handler's exception goes to excepthook
            raise
        else:
            ran(reply, None)

    def _ran(
        self,
        servername: Hashable,
        svc_meth: str,
        args: bytes,
        pending: _Pending,
        reply: bytes | None,
        error: LabrpcError | None,
    ) -> None:
        """A handler's outcome (reply, or error, or neither): show the reply to the
        tester's hook, and hand the outcome to the waiting caller."""
        try:
            if error is not None:
                pending.error = error
            elif reply is not None:
                pending.reply = reply
                with self._mu:
                    hook = self._reply_hook
                crash = hook(servername, svc_meth, args, reply) if hook else None
                if crash is not None:
                    pending.forced = True  # before the crash, which the caller may notice
                    crash()
        except LabrpcError as e:
            pending.error = e
        finally:
            pending.done.release()

    # -- beyond Go: late copies ------------------------------------------------

    def _stale_ms(self) -> int:
        return STALE_MIN_MS + self._randint(STALE_MAX_MS - STALE_MIN_MS + 1)

    def _server_named(self, servername: Hashable) -> Server | None:
        with self._mu:
            return self._servers.get(servername)

    def _deliver_duplicate(
        self, servername: Hashable, svc_meth: str, args: bytes, ms: int
    ) -> None:
        """On a handler thread: a duplicate of a request, ms later (set_duplicates)."""
        if self._sleep_ms(ms):
            try:
                self.deliver_copy(servername, svc_meth, args)
            except LabrpcError:
                pass  # the original request reported it to its caller


def _copy_reply(src: Any, dst: Any, svc_meth: str) -> None:
    """Fill the caller's reply in place, as Go decodes into the caller's pointer."""
    if type(src) is not type(dst):
        raise LabrpcError(
            f"labrpc: {svc_meth} replies with {type(src).__qualname__}, "
            f"but Call was given a {type(dst).__qualname__} to fill"
        )
    info = info_for_class(type(src))
    assert info is not None
    for field in info.fields:
        object.__setattr__(dst, field, getattr(src, field))


def MakeNetwork(seed: int | None = None) -> Network:
    return Network(seed)
