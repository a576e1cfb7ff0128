"""`mlkata progress`: your progress sheet and a chart of exercises passed over time."""

from __future__ import annotations

import argparse
import sys

HELP = "your progress sheet (first attempt, first pass, attempts, hints, peeks, interview times) and chart"

COLUMNS = ["exercise", "status", "first attempt", "first pass", "attempts", "hints used", "solution peeked",
           "interview best"]


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv", metavar="FILE", help="export the sheet as CSV (`-` for stdout)")
    parser.add_argument("--plot", metavar="FILE", help="draw the chart into FILE (.png, .svg, .pdf; needs matplotlib)")
    parser.add_argument("--reset-progress", action="store_true",
                        help="move the progress record aside (nothing is deleted) and start a fresh one")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mlkata import paths, progress

    if args.reset_progress:
        aside = progress.reset_progress()
        print(f"moved {paths.display(progress.db_path())} to {paths.display(aside)}; a fresh record starts now"
              if aside else "there was no progress record to reset")
        return 0
    return progress.friendly(_run)(args)


def _when(t: float | None) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else "–"


def _iso(t: float | None) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(t).isoformat(timespec="seconds") if t else ""


def sheet() -> tuple[list[list[object]], list[dict[str, object]], list[tuple[float, str]], float | None]:
    """(table rows, CSV records, first passes, first attempt time) for every catalog exercise."""
    from mlkata import catalog, progress, status
    from mlkata.interview import clock

    records = progress.summaries()
    rows, csv_rows, passes, starts = [], [], [], []
    for entry in catalog.load():
        r = records.get(entry.name) or progress.ExerciseProgress(entry.name)
        state = status.of(entry, records.get(entry.name))
        rows.append([entry.name, state, _when(r.first_attempt), _when(r.first_pass), r.attempts or "–",
                     f"{r.hints}/{len(entry.hints)}", _when(r.peeked) if r.peeked else "no",
                     clock(r.interview_best) if r.interview_best else "–"])
        csv_rows.append({"exercise": entry.name, "status": state, "first_attempt": _iso(r.first_attempt),
                         "first_pass": _iso(r.first_pass), "attempts": r.attempts,
                         "last_checks_passed": r.last_passed, "last_checks_total": r.last_total,
                         "hints_used": r.hints, "hints_available": len(entry.hints),
                         "solution_peeked": _iso(r.peeked), "interviews": r.interviews,
                         "interview_best_seconds": "" if r.interview_best is None else round(r.interview_best, 1)})
        if r.first_pass:
            passes.append((r.first_pass, entry.name))
        if r.first_attempt:
            starts.append(r.first_attempt)
    return rows, csv_rows, passes, min(starts, default=None)


def write_csv(records: list[dict[str, object]], target: str) -> None:
    import csv

    out = sys.stdout if target == "-" else open(target, "w", newline="")
    try:
        writer = csv.DictWriter(out, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    finally:
        if out is not sys.stdout:
            out.close()


def _run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from mlkata import catalog, chart, paths
    from mlkata.table import format_table

    rows, csv_rows, passes, start = sheet()
    if args.csv:
        try:
            write_csv(csv_rows, args.csv)
        except OSError as err:
            print(f"mlkata: cannot write {args.csv}: {err}", file=sys.stderr)
            return 2
        if args.csv == "-":
            return 0
        print(f"wrote {paths.display(Path(args.csv).resolve())}")
    print(format_table(COLUMNS, rows, align="lllllrlr"))
    print()
    if start is None:
        print("Nothing recorded yet: `make check EX=attention` records your first attempt.")
        return 0
    total, now = len(catalog.load()), time.time()
    if passes:
        print(f"Exercises passed over time ({len(passes)} of {total}):")
        print(chart.step_chart(passes, total, start, now))
    else:
        print(f"No exercise passes yet (0 of {total}); the chart of passes over time starts with your first.")
    if args.plot:
        try:
            written = chart.plot(passes, total, start, now, Path(args.plot))
        except chart.PlotUnavailable as err:
            print(f"mlkata: {err}", file=sys.stderr)
            return 2
        print(f"wrote {paths.display(written.resolve())}")
    return 0
