"""Which of a Raft's RPC handlers is which, known by its args class, not its name.

Go's tester never names a Raft's handlers: only the Raft calls them, so a
student may call them `RequestVoteHandler` or `HeartbeatHandler`. The tests
beyond Go's must still tell a vote request from an AppendEntries, to crash a
server right after one, keep one, or count heartbeats. They go by the fields
of the handler's args class, which Figure 2 and Figure 13 name; a field
matches whatever its case and underscores (`prev_log_index` is PrevLogIndex).

A test that needs a kind of RPC the tester cannot recognise is skipped, with
a line saying why and how to make it run: a test that cannot reach the moment
it checks must never fail a correct Raft.
"""

from __future__ import annotations

import enum
import sys

from labgob.registry import declared_fields
from labrpc.service import handler_types

__all__ = ["Handlers", "Rpc", "RpcKinds", "describe_handlers", "skip"]


class Rpc(enum.Enum):
    """The paper's RPCs, each with the args fields that mark it (Figures 2 and 13)."""

    RequestVote = ("CandidateId", "LastLogIndex", "LastLogTerm")
    AppendEntries = ("PrevLogIndex", "PrevLogTerm", "Entries", "LeaderCommit")
    InstallSnapshot = ("LastIncludedIndex", "LastIncludedTerm")

    @property
    def fields(self) -> tuple[str, ...]:
        fields: tuple[str, ...] = self.value
        return fields


def _norm(name: str) -> str:
    return name.replace("_", "").lower()


Handlers = dict[str, tuple[str, tuple[str, ...]]]  # name -> (args class, its fields)


def describe_handlers(raft_class: type) -> Handlers:
    """raft_class's RPC handlers as RpcKinds needs them: name -> (args class, fields)."""
    found: Handlers = {}
    for name, (args_type, _) in sorted(handler_types(raft_class).items()):
        if not isinstance(args_type, type) or args_type.__module__ == "builtins":
            continue  # a helper such as send_request_vote(self, server: int, ...)
        found[name] = (args_type.__qualname__, declared_fields(args_type))
    return found


class RpcKinds:
    """The handlers of one Raft class, sorted by kind of RPC.

    Built from the class's name and describe_handlers(), so a Raft in another
    process (runtime/sealed.py) is known by the same rules."""

    def __init__(self, service: str, handlers: Handlers) -> None:
        self.service = service
        # kind -> svc_meths ("Raft.HeartbeatHandler"); a handler may be of no kind.
        self._methods: dict[Rpc, list[str]] = {kind: [] for kind in Rpc}
        self._seen: list[str] = []  # each handler with its args fields, for the skip line
        for name, (args_name, fields) in sorted(handlers.items()):
            normed = {_norm(f) for f in fields}
            for kind in Rpc:
                if {_norm(f) for f in kind.fields} <= normed:
                    self._methods[kind].append(f"{self.service}.{name}")
            self._seen.append(f"{name}({args_name}: {', '.join(fields) or '-'})")

    @classmethod
    def of_class(cls, raft_class: type) -> RpcKinds:
        return cls(raft_class.__name__, describe_handlers(raft_class))

    def methods(self, kind: Rpc) -> list[str]:
        """The svc_meths of kind's handlers, e.g. ["Raft.AppendEntries"]; [] if none."""
        return list(self._methods[kind])

    def kind_of(self, svc_meth: str) -> Rpc | None:
        for kind, names in self._methods.items():
            if svc_meth in names:
                return kind
        return None

    def why_unknown(self, kind: Rpc) -> str:
        """Why the tester found no handler of kind, and how to make it find one."""
        seen = "; ".join(self._seen) or "none"
        return (
            f"the tester cannot tell which of {self.service}'s RPC handlers is "
            f"{kind.name}: it knows one by its args class, whose fields Figure 2 and "
            f"Figure 13 name ({', '.join(kind.fields)}; case and underscores do not "
            f"matter). {self.service}'s handlers: {seen}. Name those fields so, and "
            "this test runs"
        )


def skip(reason: str) -> None:
    """Skip the running test with reason (pytest's skip; unittest's outside pytest)."""
    try:
        import pytest
    except ImportError:
        import unittest

        raise unittest.SkipTest(reason) from None
    pytest.skip(reason)


def is_skip(e: BaseException | None) -> bool:
    """True if e is the exception skip() raises. A pytest not yet imported raised
    nothing: it is not imported here (at every cleanup, it would cost a script
    such as the bench about a tenth of a second)."""
    import unittest

    pytest = sys.modules.get("pytest")
    if pytest is not None and isinstance(e, pytest.skip.Exception):
        return True
    return isinstance(e, unittest.SkipTest)
