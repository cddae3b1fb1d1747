"""One thread that runs callbacks when their time comes.

The network's Calls that nobody waits for (Network.call_later) sleep here: a
delay is an entry in a heap, not a thread. The thread starts with the first
entry and ends at close(), which runs every entry still waiting at once, so
that each journey ends and no thread is left behind.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

from labrpc.pool import report_exception

_Job = Callable[[], None]


class Timer:
    """Runs each job after its delay, in order of due time, on one thread."""

    def __init__(self, name: str) -> None:
        self._name = name
        # _cond guards every field below; the thread waits on it for the next due time.
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Job]] = []  # (due, order, job)
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    def after(self, seconds: float, job: _Job) -> bool:
        """Run job in `seconds`; False (and job is not run) if the timer is closed."""
        due = time.monotonic() + seconds
        with self._cond:
            if self._closed:
                return False
            heapq.heappush(self._heap, (due, next(self._order), job))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            elif self._heap[0][0] == due:
                self._cond.notify()  # a new earliest entry
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    if wait is not None and wait <= 0:
                        break
                    self._cond.wait(wait)
                if self._closed:
                    return
                _, _, job = heapq.heappop(self._heap)
            _run(job)

    def close(self, timeout: float = 1.0) -> None:
        """Stop the thread, then run what was still due, now, on this thread."""
        with self._cond:
            self._closed = True
            jobs = [job for _, _, job in sorted(self._heap)]
            self._heap = []
            thread = self._thread
            self._cond.notify()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        for job in jobs:
            _run(job)


def _run(job: _Job) -> None:
    try:
        job()
    except BaseException:
        report_exception()
