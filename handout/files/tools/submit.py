"""make submit NAME=First_Last: check your raft.py against the handout, then pack it.

    .venv/bin/python -m tools.submit --name First_Last

1. The check-build.  In a temporary copy of the handout as it was handed out
   (.handout/pristine.tar.gz, checked against .handout/manifest.json), with your
   raft/raft.py put in, the lab tests must still collect.  The course grades your
   raft/raft.py alone, with its own copy of everything else, so this finds a
   raft.py that leans on a change you made elsewhere.  Every handed-out file you
   changed, removed or added to is listed.  Your own files are never changed.
2. The archive, only if the check-build passed.  project3_First_Last.tar.gz in
   the handout's root holds the handout's files as they are now, without .venv,
   .raftlab, .git, caches, build outputs and earlier submissions; it may be at
   most 20 MB.  It is written to a temporary file and renamed into place once
   complete, so a failed submit leaves an earlier archive as it was.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ".handout/manifest.json"
PRISTINE = ".handout/pristine.tar.gz"
MAX_BYTES = 20 * 1024 * 1024
MAX_NAME = 100
# Never packed: virtual environments, caches, build outputs, VCS data, earlier archives.
SKIPPED_DIRS = {
    ".venv", "venv", ".raftlab", ".handout", ".git", "__pycache__", ".pytest_cache",
    ".mypy_cache", ".ruff_cache", "build", "dist",
}  # fmt: skip
SKIPPED_SUFFIXES = (".pyc", ".egg-info", ".partial")


class SubmitError(Exception):
    """The submission cannot be made; the message says what to do."""


@dataclass
class CheckBuild:
    """What the check-build found."""

    changed: list[str] = field(default_factory=list)  # handed-out files that differ
    missing: list[str] = field(default_factory=list)  # handed-out files that are gone
    added: list[str] = field(default_factory=list)  # files the handout did not have
    collected: int = 0  # lab tests that collect with the handed-out files
    expected: int = 0  # lab tests the handout collected
    error: str = ""  # why the lab tests did not collect, if they did not


def given_name(arg: str | None, env: Mapping[str, str]) -> str:
    """The name to submit under: --name, else the NAME given on make's command line.
    make submit reads NAME only from there, as some systems (WSL for one) set NAME in
    the environment to the computer's name; a NAME found only in the environment is
    refused with that reason rather than reported as empty."""
    if arg is not None:
        return arg.strip()
    name = env.get("RAFTLAB_SUBMIT_NAME", "").strip()
    if not name and env.get("NAME", "").strip():
        raise SubmitError(
            f"submit: NAME is set only in your environment (to {env['NAME']!r}), which "
            "make submit does not read: some systems set NAME to the computer's name. "
            "Give your name on make's command line, e.g. make submit NAME=Ada_Lovelace"
        )
    return name


def check_name(name: str) -> str:
    """name, if it is safe as part of a file name; SubmitError otherwise."""
    example = "make submit NAME=Ada_Lovelace"
    if not name:
        raise SubmitError(f"submit: NAME is empty: give your name as First_Last, e.g. {example}")
    bad = sorted({c for c in name if not (c.isalnum() or c in "_-.")})
    if bad:
        shown = ", ".join("a space" if c == " " else repr(c) for c in bad)
        raise SubmitError(
            f"submit: NAME {name!r} holds {shown}: use letters, digits, '_', '-' and '.' "
            f"only, with '_' between names, e.g. {example}"
        )
    if name[0] in ".-":
        raise SubmitError(
            f"submit: NAME {name!r} must start with a letter or digit, e.g. {example}"
        )
    if len(name) > MAX_NAME:
        raise SubmitError(f"submit: NAME is {len(name)} characters long; at most {MAX_NAME}")
    return name


def load_manifest(root: Path) -> dict[str, object]:
    path = root / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise SubmitError(
            f"submit: {MANIFEST} is missing, so this folder is not a handout as built by "
            "`make handout`; restore .handout/ from the handout you were given"
        ) from None
    except (OSError, ValueError) as e:
        raise SubmitError(f"submit: cannot read {MANIFEST}: {e}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise SubmitError(f"submit: {MANIFEST} is not a handout manifest")
    return manifest


def check_build(root: Path, manifest: dict[str, object]) -> CheckBuild:
    """Compare the tree with the manifest, and collect the lab tests with the handed-out
    files and the student's files (raft/raft.py) in a temporary copy."""
    files: dict[str, str] = manifest["files"]  # type: ignore[assignment]
    student: list[str] = list(manifest.get("student_files", []))  # type: ignore[call-overload]
    lab_tests: list[str] = list(manifest.get("lab_tests", []))  # type: ignore[call-overload]
    result = CheckBuild(expected=len(lab_tests))
    for rel, digest in sorted(files.items()):
        path = root / rel
        if not path.is_file():
            result.missing.append(rel)
        elif rel not in student and _sha256(path.read_bytes()) != digest:
            result.changed.append(rel)
    result.added = [rel for rel in tree_files(root) if rel not in files]

    with tempfile.TemporaryDirectory(prefix="raftlab-check-build-") as tmp:
        copy = Path(tmp)
        _unpack_pristine(root, copy, files)
        for rel in student:
            if (root / rel).is_file():
                (copy / rel).write_bytes((root / rel).read_bytes())
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "tests/lab"],
            cwd=copy,
            env=_child_env(copy),
            capture_output=True,
            text=True,
            timeout=300,
        )
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    result.collected = len(collected)
    if done.returncode != 0 or sorted(collected) != sorted(lab_tests):
        result.error = _collection_error(done.stdout + done.stderr, lab_tests, collected)
    return result


