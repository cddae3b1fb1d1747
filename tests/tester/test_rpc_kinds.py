"""The tester knows a Raft's RPC handlers by their args classes, not their names
(harness/rpckinds.py): a correct Raft whose handlers have other names passes the
tests beyond Go's, and one whose handlers it cannot recognise gets those tests
skipped, with the reason, never failed.

The end-to-end cases run the reference, renamed as a student might have written
it, through the lab tests in a built handout, as a student would run them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from harness.rpckinds import Rpc, RpcKinds
from test_student_mistakes import run_files

from handout import build

REPO = Path(__file__).resolve().parents[2]

# The tests beyond Go's that crash, keep or count one kind of RPC, and that kind.
NEEDS_A_KIND = {
    "IdleHeartbeatRate": "AppendEntries",
    "PersistLogBeforeReply": "AppendEntries",
    "PersistVoteBeforeReply": "RequestVote",
    "OldTermAppendEntriesRefused": "AppendEntries",
    "OldInstallSnapshotKeepsLog": "InstallSnapshot",
}


@dataclass
class VoteArgs:
    term: int = 0
    candidate_id: int = 0
    last_log_index: int = 0
    last_log_term: int = 0


@dataclass
class HeartbeatArgs:
    Term: int = 0
    LeaderId: int = 0
    PrevLogIndex: int = 0
    PrevLogTerm: int = 0
    Entries: list[Any] = field(default_factory=list)
    LeaderCommit: int = 0


@dataclass
class Reply:
    Term: int = 0
    Ok: bool = False


@dataclass
class Odd:
    Term: int = 0
    Candidate: int = 0


class Raft:
    def RequestVoteHandler(self, args: VoteArgs, reply: Reply) -> None: ...

    def HeartbeatHandler(self, args: HeartbeatArgs, reply: Reply) -> None: ...

    def Ping(self, args: Odd, reply: Reply) -> None: ...

    def send(self, server: int, args: VoteArgs) -> bool:  # a helper, not a handler
        return False


def test_kinds_come_from_the_args_fields_whatever_their_case() -> None:
    kinds = RpcKinds.of_class(Raft)
    assert kinds.methods(Rpc.RequestVote) == ["Raft.RequestVoteHandler"]
    assert kinds.methods(Rpc.AppendEntries) == ["Raft.HeartbeatHandler"]
    assert kinds.methods(Rpc.InstallSnapshot) == []
    assert kinds.kind_of("Raft.HeartbeatHandler") is Rpc.AppendEntries
    assert kinds.kind_of("Raft.Ping") is None


def test_an_unknown_kind_says_what_the_tester_looks_for() -> None:
    why = RpcKinds.of_class(Raft).why_unknown(Rpc.InstallSnapshot)
    assert "cannot tell which of Raft's RPC handlers is InstallSnapshot" in why
    assert "(LastIncludedIndex, LastIncludedTerm; case and underscores do not matter)" in why
    assert "Ping(Odd: Term, Candidate)" in why
    assert why.endswith("Name those fields so, and this test runs")


def _reference_with(replacements: dict[str, str]) -> dict[str, str]:
    """The reference's raft/ files with each word of replacements replaced."""
    text = (REPO / "raft" / "raft.py").read_text()
    for old, new in replacements.items():
        text, n = re.subn(rf"\b{old}\b", new, text)
        assert n, f"{old} is not in raft/raft.py"
    return {"raft/raft.py": text, "raft/log.py": (REPO / "raft" / "log.py").read_text()}


@pytest.fixture(scope="module")
def handout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build.build(tmp_path_factory.mktemp("dist"))


def test_renamed_handlers_pass_the_tests_beyond_go(handout: Path, tmp_path: Path) -> None:
    files = _reference_with({
        "RequestVote": "RequestVoteHandler",
        "AppendEntries": "HeartbeatHandler",
        "InstallSnapshot": "SnapshotHandler",
    })  # fmt: skip
    assert 'Call("Raft.HeartbeatHandler"' in files["raft/raft.py"]
    out, _ = run_files(
        handout, tmp_path, files, "-k", " or ".join(NEEDS_A_KIND),
        "tests/lab/test_raft_beyond_go.py",
    )  # fmt: skip
    assert re.search(rf"= {len(NEEDS_A_KIND)} passed, \d+ deselected in", out), out[-3000:]
    assert "SKIP" not in out


def test_handlers_it_cannot_recognise_get_skips_with_the_reason(
    handout: Path, tmp_path: Path
) -> None:
    files = _reference_with({
        "CandidateId": "Candidate",
        "PrevLogIndex": "PrevIndex",
        "LastIncludedIndex": "SnapIndex",
    })  # fmt: skip
    out, took = run_files(
        handout, tmp_path, files, "-k", " or ".join(NEEDS_A_KIND),
        "tests/lab/test_raft_beyond_go.py",
    )  # fmt: skip
    assert re.search(rf"= {len(NEEDS_A_KIND)} skipped, \d+ deselected in", out), out[-3000:]
    for test, kind in NEEDS_A_KIND.items():
        skipped = re.search(
            rf"^--- SKIP: test_{test} \(\d+\.\d+s\)\n    (.*?)( +\[\d+%\])?$", out, re.M
        )
        assert skipped, out[-3000:]
        assert skipped[1].startswith(
            f"the tester cannot tell which of Raft's RPC handlers is {kind}"
        ), skipped[1]
        assert skipped[1].endswith("Name those fields so, and this test runs")
    assert "FAIL" not in out and took < 60
