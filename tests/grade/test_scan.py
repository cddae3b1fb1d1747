"""The tampering scan: an honest Raft is not flagged; reaching into the tester,
the interpreter or the machine is, with the line."""

from __future__ import annotations

from pathlib import Path

import planted
import pytest

from grade.scan import scan


def test_the_reference_and_the_skeleton_are_not_flagged(handout_root: Path) -> None:
    assert scan(planted.reference()) == []
    assert scan(planted.reference().decode()) == []
    assert scan(planted.skeleton(handout_root)) == []
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


# What an editor shows as UTF-8: a comment.  What Python runs under utf-7:
# "+AAo-" is a new line, "+ADs-" a ";", "+AFs-" and "+AF0-" the brackets.
UTF7 = (
    b"# coding: utf-7\n"
    b"import threading\n"
    b"# nothing to see here +AAo-import sys+ADs- sys.modules+AFs-'harness.config'+AF0- = None\n"
)


@pytest.mark.parametrize("given", ["bytes", "str as grader.py decodes it"])
def test_a_utf7_coding_line_and_the_code_it_hides_are_flagged(given: str) -> None:
    source: str | bytes = UTF7 if given == "bytes" else UTF7.decode(errors="replace")
    found = scan(source)
    assert found[0].startswith("raft/raft.py:1: coding line declares utf-7: Python runs"), found
    assert any(f.startswith("raft/raft.py:4: uses sys.modules: the table of loaded") for f in found)


@pytest.mark.parametrize("cookie", ["latin-1", "ascii", "cp1252"])
def test_any_coding_line_but_utf8_is_flagged(cookie: str) -> None:
    found = scan(f"#!/usr/bin/env python3\n# coding: {cookie}\nx = 1\n".encode())
    assert len(found) == 1 and found[0].startswith("raft/raft.py:2: coding line declares"), found


@pytest.mark.parametrize(
    "source, finding",
    [
        (b"def f(:\n", "raft/raft.py:1: does not parse: invalid syntax"),
        (b"# coding: no-such-codec\nx = 1\n", "raft/raft.py:1: does not parse: unknown encoding"),
        (b"x = '\xff'\n", "raft/raft.py:1: does not parse"),
        (b"x = 1\x00\n", "raft/raft.py:1: does not parse"),
        (b"\xef\xbb\xbf# coding: latin-1\nx = 1\n", "raft/raft.py:1: does not parse: encoding"),
    ],
)
def test_a_file_python_cannot_read_is_a_finding_not_a_crash(source: bytes, finding: str) -> None:
    found = scan(source)
    assert any(f.startswith(finding) for f in found), found
