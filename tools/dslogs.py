"""Pretty-print a raftlab debug log: one column per peer, a colour per topic.

    .venv/bin/python -m tools.dslogs FILE                  every line, one column per peer
    .venv/bin/python -m tools.dslogs FILE -k vote,leader   keep only these topics (and the tester's)
    .venv/bin/python -m tools.dslogs FILE -x timer,persist hide these topics
    .venv/bin/python -m tools.dslogs FILE --flat           one line per event, no columns
    ... | .venv/bin/python -m tools.dslogs -               read standard input

FILE is anything holding lines that raft/debug.py's DPrintf wrote
(RAFTLAB_DEBUG=...): a saved stderr, a failing run kept by
`.venv/bin/python -m tools.stress`, pytest's output. Lines of another shape
(test output, the kept run's header with its seed) are shown as they are,
dimmed; --no-other hides them. The tester's own events (topic TEST) about one
peer go in that peer's column; those about none span the width. Colours go
when the output is not a terminal or with --no-color (or NO_COLOR); the topic
is always written out, so a plain terminal or a file reads the same.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

# 001234 VOTE    S2 T3 grant S1      (see raft/debug.py)
LINE = re.compile(
    r"^(?P<ms>\d{3,}) (?P<topic>[A-Z][A-Z0-9_]*) +(?P<peer>S\d+|--) (?P<term>T\d+|--)"
    r"(?: (?P<msg>.*))?$"
)

STYLES = {
    "timer": "bright_black",
    "vote": "bright_cyan",
    "leader": "bold green",
    "term": "yellow",
    "log": "blue",
    "commit": "magenta",
    "persist": "grey50",
    "snap": "cyan",
    "drop": "red",
    "test": "bold reverse",
}


@dataclass(frozen=True)
class Entry:
    """One DPrintf line."""

    ms: int
    topic: str  # lower case, as in RAFTLAB_DEBUG
    peer: int | None  # None: the tester, about no single peer
    term: int | None
    msg: str

    @property
    def label(self) -> str:
        """The line as shown in a column: topic, term, message."""
        term = "" if self.term is None else f" T{self.term}"
        return f"{self.topic.upper()}{term} {self.msg}".rstrip()


def parse_line(line: str) -> Entry | None:
    """The Entry a DPrintf line holds, or None for any other line."""
    m = LINE.match(line.rstrip("\r\n"))
    if m is None:
        return None
    peer, term = m["peer"], m["term"]
    return Entry(
        ms=int(m["ms"]),
        topic=m["topic"].lower(),
        peer=None if peer == "--" else int(peer[1:]),
        term=None if term == "--" else int(term[1:]),
        msg=m["msg"] or "",
    )


def parse(lines: Iterable[str]) -> Iterator[Entry | str]:
    """Entries for DPrintf lines, the line itself (without its newline) for others."""
    for line in lines:
        entry = parse_line(line)
        yield entry if entry is not None else line.rstrip("\r\n")


def topics_arg(text: str) -> frozenset[str]:
    return frozenset(t.strip().lower() for t in text.replace(" ", ",").split(",") if t.strip())


def select(
    items: Iterable[Entry | str],
    keep: frozenset[str] = frozenset(),
    hide: frozenset[str] = frozenset(),
    other: bool = True,
) -> Iterator[Entry | str]:
    """Filter: with keep, only those topics (plus the tester's, unless hidden); never hide."""
    for item in items:
        if isinstance(item, str):
            if other:
                yield item
            continue
        if item.topic in hide:
            continue
        if keep and item.topic not in keep and item.topic != "test":
            continue
        yield item


def peer_count(items: Sequence[Entry | str]) -> int:
    peers = [i.peer for i in items if isinstance(i, Entry) and i.peer is not None]
    return max(peers, default=-1) + 1


def render(items: Sequence[Entry | str], console: Console, columns: int, flat: bool) -> None:
    """Print items: DPrintf lines in their peer's column (or one per line if flat)."""
    flat = flat or columns <= 0
    header = True  # a row of column names heads each run of debug lines
    for item in items:
        if isinstance(item, str):
            console.print(Text(item, style="dim"), markup=False, highlight=False)
            header = True
            continue
        if header and not flat:
            names = _grid(columns)
            names.add_row("ms", *(Text(f"S{i}", style="bold underline") for i in range(columns)))
            console.print(names)
            header = False
        style = STYLES.get(item.topic, "")
        stamp = f"{item.ms:06d}"
        if flat or item.peer is None or item.peer >= columns:
            # one line across the width: "--" marks a tester event about no single peer
            who = "--" if item.peer is None else f"S{item.peer}"
            line = Text(f"{stamp} {who} ")
            line.append(item.label, style=style)
            console.print(line, highlight=False)
        else:
            grid = _grid(columns)
            cells: list[Text | str] = [""] * columns
            cells[item.peer] = Text(item.label, style=style)
            grid.add_row(stamp, *cells)
            console.print(grid)


def _grid(columns: int) -> Table:
    grid = Table.grid(expand=True, padding=(0, 1))
    grid.add_column(width=6, no_wrap=True)
    for _ in range(columns):
        grid.add_column(ratio=1, overflow="fold")
    return grid


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=".venv/bin/python -m tools.dslogs",
        description="Pretty-print a raftlab debug log (RAFTLAB_DEBUG=...): one column per peer.",
    )
    parser.add_argument("file", help="the log, or - for standard input")
    parser.add_argument(
        "-k",
        "--keep",
        type=topics_arg,
        default=frozenset(),
        help="only these topics, comma-separated (the tester's lines stay)",
    )
    parser.add_argument(
        "-x",
        "--hide",
        type=topics_arg,
        default=frozenset(),
        help="hide these topics, comma-separated (e.g. timer,persist)",
    )
    parser.add_argument(
        "-c",
        "--columns",
        type=int,
        default=None,
        help="number of peers (default: as many as the log mentions)",
    )
    parser.add_argument("--flat", action="store_true", help="one line per event, no columns")
    parser.add_argument(
        "--no-other", dest="other", action="store_false", help="hide lines that are not debug lines"
    )
    parser.add_argument("--no-color", action="store_true", help="no colours")
    parser.add_argument("-w", "--width", type=int, default=None, help="output width")
    args = parser.parse_args(argv)

    try:
        if args.file == "-":
            items = list(parse(sys.stdin))
        else:
            with open(args.file, encoding="utf-8", errors="replace") as f:
                items = list(parse(f))
    except OSError as e:
        parser.error(str(e))
    if not any(isinstance(i, Entry) for i in items):
        print(f"{args.file}: no debug lines (run with RAFTLAB_DEBUG=1)", file=sys.stderr)
    shown = list(select(items, args.keep, args.hide, args.other))
    columns = args.columns if args.columns is not None else peer_count(items)
    console = Console(no_color=args.no_color or None, width=args.width, highlight=False)
    try:
        render(shown, console, columns, args.flat)
    except BrokenPipeError:  # e.g. | head
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
