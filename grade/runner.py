"""One run of one lab test against a student's raft.py, in a child process.

A run is sealed (Limits.sealed: make grade's default) or in-process. Sealed, the
child is the run's test process (pytest, the tester, the report plugin), which
imports no student code: it runs at the grader's uid outside the sandbox, and
starts each Raft peer as a peer host (tests/harness/runtime/sealed.py) inside a
sandbox of its own (RAFTLAB_PEER_WRAP, _peer_wrap), which sees neither the run's
folder nor another peer's. In-process, the student's Raft runs in the child,
and what follows applies to the whole child.

The child is untrusted: it runs the student's code.  So each run gets a fresh
copy of the pristine handout, a minimal environment, a wall-clock limit, and
memory and file-size limits (childside/launch.py sets them in the child).  The
run counts as passed only when the trusted parent sees the child exit 0 *and*
finds the test passed in the report the child wrote at the end of its session
(childside/raftlab_grade_report.py).  Anything else is a failed run, with the
reason: it hung, crashed, was killed, or exited without a report.  What the
child leaves is read as untrusted too (files.py): its report only if it is a
regular file of at most MAX_REPORT bytes, and only in the shape the plugin
writes.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from grade import files, sandbox
from grade.points import LabTest
from grade.pristine import Pristine
from grade.sandbox import Cage, Isolation

CHILDSIDE = Path(__file__).resolve().with_name("childside")
MAX_REPORT = 4 * 1024 * 1024
KEPT_OUTPUT = 64 * 1024  # of a failed run's output, its end
KEPT_FILE = 8 << 20  # a kept timeline or traceback
KEPT_NAME = 100  # characters of a kept file's name
REASON = 300  # characters of a value of the child's report quoted in a reason


class Stopped(Exception):
    """The work was interrupted (stop_all); no more children start."""


class Children:
    """Children, each in its own process group, that an interrupt leaves none of:
    stop_all() kills every one running and lets no more start."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[int] = set()  # guarded by _lock: the process groups running now
        self._stopping = False  # guarded by _lock

    def run(
        self, command: list[str], cwd: Path, env: dict[str, str], output: Path, seconds: float,
        cage: Cage | None = None, cpu_seconds: float = 0.0,
    ) -> tuple[int, bool, bool]:  # fmt: skip
        """Run command to its end, or kill its group after seconds (or once cage has
        used cpu_seconds of CPU), with stdout and stderr in output: (returncode,
        timed out, stop_all came meanwhile). Raises Stopped if stop_all came before
        it could start. Every process left in cage is killed at the end."""
        with self._lock:
            if self._stopping:
                raise Stopped
            with open(output, "wb") as out:
                child = subprocess.Popen(
                    command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            self._live.add(child.pid)
        timed_out = False
        deadline = time.monotonic() + seconds
        while True:
            try:
                child.wait(timeout=max(0.0, min(0.5, deadline - time.monotonic())))
                break
            except subprocess.TimeoutExpired:
                over_cpu = cage is not None and cpu_seconds and cage.cpu_seconds() > cpu_seconds
                if over_cpu or time.monotonic() >= deadline:
                    timed_out = True
                    break
        kill_group(child.pid)  # whatever it started dies with it
        if cage is not None:
            cage.kill_all()  # and whatever left its group (setsid) but not the cage
        child.wait()
        with self._lock:
            self._live.discard(child.pid)
            stopped = self._stopping
        return child.returncode, timed_out, stopped

    def stop_all(self) -> None:
        """Kill every running child's process group, and start no more."""
        with self._lock:
            self._stopping = True
            groups = list(self._live)
        for group in groups:
            kill_group(group)


# The grader's children: an interrupted grading leaves none behind.
_children = Children()


def stop_all() -> None:
    """Kill every running grading child's process group, and start no more."""
    _children.stop_all()


@dataclass(frozen=True)
class Limits:
    """A run's limits.  Go's tester allows a test 120 s, and pytest-timeout in the
    handout 200 s; the wall-clock limit leaves a margin over both."""

    seconds: float = 240.0
    memory_bytes: int = 4 * 1024**3  # address space: a thread's stack counts too
    file_bytes: int = 64 * 1024**2  # any one file the run writes
    # For the whole run, where the sandbox has a cgroup (sandbox.py); else processes
    # is a per-uid RLIMIT_NPROC and memory the per-process limit above.
    run_memory_bytes: int = 4 * 1024**3
    processes: int = 512  # processes and threads
    # The same, for a sealed run: its peers' threads and the test process's that serve
    # them are about twice an in-process run's (ManyElections3A: 574 at its peak, 287
    # in-process), and a restart or a spare is a whole process.
    sealed_processes: int = 2048
    cpu_seconds: float = 480.0  # two cores busy for the whole wall-clock limit
    # The OS sandbox runs are in (sandbox.detect(); none unless given).
    isolation: Isolation = field(default_factory=sandbox.unsandboxed)
    # After each run, kill every process of the run's uid: where there is neither a
    # PID namespace nor a cgroup, the only way to reach what a run left with setsid.
    # Only for one run at a time (Gradescope): it would kill a concurrent run too.
    sweep_uid: bool = False
    # Sealed (make grade's and the autograder's default): the run's test process
    # (pytest, the tester, the report) runs no student code and is trusted, outside
    # the sandbox; each Raft peer is a process of its own (a peer host,
    # harness/runtime/sealed.py) inside a sandbox of its own. In-process (False):
    # the student's Raft runs in the test process, and the whole run is sandboxed.
    sealed: bool = False


SEALED = (
    "sealed: each Raft peer its own process{where}; pytest, the tester and the report in "
    "a process that runs no student code"
)
IN_PROCESS = "in-process: the Raft in the process of pytest, the tester and the report{where}"


def describe(limits: Limits) -> str:
    """The isolation and the way the runs ran, for the start of a grading and every report."""
    isolation = limits.isolation
    if limits.sealed:
        where = ", in a sandbox of its own" if isolation.sandboxed else ""
        return f"{isolation.describe()}; {SEALED.format(where=where)}"
    where = ", all in the sandbox" if isolation.sandboxed else ""
    return f"{isolation.describe()}; {IN_PROCESS.format(where=where)}"


@dataclass
class Run:
    """The outcome of one run."""

    test: LabTest
    number: int  # 1..RUNS
    seed: int
    passed: bool
    reason: str  # "" when passed; else one line for the report
    seconds: float
    output: str  # the end of the child's output
    failure: str  # pytest's report of the failure, from the child's report
    files: dict[str, bytes]  # the run's timeline and full traceback, kept for the report
    timed_out: bool = False  # killed at its wall-clock limit
    ran: bool = True  # False: not run (the submission's time budget was used up)


def command_to_repeat(test: LabTest, seed: int) -> str:
    """What a person runs in a handout with the submission's raft.py to repeat this run."""
    return f"RAFTLAB_SEED={seed} python -m pytest '{test.node_id}'"


_cage_numbers = itertools.count(1)  # each run's cgroup a name of its own, across threads


def run_test(
    pristine: Pristine, raft_source: bytes, test: LabTest, number: int, seed: int,
    workdir: Path, limits: Limits,
) -> Run:  # fmt: skip
    """Run test once in a child, in workdir (made here, removed before returning),
    inside the sandbox limits.isolation gives (sandbox.py)."""
    isolation = limits.isolation
    copy = workdir / "handout"
    pristine.copy_with(raft_source, copy)
    (workdir / "tmp").mkdir()
    (workdir / "kept").mkdir()
    report = workdir / "report.json"
    output_path = workdir / "output.txt"
    python = sandbox.python() if isolation.sandboxed else sys.executable
    sandboxed = isolation.sandboxed
    drop = ["--user", str(isolation.uid)] if isolation.uid is not None else []
    processes = limits.sealed_processes if limits.sealed else limits.processes
    cage = (
        Cage(isolation.cgroup, f"raftlab-run-{os.getpid()}-{next(_cage_numbers)}",
             sandbox.Limits(limits.run_memory_bytes, processes, limits.cpu_seconds))
        if isolation.sandboxed and isolation.cgroup else None
    )  # fmt: skip
    nproc = [] if cage is not None or not sandboxed else ["--nproc", str(processes)]
    childside = sandbox.inside(CHILDSIDE) if sandboxed else CHILDSIDE
    launch = [
        python, "-S", str(childside / "launch.py"), str(limits.memory_bytes),
        str(limits.file_bytes), *drop, *nproc, "--",
    ]  # fmt: skip
    pytest = [
        python, "-S", "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "-p", "raftlab_grade_report", f"--grade-report={report}", test.node_id,
    ]  # fmt: skip
    if limits.sealed:
        env = _environment(copy, workdir, seed, sandboxed=False)
        env["RAFTLAB_SEALED"] = "1"
        env[PEER_WRAP] = json.dumps(_peer_wrap(isolation, launch, copy, workdir))
        # The test process: its limits, at the grader's uid, outside the sandbox.
        inner = [python, "-S", str(CHILDSIDE / "launch.py"), str(limits.memory_bytes),
                 str(limits.file_bytes), "--", *pytest, "--sealed"]  # fmt: skip
    else:
        env = _environment(copy, workdir, seed, sandboxed)
        inner = launch + pytest
        if isolation.uid is not None:
            _give(workdir, isolation.uid)
        if sandboxed:
            inner = sandbox.wrap(isolation, inner, workdir, sandbox.readable(CHILDSIDE), cwd=copy)
    joins = [arg for path in (cage.procs_files() if cage else []) for arg in ("--cgroup", path)]
    command = [python, "-S", str(CHILDSIDE / "enter.py"), *joins, "--", *inner] if joins else inner
    start = time.monotonic()
    try:
        returncode, timed_out, _ = _children.run(
            command, copy, env, output_path, limits.seconds, cage, limits.cpu_seconds,
        )  # fmt: skip
        over_cpu = cage is not None and cage.cpu_seconds() > limits.cpu_seconds
        over_memory = cage is not None and cage.hit_memory_limit()
    finally:
        if cage is not None:
            cage.remove()
        if limits.sweep_uid and isolation.uid is not None:
            sandbox.kill_uid(isolation.uid)
    seconds = time.monotonic() - start
    status = _read_report(report)
    tests = status.get("tests") if isinstance(status, dict) else None
    entry = tests.get(test.node_id) if isinstance(tests, dict) else None
    phases = entry.get("phases") if isinstance(entry, dict) else None
    if not isinstance(phases, dict):
        phases = {}
    reason = _reason(returncode, timed_out, limits, status, entry, phases)
    if not reason and limits.sealed:
        reason = student_code_in_test_process(status)
    if reason and over_cpu:
        reason = f"killed: used over {limits.cpu_seconds:g} s of CPU time (all its processes)"
    elif reason and over_memory:
        reason = f"{reason} (the run reached its {limits.run_memory_bytes >> 20} MB memory limit)"
    run = Run(
        test=test, number=number, seed=seed, passed=not reason, reason=reason,
        seconds=seconds, output="", failure="", files={}, timed_out=timed_out,
    )  # fmt: skip
    if reason:
        run.output = _tail(output_path)
        run.failure = (
            str(entry.get("failure", ""))[-KEPT_OUTPUT:] if isinstance(entry, dict) else ""
        )
        run.files = _kept_files(workdir)
    files.remove_tree(workdir)  # what it cannot remove goes with the submission's folder
    return run


PEER_WRAP = "RAFTLAB_PEER_WRAP"  # what a sealed test process starts each peer host under
HIDDEN = ".raftlab"  # the copy's folder the test process writes (failures, hangs)


def _peer_wrap(isolation: Isolation, launch: list[str], copy: Path, workdir: Path) -> list[str]:
    """The words each peer host of a sealed run is started under: launch.py (its limits,
    and the unprivileged uid when the grader is root) in a sandbox of its own, which
    sees the copy (less HIDDEN), the interpreter and launch.py, read-only. Without a
    sandbox, launch.py alone, with a HOME and TMPDIR of the peers' own."""
    hidden = copy / HIDDEN
    hidden.mkdir(exist_ok=True)
    if isolation.sandboxed:
        prefix = Path(sys.base_prefix).resolve()
        ro = [(prefix, prefix), (copy, copy), (CHILDSIDE, sandbox.inside(CHILDSIDE))]
        return sandbox.wrap_peer(isolation, launch, ro, [hidden], cwd=copy)
    peers = workdir / "peers"
    peers.mkdir()
    if isolation.uid is not None:
        _give(peers, isolation.uid)  # and lets the uid through to the copy
    return ["/usr/bin/env", f"HOME={peers}", f"TMPDIR={peers}", *launch]


def _give(folder: Path, uid: int) -> None:
    """Make folder and everything in it the run's, which writes as uid; and let uid
    through the grader's private folders above it (made 0700 by mkdtemp)."""
    top = Path(tempfile.gettempdir()).resolve()
    for parent in folder.resolve().parents:
        if parent == top or not parent.is_relative_to(top):
            break
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, (mode & 0o7777) | 0o001)
    for root, dirs, names in os.walk(folder):
        os.chown(root, uid, uid)
        for name in dirs + names:
            os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)


