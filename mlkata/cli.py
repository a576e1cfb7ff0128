"""`mlkata <command>`: the learner's entry point. Argument parsing only; each command's work
lives in its own module, imported lazily so that `mlkata check` starts fast."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _split_target(name: str, impl: str) -> tuple[str, Path | None]:
    """`debug/attention` -> ("attention", <impl>/debug/attention.py); `attention` -> ("attention", None)."""
    if "/" not in name:
        return name, None
    from mlkata import paths

    folder, exercise = name.rsplit("/", 1)
    return exercise, paths.resolve_impl(impl) / folder / f"{exercise}.py"


def cmd_check(args: argparse.Namespace) -> int:
    from mlkata import grader, report

    exercise, file = _split_target(args.exercise, args.impl)
    result = grader.grade(exercise, args.impl, own_deps=args.own_deps, file=file, verbose=args.verbose)
    print(report.format_result(result, color=report.use_color(), verbose=args.verbose))
    return 0 if result.ok else 1


def cmd_stubs(args: argparse.Namespace) -> int:
    from mlkata import paths, stubs

    if args.check:
        stale = stubs.out_of_sync()
        for name in stale:
            print(f"exercises/{name}.py is out of sync with solutions/{name}.py (run `mlkata stubs`)")
        return 1 if stale else 0
    for path in stubs.write_stubs(paths.EXERCISES, args.names or None):
        print(f"wrote {paths.display(path)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlkata", description="From-scratch ML coding practice.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="grade one exercise")
    check.add_argument("exercise", help="exercise name (or debug/<name> for the debugging track)")
    check.add_argument("--impl", default="exercises", help="exercises (default), solutions, or a folder laid out like them")
    check.add_argument("--own-deps", action="store_true", help="grade imported exercises from the same folder too")
    check.add_argument("-v", "--verbose", action="store_true", help="show every failure with its traceback")
    check.set_defaults(func=cmd_check)

    stubs = sub.add_parser("stubs", help="(maintainers) regenerate exercises/ from solutions/")
    stubs.add_argument("names", nargs="*", help="exercises to regenerate (default: all)")
    stubs.add_argument("--check", action="store_true", help="only report stubs that are out of sync")
    stubs.set_defaults(func=cmd_stubs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from mlkata.catalog import CatalogError

    try:
        return args.func(args)
    except CatalogError as err:
        print(f"mlkata: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
