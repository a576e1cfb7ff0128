"""`mlkata check <exercise>`: grade one exercise and print the report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mlkata.commands import add_impl_options

if TYPE_CHECKING:
    from mlkata.grader import GradeResult

HELP = "grade one exercise"


def split_target(name: str, impl: str | Path) -> tuple[str, Path | None]:
    """`debug/attention` -> ("attention", <impl>/debug/attention.py); `attention` -> ("attention", None)."""
    if "/" not in name:
        return name, None
    from mlkata import paths

    folder, exercise = name.rsplit("/", 1)
    return exercise, paths.resolve_impl(impl) / folder / f"{exercise}.py"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercise", help="exercise name (or debug/<name> for the debugging track)")
    add_impl_options(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="show every failure with its traceback")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mlkata import catalog, grader, paths, report

    # The learner's own files: their attempts are recorded (a maintainer grading solutions/ is not).
    mine = paths.resolve_impl(args.impl).resolve() == paths.EXERCISES.resolve()
    exercise, file = split_target(args.exercise, args.impl)
    if not catalog.get(exercise).test_file.is_file():
        print(f"{exercise} is in the catalog but not in the kit yet (its tests have not landed): "
              "`mlkata list` shows what is ready.")
        return 1
    debugging = file is not None and file.parent.name == "debug"
    # On the debugging track a "Likely bug" diagnosis would give the planted bugs away.
    result = grader.grade(exercise, args.impl, own_deps=args.own_deps, file=file, verbose=args.verbose,
                          diagnose=not debugging)
    print(report.format_result(result, color=report.use_color(sys.stdout), verbose=args.verbose))
    if debugging:
        print(debug_status(exercise, file, result.ok))
    if mine:
        record(result, "debug" if debugging else "check")
    return 0 if result.ok else 1


def record(result: GradeResult, mode: str) -> None:
    """Record the attempt (after the verdict is printed, so nobody waits on it) and react in one line."""
    from mlkata import catalog, progress, status

    try:
        done = progress.record_attempt(result, mode)
    except progress.ProgressError as err:
        print(f"mlkata: this attempt was not recorded: {err}", file=sys.stderr)
        return
    if mode != "check":
        return
    available = sum(status.available(e) for e in catalog.load())
    if done.first_pass:
        following = status.next_to_do(progress.summaries(), after=result.exercise)
        print(f"First pass for {result.exercise}: {done.passing} of {available} exercises passing."
              + (f" Next: `make check EX={following}`." if following else ""))
        return
    hints = len(catalog.get(result.exercise).hints)
    wrong = any(c.outcome == "failed" and c.kind != "not-implemented" for c in result.checks)
    if wrong and done.hints < hints:
        print(f"Stuck? `mlkata hint {result.exercise}` reveals hint {done.hints + 1} of {hints}.")


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
