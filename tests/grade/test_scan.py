"""The tampering scan: an honest Raft is not flagged; reaching into the tester,
the interpreter or the machine is, with the line."""

from __future__ import annotations

from pathlib import Path

import planted
import pytest

from grade import scan as scan_module
from grade.scan import load_allowlist, scan

REPO = Path(__file__).resolve().parents[2]


def test_the_reference_and_the_skeleton_are_not_flagged(handout_root: Path) -> None:
    assert scan(planted.reference()) == []
    assert scan(planted.reference().decode()) == []
    assert scan(planted.skeleton(handout_root)) == []
    assert scan(planted.skeleton(handout_root).decode()) == []


@pytest.mark.parametrize("module", ["raft.py", "log.py", "debug.py", "persister.py"])
def test_every_module_the_reference_imports_is_allowed(module: str) -> None:
    path = REPO / "raft" / module
    found = scan(path.read_bytes(), f"raft/{module}")
    assert [f for f in found if ": imports " in f] == []


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


# The forms issue 19 found unflagged: (source, the line flagged, the finding there).
ISSUE_19 = [
    (
        "import os\n\ngetattr(os, '_' + 'exit')(0)",
        3,
        "calls getattr() on os with a name computed at run time",
    ),
    ("import os\ngetattr(os, '_exit')(0)", 2, "uses os._exit: ends the process"),
    ("import os\nos.__dict__['_exit'](0)", 2, "uses os.__dict__: every name of os"),
    ("import posix", 1, "imports posix: os's internals"),
    ("x = 1\nfrom os import *", 2, "imports * from os: hides which of its names are used"),
    ("def stop():\n    raise SystemExit", 2, "uses SystemExit: ends the process"),
    ("import os\nos.setsid()", 2, "uses os.setsid: leaves the process group"),
    ("import os\nos.setpgrp()", 2, "uses os.setpgrp: leaves the process group"),
    ("import os\nos.spawnv(os.P_WAIT, '/bin/true', [])", 2, "uses os.spawnv: runs a program"),
    ("import os\nos.execv('/bin/true', [])", 2, "uses os.execv: replaces the process"),
    ("import os\nos.posix_spawn('/bin/true', [], {})", 2, "uses os.posix_spawn: runs a program"),
    ("import sys\nvars(sys)['modules']", 2, "calls vars(sys): every name of sys"),
    ("import sys\nsys._current_frames()", 2, "uses sys._current_frames: every thread's frames"),
    (
        "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    tb = e.__traceback__",
        4,
        "uses .__traceback__: walks the interpreter's frames",
    ),
    ("def f(tb):\n    return tb.tb_frame", 2, "uses .tb_frame: walks the interpreter's frames"),
    ("def f(frame):\n    return frame.f_back", 2, "uses .f_back: walks"),
    ("def f(frame):\n    return frame.f_globals", 2, "uses .f_globals: walks"),
    ("def f(frame):\n    return frame.f_locals", 2, "uses .f_locals: walks"),
    ("import runpy", 1, "imports runpy: runs other modules"),
    ("import pickle\npickle.loads(b'')", 1, "imports pickle: builds any object from bytes"),
    ("import marshal", 1, "imports marshal: builds code from bytes"),
    ("import io\nio.FileIO('x', 'w')", 2, "uses io.FileIO: opens a file"),
    ("kw = {'mode': 'w'}\nopen('x', **kw)", 2, "opens a file for writing"),
    ("import os\nos.truncate('x', 0)", 2, "uses os.truncate: changes a file"),
    ("import os\nos.symlink('a', 'b')", 2, "uses os.symlink: makes a link"),
    ("import os\nos.link('a', 'b')", 2, "uses os.link: makes a link"),
    ("import weakref", 1, "imports weakref: runs code when an object dies"),
    (
        "import threading\nthreading.setprofile(print)",
        2,
        "uses threading.setprofile: a profiler over all threads",
    ),
    ("import _thread", 1, "imports _thread: threading's internals"),
    ("import _ctypes", 1, "imports _ctypes: raw memory"),
]


@pytest.mark.parametrize("source, line, finding", ISSUE_19)
def test_each_form_issue_19_found_is_flagged_with_its_line(
    source: str, line: int, finding: str
) -> None:
    found = scan(source + "\n")
    assert any(f.startswith(f"raft/raft.py:{line}: {finding}") for f in found), found


