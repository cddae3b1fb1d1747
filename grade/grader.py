"""Grade submissions: unpack, scan, run every chosen lab test RUNS times, score.

Submissions are graded P at a time, each in its own private folder; a
submission's runs go one after another, so a submission never competes with
itself for the machine.  Nothing here trusts the submission: the archive is
checked before it is unpacked (archive.py), the code is read but never run in
this process (scan.py), every run is a child with limits (runner.py), and all
of a submission's runs share a time budget.  Whatever goes wrong with one
submission, even a fault of the grader's, is that submission's row; the others
are graded.

A submission's name, the student's, comes from its file name only in the form
`make submit` writes, project3_NAME.tar.gz (.tgz, .zip), or from a roster that
maps archive names to students; anything else in the folder is ignored, with
the reason.  Two archives that claim one name are both graded and both flagged:
neither is renamed.
"""

from __future__ import annotations

import csv
import io
import math
import random
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from grade import archive, files, runner, scan
from grade.points import LabTest
from grade.pristine import Pristine
from grade.runner import Limits, Run, run_test

PREFIX = "project3_"
MAX_NAME = 100  # characters: make submit's limit (handout/files/tools/submit.py)
MAX_NAME_BYTES = 200  # so that a name, and NAME+2 after it, fits a file name
# One run of each part's tests, one after another, with the reference: a
# submission's default time budget is three times this, per run, plus one
# run's time limit.  A part not listed counts TYPICAL_TEST_SECONDS a test.
TYPICAL_SECONDS = {"3A": 20, "3B": 65, "3C": 105, "3D": 160, "beyond": 115}
TYPICAL_TEST_SECONDS = 15
GRADER_ERROR = "grader error"


class RosterError(ValueError):
    """The roster cannot be used; the message says what is wrong in it."""


@dataclass
class Submission:
    """One submission: an archive, or a folder that holds raft/raft.py (Gradescope's)."""

    path: Path
    name: str  # the student's: NAME of project3_NAME.*, or the roster's
    folder: str = ""  # its folder in the results: the name, or NAME+k when several claim it
    flags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.folder = self.folder or self.name


@dataclass(frozen=True)
class Ignored:
    """A file of SUBMISSIONS that is not graded, and why."""

    file: str
    why: str


@dataclass
class Found:
    """What a folder of submissions holds."""

    submissions: list[Submission]
    ignored: list[Ignored]
    unsubmitted: list[str]  # archives the roster lists that are not in the folder


@dataclass
class Result:
    """What grading found for one submission."""

    submission: Submission
    tests: list[LabTest]
    runs_per_test: int
    refused: str = ""  # why it was not graded (or "grader error: ..."); "" if it was
    flags: list[str] = field(default_factory=list)  # findings for review
    runs: dict[str, list[Run]] = field(default_factory=dict)  # node id -> its runs
    raft_source: bytes = b""
    isolation: str = ""  # the sandbox its runs were in (sandbox.Isolation.describe())

    @property
    def grader_failed(self) -> bool:
        """Not graded because of a fault of the grader's, rather than the submission's."""
        return self.refused.startswith(GRADER_ERROR)

    def passed(self, test: LabTest) -> int:
        return sum(r.passed for r in self.runs.get(test.node_id, []))

    def earned(self, test: LabTest) -> float:
        """A test's points count only when every run passed."""
        runs = self.runs.get(test.node_id, [])
        return (
            test.points
            if not self.refused and len(runs) == self.runs_per_test and all(r.passed for r in runs)
            else 0.0
        )

    @property
    def score(self) -> float:
        return round(sum(self.earned(t) for t in self.tests), 2)

    @property
    def max_score(self) -> float:
        return round(sum(t.points for t in self.tests), 2)


def name_problem(name: str, also: str = "") -> str:
    """Why name cannot be a student's name ("" if it can): make submit's rules,
    letters, digits, '_', '-' and '.' (and the characters in also), starting with
    a letter or digit, at most MAX_NAME characters."""
    allowed = "_-." + also
    bad = sorted({c for c in name if not (c.isalnum() or c in allowed)})
    if not name:
        return "is empty"
    if len(name) > MAX_NAME:
        return f"is {len(name)} characters long; at most {MAX_NAME} are accepted"
    if bad:
        shown = " ".join(repr(c) for c in bad[:8]) + (" ..." if len(bad) > 8 else "")
        listed = ", ".join(repr(c) for c in allowed)
        return f"holds {shown}: only letters, digits and {listed} are accepted"
    if not name[0].isalnum():
        return "must start with a letter or a digit"
    if len(name.encode()) > MAX_NAME_BYTES:
        return f"is {len(name.encode())} bytes long in UTF-8; at most {MAX_NAME_BYTES} fit"
    return ""


