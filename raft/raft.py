"""A Raft peer, laid out like Figure 2 of the extended Raft paper.

    rf = Make(peers, me, persister, applyCh)    create a new Raft server
    rf.Start(command) -> (index, term, is_leader)
                                                start agreement on a new log entry
    rf.GetState() -> (term, is_leader)          ask a Raft for its current term,
                                                and whether it thinks it is leader
    ApplyMsg                                    each time a new entry is committed,
                                                each peer puts an ApplyMsg on applyCh

The sections below follow the figure's boxes in order: State, the
AppendEntries RPC, the RequestVote RPC, then the Rules for Servers (all
servers, followers, candidates, leaders); the one rule beyond the figure,
check_quorum, is marked as such.  One lock, `mu`, guards every
field of the State box and the bookkeeping next to it.  Threads: a ticker
(elections and heartbeats), an applier (the only writer to applyCh, and it
never holds `mu` while it does), and one short-lived thread per RPC, so a
slow or unreachable peer never stalls the others or the lock.
"""

from __future__ import annotations

import io
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import labgob
from labrpc import ClientEnd
from raft.debug import DPrintf, dCommit, dDrop, dLeader, dLog, dPersist, dTerm, dTimer, dVote
from raft.log import Log, LogEntry
from raft.persister import Persister

HEARTBEAT_INTERVAL = 0.11  # seconds; the tester allows at most ten heartbeats a second
ELECTION_TIMEOUT = (0.3, 0.5)  # seconds, drawn afresh each time the timer is reset
# A leader that has heard from no majority for this long steps down (check_quorum).
QUORUM_TIMEOUT = 1.0  # seconds
# RPCs in flight to one peer: enough to keep heartbeats going while long reordering
# holds replies back, few enough to bound the threads waiting on an unreachable peer.
MAX_INFLIGHT = 8
# Entries in one AppendEntries: big batches keep a busy leader's throughput up
# (`make bench`), the bound keeps each RPC's work well inside an election timeout.
MAX_ENTRIES = 3000

FOLLOWER, CANDIDATE, LEADER = "follower", "candidate", "leader"


@dataclass
class ApplyMsg:
    """What a peer puts on applyCh for each committed entry (or, in 3D, a snapshot)."""

    CommandValid: bool = False
    Command: Any = None
    CommandIndex: int = 0

    SnapshotValid: bool = False
    Snapshot: bytes = b""
    SnapshotTerm: int = 0
    SnapshotIndex: int = 0


@dataclass
class AppendEntriesArgs:
    Term: int = 0  # leader's term
    LeaderId: int = 0  # so followers can redirect clients
    PrevLogIndex: int = 0  # index of log entry immediately preceding new ones
    PrevLogTerm: int = 0  # term of prevLogIndex entry
    Entries: list[LogEntry] | None = None  # log entries to store (empty for heartbeat)
    LeaderCommit: int = 0  # leader's commitIndex


@dataclass
class AppendEntriesReply:
    Term: int = 0  # currentTerm, for leader to update itself
    Success: bool = False  # true if follower contained entry matching prevLogIndex and prevLogTerm
    # Fast backup (the 6.5840 lab guide): enough for the leader to skip a whole term at a time.
    XTerm: int = -1  # term of the conflicting entry, or -1 if the log is too short
    XIndex: int = 0  # index of the first entry with XTerm
    XLen: int = 0  # length of the follower's log, counting the sentinel


@dataclass
class RequestVoteArgs:
    Term: int = 0  # candidate's term
    CandidateId: int = 0  # candidate requesting vote
    LastLogIndex: int = 0  # index of candidate's last log entry
    LastLogTerm: int = 0  # term of candidate's last log entry


@dataclass
class RequestVoteReply:
    Term: int = 0  # currentTerm, for candidate to update itself
    VoteGranted: bool = False  # true means candidate received vote


for _cls in (AppendEntriesArgs, AppendEntriesReply, RequestVoteArgs, RequestVoteReply):
    labgob.Register(_cls)


