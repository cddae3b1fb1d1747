"""What a run or an archive leaves is read without blocking or ballooning, and
removed however deep it nests and whatever permissions it was left with."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from grade import files

DEPTH = 1200  # past Python's recursion limit, as the tar was
T = TypeVar("T")


def within(seconds: float, call: Callable[[], T]) -> T:
    """call() run on a thread, failing the test if it has not returned in seconds."""
    box: list[T] = []
    worker = threading.Thread(target=lambda: box.append(call()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still blocked after {seconds} s"
    return box[0]


def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "report.json"
    os.mkfifo(fifo)

    def read() -> str:
        with pytest.raises(files.Unreadable) as e:
            files.read_regular(fifo, 1 << 20)
        return str(e.value)

    assert within(5, read) == "is a FIFO, not a regular file"


def test_a_link_to_dev_zero_is_refused_unread(tmp_path: Path) -> None:
    link = tmp_path / "report.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(files.Unreadable, match="is a symbolic link"):
        files.read_regular(link, 1 << 20)
    with pytest.raises(files.Unreadable, match="is a device file"):
        files.read_regular(Path("/dev/zero"), 1 << 20)


def test_a_regular_file_is_read_up_to_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert files.read_regular(path, 100) == b"x" * 100
    with pytest.raises(files.Unreadable, match="is over 99 bytes"):
        files.read_regular(path, 99)
    assert files.tail_regular(path, 10) == (b"x" * 10, True)
    with pytest.raises(FileNotFoundError):
        files.read_regular(tmp_path / "missing", 1)


@pytest.fixture(autouse=True)
def cleaned(tmp_path: Path) -> Iterator[None]:
    """tmp_path emptied after each test: pytest's own removal recurses, and a deep
    tree left in its folders would fail every later session's cleanup."""
    yield
    for path in tmp_path.iterdir():
        assert files.remove_tree(path)


def deep(root: Path, depth: int = DEPTH) -> Path:
    """root/a/a/.../a, depth folders, made one relative step at a time."""
    here = root
    for _ in range(depth):
        here = here / "a"
        here.mkdir()
    return here


def test_a_walk_goes_as_deep_as_the_folders(tmp_path: Path) -> None:
    (tmp_path / "upload").mkdir()
    bottom = deep(tmp_path / "upload")
    (bottom / "raft").mkdir()
    (bottom / "raft" / "raft.py").write_text("")
    found = [here for here, names in files.walk(tmp_path / "upload") if "raft.py" in names]
    assert found == [bottom / "raft"]


def test_a_deep_tree_with_its_permissions_taken_away_is_removed(tmp_path: Path) -> None:
    root = tmp_path / "run"
    root.mkdir()
    bottom = deep(root)
    (bottom / "f").write_text("x")
    locked = root / "locked"
    (locked / "inner").mkdir(parents=True)
    (locked / "inner" / "f").write_text("x")
    (locked / "inner").chmod(0)
    locked.chmod(0)
    (root / "link").symlink_to(tmp_path)  # removed, not followed
    (tmp_path / "outside").write_text("kept")
    assert files.remove_tree(root)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside"]


def test_removing_what_is_not_there_or_a_file(tmp_path: Path) -> None:
    assert files.remove_tree(tmp_path / "missing")
    (tmp_path / "f").write_text("")
    assert files.remove_tree(tmp_path / "f") and not (tmp_path / "f").exists()
