"""The Go-style output under pytest (harness/plugin.py, tests/conftest.py): a header over
the numbers of the run's first Passed line, pytest's progress on a line of its own, and a
run header that says why the tester is on one CPU."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import fixture_raft
import pytest
from harness import config, transcript

REPO = Path(__file__).resolve().parents[2]

TWO_PASSING = '''
import fixture_raft
from harness.config import make_config


def elect(title):
    with make_config(3, False, make=fixture_raft.make_with(fixture_raft.Raft)) as cfg:
        cfg.begin(title)
        cfg.checkOneLeader()
        cfg.end()


def test_One3A():
    elect("Test (3A): one")


def test_Two3A():
    elect("Test (3A): two")
'''

ONE_FAILING = '''
from harness import transcript


def test_Fails3A():
    transcript.emit("Test (3A): fails ...")
    transcript.note_seed(7)
    assert False, "expected one leader, got none"
'''


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("golines")
    (folder / "conftest.py").write_text((REPO / "tests" / "conftest.py").read_text())
    (folder / "test_a.py").write_text(TWO_PASSING)
    (folder / "test_b.py").write_text(ONE_FAILING)
    env = {"PATH": "/usr/bin:/bin", "RAFTLAB_TIMELINE": "off", "PYTHONIOENCODING": "utf-8"}
    env["PYTHONPATH"] = f"{REPO / 'tests'}:{REPO / 'tests' / 'tester'}:{REPO}"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(folder)],
        cwd=folder, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert re.search(r"\b1 failed, 2 passed\b", done.stdout), done.stdout + done.stderr
    return done.stdout


def test_the_first_passed_line_has_a_header_over_its_numbers(output: str) -> None:
    lines = output.splitlines()
    assert lines.count(transcript.PASSED_COLUMNS) == 1
    at = lines.index(transcript.PASSED_COLUMNS)
    assert lines[at + 1] == "Test (3A): one ..."  # on top of the first test's own lines
    passed = lines[at + 2]
    assert passed.startswith(transcript.PASSED)
    assert len([line for line in lines if line.startswith(transcript.PASSED)]) == 2
    # Each label ends where its number does: secs, peers, RPCs, bytes, commands.
    labels = [m.end() for m in re.finditer(r"\S+", transcript.PASSED_COLUMNS)][:5]
    numbers = [m.end() for m in re.finditer(r"\S+", passed[len(transcript.PASSED) :])]
    assert [n + len(transcript.PASSED) for n in numbers] == labels, (passed, labels)


def test_pytest_s_progress_is_on_a_line_of_its_own(output: str) -> None:
    progress = [line for line in output.splitlines() if re.search(r"\[ *\d+%\]", line)]
    assert progress and all(re.fullmatch(r" +\[ *\d+%\]", line) for line in progress), progress
    assert progress[-1].endswith("[100%]")
    assert re.search(r"\n    full traceback: \S+\n +\[100%\]\n", output), output


def test_the_run_header_says_why_the_tester_is_on_one_cpu(output: str) -> None:
    header = next(line for line in output.splitlines() if line.startswith("raftlab: running on"))
    assert "RAFTLAB_CPUS=all" in header
    if "all CPUs" not in header:
        assert "only, by design" in header and "labrpc/cpu.py" in header


@pytest.mark.parametrize(
    ("cpus", "env", "warned"), [(1, None, False), (1, "all", True), (2, "all", False)]
)
def test_go_s_one_cpu_warning_only_when_the_tester_has_not_pinned_itself(
    monkeypatch: pytest.MonkeyPatch, cpus: int, env: str | None, warned: bool
) -> None:
    lines: list[str] = []
    monkeypatch.setattr(config, "_cpu_warned", False)
    monkeypatch.setattr(config.os, "cpu_count", lambda: cpus)
    monkeypatch.setattr(transcript, "emit", lines.append)
    if env is None:
        monkeypatch.delenv("RAFTLAB_CPUS", raising=False)
    else:
        monkeypatch.setenv("RAFTLAB_CPUS", env)
    config._warn_one_cpu()
    assert lines == (["warning: only one CPU, which may conceal locking bugs"] if warned else [])


def test_an_end_without_begin_times_the_test_from_make_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines: list[str] = []
    monkeypatch.setattr(transcript, "emit", lines.append)
    with config.make_config(3, False, make=fixture_raft.make_with(fixture_raft.Raft)) as cfg:
        cfg.checkOneLeader()
        cfg.end()
    (passed,) = [line for line in lines if line.startswith(transcript.PASSED)]
    secs = float(passed[len(transcript.PASSED) :].split()[0])
    assert 0 < secs < 30, passed  # not the time since the machine's monotonic zero
