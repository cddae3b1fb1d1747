"""The lab's tests simulated (pytest --sim): the same seed gives the same run, and a
failing run's replay command repeats it, at the same virtual time, with the same
first lines and digest (harness/simtest.py, harness/sim)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from planted_bugs import by_name, plant

from grade.pristine import Pristine
from handout import build
from handout.reference import single_file

REPO = Path(__file__).resolve().parents[2]
TAG = re.compile(r"\[sim ([0-9a-f]{12}), (\d+\.\d\d) virtual s\]")
FEW = "InitialElection3A or BasicAgree3B or Persist13C or SnapshotBasic3D or StaleReplies"


def run_sim(cwd: Path, seed: int, k: str, **more: str) -> str:
    env = {n: v for n, v in os.environ.items() if not n.startswith(("PYTEST_", "RAFTLAB_"))}
    env.update(
        RAFTLAB_SIM="1", RAFTLAB_SEED=str(seed), PYTHONHASHSEED="0", RAFTLAB_TIMELINE="off"
    )
    env.update(more)
    if cwd != REPO:
        env["PYTHONPATH"] = str(cwd)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-k", k, "tests/lab"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return done.stdout + done.stderr


def tags(out: str) -> list[tuple[str, str]]:
    return TAG.findall(out)


def test_the_same_seed_gives_the_same_digests_and_another_seed_others(tmp_path: Path) -> None:
    first = run_sim(REPO, 20261203, FEW)
    assert "5 passed" in first, first[-3000:]
    # With each timeline drawn (explore runs with none): the same run all the same.
    again = run_sim(REPO, 20261203, FEW, RAFTLAB_TIMELINE="always",
                    RAFTLAB_TIMELINE_DIR=str(tmp_path))  # fmt: skip
    assert len(list(tmp_path.glob("*.html"))) == 5
    other = run_sim(REPO, 4242, FEW)
    assert len(tags(first)) == 5
    assert tags(again) == tags(first)
    assert not {d for d, _ in tags(other)} & {d for d, _ in tags(first)}


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A handout copy with the reference less its vote persistence (a planted bug)."""
    handout = build.build(tmp_path_factory.mktemp("dist"))
    lab = tmp_path_factory.mktemp("planted") / "lab"
    source = plant(by_name(["votedfor_not_persisted"])[0], single_file())
    Pristine(handout / ".handout").copy_with(source.encode(), lab)
    return lab


def test_a_failing_run_replays_exactly(planted: Path) -> None:
    out = run_sim(planted, 77, "PersistVoteBeforeReply")
    fail = re.search(r"^--- FAIL: test_PersistVoteBeforeReply \(\S+\) (\[sim .*\])$", out, re.M)
    assert fail, out[-3000:]
    block = out[fail.start() :].splitlines()
    replay = next(line for line in block if line.startswith("    replay: "))
    assert replay == (
        "    replay: RAFTLAB_SEED=77 make test-beyond-go SIM=1 "
        "ARGS='-k test_PersistVoteBeforeReply'"
    )
    # As a student replays it: with the timeline written, which explore's runs leave out.
    again = run_sim(planted, 77, "test_PersistVoteBeforeReply", RAFTLAB_TIMELINE="fail")
    fail_again = re.search(r"^--- FAIL: test_PersistVoteBeforeReply \(\S+\) (\[sim .*\])$",
                           again, re.M)  # fmt: skip
    assert fail_again, again[-3000:]
    assert fail_again[1] == fail[1]  # the same digest, at the same virtual second
    assert again[fail_again.start() :].splitlines()[1:3] == block[1:3]  # the same first lines


def test_debug_lines_of_a_replay_are_the_failing_runs(planted: Path) -> None:
    """RAFTLAB_DEBUG changes nothing the simulation decides: the run is the same one."""
    plain = run_sim(planted, 77, "test_PersistVoteBeforeReply")
    debug = run_sim(planted, 77, "test_PersistVoteBeforeReply", RAFTLAB_DEBUG="vote,term")
    assert tags(debug) == tags(plain) != []
    assert re.search(r"^\d{6} VOTE +S\d T\d+ ", debug, re.M), debug[-3000:]


def test_a_run_is_the_same_whatever_ran_before_it_in_its_process(tmp_path: Path) -> None:
    """make explore runs many seeds in one process; each must be the run its replay
    command repeats alone, preemption on (a lock an import makes never preempts)."""
    digests = tmp_path / "digests.txt"

    def explore(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "tools.explore", "InitialElection3A or BasicAgree3B",
             "-p", "1", "--preempt", "0.05", "--digests", str(digests), *args],
            cwd=REPO, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        return done.stdout + done.stderr

    assert "digests written" in explore("-n", "4")
    alone = explore("-n", "1", "--first", "4")
    assert "2 runs compared" in alone and "0 digest mismatches" in alone, alone
