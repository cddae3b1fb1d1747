"""make handout: build the students' handout from this repository.

    python -m handout [--out dist]      writes dist/project3/ and dist/project3.tar.gz

The handout holds the skeleton raft/raft.py (the reference with its solution
blocks taken out, handout/markers.py), the rest of the lab as this repository
has it (labrpc, labgob, the persister, the tester and the lab tests), the
debugging tools, and the files that exist only in the handout (handout/files:
its Makefile, README and `make submit`).  Its Markdown is the repository's less
the repository-only parts (between <!-- BEGIN REPOSITORY ONLY --> and
<!-- END REPOSITORY ONLY -->: what reads the reference or names files only this
repository has), so the porting guide is kept once, whole, in docs/.  It also
records what it handed out (.handout/manifest.json: each file's SHA-256 and the
lab tests that collect) and a pristine copy (.handout/pristine.tar.gz), which
`make submit` checks a student's raft.py against.  A build that would hand out
solution code fails.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from handout import markers

REPO = Path(__file__).resolve().parents[1]
FILES = Path(__file__).resolve().parent / "files"
NAME = "project3"

# Copied from this repository as they are; a folder is copied whole, less caches.
COPIED = (
    "raft/__init__.py",
    "raft/persister.py",
    "raft/debug.py",
    "labrpc",
    "labgob",
    "tests/conftest.py",
    "tests/harness",
    "tests/lab",
    "tools/stress.py",
    "tools/explore.py",
    "tools/dslogs.py",
    "docs/porting-from-go.md",
    "pyproject.toml",
    "ruff.toml",
)
SKELETON = "raft/raft.py"  # the reference, less its solution blocks
STUDENT_FILES = (SKELETON,)  # what students change; everything else stays as handed out
CACHES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
MANIFEST = ".handout/manifest.json"
PRISTINE = ".handout/pristine.tar.gz"
# A part of the repository's Markdown that the handout leaves out; one that fills whole
# lines goes with its lines and a blank line after it.
_REPOSITORY_ONLY = re.compile(
    r"(?P<lines>^)?<!-- BEGIN REPOSITORY ONLY -->(?:(?!<!-- BEGIN REPOSITORY ONLY -->).)*?"
    r"<!-- END REPOSITORY ONLY -->(?(lines)\n\n?)",
    re.S | re.M,
)

# Lines of the repository's setup.cfg that speak of what only the repository has.
_SETUP_CFG_EDITS = (
    (
        "description = A Python port of the MIT 6.5840 Raft lab: labrpc, labgob, the tester, "
        "and a Raft that reads like Figure 2",
        "description = The MIT 6.5840 Raft lab in Python: labrpc, labgob, the tester, "
        "and your raft/raft.py",
    ),
    (
        "# The timeline's browser check needs chromium: `make test-browser` runs it\n"
        "# (-m browser overrides this -m), and tests/conftest.py says when it was left out.\n"
        'addopts = -p no:cacheprovider -m "not browser"\n'
        "markers =\n"
        "    browser: needs Debian's chromium (make test-browser)\n",
        "addopts = -p no:cacheprovider\n",
    ),
)


class HandoutError(RuntimeError):
    """The handout cannot be built as asked; the message says why."""


def build(out: Path) -> Path:
    """Build the handout in out/project3 (replacing it) and out/project3.tar.gz."""
    root = out / NAME
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for rel in COPIED:
        _copy(REPO / rel, root / rel)
    for path in sorted(FILES.rglob("*")):
        if path.is_file() and not CACHES.intersection(path.parts):
            _copy(path, root / path.relative_to(FILES))
    for path in sorted(root.rglob("*.md")):
        path.write_text(student_markdown(path.read_text(), path.relative_to(root).as_posix()))
    reference = (REPO / SKELETON).read_text()
    split = markers.split(reference, SKELETON)
    (root / SKELETON).write_text(split.skeleton)
    (root / "setup.cfg").write_text(_setup_cfg((REPO / "setup.cfg").read_text()))
    _check_no_solution(root, split)
    handed_out = _files(root)
    manifest = {
        "name": NAME,
        "built_from": _commit(),
        "student_files": list(STUDENT_FILES),
        "lab_tests": _lab_tests(root),
        "files": {rel: _sha256(root / rel) for rel in handed_out},
    }
    (root / MANIFEST).parent.mkdir(parents=True, exist_ok=True)
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    _pack(root, handed_out, root / PRISTINE, prefix="")
    tarball = out / f"{NAME}.tar.gz"
    _pack(root, _files(root, hidden=True), tarball, prefix=NAME)
    return root


def _copy(src: Path, dst: Path) -> None:
    if not src.exists():
        raise HandoutError(f"handout: {src.relative_to(REPO)} is missing from the repository")
    if src.is_dir():
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*CACHES, "*.pyc"))
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def student_markdown(text: str, rel: str) -> str:
    """text less its repository-only parts, which the students' handout does not have."""
    text = _REPOSITORY_ONLY.sub("", text)
    if "REPOSITORY ONLY -->" in text:
        line = next(i for i, s in enumerate(text.splitlines(), 1) if "REPOSITORY ONLY -->" in s)
        raise HandoutError(
            f"handout: {rel}:{line}: a REPOSITORY ONLY marker without its pair; every "
            "<!-- BEGIN REPOSITORY ONLY --> needs an <!-- END REPOSITORY ONLY --> after it, "
            "with no BEGIN between them"
        )
    return text


