"""Sealed grading (make grade's default): the in-process attacks of issue 20 score 0.

In-process, the student's raft.py runs in the process of pytest, the tester and
the grader's report plugin, and each of these planted submissions (the skeleton
or the reference, plus a payload) passes what it attacks: it writes the report
the grader trusts, patches the tester's checks or pytest's reports from inside
Make(), or lets its peers agree through a module global. Sealed, each peer is a
process of its own in a sandbox of its own, and the test process runs no student
code: each scores 0 in one `python -m grade` beside a correct Raft, which keeps
full marks. In-process, each passes the first 3A test (InitialElection3A), run
once here with the runner as make grade SEALED=0 runs it.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import planted
import pytest

from grade import runner, sandbox
from grade.points import LabTest
from grade.pristine import Pristine
from grade.runner import Limits, run_test

ISOLATION = sandbox.detect()
needs_sandbox = pytest.mark.skipif(
    not ISOLATION.sandboxed or os.geteuid() != 0,
    reason=f"needs root and bubblewrap: {ISOLATION.describe()} (CI installs bubblewrap)",
)

# Each: (the skeleton or the reference, what is added at the end of its raft.py).
ATTACKS: dict[str, tuple[str, str]] = {
    # The report the grader trusts, found as the student's code would find it, written
    # with every test passed; then exit 0 before any test runs.
    "Forger": ("skeleton", """
def _forge():
    import json, os, sys

    paths, nodes = set(), set()

    def look(words):
        for word in words:
            if word.startswith("--grade-report="):
                paths.add(word.split("=", 1)[1])
            elif "::test_" in word:
                nodes.add(word)

    look(sys.argv)
    for pid in ["self", str(os.getppid()), *os.listdir("/proc")]:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                look(f.read().decode(errors="replace").split("\\0"))
        except OSError:
            pass
    for name in ("HOME", "RAFTLAB_TIMELINE_DIR", "TMPDIR"):
        if os.environ.get(name):
            folder = os.environ[name].rstrip("/")
            paths |= {folder + "/report.json", os.path.dirname(folder) + "/report.json"}
    tests = ("InitialElection3A", "ReElection3A", "ManyElections3A")
    nodes = nodes or {f"tests/lab/test_raft_3a.py::test_{t}" for t in tests}
    phases = {"setup": "passed", "call": "passed", "teardown": "passed"}
    report = {"exitstatus": 0, "collect_errors": [], "raft_modules": [],
              "tests": {node: {"phases": phases, "failure": ""} for node in nodes}}
    for path in paths:
        try:
            with open(path, "w") as f:
                json.dump(report, f)
        except OSError:
            pass
    os._exit(0)


_forge()
"""),
    # From inside Make(), up the frames to the tester's Config: its checks replaced.
    "FrameWalker": ("skeleton", """
_make = Make


def Make(peers, me, persister, applyCh):
    import sys

    frame = sys._getframe(1)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            cls = type(value)
            if cls.__name__ == "Config" and hasattr(cls, "checkOneLeader"):
                cls.checkOneLeader = lambda self: 0
                cls.checkTerms = lambda self: 1
                cls.checkNoLeader = lambda self: None
        frame = frame.f_back
    return _make(peers, me, persister, applyCh)
"""),
    # pytest's TestReport made to read "passed", whatever happened.
    "PytestPatcher": ("skeleton", """