def _collection_error(output: str, expected: list[str], collected: list[str]) -> str:
    """The causes pytest gave ("E   ModuleNotFoundError: ...", once each) and its last
    line; or which lab tests went missing."""
    lines = output.strip().splitlines()
    causes = list(dict.fromkeys(line for line in lines if line.startswith("E ")))
    missing = sorted(set(expected) - set(collected))
    if missing and not causes:
        causes = [f"not collected: {test}" for test in missing[:10]]
    return "\n".join(causes[:10] + lines[-1:])


def _unpack_pristine(root: Path, dest: Path, files: dict[str, str]) -> None:
    try:
        with tarfile.open(root / PRISTINE) as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            for rel, digest in files.items():
                member = members.get(rel)
                data = tar.extractfile(member) if member is not None else None
                if data is None:
                    raise SubmitError(f"submit: {PRISTINE} has no {rel}")
                content = data.read()
                if _sha256(content) != digest:
                    raise SubmitError(
                        f"submit: {PRISTINE} does not match {MANIFEST} at {rel}; restore "
                        ".handout/ from the handout you were given"
                    )
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
    except (OSError, tarfile.TarError) as e:
        raise SubmitError(f"submit: cannot read {PRISTINE}: {e}") from None


def _child_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "RAFTLAB_"))}
    env["PYTHONPATH"] = str(root)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tree_files(root: Path) -> list[str]:
    """The files a submission holds: the tree less what is never packed (no links)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in SKIPPED_DIRS and not d.endswith(SKIPPED_SUFFIXES)
            and not os.path.islink(os.path.join(dirpath, d))
        )  # fmt: skip
        for name in sorted(filenames):
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            if path.is_symlink() or name.endswith(SKIPPED_SUFFIXES):
                continue
            if name.startswith("project3_") and name.endswith((".tar.gz", ".zip")):
                continue
            out.append(rel)
    return out


def pack(root: Path, name: str) -> tuple[Path, int, int]:
    """Write project3_<name>.tar.gz in root; (its path, files, bytes)."""
    stem = f"project3_{name}"
    files = tree_files(root)
    final = root / f"{stem}.tar.gz"
    partial = root / f".{stem}.tar.gz.partial"
    try:
        with tarfile.open(partial, "w:gz") as tar:
            for rel in files:
                tar.add(str(root / rel), arcname=f"{stem}/{rel}", recursive=False)
        size = partial.stat().st_size
        if size > MAX_BYTES:
            biggest = sorted(files, key=lambda rel: (root / rel).stat().st_size)[-3:]
            largest = ", ".join(reversed(biggest))
            raise SubmitError(
                f"submit: the archive would be {size / 2**20:.1f} MB, over the "
                f"{MAX_BYTES // 2**20} MB limit; the largest files: {largest}. "
                "Remove what is not part of the lab (logs, data) and run make submit again"
            )
        partial.replace(final)
    except (OSError, tarfile.TarError) as e:
        raise SubmitError(
            f"submit: cannot write {final.name}: {e}; an earlier archive, if any, is left "
            "as it was"
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    return final, len(files), size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make submit NAME=First_Last", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--name", help="your name as First_Last (make submit NAME=First_Last passes it)"
    )
    args = parser.parse_args(argv)
    try:
        name = check_name(given_name(args.name, os.environ))
        manifest = load_manifest(ROOT)
        print("submit: check-build: your raft/raft.py with the files as handed out ...")
        result = check_build(ROOT, manifest)
        warnings = report(result)
        if result.error:
            print(
                f"submit: no archive written (an earlier project3_{name}.tar.gz, if any, is "
                "left as it was): with the handed-out files your raft/raft.py does not pass "
                "the check-build (above), and the course grades it that way. Make raft/raft.py "
                "work with the files as handed out, then run make submit again",
                file=sys.stderr,
            )
            return 1
        tarball, count, size = pack(ROOT, name)
    except SubmitError as e:
        print(e, file=sys.stderr)
        return 2
    print(f"submit: wrote {tarball.name} ({count} files, {size / 1024:.0f} KB)")
    if warnings:
        print(f"submit: {warnings} warning(s) above; read them before you hand it in")
    return 0


def report(result: CheckBuild) -> int:
    """Print what the check-build found; the number of warnings."""
    warnings = 0
    if result.changed:
        warnings += len(result.changed)
        print("submit: WARNING: you changed these handed-out files (modify only raft/raft.py;")
        print("        the course grades with its own copies, so these changes are ignored):")
        for rel in result.changed:
            print(f"          {rel}")
    if result.missing:
        warnings += len(result.missing)
        print("submit: WARNING: these handed-out files are missing:")
        for rel in result.missing:
            print(f"          {rel}")
    if result.added:
        print("submit: note: files the handout did not have (packed, but not graded):")
        for rel in result.added:
            print(f"          {rel}")
    if result.error:
        print(
            f"submit: check-build FAILED: the lab tests do not collect with the handed-out "
            f"files and your raft/raft.py ({result.collected} of {result.expected}):"
        )
        print("\n".join(f"    {line}" for line in result.error.splitlines()))
    else:
        print(f"submit: check-build passed: {result.collected} lab tests collect")
    return warnings


if __name__ == "__main__":
    sys.exit(main())
