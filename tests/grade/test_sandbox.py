"""Each grading run is in an OS sandbox (grade/sandbox.py): planted attacks from
inside a run, each tried in one run of the reference with the attack added, as
the run would meet it under `make grade`.

The attacks run when the submission's raft.py is imported, write what they got
to a file the runner keeps of a failed run (pytest captures their output), and
end the run. A run that
could not be sandboxed here is skipped with the reason, never passed.
"""

from __future__ import annotations

import os
import socket
import sys
import textwrap
import time
from pathlib import Path

import planted
import pytest

from grade import sandbox
from grade.points import LabTest
from grade.pristine import Pristine
from grade.runner import Limits, Run, run_test

REPO = Path(__file__).resolve().parents[2]
ISOLATION = sandbox.detect()

SAY = """

def say(*words):
    import os

    with open(os.path.join(os.environ["RAFTLAB_TIMELINE_DIR"], "attack.txt"), "a") as f:
        f.write(" ".join(map(str, words)) + "\\n")
"""

needs_sandbox = pytest.mark.skipif(
    not ISOLATION.sandboxed or os.geteuid() != 0,
    reason=f"needs root and bubblewrap: {ISOLATION.describe()} (CI installs bubblewrap)",
)


def attack(
    pristine: Pristine, test: LabTest, payload: str, tmp: Path, **limits: float
) -> Run:
    code = SAY + "\n\ndef _attack():\n" + payload + "\n\n_attack()\n"
    source = planted.reference() + code.encode()
    limits_ = Limits(**limits, isolation=ISOLATION)  # type: ignore[arg-type]
    return run_test(pristine, source, test, 1, 7, tmp / "run", limits_)


def survivors(tmp_path: Path) -> list[str]:
    """Processes still running of this test's runs (their command lines name tmp_path)."""
    lines = os.popen("ps -eo user,args --width 4000").read().splitlines()
    return [line for line in lines if str(tmp_path) in line and "ps -eo" not in line]


def said(run: Run) -> str:
    """What the attack wrote with say()."""
    return run.files.get("attack.txt", b"").decode()


@needs_sandbox
def test_the_reference_passes_in_the_sandbox(
    pristine: Pristine, first_test: LabTest, tmp_path: Path
) -> None:
    run = run_test(pristine, planted.reference(), first_test, 1, 7, tmp_path / "run",
                   Limits(isolation=ISOLATION))  # fmt: skip
    assert run.passed, run.output
    assert list(tmp_path.iterdir()) == []


@needs_sandbox
def test_a_run_sees_only_its_own_folder(
    pristine: Pristine, first_test: LabTest, tmp_path: Path, handout_root: Path
) -> None:
    outside = tmp_path / "outside.txt"
    payload = f"""
    import os
    got = []
    here = os.getcwd()
    for path in {[str(REPO / "raft" / "raft.py"), str(REPO / "grade" / "points.ini"), str(REPO),
                  str(handout_root / ".handout"), "/etc/passwd", str(tmp_path.parent), "/home"]!r}:
        try:
            if os.path.isdir(path):  # bwrap makes the folders on the way to the run's own
                seen = [e for e in os.listdir(path)
                        if not here.startswith(os.path.join(path, e) + os.sep)]
                if seen:
                    got.append("listed " + path)
            else:
                open(path).read()
                got.append("read " + path)
        except OSError:
            pass
    for path in ({str(outside)!r}, {str(REPO / "grade" / "x.py")!r}, "/usr/x"):
        try:
            open(path, "w").write("x")
            got.append("wrote " + path)
        except OSError:
            pass
    if len([p for p in os.listdir("/proc") if p.isdigit()]) > 10:
        got.append("saw the host's processes")
    interpreter = {str(Path(sys.base_prefix).resolve())!r}  # bound at its own path
    if os.path.isdir("/root") and not all(interpreter.startswith("/root/" + e)
                                          for e in os.listdir("/root")):
        got.append("listed /root: " + str(os.listdir("/root")))
    say("ATTACK got", got, "uid", os.getuid())
    os._exit(3)
"""
    run = attack(pristine, first_test, payload, tmp_path)
    assert "ATTACK got [] uid 65534" in said(run), said(run) + run.output
    assert not outside.exists() and not (REPO / "grade" / "x.py").exists()


