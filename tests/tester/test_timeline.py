"""harness/timeline.py: a failing test writes a timeline page (always, when asked) whose
lanes and events are all there, and a real browser draws every one of them."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness import timeline
from harness.observe import Peer, Sample, SelfSampling

from tools import browser

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / ".raftlab" / "artifacts"

SCENARIO = """
from harness.config import make_config

def test_Scenario():
    with make_config(3, False) as cfg:
        cfg.begin("Test: scenario")
        leader = cfg.checkOneLeader()
        cfg.one(101, 3, True)
        other = (leader + 1) % 3
        cfg.disconnect(other)
        cfg.one(102, 2, True)
        cfg.connect(other)
        cfg.crash1(other)
        cfg.start1(other, cfg.applier)
        cfg.connect(other)
        cfg.one(103, 3, True)
        cfg.fatalf("scenario over")

def test_Passes():
    with make_config(3, False) as cfg:
        cfg.begin("Test: passes")
        cfg.checkOneLeader()
        cfg.end()
"""


@dataclass
class Run:
    output: str
    pages: list[Path]


def run_lab(folder: Path, out: Path, *args: str, mode: str | None = None) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAFTLAB_", "PYTEST_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests"), str(REPO)])
    env["RAFTLAB_TIMELINE_DIR"] = str(out)
    if mode is not None:
        env["RAFTLAB_TIMELINE"] = mode
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(folder), *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return Run(done.stdout + done.stderr, sorted(out.glob("*.html")) if out.exists() else [])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lab")
    (folder / "conftest.py").write_text('pytest_plugins = ["harness.plugin"]\n')
    (folder / "test_lab.py").write_text(SCENARIO)
    return folder


@pytest.fixture(scope="module")
def failed_run(lab: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Both lab tests, default mode: the failing one leaves a page, the passing one none."""
    return run_lab(lab, tmp_path_factory.mktemp("timelines"))


def page_data(page: Path) -> dict[str, Any]:
    text = page.read_text()
    m = re.search(r'<script type="application/json" id="timeline-data">(.*?)</script>', text, re.S)
    assert m, "no data in the page"
    data: dict[str, Any] = json.loads(m[1])
    return data


def test_written_on_failure_and_path_printed(failed_run: Run) -> None:
    out = failed_run.output
    assert len(failed_run.pages) == 1, out  # only the failing test wrote one
    page = failed_run.pages[0]
    assert page.name.startswith("test_Scenario-")
    seed = re.search(r"RAFTLAB_SEED=(\d+) repeats", out)
    assert seed, out
    assert page.name == f"test_Scenario-{seed[1]}.html"
    # Go-style failure lines, then the raftlab section of pytest's report, both name the page.
    fail_block = out[out.index("--- FAIL: test_Scenario") :]
    assert f"    timeline: {page}" in fail_block.splitlines()[:5], fail_block[:600]
    assert f"timeline: {page}" in out[out.index("raftlab") :]
    assert "1 failed, 1 passed" in out


def test_page_holds_every_lane_and_event(failed_run: Run) -> None:
    data = page_data(failed_run.pages[0])
    assert data["test"] == "test_Scenario"
    assert data["description"] == "Test: scenario"
    assert data["failed"] is True and data["reason"] == "scenario over"
    assert data["sampling"] == "inspect()"
    assert data["sampled_by_peers"] is False
    assert [lane["peer"] for lane in data["lanes"]] == [0, 1, 2]
    events = data["events"]
    assert {e["kind"] for e in events} == set(timeline.KINDS)
    assert [e["t"] for e in events] == sorted(e["t"] for e in events)
    crashed = next(e["peer"] for e in events if e["kind"] == "crash")
    roles = {lane["peer"]: {s[2] for s in lane["segments"]} for lane in data["lanes"]}
    assert any("leader" in r for r in roles.values())
    assert "down" in roles[crashed]
    for lane in data["lanes"]:
        starts = [s[0] for s in lane["segments"]]
        assert starts == sorted(starts) and lane["segments"][-1][1] == data["duration"]
        assert all(s[2] != "leader" or s[3] >= 1 for s in lane["segments"])
    cut_off = data["lanes"][crashed]["disconnected"]
    assert len(cut_off) >= 3  # before the first connect, the partition, and the crash
    commits = {(e["peer"], e["text"].split(":")[0]) for e in events if e["kind"] == "commit"}
    for peer in range(3):
        assert (peer, "applied index 3") in commits
    starts = [e["text"] for e in events if e["kind"] == "start"]
    assert any(t.startswith("Start(101) -> index 1") for t in starts), starts
    checks = [e["text"] for e in events if e["kind"] == "check"]
    assert any(t.startswith("checkOneLeader: S") for t in checks)
    assert any(t.startswith("one(103): index 3") for t in checks)
    fails = [e for e in events if e["kind"] == "fail"]
    assert [e["text"] for e in fails] == ["scenario over"]
    assert events[-1]["kind"] == "fail"


