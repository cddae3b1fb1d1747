"""Rafts for sealed mode's tests (test_sealed_mode.py), each with a module-level Make,
since a peer host imports its Make by name."""

from __future__ import annotations

import os
import queue
import struct
import sys
import threading
import time
from typing import Any

from fixture_raft import Raft, RequestVoteArgs, RequestVoteReply, make_with
from harness.runtime.inboxes import REPLY_INBOXES, RPC_INBOXES, by_use

from raft import Persister

# One process's memory: shared by every peer in-process, one copy per peer sealed.
LEADER: dict[str, int] = {}


class SharedLeader(Raft):
    """Agrees on a leader through a module-level variable instead of RPCs."""

    inspect = None  # the elections underneath are not the ones it reports

    def GetState(self) -> tuple[int, bool]:
        return 1, LEADER.setdefault("leader", self.me) == self.me


class TypoInHandler(Raft):
    def RequestVote(self, args: RequestVoteArgs, reply: RequestVoteReply) -> None:
        reply.Term = args.term  # type: ignore[attr-defined]  # the field is Term


class Exits(Raft):
    """Ends its own process a moment after Make."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        if self.me == 0:
            threading.Timer(0.3, os._exit, (3,)).start()


class ExitsInMake(Raft):
    """Every peer ends its process inside Make, before its host can say hello."""

    def __init__(self, *args: Any) -> None:
        os._exit(0)


class SlowMake(Raft):
    """Server 0's Make takes SECONDS (its host starting under load, say) to return."""

    SECONDS = 2.0

    def __init__(self, *args: Any) -> None:
        if args[1] == 0:
            time.sleep(self.SECONDS)
        super().__init__(*args)


class EndlessMake(Raft):
    """Its Make never returns."""

    def __init__(self, *args: Any) -> None:
        threading.Event().wait()


class CallsInMake(Raft):
    """Its Make sends a RequestVote and waits for the answer, as a Go Make may: False,
    after up to 7 s (labrpc's long delay), since no end is connected yet."""

    def __init__(self, *args: Any) -> None:
        peers, me = args[0], args[1]
        peers[me].Call("Raft.RequestVote", RequestVoteArgs(), RequestVoteReply())
        super().__init__(*args)


class LeavesACaller(Raft):
    """After Kill(), a thread of its own goes on sending RPCs."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        threading.Thread(target=self._call_forever, name="leaky-caller", daemon=True).start()

    def _call_forever(self) -> None:
        while True:
            self.peers[self.me].Call("Raft.RequestVote", RequestVoteArgs(), RequestVoteReply())


class ExitsInGetState(Raft):
    """Ends its process while the tester waits for its GetState's answer."""

    def GetState(self) -> tuple[int, bool]:
        os._exit(0)


class StuckGetState(Raft):
    def GetState(self) -> tuple[int, bool]:
        threading.Event().wait()
        raise AssertionError("unreachable")


class UnlockedGetState(Raft):
    def GetState(self) -> tuple[int, bool]:
        return self.current_term, self.state == "leader"  # no `with self.mu`


class TellsItsProcess(Raft):
    """inspect() tells, beside the hook's keys, what its process is like."""

    def inspect(self, with_log: bool = True) -> dict[str, Any]:
        info = super().inspect(with_log)
        return dict(
            info, pid=os.getpid(), ppid=os.getppid(), cwd=os.getcwd(), argv=sys.argv,
            probe=os.environ.get("RAFTLAB_PROBE"), path0=sys.path[0],
            loaded_by=type(__loader__).__module__,
        )  # fmt: skip


def _garbage(payload: bytes) -> None:
    """Write payload on the peer host's main channel, whose fd is first in its command line."""
    time.sleep(0.3)
    os.write(int(sys.argv[1].split(",")[0]), payload)


def _forged_sample() -> None:
    """A well-framed LogSampler message whose delta fits no log the tester holds."""
    import socket

    from harness.runtime.wire import Channel

    time.sleep(0.3)
    chan = Channel(socket.socket(fileno=os.dup(int(sys.argv[1].split(",")[0]))))
    chan.send("inspected", None, time.monotonic(), ["delta", {}, 0, 5, [(1, 101)]])


class ForgesLogSample(Raft):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        if self.me == 0:
            threading.Thread(target=_forged_sample, daemon=True).start()


class SendsGarbage(Raft):
    PAYLOAD = struct.pack("<I", 5) + b"hello"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        if self.me == 0:
            threading.Thread(target=_garbage, args=(self.PAYLOAD,), daemon=True).start()


class SendsHugeFrame(SendsGarbage):
    PAYLOAD = struct.pack("<I", 1 << 31)


def _lanes() -> list[int]:
    """The fds of the host's lanes (harness/peerhost/__main__.py)."""
    return by_use([int(fd) for fd in sys.argv[1].split(",")])[1]


def _garbage_on_lanes() -> None:
    """Write a frame of garbage on each of the host's lanes, and on its inboxes, which
    the tester never reads."""
    for fd in sys.argv[1].split(",")[1:]:
        os.write(int(fd), SendsGarbage.PAYLOAD)


class SendsGarbageOnLanes(Raft):
    """Garbage on its lanes, which the tester reads at its next call there."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        if self.me == 0:
            _garbage_on_lanes()


class ClosesItsLanes(Raft):
    """Shuts its lanes down and runs on."""

    def __init__(self, *args: Any) -> None:
        import socket

        super().__init__(*args)
        if self.me == 0:
            for fd in _lanes():
                socket.socket(fileno=os.dup(fd)).shutdown(socket.SHUT_RDWR)


class SavesInStart(Raft):
    """Each Start saves its command as the Raft's state before it returns."""

    def Start(self, command: Any) -> tuple[int, int, bool]:
        self.persister.Save(str(command).encode(), None)
        return -1, 0, False


