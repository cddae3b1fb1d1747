"""Flag what a Raft has no business doing: reaching into the tester, the
interpreter or the machine.

The scan reads the student's raft.py as a syntax tree (it never runs it) and
returns one line per finding, with its line number.  A flag does not change the
score: the submission is graded as usual and marked for a person to review,
because a determined cheat can hide from any scan, and an honest Raft may trip
one (a debug file written by hand, say).

It reads the bytes as Python does, coding line and all, so code cannot hide in
what an editor shows as a comment.  Imports are checked against an allowlist
(allowed_imports.txt, next to this file); an import of any other module is a
finding, as are the ways to reach a module's other names: by a computed name,
through its __dict__, or by passing the module around.
"""

from __future__ import annotations

import ast
import functools
import importlib
import io
import re
import sys
import tokenize
import types
from collections.abc import Callable
from pathlib import Path

_Flag = Callable[[ast.AST, str], None]

ALLOWLIST = Path(__file__).with_name("allowed_imports.txt")

# Modules whose import is worth a look, and why (any module not allowed is
# flagged; these get a reason a person can act on).
_MODULES = {
    "tests": "the lab's tests and tester",
    "harness": "the tester",
    "conftest": "the tester",
    "gc": "the garbage collector (it reaches every object, the tester's too)",
    "ctypes": "raw memory",
    "_ctypes": "raw memory",
    "inspect": "other code's frames and source",
    "traceback": "other code's frames (traceback.walk_stack)",
    "importlib": "the import machinery",
    "runpy": "runs other modules and files",
    "pickle": "builds any object from bytes, running code as it does",
    "marshal": "builds code from bytes",
    "types": "builds functions from code objects",
    "code": "runs code built at run time",
    "codeop": "builds code at run time",
    "builtins": "Python's builtins",
    "posix": "os's internals (exit, kill, fork, exec), past the checks on os",
    "nt": "os's internals, past the checks on os",
    "_thread": "threading's internals (interrupt_main, threads the tester cannot see)",
    "weakref": "runs code when an object dies (weakref.finalize), the tester's objects too",
    "signal": "signals",
    "subprocess": "other programs",
    "shutil": "files",
    "tempfile": "files",
    "pathlib": "files",
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
# Names that are modules when an attribute of a module the scan does not import.
_MODULE_NAMES = sys.stdlib_module_names | {"labrpc", "labgob", "tests", "harness"}
# module.name uses worth a look, and why; a name of os, sys or io that is not
# allowed is flagged anyway, and these say what it does.
_ATTRIBUTES = {
    ("sys", "modules"): "the table of loaded modules (the tester's among them)",
    ("sys", "_getframe"): "other code's frames",
    ("sys", "_current_frames"): "every thread's frames (the tester's too)",
    ("sys", "exc_info"): "a traceback, and through it other code's frames",
    ("sys", "exception"): "a traceback, and through it other code's frames",
    ("sys", "settrace"): "a tracer over all code",
    ("sys", "setprofile"): "a profiler over all code",
    ("sys", "path"): "the import path",
    ("sys", "exit"): "ends the process",
    ("sys", "excepthook"): "the tester's exception hook",
    ("threading", "excepthook"): "the tester's exception hook",
    ("threading", "settrace"): "a tracer over all threads",
    ("threading", "setprofile"): "a profiler over all threads",
    ("threading", "settrace_all_threads"): "a tracer over all threads",
    ("threading", "setprofile_all_threads"): "a profiler over all threads",
    ("typing", "get_type_hints"): "evaluates annotations as code",
    ("labgob", "error_count"): "the tester's count of labgob's warnings",
    ("labgob", "reset_warnings"): "the tester's count of labgob's warnings",
    ("labgob", "undeclared_counts"): "the tester's count of labgob's warnings",
    ("logging", "FileHandler"): "writes a file",
    ("io", "FileIO"): "opens a file",
    ("io", "open"): "opens a file",
    ("io", "open_code"): "opens a file",
    ("os", "_exit"): "ends the process without a report",
    ("os", "kill"): "signals a process",
    ("os", "killpg"): "signals a process group",
    ("os", "abort"): "ends the process",
    ("os", "fork"): "starts a process",
    ("os", "forkpty"): "starts a process",
    ("os", "posix_spawn"): "runs a program",
    ("os", "posix_spawnp"): "runs a program",
    ("os", "system"): "runs a program",
    ("os", "popen"): "runs a program",
    ("os", "remove"): "deletes a file",
    ("os", "unlink"): "deletes a file",
    ("os", "rmdir"): "deletes a folder",
    ("os", "rename"): "moves a file",
    ("os", "replace"): "moves a file",
    ("os", "chmod"): "changes a file",
    ("os", "truncate"): "changes a file",
    ("os", "ftruncate"): "changes a file",
    ("os", "symlink"): "makes a link to a file",
    ("os", "link"): "makes a link to a file",
    ("os", "open"): "opens a file",
    ("os", "fdopen"): "opens a file",
    ("os", "write"): "writes to a file descriptor",
    ("os", "environ"): "the environment",
    ("os", "setsid"): "leaves the process group",
    ("os", "setpgrp"): "leaves the process group",
    ("os", "setpgid"): "leaves the process group",
}
_OS_PREFIXES = {"spawn": "runs a program", "exec": "replaces the process with a program"}
_CALLS = {
    "exec": "runs code built at run time",
    "eval": "runs code built at run time",
    "compile": "builds code at run time",
    "__import__": "imports a module by name at run time",
    "globals": "rewrites module globals",
    "setattr": "sets attributes by name (the tester's too)",
    "delattr": "deletes attributes by name",
    "exit": "ends the process",
    "quit": "ends the process",
    "breakpoint": "starts the debugger",
}
# Builtins the scan checks at each call; as a value (f = open) it cannot.
_CHECKED_CALLS = {"open", "getattr", "vars"}
_WRITE_METHODS = {"write_text", "write_bytes", "unlink", "rmdir", "touch"}  # pathlib's
_DUNDERS = {"__builtins__", "__globals__", "__code__", "__subclasses__", "__closure__"}
_FRAMES = {
    "tb_frame", "tb_next", "f_back", "f_globals", "f_locals", "f_builtins", "f_code",
    "gi_frame", "cr_frame", "ag_frame", "__traceback__",
}  # fmt: skip
_EXITS = {
    "SystemExit": "ends the process without a report",
    "KeyboardInterrupt": "stops the tester as Ctrl-C does",
}
# Dunders of a module or an imported name that say nothing about its internals.
_PLAIN_DUNDERS = {"__name__", "__qualname__", "__doc__"}
_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def load_allowlist(path: Path = ALLOWLIST) -> dict[str, frozenset[str] | None]:
    """Module -> the only names of it a Raft may use (None: any); "raft.*" stays a key."""
    allowed: dict[str, frozenset[str] | None] = {}
    module = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(\.\*)?")
    for number, line in enumerate(path.read_text().splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        names_ok = all(w.isidentifier() for w in words[1:])
        if not module.fullmatch(words[0]) or not names_ok or (words[0].endswith("*") and words[1:]):
            raise ValueError(
                f"{path}:{number}: {line.strip()!r} is not a module followed by names "
                f"of it; write a line as 'os getenv', or 'raft.*' (with no names)"
            )
        allowed[words[0]] = frozenset(words[1:]) or None
    return allowed


_ALLOWED = load_allowlist()


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
    else:
        _Scan(tree, flag).run()
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


def _allowed(module: str) -> bool:
    if module in _ALLOWED:
        return True
    return any(
        key.endswith(".*") and (module == key[:-2] or module.startswith(key[:-1]))
        for key in _ALLOWED
    )


def _names(module: str) -> frozenset[str] | None:
    """The only names of an allowed module a Raft may use; None: any."""
    return _ALLOWED.get(module)


def _module_reason(module: str) -> str:
    top = module.split(".")[0]
    if module in _MODULES or top in _MODULES:
        return _MODULES.get(module) or _MODULES[top]
    if module.startswith(_LABRPC_INTERNALS):
        return "labrpc's or labgob's internals, not their API"
    return f"not a module a Raft needs ({ALLOWLIST.name} lists those)"


def _attribute_reason(module: str, name: str) -> str | None:
    why = _ATTRIBUTES.get((module, name))
    if why is None and module in ("os", "posix"):
        for prefix, what in _OS_PREFIXES.items():
            if name.startswith(prefix):
                return what
    return why


@functools.cache
def _is_module(base: str, name: str) -> bool:
    """Is base.name a module (contextlib.sys, enum.bltns, raft.debug.os) that is
    not itself allowed?  Below an allowed standard module the scan imports it
    to see; the lab's packages, never imported here, are judged by the name
    (raft.* allows raft's modules, not every name under raft)."""
    if f"{base}.{name}" in _ALLOWED:
        return False
    parts = base.split(".")
    if parts[0] in sys.stdlib_module_names:
        for n in range(len(parts), 0, -1):
            if _allowed(".".join(parts[:n])):
                try:
                    found: object = importlib.import_module(".".join(parts[:n]))
                except ImportError:
                    return False
                for part in parts[n:]:  # random.Random: a class of random
                    found = getattr(found, part, None)
                return isinstance(getattr(found, name, None), types.ModuleType)
        return False
    return parts[-1].islower() and name in _MODULE_NAMES  # a module, not a class or function


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


class _Scan:
    """One walk over a parsed file: its imports first, then every use of them."""

    def __init__(self, tree: ast.AST, flag: _Flag) -> None:
        self.tree = tree
        self.flag = flag
        self.modules: dict[str, str] = {}  # name bound by "import m" or "import m as n" -> m
        self.imported: dict[str, str] = {}  # every name an import binds -> what it names
        self.seen: set[int] = set()  # Name nodes of modules already checked where used

    def run(self) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                self.import_(node)
            elif isinstance(node, ast.ImportFrom):
                self.import_from(node)
        calls = {id(n.func) for n in ast.walk(self.tree) if isinstance(n, ast.Call)}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Attribute):
                if isinstance(node.value, ast.Name):
                    self.seen.add(id(node.value))
                self.attribute(node, node.value, node.attr, node.ctx)
            elif isinstance(node, ast.Call):
                self.call(node)
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Name):
                self.name(node, id(node) in calls)

    def import_(self, node: ast.Import) -> None:
        for a in node.names:
            top = a.name.split(".")[0]
            bound = a.asname or top
            self.modules[bound] = self.imported[bound] = a.name if a.asname else top
            if not _allowed(a.name):
                self.flag(node, f"imports {a.name}: {_module_reason(a.name)}")

    def import_from(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self.flag(node, f"relative import from {'.' * node.level}{module} (outside raft.py)")
        names = [a.name for a in node.names]
        if names == ["*"]:
            self.flag(node, f"imports * from {module}: hides which of its names are used")
        elif node.level:
            pass
        elif not _allowed(module):
            if not all(_allowed(f"{module}.{n}") for n in names):  # from collections import abc
                self.flag(node, f"imports {module}: {_module_reason(module)}")
        else:
            for n in names:
                self.check_name(node, module, n, f"imports {module}.{n}")
        for a in node.names:
            self.imported[a.asname or a.name] = f"{module}.{a.name}"

    def dotted(self, node: ast.expr) -> str | None:
        """What an imported name, or an attribute chain on one, names (os.path.join)."""
        if isinstance(node, ast.Name):
            return self.imported.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def check_name(self, node: ast.AST, base: str, name: str, what: str) -> bool:
        """Flag one name of an imported module or object; True if flagged."""
        why = _attribute_reason(base, name)
        if why is None and name.startswith("_") and not _is_dunder(name):
            why = f"{base}'s internals"
        if why is None and name == "__dict__":
            why = f"every name of {base}, past the scan"
        if why is None and _is_dunder(name) and name not in _PLAIN_DUNDERS | _DUNDERS:
            why = f"reaches into {base}"
        if why is None and name in _CALLS and name != "compile":  # re.compile, say
            why = _CALLS[name]
        if why is None and _is_module(base, name):
            why = f"the module {name} reached through {base}, past the checks on imports"
        allowed = _names(base)
        if why is None and allowed is not None and name not in allowed:
            if not _allowed(f"{base}.{name}"):
                why = f"not one of the names of {base} a Raft needs ({', '.join(sorted(allowed))})"
        if why is not None:
            self.flag(node, f"{what}: {why}")
        return why is not None

    def attribute(self, node: ast.AST, value: ast.expr, attr: str, ctx: ast.expr_context) -> None:
        """value.attr, written so or as getattr(value, "attr")."""
        if attr in _DUNDERS:
            self.flag(node, f"uses .{attr}: reaches into the interpreter")
        elif attr in _FRAMES:
            self.flag(node, f"uses .{attr}: walks the interpreter's frames (the tester's too)")
        base = self.dotted(value)
        if base is None:
            if isinstance(value, ast.Name):  # sys or os got some other way: still worth a look
                why = _attribute_reason(value.id, attr)
                if why:
                    self.flag(node, f"uses {value.id}.{attr}: {why}")
            return
        if self.check_name(node, base, attr, f"uses {base}.{attr}"):
            return
        if isinstance(ctx, ast.Store):
            self.flag(node, f"rebinds {base}.{attr}: changes it for all code, the tester's too")
        elif isinstance(ctx, ast.Del):
            self.flag(node, f"deletes {base}.{attr}: changes it for all code, the tester's too")

    def call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else None
        method = func.attr if isinstance(func, ast.Attribute) else None
        if name == "getattr":
            self.getattr_(node)
        elif name == "vars" and node.args:
            target = self.dotted(node.args[0])
            if target is not None:
                self.seen_module(node.args[0])
                self.flag(node, f"calls vars({target}): every name of {target}, past the scan")
        if "open" in (name, method) and _writes(node):
            self.flag(node, "opens a file for writing")
        if method in _WRITE_METHODS:
            self.flag(node, f"calls .{method}(): changes a file")
        if self.dotted(func) == "logging.basicConfig" and any(
            kw.arg in ("filename", None) for kw in node.keywords
        ):
            self.flag(node, "calls logging.basicConfig() with a file: writes a file")

    def getattr_(self, node: ast.Call) -> None:
        if len(node.args) < 2 or any(isinstance(a, ast.Starred) for a in node.args[:2]):
            self.flag(node, "calls getattr() with arguments the scan cannot see")
            return
        value, attr = node.args[0], node.args[1]
        self.seen_module(value)
        if isinstance(attr, ast.Constant) and isinstance(attr.value, str):
            self.attribute(node, value, attr.value, ast.Load())
            return
        target = self.dotted(value)
        of = f" on {target}" if target else ""
        self.flag(node, f"calls getattr(){of} with a name computed at run time: "
                        f"the scan cannot see which name")  # fmt: skip

    def seen_module(self, node: ast.expr) -> None:
        if isinstance(node, ast.Name):
            self.seen.add(id(node))

    def name(self, node: ast.Name, called: bool) -> None:
        if node.id in _DUNDERS:
            self.flag(node, f"uses {node.id}: reaches into the interpreter")
        elif node.id in _EXITS:
            self.flag(node, f"uses {node.id}: {_EXITS[node.id]}")
        elif node.id in _CALLS and isinstance(node.ctx, ast.Load):
            if called:
                self.flag(node, f"calls {node.id}(): {_CALLS[node.id]}")
            else:
                self.flag(node, f"uses {node.id} as a value: {_CALLS[node.id]}")
        elif node.id in _CHECKED_CALLS and isinstance(node.ctx, ast.Load) and not called:
            self.flag(node, f"uses {node.id} as a value: the scan checks it only where called")
        elif (
            node.id in self.modules and isinstance(node.ctx, ast.Load) and id(node) not in self.seen
        ):
            self.flag(node, f"uses module {self.modules[node.id]} as a value: the scan "
                            f"cannot follow what is done with it")  # fmt: skip


def _writes(call: ast.Call) -> bool:
    """Could this open() call write (mode w, a, x or +, or one the scan cannot see)?"""
    if any(isinstance(a, ast.Starred) for a in call.args):
        return True
    mode: ast.expr | None = None
    if len(call.args) >= 2:
        mode = call.args[1]
    for kw in call.keywords:
        if kw.arg is None or kw.arg == "opener":  # open(p, **kw), or an opener's own flags
            return True
        if kw.arg == "mode":
            mode = kw.value
    if mode is None:
        return False
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return any(c in mode.value for c in "wax+")
    return True  # a mode computed at run time
