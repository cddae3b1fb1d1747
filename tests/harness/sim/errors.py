"""What the simulation raises: its failures, and the exit it throws into threads it ends."""

from __future__ import annotations

__all__ = [
    "BusyLoopError",
    "DeadlockError",
    "SimError",
    "SimExit",
    "SimTimeLimit",
    "UnsupportedPrimitive",
]


class SimError(Exception):
    """A failure the simulation found (or a misuse of it)."""


class DeadlockError(SimError):
    """Every thread is blocked and no timer is pending: nothing can ever run again."""


class BusyLoopError(SimError):
    """A thread ran too long (real time) without reaching a switch point."""


class UnsupportedPrimitive(SimError):
    """Simulated code used something the simulation cannot run in virtual time."""


class SimTimeLimit(SimError):
    """The virtual clock passed the World's time_limit."""


class SimExit(SystemExit):
    """Thrown into a simulated thread the World ends (daemon threads at the end of run(),
    every thread after a failure). A SystemExit, so threading.excepthook stays quiet."""