class BlocksInStart(Raft):
    """A Start of "block" waits until a Start of "free" comes."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.freed = threading.Event()

    def Start(self, command: Any) -> tuple[int, int, bool]:
        if command == "block":
            self.freed.wait()
        elif command == "free":
            self.freed.set()
        return -1, 0, False


class Holds(Raft):
    """A Start of "hold" sends HOLDS Calls of Raft.Hold at once, each of which its
    handler holds until a Start of "free"; a Start of "held" tells, as its index, how
    many Calls have come back with the handler's answer."""

    HOLDS = RPC_INBOXES + REPLY_INBOXES + 2  # more than either side has inboxes

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.freed = threading.Event()
        self.answered: list[int] = []  # guarded by mu: the Calls' replies

    def Hold(self, args: RequestVoteArgs, reply: RequestVoteReply) -> None:
        self.freed.wait(30)
        reply.Term = 7

    def _hold(self) -> None:
        reply = RequestVoteReply()
        if self.peers[1 - self.me].Call("Raft.Hold", RequestVoteArgs(), reply):
            with self.mu:
                self.answered.append(reply.Term)

    def Start(self, command: Any) -> tuple[int, int, bool]:
        if command == "hold":
            for _ in range(self.HOLDS):
                threading.Thread(target=self._hold, daemon=True).start()
        elif command == "free":
            self.freed.set()
        with self.mu:
            return self.answered.count(7), 0, False


class StopsReading(Raft):
    """A Start of "stop" stops its own process just after it returns (SIGSTOP): its
    host reads nothing more. A Start of "flood" sends FLOOD Calls of FLOOD_BYTES to
    the other peer, more than its channel can buffer."""

    FLOOD, FLOOD_BYTES = 16, 1 << 18

    def Echo(self, args: bytes, reply: Any) -> None:
        pass

    def _call(self) -> None:
        self.peers[1 - self.me].Call("Raft.Echo", b"x" * self.FLOOD_BYTES, RequestVoteReply())

    def Start(self, command: Any) -> tuple[int, int, bool]:
        if command == "stop":
            threading.Timer(0.2, os.kill, (os.getpid(), 19)).start()  # SIGSTOP
        elif command == "flood":
            for _ in range(self.FLOOD):
                threading.Thread(target=self._call, daemon=True).start()
        return -1, 0, False


def _call_naming_inbox(inbox: int, endname: str) -> None:
    """A well-framed Call, through one of the peer's own ends, naming reply inbox inbox."""
    import socket

    from harness.runtime.wire import Channel

    time.sleep(0.3)
    chan = Channel(socket.socket(fileno=os.dup(int(sys.argv[1].split(",")[0]))))
    chan.send("call", 1 << 40, endname, "Raft.RequestVote", b"", inbox)


class NamesAnotherInbox(Raft):
    """Asks for a Call's answer on a reply inbox it does not have."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        if self.me == 0:
            endname = self.peers[1].endname
            threading.Thread(
                target=_call_naming_inbox, args=(REPLY_INBOXES, endname), daemon=True
            ).start()


class OddStart(Raft):
    """A Start whose answer is no (int, int, bool): isLeader is an int."""

    def Start(self, command: Any) -> tuple[int, int, bool]:
        return -1, 7, 1  # type: ignore[return-value]


def MakeIntCommandValid(
    peers: list[Any], me: int, persister: Persister, applyCh: queue.Queue[Any]
) -> Any:
    """A Raft whose ApplyMsgs say CommandValid=1, an int where Go has a bool."""

    class IntFlag:
        def put(self, m: Any, block: bool = True, timeout: float | None = None) -> None:
            m.CommandValid = int(m.CommandValid)
            applyCh.put(m, block, timeout)

    return MakeCorrect(peers, me, persister, IntFlag())


def _maker(cls: type[Raft]) -> Any:
    cls.__name__ = "Raft"  # the service name labrpc gives it, which the peers call
    make = make_with(cls)

    def Make(peers: list[Any], me: int, persister: Persister, applyCh: queue.Queue[Any]) -> Any:
        return make(peers, me, persister, applyCh)

    Make.raft_class = cls  # type: ignore[attr-defined]
    return Make


# Each a module-level name, as the host looks it up.
MakeSharedLeader = _maker(SharedLeader)
MakeTypoInHandler = _maker(TypoInHandler)
MakeExits = _maker(Exits)
MakeExitsInMake = _maker(ExitsInMake)
MakeExitsInGetState = _maker(ExitsInGetState)
MakeSlowMake = _maker(SlowMake)
MakeEndlessMake = _maker(EndlessMake)
MakeCallsInMake = _maker(CallsInMake)
MakeLeavesACaller = _maker(LeavesACaller)
MakeStuckGetState = _maker(StuckGetState)
MakeSendsGarbage = _maker(SendsGarbage)
MakeForgesLogSample = _maker(ForgesLogSample)
MakeSendsHugeFrame = _maker(SendsHugeFrame)
MakeSendsGarbageOnLanes = _maker(SendsGarbageOnLanes)
MakeSavesInStart = _maker(SavesInStart)
MakeClosesItsLanes = _maker(ClosesItsLanes)
MakeBlocksInStart = _maker(BlocksInStart)
MakeHolds = _maker(Holds)
MakeNamesAnotherInbox = _maker(NamesAnotherInbox)
MakeUnlockedGetState = _maker(UnlockedGetState)
MakeCorrect = _maker(Raft)
MakeOddStart = _maker(OddStart)
MakeTellsItsProcess = _maker(TellsItsProcess)
MakeStopsReading = _maker(StopsReading)
