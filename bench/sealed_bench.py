"""Sealed mode's costs: one RPC's round trip between two peers, sealed and in-process.

A peer's Start(n) here is no Raft's: peer 0 makes n Calls to peer 1, back to
back, and answers the microseconds a call took as the "index". The cluster is
the tester's own (make_config), so a call takes the path a lab test's does:
peer 0's process, the tester's network, peer 1's process, and back.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The tester's package is harness, under tests/ (pytest puts it on the path; here we do).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness.config import make_config  # noqa: E402


@dataclass
class EchoArgs:
    X: int = 0


@dataclass
class EchoReply:
    X: int = 0


class Raft:
    def __init__(self, peers: list[Any], me: int) -> None:
        self.peers = peers
        self.me = me

    def Echo(self, args: EchoArgs, reply: EchoReply) -> None:
        reply.X = args.X

    def GetState(self) -> tuple[int, bool]:
        return 0, False

    def Start(self, command: Any) -> tuple[int, int, bool]:
        n = int(command)
        reply = EchoReply()
        start = time.perf_counter()
        for i in range(n):
            if not self.peers[1].Call("Raft.Echo", EchoArgs(i), reply) or reply.X != i:
                raise RuntimeError(f"call {i} failed")
        return round((time.perf_counter() - start) / n * 1e6 * 100), 0, False

    def Kill(self) -> None:
        pass

    def Snapshot(self, index: int, snapshot: bytes) -> None:
        pass


def Make(peers: list[Any], me: int, persister: Any, applyCh: queue.Queue[Any]) -> Raft:
    return Raft(peers, me)


def round_trip(sealed: bool, calls: int) -> float:
    """Microseconds per peer-to-peer Call on a reliable network."""
    with make_config(2, False, make=Make, sealed=sealed) as cfg:
        peer = cfg.rafts[0]
        assert peer is not None
        peer.Start(100)  # warm up
        hundredths, _, _ = peer.Start(calls)
        return float(hundredths) / 100


def round_trips(calls: int, runs: int) -> tuple[list[float], list[float]]:
    """round_trip in-process and sealed, by turns: (in-process figures, sealed figures)."""
    inproc, sealed = [], []
    for _ in range(runs):
        inproc.append(round_trip(False, calls))
        sealed.append(round_trip(True, calls))
    return inproc, sealed


@dataclass
class PartRun:
    wall: float  # seconds
    cpu: float  # user + system seconds of pytest and every process it waited for
    peak: int  # most processes alive at once: pytest, the zygote and the peer hosts
    passed: bool
    tests: list[TestRun] = field(default_factory=list)  # each test's (bench/per_test.py)

    @property
    def rpcs(self) -> int:
        """The RPCs the tests' "... Passed" lines count: the run's workload."""
        return sum(t.rpcs for t in self.tests)


@dataclass
class TestRun:
    name: str
    cpu: float  # seconds, as PartRun's
    wall: float
    rpcs: int  # as its Passed line counts them
    cmds: int  # the agreements its Passed line counts



PARTS = {
    "3A": "tests/lab/test_raft_3a.py",
    "3B": "tests/lab/test_raft_3b.py",
    "3C": "tests/lab/test_raft_3c.py",
    "3D": "tests/lab/test_raft_3d.py",
}


def run_part(part: str, sealed: bool) -> PartRun:
    """One part's tests in a child pytest, in-process or sealed."""
    import json
    import os
    import resource
    import subprocess
    import tempfile
    import threading

    from bench import per_test

    records = tempfile.NamedTemporaryFile("r", prefix="raftlab-bench-", suffix=".jsonl")
    env = dict(os.environ, RAFTLAB_SEALED="1" if sealed else "", **{per_test.ENV: records.name})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "bench.per_test",
         PARTS[part]],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    peak = [1]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], 1 + len(_descendants_of(child.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = child.communicate()
    wall = time.monotonic() - start
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    passed = child.returncode == 0 and b" failed" not in out
    with records:
        tests = [TestRun(**json.loads(line)) for line in records]
    return PartRun(wall, cpu, peak[0], passed, tests)


def _descendants_of(pid: int) -> list[int]:
    """The processes under pid: its children, theirs, and so on (Linux /proc). A
    sealed test's peer hosts are children of the zygote, which is pytest's."""
    import os

    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        below = [p for p, parent in parents.items() if parent in frontier]
        found += below
        frontier = below
    return found


REAPPLIED = 1000  # the log the reapply workload's restarted follower applies again

WORKLOADS = {
    "agree": "agreements on 5 peers, reliable",
    "restart": "crashes of a follower on 5 peers, each restarted and caught up by an agreement",
    # The two hops a lab test makes most whose in-process cost is a method call: the
    # churn tests' clients call Start on every peer, and a restarted peer applies its
    # whole log again (3C: about 26,000 Starts and 28,000 applies a run).
    "start": "Start calls on a follower",
    "reapply": f"restarts of a follower that applies a log of {REAPPLIED} entries again",
}


def workload(kind: str, sealed: bool, n: int) -> PartRun:
    """A fixed workload of the reference Raft (WORKLOADS), in a child process: a lab
    test's churn clients do as much as the cluster lets them, so that CPU there
    does not compare like with like. The child counts the CPU of the work alone,
    its own and its peer hosts', not that of starting Python and the cluster."""
    import subprocess

    child = subprocess.run(
        [sys.executable, "-m", "bench.sealed_bench", kind, "1" if sealed else "0", str(n)],
        capture_output=True,
    )  # fmt: skip
    if child.returncode != 0:
        sys.stderr.write(child.stderr.decode("utf-8", "replace"))
        return PartRun(0.0, 0.0, 0, False)
    wall, cpu = (float(x) for x in child.stdout.split()[-2:])
    return PartRun(wall, cpu, 0, True)


def cpu_so_far() -> float:
    """User + system seconds of this process and every process under it, ended or
    not: a peer host, reaped by the zygote, is in the zygote's children's time."""
    import os
    import resource

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in _descendants_of(os.getpid()):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # ended just now: lost, a few ms at most
        total += sum(int(x) for x in fields[11:15]) / ticks  # utime stime cutime cstime
    return total


def _run_workload(kind: str, sealed: bool, n: int) -> None:
    """The child of workload(): pinned to one CPU, as a test process is; prints the
    wall and CPU seconds of the work."""
    from labrpc.cpu import pin_to_one_cpu

    pin_to_one_cpu()
    with make_config(5, False, sealed=sealed) as cfg:
        cfg.begin(f"bench: {n} {WORKLOADS[kind]}")
        cfg.one(1, 5, True)  # every host started
        leader = cfg.checkOneLeader()  # and it stays leader: a follower's crash moves no term
        if kind == "reapply":
            for i in range(REAPPLIED - 2):
                cfg.rafts[leader].Start(i)
            cfg.one(-1, 5, True)
        start, cpu = time.monotonic(), cpu_so_far()
        for i in range(n):
            follower = (leader + 1 + i % 4) % 5
            if kind == "start":
                cfg.rafts[follower].Start(1000 + i)
                continue
            if kind in ("restart", "reapply"):
                cfg.crash1(follower)
                applied = threading.Event()
                cfg.start1(follower, _applier_until(cfg, REAPPLIED, applied))
                cfg.connect(follower)
            if kind == "reapply":
                if not applied.wait(30):
                    raise AssertionError(f"server {follower} did not apply {REAPPLIED} again")
            else:
                cfg.one(1000 + i, 5, True)
        cpu, wall = cpu_so_far() - cpu, time.monotonic() - start
        cfg.end()
    print(f"{wall:.3f} {cpu:.3f}")


def _applier_until(cfg: Any, index: int, applied: threading.Event) -> Any:
    """cfg.applier, which also sets applied once the peer has applied index."""

    def applier(i: int, apply_ch: Any) -> None:
        def seen(m: Any) -> Any:
            if m.CommandValid and m.CommandIndex == index:
                applied.set()
            return m

        cfg.applier(i, (seen(m) for m in apply_ch))

    return applier


def report(quick: bool, parts: list[str] | None = None, rounds: int = 0) -> None:
    import statistics

    calls, runs = (1000, 3) if quick else (3000, 5)
    inproc, sealed = round_trips(calls, runs)
    print(
        f"sealed RPC round trip: {statistics.median(sealed):6.1f} us sealed, "
        f"{statistics.median(inproc):5.1f} us in-process (median of {runs} runs of {calls} "
        f"peer-to-peer Calls each, by turns; sealed "
        f"{', '.join(f'{x:.0f}' for x in sealed)})"
    )
    sizes = {"agree": (100, 300), "restart": (20, 60), "start": (1000, 3000), "reapply": (3, 8)}
    for kind, (small, big) in sizes.items():
        n = small if quick else big
        fixed: dict[bool, list[PartRun]] = {False: [], True: []}
        for _ in range(runs):
            for mode in (False, True):
                fixed[mode].append(workload(kind, mode, n))
        f_cpu = {m: statistics.median(r.cpu for r in rs) for m, rs in fixed.items()}
        f_wall = {m: statistics.median(r.wall for r in rs) for m, rs in fixed.items()}
        failed = sum(not r.passed for rs in fixed.values() for r in rs)
        each = {m: f_cpu[m] / n for m in (True, False)}
        per = f"{_each(each[True])} / {_each(each[False])} each"
        if kind == "reapply":
            per += f", {_each(each[True] / REAPPLIED)} / {_each(each[False] / REAPPLIED)} an entry"
        print(
            f"sealed fixed workload, {n} {WORKLOADS[kind]}: CPU {f_cpu[True]:4.2f} s sealed / "
            f"{f_cpu[False]:4.2f} s in-process = {f_cpu[True] / f_cpu[False]:.2f} ({per}); wall "
            f"{f_wall[True]:4.1f} s / {f_wall[False]:4.1f} s; the work alone, medians of {runs} "
            f"runs each, by turns; failed runs {failed}"
        )
    for part in parts if parts is not None else ([] if quick else list(PARTS)):
        runs_of: dict[bool, list[PartRun]] = {False: [], True: []}
        for _ in range(rounds or (1 if quick else 3)):
            for mode in (False, True):
                runs_of[mode].append(run_part(part, mode))
        walls = {m: statistics.median(r.wall for r in rs) for m, rs in runs_of.items()}
        cpus = {m: statistics.median(r.cpu for r in rs) for m, rs in runs_of.items()}
        rpcs = {m: statistics.median(r.rpcs for r in rs) for m, rs in runs_of.items()}
        peak = max(r.peak for r in runs_of[True])
        failed = sum(not r.passed for rs in runs_of.values() for r in rs)
        # The churn tests' workload varies several-fold from run to run (how long the
        # cluster has a leader), and CPU with it: per RPC is the steadier figure.
        per_rpc = {
            m: statistics.median(r.cpu / max(1, r.rpcs) for r in rs) for m, rs in runs_of.items()
        }
        print(
            f"{part}: wall {walls[True]:5.1f} s sealed / {walls[False]:5.1f} s in-process = "
            f"{walls[True] / walls[False]:.2f}; CPU {cpus[True]:5.1f} s / {cpus[False]:5.1f} s = "
            f"{cpus[True] / cpus[False]:.2f}, per RPC {per_rpc[True] * 1e3:.2f} ms / "
            f"{per_rpc[False] * 1e3:.2f} ms = {per_rpc[True] / per_rpc[False]:.2f}; "
            f"RPCs {rpcs[True]:.0f} / {rpcs[False]:.0f}; "
            f"peak processes sealed {peak}; medians of {len(runs_of[True])} runs each, by "
            f"turns; failed runs {failed}"
        )
        per_test_report(part, runs_of)


def per_test_report(part: str, runs_of: dict[bool, list[PartRun]]) -> None:
    """Each test's CPU in both modes (medians over the runs), and the part's CPU
    ratio at in-process's workload: each test's sealed CPU per RPC times the RPCs
    it made in-process. A test whose workload is fixed scales by about 1; a churn
    test by what its clients got done."""
    import statistics

    def med(mode: bool, name: str, of: Callable[[TestRun], float]) -> float:
        values = [of(t) for r in runs_of[mode] for t in r.tests if t.name == name]
        return statistics.median(values) if values else float("nan")

    names = list(dict.fromkeys(t.name for r in runs_of[False] + runs_of[True] for t in r.tests))
    if not names:
        print(f"  {part} by test: no test recorded its figures (see the runs' failures)")
        return
    print(
        f"  {part} by test{'':18} CPU sealed / in-process = ratio; RPCs sealed / in-process; "
        f"agreements sealed / in-process; per RPC ratio"
    )
    scaled = base = 0.0
    for name in names:
        cpu = {m: med(m, name, lambda t: t.cpu) for m in (True, False)}
        rpcs = {m: med(m, name, lambda t: t.rpcs) for m in (True, False)}
        cmds = {m: med(m, name, lambda t: t.cmds) for m in (True, False)}
        per = {m: med(m, name, lambda t: t.cpu / max(1, t.rpcs)) for m in (True, False)}
        scaled += per[True] * rpcs[False] if rpcs[False] > 0 else cpu[True]
        base += cpu[False]
        print(
            f"  {name.removeprefix('test_'):32} {cpu[True]:6.2f} s / {cpu[False]:6.2f} s = "
            f"{cpu[True] / cpu[False]:5.2f}; {rpcs[True]:6.0f} / {rpcs[False]:6.0f}; "
            f"{cmds[True]:5.0f} / {cmds[False]:5.0f}; {per[True] / per[False]:5.2f}"
        )
    print(
        f"  {part} tests' CPU at in-process's workload: {scaled:5.1f} s sealed / {base:5.1f} s "
        f"in-process = {scaled / base:.2f} (the tests alone, without pytest's start)"
    )


def _each(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.0f} us"


if __name__ == "__main__":  # workload()'s child: python -m bench.sealed_bench KIND 0|1 N
    if len(sys.argv) != 4 or sys.argv[1] not in WORKLOADS:
        kinds = "|".join(WORKLOADS)
        sys.exit(f"usage: python -m bench.sealed_bench {kinds} 0|1 N (workload()'s child)")
    _run_workload(sys.argv[1], sys.argv[2] == "1", int(sys.argv[3]))