def _environment(copy: Path, workdir: Path, seed: int, sandboxed: bool) -> dict[str, str]:
    env = isolated_environment(copy, workdir, CHILDSIDE)
    if sandboxed:  # the paths the run sees (sandbox.readable)
        seen = (copy, sandbox.inside(CHILDSIDE), sandbox.inside(sandbox.site_packages()))
        env["PYTHONPATH"] = os.pathsep.join(map(str, seen))
    env["RAFTLAB_SEED"] = str(seed)
    env["RAFTLAB_TIMELINE_DIR"] = str(workdir / "kept")
    return env


def isolated_environment(copy: Path, workdir: Path, *more_paths: Path) -> dict[str, str]:
    """Just what a run of the lab in copy needs (its temporary files in workdir/tmp).
    With -S in the command, this PYTHONPATH lets the child import the copy's
    packages, then more_paths, then this interpreter's installed ones (pytest),
    and never a raft installed in this environment (an editable install of the
    repository would otherwise lend a submission the reference's modules)."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(workdir / "tmp"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join(
            [str(copy), *map(str, more_paths), sysconfig.get_paths()["purelib"]]
        ),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
    }


def kill_group(pid: int) -> None:
    """SIGKILL the process group pid leads, if it is still there."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _read_report(path: Path) -> object:
    """The child's report: None if there is none, {"error": why} if it cannot be used."""
    try:
        return json.loads(files.read_regular(path, MAX_REPORT))
    except FileNotFoundError:
        return None
    except files.Unreadable as e:
        return {"error": f"its report {e}"}
    except (OSError, ValueError, RecursionError) as e:
        return {"error": f"its report cannot be read ({type(e).__name__})"}


