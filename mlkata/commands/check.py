"""`mlkata check <exercise>`: grade one exercise and print the report."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "grade one exercise"


def split_target(name: str, impl: str) -> tuple[str, Path | None]:
    """`debug/attention` -> ("attention", <impl>/debug/attention.py); `attention` -> ("attention", None)."""
    if "/" not in name:
        return name, None
    from mlkata import paths

    folder, exercise = name.rsplit("/", 1)
    return exercise, paths.resolve_impl(impl) / folder / f"{exercise}.py"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercise", help="exercise name (or debug/<name> for the debugging track)")
    parser.add_argument("--impl", default="exercises",
                        help="exercises (default), solutions, or a folder laid out like them")
    parser.add_argument("--own-deps", action="store_true",
                        help="grade the exercises this one imports from the same folder too")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every failure with its traceback")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mlkata import grader, report

    exercise, file = split_target(args.exercise, args.impl)
    debugging = file is not None and file.parent.name == "debug"
    # On the debugging track a "Likely bug" diagnosis would give the planted bugs away.
    result = grader.grade(exercise, args.impl, own_deps=args.own_deps, file=file, verbose=args.verbose,
                          diagnose=not debugging)
    print(report.format_result(result, color=report.use_color(), verbose=args.verbose))
    if debugging:
        print(debug_status(exercise, file, result.ok))
    return 0 if result.ok else 1


def debug_status(exercise: str, file: Path, ok: bool) -> str:
    """How many planted bugs remain in a debugging-track file, without naming them."""
    from mlkata import debugtrack

    planted = debugtrack.planted(exercise)
    if not planted or not file.is_file():
        return "(no record of the planted bugs: `mlkata debug` writes one)"
    left = len(debugtrack.remaining(exercise, file.read_text()))
    if ok:
        return f"All {len(planted)} planted bugs fixed. `mlkata debug {exercise} --seed N` plants a new set."
    if left == 0:
        return ("Every planted line has changed, but checks still fail: did a fix introduce a new bug? "
                f"(`mlkata debug {exercise} --reveal` names the planted ones.)")
    return f"Planted bugs remaining: {left} of {len(planted)}."
