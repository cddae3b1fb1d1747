"""Suite-wide test hygiene for raftlab.

* Every test must end every thread it started (labrpc-*, raft-*, tester-*, or any
  other): after the test and its fixtures are torn down, threads that were not alive
  when the test started get a short grace period to finish; any still alive after it
  fail the test, listed by what they run and where they are, with their stacks.
* An uncaught exception in any thread fails the test: while a cluster runs, the
  tester reports it as the test's cause (harness/thread_errors.py); outside one,
  setup.cfg turns pytest's PytestUnhandledThreadExceptionWarning into an error.
* Tests marked `browser` (the timeline's check in chromium) are left out unless
  `-m browser` asks for them (`make test-browser`); the run's summary says so.
* A hang fails the test: pytest-timeout (setup.cfg: timeout) raises in the hung
  test and prints every thread's stack, and the run goes on. If the main thread is
  stuck where even that cannot reach it, a faulthandler backstop dumps every
  thread's stack and ends the run, so CI never stalls.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import threading
import time
import traceback
from collections.abc import Generator, Iterator
from typing import IO, Any

import pytest
from harness import leftovers
from harness.thread_errors import running_in_own_code

from labrpc.cpu import pin_to_one_cpu

pytest_plugins = ["harness.plugin"]

# How long threads a test started may take to finish after the test ends.
THREAD_GRACE_SECONDS = 3.0

# The faulthandler backstop fires this long after the pytest-timeout of a test.
BACKSTOP_EXTRA_SECONDS = 60.0

_backstop_file: IO[str] | None = None


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Fail a test that leaves a thread alive (after a grace period), here or in a
    sealed peer's process (harness/leftovers.py)."""
    before = set(threading.enumerate())
    leftovers.take()
    yield
    deadline = time.monotonic() + THREAD_GRACE_SECONDS
    while True:
        left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    found = leftovers.take()
    frames = sys._current_frames()
    for t in left:
        target = getattr(t, "_target", None)
        frame = frames.get(t.ident) if t.ident is not None else None
        stack = "".join(traceback.format_stack(frame)) if frame else "    (no frame)\n"
        what = str(getattr(target, "__qualname__", target)) if target else ""
        place = running_in_own_code(frame)
        found.append(leftovers.Leftover(t.name, what, place, stack, t.daemon))
    if found:
        pytest.fail(leftovers.describe(found, THREAD_GRACE_SECONDS), pytrace=False)


def _timeout_of(item: pytest.Item) -> float:
    """The pytest-timeout that applies to item, in seconds (0: none)."""
    marker = item.get_closest_marker("timeout")
    if marker is not None:
        if marker.args:
            return float(marker.args[0] or 0)
        if "timeout" in marker.kwargs:
            return float(marker.kwargs["timeout"] or 0)
    try:
        opt = item.config.getoption("timeout")
    except ValueError:  # pytest-timeout not installed
        return 0.0
    if opt is not None:
        return float(opt)
    env = os.environ.get("PYTEST_TIMEOUT")
    if env:
        return float(env)
    return float(item.config.getini("timeout") or 0)


_pinned = "all CPUs"


def pytest_configure(config: pytest.Config) -> None:
    global _backstop_file, _pinned
    # Before any test starts a thread: see labrpc/cpu.py for why one CPU is faster.
    _pinned = pin_to_one_cpu()
    # fd 2 is captured (redirected to a temp file) while a test runs; keep a copy of
    # the real stderr for the backstop's dump.
    _backstop_file = os.fdopen(os.dup(sys.__stderr__.fileno()), "w")


def pytest_report_header(config: pytest.Config) -> str:
    if _pinned == "all CPUs":
        return "raftlab: running on all CPUs (RAFTLAB_CPUS=all, or this system cannot pin)"
    return (
        f"raftlab: running on {_pinned} only, by design: with the GIL one thread runs at a "
        "time, and labrpc's hand-offs between threads cost least on one CPU (labrpc/cpu.py); "
        "RAFTLAB_CPUS=all uses every CPU"
    )


_left_out: list[str] = []


def pytest_deselected(items: list[pytest.Item]) -> None:
    _left_out.extend(item.nodeid for item in items if item.get_closest_marker("browser"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _left_out:
        terminalreporter.write_line(
            f"raftlab: {len(_left_out)} browser check(s) not run here "
            f"({', '.join(_left_out)}): `make test-browser` runs them, with chromium installed"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    global _backstop_file
    if _backstop_file is not None:
        _backstop_file.close()
        _backstop_file = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    timeout = _timeout_of(item)
    # pytest's own faulthandler_timeout, if someone sets it, uses the same single timer.
    theirs = float(item.config.getini("faulthandler_timeout") or 0)
    armed = timeout > 0 and theirs <= 0 and _backstop_file is not None
    if armed:
        faulthandler.dump_traceback_later(
            timeout + BACKSTOP_EXTRA_SECONDS, exit=True, file=_backstop_file
        )
    try:
        return (yield)
    finally:
        if armed:
            faulthandler.cancel_dump_traceback_later()
