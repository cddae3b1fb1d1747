"""A test run in a simulated World (harness/sim): pytest --sim, RAFTLAB_SIM=1, SIM=1.

Each test function runs as the World's main thread, fixtures outside it. The
World's seed is the test's seed (RAFTLAB_SEED, else a fresh one): it fixes the
tester's random choices, labrpc's, the threads' interleaving and the clock, so
a failing run's replay command repeats it exactly, debug lines and all. The
trace digest goes on the test's Passed or FAIL line: the same seed, the same
digest. RAFTLAB_SIM_PREEMPT (0 unless set) is the chance of a switch at each
lock acquire and release, which brings rare interleavings up (make explore).
"""

from __future__ import annotations

import gc
import os
import shlex
from pathlib import Path
from typing import Any

import pytest

from harness import transcript

__all__ = ["PREEMPT_ENV", "preempt", "replay_command", "run"]

PREEMPT_ENV = "RAFTLAB_SIM_PREEMPT"
SEEDS_ENV = "RAFTLAB_SIM_SEEDS"  # tools/explore.py: the first of the seeds it runs
_REPEAT_STEP = "__pytest_repeat_step_number"  # pytest-repeat's parameter
TIME_LIMIT = 600.0  # virtual seconds: far past any lab test's own 120 s limit

_PARTS = {
    "test_raft_3a.py": "test-3A",
    "test_raft_3b.py": "test-3B",
    "test_raft_3c.py": "test-3C",
    "test_raft_3d.py": "test-3D",
    "test_raft_beyond_go.py": "test-beyond-go",
}


def preempt() -> float:
    text = os.environ.get(PREEMPT_ENV, "").strip()
    try:
        value = float(text) if text else 0.0
    except ValueError:
        raise pytest.UsageError(f"{PREEMPT_ENV} must be a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise pytest.UsageError(f"{PREEMPT_ENV} must be a number in [0, 1], got {text!r}")
    return value


def run(item: pytest.Function) -> None:
    """Call item's test function inside a World; note its digest for the report."""
    __tracebackhide__ = True
    from harness import sim
    from harness.config import seed_from_env

    seed = seed_from_env()
    base = os.environ.get(SEEDS_ENV, "").strip()
    callspec = getattr(item, "callspec", None)
    step = callspec.params.get(_REPEAT_STEP) if callspec is not None else None
    if base and isinstance(step, int):
        seed = int(base) + step  # make explore: run k (from 0) of a test has seed base + k
    item.user_properties.append(("raftlab_sim_seed", seed))
    args = {name: item.funcargs[name] for name in item._fixtureinfo.argnames}
    os.environ["RAFTLAB_SEED"] = str(seed)  # for what the test starts outside the World
    gc.collect()  # what earlier tests left is finalized now, not at some moment of this run
    with sim.World(seed, preempt=preempt(), time_limit=TIME_LIMIT) as world:
        try:
            world.run(item.obj, **args)
        finally:
            transcript.note_seed(seed)
            transcript.note_digest(world.digest(), world.now())


def replay_command(item_path: str, name: str, seed: int) -> str:
    """The one command that repeats a simulated run exactly."""
    env = f"RAFTLAB_SEED={seed}"
    if preempt():
        env += f" {PREEMPT_ENV}={preempt():g}"
    target = _PARTS.get(Path(item_path).name)
    if target is not None:
        return f"{env} make {target} SIM=1 ARGS={shlex.quote('-k ' + name)}"
    test = f"{shlex.quote(item_path)} -k {shlex.quote(name)}"
    return f"{env} RAFTLAB_SIM=1 PYTHONHASHSEED=0 .venv/bin/python -m pytest {test}"


def digest_tag(digest: str, virtual: float) -> str:
    return f"[sim {digest[:12]}, {virtual:.2f} virtual s]"


def seed_of(report: Any) -> int | None:
    for key, value in getattr(report, "user_properties", []):
        if key == "raftlab_sim_seed":
            return int(value)
    return None
