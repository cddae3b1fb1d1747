"""A student's classic mistakes, each run through the lab tests as a student would run
them: the first lines after the `--- FAIL` line name the real cause, and the failure
comes fast.

Each wrong Raft is the small Raft kept with these tests (fixture_raft.py) with one
mistake planted, dropped into a handout as its raft/raft.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from handout import build

REPO = Path(__file__).resolve().parents[2]

# The raft package a wrong Raft lives in: the fixture beside it, and ApplyMsg defined
# before raft.raft is imported (the fixture imports it from raft).
INIT = """\
from raft.persister import MakePersister, Persister
from raft.applymsg import ApplyMsg
from raft.raft import Make, Raft
"""
APPLYMSG = """\
from dataclasses import dataclass
from typing import Any


@dataclass
class ApplyMsg:
    CommandValid: bool = False
    Command: Any = None
    CommandIndex: int = 0
    SnapshotValid: bool = False
    Snapshot: bytes = b""
    SnapshotTerm: int = 0
    SnapshotIndex: int = 0
"""
HEADER = """\
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from raft.applymsg import ApplyMsg
from raft.fixture_raft import LEADER, Correct, RequestVoteArgs, RequestVoteReply, make_with
"""

TYPO = """
class Raft(Correct):
    def RequestVote(self, args: RequestVoteArgs, reply: RequestVoteReply) -> None:
        if args.term > self.current_term:  # the field is Term
            pass
        super().RequestVote(args, reply)
"""

UNREGISTERED_ENTRY = """
@dataclass
class Entry:  # never passed to labgob.Register
    Term: int = 0
    Command: Any = None


class Raft(Correct):
    def persist(self) -> None:
        pass  # 3B: no persistence yet

    def Start(self, command: Any) -> tuple[int, int, bool]:
        with self.mu:
            if self.state != LEADER:
                return -1, self.current_term, False
            self.log.append(Entry(self.current_term, command))
            self.broadcast_append_entries()
            return len(self.log) - 1, self.current_term, True
"""

UNANNOTATED = """
class Raft(Correct):
    def RequestVote(self, args, reply):  # no annotations
        super().RequestVote(args, reply)

    def AppendEntries(self, args, reply):  # no annotations
        super().AppendEntries(args, reply)
"""

APPLIER_PAST_THE_LOG = """
class Raft(Correct):
    def applier(self) -> None:
        while not self.killed():
            with self.mu:
                if self.commit_index > self.last_applied:
                    entry = self.log[self.commit_index + 1]  # one past the end
                    self.last_applied = self.commit_index
            time.sleep(0.01)
"""

HOLDS_THE_LOCK_FOREVER = """
class Raft(Correct):
    def become_leader(self) -> None:
        super().become_leader()
        self.mu.acquire()  # already held here: this thread waits for itself, holding mu
"""

APPLIER_KILL_NEVER_WAKES = """
class Raft(Correct):
    def Kill(self) -> None:
        self.dead = True  # nothing wakes the applier

    def applier(self) -> None:
        with self.mu:
            while not self.killed():
                self.apply_cond.wait()
"""

CHATTY = """
class Raft(Correct):
    def broadcast_append_entries(self) -> None:
        super().broadcast_append_entries()
        self.heartbeat_due = time.monotonic() + 0.02  # 50 heartbeats a second
"""

# Whether Snapshot() meets the held lock is a race: when the snapshot's index is the
# last committed entry, the applier is waiting for more and Snapshot() gets mu.  So
# Snapshot() drops what it covers from the persisted log, as Figure 13 does, and a
# snapshot that escapes is harmless: the next one deadlocks.  (The fixture indexes
# its log from 0, so the in-memory log stays whole; SnapshotBasic3D never restarts.)
SENDS_ON_APPLYCH_HOLDING_THE_LOCK = """
import labgob


class Raft(Correct):
    snapshot_index = 0

    def Snapshot(self, index: int, snapshot: bytes) -> None:
        with self.mu:
            self.snapshot_index = index
            self.persist()

    def persist(self) -> None:
        tail = self.log[self.snapshot_index + 1 :]
        self.persister.Save(labgob.encode([self.current_term, self.voted_for, tail]), None)

    def applier(self) -> None:
        while True:
            with self.mu:
                while self.last_applied >= self.commit_index and not self.killed():
                    self.apply_cond.wait()
                if self.killed():
                    return
                self.last_applied += 1
                entry = self.log[self.last_applied]
                msg = ApplyMsg(CommandValid=True, Command=entry.Command,
                               CommandIndex=self.last_applied)
                self.applyCh.put(msg)  # still holding mu
