"""A Raft peer: the API that Raft must expose to the service (or tester).

    rf = Make(peers, me, persister, applyCh)
        create a new Raft server.
    rf.Start(command) -> (index, term, is_leader)
        start agreement on a new log entry.
    rf.GetState() -> (term, is_leader)
        ask a Raft for its current term, and whether it thinks it is leader.
    ApplyMsg
        each time a new entry is committed to the log, each Raft peer
        should put an ApplyMsg on applyCh for the service (or tester)
        in the same server.

See the comments below for each of these for more details.
"""
# BEGIN SOLUTION

# The reference solution, laid out like Figure 2 of the extended Raft paper.
# The sections follow the figure's boxes in order: State, the AppendEntries RPC,
# the RequestVote RPC, then the Rules for Servers (all servers, followers,
# candidates, leaders); the two rules beyond the figure, check_quorum and
# commit_notice, are marked as such.  Figure 13's InstallSnapshot RPC (part 3D)
# follows AppendEntries, and the log (raft/log.py) keeps its lastIncludedIndex
# and lastIncludedTerm, so every index below is an absolute log index, as in the
# paper.  One lock, `mu`, guards every field of the State box and the
# bookkeeping next to it.  Threads: a ticker (elections, heartbeats and commit
# notices), an applier (the only writer to applyCh, and it never holds `mu`
# while it does), and one short-lived thread per RPC, so a slow or unreachable
# peer never stalls the others or the lock.
#
# `make handout` turns this file into the students' skeleton: each marked
# solution block gives way to the commented text of its skeleton part, if any
# (handout/markers.py).
# END SOLUTION

from __future__ import annotations

# BEGIN SOLUTION
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
from raft.debug import (
    DPrintf,
    dCommit,
    dDrop,
    dLeader,
    dLog,
    dPersist,
    dSnap,
    dTerm,
    dTimer,
    dVote,
)
from raft.log import Log, LogEntry
from raft.persister import Persister

# SKELETON
# import queue
# import random
# import threading
# import time
# from dataclasses import dataclass
# from typing import Any
#
# from labrpc import ClientEnd
# from raft.persister import Persister
#
# # For persist() and readPersist(), 3C:
# # import io
# # import labgob
# END SOLUTION

# BEGIN SOLUTION
HEARTBEAT_INTERVAL = 0.11  # seconds; the tester allows at most ten heartbeats a second
ELECTION_TIMEOUT = (0.3, 0.5)  # seconds, drawn afresh each time the timer is reset
# A leader that has heard from no majority for this long steps down (check_quorum).
QUORUM_TIMEOUT = 1.0  # seconds
# A new commitIndex waits this long for an AppendEntries to carry it (commit_notice).
COMMIT_NOTICE_DELAY = 0.02  # seconds
# RPCs in flight to one peer: enough to keep heartbeats going while long reordering
# holds replies back, few enough to bound the threads waiting on an unreachable peer.
MAX_INFLIGHT = 8
# Entries in one AppendEntries: big batches keep a busy leader's throughput up
# (`make bench`), the bound keeps each RPC's work well inside an election timeout.
MAX_ENTRIES = 3000

FOLLOWER, CANDIDATE, LEADER = "follower", "candidate", "leader"
# END SOLUTION


@dataclass
class ApplyMsg:
    """As each Raft peer becomes aware that successive log entries are committed,
    the peer should put an ApplyMsg on applyCh for the service (or tester) on the
    same server.  Set CommandValid to True to indicate that the ApplyMsg contains
    a newly committed log entry.

    In part 3D you'll want to send other kinds of messages (e.g. snapshots) on
    applyCh; set CommandValid to False for these other uses."""

    CommandValid: bool = False
    Command: Any = None
    CommandIndex: int = 0

    # For 3D:
    SnapshotValid: bool = False
    Snapshot: bytes = b""
    SnapshotTerm: int = 0
    SnapshotIndex: int = 0


# BEGIN SOLUTION
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
    XLen: int = 0  # length of the follower's log, counting the sentinel: its last index + 1


@dataclass
class InstallSnapshotArgs:
    # Figure 13, without chunks: the whole snapshot in one RPC (no offset, no done).
    Term: int = 0  # leader's term
    LeaderId: int = 0  # so follower can redirect clients
    LastIncludedIndex: int = 0  # the snapshot replaces all entries up through this index
    LastIncludedTerm: int = 0  # term of lastIncludedIndex
    Data: bytes = b""  # raw bytes of the snapshot