def _reason(
    returncode: int, timed_out: bool, limits: Limits, status: object,
    entry: object, phases: dict[str, str],
) -> str:  # fmt: skip
    """ "" for a passed run, else why it failed, most telling cause first."""
    if timed_out:
        return f"killed: still running after the {limits.seconds:g} s time limit"
    if returncode < 0:
        sig = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else ""
        if -returncode == signal.SIGXFSZ:
            return f"killed by {sig}: wrote a file over the {limits.file_bytes >> 20} MB limit"
        return f"killed by signal {sig or -returncode}"
    if status is None:
        return f"exited ({returncode}) without a report: the run ended before pytest finished"
    if isinstance(status, dict) and "error" in status:
        return f"exited ({returncode}), but {_quoted(status['error'])}"
    if not isinstance(entry, dict):
        errors = status.get("collect_errors") if isinstance(status, dict) else None
        if isinstance(errors, list) and errors:
            return f"the test could not be loaded: {_quoted(errors[0])}"
        return f"exited ({returncode}); its report does not have this test"
    if phases.get("call") == "skipped" and isinstance(entry, dict):
        # A test that cannot run on this Raft (the tests beyond Go's, when they cannot
        # tell its RPCs apart) earns nothing: a skip must not be a way to its points.
        message = str(entry.get("message", "")).removeprefix("skipped: ")
        reason = _quoted(message.removeprefix("Skipped: "))
        return f"skipped, which earns no points: {reason}"
    failed = [_quoted(when) for when, outcome in phases.items() if outcome != "passed"]
    if failed:
        message = _quoted(entry.get("message", ""))
        where = "" if failed == ["call"] else f" (in its {' and '.join(failed[:3])})"
        return f"failed{where}: {message}" if message else f"failed{where}"
    if set(phases) != {"setup", "call", "teardown"}:
        shown = ", ".join(_quoted(p) for p in list(phases)[:3])
        return f"exited ({returncode}); its report has only {shown or 'nothing'}"
    if returncode != 0:
        return f"the test passed, but pytest exited {returncode}"
    return ""


