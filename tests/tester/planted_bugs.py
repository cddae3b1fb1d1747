"""Classic Raft bugs, each planted in a copy of the reference Raft.

The tester's worth is the bugs it catches.  Each bug here is the mistake a
student actually writes, planted as exact text replacements in the reference as
one file (handout/reference.py's single_file(): raft/raft.py with raft/log.py
pasted in).  `make test-bugs` (tools/bugs.py) runs the whole lab suite against
each one and reports which test killed it, how fast, or that it survived.

A replacement's old text must occur exactly once in the reference.  When the
reference changes under it, plant() fails with the bug's name: update that
bug's anchor (its old text) to the new reference, keeping the planted mistake.
"""

from __future__ import annotations

from dataclasses import dataclass

from handout.reference import single_file

# The classes of classic bug issue 14 names; every class has at least one bug.
CLASSES = {
    "figure8": "the Figure 8 commit of an earlier term's entry",
    "up_to_date": "a vote granted without the up-to-date check",
    "vote_twice": "a vote granted twice in a term",
    "not_persisted": "votedFor, currentTerm or the log not persisted",
    "reply_before_persist": "replying before persisting",
    "truncate_matching": "a follower truncating entries that match",
    "commit_past_last_new": "commitIndex set beyond the last new entry",
    "order": "commit or apply out of order",
    "stale_reply": "stale replies acted on",
    "no_step_down": "no step-down on a higher term",
    "timeout_not_random": "election timeouts without randomization",
    "heartbeats_frequent": "heartbeats too frequent",
    "other": "other classic mistakes",
}


class AnchorError(RuntimeError):
    """A bug's old text is not in the reference exactly once."""


@dataclass(frozen=True)
class Bug:
    name: str  # short, snake_case
    description: str  # the classic mistake, in one line
    covers: str  # a key of CLASSES
    replacements: tuple[tuple[str, str], ...]  # (old, new), applied in order


def plant(bug: Bug, source: str | None = None) -> str:
    """The reference (or source) with bug planted; AnchorError if an anchor moved."""
    text = single_file() if source is None else source
    for number, (old, new) in enumerate(bug.replacements, start=1):
        count = text.count(old)
        if count != 1:
            first = old.strip().splitlines()[0] if old.strip() else repr(old)
            raise AnchorError(
                f"planted bug {bug.name!r}: replacement {number}'s old text occurs {count} "
                f"times in the reference, not once (it starts {first!r}); the reference "
                "changed: update this bug's anchor in tests/tester/planted_bugs.py"
            )
        text = text.replace(old, new)
    return text


def by_name(names: list[str]) -> list[Bug]:
    """The bugs named, in the order given; ValueError naming any unknown name."""
    known = {bug.name: bug for bug in BUGS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"no planted bug named {', '.join(unknown)}; the bugs are: {', '.join(known)}"
        )
    return [known[name] for name in names]


# The unplanted reference, run like a bug: a kill here is the harness's fault.
REFERENCE = Bug("reference", "the reference Raft, unchanged (a control)", "other", ())