@dataclass
class InstallSnapshotReply:
    Term: int = 0  # currentTerm, for leader to update itself


# END SOLUTION
@dataclass
class RequestVoteArgs:
    """RequestVote RPC arguments.  Field names are capitalised, as in Go, and every
    field needs a default: labrpc builds replies with no arguments."""

    # BEGIN SOLUTION
    Term: int = 0  # candidate's term
    CandidateId: int = 0  # candidate requesting vote
    LastLogIndex: int = 0  # index of candidate's last log entry
    LastLogTerm: int = 0  # term of candidate's last log entry
    # SKELETON
    # # Your data here (3A, 3B).
    # END SOLUTION


@dataclass
class RequestVoteReply:
    """RequestVote RPC reply."""

    # BEGIN SOLUTION
    Term: int = 0  # currentTerm, for candidate to update itself
    VoteGranted: bool = False  # true means candidate received vote
    # SKELETON
    # # Your data here (3A).
    # END SOLUTION


# BEGIN SOLUTION
for _cls in (
    AppendEntriesArgs,
    AppendEntriesReply,
    InstallSnapshotArgs,
    InstallSnapshotReply,
    RequestVoteArgs,
    RequestVoteReply,
):
    labgob.Register(_cls)


# END SOLUTION
class Raft:
    """A single Raft peer."""

    # BEGIN SOLUTION
    # The fields that are safe without mu: fixed at creation (peers, persister, me,
    # applyCh), mu itself, dead (set by Kill(), read through killed()), and threads
    # (only Make and Kill use it).  Every other field is guarded by mu; the tester's
    # race mode (`make test-race`) reads this set and checks each access to the rest.
    UNGUARDED: ClassVar[frozenset[str]] = frozenset(
        {"peers", "persister", "me", "applyCh", "dead", "mu", "threads"}
    )

    # END SOLUTION
    def __init__(
        self, peers: list[ClientEnd], me: int, persister: Persister, applyCh: queue.Queue[ApplyMsg]
    ) -> None:
        self.mu = threading.Lock()  # lock to protect shared access to this peer's state
        self.peers = peers  # RPC end points of all peers
        self.persister = persister  # object to hold this peer's persisted state
        self.me = me  # this peer's index into peers
        self.dead = False  # set by Kill()

        # BEGIN SOLUTION
        self.applyCh = applyCh  # fixed at creation, like the fields above

        # Everything from here on is guarded by mu.

        # Persistent state on all servers (saved before responding to RPCs).
        self.current_term = 0  # latest term server has seen
        self.voted_for: int | None = None  # candidateId that received vote in current term
        self.log = Log()  # log entries; first index is 1, as in the paper
        # Figure 13: the log after a snapshot starts past log.snapshot_index
        # (lastIncludedIndex), and the snapshot is saved with the state above.
        self.snapshot = b""  # the service's latest snapshot, through log.snapshot_index

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
        self.commit_notice_due = 0.0  # when a leader tells its new commitIndex; 0: told
        self.inflight = [0] * len(peers)  # RPCs awaiting a reply, per peer
        self.resend = [False] * len(peers)  # new entries arrived while one was in flight
        self.log_unsaved = False  # Start appended entries that persist() has not saved yet
        self.rand = random.Random()
        self.ticker_cond = threading.Condition(self.mu)  # wakes the ticker
        self.apply_cond = threading.Condition(self.mu)  # wakes the applier
        self.threads: list[threading.Thread] = []
        # SKELETON
        # # Your data here (3A, 3B, 3C).
        # # Look at the paper's Figure 2 for a description of what
        # # state a Raft server must maintain.
        # END SOLUTION

    # BEGIN SOLUTION
    # -- State ----------------------------------------------------------------

    # END SOLUTION
    def GetState(self) -> tuple[int, bool]:
        """Return currentTerm and whether this server believes it is the leader."""
        # BEGIN SOLUTION
        with self.mu:
            return self.current_term, self.state == LEADER
        # SKELETON
        # term = 0
        # is_leader = False
        # # Your code here (3A).
        # return term, is_leader
        # END SOLUTION

    def persist(self) -> None:
        """Save Raft's persistent state to stable storage, where it can later be
        retrieved after a crash and restart.  See the paper's Figure 2 for what
        should be persistent.  Before you've implemented snapshots, pass None as
        the second argument to persister.Save(); after, pass the current snapshot
        (or None if there's not yet a snapshot)."""
        # BEGIN SOLUTION
        # currentTerm, votedFor and log[] (from lastIncludedIndex and lastIncludedTerm on),
        # with the snapshot that holds the entries before; called with mu held, after
        # every change to them.
        if self.killed():  # crashed (see Kill): it saves nothing, and its handlers do nothing
            return
        w = io.BytesIO()
        e = labgob.NewEncoder(w)
        e.Encode(self.current_term)
        e.Encode(self.voted_for)
        e.Encode(self.log.snapshot_index)
        e.Encode(self.log.snapshot_term)
        e.Encode(self.log.to_bytes())
        self.persister.Save(w.getvalue(), self.snapshot or None)
        self.log_unsaved = False
        self.dprintf(dPersist, "save votedFor=%s, last %d", self.voted_for, self.log.last_index())
        # SKELETON
        # # Your code here (3C).
        # # Example:
        # # w = io.BytesIO()
        # # e = labgob.NewEncoder(w)
        # # e.Encode(self.xxx)
        # # e.Encode(self.yyy)
        # # raftstate = w.getvalue()
        # # self.persister.Save(raftstate, None)
        # END SOLUTION

    def readPersist(self, data: bytes) -> None:
        """Restore previously persisted state."""
        if not data:  # bootstrap without any state?
            return
        # BEGIN SOLUTION
        try:
            d = labgob.NewDecoder(data)
            current_term, voted_for = d.Decode(), d.Decode()
            snapshot_index, snapshot_term, entries = d.Decode(), d.Decode(), d.Decode()
            if (
                type(current_term) is not int
                or not (voted_for is None or type(voted_for) is int)
                or type(snapshot_index) is not int
                or type(snapshot_term) is not int
                or type(entries) is not bytes
            ):
                raise ValueError(
                    f"expected (current_term: int, voted_for: int | None, "
                    f"last_included_index: int, last_included_term: int, log: bytes), got "
                    f"({type(current_term).__name__}, {type(voted_for).__name__}, "
                    f"{type(snapshot_index).__name__}, {type(snapshot_term).__name__}, "
                    f"{type(entries).__name__})"
                )
            log = Log.from_bytes(entries, snapshot_index, snapshot_term)
        except (labgob.LabgobError, EOFError, ValueError) as e:
            raise ValueError(f"raft {self.me}: persisted state is corrupt: {e}") from None
        self.current_term, self.voted_for, self.log = current_term, voted_for, log
        # The service restores its state from the snapshot itself (the tester does, in
        # start1); Raft carries on after it, and saves it again with its next state.
        self.snapshot = self.persister.ReadSnapshot()
        self.commit_index = self.last_applied = log.snapshot_index
        self.dprintf(
            dPersist, "restore votedFor=%s, snapshot through %d, last %d",
            voted_for, log.snapshot_index, log.last_index(),
        )  # fmt: skip
        # SKELETON
        # # Your code here (3C).
        # # Example:
        # # d = labgob.NewDecoder(data)
        # # try:
        # #     xxx = d.Decode()
        # #     yyy = d.Decode()
        # # except (labgob.LabgobError, EOFError) as e:
        # #     raise ValueError(f"raft {self.me}: persisted state is corrupt: {e}") from None
        # # self.xxx = xxx
        # # self.yyy = yyy
        # END SOLUTION

    def Snapshot(self, index: int, snapshot: bytes) -> None:
        """The service says it has created a snapshot that has all info up to and
        including index.  This means the service no longer needs the log through
        (and including) that index.  Raft should now trim its log as much as possible."""
        # BEGIN SOLUTION
        with self.mu:
            if index <= self.log.snapshot_index:
                return  # an older snapshot than the one Raft has (InstallSnapshot came first)
            if index > self.last_applied:
                raise ValueError(
                    f"raft {self.me}: Snapshot({index}, ...) names an entry not yet applied "
                    f"(applied through {self.last_applied}); a service snapshots only what "
                    "it has received on applyCh"
                )
            self.log.compact(index)
            self.snapshot = snapshot
            self.persist()
            self.dprintf(dSnap, "snapshot through %d", index)
        # SKELETON
        # # Your code here (3D).
        # END SOLUTION

    # BEGIN SOLUTION
    # -- AppendEntries RPC --------------------------------------------------------

    def AppendEntries(self, args: AppendEntriesArgs, reply: AppendEntriesReply) -> None:
        """Invoked by leader to replicate log entries (§5.3); also used as heartbeat (§5.2)."""
        with self.mu:
            if self.killed():
                return
            self.observe_term(args.Term)
            reply.Term = self.current_term
            # 1. Reply false if term < currentTerm (§5.1).
            if args.Term < self.current_term:
                self.dprintf(dLog, "reject S%d: stale T%d", args.LeaderId, args.Term)
                return
            # A current leader exists: a candidate steps down, and the timer restarts.
            self.state = FOLLOWER
            self.reset_election_timer()

            # Entries through lastIncludedIndex are committed and in the snapshot
            # (Figure 13); only those after it are compared and appended.
            prev, prev_term, entries = args.PrevLogIndex, args.PrevLogTerm, args.Entries or []
            if prev < self.log.snapshot_index:
                skip = min(self.log.snapshot_index - prev, len(entries))
                if skip:
                    prev, prev_term, entries = prev + skip, entries[skip - 1].Term, entries[skip:]

            # 2. Reply false if log doesn't contain an entry at prevLogIndex
            #    whose term matches prevLogTerm (§5.3).
            if prev > self.log.last_index():
                reply.XTerm, reply.XLen = -1, self.log.last_index() + 1
                self.dprintf(dLog, "reject S%d: no entry %d", args.LeaderId, prev)
                return
            if prev >= self.log.snapshot_index and self.log[prev].Term != prev_term:
                reply.XTerm = self.log[prev].Term
                reply.XIndex = prev
                while (
                    reply.XIndex - 1 > self.log.snapshot_index
                    and self.log[reply.XIndex - 1].Term == reply.XTerm
                ):
                    reply.XIndex -= 1
                self.dprintf(dLog, "reject S%d: conflict T%d", args.LeaderId, reply.XTerm)
                return

            # 3. If an existing entry conflicts with a new one (same index but
            #    different terms), delete the existing entry and all that follow it (§5.3).
            # 4. Append any new entries not already in the log.
            for i, entry in enumerate(entries):
                index = prev + 1 + i
                if index > self.log.last_index() or self.log[index].Term != entry.Term:
                    self.dprintf(dLog, "cut at %d, append %d entries", index, len(entries) - i)
                    self.log.truncate(index)
                    self.log.extend(entries[i:])
                    self.persist()
                    break

            # 5. If leaderCommit > commitIndex, set commitIndex =
            #    min(leaderCommit, index of last new entry).
            last_new = prev + len(entries)
            if args.LeaderCommit > self.commit_index and last_new > self.commit_index:
                self.commit_index = min(args.LeaderCommit, last_new)
                self.dprintf(dCommit, "commitIndex %d", self.commit_index)
                self.apply_cond.notify()
            if self.log_unsaved:  # a former leader's own entries: save before acknowledging them
                self.persist()
            reply.Success = True

    # -- InstallSnapshot RPC (Figure 13) -------------------------------------------

    def InstallSnapshot(self, args: InstallSnapshotArgs, reply: InstallSnapshotReply) -> None:
        """Invoked by leader to send a snapshot to a follower that lags behind the
        start of the leader's log (§7), in one piece: the lab leaves out chunks."""
        with self.mu:
            if self.killed():
                return
            self.observe_term(args.Term)
            reply.Term = self.current_term
            # 1. Reply immediately if term < currentTerm.
            if args.Term < self.current_term:
                self.dprintf(dSnap, "reject S%d: stale T%d", args.LeaderId, args.Term)
                return
            self.state = FOLLOWER
            self.reset_election_timer()
            if args.LastIncludedIndex <= self.commit_index:
                # Committed here already: the service has, or will be sent, these entries.
                return
            # 6. If existing log entry has same index and term as snapshot's last
            #    included entry, retain log entries following it.
            if (
                args.LastIncludedIndex <= self.log.last_index()
                and self.log[args.LastIncludedIndex].Term == args.LastIncludedTerm
            ):
                self.log.compact(args.LastIncludedIndex)
            else:
                # 7. Discard the entire log.
                self.log = Log(
                    snapshot_index=args.LastIncludedIndex, snapshot_term=args.LastIncludedTerm
                )
            self.snapshot = args.Data
            self.persist()
            # 8. Reset state machine using snapshot contents: the applier sends the
            #    snapshot on applyCh, after what it has sent and before what follows.
            self.commit_index = args.LastIncludedIndex
            self.apply_cond.notify()
            self.dprintf(
                dSnap, "install S%d's snapshot through %d", args.LeaderId, args.LastIncludedIndex
            )

    # -- RequestVote RPC ----------------------------------------------------------

    # END SOLUTION
    def RequestVote(self, args: RequestVoteArgs, reply: RequestVoteReply) -> None:
        """RequestVote RPC handler: invoked by candidates to gather votes (§5.2)."""
        # BEGIN SOLUTION
        with self.mu:
            if self.killed():
                return
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
        # SKELETON
        # # Your code here (3A, 3B).
        # END SOLUTION

    def sendRequestVote(self, server: int, args: RequestVoteArgs, reply: RequestVoteReply) -> bool:
        """Send a RequestVote RPC to a server.  server is the index of the target
        server in self.peers.  Expects RPC arguments in args; fills in reply with
        the RPC reply.  The types of args and reply passed to Call() must be the
        types annotated on the handler's parameters.

        The labrpc package simulates a lossy network, in which servers may be
        unreachable, and in which requests and replies may be lost.  Call() sends
        a request and waits for a reply.  If a reply arrives within a timeout
        interval, Call() returns True; otherwise Call() returns False.  Thus Call()
        may not return for a while.  A False return can be caused by a dead server,
        a live server that can't be reached, a lost request, or a lost reply.

        Call() is guaranteed to return (perhaps after a delay) *except* if the
        handler function on the server side does not return.  Thus there is no
        need to implement your own timeouts around Call().  Never hold self.mu
        while calling it: the handler on the other side may be waiting for its own
        lock, or for yours.

        Look at the comments in labrpc/network.py for more details.  If you're
        having trouble getting RPC to work, check that your handler's parameters
        are annotated with the args and reply classes, and that every field of
        those classes has a default."""
        return self.peers[server].Call("Raft.RequestVote", args, reply)

    # BEGIN SOLUTION
    # -- Rules for Servers: all servers -------------------------------------------

    def observe_term(self, term: int) -> None:
        """If an RPC request or response contains term T > currentTerm:
        set currentTerm = T, convert to follower (§5.1).  Called with mu held."""
        if term > self.current_term:
            self.dprintf(dTerm, "see T%d: follower", term)
            self.current_term = term
            self.voted_for = None
            self.state = FOLLOWER
            self.persist()

    def applier(self) -> None:
        """If commitIndex > lastApplied: increment lastApplied, apply
        log[lastApplied] to state machine (§5.3).  A snapshot from the leader
        (InstallSnapshot) takes the place of the entries it holds."""
        while True:
            snapshot: ApplyMsg | None = None
            entries: list[LogEntry] = []
            with self.mu:
                while self.last_applied >= self.commit_index and not self.killed():
                    self.apply_cond.wait()
                if self.killed():
                    return
                first = self.last_applied + 1
                if self.last_applied < self.log.snapshot_index:
                    snapshot = ApplyMsg(
                        SnapshotValid=True,
                        Snapshot=self.snapshot,
                        SnapshotTerm=self.log.snapshot_term,
                        SnapshotIndex=self.log.snapshot_index,
                    )
                    self.last_applied = self.log.snapshot_index
                    self.dprintf(dSnap, "apply snapshot through %d", self.last_applied)
                else:
                    entries = self.log.between(first, self.commit_index)
                    self.last_applied = self.commit_index
                    self.dprintf(dCommit, "apply %d..%d", first, self.last_applied)
            if snapshot is not None:
                self.applyCh.put(snapshot)
            for index, entry in enumerate(entries, start=first):
                self.applyCh.put(
                    ApplyMsg(CommandValid=True, Command=entry.Command, CommandIndex=index)
                )

    # -- Rules for Servers: followers and candidates ---------------------------------

    def reset_election_timer(self) -> None:
        """Called with mu held."""
        self.election_deadline = time.monotonic() + self.rand.uniform(*ELECTION_TIMEOUT)

    # END SOLUTION
    def ticker(self) -> None:
        # BEGIN SOLUTION
        """Followers: if the election timeout elapses without hearing from the
        current leader or granting a vote, convert to candidate.  Candidates: if it
        elapses again, start a new election.  Leaders: send heartbeats on time."""
        with self.mu:
            while not self.killed():
                now = time.monotonic()
                if self.state == LEADER:
                    if now >= self.heartbeat_due and self.check_quorum(now):
                        self.broadcast_append_entries(heartbeat=True)
                    elif self.commit_notice_due and now >= self.commit_notice_due:
                        self.broadcast_append_entries(heartbeat=False)
                    due = self.heartbeat_due
                    if self.commit_notice_due:
                        due = min(due, self.commit_notice_due)
                    self.ticker_cond.wait(max(0.0, due - now))
                else:
                    if now >= self.election_deadline:
                        self.start_election()
                    self.ticker_cond.wait(self.election_deadline - time.monotonic())
        # SKELETON
        # """Start an election when this peer hasn't heard from a leader for a while."""
        # while not self.killed():
        #     # Your code here (3A)
        #     # Check if a leader election should be started.
        #
        #     # Pause for a random amount of time between 50 and 350
        #     # milliseconds.
        #     ms = 50 + random.randrange(300)
        #     time.sleep(ms / 1000)
        # END SOLUTION

    # BEGIN SOLUTION
    def start_election(self) -> None:
        """On conversion to candidate: increment currentTerm, vote for self,
        reset election timer, send RequestVote RPCs to all other servers.
        Called with mu held."""
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
                self.go(self.request_vote_rpc, peer, args)

    def request_vote_rpc(self, peer: int, args: RequestVoteArgs) -> None:
        """One RequestVote round trip, on a thread of its own; counts the vote."""
        reply = RequestVoteReply()
        ok = self.sendRequestVote(peer, args, reply)
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
        each server; repeat during idle periods to prevent election timeouts (§5.2).
        Called with mu held."""
        self.state = LEADER
        self.dprintf(dLeader, "leader, log to %d", self.log.last_index())
        self.next_index = [self.log.last_index() + 1] * len(self.peers)
        self.match_index = [0] * len(self.peers)
        self.match_index[self.me] = self.log.last_index()
        self.heard_at = [time.monotonic()] * len(self.peers)
        self.broadcast_append_entries(heartbeat=True)
        self.ticker_cond.notify()  # it may be asleep until the election deadline

    def check_quorum(self, now: float) -> bool:
        """Beyond Figure 2 (Ongaro's dissertation, §6.2): a leader that has heard
        from no majority within QUORUM_TIMEOUT steps down.  A partitioned leader
        otherwise goes on accepting commands it can never commit, and clients
        wait on it.  Returns whether this server is still the leader.  Called
        with mu held."""
        recent = [now - at < QUORUM_TIMEOUT for at in self.heard_at]
        recent[self.me] = True
        if sum(recent) > len(self.peers) // 2:
            return True
        self.dprintf(dLeader, "no majority heard from in %.1fs: step down", QUORUM_TIMEOUT)
        self.state = FOLLOWER
        self.reset_election_timer()
        return False

    # END SOLUTION
    def Start(self, command: Any) -> tuple[int, int, bool]:
        """The service using Raft (e.g. a k/v server) wants to start agreement on
        the next command to be appended to Raft's log.  If this server isn't the
        leader, returns False.  Otherwise start the agreement and return
        immediately.  There is no guarantee that this command will ever be
        committed to the Raft log, since the leader may fail or lose an election.
        Even if the Raft instance has been killed, this function should return
        gracefully.

        The first return value is the index that the command will appear at if
        it's ever committed.  The second return value is the current term.  The
        third return value is True if this server believes it is the leader."""
        # BEGIN SOLUTION
        # If command received from client: append entry to local log, respond
        # after entry applied to state machine (§5.3).
        #
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
        # SKELETON
        # index = -1
        # term = -1
        # is_leader = True
        #
        # # Your code here (3B).
        #
        # return index, term, is_leader
        # END SOLUTION

    # BEGIN SOLUTION
    def broadcast_append_entries(self, heartbeat: bool) -> None:
        """If last log index >= nextIndex for a follower: send AppendEntries RPC
        with log entries starting at nextIndex.  A heartbeat goes to every peer
        (up to MAX_INFLIGHT at once); new entries go at once to a peer with
        nothing in flight, and otherwise ride on the reply's follow-up.
        Called with mu held."""
        if heartbeat:
            self.heartbeat_due = time.monotonic() + HEARTBEAT_INTERVAL
            self.dprintf(dTimer, "heartbeat")
        self.commit_notice_due = 0.0  # each AppendEntries carries leaderCommit
        for peer in range(len(self.peers)):
            if peer == self.me:
                continue
            if self.inflight[peer] == 0 or (heartbeat and self.inflight[peer] < MAX_INFLIGHT):
                self.start_append_entries(peer)
            else:
                self.resend[peer] = True

    def start_append_entries(self, peer: int) -> None:
        """Build an AppendEntries for peer from nextIndex on and send it on a
        thread of its own; if the entry before nextIndex is in the snapshot
        already, send the snapshot instead.  Called with mu held."""
        prev = self.next_index[peer] - 1
        if prev < self.log.snapshot_index:
            self.start_install_snapshot(peer)
            return
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
        self.go(self.append_entries_rpc, peer, args)

    def append_entries_rpc(self, peer: int, args: AppendEntriesArgs) -> None:
        """One AppendEntries round trip, on a thread of its own; handles the reply."""
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
                self.start_append_entries(peer)

    def handle_append_entries_reply(
        self, peer: int, args: AppendEntriesArgs, reply: AppendEntriesReply
    ) -> None:
        """If successful: update nextIndex and matchIndex for follower (§5.3).
        If AppendEntries fails because of log inconsistency: decrement nextIndex
        and retry (§5.3), a whole term at a time.  Called with mu held."""
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
            for index in range(args.PrevLogIndex, self.log.snapshot_index, -1):
                if self.log[index].Term == reply.XTerm:
                    next_index = index + 1
                    break
                if self.log[index].Term < reply.XTerm:
                    break
        self.next_index[peer] = max(
            1, self.match_index[peer] + 1, min(next_index, self.log.last_index() + 1)
        )
        self.dprintf(dLog, "S%d rejected: nextIndex %d", peer, self.next_index[peer])
        self.resend[peer] = True

    def start_install_snapshot(self, peer: int) -> None:
        """Send peer the snapshot, for the entries it lacks that the log no longer
        holds (Figure 13), on a thread of its own.  Called with mu held."""
        args = InstallSnapshotArgs(
            Term=self.current_term,
            LeaderId=self.me,
            LastIncludedIndex=self.log.snapshot_index,
            LastIncludedTerm=self.log.snapshot_term,
            Data=self.snapshot,
        )
        self.inflight[peer] += 1
        self.resend[peer] = False
        self.dprintf(dSnap, "send S%d the snapshot through %d", peer, args.LastIncludedIndex)
        self.go(self.install_snapshot_rpc, peer, args)

    def install_snapshot_rpc(self, peer: int, args: InstallSnapshotArgs) -> None:
        """One InstallSnapshot round trip, on a thread of its own; handles the reply:
        the follower now has every entry through the snapshot's last one."""
        reply = InstallSnapshotReply()
        ok = self.peers[peer].Call("Raft.InstallSnapshot", args, reply)
        with self.mu:
            self.inflight[peer] -= 1
            if ok:
                self.observe_term(reply.Term)
                if self.state == LEADER and self.current_term == args.Term:
                    self.heard_at[peer] = time.monotonic()
                    self.match_index[peer] = max(self.match_index[peer], args.LastIncludedIndex)
                    self.next_index[peer] = max(self.next_index[peer], args.LastIncludedIndex + 1)
                    if self.next_index[peer] <= self.log.last_index():
                        self.resend[peer] = True
            else:
                self.dprintf(dDrop, "InstallSnapshot to S%d: no reply", peer)
            if self.state == LEADER and self.resend[peer] and not self.killed():
                self.start_append_entries(peer)

    def advance_commit_index(self) -> None:
        """If there exists an N such that N > commitIndex, a majority of
        matchIndex[i] >= N, and log[N].term == currentTerm: set commitIndex = N
        (§5.3, §5.4).  Called with mu held.

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
            self.commit_notice()

    def commit_notice(self) -> None:
        """Beyond Figure 2: followers learn a new commitIndex within
        COMMIT_NOTICE_DELAY rather than at the next heartbeat, so that they apply
        it soon.  Told at once, each entry of a leader whose commands come a few
        ms apart would cost a second AppendEntries per follower; within the delay
        the next command's AppendEntries carries it instead (the ticker sends it
        otherwise).  Called with mu held."""
        if not self.commit_notice_due:
            self.commit_notice_due = time.monotonic() + COMMIT_NOTICE_DELAY
            self.ticker_cond.notify()

    # -- Lifecycle -------------------------------------------------------------------

    def dprintf(self, topic: str, format: str, *args: Any) -> None:
        """One debug line about this peer (raft/debug.py: off unless RAFTLAB_DEBUG is set)."""
        DPrintf(topic, self.me, self.current_term, format, *args)

    def go(self, target: Callable[..., None], *args: Any) -> None:
        """Run target on a thread of its own, like Go's `go` statement."""
        name = f"raft-{self.me}-{target.__name__}"
        threading.Thread(target=target, args=args, name=name, daemon=True).start()

    # END SOLUTION
    def Kill(self) -> None:
        """The tester calls Kill() when it shuts a peer down (a crash, or the end
        of a test).  Kill() must make every thread this peer started return: the
        ticker and any loop of your own should check killed() and stop.  The
        tester fails a test that leaves a thread running a few seconds after it
        ends.  Use killed() in long-running loops, so a dead Raft instance does
        not print confusing messages or use CPU time.

        A killed peer must behave as a crashed one: once killed(), its RPC
        handlers and persist() do nothing (a handler returns leaving the reply
        as it came).  raftlab's tester cuts a killed peer off the network, but
        another harness may go on delivering RPCs to it, and a dead peer that
        still votes, acknowledges entries or saves state breaks Raft's safety."""
        # BEGIN SOLUTION
        # The ticker and the applier end at once; RPC threads end when their Call returns.
        with self.mu:
            self.dead = True
            self.ticker_cond.notify_all()
            self.apply_cond.notify_all()
        current = threading.current_thread()
        for thread in self.threads:
            if thread is not current:
                thread.join()
        # SKELETON
        # self.dead = True
        # # Your code here, if desired.
        # END SOLUTION

    def killed(self) -> bool:
        """Set once, by Kill(); a bool is read and written whole, so no lock is needed."""
        return self.dead
    # BEGIN SOLUTION

    def inspect(self, with_log: bool = True) -> dict[str, Any]:
        """What the tester's safety checks and timeline read from a peer (optional
        for a student's Raft; see tests/harness/README.md): term, role, commitIndex,
        and unless with_log is False the log as (term, command) pairs from
        log_start, the index after the snapshot's last entry (1 without one)."""
        with self.mu:
            state: dict[str, Any] = {
                "term": self.current_term,
                "role": self.state,
                "commit_index": self.commit_index,
            }
            if with_log:
                start = self.log.snapshot_index + 1
                entries = self.log.between(start, self.log.last_index())
                state["log"] = [(e.Term, e.Command) for e in entries]
                state["log_start"] = start
            return state
    # END SOLUTION


