"""Planted submissions for the grader's tests: each is the one-file reference
(handout/reference.py) or the skeleton, with one thing added at the end of the
file, using only the lab's API names (Make, RequestVote, sendRequestVote)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

from handout.reference import single_file

NEVER_ELECTS = """

_request_vote = Raft.RequestVote


def _never_grant(self: Raft, args: RequestVoteArgs, reply: RequestVoteReply) -> None:
    _request_vote(self, args, reply)
    reply.VoteGranted = False  # planted: no candidate ever wins


Raft.RequestVote = _never_grant  # type: ignore[method-assign]
"""

HOLDS_MU_ACROSS_CALL = """

_send_request_vote = Raft.sendRequestVote


def _send_holding_mu(self: Raft, server: int, args: RequestVoteArgs, reply: RequestVoteReply):
    with self.mu:  # planted: mu held across Calls, one of them to this peer's own handler
        self.peers[self.me].Call("Raft.RequestVote", args, RequestVoteReply())
        return _send_request_vote(self, server, args, reply)


Raft.sendRequestVote = _send_holding_mu  # type: ignore[method-assign]
"""

EXITS = """


def Make(*args, **kwargs):  # type: ignore[no-redef]
    import os

    os._exit(0)  # planted: the process ends with status 0 before any report
"""

PATCHES_TESTER = """

_make = Make


def Make(*args, **kwargs):  # type: ignore[no-redef]
    import sys

    config = sys.modules.get("harness.config")
    if config is not None:  # planted: the tester's check replaced from inside Make
        config.Config.checkOneLeader = lambda self: 0
    return _make(*args, **kwargs)
"""

_REPLACES_REPORT = """

import atexit as _atexit
import os as _os
import sys as _sys


def _replace_report() -> None:  # planted: once pytest has written its report
    for arg in _sys.argv:
        if arg.startswith("--grade-report="):
            path = arg.split("=", 1)[1]
            _os.remove(path)
            {replace}


_atexit.register(_replace_report)
"""
REPORT_FIFO = _REPLACES_REPORT.format(replace="_os.mkfifo(path)")
REPORT_DEV_ZERO = _REPLACES_REPORT.format(replace='_os.symlink("/dev/zero", path)')

LITTERS = """

import os as _os

_path = "litter"
_os.mkdir(_path)
for _ in range(1200):  # planted: past rmtree's recursion, the deepest folder locked
    _path += "/a"
    _os.mkdir(_path)
_os.chmod(_path, 0)
"""

HANGS = b"import time\n\ntime.sleep(1000)  # planted: every test hangs as it loads\n"
FAILS_AT_ONCE = b'raise ImportError("planted: nothing to grade")\n'

BROKEN_NETWORK = b'raise ImportError("planted: this labrpc/network.py must never be used")\n'


def reference() -> bytes:
    return single_file().encode()


def skeleton(handout_root: Path) -> bytes:
    return (handout_root / "raft" / "raft.py").read_bytes()


def tar_gz(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def zip_file(path: Path, files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def zip_patched(
    path: Path, files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED,
    flag_bits: int = 0, method: int | None = None, corrupt: bool = False,
) -> Path:  # fmt: skip
    """A zip whose members' headers carry flag_bits (0x1: encrypted) and method, or
    whose compressed data is overwritten: what Python's zipfile cannot write."""
    zip_file(path, files, compression)
    data = bytearray(path.read_bytes())
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while at >= 0:
            data[at + flags_at] |= flag_bits
            if method is not None:
                data[at + flags_at + 2 : at + flags_at + 4] = method.to_bytes(2, "little")
            if corrupt and signature == b"PK\x03\x04":
                name_len = int.from_bytes(data[at + 26 : at + 28], "little")
                extra_len = int.from_bytes(data[at + 28 : at + 30], "little")
                start = at + 30 + name_len + extra_len
                skip = 9 if compression == zipfile.ZIP_LZMA else 0  # LZMA's properties
                data[start + skip : start + skip + 24] = b"\xff" * 24
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))
    return path
