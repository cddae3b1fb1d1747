"""Unpack a submitted archive safely and find the student's raft/raft.py in it.

A submission is untrusted.  Before anything is written, every member of the
archive is checked: no absolute paths, no `..`, no links, devices or other
special files, no encrypted or unknown compression, at most MAX_DEPTH folders
deep, at most MAX_MEMBERS members and MAX_UNPACKED bytes in all.  Only then are
its regular files written, each opened with O_EXCL|O_NOFOLLOW inside a folder
the grader made for it, so nothing can land outside that folder.  An archive
that fails a check, or that turns out corrupt while it is read, is refused as a
whole with a line that says why.
"""

from __future__ import annotations

import lzma
import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO

from grade import files

MAX_MEMBERS = 10_000
MAX_DEPTH = 64  # folders; make submit's archives nest three deep
MAX_UNPACKED = 50 * 1024 * 1024
MAX_RAFT_BYTES = 1024 * 1024  # a raft.py is a few hundred lines
SUFFIXES = (".tar.gz", ".tgz", ".zip")
TARGET = PurePosixPath("raft/raft.py")
_CHUNK = 1 << 16
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_REPACK = "pack it again with make submit, which writes a .tar.gz"


class Refused(Exception):
    """The submission cannot be graded; the message says why, for the report."""


@dataclass(frozen=True)
class _Member:
    name: PurePosixPath
    is_dir: bool
    size: int
    open: Callable[[], IO[bytes] | None]


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(SUFFIXES)


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack archive into dest (an empty folder) and return the path of its one
    raft/raft.py; Refused if the archive is unsafe, unreadable or holds no single
    raft.py."""
    name = archive.name.lower()
    try:
        with files.open_regular(archive) as f:
            if name.endswith(".zip"):
                with zipfile.ZipFile(f) as zf:
                    _write(_zip_members(zf), dest)
            else:
                with tarfile.open(fileobj=f, mode="r:gz") as tf:
                    _write(_tar_members(tf), dest)
    except (Refused, RecursionError):
        raise
    except files.Unreadable as e:
        raise Refused(f"{archive.name} {e}") from None
    except NotImplementedError as e:  # a zip method this Python lacks
        raise Refused(f"cannot read {archive.name}: {e}; {_REPACK}") from None
    except (
        tarfile.TarError, zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError,
        OSError, ValueError, RuntimeError,
    ) as e:  # fmt: skip
        raise Refused(
            f"cannot read {archive.name}: {type(e).__name__}: {_shorten(str(e))}; {_REPACK}"
        ) from None
    return find_raft(dest, archive.name)


def find_raft(root: Path, label: str) -> Path:
    """The one raft/raft.py under root, at any depth, following no links."""
    found = [
        here / "raft.py"
        for here, names in files.walk(root, skip=("__MACOSX", ".git"))
        if here.name == "raft" and "raft.py" in names
    ]
    if not found:
        raise Refused(
            f"{label} holds no raft/raft.py: the archive must contain your raft/raft.py "
            "(make submit in the handout packs it)"
        )
    if len(found) > 1:
        shown = ", ".join(str(p.relative_to(root)) for p in sorted(found)[:5])
        raise Refused(
            f"{label} holds {len(found)} raft/raft.py files ({shown}); it must hold exactly one"
        )
    path = found[0]
    if path.is_symlink() or not path.is_file():
        raise Refused(f"{label}: {path.relative_to(root)} is not a regular file")
    if path.stat().st_size > MAX_RAFT_BYTES:
        raise Refused(
            f"{label}: {path.relative_to(root)} is {path.stat().st_size} bytes; "
            f"at most {MAX_RAFT_BYTES} are accepted"
        )
    return path


def read_raft(path: Path, label: str) -> bytes:
    """The raft.py find_raft found, read without following a link or blocking."""
    try:
        return files.read_regular(path, MAX_RAFT_BYTES)
    except files.Unreadable as e:
        raise Refused(f"{label}: its raft.py {e}") from None


def _tar_members(tf: tarfile.TarFile) -> Iterator[_Member]:
    for info in tf:
        if not (info.isfile() or info.isdir()):
            what = (
                "a symbolic link" if info.issym()
                else "a hard link" if info.islnk()
                else "a FIFO" if info.isfifo()
                else "a device file" if info.ischr() or info.isblk()
                else "a special file"
            )  # fmt: skip
            raise Refused(
                f"member {_shown(info.name)} is {what}; only files and folders are accepted"
            )
        yield _Member(_safe_name(info.name), info.isdir(), info.size, partial(tf.extractfile, info))


def _zip_members(zf: zipfile.ZipFile) -> Iterator[_Member]:
    for info in zf.infolist():
        mode = info.external_attr >> 16  # Unix mode, if the zip was made on Unix
        if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            what = "a symbolic link" if stat.S_ISLNK(mode) else "a special file"
            raise Refused(
                f"member {_shown(info.filename)} is {what}; only files and folders are accepted"
            )
        if info.flag_bits & 0x1:
            raise Refused(
                f"member {_shown(info.filename)} is encrypted; the grader has no password: "
                f"{_REPACK}"
            )
        if info.compress_type not in _ZIP_METHODS:
            raise Refused(
                f"member {_shown(info.filename)} is compressed with method {info.compress_type}, "
                f"which the grader cannot read: {_REPACK}"
            )
        yield _Member(
            _safe_name(info.filename), info.is_dir(), info.file_size, partial(zf.open, info)
        )


def _safe_name(name: str) -> PurePosixPath:
    shown = _shown(name)
    if "\\" in name or "\x00" in name:
        raise Refused(f"member {shown} has a backslash or NUL in its name")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        raise Refused(f"member {shown} has an absolute path; only relative paths are accepted")
    if ".." in path.parts:
        raise Refused(f"member {shown} climbs out with '..'; only paths inside are accepted")
    parts = [p for p in path.parts if p not in ("", ".")]
    if not parts:
        raise Refused(f"member {shown} has no name")
    if len(parts) > MAX_DEPTH + 1:
        raise Refused(
            f"member {shown} is nested {len(parts) - 1} folders deep; at most {MAX_DEPTH} "
            "are accepted"
        )
    if any(len(os.fsencode(p)) > 255 for p in parts):
        raise Refused(f"member {shown} has a name over 255 bytes, longer than a file name can be")
    return PurePosixPath(*parts)


def _shown(name: str, limit: int = 100) -> str:
    """A member's name quoted for a report line, shortened if it is long."""
    return (
        repr(name)
        if len(name) <= limit
        else repr(name[:limit]) + f" (and {len(name) - limit} more characters)"
    )