def test_written_always_when_asked(lab: Path, tmp_path: Path) -> None:
    run = run_lab(lab, tmp_path / "out", "-k", "Passes", mode="always")
    assert "1 passed" in run.output, run.output
    assert [p.name.split("-")[0] for p in run.pages] == ["test_Passes"]
    shown = f"    timeline: {run.pages[0]}"  # pytest may append its "[100%]" to the line
    assert any(line.startswith(shown) for line in run.output.splitlines()), run.output
    data = page_data(run.pages[0])
    assert data["failed"] is False and data["events"][-1]["text"] == "Passed"


def test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    for value, expected in (("", "fail"), ("always", "always"), ("1", "always"), ("off", "off")):
        monkeypatch.setenv("RAFTLAB_TIMELINE", value)
        assert timeline.mode() == expected
    monkeypatch.setenv("RAFTLAB_TIMELINE", "sometimes")
    with pytest.raises(ValueError, match="RAFTLAB_TIMELINE"):
        timeline.mode()


def test_render_keeps_the_data_intact() -> None:
    hostile = "</script><!--<script>alert(1)</script> & <b>"
    data = {
        "test": "t",
        "seed": 1,
        "events": [{"t": 0, "kind": "note", "peer": None, "text": hostile}],
    }
    page = timeline.render(data)
    assert page.count("</script>") == 2  # the template's two, none from the data
    m = re.search(r'id="timeline-data">(.*?)</script>', page, re.S)
    assert m and json.loads(m[1]) == data
    assert "<" not in m[1]  # so nothing in the data can end or disturb the script element
    assert "https://" not in page and "http://" not in page.replace("http://www.w3.org", "")


class Fake:
    """A peer with GetState() only, or also inspect(), whose role the test sets."""

    def __init__(self, role: str, term: int) -> None:
        self.role, self.term = role, term

    def GetState(self) -> tuple[int, bool]:
        return self.term, self.role == "leader"


class Inspectable(Fake):
    def inspect(self) -> dict[str, Any]:
        return {"term": self.term, "role": self.role, "log": [], "commit_index": 0}


def test_sampler_reads_inspect_or_falls_back_to_getstate() -> None:
    tl = timeline.Timeline(3, seed=5, enabled=True)
    a, b = Inspectable("follower", 1), Fake("candidate", 1)
    peers: list[Peer | None] = [Peer(a, 0, [tl]), Peer(b, 1, [tl]), None]  # as cfg.rafts
    stop = threading.Event()
    sampler = threading.Thread(target=tl.run, args=(peers, stop), name="tester-timeline-unit")
    sampler.start()
    try:
        time.sleep(0.15)
        a.role, a.term = "candidate", 2
        b.role, b.term = "leader", 2
        time.sleep(0.15)
        a.role = "leader"
        time.sleep(0.15)
    finally:
        stop.set()
        sampler.join()
    data = tl.data(False, "")
    lanes = [[(s[2], s[3]) for s in lane["segments"]] for lane in data["lanes"]]
    assert lanes[0] == [("follower", 1), ("candidate", 2), ("leader", 2)]
    assert lanes[1] == [("not leader", 1), ("leader", 2)]  # GetState() tells no candidate apart
    assert lanes[2] == [("down", None)]
    assert data["sampling"] == "GetState()"  # the last peer sampled had no inspect()


