"""The reference Raft as one file, the way a student hands in a solution.

A submission is graded by its raft/raft.py alone.  The reference keeps its log
in a module of its own (raft/log.py, which is never handed out), so the grader's
tests and its benchmark grade this single-file form, with raft/log.py pasted in
where raft.py imports it.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_IMPORT = "from raft.log import "


def single_file(repo: Path = REPO) -> str:
    raft = (repo / "raft" / "raft.py").read_text()
    log = (repo / "raft" / "log.py").read_text()
    lines = raft.splitlines(keepends=True)
    at = [i for i, line in enumerate(lines) if line.startswith(_IMPORT)]
    if len(at) != 1:
        raise RuntimeError(
            f"handout/reference.py: raft/raft.py should import raft.log once, with a line "
            f"starting {_IMPORT!r}; found {len(at)}"
        )
    body = "".join(
        line for line in log.splitlines(keepends=True)
        if line.strip() != "from __future__ import annotations"
    )  # fmt: skip
    pasted = f"# --- raft/log.py, pasted in by handout/reference.py ---\n{body}# --- end ---\n"
    return "".join(lines[: at[0]]) + pasted + "".join(lines[at[0] + 1 :])
