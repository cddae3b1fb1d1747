"""Peers in this process, in a simulated World (harness/sim): virtual time, one
thread at a time, chosen by a PRNG the test's seed determines.

The World wraps the whole test, tester included (harness/plugin.py runs each
test of a pytest --sim run inside one), so this runtime is InProcess with
what the trace digest should hold: every entry a peer applies goes into it,
so two runs that applied differently can never share a digest.
"""

from __future__ import annotations

from typing import Any

from harness.observe import Observer
from harness.runtime.inprocess import InProcess
from harness.sim import current_world

__all__ = ["Simulated"]


class _Applied(Observer):
    """Feeds each applied entry into the World's digest."""

    def __init__(self, world: Any) -> None:
        self._world = world

    def on_apply(self, server: int, index: int, command: Any) -> None:
        self._world.record(f"apply {server} {index} {command!r}")


class Simulated(InProcess):
    name = "simulated"

    def __init__(self, *args: Any) -> None:
        world = current_world()
        if world is None:
            raise RuntimeError("the simulated runtime runs inside a World (pytest --sim)")
        super().__init__(*args)
        self.observers: list[Observer] = [_Applied(world)]
