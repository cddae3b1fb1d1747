"""The Gradescope autograder: grading one submission per container.

    python -m grade.gradescope build [--parts 3A] [--runs 3]   make autograder: dist/autograder.zip
    python -m grade.gradescope run [--root /autograder]        what run_autograder calls

Gradescope's contract (gradescope-autograders.readthedocs.io, "Autograder
Specifications"): the zip's setup.sh installs what the autograder needs, once,
when the image is built; run_autograder runs for each submission with the
zip's contents in /autograder/source and the student's upload in
/autograder/submission, and must write /autograder/results/results.json.
Here it grades with the same code as `make grade` (grader.grade_one), against
the pristine handout the zip carries.  RAFTLAB_AUTOGRADER_ROOT moves /autograder,
so a test can run the whole thing locally.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

from grade import archive, grader, sandbox
from grade.points import LabTest, PointsError, lab_tests
from grade.pristine import HandoutError, Pristine
from grade.runner import Limits, command_to_repeat

GRADE = Path(__file__).resolve().parent
REPO = GRADE.parent
ROOT_ENV = "RAFTLAB_AUTOGRADER_ROOT"
SETTINGS = "autograder.json"
VISIBILITY = ("hidden", "after_due_date", "after_published", "visible")
# What the children need besides the standard library: the handout's test runner.
REQUIREMENTS = ("pytest", "pytest-timeout", "rich")
MAX_TEST_OUTPUT = 6000  # characters of a test's output shown to the student

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
apt-get install -y -qq python3 python3-venv python3-pip bubblewrap >/dev/null
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet -r /autograder/source/requirements.txt
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission.  RAFTLAB_AUTOGRADER_ROOT moves
# /autograder (the repository's tests run it that way).
set -euo pipefail
root="${RAFTLAB_AUTOGRADER_ROOT:-/autograder}"
cd "$root/source"
exec "$root/venv/bin/python" -m grade.gradescope run --root "$root"
"""


