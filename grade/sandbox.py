"""The operating-system sandbox every grading run is in.

A run executes a student's code, so it must not see or touch anything but its
own folder. With bubblewrap (`bwrap`, Debian's `bubblewrap` package) a run gets:

- a filesystem of its own: its folder (the handout copy with the submission's
  raft.py) writable; the Python runtime, the test packages and the grader's
  child-side plugin read-only; nothing else (not the repository, SUBMISSIONS,
  other runs, grades/, $HOME, the host's /proc);
- no network (a network namespace with only loopback);
- its own PID namespace: when the run ends its init dies and the kernel kills
  every process left in it, so setsid() and double forks cannot escape;
- an unprivileged uid (65534) when the grader runs as root (launch.py drops to
  it before any student code runs);
- a cgroup (v1 or v2, where the grader may make one) capping memory and
  processes for the whole run, and CPU time, which the grader polls.

Where bwrap is missing or refused, `detect()` says so, and the grader refuses
to grade unless told UNSANDBOXED=1 (then every report says it was unsandboxed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

NOBODY = 65534  # the uid and gid a run gets when the grader is root
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Limits:
    """What a whole run (every process it starts) may use."""

    memory_bytes: int = 4 * 1024**3
    processes: int = 512  # processes and threads
    cpu_seconds: float = 480.0  # two cores for the whole wall-clock limit


@dataclass(frozen=True)
class Isolation:
    """The isolation this machine gives a run."""

    bwrap: str  # the bwrap binary; "" if it is missing or refused here
    cgroup: str  # "v1", "v2", or "" if the grader cannot make cgroups
    uid: int | None  # the uid runs drop to; None when the grader is not root
    why_not: str = ""  # why there is no bwrap, for the refusal line

    @property
    def sandboxed(self) -> bool:
        return bool(self.bwrap)

    def describe(self) -> str:
        """One line for the start of a grading and for every report."""
        if not self.sandboxed:
            uid = f"; runs as uid {self.uid}" if self.uid is not None else ""
            return f"isolation: NONE ({self.why_not}{uid})"
        parts = ["bubblewrap (own filesystem view, PID and network namespaces)"]
        parts.append(
            f"cgroup {self.cgroup} (memory, processes, CPU time)"
            if self.cgroup
            else "no cgroup (memory per process only)"
        )
        if self.uid is not None:
            parts.append(f"uid {self.uid}")
        return "isolation: " + ", ".join(parts)


def unsandboxed(why: str = "no sandbox was asked for") -> Isolation:
    """No sandbox; as root, runs still drop to NOBODY where NOBODY can reach the
    interpreter and the test packages (a Python under /root cannot be)."""
    uid = NOBODY if os.geteuid() == 0 and _others_reach(python(), site_packages()) else None
    return Isolation("", "", uid, why)


def _others_reach(*paths: str | Path) -> bool:
    """True if every folder on the way to each path lets others through."""
    for path in paths:
        for folder in Path(path).resolve().parents:
            try:
                if not os.stat(folder).st_mode & 0o001:
                    return False
            except OSError:
                return False
    return True


def kill_uid(uid: int) -> None:
    """SIGKILL every process of uid, from a child that becomes uid: kill(-1) then
    reaches exactly the processes uid may signal, its own."""
    code = (
        f"import os, signal\nos.setgroups([]); os.setgid({uid}); os.setuid({uid})\n"
        "for _ in range(20):\n"
        "    try:\n        os.kill(-1, signal.SIGKILL)\n    except ProcessLookupError:\n"
        "        break\n"
    )
    subprocess.run([sys.executable, "-S", "-c", code], timeout=30, check=False)


def detect() -> Isolation:
    """What isolation this machine gives: bwrap tried once on a trivial command."""
    uid = NOBODY if os.geteuid() == 0 else None
    cgroup = _cgroup_version()
    path = shutil.which("bwrap") or ""
    if not path:
        return unsandboxed("bubblewrap is not installed: apt-get install bubblewrap")
    probe = [path, *_mounts([], readable()), "--", python(), "-S", "-c", ""]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return unsandboxed(f"bwrap does not run here: {e}")
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        return unsandboxed(
            f"bwrap is refused here ({message[-1] if message else done.returncode}); "
            "a container may need --privileged or a seccomp profile allowing namespaces"
        )
    return Isolation(path, cgroup, uid)


INSIDE = Path("/sandbox")  # where a run sees the grader's read-only folders


def site_packages() -> Path:
    """The installed test packages (pytest, ...), as the grader sees them."""
    return Path(sysconfig.get_paths()["purelib"]).resolve()


def readable(*folders: Path) -> list[tuple[Path, Path]]:
    """(host path, path inside) of what a run reads: the interpreter's prefix at its
    own path (its binary names its library by absolute path), and the test packages
    and folders under INSIDE, so no path of the repository shows inside."""
    pairs = [(Path(sys.base_prefix).resolve(),) * 2, (site_packages(), inside(site_packages()))]
    pairs += [(f.resolve(), inside(f)) for f in folders]
    return pairs


def inside(folder: Path) -> Path:
    """Where a run sees folder, given to readable(): INSIDE/<its name>."""
    return INSIDE / folder.resolve().name


def python() -> str:
    """The interpreter runs use: the real file, not a venv's symlink to it (the venv's
    folder is not in the sandbox)."""
    return os.path.realpath(sys.executable)


def wrap(
    isolation: Isolation, command: list[str], writable: Path, ro: list[tuple[Path, Path]],
    cwd: Path,
) -> list[str]:  # fmt: skip
    """command run in cwd inside the sandbox, seeing writable (read-write, at its own
    path) and each (host path, path inside) of ro read-only."""
    if not isolation.sandboxed:
        return command
    mounts = _mounts([writable], ro)
    return [isolation.bwrap, *mounts, "--chdir", str(cwd), "--", *command]


def wrap_peer(
    isolation: Isolation, command: list[str], ro: list[tuple[Path, Path]], hidden: list[Path],
    cwd: Path,
) -> list[str]:  # fmt: skip
    """The words a sealed run's peer host is started under (RAFTLAB_PEER_WRAP): command,
    then the host's own command, run in cwd inside a sandbox of its own, seeing each
    (host path, path inside) of ro read-only, an empty tmpfs over each of hidden (folders
    within ro that the run's trusted test process writes to), and a private writable
    /tmp of its own, which is also its HOME and TMPDIR. Nothing else: not the run's
    folder (its report, its timeline), not another peer's /tmp."""
    if not isolation.sandboxed:
        return command
    args = _mounts([], ro)
    for folder in hidden:
        args += ["--tmpfs", str(folder)]
    args += ["--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp"]
    return [isolation.bwrap, *args, "--chdir", str(cwd), "--", *command]


def _mounts(writable: list[Path], ro: list[tuple[Path, Path]]) -> list[str]:
    if os.geteuid() == 0:
        # No user namespace: launch.py drops to NOBODY, a real unprivileged uid on
        # the host too, and needs CAP_SETUID/CAP_SETGID for that (and no others).
        namespaces = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                      "--unshare-cgroup-try", "--cap-drop", "ALL", "--cap-add", "CAP_SETUID",
                      "--cap-add", "CAP_SETGID"]  # fmt: skip
    else:
        namespaces = ["--unshare-all"]  # with a user namespace, as bwrap needs unprivileged
    args = [
        *namespaces,
        "--die-with-parent",
        "--new-session",
        "--tmpfs", "/",
        "--proc", "/proc",
        "--dev", "/dev",
        "--perms", "1777", "--tmpfs", "/tmp",
        "--ro-bind", "/usr", "/usr",
    ]  # fmt: skip
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in ("/etc/ld.so.cache", "/etc/localtime"):
        if os.path.exists(name):
            args += ["--ro-bind", name, name]
    made: set[Path] = {Path("/"), Path("/tmp"), Path("/usr")}
    for path in [*(inner for _, inner in ro), *writable]:
        # Folders bwrap would make on the way take the host's modes (/root: 0700).
        for parent in reversed(path.parents):
            if parent not in made and not parent.is_relative_to("/usr"):
                made.add(parent)
                args += ["--perms", "0755", "--dir", str(parent)]
    for host, inner in ro:
        args += ["--ro-bind", str(host), str(inner)]
    for path in writable:
        args += ["--bind", str(path), str(path)]
    return args


