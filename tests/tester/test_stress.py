"""tools/stress.py: repeats tests in parallel, keeps each failing run (with its seed,
debug log and timeline), prints the table, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools import dslogs, stress

REPO = Path(__file__).resolve().parents[2]

# A cluster test that fails on even repetitions (pytest-repeat names them [rep-count]),
# and a test that always passes.
FLAKY = """
import time
from harness.config import make_config

def test_Flaky(request):
    rep = int(request.node.name.split("[")[1].split("-")[0])
    with make_config(3, False) as cfg:
        cfg.begin("Test: flaky")
        cfg.checkOneLeader()
        if rep % 2 == 0:
            cfg.fatalf("even repetition %d, seed %d", rep, cfg.seed)
        cfg.end()

def test_Solid():
    time.sleep(0.05)
"""

# The first run to finish fails, whichever it is: xdist does not run the repeats
# in order, so a test that failed only run 3 could find it scheduled last.
SLOW = """
import os
import time

def test_Slow():
    time.sleep(0.4)
    flag = os.path.join(os.path.dirname(__file__), "failed-once")
    if not os.path.exists(flag):
        open(flag, "w").close()
        raise AssertionError("the first run fails")
"""


def lab(tmp_path: Path, source: str) -> Path:
    """A test folder that loads the tester's plugin, like tests/ does."""
    folder = tmp_path / "lab"
    folder.mkdir()
    (folder / "conftest.py").write_text('pytest_plugins = ["harness.plugin"]\n')
    (folder / "test_lab.py").write_text(source)
    return folder / "test_lab.py"


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAFTLAB_", "PYTEST_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests"), str(REPO)])
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def stress_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "tools.stress", *args]


def test_split_nodeid() -> None:
    assert stress.split_nodeid("tests/t.py::test_A3A[57-200]") == ("tests/t.py::test_A3A", "57")
    assert stress.split_nodeid("t.py::test_B[x-y-3-10]") == ("t.py::test_B[x-y]", "3")
    assert stress.split_nodeid("t.py::test_C") == ("t.py::test_C", "")


def test_keeps_failing_runs_with_seed_log_and_timeline(tmp_path: Path) -> None:
    test_file = lab(tmp_path, FLAKY)
    out = tmp_path / "out"
    done = subprocess.run(
        stress_cmd("Flaky or Solid", "-n", "4", "-p", "2", "-o", str(out), "--", str(test_file)),
        cwd=REPO, env=environment(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    text = done.stdout + done.stderr
    assert done.returncode == 1, text  # some runs failed

    # The table: test, failed, total, mean time.
    assert re.search(r"test_Flaky\W+2\W+4\W+\d+\.\d\ds", text), text
    assert re.search(r"test_Solid\W+0\W+4\W+\d+\.\d\ds", text), text
    assert "2 failing run(s)" in text
    # Into a pipe, a line a finished run, each with the count so far.
    lines = re.findall(r"^(\d+)/8 runs, (\d) failed: \S+::(test_\w+)\[\d-4\] (\w+) in", text, re.M)
    assert sorted(int(done) for done, *_ in lines) == list(range(1, 9)), text
    flaky = sorted(outcome for *_, test, outcome in lines if test == "test_Flaky")
    assert flaky == ["failed", "failed", "passed", "passed"], text

    kept = sorted(p.name for p in out.glob("*.log"))
    assert kept == ["test_Flaky-2.log", "test_Flaky-4.log"], (kept, text)
    for name, rep in (("test_Flaky-2.log", 2), ("test_Flaky-4.log", 4)):
        body = (out / name).read_text()
        m = re.search(rf"even repetition {rep}, seed (\d+)", body)
        assert m, body
        seed = m[1]
        assert f"seed:     RAFTLAB_SEED={seed}\n" in body  # the header names the run's seed
        assert f"RAFTLAB_SEED={seed} RAFTLAB_DEBUG=all" in body  # and how to run it again
        # dslogs needs rich, so the header names the Python that has it, not a bare python
        python = stress._show(Path(sys.executable))
        assert f"\nlog:      {python} -m tools.dslogs {out / name}\n" in body
        assert "Test: flaky ..." in body  # the tester's lines
        # the debug log (on by default) with the tester's events, readable by dslogs
        entries = [i for i in dslogs.parse(body.splitlines()) if isinstance(i, dslogs.Entry)]
        assert any(e.topic == "test" and e.msg.startswith("fail even repetition") for e in entries)
        assert {e.peer for e in entries if e.topic == "test"} >= {0, 1, 2}
        assert any(e.topic == "leader" for e in entries)  # and the peers' own lines
        # the timeline, written into the same folder, named in the header
        timeline = re.search(r"^timeline: (\S+)$", body, re.M)
        assert timeline, body
        page = Path(timeline[1])
        assert page.parent == out and page.exists(), page
        assert f'"seed":{seed}' in page.read_text()
    assert len(list(out.glob("*.html"))) == 2  # passing runs leave nothing behind


def test_ctrl_c_stops_and_still_prints_the_table(tmp_path: Path) -> None:
    test_file = lab(tmp_path, SLOW)
    out = tmp_path / "out"
    # The tool must see Ctrl-C as a terminal delivers it, even when this suite runs
    # with SIGINT ignored (nohup, a background job), which a child would inherit.
    ignoring = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(
            stress_cmd("Slow", "-n", "40", "-p", "2", "-o", str(out), "--", str(test_file)),
            cwd=REPO, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, ignoring)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("test_Slow-*.log")):
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "no failing run kept in time"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        stopped = time.monotonic()
        text, _ = proc.communicate(timeout=60)
        took = time.monotonic() - stopped
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, text
    assert took < 20, took
    assert re.search(r"interrupted after (\d+) of 40 runs", text), text
    m = re.search(r"test_Slow\W+([12])\W+(\d+)\W+0\.\d\ds", text)
    assert m and 1 <= int(m[2]) < 40, text
    assert re.search(r"test_Slow-\d+\.log", text), text
    # no worker left behind: the whole process group is gone
    deadline = time.monotonic() + 10
    while True:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        if time.monotonic() > deadline:
            pytest.fail("stress left processes running after Ctrl-C")
        time.sleep(0.1)
