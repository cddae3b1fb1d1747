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
import time
from pathlib import Path

import planted
import pytest

from grade import sandbox
from grade.points import LabTest, lab_tests
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

pytestmark = pytest.mark.skipif(
    not ISOLATION.sandboxed or os.geteuid() != 0,
    reason=f"needs root and bubblewrap: {ISOLATION.describe()} (CI installs bubblewrap)",
)


@pytest.fixture(scope="module")
def pristine(handout_root: Path) -> Pristine:
    return Pristine(handout_root / ".handout")


@pytest.fixture(scope="module")
def first_test(pristine: Pristine) -> LabTest:
    return lab_tests(pristine.lab_tests, ["3A"])[0]


def attack(
    pristine: Pristine, test: LabTest, payload: str, tmp: Path, **limits: float
) -> Run:
    code = SAY + "\n\ndef _attack():\n" + payload + "\n\n_attack()\n"
    source = planted.reference() + code.encode()
    limits_ = Limits(**limits)  # type: ignore[arg-type]
    return run_test(pristine, source, test, 1, 7, tmp / "run", limits_, ISOLATION)


def said(run: Run) -> str:
    """What the attack wrote with say()."""
    return run.files.get("attack.txt", b"").decode()


def test_the_reference_passes_in_the_sandbox(
    pristine: Pristine, first_test: LabTest, tmp_path: Path
) -> None:
    run = run_test(pristine, planted.reference(), first_test, 1, 7, tmp_path / "run",
                   Limits(), ISOLATION)  # fmt: skip
    assert run.passed, run.output
    assert list(tmp_path.iterdir()) == []


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
    assert not [line for line in os.popen("ps -eo user,args").read().splitlines()
                if line.startswith("nobody")]  # fmt: skip


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
