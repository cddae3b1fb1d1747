"""A thread that outlives its test is named with what it runs and where it is now in
the student's code, with the rule it broke: Kill() must make every thread return
(tests/conftest.py). The wrong Raft's applier waits on a Condition that Kill() never
notifies, which Go allows and Python's tester does not."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SLEEPY_APPLIER = '''
import fixture_raft
from harness.config import make_config


class Raft(fixture_raft.Raft):
    def Kill(self) -> None:
        self.dead = True  # planted: nothing wakes the applier

    def applier(self) -> None:
        with self.mu:
            while not self.killed():
                self.apply_cond.wait()


def test_Sleepy3A():
    with make_config(3, False, make=fixture_raft.make_with(Raft)) as cfg:
        cfg.begin("Test (3A): initial election")
        cfg.checkOneLeader()
        cfg.end()
'''


def test_a_leaked_thread_is_named_with_its_function_line_and_the_rule(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text((REPO / "tests" / "conftest.py").read_text())
    (tmp_path / "test_sleepy.py").write_text(SLEEPY_APPLIER)
    env = {"PATH": "/usr/bin:/bin", "RAFTLAB_TIMELINE": "off", "PYTHONIOENCODING": "utf-8"}
    env["PYTHONPATH"] = f"{REPO / 'tests'}:{REPO / 'tests' / 'tester'}:{REPO}"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    out = done.stdout
    assert "... Passed --" in out  # the test itself passed; its teardown did not
    assert re.search(r"\b1 passed, 1 error\b", out), out[-3000:]
    assert "3 thread(s) still alive 3 s after the test ended:" in out
    assert re.search(  # the three appliers are in one place: listed once
        r"\n    raft-0-applier and 2 more running Raft\.applier, now at test_sleepy\.py:\d+, "
        r"in applier: self\.apply_cond\.wait\(\)\n",
        out,
    ), out[-3000:]
    for peer in range(3):  # each named with its stack below
        assert f"--- thread 'raft-{peer}-applier' daemon ---" in out
    assert "Kill() must make every thread the peer started return" in out
    assert "see the docstring of Kill in raft/raft.py" in out
