"""How a crash point reads a reply it does not know the fields of (harness/crashpoints.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.crashpoints import holds, promises

import labgob


@dataclass
class VoteReply:
    Term: int = 0
    VoteGranted: bool = False


@dataclass
class Entry:
    Term: int = 0
    Command: object = None


@dataclass
class AppendArgs:
    Term: int = 0
    Entries: list[Entry] = field(default_factory=list)


for _cls in (VoteReply, Entry, AppendArgs):
    labgob.Register(_cls)


def test_a_reply_promises_when_a_bool_field_is_true() -> None:
    assert promises(VoteReply(3, True))
    assert not promises(VoteReply(3, False))
    assert not promises(VoteReply(1, False)), "an int 1 is not a granted vote"
    assert not promises(7), "not a labgob class"


def test_a_command_is_found_anywhere_inside_the_args() -> None:
    args = AppendArgs(2, [Entry(1, "a"), Entry(2, 1234567)])
    assert holds(args, 1234567)
    assert holds(labgob.decode(labgob.encode(args)), "a")
    assert not holds(args, 7654321)
    assert not holds(AppendArgs(2, [Entry(5, True)]), 1), "True is not the command 1"
    assert holds({"k": [(0, 5)]}, 5)
