"""Sealed mode's costs: one RPC's round trip between two peers, sealed and in-process.

A peer's Start(n) here is no Raft's: peer 0 makes n Calls to peer 1, back to
back, and answers the microseconds a call took as the "index". The cluster is
the tester's own (make_config), so a call takes the path a lab test's does:
peer 0's process, the tester's network, peer 1's process, and back.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass
from typing import Any

from harness.config import make_config


@dataclass
class EchoArgs:
    X: int = 0


@dataclass
class EchoReply:
    X: int = 0


class Raft:
    def __init__(self, peers: list[Any], me: int) -> None:
        self.peers = peers
        self.me = me

    def Echo(self, args: EchoArgs, reply: EchoReply) -> None:
        reply.X = args.X

    def GetState(self) -> tuple[int, bool]:
        return 0, False

    def Start(self, command: Any) -> tuple[int, int, bool]:
        n = int(command)
        reply = EchoReply()
        start = time.perf_counter()
        for i in range(n):
            if not self.peers[1].Call("Raft.Echo", EchoArgs(i), reply) or reply.X != i:
                raise RuntimeError(f"call {i} failed")
        return round((time.perf_counter() - start) / n * 1e6 * 100), 0, False

    def Kill(self) -> None:
        pass

    def Snapshot(self, index: int, snapshot: bytes) -> None:
        pass


def Make(peers: list[Any], me: int, persister: Any, applyCh: queue.Queue[Any]) -> Raft:
    return Raft(peers, me)


def round_trip(sealed: bool, calls: int) -> float:
    """Microseconds per peer-to-peer Call on a reliable network."""
    with make_config(2, False, make=Make, sealed=sealed) as cfg:
        peer = cfg.rafts[0]
        assert peer is not None
        peer.Start(100)  # warm up
        hundredths, _, _ = peer.Start(calls)
        return float(hundredths) / 100
