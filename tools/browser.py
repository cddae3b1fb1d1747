"""Open a timeline page in headless Chromium: what it drew, and a screenshot.

    .venv/bin/python -m tools.browser .raftlab/timelines/test_X-123.html [--screenshot out.png]

prints the page's render summary (lanes, events drawn, events missing), which
the page's script writes into the DOM once it has drawn; exits 1 if any lane
or event is missing. tests/tester/test_timeline.py runs the same check. Chromium is
Debian's (`apt-get install chromium`); find_chromium(install=True) installs
it when it is missing and this process may (root, apt-get present).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
_SUMMARY = re.compile(r'<pre id="render-summary"[^>]*>(.*?)</pre>', re.S)


class BrowserError(RuntimeError):
    pass


def find_chromium(install: bool = False) -> tuple[str | None, str]:
    """(path to chromium or None, why not). RAFTLAB_CHROMIUM names one explicitly."""
    explicit = os.environ.get("RAFTLAB_CHROMIUM")
    if explicit:
        found = shutil.which(explicit)
        return (found, "") if found else (None, f"RAFTLAB_CHROMIUM={explicit} not found")
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found, ""
    if not install:
        return None, "chromium is not installed (apt-get install chromium)"
    apt = shutil.which("apt-get")
    if apt is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None, "chromium is not installed and cannot be (needs root and apt-get)"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print("installing Debian's chromium (apt-get install chromium) ...", file=sys.stderr)
    for cmd in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return None, f"installing chromium failed: {' '.join(cmd)}: {' / '.join(tail)}"
    found = shutil.which("chromium")
    return (found, "") if found else (None, "apt-get installed chromium but it is not on PATH")


def run(chromium: str, page: Path, *extra: str, timeout: float = 120) -> str:
    """Run headless chromium on page with extra flags, in a fresh profile; its stdout."""
    with tempfile.TemporaryDirectory(prefix="raftlab-chromium-") as profile:
        cmd = [chromium, *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise BrowserError(f"chromium did not finish within {timeout:.0f}s") from e
    if done.returncode != 0:
        raise BrowserError(f"chromium exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return done.stdout


def rendered(chromium: str, page: Path, width: int = 1400, height: int = 900) -> dict[str, Any]:
    """The page's render summary once its script ran (chromium --dump-dom)."""
    dom = run(chromium, page, f"--window-size={width},{height}", "--dump-dom")
    m = _SUMMARY.search(dom)
    if m is None or not m.group(1).strip():
        raise BrowserError("the page wrote no render summary (did its script fail?)")
    summary: dict[str, Any] = json.loads(_unescape(m.group(1)))
    summary["dom"] = dom
    return summary


def screenshot(chromium: str, page: Path, out: Path, width: int = 1400, height: int = 900) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    run(chromium, page, f"--window-size={width},{height}", f"--screenshot={out.resolve()}")
    if not out.exists():
        raise BrowserError(f"chromium wrote no screenshot to {out}")
    return out


def _unescape(text: str) -> str:
    return (
        text.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=".venv/bin/python -m tools.browser", description=__doc__)
    parser.add_argument("page", type=Path, help="a timeline page (.html)")
    parser.add_argument("--screenshot", type=Path, default=None, help="write a PNG here")
    parser.add_argument(
        "--install", action="store_true", help="apt-get install chromium if missing"
    )
    args = parser.parse_args(argv)
    chromium, why = find_chromium(install=args.install)
    if chromium is None:
        print(why, file=sys.stderr)
        return 2
    summary = rendered(chromium, args.page)
    summary.pop("dom")
    print(json.dumps(summary, indent=1))
    if args.screenshot is not None:
        print(f"screenshot: {screenshot(chromium, args.page, args.screenshot)}")
    complete = not summary["missing"] and summary["events_drawn"] == summary["events"]
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
