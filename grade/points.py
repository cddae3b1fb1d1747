"""Points per lab test, from grade/points.ini (INI, so Python 3.10 reads it too)."""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from pathlib import Path

CONFIG = Path(__file__).resolve().with_name("points.ini")
_PART = re.compile(r"(\d[A-Z])$")
# The lab tests beyond Go's carry no part in their names: they are the part
# "beyond", graded only when points.ini lists it or PARTS names it.
BEYOND_GO_FILE = "test_raft_beyond_go.py"
BEYOND_GO = "beyond"


class PointsError(ValueError):
    """The points file or the parts asked for do not fit the handout's tests."""


@dataclass(frozen=True)
class LabTest:
    """One lab test: its pytest id in the handout, its Go name, its part and points."""

    node_id: str  # tests/lab/test_raft_3a.py::test_InitialElection3A
    name: str  # InitialElection3A
    part: str  # 3A
    points: float


def part_of(node_id: str) -> str:
    if node_id.split("::", 1)[0].endswith(BEYOND_GO_FILE):
        return BEYOND_GO
    match = _PART.search(node_id)
    if not match:
        raise PointsError(f"lab test {node_id!r} does not end in its part (3A, 3B, ...)")
    return match.group(1)


def lab_tests(
    node_ids: list[str], parts: list[str] | None = None, config: Path = CONFIG
) -> list[LabTest]:
    """The tests of the parts asked for (default: every part in the config), with points."""
    table = configparser.ConfigParser()
    table.optionxform = str  # type: ignore[assignment,method-assign]  # keep 3A, not 3a
    try:
        table.read_string(config.read_text(), source=str(config))
        part_points = {k: float(v) for k, v in _section(table, "parts").items()}
        test_points = {k: float(v) for k, v in _section(table, "tests").items()}
    except (OSError, configparser.Error, ValueError) as e:
        raise PointsError(f"{config}: {e} (points are numbers, e.g. 3A = 100)") from None
    by_part: dict[str, list[str]] = {}
    for node_id in node_ids:
        by_part.setdefault(part_of(node_id), []).append(node_id)
    chosen = parts or list(part_points)
    unknown = [p for p in chosen if p not in by_part]
    if unknown:
        raise PointsError(
            f"PARTS names {' '.join(unknown)}, which the handout has no tests for; "
            f"it has {' '.join(sorted(by_part))}"
        )
    known_names = {_name(n) for n in node_ids}
    stray = [t for t in test_points if t not in known_names and f"test_{t}" not in known_names]
    if stray:
        raise PointsError(f"{config.name} gives points to tests the handout lacks: {stray}")
    out: list[LabTest] = []
    for part in chosen:
        ids = by_part[part]
        total = part_points.get(part, 100.0)
        fixed = {n: _fixed(n, test_points) for n in ids}
        rest = total - sum(p for p in fixed.values() if p is not None)
        shared = [n for n, p in fixed.items() if p is None]
        if rest < 0 or (rest > 0 and not shared):
            raise PointsError(
                f"{config.name}: the points of part {part}'s tests do not add up to its {total:g}"
            )
        for n in ids:
            points = fixed[n] if fixed[n] is not None else rest / len(shared)
            out.append(LabTest(n, _name(n).removeprefix("test_"), part, float(points or 0)))
    return out


def _section(table: configparser.ConfigParser, name: str) -> dict[str, str]:
    return dict(table[name]) if table.has_section(name) else {}


def _name(node_id: str) -> str:
    return node_id.rsplit("::", 1)[-1]


def _fixed(node_id: str, test_points: dict[str, float]) -> float | None:
    name = _name(node_id)
    return test_points.get(name, test_points.get(name.removeprefix("test_")))