def student_code_in_test_process(status: object) -> str:
    """ "" if a sealed run's report says its test process loaded no module of the raft
    package (the student's raft.py runs only in the peer hosts), else why the run fails:
    a fault of the tester's, which would let the student's code judge itself."""
    loaded = status.get("raft_modules") if isinstance(status, dict) else None
    if isinstance(loaded, list) and not loaded:
        return ""
    shown = ", ".join(_quoted(m) for m in loaded[:4]) if isinstance(loaded, list) else ""
    return (
        f"sealed, but the test process loaded {shown or 'modules it does not list'}: "
        "the student's code must run only in the peer hosts (a fault of the tester's)"
    )


def _quoted(value: object) -> str:
    """A value of the child's report, as one line of at most REASON characters."""
    text = " ".join(str(value).split())
    return text if len(text) <= REASON else text[:REASON] + " ..."


def _tail(path: Path) -> str:
    try:
        data, cut = files.tail_regular(path, KEPT_OUTPUT)
    except files.Unreadable as e:
        return f"[the run's output is not kept: it {e}]"
    except OSError as e:
        return f"[the run's output cannot be read: {e}]"
    return ("[... earlier output cut ...]\n" if cut else "") + data.decode(errors="replace")


def _kept_files(workdir: Path) -> dict[str, bytes]:
    """The failed run's timeline, full traceback and hang report, if it wrote them,
    under names fit for the report's folder."""
    kept: dict[str, bytes] = {}
    raftlab = workdir / "handout" / ".raftlab"
    for folder in (workdir / "kept", raftlab / "failures", raftlab / "hangs"):
        if not folder.is_dir() or folder.is_symlink():
            continue
        for path in sorted(folder.iterdir())[:4]:
            try:
                data = files.read_regular(path, KEPT_FILE)
            except (files.Unreadable, OSError):
                continue
            kept[re.sub(r"[^A-Za-z0-9_.-]", "_", path.name)[-KEPT_NAME:]] = data
    return kept
