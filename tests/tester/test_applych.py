"""harness/applych.py: applyCh with Go's unbuffered-channel semantics and queue.Queue's API."""

from __future__ import annotations

import queue
import threading
import time

import pytest
from harness.applych import DEADLOCK_SECONDS, ApplyChannel, ChannelClosed


def _channel() -> tuple[ApplyChannel, list[BaseException]]:
    failures: list[BaseException] = []
    return ApplyChannel(3, failures.append), failures


def _send(ch: ApplyChannel, *items: object) -> threading.Thread:
    def send() -> None:
        for item in items:
            ch.put(item)

    sender = threading.Thread(target=send, name="test-sender", daemon=True)
    sender.start()
    return sender


def test_put_returns_once_the_message_is_taken() -> None:
    ch, failures = _channel()
    assert isinstance(ch, queue.Queue)
    sender = _send(ch, "a", "b")
    sender.join(0.3)
    assert sender.is_alive()  # nobody has taken "a"
    assert ch.qsize() == 1
    assert ch.get(timeout=5) == "a"
    assert ch.get(timeout=5) == "b"
    sender.join(5)
    assert not sender.is_alive()
    assert ch.empty() and not failures


def test_a_put_that_times_out_is_withdrawn() -> None:
    ch, _ = _channel()
    with pytest.raises(queue.Full):
        ch.put("late", timeout=0.1)
    assert ch.empty()
    with pytest.raises(queue.Empty):
        ch.get(timeout=0.1)


def test_a_put_that_does_not_block_needs_a_waiting_receiver() -> None:
    ch, _ = _channel()
    with pytest.raises(queue.Full):
        ch.put_nowait("x")
    got: list[object] = []
    receiver = threading.Thread(target=lambda: got.append(ch.get(timeout=5)), daemon=True)
    receiver.start()
    deadline = time.monotonic() + 5
    while True:  # until the receiver waits in get()
        try:
            ch.put_nowait("y")
            break
        except queue.Full:
            assert time.monotonic() < deadline, "the receiver never waited in get()"
            time.sleep(0.01)
    receiver.join(5)
    assert got == ["y"]


def test_close_frees_senders_and_ends_the_receiver() -> None:
    ch, failures = _channel()
    sender = _send(ch, "a")
    ch.close()
    sender.join(5)
    assert not sender.is_alive()
    ch.put("after close")  # a killed Raft's put returns at once
    with pytest.raises(ChannelClosed):
        ch.get()
    assert list(ch) == [] and not failures


def test_iterating_is_go_s_range_over_the_channel() -> None:
    ch, _ = _channel()
    sender = _send(ch, 1, 2, 3)
    got = []
    for m in ch:
        got.append(m)
        if m == 3:
            ch.close()
    sender.join(5)
    assert got == [1, 2, 3]


def test_a_send_under_the_lock_snapshot_needs_fails_within_seconds() -> None:
    """The 3D deadlock: the sender holds mu and waits for the receiver, which waits for mu
    inside Snapshot(). The channel reports it, then frees the sender."""
    ch, failures = _channel()
    mu = threading.Lock()

    def applier() -> None:
        with mu:
            ch.put("entry")  # still holding mu

    sender = threading.Thread(target=applier, name="raft-3-applier", daemon=True)
    sender.start()
    while not mu.locked():  # until the applier holds mu
        time.sleep(0.001)
    started = time.monotonic()
    with ch.receiver_busy("Snapshot()"):
        with mu:  # Snapshot() taking rf.mu
            pass
    took = time.monotonic() - started
    sender.join(5)
    assert DEADLOCK_SECONDS <= took < DEADLOCK_SECONDS + 2
    assert len(failures) == 1
    report = str(failures[0])
    assert report.startswith(
        "applyCh deadlock: server 3 is sending on applyCh while holding rf.mu: thread "
        "raft-3-applier has waited 2 s in put() ("
    )
    assert "test_applych.py:" in report and ", in applier) for the tester" in report
    assert "waiting inside server 3's Snapshot() for rf.mu" in report
    with pytest.raises(ChannelClosed):
        ch.get(timeout=1)


def test_a_brief_snapshot_while_a_put_waits_is_no_deadlock() -> None:
    ch, failures = _channel()
    sender = _send(ch, "a", "b")
    with ch.receiver_busy("Snapshot()"):
        time.sleep(0.2)
    assert ch.get(timeout=5) == "a" and ch.get(timeout=5) == "b"
    sender.join(5)
    assert not failures


# -- put_later: a sender in another process, for which no thread waits (sealed mode) --


def test_put_later_calls_then_once_the_message_is_taken_in_order() -> None:
    ch, failures = _channel()
    taken: list[str] = []
    for item in ("a", "b"):
        ch.put_later(item, "applier", "raft.py:1, in applier", lambda item=item: taken.append(item))
    assert taken == [] and ch.qsize() == 2
    assert ch.get(timeout=5) == "a" and taken == ["a"]
    assert ch.get(timeout=5) == "b" and taken == ["a", "b"]
    assert not failures


def test_close_calls_then_of_each_message_not_taken() -> None:
    ch, _ = _channel()
    taken: list[str] = []
    ch.put_later("a", "applier", "raft.py:1, in applier", lambda: taken.append("a"))
    ch.close()
    assert taken == ["a"]
    ch.put_later("b", "applier", "raft.py:1, in applier", lambda: taken.append("b"))
    assert taken == ["a", "b"]  # a closed channel takes nothing: the sender goes on


@pytest.mark.parametrize("busy_first", [True, False])
def test_a_put_later_that_waits_out_a_snapshot_is_reported_as_a_put_is(busy_first: bool) -> None:
    """The sealed 3D deadlock: the host's put waits for the tester, which waits in
    Snapshot(); the report is a waiting put's, whether the message came before the
    tester went into Snapshot() or during it."""
    ch, failures = _channel()
    taken = threading.Event()
    where = "raft/raft.py:9, in applier"
    if not busy_first:
        ch.put_later("entry", "raft-3-applier", where, taken.set)
    started = time.monotonic()
    with ch.receiver_busy("Snapshot()"):
        if busy_first:
            ch.put_later("entry", "raft-3-applier", where, taken.set)
        assert taken.wait(DEADLOCK_SECONDS + 2)  # the report frees the sender
    took = time.monotonic() - started
    assert DEADLOCK_SECONDS <= took < DEADLOCK_SECONDS + 2
    assert len(failures) == 1
    assert str(failures[0]).startswith(
        "applyCh deadlock: server 3 is sending on applyCh while holding rf.mu: thread "
        f"raft-3-applier has waited 2 s in put() ({where}) for the tester"
    )
    with pytest.raises(ChannelClosed):
        ch.get(timeout=1)


def test_a_brief_snapshot_while_a_put_later_waits_is_no_deadlock() -> None:
    ch, failures = _channel()
    taken: list[str] = []
    ch.put_later("a", "applier", "raft.py:1, in applier", lambda: taken.append("a"))
    with ch.receiver_busy("Snapshot()"):
        time.sleep(0.2)
    assert ch.get(timeout=5) == "a" and taken == ["a"]
    time.sleep(DEADLOCK_SECONDS + 0.2)  # a watch still running would report now
    assert not failures
