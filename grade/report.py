"""What grading leaves behind: grades.csv, ignored.csv, a report per submission
in submissions/ (where no name can collide with the grader's own files), the
kept output of every failed run, and the summary table on the terminal.

Every CSV cell that a spreadsheet would read as a formula (one that starts with
=, +, -, @, a tab or a carriage return) is escaped with a leading quote: an
archive's name is the submitter's to choose.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from grade.grader import Ignored, Result, grader_error
from grade.points import LabTest
from grade.runner import Run, command_to_repeat

SUBMISSIONS = "submissions"  # out/submissions/<folder>/: one per submission
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def write_all(
    out: Path, results: list[Result], tests: list[LabTest], ignored: Sequence[Ignored] = ()
) -> Path:
    """Write out/submissions/<folder>/..., then out/grades.csv and out/ignored.csv;
    returns grades.csv's path.  A submission whose report cannot be written
    becomes a grader error in grades.csv; the others are written."""
    out.mkdir(parents=True, exist_ok=True)
    for r in results:
        try:
            write_submission(out / SUBMISSIONS / r.submission.folder, r)
        except Exception as e:
            r.refused = grader_error(e)
    csv_path = out / "grades.csv"
    with open(csv_path, "w", newline="", encoding="utf-8", errors="backslashreplace") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["name", "archive", "score", "max_score", *(t.name for t in tests), "flags", "refused"]
        )
        for r in results:
            writer.writerow(map(csv_cell, [
                r.submission.name, r.submission.path.name, f"{r.score:g}", f"{r.max_score:g}",
                *(("" if r.refused else f"{r.passed(t)}/{r.runs_per_test}") for t in tests),
                " | ".join(r.flags), r.refused,
            ]))  # fmt: skip
    with open(
        out / "ignored.csv", "w", newline="", encoding="utf-8", errors="backslashreplace"
    ) as f:
        writer = csv.writer(f)
        writer.writerow(["file", "why"])
        for entry in ignored:
            writer.writerow([csv_cell(entry.file), csv_cell(entry.why)])
    return csv_path


def csv_cell(value: str) -> str:
    """value, with a quote before it if a spreadsheet would take it for a formula."""
    return "'" + value if value.startswith(_FORMULA) else value


def write_submission(folder: Path, result: Result) -> None:
    """folder/report.txt, folder/raft.py (what was graded), folder/failed/..."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.txt").write_text(
        text_report(result), encoding="utf-8", errors="backslashreplace"
    )
    if result.raft_source:
        (folder / "raft.py").write_bytes(result.raft_source)
    for runs in result.runs.values():
        for run in runs:
            if run.ran and not run.passed:
                _write_failed(folder / "failed", run)


def text_report(result: Result) -> str:
    sub = result.submission
    lines = [f"raftlab grade: {sub.name} ({sub.path.name})"]
    lines += [f"the runs' {result.isolation}" if result.isolation else "", ""]
    if result.flags:
        lines += ["FLAGGED FOR REVIEW: the score below is as graded; a person should read these:"]
        lines += [f"  {flag}" for flag in result.flags] + [""]
    if result.refused:
        what = "NOT GRADED" if result.grader_failed else "REFUSED"
        lines += [f"{what}: {result.refused}", "", f"score: 0 of {result.max_score:g}"]
        return "\n".join(lines) + "\n"
    lines.append(f"score: {result.score:g} of {result.max_score:g}")
    times = "once" if result.runs_per_test == 1 else f"{result.runs_per_test} times"
    lines.append(f"each test ran {times}; its points count only if every run passed")
    lines.append("")
    width = max(len(t.name) for t in result.tests)
    for t in result.tests:
        k = result.passed(t)
        lines.append(
            f"  {t.name:<{width}}  {k} of {result.runs_per_test} runs passed  "
            f"{result.earned(t):6.2f} / {t.points:.2f}"
        )
        for run in result.runs.get(t.node_id, []):
            if not run.ran:
                lines.append(f"      run {run.number}: {run.reason}")
            elif not run.passed:
                lines.append(
                    f"      run {run.number}: {run.reason} (seed {run.seed}; "
                    f"failed/{_failed_name(run)}.txt)"
                )
    return "\n".join(lines) + "\n"


def _failed_name(run: Run) -> str:
    return f"{run.test.name}-run{run.number}"


def _write_failed(folder: Path, run: Run) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    base = _failed_name(run)
    parts = [
        f"{run.test.node_id}, run {run.number}: FAILED after {run.seconds:.1f} s",
        f"why: {run.reason}",
        f"seed: {run.seed}",
        "to repeat it, in a handout with this submission's raft.py (raft.py beside this folder):",
        f"  {command_to_repeat(run.test, run.seed)}",
    ]
    for name in run.files:
        parts.append(f"kept: {base}-{name}")
        (folder / f"{base}-{name}").write_bytes(run.files[name])
    if run.failure:
        parts += ["", "--- pytest's report of the failure ---", run.failure.rstrip()]
    parts += ["", "--- the run's output (its end) ---", run.output.rstrip(), ""]
    (folder / f"{base}.txt").write_text(
        "\n".join(parts), encoding="utf-8", errors="backslashreplace"
    )


def summary_table(results: list[Result], tests: list[LabTest]) -> Table:
    """One row per submission: each test's passed runs, or with many tests, each
    part's fully passed tests (the CSV and the reports have every test)."""
    table = Table(title="raftlab grades", title_justify="left")
    table.add_column("submission")
    table.add_column("score", justify="right")
    parts = sorted({t.part for t in tests})
    per_test = len(tests) <= 8
    for column in [t.name for t in tests] if per_test else [f"{p} tests" for p in parts]:
        table.add_column(column, justify="center")
    table.add_column("notes")
    for r in results:
        if r.refused:
            cells = ["-"] * (len(tests) if per_test else len(parts))
        elif per_test:
            cells = [_cell(r.passed(t), r.runs_per_test) for t in tests]
        else:
            cells = [
                _cell(sum(r.earned(t) == t.points for t in mine), len(mine))
                for mine in ([t for t in tests if t.part == p] for p in parts)
            ]
        notes = (
            "[red]grader error[/]" if r.grader_failed
            else "[red]refused[/]" if r.refused
            else f"[yellow]flagged ({len(r.flags)})[/]" if r.flags
            else ""
        )  # fmt: skip
        table.add_row(r.submission.folder, f"{r.score:g}/{r.max_score:g}", *cells, notes)
    return table


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _cell(k: int, n: int) -> str:
    color = "green" if k == n else "red" if k == 0 else "yellow"
    return f"[{color}]{k}/{n}[/]"


def print_summary(results: list[Result], tests: list[LabTest], console: Console) -> None:
    console.print(summary_table(results, tests))
    for r in results:
        if r.grader_failed:
            console.print(f"{r.submission.folder}: {r.refused}", markup=False)
        elif r.refused:
            console.print(f"{r.submission.folder}: refused: {r.refused}", markup=False)
        elif r.flags:
            console.print(
                f"{r.submission.folder}: flagged for review ({_count(len(r.flags), 'finding')}; "
                f"{r.flags[0]}{', ...' if len(r.flags) > 1 else ''})",
                markup=False,
            )
