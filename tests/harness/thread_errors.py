"""An exception in a Raft thread fails the test at once, as its cause.

Go's tester sees a panic in any goroutine: the process dies and the test
fails there.  In Python an uncaught exception ends only its own thread (a
ticker, an applier, an RPC handler, or a thread that called labgob or labrpc
on the student's behalf), and the test goes on to fail later for a reason that
hides the real one ("expected one leader, got none").  While a cluster runs,
ThreadErrors takes over threading.excepthook: each distinct exception is
reported once, with the student's own frame (the innermost frame outside the
tester, labrpc, labgob and the standard library), and fails the test; repeats
are counted, not reported again.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType

__all__ = ["ThreadErrors", "ThreadFailure", "running_in_own_code", "runs_own_code"]

# Frames in these folders belong to the lab's machinery, not to the code under test.
_MACHINERY = tuple(
    str(Path(p).resolve()) + os.sep
    for p in (
        Path(__file__).parent,  # the tester
        Path(__file__).parents[2] / "labrpc",
        Path(__file__).parents[2] / "labgob",
        os.path.dirname(threading.__file__),  # the standard library
        sysconfig.get_paths()["purelib"],  # installed packages (pytest, ...)
        sysconfig.get_paths()["platlib"],
    )
)


class ThreadFailure(AssertionError):
    """A test failed because a thread of the code under test raised."""

    def __init__(self, report: Report) -> None:
        super().__init__(report.describe())
        self.report = report


@dataclass
class Report:
    """One distinct exception: where it was raised, and how often."""

    summary: str  # "AttributeError: 'RequestVoteArgs' object has no attribute 'term'"
    where: str  # "raft/raft.py:123, in RequestVote (thread raft-0-ticker)"
    source: str  # the line of code there
    details: str  # the whole traceback
    count: int = 1

    def describe(self) -> str:
        times = f" (raised {self.count} times)" if self.count > 1 else ""
        line = f": {self.source}" if self.source else ""
        return f"{self.summary}{times}\n    at {self.where}{line}"


class ThreadErrors:
    """While installed, uncaught exceptions in threads other than the tester's become
    failures: fail(ThreadFailure) is called once per distinct exception."""

    def __init__(self, fail: Callable[[ThreadFailure], None]) -> None:
        self._fail = fail
        self._mu = threading.Lock()
        self._reports: dict[tuple[str, str, str], Report] = {}  # guarded by _mu
        self._previous: Callable[[threading.ExceptHookArgs], object] | None = None

    def install(self) -> None:
        self._previous = threading.excepthook
        threading.excepthook = self._hook

    def uninstall(self) -> None:
        if self._previous is not None and threading.excepthook == self._hook:
            threading.excepthook = self._previous
        self._previous = None

    def reports(self) -> list[Report]:
        with self._mu:
            return list(self._reports.values())

    def _hook(self, args: threading.ExceptHookArgs) -> None:
        thread = args.thread
        name = thread.name if thread is not None else "?"
        if args.exc_type is SystemExit or name.startswith("tester-") or args.exc_value is None:
            if self._previous is not None:
                self._previous(args)
            return
        # The class's own name, as Python prints builtins: "LabrpcError: labrpc: ..."
        summary = f"{args.exc_type.__name__}: {args.exc_value}".rstrip(": ")
        where, source = _own_frame(args.exc_traceback)
        key = (summary, where, source)
        with self._mu:
            report = self._reports.get(key)
            if report is not None:
                report.count += 1
                return
            details = "".join(
                traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)
            )
            report = Report(summary, f"{where} (thread {name})", source, details)
            self._reports[key] = report
        print(f"exception in thread {name}:\n{details}", file=sys.stderr)
        self._fail(ThreadFailure(report))


def _is_machinery(filename: str) -> bool:
    return str(Path(filename).resolve()).startswith(_MACHINERY)


def runs_own_code(frame: FrameType | None) -> bool:
    """Whether a live thread's stack holds a frame of the code under test."""
    while frame is not None:
        if not _is_machinery(frame.f_code.co_filename):
            return True
        frame = frame.f_back
    return False


def running_in_own_code(frame: FrameType | None) -> str:
    """Where a live thread is now: its innermost frame outside the machinery, as
    "raft/raft.py:123, in applier: self.apply_cond.wait()" (else its innermost frame)."""
    stack = traceback.extract_stack(frame)
    if not stack:
        return "an unknown place"
    own = [f for f in stack if not _is_machinery(f.filename)]
    f = (own or stack)[-1]
    line = f": {f.line}" if f.line else ""
    return f"{_relative(f.filename)}:{f.lineno}, in {f.name}{line}"


def _own_frame(tb: TracebackType | None) -> tuple[str, str]:
    """(file:line, in function) and source of the innermost frame outside the machinery;
    the innermost frame of all if every frame is machinery."""
    frames = traceback.extract_tb(tb)
    if not frames:
        return "an unknown place", ""
    own = [f for f in frames if not _is_machinery(f.filename)]
    frame = (own or frames)[-1]
    return f"{_relative(frame.filename)}:{frame.lineno}, in {frame.name}", (frame.line or "")


def _relative(filename: str) -> str:
    try:
        return os.path.relpath(filename)
    except ValueError:
        return filename
