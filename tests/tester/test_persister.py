"""Unit tests of raft's Persister (Go's persister.go)."""

from __future__ import annotations

import threading

from raft import MakePersister, Persister


def test_new_persister_is_empty() -> None:
    p = MakePersister()
    assert isinstance(p, Persister)
    assert p.ReadRaftState() == b"" and p.RaftStateSize() == 0
    assert p.ReadSnapshot() == b"" and p.SnapshotSize() == 0


def test_Save_and_read_back() -> None:
    p = MakePersister()
    p.Save(b"raft-state", b"snap")
    assert p.ReadRaftState() == b"raft-state" and p.RaftStateSize() == 10
    assert p.ReadSnapshot() == b"snap" and p.SnapshotSize() == 4
    assert isinstance(p.ReadRaftState(), bytes) and isinstance(p.ReadSnapshot(), bytes)

    # Save replaces both halves of the pair
    p.Save(b"xy", b"")
    assert p.ReadRaftState() == b"xy" and p.RaftStateSize() == 2
    assert p.ReadSnapshot() == b"" and p.SnapshotSize() == 0

    big = bytes(range(256)) * 4000
    p.Save(big, big[::-1])
    assert p.RaftStateSize() == len(big) and p.SnapshotSize() == len(big)
    assert p.ReadRaftState() == big and p.ReadSnapshot() == big[::-1]


def test_Save_stores_copies() -> None:
    p = MakePersister()
    state = bytearray(b"state")
    snap = bytearray(b"snapshot")
    p.Save(state, snap)
    state[0] = ord("X")
    snap.extend(b"-more")
    assert p.ReadRaftState() == b"state" and p.RaftStateSize() == 5
    assert p.ReadSnapshot() == b"snapshot" and p.SnapshotSize() == 8
    assert isinstance(p.ReadRaftState(), bytes) and isinstance(p.ReadSnapshot(), bytes)

    view = memoryview(bytearray(b"abc"))
    p.Save(view, b"s")
    view[0] = ord("z")
    assert p.ReadRaftState() == b"abc"


def test_Copy_is_independent() -> None:
    p = MakePersister()
    p.Save(b"a1", b"s1")
    c = p.Copy()
    assert isinstance(c, Persister) and c is not p
    assert c.ReadRaftState() == b"a1" and c.ReadSnapshot() == b"s1"
    assert c.RaftStateSize() == 2 and c.SnapshotSize() == 2

    p.Save(b"a2-longer", b"s2-longer")
    assert c.ReadRaftState() == b"a1" and c.ReadSnapshot() == b"s1"

    c.Save(b"c3", b"")
    assert p.ReadRaftState() == b"a2-longer" and p.ReadSnapshot() == b"s2-longer"
    assert c.ReadRaftState() == b"c3" and c.SnapshotSize() == 0

    # a copy of an empty persister is empty
    e = MakePersister().Copy()
    assert e.ReadRaftState() == b"" and e.ReadSnapshot() == b""


def test_concurrent_Save_and_read_stay_consistent() -> None:
    """Writers Save pairs whose two halves name the same (writer, version) and whose
    lengths differ from pair to pair; readers take Copy()s, which must always hold one
    whole pair (raftstate and snapshot are saved as one atomic pair), and single reads,
    which must always be one complete saved value with the matching size."""
    p = MakePersister()
    nwriters, nreaders, nsaves = 4, 4, 400
    stop = threading.Event()
    problems: list[str] = []
    seen_pairs = [0]

    def pair(w: int, k: int) -> tuple[bytes, bytes]:
        tag = f"{w}:{k};".encode()
        return tag * (1 + (w * 7 + k) % 13), b"snap-" + tag * (1 + (w * 5 + k) % 11)

    def consistent(state: bytes, snap: bytes) -> bool:
        if state == b"" and snap == b"":
            return True
        tag = tag_of(state)
        return tag is not None and (state, snap) == pair(*tag)

    def tag_of(state: bytes) -> tuple[int, int] | None:
        try:
            w, k = (int(x) for x in state[: state.index(b";")].split(b":"))
        except ValueError:
            return None
        return w, k

    def writer(w: int) -> None:
        for k in range(nsaves):
            p.Save(*pair(w, k))

    def reader() -> None:
        while not stop.is_set():
            c = p.Copy()
            state, snap = c.ReadRaftState(), c.ReadSnapshot()
            if not consistent(state, snap):
                problems.append(f"torn pair: {state[:20]!r}... / {snap[:20]!r}...")
                return
            if c.RaftStateSize() != len(state) or c.SnapshotSize() != len(snap):
                problems.append("a Copy's sizes do not match its data")
                return
            s = p.ReadRaftState()
            if s and not consistent(s, pair(*tag_of(s))[1] if tag_of(s) else b"?"):
                problems.append(f"torn raft state: {s[:40]!r}")
                return
            seen_pairs[0] += 1

    readers = [
        threading.Thread(target=reader, name=f"tester-reader-{i}") for i in range(nreaders)
    ]
    writers = [
        threading.Thread(target=writer, args=(w,), name=f"tester-writer-{w}")
        for w in range(nwriters)
    ]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(30)
    stop.set()
    for t in readers:
        t.join(30)
    assert not any(t.is_alive() for t in readers + writers)
    assert not problems, problems[0]
    assert seen_pairs[0] > 0

    # the final state is the last pair one of the writers saved
    final = (p.ReadRaftState(), p.ReadSnapshot())
    assert final in [pair(w, nsaves - 1) for w in range(nwriters)]
    assert p.RaftStateSize() == len(final[0]) and p.SnapshotSize() == len(final[1])
