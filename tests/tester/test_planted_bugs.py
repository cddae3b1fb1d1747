"""The planted bugs of `make test-bugs` (planted_bugs.py, tools/bugs.py): each still
plants into the current reference, and the runner reports a kill as it should."""

from __future__ import annotations

import difflib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from planted_bugs import BUGS, CLASSES, REFERENCE, AnchorError, Bug, by_name, plant
from rich.console import Console

from grade.pristine import Pristine
from handout import build
from handout.reference import single_file
from tools import bugs

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("bug", BUGS, ids=[bug.name for bug in BUGS])
def test_each_bug_plants_into_the_reference_and_compiles(bug: Bug) -> None:
    reference = single_file()
    planted = plant(bug, reference)
    compile(planted, f"{bug.name}/raft.py", "exec")
    changed = [
        line for line in difflib.unified_diff(reference.splitlines(), planted.splitlines(), n=0)
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]  # fmt: skip
    assert changed, f"{bug.name} changes nothing"
    assert len(changed) <= 30, f"{bug.name} changes {len(changed)} lines: plant one mistake"
    assert not any("raise" in line for line in changed if line.startswith("+")), (
        f"{bug.name} raises: a planted bug is a student's mistake, not a crash"
    )


def test_the_bugs_are_many_named_once_and_cover_every_class() -> None:
    names = [bug.name for bug in BUGS]
    assert len(names) >= 15
    assert len(set(names)) == len(names), "two bugs share a name"
    assert REFERENCE.name not in names
    for name in names:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
    assert {bug.covers for bug in BUGS} == set(CLASSES)
    for bug in BUGS:
        assert bug.description and "\n" not in bug.description, bug.name


def test_a_moved_anchor_names_the_bug_and_says_what_to_do() -> None:
    bug = BUGS[0]
    with pytest.raises(AnchorError, match=rf"planted bug '{bug.name}'.*update this bug's anchor"):
        plant(bug, "the reference, rewritten\n")
    twice = Bug("twice", "an anchor that occurs twice", "other", (("x = 1\n", "x = 2\n"),))
    with pytest.raises(AnchorError, match="occurs 2 times"):
        plant(twice, "x = 1\nx = 1\n")


def test_an_unknown_name_lists_the_bugs() -> None:
    with pytest.raises(ValueError, match=r"no planted bug named nope; the bugs are: .*figure8"):
        by_name(["nope"])


def test_the_runner_kills_a_blatant_bug_and_not_the_reference(tmp_path: Path) -> None:
    """The child imports the planted raft.py, not the repository's (this venv has an
    editable install of it): the same test passes on the reference and kills the bug.
    The table names the killing test; the kill rate leaves the reference out."""
    never_elects = Bug(
        "never_elects", "no vote is ever granted", "other",
        (("reply.VoteGranted = True", "reply.VoteGranted = False"),),
    )  # fmt: skip
    out = tmp_path / "out"
    handout = build.build(tmp_path / "dist")
    pristine = Pristine(handout / ".handout")
    outcomes = [
        bugs.run_bug(bug, pristine, False, out, 120.0, select="InitialElection3A")
        for bug in (bugs.REFERENCE, never_elects)
    ]
    reference, killed = outcomes
    assert not reference.killed, reference
    assert (reference.tests, reference.failure) == (1, "")
    assert killed.killed_by == "test_InitialElection3A"
    assert "expected one leader, got none" in killed.failure
    assert 0 < killed.seconds < 30
    assert "--- FAIL: test_InitialElection3A" in (out / "never_elects" / "output.txt").read_text()
    assert not (out / "never_elects" / "lab").exists()
    assert bugs.kill_rate(outcomes) == (
        f"kill rate: 1/1 killed; time to kill median {killed.seconds:.1f} s, "
        f"max {killed.seconds:.1f} s"
    )
    shown = io.StringIO()
    Console(file=shown, width=200).print(bugs.table(outcomes, "t"))
    assert re.search(r"reference +. survived ", shown.getvalue()), shown.getvalue()
    assert re.search(r"never_elects +. test_InitialElection3A ", shown.getvalue())


def test_the_command_lists_the_bugs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tools.bugs", "--list"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = [line.split()[0] for line in done.stdout.splitlines()]
    assert listed == [bug.name for bug in BUGS]