class SamplesItself(SelfSampling):
    """A sealed peer's handle, fed by hand: its samples() are the ones put in taken."""

    def __init__(self) -> None:
        self.taken: list[Sample] = []
        self.mu = threading.Lock()

    def samples(self) -> list[Sample]:
        with self.mu:
            taken, self.taken = self.taken, []
        return taken

    def put(self, at: float, role: str, term: int) -> None:
        with self.mu:
            self.taken.append(Sample(at, "inspect()", role, term, term, role == "leader"))

    def inspections(self) -> None:
        return None


def test_samples_a_peer_took_itself_are_drawn_at_the_times_it_took_them() -> None:
    """A sealed peer's samples come collected every COLLECT_INTERVAL: each is drawn
    when it was taken, a change that lasted less than the interval included; one
    taken before a crash and collected after it is dropped; and the last ones are
    collected when the sampler stops."""
    tl = timeline.Timeline(1, seed=5, enabled=True)
    handle = SamplesItself()
    peers: list[Peer | None] = [Peer(handle, 0, [tl])]
    t0 = tl._t0
    stop = threading.Event()
    sampler = threading.Thread(target=tl.run, args=(peers, stop), name="tester-timeline-unit")
    sampler.start()
    try:
        handle.put(t0 + 0.010, "follower", 1)
        handle.put(t0 + 0.040, "candidate", 2)  # for 5 ms: between two collections
        handle.put(t0 + 0.045, "leader", 2)
        time.sleep(timeline.COLLECT_INTERVAL * 2)
        late = time.monotonic()
        tl.on_crash(peers[0])  # type: ignore[arg-type]
        handle.put(late - 0.001, "follower", 3)  # before the crash, collected after it
        time.sleep(timeline.COLLECT_INTERVAL * 2)
        handle.put(time.monotonic(), "follower", 4)  # after it: a restart's first sample
    finally:
        stop.set()
        sampler.join()
    segments = tl.data(False, "")["lanes"][0]["segments"]
    assert [(s[2], s[3]) for s in segments] == [
        ("follower", 1), ("candidate", 2), ("leader", 2), ("down", None), ("follower", 4)
    ]  # fmt: skip
    assert [s[0] for s in segments[:3]] == [10.0, 40.0, 45.0]
    assert segments[1][1] == 45.0
    assert tl.data(False, "")["sampled_by_peers"] is True  # the page says how it was sampled


@pytest.fixture(scope="module")
def chromium() -> str:
    path, why = browser.find_chromium()
    if path is None:
        pytest.fail(f"no browser for the timeline check: {why}", pytrace=False)
    return path


@pytest.mark.browser
def test_browser_draws_every_lane_and_event(failed_run: Run, chromium: str) -> None:
    page = failed_run.pages[0]
    data = page_data(page)
    summary = browser.rendered(chromium, page, width=1400, height=900)
    assert summary["lanes"] == ["tester", "0", "1", "2"]
    assert summary["events"] == len(data["events"])
    assert summary["missing"] == []
    assert summary["events_drawn"] == len(data["events"])
    assert set(summary["by_kind"]) == set(timeline.KINDS)
    segments = sum(len(lane["segments"]) for lane in data["lanes"])
    assert summary["segments"] == summary["segments_expected"] == segments
    dom = summary["dom"]
    drawn = set(map(int, re.findall(r'data-ev="(\d+)"', dom)))
    assert drawn == set(range(len(data["events"])))
    assert len(re.findall(r'<[^>]*data-ev="\d+"[^>]*data-tip="[^"]+', dom)) == len(drawn)  # hover
    assert f"RAFTLAB_SEED={data['seed']}" in dom and "FAILED" in dom

    shot = browser.screenshot(chromium, page, ARTIFACTS / "timeline.png", width=1400, height=900)
    head = shot.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", head[16:24]) == (1400, 900)
    assert shot.stat().st_size > 20_000  # a drawing, not a blank page