def _shorten(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit] + " ..."


def _write(members: Iterator[_Member], dest: Path) -> None:
    """Check every member, then write them; sizes are counted again while writing,
    so an archive whose headers understate its contents is refused too."""
    checked: list[_Member] = []
    names: set[PurePosixPath] = set()
    total = 0
    for m in members:
        if m.name in names and not m.is_dir:
            raise Refused(f"member {_shown(str(m.name))} appears twice")
        names.add(m.name)
        checked.append(m)
        total += m.size
        if len(checked) > MAX_MEMBERS:
            raise Refused(f"the archive has more than {MAX_MEMBERS} members")
        if total > MAX_UNPACKED:
            raise Refused(f"the archive unpacks to more than {MAX_UNPACKED // (1024 * 1024)} MB")
    written = 0
    for m in checked:
        target = dest.joinpath(*m.name.parts)
        _make_dirs(dest, m.name.parts if m.is_dir else m.name.parts[:-1])
        if m.is_dir:
            continue
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            source = m.open()
            if source is None:
                continue
            with source:
                while chunk := source.read(_CHUNK):
                    written += len(chunk)
                    if written > MAX_UNPACKED:
                        raise Refused(
                            f"the archive unpacks to more than {MAX_UNPACKED // (1024 * 1024)} MB"
                        )
                    out.write(chunk)


def _make_dirs(dest: Path, parts: tuple[str, ...]) -> None:
    """Make dest/parts..., refusing to pass through anything but a real folder."""
    here = dest
    for part in parts:
        here = here / part
        if here.is_symlink() or (here.exists() and not here.is_dir()):
            raise Refused(
                f"member path {_shown('/'.join(parts))} collides with a file of the archive"
            )
        if not here.exists():
            here.mkdir(mode=0o700)
