"""The tampering scan: an honest Raft is not flagged; reaching into the tester,
the interpreter or the machine is, with the line."""

from __future__ import annotations

from pathlib import Path

import planted
import pytest

from grade.scan import scan


def test_the_reference_and_the_skeleton_are_not_flagged(handout_root: Path) -> None:
    assert scan(planted.reference().decode()) == []
    assert scan(planted.skeleton(handout_root).decode()) == []


def test_the_planted_cheats_are_flagged() -> None:
    (patcher,) = scan((planted.reference() + planted.PATCHES_TESTER.encode()).decode())
    assert "uses sys.modules" in patcher
    (exits,) = scan((planted.reference() + planted.EXITS.encode()).decode())
    assert "uses os._exit: ends the process without a report" in exits


@pytest.mark.parametrize(
    "line, finding",
    [
        ("import tests.harness.config", "imports tests.harness.config: the lab's tests"),
        ("from harness import config", "imports harness: the tester"),
        ("from labrpc.network import Network", "labrpc's or labgob's internals"),
        ("import gc", "imports gc"),
        ("import ctypes", "imports ctypes"),
        ("import inspect", "imports inspect"),
        ("import importlib", "imports importlib"),
        ("import builtins", "imports builtins"),
        ("import signal", "imports signal"),
        ("import os as o\no.kill(1, 9)", "uses os.kill"),
        ("from os import _exit", "imports os._exit"),
        ("import sys\nsys._getframe(1)", "uses sys._getframe"),
        ("open('x', 'w')", "opens a file for writing"),
        ("open('x', mode='ab')", "opens a file for writing"),
        ("from pathlib import Path\nPath('x').write_text('')", "calls .write_text()"),
        ("exec('1')", "calls exec()"),
        ("x = __builtins__", "uses __builtins__"),
    ],
)
def test_each_kind_is_flagged_with_its_line(line: str, finding: str) -> None:
    source = "import threading\n\n" + line + "\n"
    found = scan(source)
    assert any(finding in f for f in found), found
    assert all(f.startswith("raft/raft.py:") for f in found)


def test_reading_a_file_and_str_replace_are_not_flagged() -> None:
    assert scan("text = open('x').read().replace('a', 'b')\n") == []