class Raft:
    """A single Raft peer."""

    # The fields that are safe without mu: fixed at creation (peers, persister, me,
    # applyCh), mu itself, dead (set by Kill(), read through killed()), and threads
    # (only Make and Kill use it).  Every other field is guarded by mu; the tester's
    # race mode (`make test-race`) reads this set and checks each access to the rest.
    UNGUARDED: ClassVar[frozenset[str]] = frozenset(
        {"peers", "persister", "me", "applyCh", "dead", "mu", "threads"}
    )

    def __init__(
        self, peers: list[ClientEnd], me: int, persister: Persister, applyCh: queue.Queue[ApplyMsg]
    ) -> None:
        # Fixed at creation, safe to read without the lock.
        self.peers = peers  # RPC end points of all peers
        self.persister = persister  # holds this peer's persisted state
        self.me = me  # this peer's index into peers
        self.applyCh = applyCh
        self.dead = False  # set by Kill(); read through killed()

        self.mu = threading.Lock()
        # Everything from here on is guarded by mu.

        # Persistent state on all servers (saved before responding to RPCs).
        self.current_term = 0  # latest term server has seen
        self.voted_for: int | None = None  # candidateId that received vote in current term
        self.log = Log()  # log entries; first index is 1, as in the paper

        # Volatile state on all servers.
        self.commit_index = 0  # index of highest log entry known to be committed
        self.last_applied = 0  # index of highest log entry applied to state machine

        # Volatile state on leaders (reinitialized after election).
        self.next_index = [0] * len(peers)  # for each server, index of the next entry to send
        self.match_index = [0] * len(peers)  # for each server, highest entry known replicated
        self.heard_at = [0.0] * len(peers)  # time.monotonic() of each server's latest reply

        # Bookkeeping the figure leaves implicit.
        self.state = FOLLOWER
        self.votes: set[int] = set()  # who voted for us, while a candidate
        self.election_deadline = 0.0  # time.monotonic() at which a follower stands for election
        self.heartbeat_due = 0.0  # time.monotonic() at which a leader sends heartbeats
        self.inflight = [0] * len(peers)  # RPCs awaiting a reply, per peer
        self.resend = [False] * len(peers)  # new entries arrived while one was in flight
        self.log_unsaved = False  # Start appended entries that persist() has not saved yet
        self.rand = random.Random()
        self.ticker_cond = threading.Condition(self.mu)  # wakes the ticker
        self.apply_cond = threading.Condition(self.mu)  # wakes the applier
        self.threads: list[threading.Thread] = []

    # -- State ----------------------------------------------------------------

    def GetState(self) -> tuple[int, bool]:
        """currentTerm, and whether this server believes it is the leader."""
        with self.mu:
            return self.current_term, self.state == LEADER

    def persist(self) -> None:
        """Save currentTerm, votedFor and log[]; call with mu held, after every change to them."""
        w = io.BytesIO()
        e = labgob.NewEncoder(w)
        e.Encode(self.current_term)
        e.Encode(self.voted_for)
        e.Encode(self.log.to_bytes())
        self.persister.Save(w.getvalue(), None)
        self.log_unsaved = False
        self.dprintf(dPersist, "save votedFor=%s, last %d", self.voted_for, self.log.last_index())

    def readPersist(self, data: bytes) -> None:
        """Restore the state persist() saved; empty data means a first boot."""
        if not data:
            return
        try:
            d = labgob.NewDecoder(data)
            current_term, voted_for, entries = d.Decode(), d.Decode(), d.Decode()
            if (
                type(current_term) is not int
                or not (voted_for is None or type(voted_for) is int)
                or type(entries) is not bytes
            ):
                raise ValueError(
                    f"expected (current_term: int, voted_for: int | None, log: bytes), got "
                    f"({type(current_term).__name__}, {type(voted_for).__name__}, "
                    f"{type(entries).__name__})"
                )
            log = Log.from_bytes(entries)
        except (labgob.LabgobError, EOFError, ValueError) as e:
            raise ValueError(f"raft {self.me}: persisted state is corrupt: {e}") from None
        self.current_term, self.voted_for, self.log = current_term, voted_for, log
        self.dprintf(dPersist, "restore votedFor=%s, last %d", voted_for, log.last_index())

    def Snapshot(self, index: int, snapshot: bytes) -> None:
        """The service has a snapshot up to index; trim the log (3D, not yet)."""

    # -- AppendEntries RPC --------------------------------------------------------

    def AppendEntries(self, args: AppendEntriesArgs, reply: AppendEntriesReply) -> None:
        """Invoked by leader to replicate log entries (§5.3); also used as heartbeat (§5.2)."""
        with self.mu:
            self.observe_term(args.Term)
            reply.Term = self.current_term
            # 1. Reply false if term < currentTerm (§5.1).
            if args.Term < self.current_term:
                self.dprintf(dLog, "reject S%d: stale T%d", args.LeaderId, args.Term)
                return
            # A current leader exists: a candidate steps down, and the timer restarts.
            self.state = FOLLOWER
            self.reset_election_timer()

            # 2. Reply false if log doesn't contain an entry at prevLogIndex
            #    whose term matches prevLogTerm (§5.3).
            if args.PrevLogIndex > self.log.last_index():
                reply.XTerm, reply.XLen = -1, len(self.log)
                self.dprintf(dLog, "reject S%d: no entry %d", args.LeaderId, args.PrevLogIndex)
                return
            if self.log[args.PrevLogIndex].Term != args.PrevLogTerm:
                reply.XTerm = self.log[args.PrevLogIndex].Term
                reply.XIndex = args.PrevLogIndex
                while self.log[reply.XIndex - 1].Term == reply.XTerm:
                    reply.XIndex -= 1
                self.dprintf(dLog, "reject S%d: conflict T%d", args.LeaderId, reply.XTerm)
                return

            # 3. If an existing entry conflicts with a new one (same index but
            #    different terms), delete the existing entry and all that follow it (§5.3).
            # 4. Append any new entries not already in the log.
            entries = args.Entries or []
            for i, entry in enumerate(entries):
                index = args.PrevLogIndex + 1 + i
                if index > self.log.last_index() or self.log[index].Term != entry.Term:
                    self.dprintf(dLog, "cut at %d, append %d entries", index, len(entries) - i)
                    self.log.truncate(index)
                    self.log.extend(entries[i:])
                    self.persist()
                    break

            # 5. If leaderCommit > commitIndex, set commitIndex =
            #    min(leaderCommit, index of last new entry).
            last_new = args.PrevLogIndex + len(entries)
            if args.LeaderCommit > self.commit_index and last_new > self.commit_index:
                self.commit_index = min(args.LeaderCommit, last_new)
                self.dprintf(dCommit, "commitIndex %d", self.commit_index)
                self.apply_cond.notify()
            if self.log_unsaved:  # a former leader's own entries: save before acknowledging them
                self.persist()
            reply.Success = True

    # -- RequestVote RPC ----------------------------------------------------------

    def RequestVote(self, args: RequestVoteArgs, reply: RequestVoteReply) -> None:
        """Invoked by candidates to gather votes (§5.2)."""
        with self.mu:
            self.observe_term(args.Term)
            reply.Term = self.current_term
            # 1. Reply false if term < currentTerm (§5.1).
            if args.Term < self.current_term:
                self.dprintf(dVote, "deny S%d: stale T%d", args.CandidateId, args.Term)
                return
            # 2. If votedFor is null or candidateId, and candidate's log is at
            #    least as up-to-date as receiver's log, grant vote (§5.2, §5.4).
            last_term = self.log.last_term()
            up_to_date = args.LastLogTerm > last_term or (
                args.LastLogTerm == last_term and args.LastLogIndex >= self.log.last_index()
            )
            if self.voted_for in (None, args.CandidateId) and up_to_date:
                self.voted_for = args.CandidateId
                self.persist()
                self.reset_election_timer()
                reply.VoteGranted = True
                self.dprintf(dVote, "grant S%d", args.CandidateId)
            else:
                self.dprintf(dVote, "deny S%d: votedFor=%s", args.CandidateId, self.voted_for)

    # -- Rules for Servers: all servers -------------------------------------------

    def observe_term(self, term: int) -> None:
        """If an RPC request or response contains term T > currentTerm:
        set currentTerm = T, convert to follower (§5.1)."""
        if term > self.current_term:
            self.dprintf(dTerm, "see T%d: follower", term)
            self.current_term = term
            self.voted_for = None
            self.state = FOLLOWER
            self.persist()

    def applier(self) -> None:
        """If commitIndex > lastApplied: increment lastApplied, apply
        log[lastApplied] to state machine (§5.3)."""
        while True:
            with self.mu:
                while self.last_applied >= self.commit_index and not self.killed():
                    self.apply_cond.wait()
                if self.killed():
                    return
                first = self.last_applied + 1
                entries = self.log.between(first, self.commit_index)
                self.last_applied = self.commit_index
                self.dprintf(dCommit, "apply %d..%d", first, self.last_applied)
            for index, entry in enumerate(entries, start=first):
                self.applyCh.put(
                    ApplyMsg(CommandValid=True, Command=entry.Command, CommandIndex=index)
                )

    # -- Rules for Servers: followers and candidates ---------------------------------

    def reset_election_timer(self) -> None:
        self.election_deadline = time.monotonic() + self.rand.uniform(*ELECTION_TIMEOUT)

    def ticker(self) -> None:
        """Followers: if the election timeout elapses without hearing from the
        current leader or granting a vote, convert to candidate.  Candidates: if it
        elapses again, start a new election.  Leaders: send heartbeats on time."""
        with self.mu:
            while not self.killed():
                now = time.monotonic()
                if self.state == LEADER:
                    if now >= self.heartbeat_due and self.check_quorum(now):
                        self.broadcast_append_entries(heartbeat=True)
                    self.ticker_cond.wait(max(0.0, self.heartbeat_due - now))
                else:
                    if now >= self.election_deadline:
                        self.start_election()
                    self.ticker_cond.wait(self.election_deadline - time.monotonic())

    def start_election(self) -> None:
        """On conversion to candidate: increment currentTerm, vote for self,
        reset election timer, send RequestVote RPCs to all other servers."""
        self.state = CANDIDATE
        self.current_term += 1
        self.voted_for = self.me
        self.persist()
        self.votes = {self.me}
        self.reset_election_timer()
        if len(self.votes) > len(self.peers) // 2:  # a cluster of one is its own majority
            self.become_leader()
            return
        self.dprintf(dTimer, "timeout: stand for election, log %d", self.log.last_index())
        args = RequestVoteArgs(
            Term=self.current_term,
            CandidateId=self.me,
            LastLogIndex=self.log.last_index(),
            LastLogTerm=self.log.last_term(),
        )
        for peer in range(len(self.peers)):
            if peer != self.me and self.inflight[peer] < MAX_INFLIGHT:
                self.inflight[peer] += 1
                self.go(self.send_request_vote, peer, args)

    def send_request_vote(self, peer: int, args: RequestVoteArgs) -> None:
        reply = RequestVoteReply()
        ok = self.peers[peer].Call("Raft.RequestVote", args, reply)
        with self.mu:
            self.inflight[peer] -= 1
            if not ok:
                self.dprintf(dDrop, "RequestVote to S%d: no reply", peer)
                return
            self.observe_term(reply.Term)
            if self.state != CANDIDATE or self.current_term != args.Term or not reply.VoteGranted:
                return
            self.votes.add(peer)
            self.dprintf(dVote, "got S%d's vote: %d of %d", peer, len(self.votes), len(self.peers))
            # If votes received from majority of servers: become leader.
            if len(self.votes) > len(self.peers) // 2:
                self.become_leader()

    # -- Rules for Servers: leaders ---------------------------------------------------

    def become_leader(self) -> None:
        """Upon election: send initial empty AppendEntries RPCs (heartbeat) to
        each server; repeat during idle periods to prevent election timeouts (§5.2)."""
        self.state = LEADER
        self.dprintf(dLeader, "leader, log to %d", self.log.last_index())
        self.next_index = [len(self.log)] * len(self.peers)
        self.match_index = [0] * len(self.peers)
        self.match_index[self.me] = self.log.last_index()
        self.heard_at = [time.monotonic()] * len(self.peers)
        self.broadcast_append_entries(heartbeat=True)
        self.ticker_cond.notify()  # it may be asleep until the election deadline

    def check_quorum(self, now: float) -> bool:
        """Beyond Figure 2 (Ongaro's dissertation, §6.2): a leader that has heard
        from no majority within QUORUM_TIMEOUT steps down.  A partitioned leader
        otherwise goes on accepting commands it can never commit, and clients
        wait on it.  Returns whether this server is still the leader."""
        recent = [now - at < QUORUM_TIMEOUT for at in self.heard_at]
        recent[self.me] = True
        if sum(recent) > len(self.peers) // 2:
            return True
        self.dprintf(dLeader, "no majority heard from in %.1fs: step down", QUORUM_TIMEOUT)
        self.state = FOLLOWER
        self.reset_election_timer()
        return False

    def Start(self, command: Any) -> tuple[int, int, bool]:
        """If command received from client: append entry to local log, respond
        after entry applied to state machine (§5.3).  Returns at once with the
        index the command will have if it is ever committed, the current term,
        and whether this server believes it is the leader."""
        # Encoded before taking mu: clients calling Start flat out hold the lock
        # less, so replies and heartbeats get it.  A command labgob cannot encode
        # raises here, before anything changes.
        encoded = labgob.encode(command)
        with self.mu:
            if self.state != LEADER or self.killed():
                return -1, self.current_term, False
            self.log.append(LogEntry(self.current_term, command), encoded)
            self.dprintf(dLog, "Start %r at %d", command, self.log.last_index())
            self.log_unsaved = True
            self.broadcast_append_entries(heartbeat=False)
            if len(self.peers) == 1:  # no reply will come to advance commitIndex
                self.advance_commit_index()
            return self.log.last_index(), self.current_term, True

    def broadcast_append_entries(self, heartbeat: bool) -> None:
        """If last log index >= nextIndex for a follower: send AppendEntries RPC
        with log entries starting at nextIndex.  A heartbeat goes to every peer
        (up to MAX_INFLIGHT at once); new entries go at once to a peer with
        nothing in flight, and otherwise ride on the reply's follow-up."""
        if heartbeat:
            self.heartbeat_due = time.monotonic() + HEARTBEAT_INTERVAL
            self.dprintf(dTimer, "heartbeat")
        for peer in range(len(self.peers)):
            if peer == self.me:
                continue
            if self.inflight[peer] == 0 or (heartbeat and self.inflight[peer] < MAX_INFLIGHT):
                self.send_append_entries_to(peer)
            else:
                self.resend[peer] = True

    def send_append_entries_to(self, peer: int) -> None:
        prev = self.next_index[peer] - 1
        args = AppendEntriesArgs(
            Term=self.current_term,
            LeaderId=self.me,
            PrevLogIndex=prev,
            PrevLogTerm=self.log[prev].Term,
            Entries=self.log.between(prev + 1, prev + MAX_ENTRIES),
            LeaderCommit=self.commit_index,
        )
        self.inflight[peer] += 1
        self.resend[peer] = False
        self.go(self.send_append_entries, peer, args)

    def send_append_entries(self, peer: int, args: AppendEntriesArgs) -> None:
        reply = AppendEntriesReply()
        ok = self.peers[peer].Call("Raft.AppendEntries", args, reply)
        with self.mu:
            self.inflight[peer] -= 1
            if ok:
                self.observe_term(reply.Term)
                if self.state == LEADER and self.current_term == args.Term:
                    self.heard_at[peer] = time.monotonic()
                    self.handle_append_entries_reply(peer, args, reply)
            else:
                self.dprintf(dDrop, "AppendEntries to S%d: no reply", peer)
            if self.state == LEADER and self.resend[peer] and not self.killed():
                self.send_append_entries_to(peer)

    def handle_append_entries_reply(
        self, peer: int, args: AppendEntriesArgs, reply: AppendEntriesReply
    ) -> None:
        """If successful: update nextIndex and matchIndex for follower (§5.3).
        If AppendEntries fails because of log inconsistency: decrement nextIndex
        and retry (§5.3), a whole term at a time."""
        if reply.Success:
            match = args.PrevLogIndex + len(args.Entries or [])
            self.next_index[peer] = max(self.next_index[peer], match + 1)
            if self.next_index[peer] <= self.log.last_index():
                self.resend[peer] = True  # more than one AppendEntries could carry
            if match > self.match_index[peer]:
                self.match_index[peer] = match
                self.dprintf(dLog, "S%d has up to %d", peer, match)
                self.advance_commit_index()
            return
        if reply.XTerm == -1:
            next_index = reply.XLen
        else:
            next_index = reply.XIndex
            for index in range(args.PrevLogIndex, 0, -1):
                if self.log[index].Term == reply.XTerm:
                    next_index = index + 1
                    break
                if self.log[index].Term < reply.XTerm:
                    break
        self.next_index[peer] = max(1, self.match_index[peer] + 1, min(next_index, len(self.log)))
        self.dprintf(dLog, "S%d rejected: nextIndex %d", peer, self.next_index[peer])
        self.resend[peer] = True

    def advance_commit_index(self) -> None:
        """If there exists an N such that N > commitIndex, a majority of
        matchIndex[i] >= N, and log[N].term == currentTerm: set commitIndex = N
        (§5.3, §5.4).

        The leader's own entries count only once on stable storage; Start
        leaves saving them to here, once per acknowledgement, not per command."""
        if self.log_unsaved:
            self.persist()
        self.match_index[self.me] = self.log.last_index()
        n = sorted(self.match_index)[(len(self.peers) - 1) // 2]
        if n > self.commit_index and self.log[n].Term == self.current_term:
            self.commit_index = n
            self.dprintf(dCommit, "commitIndex %d, matchIndex %s", n, self.match_index)
            self.apply_cond.notify()
            # Followers learn the new commitIndex now rather than at the next heartbeat.
            self.broadcast_append_entries(heartbeat=False)

    # -- Lifecycle -------------------------------------------------------------------

    def dprintf(self, topic: str, format: str, *args: Any) -> None:
        """One debug line about this peer (raft/debug.py: off unless RAFTLAB_DEBUG is set)."""
        DPrintf(topic, self.me, self.current_term, format, *args)

    def go(self, target: Callable[..., None], *args: Any) -> None:
        """Run target on a thread of its own, like Go's `go` statement."""
        name = f"raft-{self.me}-{target.__name__}"
        threading.Thread(target=target, args=args, name=name, daemon=True).start()

    def Kill(self) -> None:
        """Stop this peer: its ticker and applier end at once, and RPC threads
        end when their Call returns.  The tester calls this instead of letting
        a crashed peer's threads run on."""
        with self.mu:
            self.dead = True
            self.ticker_cond.notify_all()
            self.apply_cond.notify_all()
        current = threading.current_thread()
        for thread in self.threads:
            if thread is not current:
                thread.join()

    def killed(self) -> bool:
        return self.dead

    def inspect(self, with_log: bool = True) -> dict[str, Any]:
        """What the tester's safety checks and timeline read from a peer (optional
        for a student's Raft; see tests/harness/README.md): term, role, commitIndex,
        and unless with_log is False the log as (term, command) pairs from index 1."""
        with self.mu:
            state: dict[str, Any] = {
                "term": self.current_term,
                "role": self.state,
                "commit_index": self.commit_index,
            }
            if with_log:
                entries = self.log.between(1, self.log.last_index())
                state["log"] = [(e.Term, e.Command) for e in entries]
            return state


def Make(
    peers: list[ClientEnd], me: int, persister: Persister, applyCh: queue.Queue[ApplyMsg]
) -> Raft:
    """Create a Raft server.  peers[me] is this server; all peers' ends are in
    the same order.  Committed entries go to applyCh.  Make returns at once,
    having started the goroutines, er, threads, for long-running work."""
    rf = Raft(peers, me, persister, applyCh)
    rf.readPersist(persister.ReadRaftState())
    with rf.mu:
        rf.reset_election_timer()
    for work in (rf.ticker, rf.applier):
        thread = threading.Thread(target=work, name=f"raft-{me}-{work.__name__}", daemon=True)
        rf.threads.append(thread)
        thread.start()
    return rf
