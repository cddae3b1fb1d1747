"""make handout and the handout's make submit, tried as course staff and a student would.

The handout is built once into a temporary folder; each test that changes it
works on a copy of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from handout import build, markers

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def handout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build.build(tmp_path_factory.mktemp("dist"))


@pytest.fixture
def student(handout: Path, tmp_path: Path) -> Path:
    """A student's copy of the handout."""
    copy = tmp_path / "project3"
    shutil.copytree(handout, copy)
    return copy


def run(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "RAFTLAB_"))}
    env["PYTHONPATH"] = str(cwd)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def submit(cwd: Path, name: str) -> subprocess.CompletedProcess[str]:
    return run(cwd, "-m", "tools.submit", "--name", name)


def make(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The handout's make, with a .venv it takes as installed and this Python as its
    python, so that a target runs only its own command."""
    (cwd / ".venv" / "bin").mkdir(parents=True, exist_ok=True)
    (cwd / ".venv" / "bin" / "python").touch()
    for stamp in (".installed-test", ".installed-lint"):  # in the order make wants them
        (cwd / ".venv" / stamp).touch()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "RAFTLAB_"))}
    clean.pop("NAME", None)
    clean.update(PYTHONPATH=str(cwd), PYTHONDONTWRITEBYTECODE="1", **(env or {}))
    return subprocess.run(
        ["make", "-s", *args, f"PY={sys.executable}"],
        cwd=cwd, env=clean, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


# -- make handout -------------------------------------------------------------------


def test_the_handout_holds_the_lab_and_no_solution(handout: Path) -> None:
    files = {p.relative_to(handout).as_posix() for p in handout.rglob("*") if p.is_file()}
    for expected in (
        "raft/raft.py", "raft/persister.py", "raft/__init__.py", "labrpc/network.py",
        "labgob/codec.py", "tests/conftest.py", "tests/harness/config.py",
        "tests/lab/test_raft_3a.py", "tests/lab/test_raft_3b.py", "tests/lab/test_raft_3c.py",
        "tests/lab/test_raft_3d.py",
        "tools/stress.py", "tools/submit.py", "Makefile", "README.md", "setup.cfg",
        "docs/porting-from-go.md", ".handout/manifest.json", ".handout/pristine.tar.gz",
    ):  # fmt: skip
        assert expected in files
    assert "raft/log.py" not in files
    assert not [f for f in files if f.startswith(("tests/tester/", "tests/reference/", "bench/"))]
    reference = (REPO / "raft" / "raft.py").read_text()
    skeleton = (handout / "raft" / "raft.py").read_text()
    assert skeleton == markers.split(reference).skeleton
    for rel in files - {".handout/pristine.tar.gz"}:
        text = (handout / rel).read_text()
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, rel
    targets = ("test-3A:", "test-3B:", "test-3C:", "test-3D:", "test-race:", "stress:", "submit:")
    for target in targets:
        assert target in (handout / "Makefile").read_text()


def test_the_skeleton_mirrors_go_s(handout: Path) -> None:
    skeleton = (handout / "raft" / "raft.py").read_text()
    for piece in (
        "class ApplyMsg", "self.mu = threading.Lock()", "self.peers = peers",
        "self.persister = persister", "self.me = me", "self.dead = False",
        "# Your code here (3A).", "# e = labgob.NewEncoder(w)", "def Snapshot(",
        "# Your code here (3D).", "In part 3D you'll want to send other kinds of messages",
        "class RequestVoteArgs", "class RequestVoteReply", "def RequestVote(",
        "def sendRequestVote(", "Call() is guaranteed to return", "def Start(",
        "def Kill(", "def killed(", "ms = 50 + random.randrange(300)", "def Make(",
        'threading.Thread(target=rf.ticker',
    ):  # fmt: skip
        assert piece in skeleton, piece


def test_the_manifest_and_the_pristine_copy_match_the_files(handout: Path) -> None:
    manifest = json.loads((handout / ".handout" / "manifest.json").read_text())
    assert manifest["student_files"] == ["raft/raft.py"]
    assert len(manifest["lab_tests"]) == 42
    assert all(t.startswith("tests/lab/test_raft_") for t in manifest["lab_tests"])
    with tarfile.open(handout / ".handout" / "pristine.tar.gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == set(manifest["files"])
        for rel, digest in manifest["files"].items():
            assert hashlib.sha256((handout / rel).read_bytes()).hexdigest() == digest
            data = tar.extractfile(members[rel])
            assert data is not None and hashlib.sha256(data.read()).hexdigest() == digest
    with tarfile.open(handout.parent / "project3.tar.gz") as tar:
        names = set(tar.getnames())
    assert {f"project3/{rel}" for rel in manifest["files"]} <= names
    assert "project3/.handout/manifest.json" in names


def test_a_solution_line_in_a_handed_out_file_fails_the_build(student: Path) -> None:
    split = markers.split((REPO / "raft" / "raft.py").read_text())
    line = next(
        s.strip() for s in split.solution_lines if "self.commit_index = min(" in s
    )
    notes = student / "docs" / "notes.md"
    notes.write_text(f"a hint:\n    {line}\n")
    with pytest.raises(build.HandoutError, match=r"docs/notes\.md: self\.commit_index = min\("):
        build._check_no_solution(student, split)


# A path in prose: folders and a file name with an extension; not part of a URL, a
# hidden folder (.raftlab/, .venv/: made at run time) or a longer path.
_PATH = re.compile(
    r"(?<![\w./:<>-])((?:[A-Za-z_][\w-]*/)+(?:[\w-]+\.(?:py|md|html|json|cfg|toml|ini|txt))?)"
    r"(?![\w/-])"
)


def test_the_handed_out_docs_name_no_file_the_handout_lacks(handout: Path) -> None:
    docs = sorted(handout.rglob("*.md")) + [handout / "Makefile"]
    assert {"README.md", "docs/porting-from-go.md", "tests/harness/README.md"} <= {
        p.relative_to(handout).as_posix() for p in docs
    }
    missing = [
        f"{doc.relative_to(handout)}: {path}"
        for doc in docs
        for path in _PATH.findall(doc.read_text())
        if not (handout / path).exists()
    ]
    assert not missing, missing


def test_the_student_s_porting_guide_is_the_repository_s_less_what_reads_the_reference(
    handout: Path,
) -> None:
    full = (REPO / "docs" / "porting-from-go.md").read_text()
    guide = (handout / "docs" / "porting-from-go.md").read_text()
    for reference_only in ("raft/log.py", "Log.between", "## Worked example"):
        assert reference_only in full and reference_only not in guide, reference_only
    assert "REPOSITORY ONLY" not in guide
    assert guide == build.student_markdown(full, "docs/porting-from-go.md")
    for kept in ("## Go constructs and their Python form", "### Slices", "## How to run"):
        assert kept in guide
    assert "\n\n\n" not in guide


def test_repository_only_parts_go_whole_lines_and_all() -> None:
    begin, end = "<!-- BEGIN REPOSITORY ONLY -->", "<!-- END REPOSITORY ONLY -->"
    text = f"a{begin} (raft/log.py){end}.\n\n{begin}\n## Worked example\n\nx\n{end}\n\n## Next\n"
    assert build.student_markdown(text, "x.md") == "a.\n\n## Next\n"
    for broken in (f"a {begin} b", f"a {end} b", f"{begin} {begin} {end}"):
        with pytest.raises(build.HandoutError, match=r"x\.md:1: a REPOSITORY ONLY marker"):
            build.student_markdown(broken, "x.md")


def test_the_skeleton_fails_3A_cleanly_with_go_s_message(handout: Path) -> None:
    start = time.monotonic()
    done = run(handout, "-m", "pytest", "-k", "3A", "tests/lab", timeout=120)
    took = time.monotonic() - start
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert re.search(r"\b3 failed, 39 deselected\b", out), out
    assert "error" not in out.splitlines()[-1]
    for name in ("test_InitialElection3A", "test_ReElection3A", "test_ManyElections3A"):
        assert re.search(rf"--- FAIL: {name} \(\d+\.\d+s\)\n    expected one leader, got none", out)
    assert took < 60


def test_the_reference_passes_3A_inside_the_handout(student: Path) -> None:
    shutil.copy(REPO / "raft" / "raft.py", student / "raft" / "raft.py")
    shutil.copy(REPO / "raft" / "log.py", student / "raft" / "log.py")
    done = run(student, "-m", "pytest", "-k", "3A", "tests/lab", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b3 passed, 39 deselected\b", done.stdout)


def test_every_test_target_passes_ARGS_to_pytest_within_its_tests(student: Path) -> None:
    backup = "tests/lab/test_raft_3b.py::test_Backup3B"
    persist = "tests/lab/test_raft_3c.py::test_Persist13C"
    scripted = "tests/lab/test_raft_beyond_go.py::test_Figure8Scripted"
    every = {backup, persist, scripted}
    expected = {
        "test": every, "test-all": every, "test-race": every, "test-3A": set(),
        "test-3B": {backup}, "test-3C": {persist}, "test-3D": set(), "test-beyond-go": {scripted},
    }  # fmt: skip
    makefile = (student / "Makefile").read_text()
    heads = re.findall(r"^([\w -]+):", makefile, re.M)
    assert {t for head in heads for t in head.split() if t.startswith("test")} == set(expected)
    select = '--collect-only -q -k "Backup or Persist1 or Figure8Scripted"'
    for target, tests in expected.items():
        done = make(student, target, f"ARGS={select}")
        collected = {line for line in done.stdout.splitlines() if "::" in line}
        assert collected == tests, (target, done.stdout + done.stderr)
    done = make(student, "test-race", "RACE_ARGS=--collect-only -q -k Backup")  # its older name
    assert {line for line in done.stdout.splitlines() if "::" in line} == {backup}


@pytest.mark.parametrize(("ruff", "mypy"), [(1, 0), (0, 1), (1, 1), (0, 0)])
def test_make_lint_runs_both_linters_and_fails_if_either_did(
    student: Path, ruff: int, mypy: int
) -> None:
    bin_ = student / ".venv" / "bin"
    bin_.mkdir(parents=True)
    for tool, rc in (("ruff", ruff), ("mypy", mypy)):
        (bin_ / tool).write_text(f"#!/bin/sh\necho {tool} ran on $*\nexit {rc}\n")
        (bin_ / tool).chmod(0o755)
    done = make(student, "lint")
    assert "ruff ran on check raft" in done.stdout and "mypy ran on --strict raft" in done.stdout
    failed = [tool for tool, rc in (("ruff", ruff), ("mypy", mypy)) if rc]
    assert (done.returncode != 0) == bool(failed)
    if failed:
        assert f"make lint: failed: {' '.join(failed)} (see above)" in done.stdout


def test_the_repository_s_test_targets_pass_ARGS_to_pytest_too() -> None:
    makefile = (REPO / "Makefile").read_text()
    heads = re.findall(r"^([\w -]+):", makefile, re.M)
    targets = {t for head in heads for t in head.split() if t.startswith("test")}
    assert {"test-all", "test-lab", "test-beyond-go", "test-3A"} <= targets
    for target in sorted(targets - {"test-bugs"}):  # tools.bugs runs pytest with its own -k
        done = subprocess.run(
            ["make", "-n", target, "ARGS=--an-arg"],
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        pytest_lines = [line for line in done.stdout.splitlines() if " -m pytest " in line]
        assert pytest_lines and all("--an-arg" in line for line in pytest_lines), target


# -- make submit ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "NAME is empty"),
        ("Ada Lovelace", "holds a space"),
        ("Ada/Lovelace", "holds '/'"),
        ("../Ada", "holds '/'"),
        (".Ada", "must start with a letter or digit"),
        ("Ada;rm", "holds ';'"),
    ],
)
def test_submit_refuses_an_unsafe_name(student: Path, name: str, message: str) -> None:
    done = submit(student, name)
    assert done.returncode == 2
    assert message in done.stderr and "make submit NAME=Ada_Lovelace" in done.stderr
    assert not list(student.glob("project3_*"))


def test_submit_packs_the_tree_without_caches(student: Path) -> None:
    for junk in (".venv/bin/python", ".raftlab/stress/x.log", "raft/__pycache__/raft.pyc",
                 ".pytest_cache/v", "raftlab.egg-info/PKG-INFO", ".git/HEAD"):  # fmt: skip
        (student / junk).parent.mkdir(parents=True, exist_ok=True)
        (student / junk).write_text("junk")
    done = submit(student, "Ada_Lovelace")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "check-build passed: 42 lab tests collect" in done.stdout
    assert "WARNING" not in done.stdout
    tarball = student / "project3_Ada_Lovelace.tar.gz"
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    manifest = json.loads((student / ".handout" / "manifest.json").read_text())
    assert names == {f"project3_Ada_Lovelace/{rel}" for rel in manifest["files"]}
    again = submit(student, "Ada_Lovelace")  # an earlier archive is not packed into the next
    assert again.returncode == 0
    with tarfile.open(tarball) as tar:
        assert set(tar.getnames()) == names


def test_submit_lists_changed_handed_out_files_and_never_changes_them(student: Path) -> None:
    network = student / "labrpc" / "network.py"
    network.write_text(network.read_text() + "\n# my change\n")
    (student / "raft" / "notes.txt").write_text("mine")
    before = network.read_bytes()
    done = submit(student, "Ada_Lovelace")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"WARNING: you changed these handed-out files.*\n.*\n +labrpc/network\.py\n",
                     done.stdout)  # fmt: skip
    assert "raft/notes.txt" in done.stdout
    assert "check-build passed" in done.stdout
    assert network.read_bytes() == before


def test_check_build_fails_a_raft_that_needs_a_changed_file(student: Path) -> None:
    (student / "raft" / "util.py").write_text("X = 1\n")
    raft_py = student / "raft" / "raft.py"
    future = "from __future__ import annotations\n"
    raft_py.write_text(raft_py.read_text().replace(future, future + "from raft.util import X\n"))
    done = submit(student, "Ada_Lovelace")
    assert done.returncode == 1
    assert "check-build FAILED" in done.stdout
    assert "E   ModuleNotFoundError: No module named 'raft.util'" in done.stdout
    assert "submit: no archive written" in done.stderr and "make submit again" in done.stderr
    assert not list(student.glob("project3_*")) and not list(student.glob(".project3_*"))


def test_a_failed_check_build_leaves_an_earlier_archive_as_it_was(student: Path) -> None:
    assert submit(student, "Ada_Lovelace").returncode == 0
    tarball = student / "project3_Ada_Lovelace.tar.gz"
    before = tarball.read_bytes()
    raft_py = student / "raft" / "raft.py"
    raft_py.write_text(raft_py.read_text() + "\nimport raft.nowhere\n")
    done = submit(student, "Ada_Lovelace")
    assert done.returncode == 1 and "check-build FAILED" in done.stdout
    assert "earlier project3_Ada_Lovelace.tar.gz, if any, is left as it was" in done.stderr
    assert tarball.read_bytes() == before
    assert sorted(p.name for p in student.glob("*project3_*")) == [tarball.name]


def test_make_submit_takes_NAME_from_its_command_line_and_says_so_of_the_environment(
    student: Path,
) -> None:
    done = make(student, "submit", env={"NAME": "DESKTOP-4F2"})  # as WSL sets it
    assert done.returncode != 0
    assert "NAME is set only in your environment (to 'DESKTOP-4F2')" in done.stderr
    assert "make submit NAME=Ada_Lovelace" in done.stderr and "NAME is empty" not in done.stderr
    assert not list(student.glob("project3_*"))
    done = make(student, "submit")
    assert done.returncode != 0 and "NAME is empty" in done.stderr
    done = make(student, "submit", "NAME=Ada_Lovelace", env={"NAME": "DESKTOP-4F2"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert (student / "project3_Ada_Lovelace.tar.gz").exists()
    assert not list(student.glob("project3_DESKTOP*"))


def test_submit_refuses_an_archive_over_20_mb(student: Path) -> None:
    (student / "data.bin").write_bytes(os.urandom(21 * 1024 * 1024))
    done = submit(student, "Ada_Lovelace")
    assert done.returncode == 2
    assert "over the 20 MB limit" in done.stderr and "data.bin" in done.stderr
    assert not list(student.glob("project3_*")) and not list(student.glob(".project3_*"))


def test_submit_outside_a_handout_says_so(student: Path) -> None:
    shutil.rmtree(student / ".handout")
    done = submit(student, "Ada_Lovelace")
    assert done.returncode == 2
    assert ".handout/manifest.json is missing" in done.stderr


def test_what_differs_from_git_is_named(tmp_path: Path) -> None:
    """make handout warns, and make autograder refuses, on these (handout.build.SOURCES)."""

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "grade").mkdir()
    (tmp_path / "grade" / "runner.py").write_text("x = 1\n")
    (tmp_path / "notes.txt").write_text("")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    assert build.differs_from_git(("grade",), tmp_path) == []
    (tmp_path / "grade" / "runner.py").write_text("x = 2\n")
    (tmp_path / "grade" / "new.py").write_text("")
    (tmp_path / "notes.txt").write_text("changed, but not a source")
    changed = sorted(build.differs_from_git(("grade",), tmp_path))
    assert changed == ["grade/new.py", "grade/runner.py"]
    assert build.differs_from_git(("grade",), tmp_path / "nowhere") == ["(not a git checkout)"]
