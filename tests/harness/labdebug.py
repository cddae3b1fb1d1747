"""The lab's debug stream (raft/debug.py) as the tester writes to it.

In-process the tester uses the module the student's Raft imports, so both
count milliseconds from the same restart_clock(). Sealed, the test process
must not import the raft package (its __init__ imports the student's raft.py),
so the file is loaded on its own; the peer hosts are given its clock's epoch
(time.monotonic is the machine's clock, the same in every process).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from harness import runtime

__all__ = ["module"]

_NAME = "harness._lab_debug"


def module() -> ModuleType | None:
    """raft/debug.py, or None if the Raft under test has none."""
    if not runtime.sealed_enabled():
        try:
            from raft import debug
        except ImportError:
            return None
        return debug
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    spec = importlib.util.find_spec("raft")  # finds the package without running it
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "debug.py"
    file_spec = importlib.util.spec_from_file_location(_NAME, path)
    if file_spec is None or file_spec.loader is None or not path.is_file():
        return None
    loaded = importlib.util.module_from_spec(file_spec)
    sys.modules[_NAME] = loaded
    file_spec.loader.exec_module(loaded)
    return loaded
