"""Lanes: channels of their own for the lab's calls into a sealed peer.

On a host's one channel (runtime/sealed.py) a Start wakes four threads: the host's
reading worker, the worker it hands the reading to before it runs the call, the
tester's reader, and the tester's caller. A lane is a socket pair made when the
host is spawned, for the lab's calls alone (LANE_KINDS): the tester's caller
sends on it and reads its own answer, and a host thread that waits for nothing
else runs the call as the caller (peerhost/host.py). That is two wake-ups a
call, the fewest a round trip can have; the churn tests make some 25,000 Starts
a 3C run.

A lane carries one call at a time. A call that never returns keeps its lane, as
it keeps its thread in-process; with no lane free, a call goes on the main
channel as before.

Order: a Raft's Save goes on the main channel, and must be in the tester's Store
before the Start that made it returns, as in-process. So a lane's answer comes
after ("after", n): the host had sent n frames on its main channel by then, and
the caller waits until the tester has handled that many (sealed.py, _Host._wait_handled).

A lane is read by the tester like the main channel: its frames are checked, and
one that breaks the rules fails the peer's test (LaneBroken).
"""

from __future__ import annotations

import threading
from typing import Any

from harness.runtime.wire import ANSWERED_BY, CALLER_KINDS, Channel, WireError, expect

__all__ = ["LANES", "LANE_KINDS", "LaneBroken", "LaneEnded", "Lanes"]

LANES = 2  # a host's lanes: calls into one peer seldom overlap
LANE_KINDS = CALLER_KINDS - {"make"}  # Make waits for its hello on the main channel


class LaneEnded(Exception):
    """The lane closed: the host's process has ended (or it closed its end)."""


class LaneBroken(Exception):
    """What the host sent on a lane breaks the channel's rules: why."""


class Lanes:
    """The tester's ends of one host's lanes. Lanes not in use are free; the lock
    rule: _mu guards _free."""

    def __init__(self, lanes: list[Channel]) -> None:
        self._all = lanes
        self._mu = threading.Lock()
        self._free = list(self._all)

    def call(self, kind: str, token: int, *args: Any) -> tuple[int, Any, str | None] | None:
        """Send (kind, token, *args) on a free lane and read its answer: (the frames
        the host had sent on its main channel, the value, the error or None); None if
        no lane is free. Raises LaneEnded, or LaneBroken for a malformed answer; the
        lane is then not used again."""
        with self._mu:
            if not self._free:
                return None
            lane = self._free.pop()
        try:
            lane.send(kind, token, *args)
            fence, answer = lane.receive(), lane.receive()
        except (EOFError, OSError):
            raise LaneEnded from None
        except WireError as e:
            raise LaneBroken(str(e)) from None
        checked = _check(kind, token, fence, answer)
        with self._mu:
            self._free.append(lane)
        return checked

    def close(self) -> None:
        for lane in self._all:
            lane.close()


def _check(
    kind: str, token: int, fence: tuple[Any, ...], answer: tuple[Any, ...]
) -> tuple[int, Any, str | None]:
    """The main channel's frames, value and error of a lane's answer to request
    token of kind."""
    try:
        if fence[0] != "after":
            raise LaneBroken(f"a {fence[0]!r} message on a lane, where its 'after' comes first")
        (sent,) = expect(fence, int)
        if answer[0] not in ANSWERED_BY.get(kind, ("done",)):
            raise LaneBroken(f"a {answer[0]!r} answer on a lane to request {token}, a {kind!r}")
        if answer[0] == "started":  # Start's answer; its fixed layout typed it
            asked, value, error = answer[1], list(answer[2:]), None
        else:
            asked, value, error = expect(answer, int, object, str)
    except WireError as e:
        raise LaneBroken(str(e)) from None
    if asked != token:
        raise LaneBroken(f"an answer on a lane to request {asked}, where {token} was asked")
    return sent, value, error or None
