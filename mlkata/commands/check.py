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
    result = grader.grade(exercise, args.impl, own_deps=args.own_deps, file=file, verbose=args.verbose)
    print(report.format_result(result, color=report.use_color(), verbose=args.verbose))
    return 0 if result.ok else 1
