"""applyCh as Go has it: an unbuffered channel, with queue.Queue's put and get.

In Go the tester makes applyCh with make(chan ApplyMsg): a send waits until
the tester receives the message. A Raft that sends while holding rf.mu
therefore deadlocks as soon as the tester, between two receives, calls
Snapshot() (which needs rf.mu): the lesson of part 3D. An unbounded
queue.Queue would hide that bug, so the tester's applyCh is an ApplyChannel:
put() returns only once the tester has taken the message.

A deadlock does not just hang the test: when a put has waited DEADLOCK_SECONDS
while the tester waits inside that server's Snapshot(), the test fails with a
report that names the server and the sending line, and the channel is closed
so that every thread can finish. A correct Raft's Snapshot() waits for rf.mu
for moments at most, never seconds.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["DEADLOCK_SECONDS", "ApplyChannel", "ChannelClosed"]

DEADLOCK_SECONDS = 2.0
_POLL = 0.1  # how often a waiting put looks for the deadlock


class ChannelClosed(Exception):
    """get() on a closed ApplyChannel: no message will come."""


class _Send:
    """One message on its way, and whether the receiver has taken it."""

    __slots__ = ("item", "taken", "then", "since", "thread", "where")

    def __init__(self, item: Any, then: Callable[[], None] | None = None) -> None:
        self.item = item
        self.taken = False
        # For put_later: called once taken (or dropped); no thread waits for it then.
        self.then = then
        self.since = 0.0  # put_later's: when it was sent, by which thread, where
        self.thread = ""
        self.where = ""


class ApplyChannel(queue.Queue[Any]):
    """Server `server`'s applyCh. Sends are handed over in order, one put at a
    time returning as the receiver takes its message.

    fail(report) fails the test (called once, from the sending thread);
    before_put, if given, runs at the start of every put (race mode's check).
    Everything below is guarded by self.mutex, queue.Queue's own lock."""

    def __init__(
        self,
        server: int,
        fail: Callable[[BaseException], None],
        before_put: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.server = server
        self._fail = fail
        self._before_put = before_put
        self._taken = threading.Condition(self.mutex)  # a message was taken, or closed
        self._receivers = 0  # threads waiting in get()
        self._closed = False
        self._busy: tuple[str, float] | None = None  # the receiver is in this call since then
        self._reported = False
        self._watching = False  # a thread checks put_later's messages for the deadlock

    # -- the sender's side (the Raft) ------------------------------------------------

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Send item: return once the receiver has taken it (Go's applyCh <- item).

        block=False sends only to a receiver already waiting (else queue.Full);
        a timeout withdraws an untaken item and raises queue.Full. After
        close() every put returns at once: no one will read it."""
        if self._before_put is not None:
            self._before_put()
        where = _where(sys._getframe(1))
        self._send(item, block, timeout, threading.current_thread().name, where)

    def put_later(self, item: Any, thread: str, where: str, then: Callable[[], None]) -> None:
        """put(item) on behalf of a sender in another process (runtime/sealed.py),
        with no thread waiting here: then() is called once the receiver has taken
        it (or the channel has closed). thread and where are the sender's thread's
        name and its line, which a deadlock report names."""
        send = _Send(item, then)
        send.since, send.thread, send.where = time.monotonic(), thread, where
        watch = False
        with self.mutex:
            closed = self._closed
            if not closed:
                self._enqueue(send)
                watch = self._busy is not None and self._start_watch()
        if closed:
            then()
        elif watch:
            self._watch_thread()

    def _send(
        self, item: Any, block: bool, timeout: float | None, thread: str, where: str
    ) -> None:
        send = _Send(item)
        report = None
        with self.mutex:
            if self._closed:
                return
            if not block and self._receivers == 0:
                raise queue.Full
            self._enqueue(send)
            if not block:
                return
            started = time.monotonic()
            end = None if timeout is None else started + timeout
            while not send.taken and not self._closed:
                now = time.monotonic()
                if end is not None and now >= end:
                    self.queue.remove(send)
                    self.unfinished_tasks -= 1
                    raise queue.Full
                report = self._deadlock(started, now, thread, where)
                if report is not None:
                    dropped = self._close()
                    break
                wait = _POLL if end is None else min(_POLL, end - now)
                self._taken.wait(wait)
        if report is not None:
            self._deadlocked(report, dropped)

    def _enqueue(self, send: _Send) -> None:
        """Hand send to the receiver.  Called with mutex held."""
        self.queue.append(send)
        self.unfinished_tasks += 1
        self.not_empty.notify()

    def _deadlocked(self, report: str, dropped: list[Callable[[], None]]) -> None:
        """Once the channel is closed for a deadlock: the then() of each put_later
        dropped, then the test's failure.  Called without mutex."""
        _call_each(dropped)
        self._fail(AssertionError(report))

    def _start_watch(self) -> bool:
        """Whether the caller is to start _watch's thread: none runs yet.  Called with
        mutex held, while the receiver is busy."""
        if self._watching or not any(s.then is not None for s in self.queue):
            return False
        self._watching = True
        return True

    def _watch_thread(self) -> None:
        threading.Thread(target=self._watch, name="tester-applych-watch", daemon=True).start()

    def _watch(self) -> None:
        """The deadlock check a waiting put() makes, for put_later's messages, which
        no thread waits for: runs while one of them waits and the receiver is busy."""
        report = None
        with self.mutex:
            while not self._closed and self._busy is not None:
                waiting = next((s for s in self.queue if s.then is not None), None)
                if waiting is None:
                    break
                now = time.monotonic()
                report = self._deadlock(waiting.since, now, waiting.thread, waiting.where)
                if report is not None:
                    dropped = self._close()
                    break
                self._taken.wait(_POLL)
            self._watching = False
        if report is not None:
            self._deadlocked(report, dropped)

    def _deadlock(self, started: float, now: float, thread: str, where: str) -> str | None:
        """The report, once, if this put and the receiver's call have waited on each
        other for DEADLOCK_SECONDS.  Called with mutex held."""
        if self._busy is None or self._reported:
            return None
        call, since = self._busy
        waited = now - max(started, since)
        if waited < DEADLOCK_SECONDS:
            return None
        self._reported = True
        return (
            f"applyCh deadlock: server {self.server} is sending on applyCh while holding rf.mu: "
            f"thread {thread} has waited {waited:.0f} s in put() ({where}) for the "
            f"tester, which is waiting inside server {self.server}'s {call} for rf.mu.\n"
            f"    applyCh is unbuffered, as in Go: put() returns only when the tester takes "
            f"the message, and the tester takes none while it is in {call}. Copy what to "
            f"send while holding rf.mu, release it, then put."
        )

    # -- the receiver's side (the tester) -----------------------------------------------

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Take the next message (Go's <-applyCh); ChannelClosed once closed."""
        with self.not_empty:
            self._receivers += 1
            try:
                end = None if timeout is None else time.monotonic() + timeout
                while not self.queue and not self._closed:
                    if not block:
                        raise queue.Empty
                    if end is None:
                        self.not_empty.wait()
                    else:
                        left = end - time.monotonic()
                        if left <= 0:
                            raise queue.Empty
                        self.not_empty.wait(left)
                if self._closed:
                    raise ChannelClosed(f"server {self.server}'s applyCh is closed")
                send = self.queue.popleft()
                send.taken = True
                self._taken.notify_all()
            finally:
                self._receivers -= 1
        if send.then is not None:
            send.then()
        return send.item

    def __iter__(self) -> Iterator[Any]:
        """Go's `for m := range applyCh`: every message until close()."""
        while True:
            try:
                yield self.get()
            except ChannelClosed:
                return

    @contextmanager
    def receiver_busy(self, call: str) -> Iterator[None]:
        """Around a call the receiving thread makes into this server's Raft
        (Snapshot()), during which it takes no message."""
        with self.mutex:
            self._busy = (call, time.monotonic())
            watch = self._start_watch()
        if watch:
            self._watch_thread()
        try:
            yield
        finally:
            with self.mutex:
                self._busy = None

    def close(self) -> None:
        """No more messages: waiting and later puts return at once (their messages
        are dropped, like a crashed server's), and the receiver's get() raises
        ChannelClosed."""
        with self.mutex:
            dropped = self._close()
        _call_each(dropped)

    def _close(self) -> list[Callable[[], None]]:
        """Called with mutex held. The then() of each put_later dropped, for the
        caller to call once it has released mutex."""
        self._closed = True
        dropped = [s.then for s in self.queue if s.then is not None]
        self.queue.clear()
        self.not_empty.notify_all()
        self._taken.notify_all()
        return dropped


def _call_each(thens: list[Callable[[], None]]) -> None:
    for then in thens:
        then()


def _where(frame: FrameType) -> str:
    """A frame's place, as "raft/raft.py:123, in applier"."""
    try:
        path = os.path.relpath(frame.f_code.co_filename)
    except ValueError:
        path = frame.f_code.co_filename
    return f"{path}:{frame.f_lineno}, in {frame.f_code.co_name}"
