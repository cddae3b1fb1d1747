"""Solution markers: the reference raft.py is the skeleton plus marked solution blocks.

    # BEGIN SOLUTION
    ...reference code...                    dropped from the skeleton
    # SKELETON
    # ...text for the skeleton...           kept, with one "# " taken off each line
    # END SOLUTION

The SKELETON part is optional; every line of it is a comment at the marker's
indentation ("#" alone for an empty line), so the reference runs as is.
Markers stand on lines of their own and do not nest.  Every mistake raises
MarkerError with the file and line, so a broken marker never yields a
skeleton that quietly holds solution code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BEGIN = "# BEGIN SOLUTION"
SKELETON = "# SKELETON"
END = "# END SOLUTION"
_MARKER = re.compile(r"^(\s*)# (BEGIN SOLUTION|SKELETON|END SOLUTION)\s*$")
_ANY_MARKER = re.compile(r"#\s*(BEGIN SOLUTION|END SOLUTION|SKELETON)\b")


class MarkerError(ValueError):
    """A solution marker that is malformed, unbalanced or misplaced."""


@dataclass
class Split:
    """A marked file taken apart: the skeleton's text and the solution's lines."""

    skeleton: str
    solution_lines: list[str]  # every line inside a solution part, as written


def split(text: str, name: str = "raft.py") -> Split:
    """The skeleton of a marked file, and the solution lines it leaves out."""
    out: list[str] = []
    solution: list[str] = []
    state = "outside"  # or "solution", "skeleton"
    indent = ""
    opened = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        where = f"{name}:{number}"
        marker = _MARKER.match(line.rstrip("\n"))
        if marker is None and _ANY_MARKER.search(line) and state != "skeleton":
            raise MarkerError(
                f"{where}: a solution marker must stand alone on its line, exactly as "
                f"'{BEGIN}', '{SKELETON}' or '{END}': {line.strip()!r}"
            )
        if marker is not None:
            kind = marker.group(2)
            if kind == "BEGIN SOLUTION":
                if state != "outside":
                    raise MarkerError(
                        f"{where}: '{BEGIN}' inside the block opened at line {opened}; "
                        f"blocks do not nest: close it with '{END}' first"
                    )
                state, indent, opened = "solution", marker.group(1), number
            elif kind == "SKELETON":
                if state != "solution":
                    raise MarkerError(
                        f"{where}: '{SKELETON}' outside a solution block: it goes between "
                        f"'{BEGIN}' and '{END}'"
                    )
                state = "skeleton"
                _same_indent(where, marker.group(1), indent, opened)
            else:
                if state == "outside":
                    raise MarkerError(f"{where}: '{END}' with no '{BEGIN}' before it")
                _same_indent(where, marker.group(1), indent, opened)
                state = "outside"
            continue
        if state == "outside":
            out.append(line)
        elif state == "solution":
            solution.append(line)
        else:
            out.append(_uncomment(line, indent, where, opened))
    if state != "outside":
        raise MarkerError(f"{name}:{opened}: '{BEGIN}' is never closed by '{END}'")
    return Split(_tidy("".join(out)), solution)


def _same_indent(where: str, got: str, want: str, opened: int) -> None:
    if got != want:
        raise MarkerError(
            f"{where}: this marker is indented {len(got)} spaces but the '{BEGIN}' of "
            f"line {opened} is indented {len(want)}; a block's markers line up"
        )


def _uncomment(line: str, indent: str, where: str, opened: int) -> str:
    """A skeleton line: indent + "# " + text -> indent + text; indent + "#" -> ""."""
    body = line.rstrip("\n")
    if body == indent + "#" or body.strip() == "":
        return "\n"
    if not body.startswith(indent + "# "):
        raise MarkerError(
            f"{where}: in the SKELETON part of the block at line {opened}, every line is "
            f"a comment at the block's indentation ({len(indent)} spaces, then '# '): "
            f"{body.strip()!r}"
        )
    return indent + body[len(indent) + 2 :] + "\n"


def _tidy(text: str) -> str:
    """At most two blank lines in a row, and none before a closing line of the file."""
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    return text.rstrip("\n") + "\n"
