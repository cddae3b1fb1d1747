"""The handout as it was handed out: every grading run starts from a fresh copy.

`make handout` writes .handout/manifest.json (each file's SHA-256 and the lab
tests) and .handout/pristine.tar.gz.  The grader checks the tarball against the
manifest once, keeps it in memory, and unpacks a new copy for every run, with
the student's raft.py as the only file that differs.  A run's child can write to
its copy; a fresh copy for the next run means it cannot change that run's tester.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

STUDENT_FILE = "raft/raft.py"


class HandoutError(RuntimeError):
    """The pristine handout is missing or does not match its manifest."""


class Pristine:
    """The pristine handout in .handout/ of a built handout (or the autograder)."""

    def __init__(self, handout_dir: Path):
        manifest_path = handout_dir / "manifest.json"
        tarball = handout_dir / "pristine.tar.gz"
        if not manifest_path.is_file() or not tarball.is_file():
            raise HandoutError(
                f"grade: no pristine handout in {handout_dir}: run `make handout` first "
                "(make grade does), which writes manifest.json and pristine.tar.gz there"
            )
        self.manifest = json.loads(manifest_path.read_text())
        self.lab_tests: list[str] = list(self.manifest["lab_tests"])
        self._files: dict[str, bytes] = {}
        with tarfile.open(tarball, mode="r:gz") as tar:
            for info in tar:
                source = tar.extractfile(info) if info.isfile() else None
                if source is not None:
                    self._files[info.name] = source.read()
        expected = self.manifest["files"]
        wrong = sorted(
            name for name, sha in expected.items()
            if hashlib.sha256(self._files.get(name, b"")).hexdigest() != sha
        )  # fmt: skip
        if wrong or set(self._files) != set(expected):
            raise HandoutError(
                f"grade: {tarball} does not match {manifest_path} ({wrong[:3]}): "
                "rebuild it with `make handout`"
            )

    def copy_with(self, raft_source: bytes, dest: Path) -> None:
        """Write a copy of the handout into dest (new), with raft_source as raft/raft.py."""
        dest.mkdir(parents=True)
        for name, data in self._files.items():
            path = dest / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(raft_source if name == STUDENT_FILE else data)