def submitted_name(file_name: str) -> tuple[str, str]:
    """(NAME, "") for project3_NAME.tar.gz, .tgz or .zip, else ("", why it is no submission)."""
    lower = file_name.lower()
    suffix = next((s for s in archive.SUFFIXES if lower.endswith(s)), "")
    if not suffix or not lower.startswith(PREFIX):
        return "", (
            "not named project3_NAME.tar.gz, .tgz or .zip (make submit NAME=First_Last "
            "writes project3_First_Last.tar.gz); rename it, or map it to its student in a roster"
        )
    name = file_name[len(PREFIX) : -len(suffix)]
    why = name_problem(name)
    return (name, "") if not why else ("", f"its NAME {why}: rename it, or use a roster")


def read_roster(path: Path) -> dict[str, str]:
    """Archive file name -> student, from a CSV whose header names the columns
    archive and student; RosterError, saying what to fix, if it cannot be used."""
    where = f"grade: ROSTER={path}"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise RosterError(f"{where} cannot be read: {e}") from None
    reader = csv.reader(io.StringIO(text))
    header = [cell.strip().lower() for cell in next(reader, [])]
    if "archive" not in header or "student" not in header:
        raise RosterError(
            f"{where} needs a first row naming its columns archive and student, e.g. "
            "'archive,student' then 'project3_Ada.tar.gz,ada_lovelace'"
        )
    a, s = header.index("archive"), header.index("student")
    roster: dict[str, str] = {}
    lines: dict[str, int] = {}
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        line = reader.line_num
        if len(row) <= max(a, s):
            raise RosterError(f"{where}, line {line}: the row has no {header[max(a, s)]} cell")
        file_name, student = row[a].strip(), row[s].strip()
        if file_name in roster:
            raise RosterError(
                f"{where} lists {file_name!r} twice (lines {lines[file_name]} and {line}): "
                "give each archive one student"
            )
        why = name_problem(student, also="@")
        if why:
            raise RosterError(f"{where}, line {line}: the student {student!r} {why}")
        roster[file_name], lines[file_name] = student, line
    return roster


def find_submissions(folder: Path, roster: dict[str, str] | None = None) -> Found:
    """The submissions in folder, named as make submit names them or as the roster
    says; every other entry is ignored, with the reason."""
    if not folder.is_dir():
        raise FileNotFoundError(f"grade: SUBMISSIONS={folder} is not a folder")
    found: list[Submission] = []
    ignored: list[Ignored] = []
    for path in sorted(folder.iterdir()):
        if path.is_symlink() or not path.is_file():
            what = "a symbolic link" if path.is_symlink() else "not a regular file"
            ignored.append(Ignored(path.name, f"{what}; a submission is an archive"))
        elif not path.name.lower().endswith(archive.SUFFIXES):
            ignored.append(Ignored(path.name, "not a .tar.gz, .tgz or .zip file"))
        elif roster is not None:
            if path.name in roster:
                found.append(Submission(path, roster[path.name]))
            else:
                ignored.append(Ignored(path.name, "not in the roster"))
        else:
            name, why = submitted_name(path.name)
            if name:
                found.append(Submission(path, name))
            else:
                ignored.append(Ignored(path.name, why))
    claims: dict[str, list[Submission]] = {}
    for sub in found:
        claims.setdefault(sub.name.casefold(), []).append(sub)
    for same in claims.values():
        if len(same) > 1:
            archives = ", ".join(s.path.name for s in same)
            for k, sub in enumerate(same, start=1):
                sub.folder = f"{sub.name}+{k}"
                sub.flags.append(
                    f"claimed twice: {len(same)} archives claim the name {sub.name} ({archives}); "
                    "each is graded, and a person decides which one counts"
                )
    present = {p.name for p in folder.iterdir()}
    unsubmitted = sorted(set(roster or ()) - present)
    return Found(found, ignored, unsubmitted)


