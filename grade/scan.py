"""Flag what a Raft has no business doing: reaching into the tester, the
interpreter or the machine.

The scan reads the student's raft.py as a syntax tree (it never runs it) and
returns one line per finding, with its line number.  A flag does not change the
score: the submission is graded as usual and marked for a person to review,
because a determined cheat can hide from any scan, and an honest Raft may trip
one (a debug file written by hand, say).

It reads the bytes as Python does, coding line and all, so code cannot hide in
what an editor shows as a comment.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Callable

_Flag = Callable[[ast.AST, str], None]

# Modules whose import alone is worth a look, and why.
_MODULES = {
    "tests": "the lab's tests and tester",
    "harness": "the tester",
    "conftest": "the tester",
    "gc": "the garbage collector (it reaches every object, the tester's too)",
    "ctypes": "raw memory",
    "inspect": "other code's frames and source",
    "importlib": "the import machinery",
    "builtins": "Python's builtins",
    "signal": "signals",
    "subprocess": "other programs",
    "shutil": "files",
    "tempfile": "files",
    "socket": "the network",
    "multiprocessing": "other processes",
    "atexit": "the interpreter's exit",
    "faulthandler": "the interpreter's crash handler",
    "sysconfig": "the installation",
    "site": "the installation",
    "pytest": "the test runner",
    "_pytest": "the test runner",
}
# labrpc's public API is its package; its modules are its internals.
_LABRPC_INTERNALS = ("labrpc.", "labgob.")
# name.attr uses worth a look, and why.
_ATTRIBUTES = {
    ("sys", "modules"): "the table of loaded modules (the tester's among them)",
    ("sys", "_getframe"): "other code's frames",
    ("sys", "settrace"): "a tracer over all code",
    ("sys", "setprofile"): "a profiler over all code",
    ("sys", "path"): "the import path",
    ("sys", "exit"): "ends the process",
    ("sys", "excepthook"): "the tester's exception hook",
    ("threading", "excepthook"): "the tester's exception hook",
    ("threading", "settrace"): "a tracer over all threads",
    ("os", "_exit"): "ends the process without a report",
    ("os", "kill"): "signals a process",
    ("os", "killpg"): "signals a process group",
    ("os", "abort"): "ends the process",
    ("os", "fork"): "starts a process",
    ("os", "system"): "runs a program",
    ("os", "popen"): "runs a program",
    ("os", "remove"): "deletes a file",
    ("os", "unlink"): "deletes a file",
    ("os", "rename"): "moves a file",
    ("os", "replace"): "moves a file",
    ("os", "chmod"): "changes a file",
    ("os", "open"): "opens a file",
    ("os", "write"): "writes to a file descriptor",
    ("os", "environ"): "the environment",
    ("os", "setsid"): "leaves the process group",
}
_CALLS = {
    "exec": "runs code built at run time",
    "eval": "runs code built at run time",
    "compile": "builds code at run time",
    "__import__": "imports a module by name at run time",
    "globals": "rewrites module globals",
    "setattr": "sets attributes by name (the tester's too)",
    "delattr": "deletes attributes by name",
}
_WRITE_METHODS = {"write_text", "write_bytes", "unlink", "rmdir", "touch"}  # pathlib's
_DUNDERS = {"__builtins__", "__globals__", "__code__", "__subclasses__", "__closure__"}
_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def scan(source: str | bytes, filename: str = "raft/raft.py") -> list[str]:
    """Findings in source, one line each, in line order; [] when nothing is flagged.

    source is the file's bytes, or (as grader.py passes it) those bytes decoded
    as UTF-8: either way it is read as Python reads the file, coding line and all.
    """
    data = source if isinstance(source, bytes) else source.encode("utf-8", "surrogatepass")
    found: list[tuple[int, str]] = []

    def flag(node: ast.AST, what: str) -> None:
        found.append((getattr(node, "lineno", 0), what))

    cookie = _check_encoding(data)
    if cookie:
        found.append(cookie)
    try:
        tree = ast.parse(data, filename=filename)
    except (SyntaxError, ValueError) as e:
        line = getattr(e, "lineno", None) or 1
        found.append((line, f"does not parse: {getattr(e, 'msg', e)} (Python cannot import it)"))
        return [f"{filename}:{line}: {what}" for line, what in sorted(set(found))]

    aliases: dict[str, str] = {}  # local name -> module it names (import os as o)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                top = a.name.split(".")[0]
                aliases[a.asname or top] = a.name if a.asname else top
                _check_module(node, a.name, flag)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                flag(node, f"relative import from {'.' * node.level}{module} (outside raft.py)")
            _check_module(node, module, flag)
            for a in node.names:
                if (module, a.name) in _ATTRIBUTES:
                    flag(node, f"imports {module}.{a.name}: {_ATTRIBUTES[(module, a.name)]}")
                aliases[a.asname or a.name] = f"{module}.{a.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module = aliases.get(node.value.id, node.value.id).split(".")[0]
            why = _ATTRIBUTES.get((module, node.attr))
            if why:
                flag(node, f"uses {module}.{node.attr}: {why}")
        if isinstance(node, ast.Attribute) and node.attr in _DUNDERS:
            flag(node, f"uses .{node.attr}: reaches into the interpreter")
        if isinstance(node, ast.Name) and node.id in _DUNDERS:
            flag(node, f"uses {node.id}: reaches into the interpreter")
        if isinstance(node, ast.Call):
            _check_call(node, flag)
    return [f"{filename}:{line}: {what}" for line, what in sorted(set(found))]


def _check_encoding(data: bytes) -> tuple[int, str] | None:
    """A coding line other than UTF-8: Python runs what it decodes, which an
    editor showing UTF-8 does not show (utf-7 turns "+AAo-" into a new line)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        return None  # ast.parse fails on it too, and says why
    if encoding in ("utf-8", "utf-8-sig"):
        return None
    lines = data.splitlines()[:2]
    line = next((n for n, text in enumerate(lines, 1) if _COOKIE.match(text)), 1)
    return line, (
        f"coding line declares {encoding}: Python runs what {encoding} decodes, not the "
        f"UTF-8 an editor shows (code can hide in what looks like a comment); line "
        f"numbers here are as Python reads the file"
    )


def _check_module(node: ast.AST, module: str, flag: _Flag) -> None:
    top = module.split(".")[0]
    if top in _MODULES:
        flag(node, f"imports {module}: {_MODULES[top]}")
    elif module.startswith(_LABRPC_INTERNALS):
        flag(node, f"imports {module}: labrpc's or labgob's internals, not their API")


def _check_call(node: ast.Call, flag: _Flag) -> None:
    func = node.func
    name = func.id if isinstance(func, ast.Name) else None
    method = func.attr if isinstance(func, ast.Attribute) else None
    if name in _CALLS:
        flag(node, f"calls {name}(): {_CALLS[name]}")
    if "open" in (name, method) and _writes(node):
        flag(node, "opens a file for writing")
    if method in _WRITE_METHODS:
        flag(node, f"calls .{method}(): changes a file")


def _writes(call: ast.Call) -> bool:
    """Does this open() call ask for a mode that writes (w, a, x or +)?"""
    mode: ast.expr | None = None
    if len(call.args) >= 2:
        mode = call.args[1]
    for kw in call.keywords:
        if kw.arg == "mode":
            mode = kw.value
    if mode is None:
        return False
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return any(c in mode.value for c in "wax+")
    return True  # a mode computed at run time
