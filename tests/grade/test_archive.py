"""Unpacking a submission: the archive's members are checked before anything is
written, and nothing is ever written outside the grader's folder."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import planted
import pytest
from planted import tar_gz, zip_file

from grade import archive, files

RAFT = b"# a student's raft.py\n"


def unpack(tmp_path: Path, path: Path) -> Path:
    dest = tmp_path / "private"
    dest.mkdir()
    return archive.unpack(path, dest)


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_takes_raft_py_at_the_top_or_nested(tmp_path: Path) -> None:
    top = unpack(tmp_path, tar_gz(tmp_path / "a.tar.gz", {"raft/raft.py": RAFT}))
    assert top.read_bytes() == RAFT and top.relative_to(tmp_path) == Path("private/raft/raft.py")
    (tmp_path / "private").rename(tmp_path / "first")
    nested = unpack(tmp_path, tar_gz(tmp_path / "b.tgz", {"project3/raft/raft.py": RAFT}))
    assert nested.relative_to(tmp_path / "private") == Path("project3/raft/raft.py")


def test_a_zip_works_like_a_tar_gz(tmp_path: Path) -> None:
    path = unpack(tmp_path, zip_file(tmp_path / "a.zip", {"p/raft/raft.py": RAFT, "p/README": b""}))
    assert path.read_bytes() == RAFT


@pytest.mark.parametrize(
    "files, why",
    [
        ({"raft/other.py": RAFT}, "holds no raft/raft.py"),
        ({"a/raft/raft.py": RAFT, "b/raft/raft.py": RAFT}, "holds 2 raft/raft.py files"),
        ({"raft/raft.py": b"x" * (archive.MAX_RAFT_BYTES + 1)}, "at most 1048576 are accepted"),
    ],
)
def test_one_raft_py_or_a_clear_refusal(tmp_path: Path, files: dict[str, bytes], why: str) -> None:
    with pytest.raises(archive.Refused, match=why):
        unpack(tmp_path, tar_gz(tmp_path / "a.tar.gz", files))


def tar_with(path: Path, *infos: tuple[tarfile.TarInfo, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in infos:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.mark.parametrize(
    "bad, why",
    [
        (member("../escape.txt"), "climbs out with '..'"),
        (member("raft/../../escape.txt"), "climbs out with '..'"),
        (member("/tmp/escape.txt"), "has an absolute path"),
        (member("raft/link", tarfile.SYMTYPE, "../../escape.txt"), "is a symbolic link"),
        (member("raft/hard", tarfile.LNKTYPE, "/etc/passwd"), "is a hard link"),
        (member("raft/dev", tarfile.CHRTYPE), "is a device file"),
        (member("raft/fifo", tarfile.FIFOTYPE), "is a FIFO"),
    ],
)
def test_unsafe_tar_members_are_refused_before_anything_is_written(
    tmp_path: Path, bad: tarfile.TarInfo, why: str
) -> None:
    path = tar_with(tmp_path / "a.tar.gz", (member("raft/raft.py"), RAFT), (bad, b"pwned"))
    before = tree(tmp_path)
    with pytest.raises(archive.Refused, match=why):
        unpack(tmp_path, path)
    assert tree(tmp_path) - before == {"private"}  # made by the test; left empty
    assert not any((tmp_path / "private").iterdir())
    assert not Path("/tmp/escape.txt").exists()


def test_a_zip_symlink_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("raft/raft.py", RAFT)
        link = zipfile.ZipInfo("raft/link")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "../../escape.txt")
    with pytest.raises(archive.Refused, match="is a symbolic link"):
        unpack(tmp_path, path)
    assert not any((tmp_path / "private").iterdir())


def test_a_zip_member_climbing_out_is_refused(tmp_path: Path) -> None:
    path = zip_file(tmp_path / "a.zip", {"raft/raft.py": RAFT, "../escape.txt": b"x"})
    with pytest.raises(archive.Refused, match="climbs out"):
        unpack(tmp_path, path)
    assert not (tmp_path / "escape.txt").exists()


def test_a_zip_bomb_is_refused_unwritten(tmp_path: Path) -> None:
    size = archive.MAX_UNPACKED + 1
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("raft/raft.py", RAFT)
        z.writestr("raft/zeros", bytes(size))
    assert path.stat().st_size < 200_000  # small to send, 50 MB to unpack
    with pytest.raises(archive.Refused, match="unpacks to more than 50 MB"):
        unpack(tmp_path, path)
    assert not any((tmp_path / "private").iterdir())


def test_a_tar_bomb_and_too_many_members_are_refused(tmp_path: Path) -> None:
    big = member("zeros")
    with tarfile.open(tmp_path / "bomb.tar.gz", "w:gz") as tar:
        big.size = archive.MAX_UNPACKED + 1
        tar.addfile(big, io.BytesIO(bytes(big.size)))
    with pytest.raises(archive.Refused, match="unpacks to more than 50 MB"):
        unpack(tmp_path, tmp_path / "bomb.tar.gz")
    many = {f"f{i}": b"" for i in range(archive.MAX_MEMBERS + 1)}
    (tmp_path / "private").rmdir()
    with pytest.raises(archive.Refused, match="more than 10000 members"):
        unpack(tmp_path, tar_gz(tmp_path / "many.tar.gz", many))


def test_a_file_that_is_not_an_archive_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fake.tar.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(archive.Refused, match="cannot read fake.tar.gz"):
        unpack(tmp_path, path)


def test_a_member_given_twice_is_refused(tmp_path: Path) -> None:
    dup = tar_with(
        tmp_path / "dup.tar.gz", (member("raft/raft.py"), RAFT), (member("raft/raft.py"), b"2")
    )
    with pytest.raises(archive.Refused, match="appears twice"):
        unpack(tmp_path, dup)
    assert os.listdir(tmp_path / "private") == []


@pytest.mark.parametrize(
    "patch, why",
    [
        ({"flag_bits": 0x1}, "is encrypted; the grader has no password"),
        ({"method": 6, "compression": zipfile.ZIP_STORED}, "is compressed with method 6"),
        ({"corrupt": True}, "cannot read bad.zip: error: Error -3 while decompressing"),
        (
            {"corrupt": True, "compression": zipfile.ZIP_LZMA},
            "cannot read bad.zip: LZMAError: Corrupt input data",
        ),
    ],
    ids=["encrypted", "unsupported-method", "corrupt-deflate", "corrupt-lzma"],
)
def test_a_zip_python_cannot_read_is_refused(
    tmp_path: Path, patch: dict[str, Any], why: str
) -> None:
    """Each raised RuntimeError, NotImplementedError, zlib.error or LZMAError out of
    unpack, which stopped every submission's grading."""
    path = planted.zip_patched(tmp_path / "bad.zip", {"raft/raft.py": RAFT * 2000}, **patch)
    with pytest.raises(archive.Refused, match=why) as refused:
        unpack(tmp_path, path)
    assert "make submit" in str(refused.value)