def build(
    out: Path, handout: Path, parts: list[str] | None, runs: int, visibility: str,
    sealed: bool = True,
) -> Path:  # fmt: skip
    """Write out/autograder.zip: setup.sh, run_autograder, grade/, the pristine
    handout (pristine/), the settings and the requirements. sealed: each run's
    peers in processes (and sandboxes) of their own, the test process outside them
    (runner.Limits.sealed); else the whole run in one sandboxed process."""
    pristine = Pristine(handout)  # checks it, and that the parts have tests
    lab_tests(pristine.lab_tests, parts)
    if visibility not in VISIBILITY:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITY)}, not {visibility!r}")
    settings = {"parts": parts, "runs": runs, "visibility": visibility, "sealed": sealed}
    out.mkdir(parents=True, exist_ok=True)
    path = out / "autograder.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        _add(z, "setup.sh", SETUP_SH, executable=True)
        _add(z, "run_autograder", RUN_AUTOGRADER, executable=True)
        _add(z, SETTINGS, json.dumps(settings, indent=1) + "\n")
        _add(z, "requirements.txt", "".join(f"{r}=={metadata.version(r)}\n" for r in REQUIREMENTS))
        for name in ("manifest.json", "pristine.tar.gz"):
            z.write(handout / name, f"pristine/{name}")
        for file in sorted(GRADE.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                z.write(file, f"grade/{file.relative_to(GRADE).as_posix()}")
    return path


def _add(z: zipfile.ZipFile, name: str, text: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, text)


def run(root: Path) -> dict[str, Any]:
    """Grade root/submission; write and return root/results/results.json's content."""
    started = time.monotonic()
    source = root / "source"
    results_path = root / "results" / "results.json"
    results_path.parent.mkdir(parents=True, exist_ok=True)
    # Only the grader writes here: a run (uid NOBODY, or a sandbox without this path)
    # can neither write results.json nor put one in its place first.
    os.chmod(results_path.parent, 0o755)
    settings = json.loads((source / SETTINGS).read_text())
    try:
        pristine = Pristine(source / "pristine")
        tests = lab_tests(pristine.lab_tests, settings["parts"])
        sealed = settings.get("sealed", True) is not False  # a zip from before: sealed
        result = _grade(root / "submission", pristine, tests, int(settings["runs"]), sealed)
        results = _results(result, settings["visibility"])
    except (HandoutError, PointsError) as e:  # the autograder's own fault: say so
        results = {"score": 0.0, "output": f"The autograder is broken, not your code: {e}",
                   "visibility": settings["visibility"], "tests": []}  # fmt: skip
    results["execution_time"] = round(time.monotonic() - started)
    # Every process of every run is gone by now (runner: PID namespace, cgroup or uid
    # sweep); a fresh file is renamed over whatever is at the path.
    temporary = results_path.with_name(f".results-{os.getpid()}.json")
    temporary.write_text(json.dumps(results, indent=1) + "\n")
    os.replace(temporary, results_path)
    return results


def _grade(
    folder: Path, pristine: Pristine, tests: list[LabTest], runs: int, sealed: bool = True
) -> grader.Result:
    """Gradescope puts the upload in folder: an archive (graded like make grade's),
    or loose files (a zip it unpacked, or raft.py alone)."""
    entries = sorted(folder.iterdir()) if folder.is_dir() else []
    archives = [p for p in entries if archive.is_archive(p) and not p.is_symlink()]
    loose_raft = folder / "raft.py"
    with tempfile.TemporaryDirectory(prefix="raftlab-autograder-") as tmp:
        if len(archives) == 1:
            submission = grader.Submission(archives[0], "submission")
        elif loose_raft.is_file() and not loose_raft.is_symlink():
            wrapped = Path(tmp) / "upload"
            (wrapped / "raft").mkdir(parents=True)
            shutil.copyfile(loose_raft, wrapped / "raft" / "raft.py")
            submission = grader.Submission(wrapped, "submission")
        else:
            submission = grader.Submission(folder, "submission")
        # One submission a container, its runs one at a time: where no sandbox can be
        # had (a container that refuses namespaces), runs drop to uid NOBODY and what
        # they leave behind is swept by uid; the staff's entry says which it was.
        isolation = sandbox.detect()
        limits = Limits(isolation=isolation, sweep_uid=not isolation.sandboxed, sealed=sealed)
        result = grader.grade_one(submission, pristine, tests, runs, limits)
    if result.flags:  # for the staff: stdout is theirs, the results' output is the student's
        print("FLAGGED FOR REVIEW:\n  " + "\n  ".join(result.flags))
    return result


def _results(result: grader.Result, visibility: str) -> dict[str, Any]:
    runs = result.runs_per_test
    tests = []
    for number, t in enumerate(result.tests, start=1):
        k = result.passed(t)
        if result.refused:
            output = "not run: the submission was refused (see the top of this page)"
        else:
            output = f"{k} of {runs} runs passed; the points count only if every run passed.\n"
            for r in result.runs.get(t.node_id, []):
                if not r.ran:
                    output += f"\nrun {r.number}: {r.reason}\n"
                elif not r.passed:
                    output += (
                        f"\nrun {r.number}: {r.reason}\n  repeat it in your handout: "
                        f"{command_to_repeat(r.test, r.seed)}\n"
                    )
                    if r.failure:
                        output += "\n" + r.failure[-MAX_TEST_OUTPUT // runs :] + "\n"
        tests.append({
            "name": f"{t.name} ({t.part})",
            "number": str(number),
            "score": round(result.earned(t), 2),
            "max_score": round(t.points, 2),
            "status": "passed" if result.earned(t) == t.points else "failed",
            "output": output[:MAX_TEST_OUTPUT],
            "visibility": visibility,
        })  # fmt: skip
    if result.flags:  # a hidden test is shown to the staff only
        tests.append({
            "name": "FLAGGED FOR REVIEW (staff only)",
            "score": 0.0,
            "max_score": 0.0,
            "output": "\n".join(
                ["For review:", *result.flags, "", f"the runs' {result.isolation}"]
            ),
            "visibility": "hidden",
        })  # fmt: skip
    times = "once" if runs == 1 else f"{runs} times"
    summary = (
        f"Not graded, through a fault of the grader's, not your code: {result.refused}"
        if result.grader_failed
        else f"Refused: {result.refused}" if result.refused
        else f"Score {result.score:g} of {result.max_score:g}: each test ran {times}."
    )  # fmt: skip
    return {
        "score": result.score,
        "output": summary,
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "extra_data": {
            "flags": result.flags, "refused": result.refused, "isolation": result.isolation,
        },
        "tests": tests,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grade.gradescope", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("build", help="write dist/autograder.zip")
    b.add_argument("--out", type=Path, default=REPO / "dist")
    b.add_argument("--handout", type=Path, default=REPO / "dist" / "project3" / ".handout")
    b.add_argument("--parts", nargs="*", default=None)
    b.add_argument("--runs", type=int, default=3)
    b.add_argument("--visibility", default="visible", choices=VISIBILITY)
    b.add_argument(
        "--in-process", action="store_true",
        help="grade each run in one sandboxed process, not sealed (make autograder SEALED=0)",
    )  # fmt: skip
    b.add_argument(
        "--allow-changed", action="store_true",
        help="build even from files that differ from git's HEAD (make autograder CHANGED=1)",
    )  # fmt: skip
    r = commands.add_parser("run", help="grade ROOT/submission (Gradescope's run_autograder)")
    r.add_argument("--root", type=Path, default=Path(os.environ.get(ROOT_ENV, "/autograder")))
    args = parser.parse_args(argv)
    if args.command == "build":
        from handout.build import differs_from_git  # the repository's; the zip has no handout/

        changed = differs_from_git()
        if changed and not args.allow_changed:
            print(
                "autograder: refusing to build: these files differ from git's HEAD, and the "
                f"zip would grade every student with them: {', '.join(changed[:8])}"
                f"{' ...' if len(changed) > 8 else ''}. Commit or revert them (or build "
                "anyway with make autograder CHANGED=1)",
                file=sys.stderr,
            )
            return 2
        try:
            parts = [p.upper() for p in args.parts] if args.parts else None
            path = build(
                args.out, args.handout, parts, args.runs, args.visibility, not args.in_process
            )
        except (HandoutError, PointsError, ValueError) as e:
            print(e, file=sys.stderr)
            return 2
        print(f"autograder: wrote {path} (upload it in Gradescope's autograder settings)")
        return 0
    results = run(args.root)
    print(f"autograder: score {results['score']}; wrote {args.root / 'results' / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
