"""The Raft paper's Figure 3 safety properties, checked while every test runs.

    Election Safety       at most one leader per term: from every GetState()
                          and Start() answer the tester gets, and from the
                          peers' own reports (inspect()).
    Leader Append-Only    a leader's log, sampled while it leads, only grows.
    Log Matching          two logs with an entry of the same index and term
                          are identical up to it (from sampled logs).
    Leader Completeness   a leader elected after the tester saw an entry
                          committed has that entry in its log.
    State Machine Safety  no two peers apply different commands at one index,
                          and each peer applies indexes in order with no gaps
                          (config.py's appliers, as in Go's tester); a peer's
                          log agrees with what was applied up to its
                          commitIndex.

Safety is an Observer (harness/observe.py): it sees what the tester's peer
handles (cfg.rafts[i]) get back, what the appliers apply, and the answers of
its own sampler (Peer.inspect_log: sealed, each host samples its peer and sends
what changed). The checks that read a peer's log, role and commitIndex need
the optional inspect() hook (tests/harness/README.md); a Raft without it is
still checked by everything else. A violation fails the test with a message
that says what was seen, e.g. "term 3 has 2 (>1) leaders: ...".

After a snapshot (3D) a peer's log starts past index 1: inspect() says where
(log_start), and each check compares the indexes both sides still hold; an
entry inside a snapshot was committed, which the appliers have checked.

Leader Completeness needs to know that a leader was elected after an entry
was committed. A peer seen in a term below T (at the start of the GetState,
Start or inspect call that saw it) and later seen leading in term T became
leader of T after that moment. An entry the tester saw applied before then was
committed in a term below T (a majority had moved past it before the election,
so no leader of that term could be elected then), so Leader Completeness
covers it.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable
from typing import Any

from harness.observe import Observer, Peer

__all__ = ["SAMPLE_INTERVAL", "Safety"]

SAMPLE_INTERVAL = 0.1  # seconds between two inspect() samples of the peers
_MAX_SHOWN = 3  # log entries shown around a violation

Entry = tuple[int, Any]  # (term, command), as inspect() returns them


class _Log:
    """A sampled log: entries[0] is the entry at index start (absolute indexes, from 1)."""

    __slots__ = ("entries", "start")

    def __init__(self, entries: list[Entry], start: int = 1) -> None:
        self.entries = entries
        self.start = start

    @property
    def end(self) -> int:
        """The index of the last entry (start - 1 if there is none)."""
        return self.start + len(self.entries) - 1

    def between(self, first: int, last: int) -> list[Entry]:
        """Entries first..last, inclusive, where this log holds them."""
        return self.entries[max(0, first - self.start) : max(0, last - self.start + 1)]

    def show(self, index: int) -> str:
        """The entry at index, or that there is none."""
        if self.start <= index <= self.end:
            term, command = self.entries[index - self.start]
            return f"{command!r} (term {term})"
        if index < self.start:
            return f"nothing (its log starts after a snapshot, at {self.start})"
        return f"nothing (its log ends at {self.end})"


class _Seen:
    """What the checks remember of one peer (one incarnation of a server)."""

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}  # term -> latest start of a call that saw it
        self.lead_term: int | None = None  # the term it was last seen leading
        self.elected_after: float | None = None  # it became leader of lead_term after this
        self.lead_log: _Log | None = None  # its log when last sampled leading
        self.complete_upto = 0  # entries checked for Leader Completeness this term


def _first_difference(a: list[Any], b: list[Any], n: int) -> int:
    """The smallest k < n with a[k] != b[k], given a[:n] != b[:n] (binary search, C compares)."""
    lo, hi = 0, n  # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


class Safety(Observer):
    """One test's Figure 3 checks, fed by the tester as an Observer (harness/observe.py).

    fail(message) is called once per violation."""

    def __init__(self, fail: Callable[[str], None]) -> None:
        self._fail = fail
        self._mu = threading.Lock()
        self._t0 = time.monotonic()
        self._peers: dict[Peer, _Seen] = {}  # the running peers (a restart is a new Peer)
        self._leaders: dict[int, dict[int, str]] = {}  # term -> server -> how it was seen
        self._committed: list[Any] = []  # [k-1]: the command applied at index k
        self._commit_times: list[float] = []  # [k-1]: when the tester first saw it applied
        self._ahead: dict[int, tuple[Any, float]] = {}  # applied past a gap (an apply error)
        self._logs: dict[int, _Log] = {}  # each server's latest sampled log
        self._reported: set[Any] = set()
        self.violations: list[str] = []
        self.samples = 0  # inspect() answers the log checks have seen

    # -- what the tester sees ------------------------------------------------------

    def on_apply(self, server: int, index: int, command: Any) -> None:
        """A peer applied command at index (the appliers compare it with other peers')."""
        now = time.monotonic()
        with self._mu:
            if index <= len(self._committed):
                return
            self._ahead.setdefault(index, (command, now))
            while len(self._committed) + 1 in self._ahead:
                command, t = self._ahead.pop(len(self._committed) + 1)
                if self._commit_times:
                    t = max(t, self._commit_times[-1])
                self._committed.append(command)
                self._commit_times.append(t)

    def on_get_state(self, peer: Peer, started_at: float, term: int, is_leader: bool) -> None:
        self._observe(peer, started_at, term, is_leader, "GetState")

    def on_start(
        self, peer: Peer, started_at: float, command: Any, index: int, term: int, is_leader: bool
    ) -> None:
        self._observe(peer, started_at, term, is_leader, "Start")

    def on_inspect(self, peer: Peer, started_at: float, info: Any, with_log: bool) -> None:
        """An answer with the log runs every check; one without (the timeline's) counts
        for Election Safety, and a malformed one is left to the next full sample."""
        if not with_log:
            try:
                term, role = info["term"], info["role"]
            except (KeyError, TypeError):
                return
            if isinstance(term, int):
                self._observe(peer, started_at, term, role == "leader", "inspect()")
            return
        try:
            term, role = info["term"], info["role"]
            entries = [(entry[0], entry[1]) for entry in info["log"]]
            commit_index = info["commit_index"]
            start = info.get("log_start", 1)
            if not all(isinstance(x, int) for x in (term, commit_index, start)):
                raise TypeError("term, commit_index and log_start must be ints")
            if start < 1:
                raise ValueError(f"log_start {start} is below 1")
            if role not in ("follower", "candidate", "leader"):
                raise ValueError(f"role {role!r} is not follower, candidate or leader")
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            self.bad_hook(peer.server, f"{type(e).__name__}: {e}", info)
            return
        log = _Log(entries, start)
        self._observe(peer, started_at, term, role == "leader", "inspect()", log, commit_index)

    def on_crash(self, peer: Peer) -> None:
        with self._mu:
            self._peers.pop(peer, None)

    def _observe(
        self,
        peer: Peer,
        t: float,
        term: int,
        is_leader: bool,
        source: str,
        log: _Log | None = None,
        commit_index: int | None = None,
    ) -> None:
        """peer reported (term, is_leader), and maybe its log and commitIndex, in a call
        that started at time t (time.monotonic())."""
        problems: list[tuple[Any, str]] = []
        server = peer.server
        with self._mu:
            rec = self._peers.get(peer)
            if rec is None:
                rec = self._peers[peer] = _Seen()
            if is_leader:
                self._election_safety(server, t, term, source, problems)
                if rec.lead_term != term:
                    # It became leader of term after it was last seen in an earlier term.
                    earlier = [at for seen, at in rec.seen.items() if seen < term]
                    rec.lead_term = term
                    rec.lead_log = None
                    rec.complete_upto = 0
                    rec.elected_after = max(earlier) if earlier else None
            if t > rec.seen.get(term, -1.0):
                rec.seen[term] = t
            if log is not None:
                self.samples += 1
                if is_leader:
                    self._leader_append_only(server, rec, term, log, problems)
                    self._leader_completeness(server, rec, term, log, problems)
                self._log_matching(server, log, problems)
                if commit_index is not None:
                    self._committed_prefix(server, log, commit_index, problems)
        for key, message in problems:
            self._violation(key, message)

    def bad_hook(self, server: int, what: str, info: Any) -> None:
        text = repr(info)
        if len(text) > 200:
            text = text[:200] + "..."
        self._violation(
            ("hook", server),
            f"server {server}: inspect() returned {text}: {what}; it must return "
            f'{{"term": int, "role": "follower"|"candidate"|"leader", '
            f'"log": [(term, command), ...] from index log_start, "commit_index": int, '
            f'"log_start": int (optional, 1 if absent)}} (see tests/harness/README.md)',
        )

    def watch(self, peers: Callable[[], list[Peer]], finished: threading.Event) -> None:
        """Sample every peer with inspect() until finished is set (a tester thread); the
        answers come back through on_inspect, as every observer sees them."""
        while not finished.wait(SAMPLE_INTERVAL):
            for peer in peers():
                if finished.is_set():
                    return
                peer.inspect_log()

    # -- the properties (called with _mu held; they append to problems) ------------

    def _election_safety(
        self, server: int, t: float, term: int, source: str, problems: list[tuple[Any, str]]
    ) -> None:
        who = self._leaders.setdefault(term, {})
        if server in who:
            return
        who[server] = f"{source} at {t - self._t0:.2f} s"
        if len(who) > 1:
            seen = ", ".join(f"server {s} by {how}" for s, how in sorted(who.items()))
            problems.append(
                (("leaders", term, len(who)), f"term {term} has {len(who)} (>1) leaders: {seen}")
            )

    def _leader_append_only(
        self, server: int, rec: _Seen, term: int, log: _Log, problems: list[tuple[Any, str]]
    ) -> None:
        old = rec.lead_log
        rec.lead_log = log
        if old is None:
            return
        first = max(old.start, log.start)  # what a snapshot took from the front is no change
        before, now = old.between(first, old.end), log.between(first, old.end)
        if before == now:
            return
        n = min(len(before), len(now))
        k = first + (_first_difference(before, now, n) if before[:n] != now[:n] else n)
        problems.append(
            (
                ("append-only", server, term),
                f"leader append-only: server {server}, leader in term {term}, changed its "
                f"log while leading: index {k} held {old.show(k)}, now {log.show(k)}",
            )
        )

    def _leader_completeness(
        self, server: int, rec: _Seen, term: int, log: _Log, problems: list[tuple[Any, str]]
    ) -> None:
        if rec.elected_after is None:
            return
        k = bisect.bisect_right(self._commit_times, rec.elected_after)
        # An index before log.start is in the leader's snapshot: nothing left to compare.
        for index in range(max(rec.complete_upto, log.start - 1) + 1, k + 1):
            if index > log.end or log.entries[index - log.start][1] != self._committed[index - 1]:
                problems.append(
                    (
                        ("completeness", server, term),
                        f"leader completeness: server {server} became leader of term "
                        f"{term} after index {index} was committed with "
                        f"{self._committed[index - 1]!r}, but its log has {log.show(index)} "
                        f"there",
                    )
                )
                return
        rec.complete_upto = max(rec.complete_upto, k)

    def _log_matching(self, server: int, log: _Log, problems: list[tuple[Any, str]]) -> None:
        self._logs[server] = log
        for other, theirs in self._logs.items():
            if other == server:
                continue
            # The indexes both logs still hold (snapshots took the ones before).
            first, last = max(log.start, theirs.start), min(log.end, theirs.end)
            mine, yours = log.between(first, last), theirs.between(first, last)
            if mine == yours:
                continue
            k = _first_difference(mine, yours, len(mine))
            for x in range(len(mine) - 1, k - 1, -1):
                if mine[x][0] == yours[x][0]:
                    a, b = sorted((server, other))
                    la, lb = (log, theirs) if a == server else (theirs, log)
                    problems.append(
                        (
                            ("matching", a, b, first + x),
                            f"log matching: servers {a} and {b} both have an entry of term "
                            f"{mine[x][0]} at index {first + x}, but their logs differ at index "
                            f"{first + k}: server {a} has {la.show(first + k)}, server {b} has "
                            f"{lb.show(first + k)}",
                        )
                    )
                    break

    def _committed_prefix(
        self, server: int, log: _Log, commit_index: int, problems: list[tuple[Any, str]]
    ) -> None:
        if commit_index > log.end:
            problems.append(
                (
                    ("commit-beyond", server),
                    f"server {server} reports commitIndex {commit_index}, but its log ends at "
                    f"{log.end}",
                )
            )
            return
        n = min(commit_index, len(self._committed))
        mine = [command for _, command in log.between(log.start, n)]
        applied = self._committed[log.start - 1 : n]
        if mine == applied:
            return
        k = log.start + _first_difference(mine, applied, len(mine))
        problems.append(
            (
                ("committed", server, k),
                f"state machine safety: server {server} counts index {k} committed "
                f"(commitIndex {commit_index}) with {log.show(k)}, but "
                f"{self._committed[k - 1]!r} was applied there",
            )
        )

    def _violation(self, key: Any, message: str) -> None:
        with self._mu:
            if key in self._reported:
                return
            self._reported.add(key)
            self.violations.append(message)
        self._fail(message)
