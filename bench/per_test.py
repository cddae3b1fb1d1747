"""A pytest plugin for the sealed bench's part runs: each test's CPU and workload.

A part's CPU ratio hides which tests carry it, and the churn tests' workload
(how long the cluster has a leader) varies several-fold from run to run. So
run_part loads this plugin, which appends one JSON line per test to the file
that RAFTLAB_BENCH_TESTS names: its CPU (this process and every one under it,
peer hosts included), wall time, and the RPCs and agreements its Passed line
counts.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator
from typing import Any

import pytest

from bench.sealed_bench import cpu_so_far  # which puts tests/ on the path, for harness

ENV = "RAFTLAB_BENCH_TESTS"

_work: dict[str, tuple[int, int]] = {}  # a test's nodeid -> (rpcs, cmds), once it has passed


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, None]:
    from harness import transcript

    yield
    current = transcript.current()  # still this test's: the plugin stops it at teardown
    rpcs = cmds = 0
    for line in current.lines if current is not None else []:
        if line.startswith(transcript.PASSED):  # then secs, peers, rpcs, bytes, cmds
            _, _, n_rpcs, _, n_cmds = line.removeprefix(transcript.PASSED).split()
            rpcs, cmds = rpcs + int(n_rpcs), cmds + int(n_cmds)
    _work[item.nodeid] = (rpcs, cmds)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, Any, None]:
    cpu, wall = cpu_so_far(), time.monotonic()
    yield
    cpu, wall = cpu_so_far() - cpu, time.monotonic() - wall
    rpcs, cmds = _work.pop(item.nodeid, (0, 0))
    record = {"name": item.name, "cpu": cpu, "wall": wall, "rpcs": rpcs, "cmds": cmds}
    with open(os.environ[ENV], "a") as f:
        f.write(json.dumps(record) + "\n")
