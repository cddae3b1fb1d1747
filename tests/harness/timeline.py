"""The timeline of a test run: one self-contained HTML page per run.

Timeline is an Observer (harness/observe.py): the tester tells it what it does
(connect, disconnect, crash, restart, a successful Start, commit, its checks,
the failure), and a "tester-timeline" thread samples each peer's role and term
every SAMPLE_INTERVAL seconds through its handle (cfg.rafts[i].samples()): with
`inspect()` when the peer offers it (term, role), else with GetState() (leader
or not). A sealed peer's host takes those samples where the peer runs, and
sends each change with the time it was taken (runtime/sealed.py), which the
thread collects every COLLECT_INTERVAL. Nothing else of the Raft is used, so a
student's raft.py can be dropped in.

When a test fails, or always with RAFTLAB_TIMELINE=always, cleanup writes
RAFTLAB_TIMELINE_DIR (default .raftlab/timelines/)/<test>-<seed>.html and the
failure report prints its path. RAFTLAB_TIMELINE=off records nothing
(simulated, it still records but writes no page, so the run is the same either way).

Every event also goes to the debug stream (raft/debug.py, topic "test"), so
`RAFTLAB_DEBUG=...` logs show the tester's actions among the peers' lines, on
the same clock as the timeline.
"""

from __future__ import annotations

import html
import json
import os
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import labdebug, runtime, transcript
from harness.observe import Observer, Peer, SelfSampling

__all__ = ["Timeline", "debug_epoch", "mode", "output_dir", "render"]

SAMPLE_INTERVAL = 0.025  # seconds between samples of every peer's role and term
# Seconds between collections when every peer samples itself (sealed): each of its
# samples comes with the time it was taken, so collecting them often adds nothing.
COLLECT_INTERVAL = 0.1
MAX_EVENTS = 50_000  # beyond this, events are counted but not kept

ENV_MODE = "RAFTLAB_TIMELINE"
ENV_DIR = "RAFTLAB_TIMELINE_DIR"
_TEMPLATE = Path(__file__).with_name("timeline.html")
_REPO = Path(__file__).resolve().parents[2]

# Event kinds, as the page draws them.
KINDS = ("connect", "disconnect", "crash", "restart", "start", "commit", "check", "fail", "note")


def mode() -> str:
    """'fail' (write on failure, the default), 'always' or 'off', from RAFTLAB_TIMELINE."""
    text = os.environ.get(ENV_MODE, "").strip().lower()
    if text in ("", "fail", "failed", "failure", "on-failure"):
        return "fail"
    if text in ("1", "always", "all", "yes", "true", "on"):
        return "always"
    if text in ("0", "off", "no", "false", "never"):
        return "off"
    raise ValueError(f"{ENV_MODE} must be fail, always or off, got {text!r}")


def output_dir() -> Path:
    """Where timelines go: RAFTLAB_TIMELINE_DIR, else .raftlab/timelines/ in the repository."""
    text = os.environ.get(ENV_DIR, "").strip()
    return Path(text) if text else _REPO / ".raftlab" / "timelines"


def debug_epoch() -> float:
    """The time.monotonic() the debug stream counts from (its last restart_clock)."""
    debug = labdebug.module()
    return float(debug._epoch) if debug is not None else time.monotonic()


def _current_test() -> str:
    """The running pytest test's name (e.g. test_ManyElections3A[3-200]), or 'raft'."""
    current = os.environ.get("PYTEST_CURRENT_TEST", "")
    return current.split("::")[-1].rsplit(" ", 1)[0] if current else "raft"


