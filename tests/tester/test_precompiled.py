"""The zygote's precompiled student modules (harness/peerhost/precompiled.py): a host
runs the code compiled once while its file is unchanged, and compiles the file
itself whenever that would tell it something the cache would hide."""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path
from types import ModuleType

import pytest
from harness.peerhost.precompiled import Precompiled


def _package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _load(finder: Precompiled, name: str, root: Path) -> ModuleType:
    """name as the finder, first on sys.meta_path, would have a host import it."""
    parent = name.rpartition(".")[0]
    spec = finder.find_spec(name, [str(root.joinpath(*parent.split(".")))] if parent else None)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rewrite_keeping_stat(path: Path, text: str) -> None:
    st = path.stat()
    assert len(text.encode()) == st.st_size
    path.write_text(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_host_runs_the_zygotes_code_until_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _package(tmp_path, {"__init__.py": "", "mod.py": "VALUE = 'compiled'\n", "sub/deep.py": ""})
    monkeypatch.syspath_prepend(str(tmp_path))
    finder = Precompiled()
    finder.compile_package("pkg.mod", [str(tmp_path)])
    # the same size and times: only the cache can still say "compiled"
    _rewrite_keeping_stat(tmp_path / "pkg" / "mod.py", "VALUE = 'rewrote!'\n")
    assert _load(finder, "pkg.mod", tmp_path).VALUE == "compiled"
    deep = _load(finder, "pkg.sub.deep", tmp_path)
    assert deep.__file__ == str(tmp_path / "pkg" / "sub" / "deep.py")

    (tmp_path / "pkg" / "mod.py").write_text("VALUE = 'changed since'\n")
    assert _load(finder, "pkg.mod", tmp_path).VALUE == "changed since"


@pytest.mark.parametrize(
    "source, why",
    [
        ("assert (False, 'always true')\n", "SyntaxWarning"),  # the host must warn
        ("def broken(:\n", "SyntaxError"),
    ],
)
def test_a_file_that_warns_or_fails_is_left_to_the_host(
    source: str, why: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _package(tmp_path, {"__init__.py": "", "odd.py": source})
    monkeypatch.syspath_prepend(str(tmp_path))
    finder = Precompiled()
    finder.compile_package("pkg", [str(tmp_path)])
    spec = finder.find_spec("pkg.odd", [str(tmp_path / "pkg")])
    assert spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            _load(finder, "pkg.odd", tmp_path)
        except SyntaxError:
            assert why == "SyntaxError"
        else:
            assert [w.category.__name__ for w in caught] == [why]


def test_a_single_module_is_compiled_and_nothing_is_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "single.py").write_text("raise SystemExit('this must not run in the zygote')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    finder = Precompiled()
    finder.compile_package("single", [str(tmp_path)])  # runs nothing: no SystemExit here
    spec = finder.find_spec("single", None)
    assert spec is not None and type(spec.loader).__module__ == "harness.peerhost.precompiled"