def Make(
    peers: list[ClientEnd], me: int, persister: Persister, applyCh: queue.Queue[ApplyMsg]
) -> Raft:
    """The service or tester wants to create a Raft server.  The ports of all the
    Raft servers (including this one) are in peers; this server's port is
    peers[me].  All the servers' peers lists have the same order.  persister is a
    place for this server to save its persistent state, and also initially holds
    the most recent saved state, if any.  applyCh is a queue on which the tester
    or service expects Raft to put ApplyMsg messages.  Make() must return
    quickly, so it should start threads for any long-running work."""
    rf = Raft(peers, me, persister, applyCh)

    # BEGIN SOLUTION
    rf.readPersist(persister.ReadRaftState())
    with rf.mu:
        rf.reset_election_timer()
    for work in (rf.ticker, rf.applier):
        thread = threading.Thread(target=work, name=f"raft-{me}-{work.__name__}", daemon=True)
        rf.threads.append(thread)
        thread.start()
    # SKELETON
    # # Your initialization code here (3A, 3B, 3C).
    #
    # # initialize from state persisted before a crash
    # rf.readPersist(persister.ReadRaftState())
    #
    # # start ticker thread to start elections
    # threading.Thread(target=rf.ticker, name=f"raft-{me}-ticker", daemon=True).start()
    #
    # END SOLUTION
    return rf