@needs_sandbox
def test_a_run_has_no_network(pristine: Pristine, first_test: LabTest, tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.1)
        port = listener.getsockname()[1]
        payload = f"""
    import socket
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=2)
        say("ATTACK connected")
    except OSError as e:
        say("ATTACK no connection:", type(e).__name__)
    import os
    os._exit(3)
"""
        run = attack(pristine, first_test, payload, tmp_path)
        with pytest.raises(TimeoutError):
            listener.accept()
    assert "ATTACK no connection" in said(run), said(run) + run.output


@needs_sandbox
def test_a_double_fork_with_setsid_dies_with_the_run(
    pristine: Pristine, first_test: LabTest, tmp_path: Path
) -> None:
    survivor = tmp_path / "survivor"
    survivor.mkdir(mode=0o777)
    payload = f"""
    import os, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            for _ in range(60):  # outlive the run, then write where the test can see
                time.sleep(0.1)
                try:
                    open({str(survivor / "alive")!r}, "w").write("alive")
                except OSError:
                    pass
            os._exit(0)
        os._exit(0)
    time.sleep(0.3)
    say("ATTACK forked")
    os._exit(3)
"""
    run = attack(pristine, first_test, payload, tmp_path)
    assert "ATTACK forked" in said(run), said(run) + run.output
    time.sleep(2)
    assert not (survivor / "alive").exists()  # not visible from inside, and dead anyway
    assert not survivors(tmp_path)


@needs_sandbox
def test_memory_through_forks_is_capped_for_the_whole_run(
    pristine: Pristine, first_test: LabTest, tmp_path: Path
) -> None:
    if ISOLATION.cgroup == "":
        pytest.skip("no cgroup here: memory is capped per process only")
    payload = """
    import os, time
    children = []
    for _ in range(6):
        pid = os.fork()
        if pid == 0:
            block = bytearray(200 * 1024 * 1024)  # each under the per-process limit
            for i in range(0, len(block), 4096):
                block[i] = 1
            time.sleep(5)
            os._exit(0)
        children.append(pid)
    survived = sum(os.waitpid(pid, 0)[1] == 0 for pid in children)
    say("ATTACK children that kept 200 MB:", survived)
    os._exit(3)
"""
    run = attack(pristine, first_test, payload, tmp_path, run_memory_bytes=512 * 1024**2)
    assert "memory limit" in run.reason or "ATTACK children that kept 200 MB: " in said(run)
    kept = [line for line in said(run).splitlines() if "kept 200 MB" in line]
    assert not kept or int(kept[0].split(":")[-1]) <= 2, said(run) + run.output


@needs_sandbox
def test_processes_are_capped_for_the_whole_run(
    pristine: Pristine, first_test: LabTest, tmp_path: Path
) -> None:
    payload = """
    import os, time
    started = 0
    for _ in range(300):
        try:
            if os.fork() == 0:
                time.sleep(3)
                os._exit(0)
            started += 1
        except OSError:
            break
    say("ATTACK started", started)
    os._exit(3)
"""
    run = attack(pristine, first_test, payload, tmp_path, processes=64)
    started = [line for line in said(run).splitlines() if line.startswith("ATTACK started")]
    assert started and int(started[0].split()[-1]) < 64, said(run) + run.output


@needs_sandbox
def test_cpu_time_is_capped_for_the_whole_run(
    pristine: Pristine, first_test: LabTest, tmp_path: Path
) -> None:
    if ISOLATION.cgroup == "":
        pytest.skip("no cgroup here: CPU time is not measured for the whole run")
    payload = """
    import os, time
    for _ in range(3):
        if os.fork() == 0:
            while True:
                pass
    time.sleep(60)
"""
    start = time.monotonic()
    run = attack(pristine, first_test, payload, tmp_path, cpu_seconds=2)
    assert run.reason.startswith("killed: used over 2 s of CPU time"), run.reason
    assert time.monotonic() - start < 20