@pytest.mark.parametrize(
    "source, line, finding",
    [
        ("import json", 1, "imports json: not a module a Raft needs (allowed_imports.txt"),
        ("import os.path", 1, "imports os.path: not a module a Raft needs"),
        ("from os import path", 1, "imports os.path: the module path reached through os"),
        ("import os\nos.getcwd()", 2, "uses os.getcwd: not one of the names of os a Raft needs"),
        ("import sys\nsys.stdin.read()", 2, "uses sys.stdin: not one of the names of sys"),
        (
            "import threading\nthreading._shutdown()",
            2,
            "uses threading._shutdown: threading's internals",
        ),
        ("import os\nm = os", 2, "uses module os as a value: the scan cannot follow"),
        ("import time\ntime.monotonic = lambda: 0.0", 2, "rebinds time.monotonic"),
        ("from labrpc import ClientEnd\nClientEnd.Call = None", 2, "rebinds labrpc.ClientEnd.Call"),
        ("import random\ndel random.random", 2, "deletes random.random"),
        (
            "def f(x, name):\n    return getattr(x, name)",
            2,
            "calls getattr() with a name computed at run time",
        ),
        ("def f(e):\n    return getattr(e, '__traceback__')", 2, "uses .__traceback__"),
        ("o = open\no('x', 'w')", 1, "uses open as a value"),
        ("g = getattr", 1, "uses getattr as a value"),
        ("def stop():\n    raise KeyboardInterrupt", 2, "uses KeyboardInterrupt: stops the tester"),
        ("exit(0)", 1, "calls exit(): ends the process"),
        ("open('x', *('w',))", 1, "opens a file for writing"),
        (
            "import logging\nlogging.basicConfig(filename='x')",
            2,
            "calls logging.basicConfig() with",
        ),
        ("import logging\nlogging.FileHandler('x')", 2, "uses logging.FileHandler: writes a file"),
        ("import typing\ntyping.get_type_hints(print)", 2, "uses typing.get_type_hints: evaluates"),
    ],
)
def test_what_the_allowlist_leaves_out_is_flagged(source: str, line: int, finding: str) -> None:
    found = scan(source + "\n")
    assert any(f.startswith(f"raft/raft.py:{line}: {finding}") for f in found), found


@pytest.mark.parametrize(
    "source",
    [
        "import os\nv = os.getenv('RAFTLAB_DEBUG')",
        "import sys\nprint('x', file=sys.stderr)\nsys.stderr.flush()",
        "import io\nw = io.BytesIO()",
        "from collections import abc, deque\nfrom collections.abc import Callable",
        "import concurrent.futures\nconcurrent.futures.ThreadPoolExecutor(4)",
        "from concurrent.futures import ThreadPoolExecutor",
        "import raft.log\nfrom raft import debug\nfrom raft.persister import Persister",
        "import labgob\nfrom labrpc import ClientEnd\nlabgob.NewEncoder(None)",
        "from dataclasses import dataclass, field\nimport copy, heapq, bisect, math, enum",
        "import threading\nmu = threading.Lock()\nthreading.Thread(target=print).start()",
        "import logging\nlog = logging.getLogger(__name__)\nlog.debug('x')",
        "def f(x):\n    return getattr(x, 'term', 0), vars(x)",
        "from random import Random\nRandom.random",
        "from raft.persister import Persister\nPersister.copy",
        "# -*- coding: utf-8 -*-\nx = 1",
        "\ufeffx = 1",
    ],
)
def test_what_a_raft_uses_is_not_flagged(source: str) -> None:
    assert scan(source + "\n") == []


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


def test_the_allowlist_is_the_file_in_grade(tmp_path: Path) -> None:
    allowed = load_allowlist()
    assert scan_module.ALLOWLIST.parent.name == "grade"
    assert {"threading", "labrpc", "labgob", "raft.*"} <= set(allowed)
    assert allowed["os"] == frozenset({"getenv"}) and allowed["threading"] is None
    bad = tmp_path / "allowed.txt"
    bad.write_text("# fine\nos getenv\nraft.* os.kill\n")
    with pytest.raises(ValueError, match=r"allowed.txt:3: 'raft.\* os.kill' is not a module"):
        load_allowlist(bad)


@pytest.mark.parametrize(
    "source, line, finding",
    [
        ("import contextlib\ncontextlib.sys.modules", 2, "uses contextlib.sys: the module sys"),
        ("import enum\nenum.bltns.exec('1')", 2, "uses enum.bltns: the module bltns reached"),
        ("from raft import debug\ndebug.os.kill(1, 9)", 2, "uses raft.debug.os: the module os"),
        ("from raft.debug import os", 1, "imports raft.debug.os: the module os reached"),
        ("import labrpc\nlabrpc.network.Network", 2, "uses labrpc.network: not one of the names"),
        ("from labgob import codec", 1, "imports labgob.codec: not one of the names of labgob"),
        ("import labgob\nlabgob.reset_warnings()", 2, "uses labgob.reset_warnings: the tester's"),
    ],
)
def test_a_module_reached_through_another_is_flagged(source: str, line: int, finding: str) -> None:
    found = scan(source + "\n")
    assert any(f.startswith(f"raft/raft.py:{line}: {finding}") for f in found), found


def test_the_allowlist_names_only_the_lab_packages_public_api() -> None:
    import labgob
    import labrpc

    allowed = load_allowlist()
    assert allowed["labrpc"] is not None and allowed["labrpc"] <= set(labrpc.__all__)
    assert allowed["labgob"] is not None and allowed["labgob"] <= set(labgob.__all__)
