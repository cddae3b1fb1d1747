"""The Raft log, indexed as in the paper, with each entry's encoding kept alongside.

Figure 2 asks for the whole log on stable storage after every change.
Re-encoding a long log on each change makes a busy leader quadratic, so
every entry is encoded once, when it joins the log, and persisting is a
join of those bytes.  An entry is stored as its term, then its command,
each labgob-encoded; that lets Start encode the command before it takes
the lock, which keeps a busy leader's critical section short.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import labgob


@dataclass
class LogEntry:
    """A command for the state machine, and the term when the leader received it."""

    Term: int = 0
    Command: Any = None


labgob.Register(LogEntry)


class Log:
    """Entries 1..last_index(), with a sentinel of term 0 at index 0."""

    def __init__(self, entries: Iterable[LogEntry] = ()) -> None:
        self.entries: list[LogEntry] = [LogEntry(0, None)]
        self.encoded: list[bytes] = [b""]  # the sentinel is never persisted
        self.extend(entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> LogEntry:
        return self.entries[index]

    def last_index(self) -> int:
        return len(self.entries) - 1

    def last_term(self) -> int:
        return self.entries[-1].Term

    def between(self, first: int, last: int) -> list[LogEntry]:
        """Entries first..last, inclusive."""
        return self.entries[first : last + 1]

    def append(self, entry: LogEntry, encoded_command: bytes | None = None) -> None:
        """Add entry at the end.  encoded_command, if given, is
        labgob.encode(entry.Command), done beforehand; an entry whose command
        cannot be encoded raises labgob.LabgobError and leaves the log as it was."""
        if encoded_command is None:
            encoded_command = labgob.encode(entry.Command)
        self.encoded.append(labgob.encode(entry.Term) + encoded_command)
        self.entries.append(entry)

    def extend(self, entries: Iterable[LogEntry]) -> None:
        for entry in entries:
            self.append(entry)

    def truncate(self, index: int) -> None:
        """Delete the entry at index and all that follow it."""
        del self.entries[index:]
        del self.encoded[index:]

    def to_bytes(self) -> bytes:
        """The entries after the sentinel, as a labgob stream: term, command, term, ..."""
        return b"".join(self.encoded[1:])

    @classmethod
    def from_bytes(cls, data: bytes) -> Log:
        """Read back what to_bytes wrote; labgob.LabgobError if it is corrupt."""
        d = labgob.NewDecoder(data)
        entries: list[LogEntry] = []
        while True:
            try:
                term = d.Decode()
            except EOFError:
                return cls(entries)
            if type(term) is not int:
                raise labgob.DecodeError(
                    f"raft: the term of persisted log entry {len(entries) + 1} is a "
                    f"{type(term).__name__}, not an int"
                )
            try:
                command = d.Decode()
            except EOFError:
                raise labgob.DecodeError(
                    f"raft: the persisted log ends after the term of entry {len(entries) + 1}, "
                    "before its command"
                ) from None
            entries.append(LogEntry(term, command))