# -- a whole grading: attackers beside a correct Raft -------------------------------

HOSTILE = {
    # Each is the skeleton (which scores 0) plus what it tries at import.
    "Thief": """
    import sys, types
    log = sys.modules["raft.log"] = types.ModuleType("raft.log")  # the reference imports it
    with open({repo} + "/raft/log.py") as f:
        exec(compile(f.read(), "log.py", "exec"), log.__dict__)
    exec_reference({repo} + "/raft/raft.py")  # the reference's Raft: 100, if it could read it
""",
    "Classmate": """
    import tarfile
    folder = {submissions}
    with tarfile.open(folder + "/project3_Reference.tar.gz") as tar:
        text = tar.extractfile("raft/raft.py").read().decode()
    exec_text(text)
""",
    "Vandal": """
    for path in ({repo} + "/grade/childside/raftlab_grade_report.py",
                 {handout} + "/manifest.json", {submissions} + "/project3_Reference.tar.gz",
                 {grades} + "/grades.csv", "/tmp/../" + {repo} + "/README.md"):
        try:
            with open(path, "a") as f:
                f.write("0wned")
        except OSError:
            pass
""",
    "Daemon": """
    import os, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            for _ in range(3600):  # once the grader is done, rewrite the grades
                time.sleep(0.05)
                for run in os.listdir({grades}) if os.path.isdir({grades}) else []:
                    try:
                        open(os.path.join({grades}, run, "grades.csv"), "w").write("0wned")
                    except OSError:
                        pass
            os._exit(0)
        os._exit(0)
""",
    "Killer": """
    import os, signal
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) not in (os.getpid(), 1):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
""",
    "Hog": """
    import os
    for _ in range(6):
        if os.fork() == 0:
            block = bytearray(900 * 1024 * 1024)
            for i in range(0, len(block), 4096):
                block[i] = 1
            with open("/tmp/fill", "ab") as f:  # disk outside its folder: a tmpfs here
                f.write(bytes(200 * 1024 * 1024))
            os._exit(0)
""",
}

HELPERS = '''

def exec_text(text):  # the stolen Raft defined as this module's own
    exec(compile(text, __file__, "exec"), globals())


def exec_reference(path):
    with open(path) as f:
        return exec_text(f.read())
'''


def with_attack(source: bytes, payload: str, helpers: str = "") -> bytes:
    """source, then payload (an indented block) run at import, its errors ignored."""
    body = textwrap.indent(textwrap.dedent(payload), "        ")
    code = f"{helpers}\n\ndef _attack():\n    try:\n{body}\n    except Exception:\n        pass\n"
    return source + (code + "\n\n_attack()\n").encode()


def _tree_hashes(*folders: Path) -> dict[str, str]:
    import hashlib

    found = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and ".git" not in path.parts:
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@needs_sandbox
def test_attackers_graded_beside_a_correct_raft(handout_root: Path, tmp_path: Path) -> None:
    from test_hostile import grade

    folder = tmp_path / "submissions"
    folder.mkdir()
    grades = tmp_path / "grades"
    names = {
        "repo": repr(str(REPO)), "submissions": repr(str(folder)),
        "handout": repr(str(handout_root / ".handout")), "grades": repr(str(grades)),
    }  # fmt: skip
    planted.tar_gz(folder / "project3_Reference.tar.gz", {"raft/raft.py": planted.reference()})
    skeleton = planted.skeleton(handout_root)
    for name, payload in HOSTILE.items():
        source = with_attack(skeleton, payload.format(**names), HELPERS)
        planted.tar_gz(folder / f"project3_{name}.tar.gz", {"raft/raft.py": source})
    watched = (REPO / "grade", REPO / "raft", REPO / "tests", handout_root / ".handout", folder)
    before = _tree_hashes(*watched) | {"README": _tree_hashes(REPO)[str(REPO / "README.md")]}
    graded = grade(handout_root, folder, grades)
    assert "grade: isolation: bubblewrap" in graded["output"], graded["output"]
    rows = {row["name"]: row for row in graded["rows"]}
    assert rows["Reference"]["score"] == "100", graded["output"]
    for name in HOSTILE:
        assert rows[name]["score"] == "0", (name, rows[name])
    csv_before = (graded["dir"] / "grades.csv").read_bytes()
    report = graded["dir"] / "submissions" / "Reference" / "report.txt"
    report_before = report.read_bytes()
    time.sleep(3)  # the Daemon's time, had it survived
    assert (graded["dir"] / "grades.csv").read_bytes() == csv_before
    assert report.read_bytes() == report_before
    after = _tree_hashes(*watched) | {"README": _tree_hashes(REPO)[str(REPO / "README.md")]}
    assert after == before
    assert not survivors(tmp_path)


