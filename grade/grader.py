"""Grade submissions: unpack, scan, run every chosen lab test RUNS times, score.

Submissions are graded P at a time, each in its own private folder; a
submission's runs go one after another, so a submission never competes with
itself for the machine.  Nothing here trusts the submission: the archive is
checked before it is unpacked (archive.py), the code is read but never run in
this process (scan.py), and every run is a child with limits (runner.py).
"""

from __future__ import annotations

import random
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from grade import archive, runner, scan
from grade.points import LabTest
from grade.pristine import Pristine
from grade.runner import Limits, Run, run_test

_NAME = re.compile(r"^project3[_-](?P<name>.+)$", re.IGNORECASE)


@dataclass
class Submission:
    """One submission: an archive, or a folder that holds raft/raft.py (Gradescope's)."""

    path: Path
    name: str


@dataclass
class Result:
    """What grading found for one submission."""

    submission: Submission
    tests: list[LabTest]
    runs_per_test: int
    refused: str = ""  # why it was not graded; "" if it was
    flags: list[str] = field(default_factory=list)  # scan findings, for review
    runs: dict[str, list[Run]] = field(default_factory=dict)  # node id -> its runs
    raft_source: bytes = b""

    def passed(self, test: LabTest) -> int:
        return sum(r.passed for r in self.runs.get(test.node_id, []))

    def earned(self, test: LabTest) -> float:
        """A test's points count only when every run passed."""
        runs = self.runs.get(test.node_id, [])
        return (
            test.points if len(runs) == self.runs_per_test and all(r.passed for r in runs) else 0.0
        )

    @property
    def score(self) -> float:
        return round(sum(self.earned(t) for t in self.tests), 2)

    @property
    def max_score(self) -> float:
        return round(sum(t.points for t in self.tests), 2)


def find_submissions(folder: Path) -> tuple[list[Submission], list[Path]]:
    """The archives in folder, named after project3_NAME, and the files skipped."""
    if not folder.is_dir():
        raise FileNotFoundError(f"grade: SUBMISSIONS={folder} is not a folder")
    found: list[Submission] = []
    skipped: list[Path] = []
    taken: set[str] = set()
    for path in sorted(folder.iterdir()):
        if not archive.is_archive(path) or path.is_symlink():
            skipped.append(path)
            continue
        stem = path.name
        for suffix in archive.SUFFIXES:
            if stem.lower().endswith(suffix):
                stem = stem[: -len(suffix)]
        match = _NAME.match(stem)
        name = _safe(match.group("name") if match else stem)
        unique, n = name, 2
        while unique.lower() in taken:
            unique, n = f"{name}-{n}", n + 1
        taken.add(unique.lower())
        found.append(Submission(path, unique))
    return found, skipped


def _safe(name: str) -> str:
    """A name fit for a folder and a CSV cell."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "unnamed"


def grade_one(
    submission: Submission, pristine: Pristine, tests: list[LabTest], runs: int,
    limits: Limits, on_run: Callable[[Run], None] = lambda run: None,
) -> Result:  # fmt: skip
    """Grade one submission; on_run is called after each run (for progress)."""
    result = Result(submission, tests, runs)
    private = Path(tempfile.mkdtemp(prefix=f"raftlab-grade-{submission.name}-"))
    try:
        try:
            if submission.path.is_dir():
                raft_py = archive.find_raft(submission.path, submission.path.name)
            else:
                unpacked = private / "submission"
                unpacked.mkdir()
                raft_py = archive.unpack(submission.path, unpacked)
            result.raft_source = raft_py.read_bytes()
        except archive.Refused as e:
            result.refused = str(e)
            return result
        result.flags = scan.scan(result.raft_source.decode(errors="replace"))
        seeds = random.Random()
        for test in tests:
            for number in range(1, runs + 1):
                run = run_test(
                    pristine, result.raft_source, test, number, seeds.randrange(1, 2**31),
                    private / f"run-{test.name}-{number}", limits,
                )  # fmt: skip
                result.runs.setdefault(test.node_id, []).append(run)
                on_run(run)
        return result
    finally:
        shutil.rmtree(private, ignore_errors=True)


def grade_all(
    submissions: list[Submission], pristine: Pristine, tests: list[LabTest], runs: int,
    parallel: int, limits: Limits,
    on_run: Callable[[Run], None] = lambda run: None,
    on_done: Callable[[Result], None] = lambda result: None,
) -> list[Result]:  # fmt: skip
    """Grade submissions, parallel at a time; results in the submissions' order."""
    lock = threading.Lock()  # guards the callbacks, which run on the pool's threads

    def one(submission: Submission) -> Result:
        def ran(run: Run) -> None:
            with lock:
                on_run(run)

        result = grade_one(submission, pristine, tests, runs, limits, ran)
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