# -- cgroups ----------------------------------------------------------------

_V1_CONTROLLERS = ("memory", "pids", "cpuacct")


def _cgroup_version() -> str:
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        base = _own_v2()
        if base is None or not os.access(base, os.W_OK):
            return ""
        return "v2" if _v2_can_nest(base) else ""
    for controller in _V1_CONTROLLERS:
        base = _own_v1(controller)
        if base is None or not os.access(base, os.W_OK):
            return ""
    return "v1"


def _own_v1(controller: str) -> Path | None:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            return CGROUP_ROOT / controller / path.lstrip("/")
    return None


def _own_v2() -> Path | None:
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return CGROUP_ROOT / line[3:].lstrip("/")
    except OSError:
        pass
    return None


def _v2_can_nest(base: Path) -> bool:
    try:
        enabled = (base / "cgroup.subtree_control").read_text().split()
    except OSError:
        return False
    return {"memory", "pids", "cpu"} <= set(enabled)


class Cage:
    """One run's cgroup: made before the run, joined by its first process
    (childside/enter.py), read while it runs, emptied and removed after."""

    def __init__(self, version: str, name: str, limits: Limits) -> None:
        self.version = version
        self.limits = limits
        self.dirs: list[Path] = []
        if version == "v1":
            for controller in _V1_CONTROLLERS:
                base = _own_v1(controller)
                if base is not None:
                    self.dirs.append(base / name)
        elif version == "v2":
            base = _own_v2()
            if base is not None:
                self.dirs.append(base / name)
        for d in self.dirs:
            d.mkdir(exist_ok=True)
        self._write_limits()

    def _write_limits(self) -> None:
        limits = self.limits
        for d in self.dirs:
            settings = {
                "memory.limit_in_bytes": str(limits.memory_bytes),
                "memory.memsw.limit_in_bytes": str(limits.memory_bytes),
                "pids.max": str(limits.processes),
                "memory.max": str(limits.memory_bytes),
                "memory.swap.max": "0",
            }
            for name, value in settings.items():
                target = d / name
                if target.exists():
                    try:
                        target.write_text(value)
                    except OSError:
                        pass  # memsw is absent or refused without swap accounting

    def procs_files(self) -> list[str]:
        """Where a process writes its pid to join the cage."""
        return [str(d / "cgroup.procs") for d in self.dirs]

    def cpu_seconds(self) -> float:
        for d in self.dirs:
            usage = d / "cpuacct.usage"
            if usage.exists():
                try:
                    return int(usage.read_text()) / 1e9
                except (OSError, ValueError):
                    return 0.0
            stat = d / "cpu.stat"
            if stat.exists():
                try:
                    for line in stat.read_text().splitlines():
                        if line.startswith("usage_usec "):
                            return int(line.split()[1]) / 1e6
                except (OSError, ValueError):
                    return 0.0
        return 0.0

    def hit_memory_limit(self) -> bool:
        for d in self.dirs:
            for name, key in (("memory.failcnt", ""), ("memory.events", "oom_kill")):
                path = d / name
                if not path.exists():
                    continue
                try:
                    text = path.read_text()
                except OSError:
                    continue
                if not key and text.strip() not in ("", "0"):
                    return True
                for line in text.splitlines():
                    if key and line.startswith(key + " ") and line.split()[1] != "0":
                        return True
        return False

    def kill_all(self) -> None:
        """SIGKILL every process in the cage until none is left (a fork bomb too)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pids = self._pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, 9)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.01)

    def _pids(self) -> set[int]:
        pids: set[int] = set()
        for name in self.procs_files():
            try:
                pids |= {int(p) for p in Path(name).read_text().split()}
            except (OSError, ValueError):
                pass
        return pids

    def remove(self) -> None:
        self.kill_all()
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
