"""Turn a `GradeResult` into what the learner reads: per contract function, counts and the
first failing checks' messages; never a wall of tracebacks (those come with `-v`)."""

from __future__ import annotations

import os
import sys
import textwrap

from mlkata import paths
from mlkata.grader import Check, GradeResult

SHOWN_PER_TARGET = 2  # failing checks described under each function; the rest are counted


def _color(enabled: bool):
    def paint(text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if enabled else text
    return paint


def use_color(stream=None) -> bool:
    stream = stream or sys.stdout
    return stream.isatty() and "NO_COLOR" not in os.environ


def _wrap(text: str, indent: str, width: int = 100) -> str:
    paragraphs = text.strip().splitlines() or [""]
    return "\n".join(textwrap.fill(p, width, initial_indent=indent, subsequent_indent=indent + "  ")
                     for p in paragraphs[:8])


def format_result(result: GradeResult, *, color: bool = False, verbose: bool = False) -> str:
    paint = _color(color)
    lines = [paint(f"{result.exercise}", "1") + f" · {paths.display(result.file)}"]
    for problem in result.problems:
        lines.append(_wrap(f"problem: {problem}", "  "))

    # A file that does not import fails every check the same way: say it once, up front.
    load_errors = {c.message for c in result.checks if c.outcome == "failed" and c.kind == "load"}
    said = load_errors if len(load_errors) == 1 else set()
    lines.extend(_wrap(paint("✗ ", "31") + message, "  ") for message in said)

    width = max((len(t) for t in result.by_target()), default=10) + 2
    for target, checks in result.by_target().items():
        counted = [c for c in checks if c.outcome != "skipped"]
        passing = sum(c.outcome == "passed" for c in counted)
        if not counted:
            lines.append(f"  - {target.ljust(width)} skipped: {checks[0].message}")
            continue
        good = passing == len(counted)
        mark = paint("✓", "32") if good else paint("✗", "31")
        bad = [c for c in counted if c.outcome == "failed"]
        note = ""
        if bad and all(c.kind == "not-implemented" for c in bad):
            note = "  " + paint("not implemented yet", "33")
        lines.append(f"  {mark} {target.ljust(width)} {passing}/{len(counted)}{note}")
        unsaid = [c for c in bad if c.message not in said]
        if not good and not note and unsaid:
            lines.extend(_describe_failures(unsaid, paint, verbose))
    skipped = [c for c in result.checks if c.outcome == "skipped"]
    summary = f"{result.exercise}: {result.passed}/{result.total} checks pass"
    if skipped:
        summary += f" ({len(skipped)} skipped: {skipped[0].message.split(';')[0]})"
    lines.append(paint(summary, "32;1" if result.ok else "31;1"))
    return "\n".join(lines)


def _describe_failures(bad: list[Check], paint, verbose: bool) -> list[str]:
    lines: list[str] = []
    seen: set[str] = set()
    shown = 0
    for check in bad:
        if check.message in seen:
            continue
        seen.add(check.message)
        if shown == SHOWN_PER_TARGET and not verbose:
            break
        shown += 1
        lines.append(_wrap(paint("• " + check.title, "2"), "      "))
        lines.append(_wrap(check.message, "        "))
        if check.diagnosis:
            lines.append(_wrap(paint("Likely bug: ", "33;1") + check.diagnosis, "        "))
        if verbose and check.details:
            lines.append(textwrap.indent(check.details.rstrip(), "        | "))
    hidden = len(bad) - shown
    if hidden > 0:
        lines.append(f"      … and {hidden} more failing check{'s' * (hidden > 1)} (-v shows all)")
    return lines
