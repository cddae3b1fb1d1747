"""A small Raft kept with the tester's own tests: election, replication, commit, apply.

Why it exists: the tester's tests (tests/tester) must not lean on the reference
Raft's internals (raft/raft.py), which are free to change, and a test that plants
a locking bug needs a Raft whose insides it knows. So the planted bugs of
test_race.py are subclasses of this Raft; make_with(cls) builds a Make for one.

It has the lab's API (Make, GetState, Start, Kill, Snapshot) and the tester's
optional hooks (inspect(), UNGUARDED), one lock `mu` over every other field, a
ticker and an applier thread that Kill() ends, and a short-lived thread per RPC.
Correct and plain rather than quick: nextIndex backs up one entry per heartbeat,
no snapshots; currentTerm, votedFor and log[] are persisted with labgob.
Names follow Figure 2 of the Raft paper, in snake_case.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import labgob
from raft import ApplyMsg, Persister

HEARTBEAT_INTERVAL = 0.1  # seconds; the tester allows at most ten heartbeats a second
ELECTION_TIMEOUT = (0.3, 0.6)  # seconds, drawn afresh each time the timer is reset
TICK = 0.01  # how often the ticker looks at the timers

FOLLOWER, CANDIDATE, LEADER = "follower", "candidate", "leader"


@dataclass
class LogEntry:
    Term: int = 0
    Command: Any = None


@dataclass
class RequestVoteArgs:
    Term: int = 0
    CandidateId: int = 0
    LastLogIndex: int = 0
    LastLogTerm: int = 0


@dataclass
class RequestVoteReply:
    Term: int = 0
    VoteGranted: bool = False


@dataclass
class AppendEntriesArgs:
    Term: int = 0
    LeaderId: int = 0
    PrevLogIndex: int = 0
    PrevLogTerm: int = 0
    Entries: list[LogEntry] = field(default_factory=list)
    LeaderCommit: int = 0


@dataclass
class AppendEntriesReply:
    Term: int = 0
    Success: bool = False


# Registered at import: labrpc registers a handler's types only when the tester makes
# the peer's service, which a slow tester thread may do after the peer's first Call.
for _cls in (LogEntry, RequestVoteArgs, RequestVoteReply, AppendEntriesArgs, AppendEntriesReply):
    labgob.Register(_cls)


class Raft:
    """A Raft peer. Every field but those in UNGUARDED is guarded by mu."""

    UNGUARDED: ClassVar[frozenset[str]] = frozenset(
        {"peers", "persister", "me", "applyCh", "dead", "mu", "threads"}
    )

    def __init__(
        self, peers: list[Any], me: int, persister: Persister, applyCh: queue.Queue[Any]
    ) -> None:
        self.peers = peers
        self.persister = persister
        self.me = me
        self.applyCh = applyCh
        self.dead = False
        self.threads: list[threading.Thread] = []  # the ticker and the applier
        self.mu = threading.Lock()
        # Persistent state on all servers.
        self.current_term = 0
        self.voted_for: int | None = None
        self.log = [LogEntry()]  # log[0] is a sentinel, so entries start at index 1
        # Volatile state on all servers, and on leaders.
        self.commit_index = 0
        self.last_applied = 0
        self.next_index = [1] * len(peers)
        self.match_index = [0] * len(peers)
        # Bookkeeping.
        self.state = FOLLOWER
        self.votes = 0
        self.election_deadline = 0.0
        self.heartbeat_due = 0.0
        self.apply_cond = threading.Condition(self.mu)  # wakes the applier
        self.read_persist(persister.ReadRaftState())
        self.reset_election_timer()

    def GetState(self) -> tuple[int, bool]:
        with self.mu:
            return self.current_term, self.state == LEADER

    def persist(self) -> None:
        state = labgob.encode([self.current_term, self.voted_for, self.log])
        self.persister.Save(state, None)

    def read_persist(self, data: bytes) -> None:
        if data:
            self.current_term, self.voted_for, self.log = labgob.decode(data)

    def Snapshot(self, index: int, snapshot: bytes) -> None:
        """No snapshots here."""

    def last_log_index(self) -> int:
        return len(self.log) - 1

    # -- RPC handlers ---------------------------------------------------------------

    def RequestVote(self, args: RequestVoteArgs, reply: RequestVoteReply) -> None:
        with self.mu:
            self.observe_term(args.Term)
            reply.Term = self.current_term
            # Figure 2: votedFor is null or candidateId, and the candidate's log is at
            # least as up-to-date as ours (a later last term, or the same and as long).
            free = self.voted_for in (None, args.CandidateId)
            ours = (self.log[-1].Term, self.last_log_index())
            up_to_date = (args.LastLogTerm, args.LastLogIndex) >= ours
            if args.Term == self.current_term and free and up_to_date:
                self.voted_for = args.CandidateId
                self.persist()
                self.reset_election_timer()
                reply.VoteGranted = True

    def AppendEntries(self, args: AppendEntriesArgs, reply: AppendEntriesReply) -> None:
        with self.mu:
            self.observe_term(args.Term)
            reply.Term = self.current_term
            if args.Term < self.current_term:
                return
            self.state = FOLLOWER
            self.reset_election_timer()
            prev = args.PrevLogIndex
            if prev > self.last_log_index() or self.log[prev].Term != args.PrevLogTerm:
                return
            for i, entry in enumerate(args.Entries):
                index = prev + 1 + i
                if index > self.last_log_index() or self.log[index].Term != entry.Term:
                    self.log = self.log[:index] + args.Entries[i:]  # cut a conflict, append
                    self.persist()
                    break
            commit = min(args.LeaderCommit, prev + len(args.Entries))
            if commit > self.commit_index:
                self.commit_index = commit
                self.apply_cond.notify()
            reply.Success = True

    # -- all servers ----------------------------------------------------------------

    def observe_term(self, term: int) -> None:
        """A term above currentTerm in a request or reply: adopt it, become a follower."""
        if term > self.current_term:
            self.current_term = term
            self.voted_for = None
            self.state = FOLLOWER
            self.persist()

    def applier(self) -> None:
        """Put each newly committed entry on applyCh, without holding mu while doing it."""
        while True:
            with self.mu:
                while self.last_applied >= self.commit_index and not self.killed():
                    self.apply_cond.wait()
                if self.killed():
                    return
                first = self.last_applied + 1
                entries = self.log[first : self.commit_index + 1]
                self.last_applied = self.commit_index
            for index, entry in enumerate(entries, start=first):
                msg = ApplyMsg(CommandValid=True, Command=entry.Command, CommandIndex=index)
                self.applyCh.put(msg)

    def ticker(self) -> None:
        """Start an election when the timer runs out; send heartbeats while leader."""
        while not self.killed():
            with self.mu:
                now = time.monotonic()
                if self.state == LEADER and now >= self.heartbeat_due:
                    self.broadcast_append_entries()
                elif self.state != LEADER and now >= self.election_deadline:
                    self.start_election()
            time.sleep(TICK)

    # -- candidates -----------------------------------------------------------------

    def reset_election_timer(self) -> None:
        self.election_deadline = time.monotonic() + random.uniform(*ELECTION_TIMEOUT)

    def start_election(self) -> None:
        self.state = CANDIDATE
        self.current_term += 1
        self.voted_for = self.me
        self.persist()
        self.votes = 0
        self.reset_election_timer()
        self.count_vote()
        args = RequestVoteArgs(self.current_term, self.me, self.last_log_index(), self.log[-1].Term)
        for peer in range(len(self.peers)):
            if peer != self.me:
                self.go(self.send_request_vote, peer, args)

    def send_request_vote(self, peer: int, args: RequestVoteArgs) -> None:
        reply = RequestVoteReply()
        if not self.peers[peer].Call("Raft.RequestVote", args, reply):
            return
        with self.mu:
            self.observe_term(reply.Term)
            if self.state == CANDIDATE and self.current_term == args.Term and reply.VoteGranted:
                self.count_vote()

    def count_vote(self) -> None:
        self.votes += 1
        if self.votes > len(self.peers) // 2:
            self.become_leader()

    # -- leaders --------------------------------------------------------------------

    def become_leader(self) -> None:
        self.state = LEADER
        self.next_index = [len(self.log)] * len(self.peers)
        self.match_index = [0] * len(self.peers)
        self.broadcast_append_entries()

    def Start(self, command: Any) -> tuple[int, int, bool]:
        with self.mu:
            if self.state != LEADER:
                return -1, self.current_term, False
            self.log.append(LogEntry(self.current_term, command))
            self.persist()
            self.broadcast_append_entries()
            self.advance_commit_index()  # a cluster of one commits alone
            return self.last_log_index(), self.current_term, True

    def broadcast_append_entries(self) -> None:
        """AppendEntries to each peer, with the entries from its nextIndex on (or none)."""
        self.heartbeat_due = time.monotonic() + HEARTBEAT_INTERVAL
        for peer in range(len(self.peers)):
            if peer != self.me:
                prev = self.next_index[peer] - 1
                args = AppendEntriesArgs(
                    Term=self.current_term,
                    LeaderId=self.me,
                    PrevLogIndex=prev,
                    PrevLogTerm=self.log[prev].Term,
                    Entries=self.log[prev + 1 :],
                    LeaderCommit=self.commit_index,
                )
                self.go(self.send_append_entries, peer, args)

    def send_append_entries(self, peer: int, args: AppendEntriesArgs) -> None:
        reply = AppendEntriesReply()
        if not self.peers[peer].Call("Raft.AppendEntries", args, reply):
            return
        with self.mu:
            self.observe_term(reply.Term)
            if self.state != LEADER or self.current_term != args.Term:
                return
            if reply.Success:
                match = args.PrevLogIndex + len(args.Entries)
                self.match_index[peer] = max(self.match_index[peer], match)
                self.next_index[peer] = max(self.next_index[peer], match + 1)
                self.advance_commit_index()
            else:  # back up one entry; the next heartbeat tries there
                self.next_index[peer] = max(1, min(self.next_index[peer], args.PrevLogIndex))

    def advance_commit_index(self) -> None:
        """Commit the highest N of this term that a majority's matchIndex reaches."""
        self.match_index[self.me] = self.last_log_index()
        n = sorted(self.match_index)[(len(self.peers) - 1) // 2]
        if n > self.commit_index and self.log[n].Term == self.current_term:
            self.commit_index = n
            self.apply_cond.notify()

    # -- lifecycle ------------------------------------------------------------------

    def go(self, target: Callable[..., None], *args: Any) -> None:
        """Go's `go target(args...)`, on a thread named raft-<me>-<target>."""
        name = f"raft-{self.me}-{target.__name__}"
        threading.Thread(target=target, args=args, name=name, daemon=True).start()

    def Kill(self) -> None:
        with self.mu:
            self.dead = True
            self.apply_cond.notify_all()
        for thread in self.threads:
            if thread is not threading.current_thread():
                thread.join()

    def killed(self) -> bool:
        return self.dead

    def inspect(self, with_log: bool = True) -> dict[str, Any]:
        """What the tester's safety checks and timeline read (tests/harness/README.md)."""
        with self.mu:
            state: dict[str, Any] = {
                "term": self.current_term,
                "role": self.state,
                "commit_index": self.commit_index,
            }
            if with_log:
                state["log"] = [(e.Term, e.Command) for e in self.log[1:]]
            return state


MakeFn = Callable[[list[Any], int, Persister, "queue.Queue[Any]"], Raft]


def make_with(cls: type[Raft]) -> MakeFn:
    """A Make that builds cls (Raft, or a subclass with a planted bug, named "Raft"
    for labrpc). It names cls as its raft_class, the class race mode instruments."""

    def make(peers: list[Any], me: int, persister: Persister, applyCh: queue.Queue[Any]) -> Raft:
        rf = cls(peers, me, persister, applyCh)
        for work in (rf.ticker, rf.applier):
            thread = threading.Thread(target=work, name=f"raft-{me}-{work.__name__}", daemon=True)
            rf.threads.append(thread)
            thread.start()
        return rf

    make.raft_class = cls  # type: ignore[attr-defined]
    return make


Make = make_with(Raft)  # the lab's Make(peers, me, persister, applyCh)