def test_a_tar_nested_past_any_recursion_is_refused(tmp_path: Path) -> None:
    path = tar_gz(tmp_path / "deep.tar.gz", {"a/" * 1200 + "raft/raft.py": RAFT})
    with pytest.raises(archive.Refused, match="is nested 1201 folders deep; at most 64") as e:
        unpack(tmp_path, path)
    assert len(str(e.value)) < 300
    assert not any((tmp_path / "private").iterdir())


def test_raft_py_is_found_however_deep_an_upload_nests_it(tmp_path: Path) -> None:
    """Gradescope's upload is a folder: os.walk recursed, and failed past 1,000."""
    here = tmp_path / "upload"
    here.mkdir()
    try:
        for _ in range(1200):
            here = here / "a"
            here.mkdir()
        (here / "raft").mkdir()
        (here / "raft" / "raft.py").write_bytes(RAFT)
        found = archive.find_raft(tmp_path / "upload", "upload")
        assert archive.read_raft(found, "upload") == RAFT
    finally:  # pytest's own removal of tmp_path recurses
        assert files.remove_tree(tmp_path / "upload")


def test_a_raft_py_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    (tmp_path / "raft").mkdir()
    os.mkfifo(tmp_path / "raft" / "raft.py")
    with pytest.raises(archive.Refused, match="raft.py is not a regular file"):
        archive.find_raft(tmp_path, "upload")
    with pytest.raises(archive.Refused, match="its raft.py is a FIFO"):
        archive.read_raft(tmp_path / "raft" / "raft.py", "upload")
