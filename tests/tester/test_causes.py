"""The silent mistakes the tester names first in a failure (harness/causes.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from harness.causes import Causes, rebound_parameters

import labgob
import raft


@dataclass
class Args:
    Term: int = 0


@dataclass
class Reply:
    Term: int = 0
    Ok: bool = False


labgob.Register(Args)
labgob.Register(Reply)


class Raft:
    def Fills(self, args: Args, reply: Reply) -> None:
        reply.Term = args.Term

        def helper(reply: Reply) -> None:
            reply = Reply()  # noqa: F841 (planted: a nested function's own name)

    def Rebinds(self, args: Args, reply: Reply) -> None:
        args, reply = Args(), Reply(Ok=True)  # noqa: F841 (planted)

    def send(self, server: int, args: Args) -> bool:  # a helper, not a handler
        args = Args()  # noqa: F841 (a helper may)
        return False


def test_a_handler_that_rebinds_its_parameters_is_named_with_its_line() -> None:
    found = rebound_parameters(Raft)
    assert len(found) == 2, found
    assert found[0].startswith(f"{os.path.relpath(__file__)}:")  # from where pytest runs
    assert "Raft.Rebinds() assigns to its parameter args (args, reply = Args(), " in found[0]
    assert "Raft.Rebinds() assigns to its parameter reply" in found[1]


def test_the_reference_rebinds_nothing() -> None:
    assert rebound_parameters(raft.Raft) == ()


def test_only_undeclared_attributes_met_during_the_test_are_named() -> None:
    stale = Reply()
    stale.Gone = 1  # type: ignore[attr-defined]
    labgob.encode(stale)
    causes = Causes(None)
    assert causes.lines() == []
    reply = Reply()
    reply.Okay = True  # type: ignore[attr-defined]
    labgob.encode(reply)
    labgob.encode(stale)  # met again during this test: named again
    lines = causes.lines()
    named = [line.split(" is not")[0] for line in lines]
    assert named == ["labgob: Reply.Gone", "labgob: Reply.Okay"]
    assert causes.first("expected one leader, got none").endswith(
        "\n    then: expected one leader, got none"
    )