def test_without_a_sandbox_grading_is_refused_unless_asked(
    handout_root: Path, tmp_path: Path
) -> None:
    import subprocess

    folder = tmp_path / "submissions"
    folder.mkdir()
    planted.tar_gz(folder / "project3_Reference.tar.gz", {"raft/raft.py": planted.reference()})
    command = [
        sys.executable, "-m", "grade", str(folder), "--parts", "3A", "--runs", "1",
        "--out", str(tmp_path / "grades"), "--handout", str(handout_root / ".handout"),
    ]  # fmt: skip
    no_bwrap = {**os.environ, "PATH": "/nonexistent"}
    refused = subprocess.run(command, cwd=REPO, env=no_bwrap, capture_output=True, text=True,
                             timeout=300)  # fmt: skip
    assert refused.returncode == 2
    assert "grade: refusing to grade: isolation: NONE (bubblewrap is not installed" in (
        " ".join(refused.stderr.split())
    ), refused.stderr
    assert not (tmp_path / "grades").exists()
    graded = subprocess.run(command, cwd=REPO, env={**no_bwrap, "UNSANDBOXED": "1"},
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert graded.returncode == 0, graded.stdout + graded.stderr
    (run_dir,) = (tmp_path / "grades").iterdir()
    assert "graded UNSANDBOXED (isolation: NONE" in (run_dir / "grades.csv").read_text()
    report = (run_dir / "submissions" / "Reference" / "report.txt").read_text()
    assert "the runs' isolation: NONE (bubblewrap is not installed" in report


def test_grading_stops_when_what_it_trusts_changes(handout_root: Path, tmp_path: Path) -> None:
    """Unsandboxed (so that the attack can reach it), a run rewrites the pristine
    handout's manifest: grading stops with that line, and writes no grades."""
    import shutil
    import subprocess

    handout = tmp_path / "handout"
    shutil.copytree(handout_root / ".handout", handout)
    folder = tmp_path / "submissions"
    folder.mkdir()
    payload = f"""
    with open({str(handout / "manifest.json")!r}, "a") as f:
        f.write(" ")
"""
    source = with_attack(planted.reference(), payload)
    planted.tar_gz(folder / "project3_Rehasher.tar.gz", {"raft/raft.py": source})
    done = subprocess.run(
        [sys.executable, "-m", "grade", str(folder), "--parts", "3A", "--runs", "1",
         "--out", str(tmp_path / "grades"), "--handout", str(handout), "--unsandboxed"],
        cwd=REPO, env={**os.environ, "PATH": "/nonexistent", "COLUMNS": "500"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if "runs as uid" in done.stderr:
        pytest.skip("runs drop to an unprivileged uid here, which cannot reach the handout")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "grade: STOPPED: " in done.stderr and "manifest.json changed while grading" in (
        " ".join(done.stderr.split())
    ), done.stderr
    assert not (tmp_path / "grades").exists() or not list((tmp_path / "grades").rglob("grades.csv"))
