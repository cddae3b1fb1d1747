"""The zygote: a process that has imported the peer host's code once, and forks a
host per request (harness/runtime/hostprocs.py is the tester's side).

A new interpreter costs about 60 ms of CPU to start and import the host's code,
which is more than most tests' Raft uses in all; a fork of this process costs a
few ms. The zygote is the tester's code: it never imports the student's raft,
which each child imports after the fork, as a new host would (from code the
zygote compiled once, harness/peerhost/precompiled.py, since compiling runs
none of it). It runs one thread, so a fork copies no lock another thread holds.

It talks to the tester over a SOCK_SEQPACKET socket, one JSON message a packet:

  * ["fork", argv, env, cwd] with the host's output and, for a host that
    serves a peer, its channels (at most MAX_CHANNELS): the child makes the
    first its stdout and stderr, takes env and cwd, and runs host.py's main
    with argv (after the channels' fds, comma-separated); the answer is
    ["forked", pid] with a pidfd of the child, through which the tester
    signals it and sees it end;
  * ["status", pid]: the answer is ["status", pid, returncode] once the child
    has ended (returncode as subprocess's: -N for signal N), None for a pid
    that is not, or no longer, a child of this process.

The zygote exits when the tester closes its end.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import select
import signal
import socket
import sys
import traceback
from typing import Any

import harness.peerhost.host
from harness.peerhost.precompiled import Precompiled

# Standard modules a Raft is likely to import, imported before any fork: what a
# child imports after it, it pays for alone.
WARM = ("bisect", "collections", "copy", "dataclasses", "enum", "logging", "math",
        "random", "string", "typing")  # fmt: skip

MAX_PACKET = 1 << 20
MAX_CHANNELS = 16  # a host's main channel, its lanes and inboxes (runtime/lanes.py, inboxes.py)


class Zygote:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._ended: dict[int, int] = {}  # pid -> returncode, reaped, not yet asked for
        self._precompiled = Precompiled()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)

    def serve(self) -> None:
        while True:
            ready, _, _ = select.select([self._sock.fileno(), self._wake_r], [], [])
            if self._wake_r in ready:
                os.read(self._wake_r, 4096)
                self._reap()
            if self._sock.fileno() in ready:
                data, fds, _, _ = socket.recv_fds(self._sock, MAX_PACKET, 1 + MAX_CHANNELS)
                if not data:
                    return  # the tester has gone
                self._handle(json.loads(data), fds)

    def _handle(self, message: list[Any], fds: list[int]) -> None:
        if message[0] == "fork":
            _, argv, env, cwd = message
            self._fork(argv, env, cwd, fds)
        elif message[0] == "status":
            pid = message[1]
            if pid not in self._ended:
                try:
                    _, status = os.waitpid(pid, 0)  # the tester saw it end: no wait
                    self._ended[pid] = os.waitstatus_to_exitcode(status)
                except ChildProcessError:
                    pass
            self._send(["status", pid, self._ended.pop(pid, None)])

    def _fork(self, argv: list[str], env: dict[str, str], cwd: str, fds: list[int]) -> None:
        # The child's sys.path, as _become_host sets it.
        module = harness.peerhost.host.module_named(argv)
        self._precompiled.compile_package(module, [cwd, *sys.path[1:]])
        # The collector would walk every object the child inherits and so write to
        # (and copy) most of its pages: frozen, it leaves them shared, which takes
        # about a third off a host's cost from fork to Make.
        gc.freeze()
        pid = os.fork()
        if pid == 0:
            self._become_host(argv, env, cwd, fds)
        # Opened before the child can be reaped (only this thread reaps), so it is
        # the child's, whatever pids the system hands out later.
        pidfd = os.pidfd_open(pid)
        try:
            self._send(["forked", pid], [pidfd])
        finally:
            os.close(pidfd)
            for fd in fds:
                os.close(fd)

    def _become_host(self, argv: list[str], env: dict[str, str], cwd: str, fds: list[int]) -> None:
        """In the child: what a new `python -m harness.peerhost ...` would be. Never returns."""
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self._sock.close()
            os.close(self._wake_r)
            os.close(self._wake_w)
            output, *channel = fds
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(output, 1)
            os.dup2(output, 2)
            for fd in (devnull, output):
                os.close(fd)
            os.environ.clear()
            os.environ.update(env)
            if cwd != os.getcwd():
                os.chdir(cwd)
                sys.path[0] = cwd  # as `python -m` puts its cwd first
            self._precompiled.install()
            script = os.path.join(os.path.dirname(harness.peerhost.host.__file__), "__main__.py")
            # as `python -m harness.peerhost FDS ...` has it
            sys.argv = [script, *([",".join(map(str, channel))] if channel else []), *argv]
            harness.peerhost.host.main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
            os._exit(code)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._ended[pid] = os.waitstatus_to_exitcode(status)

    def _send(self, message: list[Any], fds: list[int] | None = None) -> None:
        socket.send_fds(self._sock, [json.dumps(message).encode()], fds or [])


def main() -> None:
    sock = socket.socket(fileno=int(sys.argv[1]))
    for name in WARM:
        importlib.import_module(name)
    try:
        Zygote(sock).serve()
    except (ConnectionError, EOFError):
        pass


if __name__ == "__main__":
    main()