def _patch():
    try:
        from _pytest import reports
    except ImportError:
        return
    init = reports.TestReport.__init__

    def passed(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.outcome = "passed"
        self.longrepr = None

    reports.TestReport.__init__ = passed


_patch()
"""),
    # The peers agree through a module global, not RPCs: the first made is the leader.
    "SharedMemory": ("skeleton", """
_cluster = {"leader": None}
_make = Make


def Make(peers, me, persister, applyCh):
    rf = _make(peers, me, persister, applyCh)
    if _cluster["leader"] is None:
        _cluster["leader"] = me
    return rf


def _get_state(self):
    return 1, _cluster["leader"] == self.me


Raft.GetState = _get_state
"""),
    # A correct Raft whose peer host writes garbage to its channel and its lanes (their
    # fds are in argv).
    "Garbage": ("reference", """
_make = Make


def Make(peers, me, persister, applyCh):
    import os, struct, sys

    rf = _make(peers, me, persister, applyCh)
    fds = sys.argv[1].split(",") if sys.argv[1:2] else []
    if sys.argv[0].endswith("__main__.py") and fds and all(fd.isdigit() for fd in fds):
        for fd in fds:
            os.write(int(fd), struct.pack("<I", 12) + b"\\xde\\xad\\xbe\\xef" * 3)
    return rf
"""),
}


def source(name: str, handout_root: Path) -> bytes:
    base, payload = ATTACKS[name]
    raft = planted.reference() if base == "reference" else planted.skeleton(handout_root)
    return raft + b"\n\n" + textwrap.dedent(payload).encode()


@needs_sandbox
@pytest.mark.parametrize("name", list(ATTACKS))
def test_each_attack_passes_in_process(
    name: str, pristine: Pristine, first_test: LabTest, handout_root: Path, tmp_path: Path
) -> None:
    """What sealed mode is for: in-process (make grade SEALED=0), each passes."""
    run = run_test(pristine, source(name, handout_root), first_test, 1, 7, tmp_path / "run",
                   Limits(isolation=ISOLATION))  # fmt: skip
    assert run.passed, (run.reason, run.output[-3000:])


@pytest.fixture(scope="module")
def sealed_grading(handout_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from test_hostile import grade

    folder = tmp_path_factory.mktemp("submissions")
    planted.tar_gz(folder / "project3_Reference.tar.gz", {"raft/raft.py": planted.reference()})
    for name in ATTACKS:
        raft_py = source(name, handout_root)
        planted.tar_gz(folder / f"project3_{name}.tar.gz", {"raft/raft.py": raft_py})
    graded = grade(handout_root, folder, tmp_path_factory.mktemp("grades"))
    graded["by_name"] = {row["name"]: row for row in graded["rows"]}
    return graded


@needs_sandbox
def test_sealed_the_correct_raft_keeps_full_marks(sealed_grading: dict[str, Any]) -> None:
    reference = sealed_grading["by_name"]["Reference"]
    assert (reference["score"], reference["max_score"]) == ("100", "100"), sealed_grading["output"]
    assert "grade: isolation: bubblewrap" in sealed_grading["output"]
    assert "; sealed: each Raft peer its own process, in a sandbox of its own" in (
        " ".join(sealed_grading["output"].split())
    )  # fmt: skip
    text = (sealed_grading["dir"] / "submissions" / "Reference" / "report.txt").read_text()
    assert "the runs' isolation: bubblewrap" in text and "; sealed: each Raft peer" in text


@needs_sandbox
@pytest.mark.parametrize("name", list(ATTACKS))
def test_sealed_each_attack_scores_0(name: str, sealed_grading: dict[str, Any]) -> None:
    row = sealed_grading["by_name"][name]
    assert (row["score"], row["refused"]) == ("0", ""), row
    assert all(row[t] == "0/1" for t in ("InitialElection3A", "ReElection3A", "ManyElections3A"))


@needs_sandbox
def test_sealed_garbage_fails_with_a_clear_line(sealed_grading: dict[str, Any]) -> None:
    """The tester does not crash: each test runs, and fails saying why."""
    text = (sealed_grading["dir"] / "submissions" / "Garbage" / "report.txt").read_text()
    assert text.count("sent a malformed message") == 3, text


@needs_sandbox
def test_a_sealed_peer_sees_only_the_copy(
    pristine: Pristine, first_test: LabTest, tmp_path: Path
) -> None:
    """A peer host's view: its uid, no other process, the copy read-only (its .raftlab
    empty), nothing of the run's folder, no network; what it prints reaches the report."""
    probe = f"""

def _probe():
    import os, socket, sys

    got = []
    here = os.getcwd()
    run = os.path.dirname(here)
    got.append("uid %d" % os.getuid())
    got.append("pids %d" % len([p for p in os.listdir("/proc") if p.isdigit()]))
    got.append("run folder %s" % sorted(os.listdir(run)))
    got.append(".raftlab %s" % os.listdir(".raftlab"))
    for path in (run + "/report.json", run + "/kept", {str(Path(runner.__file__).parent)!r}):
        got.append("%s %s" % (os.path.basename(path), os.path.exists(path)))
    try:
        open("raft/raft.py", "a").close()
        got.append("wrote the copy")
    except OSError:
        got.append("copy read-only")
    open("/tmp/mine", "w").write("x")  # a private tmp of its own
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=1)
        got.append("network")
    except OSError:
        got.append("no network")
    print("PROBE " + "; ".join(got), file=sys.stderr, flush=True)
    os._exit(3)


_probe()
"""
    limits = Limits(isolation=ISOLATION, sealed=True)
    run = run_test(pristine, planted.reference() + probe.encode(), first_test, 1, 7,
                   tmp_path / "run", limits)  # fmt: skip
    lines = [line for line in (run.failure + run.output).splitlines() if "PROBE uid" in line]
    assert lines, run.output[-3000:]
    seen = lines[0][lines[0].index("PROBE ") :]
    uid = ISOLATION.uid if ISOLATION.uid is not None else os.getuid()
    assert seen == (
        f"PROBE uid {uid}; pids 2; run folder ['handout']; .raftlab []; report.json False; "
        "kept False; grade False; copy read-only; no network"
    ), seen
    assert not run.passed


def test_a_sealed_report_that_names_raft_modules_fails_the_run() -> None:
    assert runner.student_code_in_test_process({"raft_modules": []}) == ""
    why = runner.student_code_in_test_process({"raft_modules": ["raft", "raft.raft"]})
    assert why.startswith("sealed, but the test process loaded raft, raft.raft")
    assert runner.student_code_in_test_process({"tests": {}}).startswith("sealed, but")


def test_the_reports_name_the_way_runs_ran() -> None:
    none = sandbox.unsandboxed("no bwrap here")
    assert runner.describe(Limits(isolation=none, sealed=True)) == (
        f"{none.describe()}; sealed: each Raft peer its own process; pytest, the tester "
        "and the report in a process that runs no student code"
    )
    assert runner.describe(Limits(isolation=none)).endswith(
        "; in-process: the Raft in the process of pytest, the tester and the report"
    )

