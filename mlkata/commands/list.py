"""`mlkata list`: the catalog in order, with where you stand on each exercise."""

from __future__ import annotations

import argparse

HELP = "the exercises in order, with your status, checks passed, best time and hints used"


def register(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(run=run)


def topics(names: tuple[str, ...], width: int = 30) -> str:
    text = ", ".join(names)
    return text if len(text) <= width else text[: width - 1] + "…"


def run(args: argparse.Namespace) -> int:
    from mlkata import progress

    return progress.friendly(_run)(args)


def _run(args: argparse.Namespace) -> int:
    from mlkata import catalog, progress, status
    from mlkata.interview import clock
    from mlkata.table import format_table

    records = progress.summaries()
    states = {entry.name: status.of(entry, records.get(entry.name)) for entry in catalog.load()}
    rows = []
    for number, entry in enumerate(catalog.load(), start=1):
        record = records.get(entry.name)
        checks = f"{record.last_passed}/{record.last_total}" if record and record.attempts else "–"
        best = clock(record.interview_best) if record and record.interview_best else "–"
        hints = f"{record.hints if record else 0}/{len(entry.hints)}"
        rows.append([number, entry.name, topics(entry.topics), states[entry.name], checks, best, hints])
    print(format_table(["#", "exercise", "topics", "status", "checks", "best time", "hints"], rows, align="rllllrr"))
    missing = sum(state == status.NOT_AVAILABLE for state in states.values())
    passing = sum(state == status.PASSING for state in states.values())
    summary = f"{passing} of {len(states) - missing} exercises passing"
    if missing:
        summary += f" ({missing} more in the catalog, not in the kit yet)"
    following = status.next_to_do(records)
    if following:
        summary += f". Next: `make check EX={following}` (edit exercises/{following}.py)."
    print(summary)
    print("best time: your fastest `mlkata interview` to green.")
    return 0
