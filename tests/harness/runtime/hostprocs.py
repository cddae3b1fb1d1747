"""How a sealed peer's host process starts: forked from the zygote, or a new interpreter.

A new interpreter costs about 60 ms of CPU to start and import the host's code,
more than the Raft of most tests uses in all, and a test starts its peers and
spares. The zygote (harness/peerhost/zygote.py) imports that code once per test
session and forks each host, which then imports the student's module as a new
host would. The zygote is the tester's code, and sees no student code.

A host started under a wrapper (the grader's sandbox, RAFTLAB_PEER_WRAP) is a
new interpreter each time, since each is a sandbox of its own; so is every host
with RAFTLAB_ZYGOTE=off.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import IO, Any, Protocol

__all__ = ["HostProcess", "start"]

ZYGOTE_ENV = "RAFTLAB_ZYGOTE"  # "off": every host a new interpreter
ANSWER_SECONDS = 30.0  # for the zygote to answer a request


class HostProcess(Protocol):
    """The part of subprocess.Popen's API a sealed host's process is used through."""

    pid: int
    stdout: IO[bytes] | None  # the host's stdout and stderr
    returncode: int | None

    def wait(self, timeout: float | None = None) -> int | None:
        """Its returncode once it has ended (None if that cannot be known); raises
        subprocess.TimeoutExpired."""

    def send_signal(self, sig: int) -> None: ...


def forks(env: dict[str, str], wrap: list[str]) -> bool:
    """Whether start() forks hosts from the zygote, given the same env and wrap."""
    return not wrap and env.get(ZYGOTE_ENV, "").strip().lower() not in ("0", "off", "no")


def start(
    args: list[str], channels: list[socket.socket], env: dict[str, str], wrap: list[str]
) -> HostProcess:
    """A host running `python -m harness.peerhost FDS *args`, FDS its ends of
    channels, comma-separated: its main channel's first, then its lanes' and inboxes'."""
    if forks(env, wrap):
        forked = _zygote_for(env).fork(args, channels, env)
        if forked is not None:
            return forked
    fds = [c.fileno() for c in channels]
    return subprocess.Popen(
        [*wrap, *_python(), "-m", "harness.peerhost", ",".join(map(str, fds)), *args],
        pass_fds=fds,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )


def run(
    args: list[str], env: dict[str, str], wrap: list[str], timeout: float
) -> tuple[int | None, bytes]:
    """`python -m harness.peerhost *args`, with no channel, to its end: its returncode
    (None if it ran out of time, and was killed) and its output."""
    forked = _zygote_for(env).fork(args, [], env) if forks(env, wrap) else None
    if forked is None:
        try:
            done = subprocess.run(
                [*wrap, *_python(), "-m", "harness.peerhost", *args],
                env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return None, b""
        return done.returncode, done.stdout
    assert forked.stdout is not None
    out: list[bytes] = []
    fd = forked.stdout.fileno()
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0 and poller.poll(int(left * 1000) + 1):
        if not (chunk := os.read(fd, 1 << 16)):
            forked.stdout.close()
            return forked.wait(max(0.0, deadline - time.monotonic())), b"".join(out)
        out.append(chunk)
    forked.send_signal(signal.SIGKILL)
    forked.wait()
    forked.stdout.close()
    return None, b""


def _python() -> list[str]:
    return [sys.executable, *(["-S"] if sys.flags.no_site else [])]


class _Forked:
    """A host forked from the zygote. Its pidfd names it whatever pids are reused; the
    zygote, its parent, tells its returncode."""

    def __init__(self, zygote: _Zygote, pid: int, pidfd: int, stdout: IO[bytes]) -> None:
        self.pid = pid
        self.stdout: IO[bytes] | None = stdout
        self._zygote = zygote
        self._pidfd = pidfd  # open until this object goes
        self._mu = threading.Lock()
        self._ended = False  # guarded by _mu: returncode is known (or cannot be)
        self.returncode: int | None = None  # guarded by _mu

    def wait(self, timeout: float | None = None) -> int | None:
        poller = select.poll()
        poller.register(self._pidfd, select.POLLIN)  # readable once the process has ended
        if not poller.poll(None if timeout is None else max(0, int(timeout * 1000))):
            raise subprocess.TimeoutExpired(f"peer host {self.pid}", timeout or 0)
        with self._mu:
            if not self._ended:
                self.returncode = self._zygote.returncode(self.pid)
                self._ended = True
            return self.returncode

    def send_signal(self, sig: int) -> None:
        try:
            signal.pidfd_send_signal(self._pidfd, sig)
        except ProcessLookupError:
            pass  # it has ended

    def __del__(self) -> None:
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1


class _Zygote:
    """The tester's end of one zygote process (harness/peerhost/zygote.py)."""

    def __init__(self, env: dict[str, str]) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen(
            [*_python(), "-m", "harness.peerhost.zygote", str(child.fileno())],
            pass_fds=(child.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            env=env,
        )  # its stderr is the tester's: a zygote that cannot start says why there
        child.close()
        parent.settimeout(ANSWER_SECONDS)
        self._sock = parent
        self._mu = threading.Lock()  # one request and its answer at a time
        self.broken = False  # guarded by _mu

    def fork(
        self, args: list[str], channels: list[socket.socket], env: dict[str, str]
    ) -> _Forked | None:
        """A host forked with these args (after its channels' fds, if it has any), env
        and this process's cwd; None if the zygote cannot fork (its trouble is
        reported once, on stderr)."""
        out_r, out_w = os.pipe()
        try:
            fds = [out_w, *(c.fileno() for c in channels)]
            answer = self._ask(["fork", args, env, os.getcwd()], fds)
        finally:
            os.close(out_w)
        if answer is None or answer[0][0] != "forked" or len(answer[1]) != 1:
            os.close(out_r)
            return None
        return _Forked(self, answer[0][1], answer[1][0], os.fdopen(out_r, "rb"))

    def returncode(self, pid: int) -> int | None:
        answer = self._ask(["status", pid])
        return None if answer is None else answer[0][2]

    def _ask(
        self, message: list[Any], fds: list[int] | None = None
    ) -> tuple[Any, list[int]] | None:
        with self._mu:
            if self.broken:
                return None
            try:
                socket.send_fds(self._sock, [json.dumps(message).encode()], fds or [])
                data, got, _, _ = socket.recv_fds(self._sock, 1 << 16, 1)
                if data:
                    return json.loads(data), got
                why = f"it exited with code {self.proc.wait()}"
            except OSError as e:
                why = str(e)
            self.broken = True
        sys.stderr.write(
            f"sealed mode: the zygote (harness/peerhost/zygote.py) failed ({why}); "
            f"peer hosts start as new interpreters from now on\n"
        )
        return None

    def close(self) -> None:
        self._sock.close()
        try:
            self.proc.wait(2.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_mu = threading.Lock()
_zygotes: dict[tuple[tuple[str, str], ...], _Zygote] = {}  # guarded by _mu


def _zygote_for(env: dict[str, str]) -> _Zygote:
    """The zygote for hosts of this environment: one per set of PYTHON* variables,
    which the interpreter reads as it starts (the rest, a child takes after the fork)."""
    key = tuple(sorted((k, v) for k, v in env.items() if k.startswith("PYTHON")))
    with _mu:
        zygote = _zygotes.get(key)
        if zygote is None:
            if not _zygotes:
                atexit.register(_close_all)
            zygote = _zygotes[key] = _Zygote(env)
    return zygote


def _close_all() -> None:
    with _mu:
        zygotes = list(_zygotes.values())
        _zygotes.clear()
    for zygote in zygotes:
        zygote.close()
