"""raft/log.py: absolute log indexes before and after compaction (Figure 13)."""

from __future__ import annotations

import pytest

from raft.log import Log, LogEntry


def _log(terms: list[int]) -> Log:
    return Log(LogEntry(term, f"c{i}") for i, term in enumerate(terms, start=1))


def test_indexes_stay_absolute_after_compaction() -> None:
    log = _log([1, 1, 2, 2, 3])
    log.compact(3)
    assert (log.snapshot_index, log.snapshot_term) == (3, 2)
    assert log.last_index() == 5 and log.last_term() == 3
    assert log[3].Term == 2  # the sentinel keeps the snapshot's last term
    assert [e.Command for e in log.between(4, 99)] == ["c4", "c5"]
    log.truncate(5)
    log.append(LogEntry(4, "d5"))
    assert [(e.Term, e.Command) for e in log.between(4, 5)] == [(2, "c4"), (4, "d5")]


def test_persisted_bytes_round_trip_after_compaction() -> None:
    log = _log([1, 1, 2, 2, 3])
    log.compact(2)
    again = Log.from_bytes(log.to_bytes(), log.snapshot_index, log.snapshot_term)
    assert again.snapshot_index == 2 and again.snapshot_term == 1
    assert [(e.Term, e.Command) for e in again.between(3, 5)] == [
        (2, "c3"), (2, "c4"), (3, "c5"),
    ]  # fmt: skip


def test_an_index_in_the_snapshot_is_an_error_that_says_so() -> None:
    log = _log([1, 1, 2])
    log.compact(2)
    with pytest.raises(IndexError, match="log index 1 is outside the log, which holds 2"):
        log[1]
    with pytest.raises(IndexError, match="entry 2 is in the snapshot"):
        log.between(2, 3)
    with pytest.raises(IndexError, match="entry 2 is in the snapshot"):
        log.truncate(2)
