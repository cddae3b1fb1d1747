"""Who reads a peer host's channel: leader/followers, so that a message wakes one thread.

With one reader thread, an RPC crossed two threads in the host (the reader, then
a handler's): each hand-off is a wake-up, on the path of every round trip. Here
the thread that waits reads, one at a time (the leader); the others wait in a
seat of their own, to be given an answer, a request, or the turn to read. A
worker that reads a request hands the turn on and runs the request itself. The
turn goes first to a caller waiting for its Call's answer, which may then read
that answer itself, with no wake-up; else to an idle worker; else to a new one.
So some thread always reads, and a handler that blocks blocks no other.

The lock rule: _mu guards _idle, _waiting, _next and _workers; a seat's fields are
written before its wake lock is released, and read after it is taken.
"""

from __future__ import annotations

import itertools
import os
import threading
import traceback
from collections.abc import Callable
from typing import Any

from harness.runtime.wire import Channel
from labrpc.pool import report_exception

IDLE_SECONDS = 2.0  # a worker with nothing to do this long ends
WORKER = "labrpc-handler-"  # a worker thread's name, then its number: a handler's, as in-process

Job = Callable[[], None]
_names = itertools.count(1)


def worker_name() -> str:
    """A new handler thread's name, as in-process."""
    return f"{WORKER}{next(_names)}"


class _Seat:
    """A waiting thread: woken (wake released) with an answer, a job, or the turn to read."""

    __slots__ = ("wake", "answer", "job", "lead")

    def __init__(self) -> None:
        self.wake = threading.Lock()
        self.wake.acquire()
        self.answer: tuple[Any, ...] | None = None
        self.job: Job | None = None
        self.lead = False


class Readers:
    """The threads that read chan. answers names the kinds of message that answer a
    request of the host's own (ask()), their first item its token; for any other
    message, on_message(message) gives the job that serves it, run on a worker."""

    def __init__(
        self,
        chan: Channel,
        answers: frozenset[str],
        on_message: Callable[[tuple[Any, ...]], Job],
    ) -> None:
        self._chan = chan
        self._answers = answers
        self._on_message = on_message
        self._mu = threading.Lock()
        self._idle: list[_Seat] = []  # workers waiting for something to do
        self._waiting: dict[int, _Seat] = {}  # callers waiting for the answer to a token
        self._next = 0
        self._workers: set[threading.Thread] = set()  # guarded by _mu

    def ask(self, send: Callable[[int], None]) -> tuple[Any, ...]:
        """send(token), then wait for the answer to token: the message's items after it."""
        seat = _Seat()
        with self._mu:
            self._next += 1
            token = self._next
            self._waiting[token] = seat
        try:
            send(token)
        except BaseException:
            with self._mu:  # no answer will come: the seat must not be handed the turn
                self._waiting.pop(token, None)
            raise
        seat.wake.acquire()
        if seat.lead:
            seat.lead = False
            self._read(seat)
        assert seat.answer is not None
        return seat.answer

    def serve(self) -> None:
        """Start the first worker, as the leader; the calling thread then waits for good
        (a handler runs on a worker, named as in-process)."""
        with self._mu:
            self._start(lead=True)
        threading.Event().wait()

    def is_worker(self, thread: threading.Thread) -> bool:
        """Whether thread is one of these (a worker may be running a call under its
        caller's name)."""
        with self._mu:
            return thread in self._workers

    def _work(self, seat: _Seat) -> None:
        try:
            self._serve_seat(seat)
        finally:
            with self._mu:
                self._workers.discard(threading.current_thread())

    def _serve_seat(self, seat: _Seat) -> None:
        while True:
            if seat.job is None and not seat.lead:
                with self._mu:
                    self._idle.append(seat)
                if not seat.wake.acquire(timeout=IDLE_SECONDS):
                    with self._mu:
                        if seat in self._idle:
                            self._idle.remove(seat)
                            return
                    seat.wake.acquire()  # given something just as it timed out
            if seat.lead:
                seat.lead = False
                seat.job = self._read(None)
            job, seat.job = seat.job, None
            if job is not None:
                try:
                    job()
                except BaseException:
                    report_exception()

    def _read(self, seat: _Seat | None) -> Job | None:
        """Read, as the leader, until the answer for seat (a caller's) has come, or,
        for a worker (seat None), until a request has: then hand the reading on."""
        while True:
            try:
                message = self._chan.receive()
            except EOFError:
                os._exit(0)  # the tester is gone
            except BaseException:
                traceback.print_exc()
                os._exit(1)
            if message[0] in self._answers:
                with self._mu:
                    waiter = self._waiting.pop(message[1], None)
                    if waiter is None:
                        continue  # nobody waits for it
                    if waiter is seat:
                        self._hand_on()
                waiter.answer = message[2:]
                if waiter is seat:
                    return None
                waiter.wake.release()
                continue
            job = self._on_message(message)
            if seat is None:
                with self._mu:
                    self._hand_on()
                return job
            self._give(job)

    def _hand_on(self) -> None:
        """The leader stops reading: another thread reads. Needs _mu held."""
        if self._waiting:  # a caller that reads may read its own answer: no wake-up
            waiter = next(iter(self._waiting.values()))
            waiter.lead = True
            waiter.wake.release()
        elif self._idle:
            worker = self._idle.pop()
            worker.lead = True
            worker.wake.release()
        else:
            self._start(lead=True)

    def _give(self, job: Job) -> None:
        """A caller leads and has read a request: a worker runs it."""
        with self._mu:
            if self._idle:
                worker = self._idle.pop()
                worker.job = job
                worker.wake.release()
                return
            self._start(job=job)

    def _start(self, lead: bool = False, job: Job | None = None) -> None:
        """A new worker, given the turn to read or a job. Needs _mu held."""
        seat = _Seat()
        seat.lead, seat.job = lead, job
        worker = threading.Thread(target=self._work, args=(seat,), name=worker_name(), daemon=True)
        self._workers.add(worker)
        worker.start()
