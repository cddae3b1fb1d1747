"""A call into the Raft that never returns fails the test within seconds, with a hint.

GetState(), Start() and Kill() must return promptly.  One that blocks almost
always waits for rf.mu, which some thread holds forever: across a Call, while
putting on applyCh, or after a return that skipped the release.  Without this
watch the test would sit until pytest-timeout ends it minutes later with
thousands of lines of stacks.  With it, a call that has not returned after
HANG_SECONDS fails the test: the report names the call and the server, lists
where each thread of the code under test is now, says how race mode finds the
culprit, and writes every thread's full stack to a file.

The test's thread is freed by a signal (SIGUSR1) whose handler raises the
report, since a thread blocked on a lock cannot be stopped any other way; a
call blocked in another thread fails the test at the test thread's next check.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple

from harness.thread_errors import running_in_own_code, runs_own_code

__all__ = ["HANG_SECONDS", "CallWatch", "HangError", "ThreadPlace", "local_thread_places"]

HANG_SECONDS = 5.0
# Once the test has failed, a call that blocks too is cut short sooner (cleanup's Kill()).
AFTER_FAILURE_SECONDS = 1.0
_POLL = 0.1
_SHOWN = 8  # threads listed on the terminal; the file has all
_REPO = Path(__file__).resolve().parents[2]


def _simulation() -> Any:
    """The World running this test, if it runs simulated (harness/sim)."""
    sim = sys.modules.get("harness.sim")
    return sim.current_world() if sim is not None else None


class HangError(AssertionError):
    """A call into the Raft did not return in time."""


class ThreadPlace(NamedTuple):
    """One thread of the code under test, where it is now."""

    name: str
    place: str  # its innermost frame of the student's, as running_in_own_code gives it
    stack: str  # its whole stack, as traceback formats it


def local_thread_places() -> list[ThreadPlace]:
    """The threads of this process that run the code under test (the Raft's)."""
    frames = sys._current_frames()
    places = []
    for t in threading.enumerate():
        frame = frames.get(t.ident) if t.ident is not None else None
        if frame is not None and runs_own_code(frame):
            stack = "".join(traceback.format_stack(frame))
            places.append(ThreadPlace(t.name, running_in_own_code(frame), stack))
    return places


class CallWatch:
    """Times the tester's calls into the Raft; close() when the cluster is done."""

    def __init__(
        self,
        fail: Callable[[BaseException], None],
        test: str,
        seed: int,
        places: Callable[[], list[ThreadPlace]] = local_thread_places,
    ) -> None:
        self._fail = fail
        self._places = places  # where the Raft's threads are (its runtime knows)
        self._test = test
        self._seed = seed
        self._mu = threading.Lock()
        # token -> (what, started, calling thread, seconds allowed); guarded by _mu
        self._calls: dict[int, tuple[str, float, threading.Thread, float]] = {}
        self._next = 0  # guarded by _mu
        self._pending: HangError | None = None  # for the test's thread to raise
        self._failed = False
        self._stop = threading.Event()
        self._previous: Any = None
        self._main = threading.main_thread()
        if threading.current_thread() is self._main:
            self._previous = signal.signal(signal.SIGUSR1, self._interrupt)
        self._watchdog = threading.Thread(
            target=self._watch, name="tester-hang-watchdog", daemon=True
        )
        self._watchdog.start()

    @contextmanager
    def call(self, what: str) -> Iterator[None]:
        """Around one call into the Raft, e.g. what="GetState() on server 1"."""
        with self._mu:
            token = self._next
            self._next += 1
            limit = AFTER_FAILURE_SECONDS if self._failed else HANG_SECONDS
            self._calls[token] = (what, time.monotonic(), threading.current_thread(), limit)
        try:
            yield
        finally:
            with self._mu:
                del self._calls[token]

    @property
    def failed(self) -> bool:
        """Whether a call has been reported as hung."""
        return self._failed

    def close(self) -> None:
        self._stop.set()
        if threading.current_thread() is not self._watchdog:
            self._watchdog.join()
        if self._previous is not None and threading.current_thread() is self._main:
            signal.signal(signal.SIGUSR1, self._previous)
            self._previous = None

    def _watch(self) -> None:
        """The first overdue call fails the test; each overdue call of the test's thread
        (one in cleanup's Kill() too) is interrupted, so the test can end."""
        reported: set[int] = set()
        while not self._stop.wait(_POLL):
            now = time.monotonic()
            with self._mu:
                overdue = [
                    (token, call) for token, call in self._calls.items()
                    if now - call[1] > call[3] and token not in reported
                ]  # fmt: skip
            for token, (what, since, caller, _) in sorted(overdue, key=lambda o: o[1][1]):
                reported.add(token)
                report = HangError(self._describe(what, now - since))
                if not self._failed:
                    self._failed = True
                    self._fail(report)
                world = _simulation()
                if world is not None:  # every thread is a greenlet of this OS thread
                    world.interrupt(caller, report)
                elif caller is self._main and self._previous is not None:
                    self._pending = report
                    signal.pthread_kill(self._main.ident or 0, signal.SIGUSR1)

    def _interrupt(self, signum: int, frame: FrameType | None) -> None:
        report, self._pending = self._pending, None
        if report is not None:
            raise report

    def _describe(self, what: str, waited: float) -> str:
        threads = self._places()
        lines = [f"{what} has not returned after {waited:.0f} s"]
        # Threads of the code under test, grouped by where they are; the few that are
        # somewhere of their own come first, the crowd waiting for the same lock last.
        places: dict[str, list[str]] = {}
        for t in threads:
            places.setdefault(t.place, []).append(t.name)
        groups = sorted(places.items(), key=lambda group: len(group[1]))
        for place, names in groups[:_SHOWN]:
            who = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more threads"
            lines.append(f"    {who}: {place}")
        if len(groups) > _SHOWN:
            lines.append(f"    ... and threads in {len(groups) - _SHOWN} more places")
        test = self._test.split("[")[0]
        lines.append(
            "    a thread may be holding rf.mu forever (for example across Call or applyCh): "
            f'run make test-race RACE_ARGS="-k {test}" to find it'
        )
        path = self._dump(threads)
        if path is not None:
            lines.append(f"    every thread's stack: {path}")
        return "\n".join(lines)

    def _dump(self, threads: list[ThreadPlace]) -> str | None:
        out = _REPO / ".raftlab" / "hangs" / f"{self._test}-{self._seed}.txt"
        parts = [f"--- thread {t.name} ---\n{t.stack}" for t in threads]
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text("\n".join(parts))
        except OSError:
            return None
        try:
            return os.path.relpath(out)
        except ValueError:
            return str(out)
