"""The student's modules compiled once, in the zygote, for every host it forks.

A host imports the student's package after its fork. Where no .pyc can be
written (PYTHONDONTWRITEBYTECODE, as grading sets it, or a read-only folder),
each host would compile the package's source again: about 12 ms of a host's
20 ms from fork to Make on the reference Raft, paid for every peer, spare and
restart. compile() runs none of the code it reads, so the zygote, which never
runs student code, may do it once; each child then loads the code objects it
inherited, by the same import path a plain import takes.

Only files that compile cleanly are kept: one that warns (a SyntaxWarning,
say) or fails is left to the host to compile, so it reports what it always did.
A file changed since it was compiled is compiled by the host as usual.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import warnings
from collections.abc import Sequence
from types import CodeType, ModuleType

__all__ = ["Precompiled"]

MAX_FILES = 200  # a package's .py files compiled at most
MAX_FILE_BYTES = 1 << 20  # a larger file is left to the host


class Precompiled(importlib.abc.MetaPathFinder):
    """Code objects by source path, each with the (mtime_ns, size) it was compiled at."""

    def __init__(self) -> None:
        self._code: dict[str, tuple[int, int, CodeType]] = {}
        self._done: set[tuple[str, tuple[str, ...]]] = set()

    # -- in the zygote --------------------------------------------------------------

    def compile_package(self, module: str, path: Sequence[str]) -> None:
        """Compile the .py files of module's top-level package, found on path as
        an import would find it; a second call for the same package is a no-op."""
        top = module.partition(".")[0]
        key = (top, tuple(path))
        if key in self._done:
            return
        self._done.add(key)
        spec = importlib.machinery.PathFinder.find_spec(top, list(path))  # finds, runs nothing
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            return
        if spec.submodule_search_locations is None:
            self._compile(spec.origin)
            return
        for folder in spec.submodule_search_locations:
            for where, dirs, files in os.walk(folder):
                dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__pycache__")))
                for name in sorted(files):
                    if name.endswith(".py") and len(self._code) < MAX_FILES:
                        self._compile(os.path.join(where, name))

    def _compile(self, path: str) -> None:
        try:
            st = os.stat(path)
            if st.st_size > MAX_FILE_BYTES:
                return
            with open(path, "rb") as f:
                source = f.read()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                # as importlib's SourceLoader compiles a module
                code = compile(source, path, "exec", dont_inherit=True)
        except (OSError, SyntaxError, ValueError, MemoryError, RecursionError):
            return
        if not caught:
            self._code[path] = (st.st_mtime_ns, st.st_size, code)

    # -- in a host --------------------------------------------------------------------

    def install(self) -> None:
        """Put this finder first, so it sees each import before the usual finders."""
        if self._code:
            sys.meta_path.insert(0, self)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """The spec the other finders give, loaded from the code compiled here when
        it is one of these files."""
        spec: importlib.machinery.ModuleSpec | None = None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is not self and find is not None:
                spec = find(fullname, path, target)
                if spec is not None:
                    break
        if spec is None or spec.origin is None:
            return spec
        compiled = self._code.get(spec.origin)
        if compiled is not None and type(spec.loader) is importlib.machinery.SourceFileLoader:
            spec.loader = _Loader(fullname, spec.origin, compiled)
        return spec


class _Loader(importlib.machinery.SourceFileLoader):
    """A SourceFileLoader whose code, while its file is unchanged, is the zygote's."""

    def __init__(self, fullname: str, path: str, compiled: tuple[int, int, CodeType]) -> None:
        super().__init__(fullname, path)
        self._compiled = compiled

    def get_code(self, fullname: str) -> CodeType | None:
        mtime_ns, size, code = self._compiled
        try:
            st = os.stat(self.path)
        except OSError:
            return super().get_code(fullname)
        if (st.st_mtime_ns, st.st_size) != (mtime_ns, size):
            return super().get_code(fullname)
        return code
