"""Submissions that attack the grader rather than the tests (issue 19).

One grading of a folder that holds correct submissions and each attack that
once stopped everyone's grading, or took a name or a cell it had no right to:
each attacker gets its refusal, its ignored line or its 0, the correct ones
keep their full marks, and the grading ends with grades.csv.  A second grading
uses a roster in which two archives claim one student.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import planted
import pytest

from grade import grader, report
from grade.grader import Result, Submission
from grade.points import LabTest
from grade.runner import Limits

REPO = Path(__file__).resolve().parents[2]
LONG_NAME = "project3_" + "L" * 239 + ".tar.gz"  # 255 characters, a file name's most
FORMULA = "=2+5+cmd|' -c calc'!A0.tar.gz"
TIME_LIMIT = 50  # seconds a run; BUDGET 1.5 min: a second hung run is cut, a third not run
TEST = LabTest("tests/lab/test_raft_3a.py::test_InitialElection3A", "InitialElection3A", "3A", 50)


def grade(handout_root: Path, folder: Path, out: Path, *more: str) -> dict[str, Any]:
    """python -m grade over folder, 3A once each, three at a time, as staff would run it."""
    tmp = out.parent / f"{out.name}-tmp"
    tmp.mkdir()
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "grade", str(folder), "--parts", "3A", "--runs", "1", "-p", "3",
         "--out", str(out), "--handout", str(handout_root / ".handout"), *more],
        cwd=REPO, capture_output=True, text=True, timeout=900,
        env={**os.environ, "TMPDIR": str(tmp), "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (run_dir,) = out.iterdir()
    with open(run_dir / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(run_dir / "ignored.csv", newline="") as f:
        ignored = {row["file"]: row["why"] for row in csv.DictReader(f)}
    return {
        "rows": rows, "ignored": ignored, "dir": run_dir, "tmp": tmp,
        "output": done.stdout + done.stderr, "seconds": time.monotonic() - started,
    }  # fmt: skip


@pytest.fixture(scope="module")
def hostile(handout_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("submissions")
    ref = planted.reference()
    raft = lambda source: {"raft/raft.py": source}  # noqa: E731
    skeleton = raft(planted.skeleton(handout_root))
    planted.tar_gz(folder / "project3_Reference.tar.gz", raft(ref))
    planted.zip_patched(folder / "project3_Encrypted.zip", raft(ref), flag_bits=0x1)
    planted.zip_patched(folder / "project3_Method.zip", raft(ref), zipfile.ZIP_STORED, method=6)
    planted.zip_patched(folder / "project3_Deflate.zip", raft(ref), corrupt=True)
    planted.zip_patched(folder / "project3_Lzma.zip", raft(ref), zipfile.ZIP_LZMA, corrupt=True)
    planted.tar_gz(folder / "project3_Deep.tar.gz", {"a/" * 1200 + "raft/raft.py": ref})
    planted.tar_gz(folder / LONG_NAME, raft(ref))
    planted.tar_gz(folder / "project3_grades.csv.tar.gz", skeleton)
    planted.tar_gz(folder / "project3-Alice.tar.gz", skeleton)
    planted.tar_gz(folder / "project3_Alice.tar.gz", raft(ref))
    planted.tar_gz(folder / FORMULA, raft(ref))
    planted.tar_gz(folder / "project3_Fifo.tar.gz", raft(ref + planted.REPORT_FIFO.encode()))
    planted.tar_gz(folder / "project3_Zero.tar.gz", raft(ref + planted.REPORT_DEV_ZERO.encode()))
    planted.tar_gz(folder / "project3_Litter.tar.gz", raft(ref + planted.LITTERS.encode()))
    planted.tar_gz(folder / "project3_Hangs.tar.gz", raft(planted.HANGS))
    # In-process (make grade SEALED=0): the report a run writes, and the files it leaves
    # in its folder, are the student's code's only then (tests/grade/test_sealed.py).
    graded = grade(
        handout_root, folder, tmp_path_factory.mktemp("grades"),
        "--time-limit", str(TIME_LIMIT), "--budget", "1.5", "--in-process",
    )  # fmt: skip
    graded["by_name"] = {row["name"]: row for row in graded["rows"]}
    return graded


def row(graded: dict[str, Any], name: str) -> dict[str, str]:
    return graded["by_name"][name]  # type: ignore[no-any-return]


def report_of(graded: dict[str, Any], folder: str) -> str:
    return (graded["dir"] / report.SUBMISSIONS / folder / "report.txt").read_text()


def full_marks(graded: dict[str, Any], name: str) -> bool:
    r = row(graded, name)
    return (r["score"], r["max_score"], r["refused"]) == ("100", "100", "")


def test_the_correct_submissions_keep_full_marks(hostile: dict[str, Any]) -> None:
    assert full_marks(hostile, "Reference") and full_marks(hostile, "Alice")
    assert hostile["seconds"] < 300, "the hung submission cost more than its budget"


@pytest.mark.parametrize(
    "name, why",
    [
        ("Encrypted", "member 'raft/raft.py' is encrypted; the grader has no password"),
        ("Method", "member 'raft/raft.py' is compressed with method 6, which the grader cannot"),
        ("Deflate", "cannot read project3_Deflate.zip: error: Error -3 while decompressing"),
        ("Lzma", "cannot read project3_Lzma.zip: LZMAError: Corrupt input data"),
        ("Deep", "is nested 1201 folders deep; at most 64 are accepted"),
    ],
)
def test_an_archive_python_cannot_unpack_is_refused(
    hostile: dict[str, Any], name: str, why: str
) -> None:
    r = row(hostile, name)
    assert why in r["refused"] and r["score"] == "0"
    assert f"REFUSED: {r['refused']}" in report_of(hostile, name)


def test_a_name_make_submit_does_not_write_is_ignored(hostile: dict[str, Any]) -> None:
    """A 255-character name failed mkdtemp before any grading; project3-Alice (a
    skeleton) took the name Alice and made the real project3_Alice Alice-2."""
    ignored = hostile["ignored"]
    assert ignored[LONG_NAME].startswith("its NAME is 239 characters long; at most 100")
    assert ignored["project3-Alice.tar.gz"].startswith("not named project3_NAME.tar.gz")
    assert row(hostile, "Alice")["archive"] == "project3_Alice.tar.gz"
    assert len([r for r in hostile["rows"] if r["name"].startswith("Alice")]) == 1
    assert "grade: ignored 3 files" in hostile["output"]
    assert "project3-Alice.tar.gz: not named project3_NAME" in hostile["output"]
    assert "project3_LLLL" in hostile["output"] and LONG_NAME not in hostile["output"]


def test_no_cell_is_a_formula(hostile: dict[str, Any]) -> None:
    ignored_csv = (hostile["dir"] / "ignored.csv").read_text()
    assert "\n'=2+5+cmd|' -c calc'!A0.tar.gz," in ignored_csv
    assert "'" + FORMULA in hostile["ignored"]  # the cell, quoted
    cells = [c for r in hostile["rows"] for c in r.values()]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert report.csv_cell("-1") == "'-1" and report.csv_cell("@x") == "'@x"
    assert report.csv_cell("\tx") == "'\tx" and report.csv_cell("Ada") == "Ada"


def test_a_name_like_the_graders_files_has_a_folder_of_its_own(hostile: dict[str, Any]) -> None:
    assert row(hostile, "grades.csv")["score"] == "0"
    assert report_of(hostile, "grades.csv").startswith(
        "raftlab grade: grades.csv (project3_grades.csv.tar.gz)"
    )
    assert len(hostile["rows"]) == 12  # grades.csv is the grader's, with every row


@pytest.mark.parametrize(
    "name, why",
    [
        ("Fifo", "exited (0), but its report is a FIFO, not a regular file"),
        ("Zero", "exited (0), but its report is a symbolic link, not a regular file"),
    ],
)
def test_a_report_that_is_not_a_file_fails_its_runs(
    hostile: dict[str, Any], name: str, why: str
) -> None:
    """A FIFO blocked the grader in open() past SIGTERM; a link to /dev/zero
    grew its memory until it crashed."""
    r = row(hostile, name)
    assert r["score"] == "0" and r["refused"] == "" and r["InitialElection3A"] == "0/1"
    assert report_of(hostile, name).count(why) == 3


def test_what_a_run_leaves_is_removed_however_deep(hostile: dict[str, Any]) -> None:
    """rmtree raised RecursionError past 1,000 folders, and left them in /tmp."""
    assert full_marks(hostile, "Litter")
    assert list(hostile["tmp"].iterdir()) == []  # every private folder was removed


def test_a_hung_submission_stops_at_its_budget(hostile: dict[str, Any]) -> None:
    r = row(hostile, "Hangs")
    assert r["score"] == "0" and r["refused"] == ""
    text = report_of(hostile, "Hangs")
    assert f"run 1: killed: still running after the {TIME_LIMIT} s time limit" in text
    assert "run 1: killed: the submission's time budget (1.5 min) ran out during this run" in text
    assert "run 1: not run: the submission's time budget (1.5 min) was used up" in text
    assert "at most 1.5 min a submission" in hostile["output"]


@pytest.fixture(scope="module")
def rostered(handout_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("submissions")
    ref = {"raft/raft.py": planted.reference()}
    planted.tar_gz(folder / "project3_Alice.tar.gz", ref)
    planted.tar_gz(folder / "project3_Mallory.tar.gz", {"raft/raft.py": planted.FAILS_AT_ONCE})
    planted.zip_file(folder / "bob-upload-1234.zip", ref)
    planted.tar_gz(folder / "project3_Eve.tar.gz", ref)
    roster = folder.parent / "roster.csv"
    roster.write_text(
        "Archive,Student,email\n"
        "project3_Alice.tar.gz,alice,alice@example.edu\n"
        "project3_Mallory.tar.gz,Alice,mallory@example.edu\n"
        "bob-upload-1234.zip,bob,bob@example.edu\n"
        "project3_Carol.tar.gz,carol,carol@example.edu\n"
    )
    return grade(handout_root, folder, tmp_path_factory.mktemp("grades"), "--roster", str(roster))


def test_a_roster_names_the_archives_and_flags_a_name_claimed_twice(
    rostered: dict[str, Any],
) -> None:
    by_archive = {r["archive"]: r for r in rostered["rows"]}
    assert set(by_archive) == {
        "project3_Alice.tar.gz", "project3_Mallory.tar.gz", "bob-upload-1234.zip"
    }  # fmt: skip
    bob = by_archive["bob-upload-1234.zip"]
    assert (bob["name"], bob["score"], bob["flags"]) == ("bob", "100", "")
    alice, mallory = by_archive["project3_Alice.tar.gz"], by_archive["project3_Mallory.tar.gz"]
    assert (alice["name"], alice["score"], mallory["name"], mallory["score"]) == (
        "alice", "100", "Alice", "0",
    )  # fmt: skip
    for claimant in (alice, mallory):
        assert claimant["flags"].startswith("claimed twice: 2 archives claim the name")
    reports = rostered["dir"] / report.SUBMISSIONS
    assert sorted(p.name for p in reports.iterdir()) == ["Alice+2", "alice+1", "bob"]
    assert "claimed twice" in (reports / "Alice+2" / "report.txt").read_text()
    assert rostered["ignored"] == {"project3_Eve.tar.gz": "not in the roster"}
    assert "the roster lists 1 archive not in" in rostered["output"]
    assert "project3_Carol.tar.gz" in rostered["output"]


@pytest.mark.parametrize(
    "text, why",
    [
        ("file,who\na.zip,ada\n", "needs a first row naming its columns archive and student"),
        ("archive,student\na.zip,ada\na.zip,bob\n", "lists 'a.zip' twice (lines 2 and 3)"),
        ("archive,student\na.zip,=cmd\n", "line 2: the student '=cmd' holds '='"),
        ("archive,student\na.zip\n", "line 2: the row has no student cell"),
    ],
)
def test_a_roster_that_cannot_be_used_says_what_to_fix(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(text)
    with pytest.raises(grader.RosterError, match=re.escape(why)):
        grader.read_roster(path)


class _FailingPristine:
    def copy_with(self, raft_source: bytes, dest: Path) -> None:
        dest.mkdir(parents=True)
        raise OSError(28, "No space left on device")


def test_a_fault_of_the_graders_is_that_submissions_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = planted.tar_gz(tmp_path / "project3_Ada.tar.gz", {"raft/raft.py": b"x = 1\n"})
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # grade_one's folder
    pristine: Any = _FailingPristine()
    result = grader.grade_one(Submission(archive, "Ada"), pristine, [TEST], 1, Limits())
    assert result.refused == "grader error: OSError: [Errno 28] No space left on device"
    assert result.score == 0 and list((tmp_path / "tmp").iterdir()) == []


def test_a_report_that_cannot_be_written_is_that_submissions_row(tmp_path: Path) -> None:
    results = [Result(Submission(Path(f"project3_{n}.tar.gz"), n), [TEST], 1) for n in "AB"]
    (tmp_path / report.SUBMISSIONS).mkdir(parents=True)
    (tmp_path / report.SUBMISSIONS / "A").write_text("in the way")
    report.write_all(tmp_path, results, [TEST])
    with open(tmp_path / "grades.csv", newline="") as f:
        rows = {r["name"]: r for r in csv.DictReader(f)}
    assert rows["A"]["refused"].startswith("grader error: FileExistsError:")
    assert rows["B"]["refused"] == ""
    assert (tmp_path / report.SUBMISSIONS / "B" / "report.txt").is_file()
