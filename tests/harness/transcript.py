"""Where the tester's Go-style lines go.

Outside pytest they are printed at once. The pytest plugin starts a Transcript
per test and prints its lines through the terminal reporter, so they show
without -s. This module imports nothing from the lab, so the plugin loads even
when raft/ is missing or broken.
"""

from __future__ import annotations

import sys
import threading

# Go's Passed line (config.go's end()) and, once per run, a header over its numbers.
PASSED = "  ... Passed --"
PASSED_COLUMNS = (
    "                 secs  n rpcs   bytes cmds  (n: peers; rpcs, bytes: sent; cmds: agreed)"
)


class Transcript:
    """Lines and seeds one test produced through the harness."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.seeds: list[int] = []
        self.timelines: list[str] = []
        self.digest = ""  # a simulated test's trace digest (harness/sim)
        self.virtual = 0.0  # and the virtual seconds it ran

    @property
    def used(self) -> bool:
        return bool(self.lines or self.seeds or self.timelines or self.digest)


_lock = threading.Lock()
_current: Transcript | None = None


def start() -> Transcript:
    """Collect lines from now on instead of printing them."""
    global _current
    with _lock:
        _current = Transcript()
        return _current


def stop() -> Transcript | None:
    """Go back to printing lines; return what was collected."""
    global _current
    with _lock:
        done, _current = _current, None
        return done


def current() -> Transcript | None:
    """The transcript being collected, if the plugin started one."""
    return _current


def collecting() -> bool:
    return _current is not None


def emit(line: str) -> None:
    """Show one line of tester output (Go's fmt.Printf in config.go/test_test.go)."""
    with _lock:
        if _current is not None:
            _current.lines.append(line)
            return
    print(line, flush=True)


def note_seed(seed: int) -> None:
    """Remember a config's seed so a failure can say how to repeat it."""
    with _lock:
        if _current is not None:
            _current.seeds.append(seed)


def note_digest(digest: str, virtual: float) -> None:
    """Remember a simulated test's trace digest and virtual seconds, for its Passed
    or FAIL line."""
    with _lock:
        if _current is not None:
            _current.digest = digest
            _current.virtual = virtual


def note_timeline(path: str) -> None:
    """Remember where a config wrote its timeline (harness.timeline), for the report."""
    with _lock:
        if _current is not None:
            _current.timelines.append(path)


def seed_hint(seeds: list[int]) -> str:
    """The line telling how to repeat the tester's random choices."""
    unique = list(dict.fromkeys(seeds))
    return " ".join(f"RAFTLAB_SEED={s}" for s in unique) + " repeats the tester's random choices"


def log(line: str) -> None:
    """Go's log.Printf: diagnostics to stderr (pytest shows them for failed tests)."""
    print(line, file=sys.stderr, flush=True)