class Timeline(Observer):
    """What happened to each peer over time, for one Config."""

    def __init__(self, n: int, seed: int, enabled: bool | None = None) -> None:
        self.mode = mode()
        # Simulated, the sampler's reads of each peer are scheduled like any thread's,
        # so it records whatever the mode: a run is the same whether its page is
        # written or not, and explore's runs (RAFTLAB_TIMELINE=off) replay as printed.
        recording = self.mode != "off" or runtime.simulating()
        self.enabled = recording if enabled is None else enabled
        self.n = n
        self.seed = seed
        self.test = _current_test()
        self.description = ""
        self.sampling = "none"
        self.sampled_by_peers = False  # sealed: each host samples its peer as it acts
        self.path: Path | None = None
        self._mu = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self._dropped = 0
        # Per peer: closed segments [from_ms, to_ms, role, term], and the open one.
        self._segments: list[list[list[Any]]] = [[] for _ in range(n)]
        self._open: list[list[Any] | None] = [None] * n
        self._disconnected: list[list[list[float]]] = [[] for _ in range(n)]
        self._disc_since: list[float | None] = [0.0] * n  # peers start unconnected
        self._started = [False] * n
        self._failures = 0
        self._finished = False
        # The debug stream is optional: a student's raft/ may not have it.
        self._debug = labdebug.module()
        if self._debug is not None:
            self._debug.restart_clock()
        self._t0 = time.monotonic()

    def now(self) -> float:
        """Milliseconds since the Config was made (the debug stream's clock too)."""
        return self._ms(time.monotonic())

    def _ms(self, at: float) -> float:
        """time.monotonic() at, on the timeline's clock."""
        return round((at - self._t0) * 1000, 1)

    # -- events ---------------------------------------------------------------

    def event(self, kind: str, peer: int | None = None, text: str = "") -> None:
        """Record one event (kind from KINDS) and write it to the debug stream."""
        debug = self._debug
        if debug is not None and debug.enabled(debug.dTest):
            debug.DPrintf(debug.dTest, peer, None, "%s", f"{kind} {text}".rstrip())
        if not self.enabled:
            return
        with self._mu:
            t = self.now()  # under the lock, so events stay in time order
            if len(self._events) >= MAX_EVENTS:
                self._dropped += 1
                return
            self._events.append({"t": t, "kind": kind, "peer": peer, "text": text})

    def on_connect(self, server: int, connected: bool) -> None:
        """Recorded only when it changes; a lane is drawn cut off until its first connect."""
        with self._mu:
            since = self._disc_since[server]
            if (since is None) == connected:
                return
            if since is None:
                self._disc_since[server] = self.now()
            else:
                self._disconnected[server].append([since, self.now()])
                self._disc_since[server] = None
        self.event("connect" if connected else "disconnect", server)

    def on_crash(self, peer: Peer) -> None:
        self.event("crash", peer.server, "Kill()")
        self._observe(peer.server, "down", None)

    def on_make(self, peer: Peer) -> None:
        """Sample the new peer at once, so its lane starts when it does."""
        i = peer.server
        first = not self._started[i]
        self._started[i] = True
        self.event("restart", i, "Make()" if first else "Make() after a crash")
        if self.enabled:
            self._sample_one(i, peer)

    def on_start(
        self, peer: Peer, started_at: float, command: Any, index: int, term: int, is_leader: bool
    ) -> None:
        if is_leader:
            self.event("start", peer.server, f"Start({_short(command)}) -> index {index}, T{term}")

    def on_apply(self, server: int, index: int, command: Any) -> None:
        self.event("commit", server, f"applied index {index}: {_short(command)}")

    def on_check(self, text: str) -> None:
        """One of the test's checks passed."""
        self.event("check", None, text)

    def on_agree(self, command: Any, index: int, servers: int) -> None:
        self.on_check(f"one({_short(command)}): index {index} committed on {servers}")

    def on_fail(self, message: str) -> None:
        """The test failed here (cfg.fatalf, or a failure in a tester thread)."""
        self._failures += 1
        self.event("fail", None, message)

    def on_note(self, text: str) -> None:
        self.event("note", None, text)

    def on_begin(self, description: str) -> None:
        self.description = description
        self.on_note(f"begin: {description}")

    # -- sampling -------------------------------------------------------------

    def run(self, rafts: Sequence[Peer | None], stop: threading.Event) -> None:
        """The sampler: every SAMPLE_INTERVAL, each peer's role and term, until stop.
        Peers that sample themselves are collected every COLLECT_INTERVAL, and once
        more at stop, which asks nothing of their Rafts."""
        if not self.enabled:
            return
        while True:
            peers = list(rafts)
            self_sampling = all(p is None or isinstance(p.raft, SelfSampling) for p in peers)
            self.sampled_by_peers = self_sampling
            stopped = stop.wait(COLLECT_INTERVAL if self_sampling else SAMPLE_INTERVAL)
            if stopped and not self_sampling:
                return  # an in-process Raft is not asked again once the test ends
            for i, peer in enumerate(peers):
                if peer is None:
                    self._observe(i, "down", None)
                else:
                    self._sample_one(i, peer)
            if stopped:
                return

    def _sample_one(self, i: int, peer: Peer) -> None:
        for sample in peer.samples():
            self.sampling = sample.how
            self._observe(i, sample.role, sample.term, sample.at)

    def _observe(self, i: int, role: str, term: int | None, at: float | None = None) -> None:
        """Peer i's role and term as seen at time.monotonic() at (else now); a sight
        older than the lane's last change (a sample taken before a crash, collected
        after it) is dropped."""
        if not self.enabled:
            return
        with self._mu:
            t = self.now() if at is None else self._ms(at)
            if self._finished:
                return
            cur = self._open[i]
            if cur is not None and t < cur[0]:
                return
            if cur is not None and cur[2] == role and cur[3] == term:
                return
            if cur is not None:
                cur[1] = t
                self._segments[i].append(cur)
            self._open[i] = [t, None, role, term]

    # -- output ---------------------------------------------------------------

    def data(self, failed: bool, reason: str) -> dict[str, Any]:
        """Everything the page draws, as JSON-ready data; closes the open segments."""
        end = self.now()
        with self._mu:
            self._finished = True
            lanes = []
            for i in range(self.n):
                segments = list(self._segments[i])
                cur = self._open[i]
                if cur is not None:
                    segments.append([cur[0], end, cur[2], cur[3]])
                disconnected = list(self._disconnected[i])
                since = self._disc_since[i]
                if since is not None:
                    disconnected.append([since, end])
                lanes.append({"peer": i, "segments": segments, "disconnected": disconnected})
            events = list(self._events)
        return {
            "test": self.test,
            "description": self.description,
            "seed": self.seed,
            "failed": failed,
            "reason": reason,
            "duration": end,
            "sampling": self.sampling,
            "interval_ms": SAMPLE_INTERVAL * 1000,
            "sampled_by_peers": self.sampled_by_peers,
            "lanes": lanes,
            "events": events,
            "dropped": self._dropped,
        }

    def on_cleanup(self, failed: bool, failures: Sequence[BaseException | None]) -> None:
        """Write the page if the test failed (or always) to self.path, and say where."""
        if not self.enabled or self.path is not None or self._finished:
            return
        if self.mode == "off" or (not failed and self.mode != "always"):
            with self._mu:
                self._finished = True
            return
        reason = next((_reason(f) for f in failures if f is not None), "")
        if failed and not self._failures:
            self.on_fail(reason or "test failed")
        data = self.data(failed, reason)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.test).strip("-") or "raft"
        path = output_dir() / f"{name}-{self.seed}.html"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(data), encoding="utf-8")
        except OSError as e:
            transcript.log(f"timeline: cannot write {path}: {e}")
            return
        self.path = path
        shown = _relative(path)
        if transcript.collecting():
            transcript.note_timeline(shown)
        else:
            transcript.log(f"timeline: {shown}")


def render(data: dict[str, Any]) -> str:
    """The self-contained page for data (from Timeline.data)."""
    template = _TEMPLATE.read_text(encoding="utf-8")
    # No "<" at all inside the script element: neither "</script>" nor "<!--" can end it early.
    payload = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    title = f"{data.get('test', 'raft')} seed {data.get('seed')}"
    return template.replace("__TITLE__", html.escape(title)).replace("__DATA__", payload)


def _reason(failure: BaseException) -> str:
    text = str(failure) or type(failure).__name__
    return text.splitlines()[0] if text else type(failure).__name__


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _relative(path: Path) -> str:
    """path relative to the working directory when it lies inside it, else absolute."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(Path.cwd()))
    except ValueError:
        return str(resolved)
