"""Threads a test left running, wherever they ran: the report tests/conftest.py gives.

A test must end every thread it started. Threads of this process are found by
the conftest after the test; a sealed peer's threads (harness/runtime/sealed.py)
are reported by its host as it exits and kept here until the conftest takes
them, so the report reads the same either way.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

__all__ = ["Leftover", "add", "describe", "take"]


class Leftover(NamedTuple):
    name: str
    target: str  # the qualified name of what it runs, or ""
    place: str  # where it is now, as thread_errors.running_in_own_code says
    stack: str
    daemon: bool = False


_mu = threading.Lock()
_kept: list[Leftover] = []  # guarded by _mu


def add(left: list[Leftover]) -> None:
    with _mu:
        _kept.extend(left)


def take() -> list[Leftover]:
    with _mu:
        left = list(_kept)
        _kept.clear()
    return left


def describe(left: list[Leftover], grace: float) -> str:
    places: dict[str, list[str]] = {}  # what a thread runs and where it is -> names
    for t in sorted(left, key=lambda t: t.name):
        what = f" running {t.target}" if t.target else ""
        places.setdefault(f"{what}, now at {t.place}", []).append(t.name)
    lines = []
    for place, names in sorted(places.items(), key=lambda item: len(item[1])):
        more = f" and {len(names) - 1} more" if len(names) > 1 else ""
        lines.append(f"    {names[0]}{more}{place}")
    stacks = "".join(
        f"--- thread {t.name!r}{' daemon' if t.daemon else ''} ---\n{t.stack}" for t in sorted(left)
    )
    return (
        f"{len(left)} thread(s) still alive {grace:g} s after the test ended:\n"
        + "\n".join(lines) + "\n"
        "Kill() must make every thread the peer started return: a loop checks killed(),"
        " and a thread waiting on a Condition or a queue needs a timeout or a wake-up"
        " from Kill() (see the docstring of Kill in raft/raft.py).\n\n"
        f"{stacks}"
    )
