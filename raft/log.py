"""The Raft log, indexed as in the paper, with each entry's encoding kept alongside.

Figure 2 asks for the whole log on stable storage after every change.
Re-encoding a long log on each change makes a busy leader quadratic, so
every entry is encoded once, when it joins the log, and persisting is a
join of those bytes.  An entry is stored as its term, then its command,
each labgob-encoded; that lets Start encode the command before it takes
the lock, which keeps a busy leader's critical section short.

Once the service takes snapshots (Figure 13), the log no longer starts at
index 1: the entries through the snapshot's last included index are gone.
Every index into a Log stays an absolute log index, as in the paper; the
entry at the snapshot's index survives as a sentinel that keeps its term,
so prevLogTerm checks work right after the snapshot.
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
    """Entries snapshot_index+1..last_index(), after a sentinel at snapshot_index
    that has the term of the snapshot's last included entry (index 0, term 0
    while there is no snapshot)."""

    def __init__(
        self, entries: Iterable[LogEntry] = (), snapshot_index: int = 0, snapshot_term: int = 0
    ) -> None:
        self.snapshot_index = snapshot_index  # Figure 13's lastIncludedIndex
        self.entries: list[LogEntry] = [LogEntry(snapshot_term, None)]
        self.encoded: list[bytes] = [b""]  # the sentinel is never persisted
        self.extend(entries)

    @property
    def snapshot_term(self) -> int:
        """Figure 13's lastIncludedTerm."""
        return self.entries[0].Term

    def _position(self, index: int) -> int:
        if not self.snapshot_index <= index <= self.last_index():
            raise IndexError(
                f"raft: log index {index} is outside the log, which holds "
                f"{self.snapshot_index} (the snapshot's last entry) to {self.last_index()}"
            )
        return index - self.snapshot_index

    def __getitem__(self, index: int) -> LogEntry:
        """The entry at an absolute index; at snapshot_index, the sentinel."""
        return self.entries[self._position(index)]

    def last_index(self) -> int:
        return self.snapshot_index + len(self.entries) - 1

    def last_term(self) -> int:
        return self.entries[-1].Term

    def between(self, first: int, last: int) -> list[LogEntry]:
        """Entries first..last, inclusive (first after the snapshot's index)."""
        if first <= self.snapshot_index:
            raise IndexError(
                f"raft: log entry {first} is in the snapshot (through {self.snapshot_index})"
            )
        last = min(last, self.last_index())
        return self.entries[first - self.snapshot_index : last - self.snapshot_index + 1]

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
        """Delete the entry at index and all that follow it, if any (index after the snapshot's)."""
        if index <= self.snapshot_index:
            raise IndexError(f"raft: log entry {index} is in the snapshot; it cannot be deleted")
        position = index - self.snapshot_index
        del self.entries[position:]
        del self.encoded[position:]

    def compact(self, index: int) -> None:
        """Discard the entries through index, which a snapshot now holds; the
        entry at index becomes the sentinel."""
        position = self._position(index)
        self.snapshot_index = index
        self.entries[:position + 1] = [LogEntry(self.entries[position].Term, None)]
        self.encoded[:position + 1] = [b""]

    def to_bytes(self) -> bytes:
        """The entries after the sentinel, as a labgob stream: term, command, term, ..."""
        return b"".join(self.encoded[1:])

    @classmethod
    def from_bytes(cls, data: bytes, snapshot_index: int = 0, snapshot_term: int = 0) -> Log:
        """Read back what to_bytes wrote, for a log whose snapshot ends at
        snapshot_index; labgob.LabgobError if it is corrupt."""
        d = labgob.NewDecoder(data)
        entries: list[LogEntry] = []
        while True:
            try:
                term = d.Decode()
            except EOFError:
                return cls(entries, snapshot_index, snapshot_term)
            index = snapshot_index + len(entries) + 1
            if type(term) is not int:
                raise labgob.DecodeError(
                    f"raft: the term of persisted log entry {index} is a "
                    f"{type(term).__name__}, not an int"
                )
            try:
                command = d.Decode()
            except EOFError:
                raise labgob.DecodeError(
                    f"raft: the persisted log ends after the term of entry {index}, "
                    "before its command"
                ) from None
            entries.append(LogEntry(term, command))
