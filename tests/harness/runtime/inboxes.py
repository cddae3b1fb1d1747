"""Inboxes: sockets the tester writes and one host thread reads, so that a message
for a thread that waits wakes that thread alone.

On a host's main channel (runtime/sealed.py) the request of an RPC wakes the
host's reading worker, then the worker it hands the reading to (peerhost/readers.py);
the answer to a Call or to an applyCh put wakes the reader, then the thread that
waits for it. An inbox is a socket pair made when the host is spawned, that
only the tester writes to:

  * an RPC inbox (RPC_INBOXES) has a host thread of its own, which runs each
    request the tester sends there, as a handler thread would, and answers on
    the main channel; the tester sends an RPC to a free one, else on the main
    channel, and an inbox is free again once its answer has come;
  * a reply inbox (REPLY_INBOXES) is taken by a host thread that is about to
    wait for the answer to its Call or its put: it names the inbox in its
    request (-1 for none: then the answer comes on the main channel), and reads
    the answer there itself.

So both wake one host thread, as a hand-off between threads in-process does.
What a host sends stays on the main channel, handled by the tester in the order
it was sent (a Save before the reply that follows it). The tester never reads an
inbox, so nothing a host writes into one reaches it; a message the tester cannot
send to an inbox goes on the main channel.
"""

from __future__ import annotations

import threading
from typing import TypeVar

from harness.runtime.lanes import LANES
from harness.runtime.wire import Channel

__all__ = ["CHANNELS", "REPLY_INBOXES", "RPC_INBOXES", "Inboxes", "by_use"]

RPC_INBOXES = 2  # a peer seldom handles more RPCs than this at once
REPLY_INBOXES = 4  # a leader's Calls to its followers, and its applier's put
CHANNELS = 1 + LANES + RPC_INBOXES + REPLY_INBOXES  # the socket pairs a host is given

T = TypeVar("T")


def by_use(items: list[T]) -> tuple[T, list[T], list[T], list[T]]:
    """A host's CHANNELS items (its sockets, or their fds) in the one order both sides
    keep: the main channel, the lanes, the RPC inboxes, the reply inboxes."""
    assert len(items) == CHANNELS, f"{len(items)} channels, not {CHANNELS}"
    lanes_end = 1 + LANES
    rpc_end = lanes_end + RPC_INBOXES
    return items[0], items[1:lanes_end], items[lanes_end:rpc_end], items[rpc_end:]


class Inboxes:
    """One side's ends of a host's inboxes of one kind, by index. The lock rule: _mu
    guards _free."""

    def __init__(self, channels: list[Channel]) -> None:
        self.all = channels
        self._mu = threading.Lock()
        self._free = list(range(len(channels)))

    def take(self) -> int:
        """A free inbox's index, now in use; -1 if none is free."""
        with self._mu:
            return self._free.pop() if self._free else -1

    def give(self, index: int) -> None:
        """Inbox index is free again."""
        with self._mu:
            if index not in self._free:
                self._free.append(index)

    def close(self) -> None:
        for inbox in self.all:
            inbox.close()
