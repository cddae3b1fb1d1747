"""make autograder's zip, run end to end as Gradescope would, with /autograder
moved by RAFTLAB_AUTOGRADER_ROOT; results.json checked against Gradescope's
documented fields (gradescope-autograders.readthedocs.io, Autograder Specifications)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import planted
import pytest

from grade import gradescope

TOP_FIELDS = {
    "score", "execution_time", "output", "output_format", "test_output_format",
    "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard",
}  # fmt: skip
TEST_FIELDS = {
    "score", "max_score", "status", "name", "name_format", "number", "output",
    "output_format", "tags", "visibility", "extra_data",
}  # fmt: skip


@pytest.fixture(scope="module")
def autograder_zip(handout_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    return gradescope.build(out, handout_root / ".handout", ["3A"], 1, "visible")


def test_the_zip_has_what_gradescope_runs(autograder_zip: Path) -> None:
    with zipfile.ZipFile(autograder_zip) as z:
        names = set(z.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
        settings = json.loads(z.read("autograder.json"))
    assert {"setup.sh", "run_autograder", "requirements.txt", "pristine/manifest.json",
            "pristine/pristine.tar.gz", "grade/gradescope.py", "grade/points.ini",
            "grade/childside/launch.py"} <= names  # fmt: skip
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert settings == {"parts": ["3A"], "runs": 1, "visibility": "visible", "sealed": True}
    assert not any("raft/log.py" in n or n.endswith(".pyc") for n in names)


def run_autograder(autograder_zip: Path, root: Path, upload: dict[str, bytes]) -> dict[str, Any]:
    with zipfile.ZipFile(autograder_zip) as z:
        z.extractall(root / "source")
    (root / "run_autograder").write_bytes((root / "source" / "run_autograder").read_bytes())
    (root / "venv").symlink_to(sys.prefix)  # setup.sh's venv; here this test's
    (root / "submission").mkdir()
    for name, data in upload.items():
        (root / "submission" / name).write_bytes(data)
    done = subprocess.run(
        ["bash", str(root / "run_autograder")], capture_output=True, text=True, timeout=600,
        env={"PATH": os.environ["PATH"], gradescope.ROOT_ENV: str(root)}, cwd=root,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    results: dict[str, Any] = json.loads((root / "results" / "results.json").read_text())
    check_fields(results)
    return results


def check_fields(results: dict[str, Any]) -> None:
    assert set(results) <= TOP_FIELDS
    assert isinstance(results["score"], float | int) and isinstance(results["tests"], list)
    assert results["visibility"] in gradescope.VISIBILITY
    for test in results["tests"]:
        assert set(test) <= TEST_FIELDS
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert isinstance(test["score"], float | int) and isinstance(test["max_score"], float | int)
        assert test.get("status", "failed") in ("passed", "failed")
        assert test["visibility"] in gradescope.VISIBILITY


def test_the_reference_gets_full_marks(autograder_zip: Path, tmp_path: Path) -> None:
    tarball = planted.tar_gz(
        tmp_path / "project3_Ada.tar.gz", {"raft/raft.py": planted.reference()}
    )
    results = run_autograder(
        autograder_zip, tmp_path / "autograder", {tarball.name: tarball.read_bytes()}
    )
    assert results["score"] == 100
    assert [t["name"] for t in results["tests"]] == [
        "InitialElection3A (3A)", "ReElection3A (3A)", "ManyElections3A (3A)",
    ]  # fmt: skip
    assert all(t["score"] == t["max_score"] > 33 for t in results["tests"])


def test_a_loose_skeleton_gets_zero_and_says_why(
    autograder_zip: Path, tmp_path: Path, handout_root: Path
) -> None:
    upload = {"raft.py": planted.skeleton(handout_root)}
    results = run_autograder(autograder_zip, tmp_path / "autograder", upload)
    assert results["score"] == 0
    first = results["tests"][0]
    assert first["status"] == "failed" and first["score"] == 0
    assert "0 of 1 runs passed" in first["output"]
    assert "failed: AssertionError: expected one leader, got none" in first["output"]
    assert "RAFTLAB_SEED=" in first["output"]


def test_a_refused_upload_scores_zero_with_the_reason(autograder_zip: Path, tmp_path: Path) -> None:
    tarball = planted.tar_gz(
        tmp_path / "p.tar.gz", {"../x": b"", "raft/raft.py": planted.reference()}
    )
    results = run_autograder(
        autograder_zip, tmp_path / "autograder", {tarball.name: tarball.read_bytes()}
    )
    assert results["score"] == 0
    assert results["output"].startswith("Refused: member '../x' climbs out with '..'")
    assert results["extra_data"]["refused"]


def test_flags_reach_the_staff_in_a_hidden_entry(autograder_zip: Path, tmp_path: Path) -> None:
    upload = {"raft.py": planted.reference() + planted.EXITS.encode()}
    results = run_autograder(autograder_zip, tmp_path / "autograder", upload)
    hidden = [t for t in results["tests"] if t["visibility"] == "hidden"]
    assert [t["name"] for t in hidden] == ["FLAGGED FOR REVIEW (staff only)"]
    assert "uses os._exit" in hidden[0]["output"] and hidden[0]["max_score"] == 0
    assert results["score"] == 0 and results["extra_data"]["flags"]
    assert "; sealed: each Raft peer its own process" in hidden[0]["output"]
    assert "; sealed: " in results["extra_data"]["isolation"]  # flagged or not


GRADESCOPE_ATTACK = """
    import json, os, signal, time
    results = os.path.join({root}, "results", "results.json")
    forged = json.dumps({{"score": 100.0, "tests": []}})
    try:  # write the results first, and end the grader before it writes its own
        with open(results, "w") as f:
            f.write(forged)
        os.kill(os.getppid(), signal.SIGKILL)
    except OSError:
        pass
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            if int(pid) != os.getpid():
                os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
    if os.fork() == 0:  # and a daemon that writes them again once the grader is done
        os.setsid()
        if os.fork() == 0:
            for _ in range(2400):
                time.sleep(0.05)
                try:
                    with open(results, "w") as f:
                        f.write(forged)
                except OSError:
                    pass
            os._exit(0)
        os._exit(0)
"""


def test_a_run_cannot_write_results_or_end_the_grader(
    autograder_zip: Path, handout_root: Path, tmp_path: Path
) -> None:
    """The child forges results.json, SIGKILLs what it can see, and leaves a daemon
    to forge it again: the grader's results stand, and the staff's entry with them."""
    import time

    from test_sandbox import with_attack

    root = tmp_path / "autograder"
    payload = GRADESCOPE_ATTACK.format(root=repr(str(root)))
    upload = {"raft.py": with_attack(planted.skeleton(handout_root), payload)}
    results = run_autograder(autograder_zip, root, upload)
    assert results["score"] == 0.0 and results["tests"], results
    staff = [t for t in results["tests"] if t.get("visibility") == "hidden"]
    assert staff and "isolation:" in staff[0]["output"], results["tests"][-1]
    written = (root / "results" / "results.json").read_text()
    time.sleep(3)  # the daemon's time, had it survived
    assert (root / "results" / "results.json").read_text() == written
