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
its own sampler. The checks that read a peer's log, role and commitIndex need
the optional inspect() hook (tests/harness/README.md); a Raft without it is
still checked by everything else. A violation fails the test with a message
that says what was seen, e.g. "term 3 has 2 (>1) leaders: ...".

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


class _Seen:
    """What the checks remember of one peer (one incarnation of a server)."""

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}  # term -> latest start of a call that saw it
        self.lead_term: int | None = None  # the term it was last seen leading
        self.elected_after: float | None = None  # it became leader of lead_term after this
        self.lead_log: list[Entry] | None = None  # its log when last sampled leading
        self.complete_upto = 0  # entries checked for Leader Completeness this term


def _show(log: list[Entry], index: int) -> str:
    """The entry at index (1-based) of log, or that there is none."""
    if 1 <= index <= len(log):
        term, command = log[index - 1]
        return f"{command!r} (term {term})"
    return f"nothing (its log ends at {len(log)})"


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
        self._logs: dict[int, list[Entry]] = {}  # each server's latest sampled log
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
            log = [(entry[0], entry[1]) for entry in info["log"]]
            commit_index = info["commit_index"]
            if not isinstance(term, int) or not isinstance(commit_index, int):
                raise TypeError("term and commit_index must be ints")
            if role not in ("follower", "candidate", "leader"):
                raise ValueError(f"role {role!r} is not follower, candidate or leader")
        except (KeyError, TypeError, ValueError, IndexError) as e:
            self.bad_hook(peer.server, f"{type(e).__name__}: {e}", info)
            return
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
        log: list[Entry] | None = None,
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
            f'"log": [(term, command), ...] from index 1, "commit_index": int}} '
            f"(see tests/harness/README.md)",
        )

    def watch(self, peers: Callable[[], list[Peer]], finished: threading.Event) -> None:
        """Sample every peer with inspect() until finished is set (a tester thread); the
        answers come back through on_inspect, as every observer sees them."""
        while not finished.wait(SAMPLE_INTERVAL):
            for peer in peers():
                if finished.is_set():
                    return
                peer.inspect()

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
        self, server: int, rec: _Seen, term: int, log: list[Entry], problems: list[tuple[Any, str]]
    ) -> None:
        old = rec.lead_log
        rec.lead_log = log
        if old is None or log[: len(old)] == old:
            return
        n = min(len(old), len(log))
        k = _first_difference(old, log, n) + 1 if old[:n] != log[:n] else n + 1
        problems.append(
            (
                ("append-only", server, term),
                f"leader append-only: server {server}, leader in term {term}, changed its "
                f"log while leading: index {k} held {_show(old, k)}, now {_show(log, k)}",
            )
        )

    def _leader_completeness(
        self, server: int, rec: _Seen, term: int, log: list[Entry], problems: list[tuple[Any, str]]
    ) -> None:
        if rec.elected_after is None:
            return
        k = bisect.bisect_right(self._commit_times, rec.elected_after)
        for index in range(rec.complete_upto + 1, k + 1):
            if index > len(log) or log[index - 1][1] != self._committed[index - 1]:
                problems.append(
                    (
                        ("completeness", server, term),
                        f"leader completeness: server {server} became leader of term "
                        f"{term} after index {index} was committed with "
                        f"{self._committed[index - 1]!r}, but its log has {_show(log, index)} "
                        f"there",
                    )
                )
                return
        rec.complete_upto = max(rec.complete_upto, k)

    def _log_matching(self, server: int, log: list[Entry], problems: list[tuple[Any, str]]) -> None:
        self._logs[server] = log
        for other, theirs in self._logs.items():
            if other == server:
                continue
            n = min(len(log), len(theirs))
            if log[:n] == theirs[:n]:
                continue
            k = _first_difference(log, theirs, n)
            for x in range(n - 1, k - 1, -1):
                if log[x][0] == theirs[x][0]:
                    a, b = sorted((server, other))
                    la, lb = (log, theirs) if a == server else (theirs, log)
                    problems.append(
                        (
                            ("matching", a, b, x),
                            f"log matching: servers {a} and {b} both have an entry of term "
                            f"{log[x][0]} at index {x + 1}, but their logs differ at index "
                            f"{k + 1}: server {a} has {_show(la, k + 1)}, server {b} has "
                            f"{_show(lb, k + 1)}",
                        )
                    )
                    break

    def _committed_prefix(
        self, server: int, log: list[Entry], commit_index: int, problems: list[tuple[Any, str]]
    ) -> None:
        if commit_index > len(log):
            problems.append(
                (
                    ("commit-beyond", server),
                    f"server {server} reports commitIndex {commit_index}, but its log ends at "
                    f"{len(log)}",
                )
            )
            return
        n = min(commit_index, len(self._committed))
        mine = [command for _, command in log[:n]]
        if mine == self._committed[:n]:
            return
        k = _first_difference(mine, self._committed, n) + 1
        problems.append(
            (
                ("committed", server, k),
                f"state machine safety: server {server} counts index {k} committed "
                f"(commitIndex {commit_index}) with {_show(log, k)}, but "
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
