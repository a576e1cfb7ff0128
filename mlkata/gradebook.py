"""Grade many exercises at once and write the score sheet: text, Markdown, JSON or JUnit XML.

This is what `mlkata grade --all` prints and what CI puts in the run's summary. Exercises
the catalog lists but the kit does not have yet are shown as such, never as failures.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlkata import catalog, manifest, status
from mlkata.manifest import FILE_NAME as MANIFEST_NAME

if TYPE_CHECKING:
    from mlkata.grader import GradeResult

ICONS = {status.PASSING: "✅", status.IN_PROGRESS: "🟨", status.NOT_STARTED: "⬜", status.NOT_AVAILABLE: "·",
         "error": "❌"}


@dataclass
class Row:
    exercise: str
    status: str  # one of mlkata.status's, or "error" (the kit could not grade it)
    passed: int = 0
    total: int = 0
    result: GradeResult | None = None  # when graded

    @property
    def checks(self) -> str:
        return f"{self.passed}/{self.total}" if self.result is not None else "–"


@dataclass
class Integrity:
    """Whether the grading files match the manifest."""

    changes: list[manifest.Change] = field(default_factory=list)
    error: str = ""  # the manifest itself is missing or malformed

    @property
    def ok(self) -> bool:
        return not self.changes and not self.error

    @classmethod
    def check(cls) -> Integrity:
        try:
            return cls(manifest.compare())
        except manifest.ManifestError as err:
            return cls(error=str(err))

    def lines(self) -> list[str]:
        if self.error:
            return [self.error]
        return [str(change) for change in self.changes]


def grade_all(names: list[str], folder: Path, *, own_deps: bool = False,
              on_row: Callable[[Row], None] | None = None) -> list[Row]:
    """Grade each exercise of `names` (catalog order is the caller's) in `folder`."""
    from mlkata import grader

    rows = []
    for name in names:
        entry = catalog.get(name)
        if not status.available(entry):
            row = Row(name, status.NOT_AVAILABLE)
        else:
            result = grader.grade(name, folder, own_deps=own_deps)
            state = "error" if result.problems else status.of_result(entry, result.ok, folder)
            row = Row(name, state, result.passed, result.total, result)
        rows.append(row)
        if on_row:
            on_row(row)
    return rows


def passing(rows: list[Row]) -> int:
    return sum(r.status == status.PASSING for r in rows)


def text(rows: list[Row], integrity: Integrity) -> str:
    from mlkata.table import format_table

    lines = [format_table(["exercise", "checks passed", "status"],
                          [[r.exercise, r.checks, r.status] for r in rows], align="lrl")]
    available = sum(r.status != status.NOT_AVAILABLE for r in rows)
    lines.append(f"{passing(rows)} of {available} exercises passing"
                 + (f" ({len(rows) - available} not in the kit yet)" if available < len(rows) else ""))
    if not integrity.ok:
        lines.append("The grading files do not match the kit's " + MANIFEST_NAME + ", so this grade cannot be trusted:")
        lines += [f"  - {line}" for line in integrity.lines()]
    return "\n".join(lines)


def markdown(rows: list[Row], integrity: Integrity) -> str:
    available = sum(r.status != status.NOT_AVAILABLE for r in rows)
    lines = [f"## mlkata: {passing(rows)} of {available} exercises passing", "",
             "| # | exercise | checks passed | status |", "|---:|---|---:|---|"]
    for number, r in enumerate(rows, start=1):
        lines.append(f"| {number} | `{r.exercise}` | {r.checks} | {ICONS.get(r.status, '')} {r.status} |")
    lines.append("")
    if integrity.ok:
        lines.append(f"Grading files (`tests/`, `reference/`, `catalog.toml`) match `{MANIFEST_NAME}`.")
    else:
        lines.append("> ❌ **The grading files were changed, so this grade cannot be trusted:**")
        lines += [f"> {integrity.error}"] if integrity.error else \
            [f"> - `{change.path}` {change.what}" for change in integrity.changes]
    return "\n".join(lines) + "\n"


def as_json(rows: list[Row], integrity: Integrity) -> str:
    exercises = []
    for r in rows:
        entry = {"exercise": r.exercise, "status": r.status, "passed": r.passed, "total": r.total}
        if r.result is not None:
            entry["checks"] = [{"target": c.target, "title": c.title, "outcome": c.outcome, "message": c.message}
                               for c in r.result.checks]
            entry["problems"] = list(r.result.problems)
        exercises.append(entry)
    data = {"passing": passing(rows), "available": sum(r.status != status.NOT_AVAILABLE for r in rows),
            "exercises": exercises,
            "integrity": {"ok": integrity.ok, "error": integrity.error,
                          "changes": [{"path": c.path, "kind": c.kind} for c in integrity.changes]}}
    return json.dumps(data, indent=2)


def junit(rows: list[Row], integrity: Integrity) -> str:
    """JUnit XML: one testsuite per exercise, one testcase per check, plus the integrity suite."""
    suites = ET.Element("testsuites", name="mlkata")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

    def suite(name: str) -> ET.Element:
        return ET.SubElement(suites, "testsuite", name=name)

    def close(element: ET.Element, counts: dict[str, int]) -> None:
        for key, value in counts.items():
            element.set(key, str(value))
            totals[key] += value

    for r in rows:
        element = suite(r.exercise)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        if r.result is None:
            case = ET.SubElement(element, "testcase", classname=r.exercise, name=r.status)
            ET.SubElement(case, "skipped", message=f"{r.exercise} is {r.status}")
            counts.update(tests=1, skipped=1)
        else:
            for problem in r.result.problems:
                case = ET.SubElement(element, "testcase", classname=r.exercise, name="the kit could grade it")
                ET.SubElement(case, "error", message=problem.splitlines()[0]).text = problem
                counts["tests"] += 1
                counts["errors"] += 1
            for c in r.result.checks:
                case = ET.SubElement(element, "testcase", classname=f"{r.exercise}.{c.target}", name=c.title)
                counts["tests"] += 1
                if c.outcome == "failed":
                    text = c.message + (f"\nLikely bug: {c.diagnosis}" if c.diagnosis else "")
                    ET.SubElement(case, "failure", message=c.message.splitlines()[0] if c.message else c.kind,
                                  type=c.kind).text = text
                    counts["failures"] += 1
                elif c.outcome == "skipped":
                    ET.SubElement(case, "skipped", message=c.message)
                    counts["skipped"] += 1
        close(element, counts)

    element = suite("grading files")
    case = ET.SubElement(element, "testcase", classname="integrity", name=f"grading files match {MANIFEST_NAME}")
    if not integrity.ok:
        ET.SubElement(case, "failure", message="the grading files were changed").text = "\n".join(integrity.lines())
    close(element, {"tests": 1, "failures": int(not integrity.ok), "errors": 0, "skipped": 0})
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def progress_line(row: Row) -> None:
    """What `mlkata grade` prints on stderr as each exercise finishes."""
    detail = f"{row.checks} checks pass ({row.status})" if row.result is not None else row.status
    print(f"  {row.exercise}: {detail}", file=sys.stderr)