"""

MISSPELT_REPLY_FIELD = """
class Raft(Correct):
    def RequestVote(self, args: RequestVoteArgs, reply: RequestVoteReply) -> None:
        super().RequestVote(args, reply)
        granted, reply.VoteGranted = reply.VoteGranted, False
        reply.Votegranted = granted  # the field is VoteGranted
"""

REBOUND_REPLY = """
class Raft(Correct):
    def RequestVote(self, args: RequestVoteArgs, reply: RequestVoteReply) -> None:
        answer = RequestVoteReply()
        super().RequestVote(args, answer)
        reply = RequestVoteReply(Term=answer.Term, VoteGranted=answer.VoteGranted)
"""

# No term check on vote replies: each vote past a majority wins the election again,
# and each win starts one more heartbeat loop.
# The stale reply is the second grant, which comes after its candidate won with the
# first.  Both peers grant only in an election without a rival, so here the servers'
# timeouts are staggered (server 0 first, by 300 ms): every first election has none.
STALE_VOTE_REPLIES = """
from raft.fixture_raft import HEARTBEAT_INTERVAL


class Raft(Correct):
    def reset_election_timer(self) -> None:
        self.election_deadline = time.monotonic() + 0.3 * (self.me + 1)

    def send_request_vote(self, peer: int, args: RequestVoteArgs) -> None:
        reply = RequestVoteReply()
        if not self.peers[peer].Call("Raft.RequestVote", args, reply):
            return
        with self.mu:
            self.observe_term(reply.Term)
            if reply.VoteGranted:  # from this election, in this term, still a candidate?
                self.count_vote()

    def become_leader(self) -> None:
        super().become_leader()
        self.go(self.heartbeats)

    def heartbeats(self) -> None:
        while not self.killed():
            with self.mu:
                if self.state != LEADER:
                    return
                self.broadcast_append_entries()
            time.sleep(HEARTBEAT_INTERVAL)
"""

# Not a mistake: a field set in __init__ before Make starts the threads and read by the
# applier without mu. As Go's -race does, race mode orders the write before the reads.
APPLY_Q_SET_IN_INIT = """
class Raft(Correct):
    def __init__(self, peers: Any, me: int, persister: Any, applyCh: Any) -> None:
        super().__init__(peers, me, persister, applyCh)
        self.apply_q = applyCh

    def applier(self) -> None:
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
                self.apply_q.put(msg)  # self.apply_q without mu
"""


@pytest.fixture(scope="module")
def handout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build.build(tmp_path_factory.mktemp("dist"))


_sealed = {"": ""}  # RAFTLAB_SEALED for the runs of the row under way (set by `mode`)


@pytest.fixture(autouse=True, params=["in-process", "sealed"])
def mode(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every row twice: a mistake's report must read the same with each peer in its own
    process (harness/runtime/sealed.py)."""
    _sealed[""] = "1" if request.param == "sealed" else ""
    yield request.param
    _sealed[""] = ""


def run_lab(
    handout: Path, tmp_path: Path, mistake: str, *pytest_args: str, **env: str
) -> tuple[str, float]:
    """Run the lab tests on the fixture Raft with mistake planted, with env added to
    the environment; (output, seconds)."""
    fixture = (REPO / "tests" / "tester" / "fixture_raft.py").read_text()
    files = {
        "raft/fixture_raft.py": fixture + "\n\nCorrect = Raft\n",
        "raft/applymsg.py": APPLYMSG,
        "raft/__init__.py": INIT,
        "raft/raft.py": HEADER + mistake + "\n\nMake = make_with(Raft)\n",
    }
    return run_files(handout, tmp_path, files, *pytest_args, **env)


def run_files(
    handout: Path, tmp_path: Path, files: dict[str, str], *pytest_args: str, **extra_env: str
) -> tuple[str, float]:
    """Run the lab tests in a copy of the handout with files (path -> text) written
    into it, as a student runs them; (output, seconds)."""
    lab = tmp_path / "project3"
    shutil.copytree(handout, lab)
    for path, text in files.items():
        (lab / path).write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "RAFTLAB_"))}
    env.update(PYTHONPATH=str(lab), PYTHONDONTWRITEBYTECODE="1", RAFTLAB_TIMELINE="off")
    env.update(RAFTLAB_SEALED=_sealed[""])
    env.update(extra_env)
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *pytest_args],
        cwd=lab, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return done.stdout + done.stderr, time.monotonic() - start


def after_fail(out: str, test: str, lines: int = 5) -> list[str]:
    """The first lines of the --- FAIL block of test."""
    match = re.search(rf"^--- FAIL: {test} \((\d+\.\d+)s\)$", out, re.M)
    assert match, out[-4000:]
    return out[match.start() :].splitlines()[:lines]