def _setup_cfg(text: str) -> str:
    for old, new in _SETUP_CFG_EDITS:
        if old not in text:
            raise HandoutError(
                f"handout: setup.cfg no longer contains {old.splitlines()[0]!r}; update "
                "_SETUP_CFG_EDITS in handout/build.py to match it"
            )
        text = text.replace(old, new)
    return text


def _check_no_solution(root: Path, split: markers.Split) -> None:
    """Fail if a solution-only module or a solution line was handed out: any line of
    more than 32 characters from a solution block that is not also in the skeleton,
    less comments, imports and def lines (a signature alone gives nothing away, nor
    does a line as short as `reply.Term = self.current_term`, which the porting
    guide shows as Go's idiom in Python)."""
    in_skeleton = {line.strip() for line in split.skeleton.splitlines()}
    distinctive = {
        line.strip()
        for line in split.solution_lines
        if len(line.strip()) > 32
        and line.strip() not in in_skeleton
        and not line.strip().startswith(("#", "import ", "from ", "def "))
    }
    found: list[str] = []
    for rel in _files(root):
        text = (root / rel).read_text(errors="replace")
        if "BEGIN SOLUTION" in text or "END SOLUTION" in text:
            found.append(f"{rel}: a solution marker")
        for line in text.splitlines():
            if line.strip() in distinctive:
                found.append(f"{rel}: {line.strip()}")
    if (root / "raft" / "log.py").exists():
        found.append("raft/log.py: the reference's log module")
    if found:
        raise HandoutError(
            "handout: solution code would be handed out:\n  " + "\n  ".join(found[:20])
        )


def _files(root: Path, hidden: bool = False) -> list[str]:
    """The handout's files, relative and sorted; .handout/ itself only if hidden."""
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or CACHES.intersection(rel.parts) or path.suffix == ".pyc":
            continue
        if rel.parts[0] == ".handout" and not hidden:
            continue
        out.append(rel.as_posix())
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _lab_tests(root: Path) -> list[str]:
    """The lab tests as pytest collects them in the handout, with the skeleton in place."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "tests/lab"],
        cwd=root,
        env=_clean_env(root),
        capture_output=True,
        text=True,
        timeout=300,
    )
    tests = [line for line in done.stdout.splitlines() if "::" in line]
    if done.returncode != 0 or not tests:
        raise HandoutError(
            "handout: the lab tests do not collect against the skeleton:\n"
            + (done.stdout + done.stderr)[-3000:]
        )
    return tests


def _clean_env(root: Path) -> dict[str, str]:
    """The environment for a child run inside root: root's packages come first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "RAFTLAB_"))}
    env["PYTHONPATH"] = str(root)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _commit() -> str:
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=REPO, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


# What a handout and the autograder are built from: a tree that differs from git's
# is said so loudly (make handout) or refused (make autograder, grade.gradescope).
SOURCES = (*COPIED, "raft/raft.py", "raft/log.py", "handout", "grade", "setup.cfg",
           "pyproject.toml")  # fmt: skip


def differs_from_git(paths: tuple[str, ...] = SOURCES, repo: Path = REPO) -> list[str]:
    """The files among paths that differ from git's HEAD (changed, staged, untracked);
    ["(not a git checkout)"] when git cannot tell."""
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all", "--", *paths],
            cwd=repo, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return ["(not a git checkout)"]
    if done.returncode != 0:
        return ["(not a git checkout)"]
    changed = [line[3:] for line in done.stdout.splitlines() if line.strip()]
    return [c for c in changed if "__pycache__" not in c and not c.endswith(".pyc")]


def _pack(root: Path, files: list[str], dest: Path, prefix: str) -> None:
    """A reproducible tar.gz of files (relative to root) under prefix/."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rel in files:
            info = tar.gettarinfo(str(root / rel), arcname=f"{prefix}/{rel}" if prefix else rel)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            with open(root / rel, "rb") as f:
                tar.addfile(info, f)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handout", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="default: dist/")
    args = parser.parse_args(argv)
    try:
        root = build(args.out.resolve())
    except (HandoutError, markers.MarkerError) as e:
        print(e, file=sys.stderr)
        return 1
    manifest = json.loads((root / MANIFEST).read_text())
    changed = differs_from_git()
    if changed:
        more = f" and {len(changed) - 8} more" if len(changed) > 8 else ""
        shown = ", ".join(changed[:8]) + more
        print(
            f"handout: WARNING: built from files that differ from git's HEAD: {shown}. "
            "The handout (and grading with it) is not what the repository holds: commit or "
            "revert them, then build again",
            file=sys.stderr,
        )
    print(
        f"handout: {_show(root)}/ ({len(manifest['files'])} files, "
        f"{len(manifest['lab_tests'])} lab tests) and {_show(root.parent / (NAME + '.tar.gz'))}"
    )
    return 0


def _show(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
