"""tools/dslogs.py: parses what DPrintf writes, filters topics, lays peers out in columns."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from raft import debug
from tools import dslogs

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def log_text(capsys: pytest.CaptureFixture[str]) -> Iterator[str]:
    """A log as DPrintf writes it (three peers, the tester), with a line of other output."""
    saved = ",".join(sorted(debug._on)) or "off"
    debug.configure("all")
    try:
        debug.restart_clock()
        debug.DPrintf(debug.dTest, None, None, "note begin: Test (3A): initial election")
        debug.DPrintf(debug.dTimer, 2, 1, "timeout: stand for election, log 0")
        debug.DPrintf(debug.dVote, 0, 1, "grant S%d", 2)
        debug.DPrintf(debug.dVote, 1, 1, "grant S%d", 2)
        debug.DPrintf(debug.dLeader, 2, 1, "leader, log to %d", 0)
        debug.DPrintf(debug.dTest, 1, None, "disconnect")
        debug.DPrintf(debug.dPersist, 0, 1, "save votedFor=2, last 0")
        text = capsys.readouterr().err
    finally:
        debug.configure(saved)
    yield "Test (3A): initial election ...\n" + text + "--- FAIL: test_InitialElection3A\n"


def test_parse(log_text: str) -> None:
    items = list(dslogs.parse(io.StringIO(log_text)))
    assert items[0] == "Test (3A): initial election ..."
    assert items[-1] == "--- FAIL: test_InitialElection3A"
    entries = [i for i in items if isinstance(i, dslogs.Entry)]
    assert [(e.topic, e.peer, e.term) for e in entries] == [
        ("test", None, None),
        ("timer", 2, 1),
        ("vote", 0, 1),
        ("vote", 1, 1),
        ("leader", 2, 1),
        ("test", 1, None),
        ("persist", 0, 1),
    ]
    assert entries[2].msg == "grant S2"
    assert entries[2].label == "VOTE T1 grant S2"
    assert entries[5].label == "TEST disconnect"
    assert all(0 <= e.ms < 1000 for e in entries)
    assert dslogs.peer_count(items) == 3
    assert dslogs.parse_line("000012 VOTE    S1 T3 grant S0 ") is not None
    assert dslogs.parse_line("12 VOTE S1 T3 x") is None  # too short for a time stamp
    assert dslogs.parse_line("000012 vote S1 T3 x") is None


def test_select(log_text: str) -> None:
    items = list(dslogs.parse(io.StringIO(log_text)))

    def topics(shown: Iterator[dslogs.Entry | str]) -> list[str]:
        return [i.topic if isinstance(i, dslogs.Entry) else "other" for i in shown]

    assert topics(dslogs.select(items, keep=frozenset({"vote"}))) == [
        "other", "test", "vote", "vote", "test", "other",
    ]  # fmt: skip
    assert topics(dslogs.select(items, keep=frozenset({"vote"}), hide=frozenset({"test"}))) == [
        "other", "vote", "vote", "other",
    ]  # fmt: skip
    assert topics(dslogs.select(items, hide=frozenset({"timer", "persist"}), other=False)) == [
        "test", "vote", "vote", "leader", "test",
    ]  # fmt: skip
    assert dslogs.topics_arg("Vote, leader timer") == {"vote", "leader", "timer"}


def render(items: list[dslogs.Entry | str], **console: object) -> str:
    out = io.StringIO()
    dslogs.render(items, Console(file=out, width=160, **console), 3, flat=False)
    return out.getvalue()


def test_columns(log_text: str) -> None:
    items = list(dslogs.parse(io.StringIO(log_text)))
    text = render(items, color_system=None)
    headers = [line for line in text.splitlines() if line.startswith("ms ")]
    lines = [line for line in text.splitlines() if not line.startswith("ms ")]
    assert len(headers) == 1  # before the first debug line, after the line of other output
    assert text.splitlines().index(headers[0]) == 1
    header = headers[0]
    assert "\x1b" not in text  # a plain terminal or a file gets plain text
    column = {peer: header.index(f"S{peer}") for peer in range(3)}
    assert column[0] < column[1] < column[2]
    assert len(lines) == len(items)  # one line each: wide enough not to wrap
    for item, line in zip(items, lines, strict=True):
        if isinstance(item, str):
            assert line == item  # other lines, as they are
        elif item.peer is None:
            assert line.startswith(f"{item.ms:06d} -- {item.label}")
        else:  # in its peer's column, and nothing in the others
            assert line.startswith(f"{item.ms:06d} ")
            assert line.index(item.label) == column[item.peer], (line, item)
            assert line[7 : column[item.peer]].strip() == ""
            assert line[column[item.peer] + len(item.label) :].strip() == ""
    flat = io.StringIO()
    dslogs.render(items, Console(file=flat, width=90, color_system=None), 3, flat=True)
    # The line's time stamp is the real ms DPrintf saw: 000000, or later under load.
    (leader,) = [i for i in items if isinstance(i, dslogs.Entry) and i.topic == "leader"]
    assert f"{leader.ms:06d} S2 LEADER T1 leader, log to 0" in flat.getvalue().splitlines()


def test_narrow_columns_wrap(log_text: str) -> None:
    items = list(dslogs.parse(io.StringIO(log_text)))
    out = io.StringIO()
    dslogs.render(items, Console(file=out, width=60, color_system=None), 3, flat=False)
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 60
    text = " ".join(line.strip() for line in lines)
    assert "timeout: stand" in text and "election, log 0" in text


def test_colour_per_topic(log_text: str) -> None:
    items = list(dslogs.parse(io.StringIO(log_text)))
    text = render(items, force_terminal=True, color_system="standard")
    lines = text.splitlines()

    def codes(word: str) -> str:
        line = next(line for line in lines if word in line)
        return line[: line.index(word)].rsplit("\x1b[", 1)[-1]

    assert codes("VOTE T1") != codes("LEADER T1") != codes("PERSIST T1")
    assert "\x1b[2m" in text  # other lines dimmed


def test_main(log_text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "run.log"
    path.write_text(log_text)
    assert dslogs.main([str(path), "-k", "vote", "-w", "100", "--no-color"]) == 0
    out = capsys.readouterr().out
    assert out.count("VOTE T1 grant S2") == 2
    assert "LEADER" not in out and "TIMER" not in out
    assert "TEST disconnect" in out and "--- FAIL" in out
    assert dslogs.main([str(path), "-x", "vote,test", "--no-other", "--flat"]) == 0
    out = capsys.readouterr().out
    assert "VOTE" not in out and "TEST" not in out and "--- FAIL" not in out
    assert "LEADER T1 leader" in out


def test_command_line(log_text: str, tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    path.write_text(log_text)
    env = dict(os.environ, COLUMNS="100")
    done = subprocess.run(
        [sys.executable, "-m", "tools.dslogs", str(path), "-x", "persist"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert "\x1b" not in done.stdout  # not a terminal: no colour codes
    assert "LEADER T1 leader, log to 0" in done.stdout and "PERSIST" not in done.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "tools.dslogs", str(tmp_path / "nope.log")],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert missing.returncode == 2 and "nope.log" in missing.stderr