def test_a_typo_in_a_handler(handout: Path, tmp_path: Path) -> None:
    out, _ = run_lab(handout, tmp_path, TYPO, "-x", "-k", "InitialElection", "tests/lab")
    first = after_fail(out, "test_InitialElection3A")
    cause = "    AttributeError: 'RequestVoteArgs' object has no attribute 'term'"
    assert first[1].startswith(cause)
    assert re.match(r"        at raft/raft\.py:\d+, in RequestVote \(thread labrpc-", first[2])
    assert "if args.term > self.current_term:" in first[2]
    assert float(first[0].split("(")[1].rstrip("s)")) < 5


def test_an_unregistered_entry_class(handout: Path, tmp_path: Path) -> None:
    out, _ = run_lab(handout, tmp_path, UNREGISTERED_ENTRY, "-x", "-k", "BasicAgree", "tests/lab")
    first = after_fail(out, "test_BasicAgree3B")
    assert "Call('Raft.AppendEntries') cannot send its args" in first[1]
    assert "cannot encode raft.raft.Entry" in first[1]
    assert "call labgob.Register" in first[1]


def test_handlers_without_annotations(handout: Path, tmp_path: Path) -> None:
    out, _ = run_lab(handout, tmp_path, UNANNOTATED, "-x", "-k", "InitialElection", "tests/lab")
    first = after_fail(out, "test_InitialElection3A")
    assert "Raft.RequestVote(self, args, reply) is not fully annotated" in first[1]
    assert "def RequestVote(self, args: ArgsType, reply: ReplyType) -> None" in first[1]


def test_an_applier_that_reads_past_the_log(handout: Path, tmp_path: Path) -> None:
    out, _ = run_lab(
        handout, tmp_path, APPLIER_PAST_THE_LOG, "-x", "-k", "BasicAgree", "tests/lab"
    )
    first = after_fail(out, "test_BasicAgree3B")
    assert first[1] == "    IndexError: list index out of range"
    assert re.match(r"        at raft/raft\.py:\d+, in applier \(thread raft-\d-applier\)",
                    first[2])  # fmt: skip
    assert float(first[0].split("(")[1].rstrip("s)")) < 5


def test_a_thread_that_holds_the_lock_forever(handout: Path, tmp_path: Path) -> None:
    out, took = run_lab(
        handout, tmp_path, HOLDS_THE_LOCK_FOREVER, "-x", "-k", "InitialElection", "tests/lab"
    )
    first = after_fail(out, "test_InitialElection3A", 12)
    assert re.fullmatch(r"    GetState\(\) on server \d has not returned after \d s", first[1])
    assert any("in become_leader: self.mu.acquire()" in line for line in first)
    assert any(
        'run make test-race RACE_ARGS="-k test_InitialElection3A" to find it' in line
        for line in first
    )
    assert float(first[0].split("(")[1].rstrip("s)")) < 15
    assert took < 60 and "Timeout" not in out


def test_an_applier_that_Kill_never_wakes(handout: Path, tmp_path: Path) -> None:
    out, _ = run_lab(
        handout, tmp_path, APPLIER_KILL_NEVER_WAKES, "-k", "InitialElection", "tests/lab"
    )
    assert "... Passed --" in out
    assert re.search(
        r"3 thread\(s\) still alive 3 s after the test ended:\n"
        r"    raft-0-applier and 2 more running Raft\.applier, now at raft/raft\.py:\d+, "
        r"in applier: "
        r"self\.apply_cond\.wait\(\)\n",
        out,
    ), out[-3000:]
    assert "Kill() must make every thread the peer started return" in out


def test_heartbeats_fifty_times_a_second(handout: Path, tmp_path: Path) -> None:
    out, _ = run_lab(handout, tmp_path, CHATTY, "-k", "InitialElection", "tests/lab")
    assert re.search(
        r"Test \(3A\): initial election \.\.\.\n"
        r"warning: server \d sent server \d \d+ AppendEntries in \d\.\d s while idle; "
        r"the lab allows at most 10 heartbeats a second\. Besides a short heartbeat "
        r"interval, the causes are a second heartbeat loop .*\n"
        r"  \.\.\. Passed --",
        out,
    ), out[-3000:]