# Anchors are exact text of raft/raft.py and raft/log.py, indentation included.
BUGS: tuple[Bug, ...] = (
    Bug(
        "figure8_commit_old_term",
        "the leader commits an entry of an earlier term once a majority holds it (Figure 8)",
        "figure8",
        (
            (
                "if n > self.commit_index and self.log[n].Term == self.current_term:",
                "if n > self.commit_index:",
            ),
        ),
    ),
    Bug(
        "vote_without_up_to_date_check",
        "a vote is granted to any candidate, however short or old its log",
        "up_to_date",
        (
            (
                "if self.voted_for in (None, args.CandidateId) and up_to_date:",
                "if self.voted_for in (None, args.CandidateId):",
            ),
        ),
    ),
    Bug(
        "vote_granted_twice",
        "a vote is granted without looking at votedFor, so twice in one term",
        "vote_twice",
        (
            (
                "if self.voted_for in (None, args.CandidateId) and up_to_date:",
                "if up_to_date:",
            ),
        ),
    ),
    Bug(
        "votedfor_not_persisted",
        "persist() leaves votedFor out: a restarted peer votes again in the same term",
        "not_persisted",
        (
            ("        e.Encode(self.voted_for)\n", ""),
            (
                "current_term, voted_for = d.Decode(), d.Decode()",
                "current_term, voted_for = d.Decode(), None",
            ),
        ),
    ),
    Bug(
        "currentterm_not_persisted",
        "persist() leaves currentTerm out: a restarted peer starts again from term 0",
        "not_persisted",
        (
            ("        e.Encode(self.current_term)\n", ""),
            (
                "current_term, voted_for = d.Decode(), d.Decode()",
                "current_term, voted_for = 0, d.Decode()",
            ),
        ),
    ),
    Bug(
        "log_not_persisted",
        "persist() saves currentTerm and votedFor but not the log",
        "not_persisted",
        (
            ("        e.Encode(self.log.to_bytes())\n", ""),
            (
                "snapshot_index, snapshot_term, entries = d.Decode(), d.Decode(), d.Decode()",
                'snapshot_index, snapshot_term, entries = d.Decode(), d.Decode(), b""',
            ),
        ),
    ),
    Bug(
        "append_reply_before_persist",
        "AppendEntries acknowledges new entries and leaves saving them to the ticker's next tick",
        "reply_before_persist",
        (
            (
                "                    self.log.extend(entries[i:])\n"
                "                    self.persist()\n",
                "                    self.log.extend(entries[i:])\n"
                "                    self.log_unsaved = True  # the ticker saves it\n",
            ),
            (
                "            if self.log_unsaved:  # a former leader's own entries: save before"
                " acknowledging them\n"
                "                self.persist()\n",
                "",
            ),
            (
                "                now = time.monotonic()\n"
                "                if self.state == LEADER:\n",
                "                now = time.monotonic()\n"
                "                if self.log_unsaved:\n"
                "                    self.persist()\n"
                "                if self.state == LEADER:\n",
            ),
        ),
    ),
    Bug(
        "vote_reply_before_persist",
        "RequestVote grants the vote and saves votedFor on a thread started as it replies",
        "reply_before_persist",
        (
            (
                "                self.voted_for = args.CandidateId\n"
                "                self.persist()\n",
                "                self.voted_for = args.CandidateId\n"
                "                self.go(self.save_state)  # off the RPC's path\n",
            ),
            (
                "    def observe_term(self, term: int) -> None:\n",
                "    def save_state(self) -> None:\n"
                "        with self.mu:\n"
                "            self.persist()\n"
                "\n"
                "    def observe_term(self, term: int) -> None:\n",
            ),
        ),
    ),
    Bug(
        "truncate_matching_entries",
        "a follower cuts its log after prevLogIndex on every AppendEntries with entries, "
        "even when they match",
        "truncate_matching",
        (
            (
                "            for i, entry in enumerate(entries):\n"
                "                index = prev + 1 + i\n"
                "                if index > self.log.last_index() or"
                " self.log[index].Term != entry.Term:\n"
                '                    self.dprintf(dLog, "cut at %d, append %d entries",'
                " index, len(entries) - i)\n"
                "                    self.log.truncate(index)\n"
                "                    self.log.extend(entries[i:])\n"
                "                    self.persist()\n"
                "                    break\n",
                "            if entries:\n"
                "                self.log.truncate(prev + 1)\n"
                "                self.log.extend(entries)\n"
                "                self.persist()\n",
            ),
        ),
    ),
    Bug(
        "commit_index_past_last_new_entry",
        "a follower sets commitIndex = min(leaderCommit, its last log index) on every "
        "AppendEntries of the current term, before the consistency check: past the last "
        "entry known to match the leader's",
        "commit_past_last_new",
        (
            (
                "            # A current leader exists: a candidate steps down, and the timer"
                " restarts.\n"
                "            self.state = FOLLOWER\n"
                "            self.reset_election_timer()\n",
                "            # A current leader exists: a candidate steps down, and the timer"
                " restarts.\n"
                "            self.state = FOLLOWER\n"
                "            self.reset_election_timer()\n"
                "            if args.LeaderCommit > self.commit_index:\n"
                "                self.commit_index = min(args.LeaderCommit,"
                " self.log.last_index())\n"
                "                self.apply_cond.notify()\n",
            ),
        ),
    ),
    Bug(
        "apply_from_handler_threads",
        "a follower applies newly committed entries on a thread per AppendEntries, "
        "so two such threads can send out of order",
        "order",
        (
            (
                '                self.dprintf(dCommit, "commitIndex %d", self.commit_index)\n'
                "                self.apply_cond.notify()\n",
                '                self.dprintf(dCommit, "commitIndex %d", self.commit_index)\n'
                "                self.go(self.apply_committed)\n",
            ),
            (
                "    def applier(self) -> None:\n",
                "    def apply_committed(self) -> None:\n"
                "        with self.mu:\n"
                "            if self.last_applied < self.log.snapshot_index:\n"
                "                self.apply_cond.notify()  # the applier sends snapshots\n"
                "                return\n"
                "            first = self.last_applied + 1\n"
                "            entries = self.log.between(first, self.commit_index)\n"
                "            self.last_applied = first + len(entries) - 1\n"
                "        for index, entry in enumerate(entries, start=first):\n"
                "            self.applyCh.put(\n"
                "                ApplyMsg(CommandValid=True, Command=entry.Command,"
                " CommandIndex=index)\n"
                "            )\n"
                "\n"
                "    def applier(self) -> None:\n",
            ),
        ),
    ),
    Bug(
        "match_index_from_log_length",
        "on a successful AppendEntries reply the leader sets matchIndex from its log's "
        "length now, not from what the request carried",
        "stale_reply",
        (
            (
                "match = args.PrevLogIndex + len(args.Entries or [])",
                "match = self.log.last_index()",
            ),
        ),
    ),
    Bug(
        "stale_append_reply_term",
        "the leader acts on an AppendEntries reply without checking that the request's "
        "term is still its current term",
        "stale_reply",
        (
            (
                "                if self.state == LEADER and self.current_term == args.Term:\n"
                "                    self.heard_at[peer] = time.monotonic()\n"
                "                    self.handle_append_entries_reply(peer, args, reply)\n",
                "                if self.state == LEADER:\n"
                "                    self.heard_at[peer] = time.monotonic()\n"
                "                    self.handle_append_entries_reply(peer, args, reply)\n",
            ),
        ),
    ),
    Bug(
        "stale_vote_counted",
        "a candidate counts a vote granted in an earlier term's election",
        "stale_reply",
        (
            (
                "if self.state != CANDIDATE or self.current_term != args.Term"
                " or not reply.VoteGranted:",
                "if self.state != CANDIDATE or not reply.VoteGranted:",
            ),
        ),
    ),
    Bug(
        "no_step_down_on_higher_term",
        "on seeing a higher term a peer adopts it but stays leader or candidate",
        "no_step_down",
        (
            (
                "            self.voted_for = None\n"
                "            self.state = FOLLOWER\n"
                "            self.persist()\n",
                "            self.voted_for = None\n"
                "            self.persist()\n",
            ),
        ),
    ),
    Bug(
        "election_timeout_not_randomized",
        "every peer waits the same election timeout, so split votes repeat",
        "timeout_not_random",
        (
            (
                "self.election_deadline = time.monotonic() + self.rand.uniform(*ELECTION_TIMEOUT)",
                "self.election_deadline = time.monotonic() + ELECTION_TIMEOUT[0]",
            ),
        ),
    ),
    Bug(
        "heartbeats_too_frequent",
        "the leader sends heartbeats every 50 ms, twice the lab's limit of ten a second",
        "heartbeats_frequent",
        (
            (
                "HEARTBEAT_INTERVAL = 0.11  #",
                "HEARTBEAT_INTERVAL = 0.05  #",
            ),
        ),
    ),
    Bug(
        "no_prev_log_term_check",
        "AppendEntries checks that the log reaches prevLogIndex but not prevLogTerm",
        "other",
        (
            (
                "            if prev >= self.log.snapshot_index and self.log[prev].Term"
                " != prev_term:\n"
                "                reply.XTerm = self.log[prev].Term\n"
                "                reply.XIndex = prev\n"
                "                while (\n"
                "                    reply.XIndex - 1 > self.log.snapshot_index\n"
                "                    and self.log[reply.XIndex - 1].Term == reply.XTerm\n"
                "                ):\n"
                "                    reply.XIndex -= 1\n"
                '                self.dprintf(dLog, "reject S%d: conflict T%d",'
                " args.LeaderId, reply.XTerm)\n"
                "                return\n",
                "",
            ),
        ),
    ),
    Bug(
        "append_entries_from_stale_term",
        "AppendEntries never rejects a request from an earlier term's leader",
        "other",
        (
            (
                "            if args.Term < self.current_term:\n"
                '                self.dprintf(dLog, "reject S%d: stale T%d",'
                " args.LeaderId, args.Term)\n"
                "                return\n",
                "",
            ),
        ),
    ),
    Bug(
        "match_index_not_reset_after_election",
        "a new leader keeps matchIndex from its previous time as leader",
        "other",
        (
            (
                "        self.match_index = [0] * len(self.peers)\n"
                "        self.match_index[self.me] = self.log.last_index()\n",
                "        self.match_index[self.me] = self.log.last_index()\n",
            ),
        ),
    ),
    Bug(
        "install_snapshot_drops_following_entries",
        "InstallSnapshot installs every snapshot it is sent, even one older than what the "
        "follower has committed, and discards the whole log, entries after it included",
        "other",
        (
            (
                "            if args.LastIncludedIndex <= self.commit_index:\n"
                "                # Committed here already: the service has, or will be sent,"
                " these entries.\n"
                "                return\n"
                "            # 6. If existing log entry has same index and term as snapshot's"
                " last\n"
                "            #    included entry, retain log entries following it.\n"
                "            if (\n"
                "                args.LastIncludedIndex <= self.log.last_index()\n"
                "                and self.log[args.LastIncludedIndex].Term"
                " == args.LastIncludedTerm\n"
                "            ):\n"
                "                self.log.compact(args.LastIncludedIndex)\n"
                "            else:\n"
                "                # 7. Discard the entire log.\n"
                "                self.log = Log(\n"
                "                    snapshot_index=args.LastIncludedIndex,"
                " snapshot_term=args.LastIncludedTerm\n"
                "                )\n",
                "            self.log = Log(\n"
                "                snapshot_index=args.LastIncludedIndex,"
                " snapshot_term=args.LastIncludedTerm\n"
                "            )\n",
            ),
        ),
    ),
    Bug(
        "timer_reset_on_denied_vote",
        "a peer restarts its election timer on every RequestVote, even one it denies",
        "other",
        (
            (
                "            # 2. If votedFor is null or candidateId, and candidate's log is at\n",
                "            self.reset_election_timer()\n"
                "            # 2. If votedFor is null or candidateId, and candidate's log is at\n",
            ),
        ),
    ),
)
