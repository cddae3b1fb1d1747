"""make grade end to end: the planted submissions of the grading issue, graded as
course staff would, through `python -m grade` over a folder."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import planted
import pytest

from grade.grader import Result, Submission
from grade.points import LabTest
from grade.runner import Run

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def graded(handout_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Grade one folder of planted submissions (3A, one run each, four at a time:
    twice the default P on two cores, as the soak of these tests ran them)."""
    folder = tmp_path_factory.mktemp("submissions")
    ref = planted.reference()
    with_ref = lambda extra: ref + extra.encode()  # noqa: E731
    planted.tar_gz(folder / "project3_Reference.tar.gz", {"raft/raft.py": ref})
    planted.tar_gz(folder / "project3_Nested.tgz", {"project3/raft/raft.py": ref})
    planted.zip_file(folder / "project3_Zipped.zip", {"project3/raft/raft.py": ref})
    planted.tar_gz(
        folder / "project3_OwnNetwork.tar.gz",
        {"raft/raft.py": ref, "labrpc/network.py": planted.BROKEN_NETWORK},
    )
    planted.tar_gz(
        folder / "project3_Skeleton.tar.gz", {"raft/raft.py": planted.skeleton(handout_root)}
    )
    planted.tar_gz(
        folder / "project3_NeverElects.tar.gz", {"raft/raft.py": with_ref(planted.NEVER_ELECTS)}
    )
    planted.tar_gz(
        folder / "project3_HoldsMu.tar.gz", {"raft/raft.py": with_ref(planted.HOLDS_MU_ACROSS_CALL)}
    )
    planted.tar_gz(folder / "project3_Exits.tar.gz", {"raft/raft.py": with_ref(planted.EXITS)})
    planted.tar_gz(
        folder / "project3_Patcher.tar.gz", {"raft/raft.py": with_ref(planted.PATCHES_TESTER)}
    )
    planted.tar_gz(
        folder / "project3_DotDot.tar.gz", {"raft/raft.py": ref, "../../escape.txt": b"x"}
    )
    planted.zip_file(folder / "project3_Bomb.zip", {"raft/raft.py": ref, "zeros": bytes(51 << 20)})
    (folder / "notes.txt").write_text("not a submission")
    out = tmp_path_factory.mktemp("grades")
    tmp = tmp_path_factory.mktemp("tmp")
    done = subprocess.run(
        [sys.executable, "-m", "grade", str(folder), "--parts", "3A", "--runs", "1", "-p", "4",
         "--out", str(out), "--handout", str(handout_root / ".handout"), "--time-limit", "120"],
        cwd=REPO, capture_output=True, text=True, timeout=900,
        env={**os.environ, "TMPDIR": str(tmp), "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (run_dir,) = out.iterdir()
    with open(run_dir / "grades.csv", newline="") as f:
        rows = {row["name"]: row for row in csv.DictReader(f)}
    return {"rows": rows, "dir": run_dir, "stdout": done.stdout, "stderr": done.stderr,
            "tmp": tmp, "folder": folder}  # fmt: skip


def rows(graded: dict[str, object]) -> dict[str, dict[str, str]]:
    return graded["rows"]  # type: ignore[return-value]


@pytest.mark.parametrize("name", ["Reference", "Nested", "Zipped", "OwnNetwork"])
def test_the_reference_gets_full_marks_however_it_is_packed(
    graded: dict[str, object], name: str
) -> None:
    row = rows(graded)[name]
    assert (row["score"], row["max_score"], row["flags"], row["refused"]) == ("100", "100", "", "")
    assert row["InitialElection3A"] == row["ReElection3A"] == row["ManyElections3A"] == "1/1"


@pytest.mark.parametrize("name", ["Skeleton", "NeverElects", "HoldsMu", "Exits"])
def test_a_broken_raft_gets_zero(graded: dict[str, object], name: str) -> None:
    row = rows(graded)[name]
    assert row["score"] == "0" and row["refused"] == ""
    assert row["InitialElection3A"] == "0/1"


def test_each_failed_run_says_why(graded: dict[str, object]) -> None:
    reports = Path(str(graded["dir"])) / "submissions"
    holds_mu = (reports / "HoldsMu" / "report.txt").read_text()
    assert "HangError: GetState() on server" in holds_mu
    exits = (reports / "Exits" / "report.txt").read_text()
    # Sealed (make grade's default), the peer's exit fails the test; in-process, the run
    # ends without a report (test_runner.py has that one).
    assert "while the test ran: a Raft peer must not end its process" in exits
    never = (reports / "NeverElects" / "failed" / "InitialElection3A-run1.txt").read_text()
    assert "why: failed: AssertionError: expected one leader, got none" in never
    assert "RAFTLAB_SEED=" in never and "python -m pytest 'tests/lab/test_raft_3a.py::" in never
    kept = list((reports / "NeverElects" / "failed").glob("InitialElection3A-run1-*.html"))
    assert len(kept) == 1  # the run's timeline


def test_the_tester_patcher_is_flagged_everywhere(graded: dict[str, object]) -> None:
    row = rows(graded)["Patcher"]
    assert "uses sys.modules" in row["flags"]
    report = (Path(str(graded["dir"])) / "submissions" / "Patcher" / "report.txt").read_text()
    first, isolation, blank, flagged = report.splitlines()[:4]
    assert first == "raftlab grade: Patcher (project3_Patcher.tar.gz)"
    assert isolation.startswith("the runs' isolation: ") and blank == ""
    assert flagged.startswith("FLAGGED FOR REVIEW")
    assert "Patcher: flagged for review" in str(graded["stdout"])
    assert rows(graded)["Exits"]["flags"]  # os._exit


def test_unsafe_archives_are_refused_and_nothing_escapes(graded: dict[str, object]) -> None:
    assert "climbs out with '..'" in rows(graded)["DotDot"]["refused"]
    assert "unpacks to more than 50 MB" in rows(graded)["Bomb"]["refused"]
    assert rows(graded)["DotDot"]["score"] == "0"
    folder = Path(str(graded["folder"]))
    assert (
        not (folder.parent / "escape.txt").exists()
        and not (folder.parent.parent / "escape.txt").exists()
    )
    assert list(Path(str(graded["tmp"])).iterdir()) == []  # every private folder was removed
    assert "ignored 1 file (ignored.csv lists them)" in str(graded["stderr"])
    assert "notes.txt: not a .tar.gz, .tgz or .zip file" in str(graded["stderr"])


def test_the_summary_table_lists_every_submission(graded: dict[str, object]) -> None:
    stdout = str(graded["stdout"])
    for name in rows(graded):
        assert name in stdout
    assert "DotDot: refused: member '../../escape.txt' climbs out" in stdout


def test_a_test_scores_only_when_every_run_passed() -> None:
    test = LabTest("tests/lab/test_raft_3a.py::test_X3A", "X3A", "3A", 50.0)
    result = Result(Submission(Path("x.tar.gz"), "x"), [test], runs_per_test=3)

    def run(passed: bool) -> Run:
        return Run(test, 1, 1, passed, "" if passed else "no", 1.0, "", "", {})

    result.runs[test.node_id] = [run(True), run(True)]
    assert result.earned(test) == 0.0  # a run missing counts as failed
    result.runs[test.node_id].append(run(False))
    assert (result.passed(test), result.earned(test)) == (2, 0.0)
    result.runs[test.node_id][2] = run(True)
    assert (result.passed(test), result.score, result.max_score) == (3, 50.0, 50.0)


def test_a_kill_stops_every_run_and_leaves_nothing(handout_root: Path, tmp_path: Path) -> None:
    """SIGTERM takes Ctrl-C's path (KeyboardInterrupt); SIGINT itself cannot be
    tested here, as a shell's background job (a soak loop) ignores it."""
    folder = tmp_path / "submissions"
    folder.mkdir()
    for name in ("A", "B", "C"):
        planted.tar_gz(folder / f"project3_{name}.tar.gz", {"raft/raft.py": planted.reference()})
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    grading = subprocess.Popen(
        [sys.executable, "-m", "grade", str(folder), "--parts", "3A", "-p", "2",
         "--out", str(tmp_path / "grades"), "--handout", str(handout_root / ".handout")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "TMPDIR": str(tmp)},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while len(list(tmp.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # until both submissions have started
    time.sleep(2)
    grading.send_signal(signal.SIGTERM)
    output, _ = grading.communicate(timeout=30)
    assert grading.returncode == 130, output
    assert "interrupted; every run was stopped and no grades were written" in output
    assert list(tmp.iterdir()) == []
    assert not (tmp_path / "grades").exists() or not any((tmp_path / "grades").rglob("*.csv"))
    left = subprocess.run(["pgrep", "-f", str(tmp)], capture_output=True, text=True)
    assert left.stdout == "", "children left running"
