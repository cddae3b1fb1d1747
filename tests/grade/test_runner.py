"""One run in a child: its limits, and what counts as passed."""

from __future__ import annotations

from pathlib import Path

import planted
import pytest

from grade.points import LabTest
from grade.pristine import Pristine
from grade.runner import Limits, Run, run_test


def run(pristine: Pristine, test: LabTest, source: bytes, tmp: Path, **limits: int) -> Run:
    return run_test(pristine, source, test, 1, 7, tmp / "run", Limits(**limits))


def test_the_reference_passes_and_leaves_nothing_behind(
    pristine: Pristine, first_test: LabTest, tmp_path: Path
) -> None:
    result = run(pristine, first_test, planted.reference(), tmp_path)
    assert result.passed and result.reason == "", result.output
    assert list(tmp_path.iterdir()) == []


def test_a_failed_run_keeps_its_output_seed_and_timeline(
    pristine: Pristine, first_test: LabTest, tmp_path: Path, handout_root: Path
) -> None:
    result = run(pristine, first_test, planted.skeleton(handout_root), tmp_path)
    assert not result.passed
    assert result.reason == "failed: AssertionError: expected one leader, got none"
    assert "RAFTLAB_SEED=7 repeats" in result.output
    assert any(name.endswith("-7.html") for name in result.files)


@pytest.mark.parametrize(
    "source, limits, reason",
    [
        (b"import time\ntime.sleep(1000)\n", {"seconds": 3}, "killed: still running after the 3 s"),
        (
            b"x = bytearray(1 << 31)\n",
            {"memory_bytes": 1 << 30},
            "the test could not be loaded: MemoryError",
        ),
        (
            b"open('big', 'wb').write(bytes(8 << 20))\n",
            {"file_bytes": 1 << 20},
            "the test could not be loaded: OSError: [Errno 27] File too large",
        ),
        (b"import os\nos._exit(0)\n", {}, "exited (0) without a report"),
        (
            b"import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n",
            {},
            "killed by signal SIGSEGV",
        ),
    ],
)
def test_limits_and_early_exits_fail_the_run_with_the_reason(
    pristine: Pristine, first_test: LabTest, tmp_path: Path,
    source: bytes, limits: dict[str, int], reason: str,
) -> None:  # fmt: skip
    result = run(pristine, first_test, source, tmp_path, **limits)
    assert not result.passed
    assert result.reason.startswith(reason), result.reason
    assert result.seconds < 30


def test_a_run_cannot_change_the_tests_of_the_next(
    pristine: Pristine, first_test: LabTest, tmp_path: Path
) -> None:
    """Each run starts from a fresh pristine copy.  This raft.py replaces the lab
    test with one that always passes: too late for its own run (the test module is
    already loading), and a reused copy would let the next run pass."""
    rewrite = b"""
from pathlib import Path
Path("tests/lab/test_raft_3a.py").write_text("def test_InitialElection3A():\\n    pass\\n")
"""
    first = run(pristine, first_test, rewrite, tmp_path)
    second = run(pristine, first_test, rewrite, tmp_path)
    assert not first.passed and not second.passed
    assert second.reason == first.reason
    assert "could not be loaded: ImportError: cannot import name" in second.reason


def test_a_skipped_test_earns_no_points_and_says_why(pristine: Pristine, tmp_path: Path) -> None:
    """A test beyond Go's that cannot tell this Raft's RPCs apart is skipped: no points."""
    import re

    source = re.sub(rb"\bCandidateId\b", b"Candidate", planted.reference())
    test = LabTest(
        "tests/lab/test_raft_beyond_go.py::test_PersistVoteBeforeReply",
        "PersistVoteBeforeReply", "beyond", 10,
    )  # fmt: skip
    result = run(pristine, test, source, tmp_path)
    assert not result.passed
    assert result.reason.startswith(
        "skipped, which earns no points: the tester cannot tell which of Raft's RPC handlers "
        "is RequestVote"
    ), result.reason