def test_sending_on_applyCh_holding_the_lock(handout: Path, tmp_path: Path) -> None:
    """Go's unbuffered applyCh: the send waits for the tester, which waits in Snapshot()
    for rf.mu. The test fails within seconds, saying so, instead of hanging."""
    out, took = run_lab(
        handout, tmp_path, SENDS_ON_APPLYCH_HOLDING_THE_LOCK, "-x", "-k", "SnapshotBasic3D",
        "tests/lab",
    )  # fmt: skip
    first = after_fail(out, "test_SnapshotBasic3D", 4)
    assert re.fullmatch(
        r"    applyCh deadlock: server (\d) is sending on applyCh while "
        r"holding rf\.mu: thread raft-\1-applier has waited 2 s in put\(\) "
        r"\(raft/raft\.py:\d+, in applier\) for the tester, which is waiting inside "
        r"server \1's Snapshot\(\) for rf\.mu\.",
        first[1],
    ), "\n".join(first)
    assert "Copy what to send while holding rf.mu, release it, then put." in first[2]
    assert float(first[0].split("(")[1].rstrip("s)")) < 10
    assert took < 60 and "Timeout" not in out and "has not returned after" not in out


def test_a_reply_field_misspelt_on_write(handout: Path, tmp_path: Path) -> None:
    """labgob drops the field and warns once a process; every test it spoils names it."""
    out, _ = run_lab(handout, tmp_path, MISSPELT_REPLY_FIELD, "-k", "InitialElection or ReElection",
                     "tests/lab")  # fmt: skip
    for test in ("test_InitialElection3A", "test_ReElection3A"):
        first = after_fail(out, test, 3)
        assert first[1].startswith(
            "    labgob: RequestVoteReply.Votegranted is not a declared field, so it was "
            "never sent (its fields: Term, VoteGranted). Written at raft/raft.py:"
        ), "\n".join(first)
        assert "reply.Votegranted = granted  # the field is VoteGranted." in first[1]
        assert first[2].startswith("        then: ")
        assert float(first[0].split("(")[1].rstrip("s)")) < 10


def test_a_reply_rebound_in_a_handler(handout: Path, tmp_path: Path) -> None:
    """The caller never sees the new object: said at the start and in the FAIL block."""
    out, _ = run_lab(handout, tmp_path, REBOUND_REPLY, "-x", "-k", "InitialElection", "tests/lab")
    said = re.compile(
        r"raft/raft\.py:\d+: Raft\.RequestVote\(\) assigns to its parameter reply \(reply = "
        r"RequestVoteReply\(Term=answer\.Term, VoteGranted=answer\.VoteGranted\)\): the caller "
        r"never sees that new object\. Set the fields of the one it was given \(reply\.Term = "
        r"\.\.\.\)"
    )
    header = out[: out.index("collected")]
    assert re.search(r"^raftlab: warning: " + said.pattern + "$", header, re.M), header
    first = after_fail(out, "test_InitialElection3A", 3)
    assert said.fullmatch(first[1].strip()), "\n".join(first)
    assert first[2] == "        then: expected one leader, got none"
    assert float(first[0].split("(")[1].rstrip("s)")) < 10


def test_a_misspelt_debug_topic(handout: Path, tmp_path: Path) -> None:
    out, took = run_lab(handout, tmp_path, "Raft = Correct", "-k", "InitialElection", "tests/lab",
                        RAFTLAB_DEBUG="votes")  # fmt: skip
    assert (
        "ERROR: RAFTLAB_DEBUG: unknown topic(s) votes; topics: timer, vote, leader, term, log, "
        "commit, persist, snap, drop, test. Set RAFTLAB_DEBUG=1 for every topic" in out
    ), out[-3000:]
    assert "Test (3A)" not in out and took < 30


def test_vote_replies_acted_on_without_a_term_check(handout: Path, tmp_path: Path) -> None:
    """Go's 3A passes it; the heartbeat warning names stale replies among its causes."""
    out, _ = run_lab(handout, tmp_path, STALE_VOTE_REPLIES, "-k", "InitialElection", "tests/lab")
    assert "... Passed --" in out, out[-3000:]
    assert re.search(
        r"^warning: server \d sent server \d \d+ AppendEntries in \d\.\d s while idle; .*"
        r"a second heartbeat loop \(one more each time a peer wins an election\), two leaders "
        r"in one term, and acting on a stale reply",
        out,
        re.M,
    ), out[-3000:]


def test_a_field_set_before_the_threads_start_is_no_race(handout: Path, tmp_path: Path) -> None:
    out, _ = run_lab(
        handout, tmp_path, APPLY_Q_SET_IN_INIT, "--race", "-k", "BasicAgree or FailAgree",
        "tests/lab",
    )  # fmt: skip
    assert "race mode" in out and out.count("... Passed --") == 2, out[-3000:]
    assert "DATA RACE" not in out and "FAIL" not in out, out[-3000:]
