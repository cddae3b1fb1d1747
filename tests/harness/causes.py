"""Silent mistakes the tester can name, put first in a failing test's report.

Two mistakes make a Raft fail as if it did nothing ("expected one leader, got
none"), with no exception to show:

* a field misspelt on write (`reply.Votegranted = True`): labgob sends only
  declared fields, so the caller never sees it. labgob warns once a process;
  the tester reads labgob's counts (labgob.undeclared_counts) and names every
  such attribute met during the test, with the lines that write it;
* a handler that rebinds its reply or args (`reply = RequestVoteReply(...)`):
  the caller never sees the new object. Found in the handlers' source, and
  also printed at the start of the run (harness/plugin.py).

Neither fails a test: a test that fails anyway gets them as its first lines.
"""

from __future__ import annotations

import ast
import functools
import inspect
import os
import re
import sys
import textwrap
from pathlib import Path

import labgob
from labgob.registry import info_for_class
from labrpc.service import handler_types

__all__ = ["Causes", "rebound_parameters"]


def _where(path: str | None, line: int) -> str:
    if not path:
        return f"line {line}"
    try:
        shown = os.path.relpath(path)
    except ValueError:
        shown = path
    return f"{shown}:{line}"


class _Rebinds(ast.NodeVisitor):
    """Assignments to the given names in one function body, not in nested scopes."""

    def __init__(self, names: set[str]) -> None:
        self.names = names
        self.found: list[tuple[str, int]] = []  # (name, line in the function's source)

    def _target(self, node: ast.expr) -> None:
        if isinstance(node, ast.Name) and node.id in self.names:
            self.found.append((node.id, node.lineno))
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                self._target(elt)
        elif isinstance(node, ast.Starred):
            self._target(node.value)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._target(target)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._target(node.target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._target(node.target)
        self.generic_visit(node)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self._target(node.target)
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        self._target(node.target)
        self.generic_visit(node)

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            if item.optional_vars is not None:
                self._target(item.optional_vars)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        pass  # a nested function's names are its own

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Lambda(self, node: ast.Lambda) -> None:
        pass


@functools.lru_cache(maxsize=64)
def rebound_parameters(raft_class: type) -> tuple[str, ...]:
    """One line for each place a handler of raft_class assigns to its args or reply."""
    found: list[str] = []
    for name, _ in sorted(handler_types(raft_class).items()):
        func = getattr(raft_class, name)
        try:
            lines, first = inspect.getsourcelines(func)
            tree = ast.parse(textwrap.dedent("".join(lines)))
        except (OSError, TypeError, SyntaxError):
            continue
        fn = tree.body[0] if tree.body else None
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        params = [a.arg for a in fn.args.posonlyargs + fn.args.args][1:3]
        visitor = _Rebinds(set(params))
        for statement in fn.body:
            visitor.visit(statement)
        path = inspect.getsourcefile(func)
        for param, line in visitor.found:
            text = lines[line - 1].strip()
            found.append(
                f"{_where(path, first + line - 1)}: {raft_class.__name__}.{name}() assigns to "
                f"its parameter {param} ({text}): the caller never sees that new object. "
                f"Set the fields of the one it was given ({param}.Term = ...)"
            )
    return tuple(found)


def _writes(folder: Path, attribute: str) -> list[str]:
    """The lines of the .py files in folder that write attribute (x.attribute = ...)."""
    write = re.compile(rf"\.{re.escape(attribute)}\s*(?:[-+*/|&]?=)(?!=)|setattr\(.*['\"]"
                       rf"{re.escape(attribute)}['\"]")  # fmt: skip
    hits = []
    for path in sorted(folder.glob("*.py")):
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if write.search(line):
                hits.append(f"{_where(str(path), number)}: {line.strip()}")
    return hits


class Causes:
    """What a test's failure should name first: the silent mistakes seen so far."""

    def __init__(self, raft_class: type | None) -> None:
        self._raft_class = raft_class
        self._before = labgob.undeclared_counts()
        module = sys.modules.get(raft_class.__module__) if raft_class is not None else None
        source = getattr(module, "__file__", None)
        self._folder = Path(source).parent if source else None

    def lines(self) -> list[str]:
        """The causes, one line each: handlers that rebind a parameter, then each
        attribute labgob dropped during this test."""
        found = list(rebound_parameters(self._raft_class)) if self._raft_class else []
        for (cls, attribute), n in sorted(
            labgob.undeclared_counts().items(), key=lambda kv: (kv[0][0].__qualname__, kv[0][1])
        ):
            if n <= self._before.get((cls, attribute), 0):
                continue
            info = info_for_class(cls)
            fields = ", ".join(info.fields) if info is not None else "?"
            writes = _writes(self._folder, attribute)[:3] if self._folder else []
            at = f" Written at {'; '.join(writes)}." if writes else ""
            found.append(
                f"labgob: {cls.__qualname__}.{attribute} is not a declared field, so it was "
                f"never sent (its fields: {fields}).{at} Fix the spelling, or declare the field"
            )
        return found

    def first(self, message: str) -> str:
        """message, with the causes before it, as a failure reports them."""
        causes = self.lines()
        if not causes:
            return message
        return "\n    ".join([*causes, f"then: {message}"])
