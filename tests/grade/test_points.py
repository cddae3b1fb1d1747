"""grade/points.py: which part a lab test belongs to, and who gets points by default."""

from __future__ import annotations

from grade.points import BEYOND_GO, lab_tests, part_of

IDS = [
    "tests/lab/test_raft_3a.py::test_InitialElection3A",
    "tests/lab/test_raft_3a.py::test_ReElection3A",
    "tests/lab/test_raft_3b.py::test_BasicAgree3B",
    "tests/lab/test_raft_3c.py::test_Persist13C",
    "tests/lab/test_raft_3d.py::test_SnapshotBasic3D",
    "tests/lab/test_raft_beyond_go.py::test_PersistVoteBeforeReply",
]


def test_the_tests_beyond_go_are_a_part_of_their_own() -> None:
    assert part_of(IDS[0]) == "3A"
    assert part_of(IDS[-1]) == BEYOND_GO


def test_the_tests_beyond_go_are_graded_only_when_asked_for() -> None:
    by_default = lab_tests(IDS)
    assert {t.part for t in by_default} == {"3A", "3B", "3C", "3D"}
    assert sum(t.points for t in by_default) == 400
    asked = lab_tests(IDS, [BEYOND_GO])
    assert [(t.name, t.points) for t in asked] == [("PersistVoteBeforeReply", 100.0)]
