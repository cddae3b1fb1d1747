"""Reused threads that run RPC handlers.

Go starts a goroutine per request; a Python thread costs far more to start
than to wake, so handlers run on parked workers.  A worker that blocks in a
handler only takes itself out of the pool: the next request gets another
worker, so handlers still run concurrently.
"""

from __future__ import annotations

import itertools
import queue
import sys
import threading
from collections.abc import Callable

IDLE_SECONDS = 2.0

_Job = Callable[[], None]
_names = itertools.count(1)


class _Worker:
    __slots__ = ("jobs", "thread")

    def __init__(self, work: Callable[[_Worker], None]) -> None:
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.thread = threading.Thread(
            target=work, args=(self,), name=f"labrpc-handler-{next(_names)}", daemon=True
        )


class HandlerPool:
    """Runs jobs on parked threads, starting a new one when none is idle."""

    def __init__(self) -> None:
        self._mu = threading.Lock()
        self._idle: list[_Worker] = []  # guarded by _mu
        self._closed = False  # guarded by _mu

    def submit(self, job: _Job) -> bool:
        """Run job on some worker; False if the pool is closed."""
        with self._mu:
            if self._closed:
                return False
            if self._idle:
                worker = self._idle.pop()
                worker.jobs.put(job)
                return True
            worker = _Worker(self._work)
        worker.jobs.put(job)
        worker.thread.start()
        return True

    def _work(self, worker: _Worker) -> None:
        while True:
            try:
                job = worker.jobs.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._mu:
                    if worker in self._idle:
                        self._idle.remove(worker)
                        return
                continue  # a job was handed over just as we timed out
            if job is None:
                return
            try:
                job()
            except BaseException:
                report_exception()
            with self._mu:
                if self._closed:
                    return
                self._idle.append(worker)

    def close(self, timeout: float = 1.0) -> None:
        """Stop idle workers and wait for them; busy ones exit when their job ends."""
        with self._mu:
            self._closed = True
            idle, self._idle = self._idle, []
            for worker in idle:
                worker.jobs.put(None)
        for worker in idle:
            worker.thread.join(timeout)


def report_exception() -> None:
    """Hand the exception being handled to threading.excepthook, as if it had ended
    this thread: the tester reports it as the thread error it is."""
    exc_type, exc, tb = sys.exc_info()
    assert exc_type is not None
    threading.excepthook(threading.ExceptHookArgs((exc_type, exc, tb, threading.current_thread())))