def default_budget(tests: list[LabTest], runs: int, limits: Limits) -> float:
    """Seconds a submission's runs may take in all: three times the reference's,
    and one run's time limit more, so a slow but correct Raft never meets it."""
    typical = sum(
        TYPICAL_SECONDS.get(part, TYPICAL_TEST_SECONDS * sum(t.part == part for t in tests))
        for part in {t.part for t in tests}
    )
    return 3 * runs * typical + limits.seconds


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.3g} min"


def grader_error(e: BaseException) -> str:
    """The row of a submission that the grader itself failed on."""
    text = " ".join(str(e).split())
    return f"{GRADER_ERROR}: {type(e).__name__}: {text[:300]}"


def grade_one(
    submission: Submission, pristine: Pristine, tests: list[LabTest], runs: int,
    limits: Limits, on_run: Callable[[Run], None] = lambda run: None,
    budget: float = math.inf,
) -> Result:  # fmt: skip
    """Grade one submission in budget seconds at most; on_run is called after each
    run (for progress).  Only an interrupt (runner.Stopped) escapes: any other
    failure is the result's refusal."""
    result = Result(submission, tests, runs, flags=list(submission.flags),
                    isolation=runner.describe(limits))  # fmt: skip
    if not limits.isolation.sandboxed:
        result.flags.append(f"graded UNSANDBOXED ({result.isolation})")
    private: Path | None = None
    try:
        private = Path(tempfile.mkdtemp(prefix=f"raftlab-grade-{submission.folder[:40]}-"))
        if submission.path.is_dir():
            raft_py = archive.find_raft(submission.path, submission.path.name)
        else:
            unpacked = private / "submission"
            unpacked.mkdir()
            raft_py = archive.unpack(submission.path, unpacked)
        result.raft_source = archive.read_raft(raft_py, submission.path.name)
        result.flags += scan.scan(result.raft_source)
        _run_all(result, pristine, private, limits, on_run, budget)
    except runner.Stopped:
        raise
    except archive.Refused as e:
        result.refused = str(e)
    except Exception as e:
        result.refused = grader_error(e)
    finally:
        if private is not None and not files.remove_tree(private):
            result.flags.append(f"grader: could not remove {private}; remove it by hand")
    return result


def _run_all(
    result: Result, pristine: Pristine, private: Path, limits: Limits,
    on_run: Callable[[Run], None], budget: float,
) -> None:  # fmt: skip
    """Each test's runs, one after another, until the budget is spent; the runs
    left then are recorded as not run."""
    deadline = time.monotonic() + budget
    seeds = random.Random()
    for test in result.tests:
        for number in range(1, result.runs_per_test + 1):
            left = deadline - time.monotonic()
            if left < 1:
                run = Run(
                    test, number, 0, False,
                    f"not run: the submission's time budget ({minutes(budget)}) was used up",
                    0.0, "", "", {}, ran=False,
                )  # fmt: skip
            else:
                capped = left < limits.seconds
                run = run_test(
                    pristine, result.raft_source, test, number, seeds.randrange(1, 2**31),
                    private / f"run-{test.name}-{number}",
                    replace(limits, seconds=left) if capped else limits,
                )  # fmt: skip
                if capped and run.timed_out:
                    run.reason = (
                        f"killed: the submission's time budget ({minutes(budget)}) "
                        "ran out during this run"
                    )
            result.runs.setdefault(test.node_id, []).append(run)
            on_run(run)


def grade_all(
    submissions: list[Submission], pristine: Pristine, tests: list[LabTest], runs: int,
    parallel: int, limits: Limits,
    on_run: Callable[[Run], None] = lambda run: None,
    on_done: Callable[[Result], None] = lambda result: None,
    budget: float = math.inf,
) -> list[Result]:  # fmt: skip
    """Grade submissions, parallel at a time; results in the submissions' order."""
    lock = threading.Lock()  # guards the callbacks, which run on the pool's threads

    def one(submission: Submission) -> Result:
        def ran(run: Run) -> None:
            with lock:
                on_run(run)

        result = grade_one(submission, pristine, tests, runs, limits, ran, budget)
        with lock:
            on_done(result)
        return result

    pool = ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="grade")
    try:
        return list(pool.map(one, submissions))
    except BaseException:  # Ctrl-C: kill the children now, rather than wait for them
        runner.stop_all()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
