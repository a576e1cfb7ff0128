"""`mlkata grade --all`: grade every exercise; the score sheet CI writes (text, Markdown, JSON, JUnit)."""

from __future__ import annotations

import argparse

from mlkata.commands import add_impl_options

HELP = "grade several exercises (--all: every one) and print a score sheet; checks the grading files too"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercises", nargs="*", metavar="exercise", help="the exercises to grade")
    parser.add_argument("--all", action="store_true", help="every exercise in the catalog")
    add_impl_options(parser)
    formats = parser.add_mutually_exclusive_group()
    formats.add_argument("--json", action="store_true", help="print the report as JSON")
    formats.add_argument("--markdown", action="store_true", help="print the report as a Markdown table (CI summary)")
    parser.add_argument("--junit", metavar="FILE", help="also write JUnit XML to FILE")
    parser.add_argument("--require-passing", action="store_true",
                        help="exit 1 unless every exercise in the kit passes (default: only changed grading files fail)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from mlkata import catalog, gradebook, paths, status

    if bool(args.exercises) == args.all:
        print("name the exercises to grade, or pass --all", file=sys.stderr)
        return 2
    names = catalog.names() if args.all else [catalog.get(name).name for name in args.exercises]
    folder = paths.resolve_impl(args.impl)
    integrity = gradebook.Integrity.check()
    print(f"grading {paths.display(folder)}/ ...", file=sys.stderr)
    rows = gradebook.grade_all(names, folder, own_deps=args.own_deps, on_row=gradebook.progress_line)
    if args.json:
        print(gradebook.as_json(rows, integrity))
    elif args.markdown:
        print(gradebook.markdown(rows, integrity), end="")
    else:
        print(gradebook.text(rows, integrity))
    if args.junit:
        Path(args.junit).parent.mkdir(parents=True, exist_ok=True)
        Path(args.junit).write_text(gradebook.junit(rows, integrity))
        print(f"wrote {args.junit}", file=sys.stderr)

    code = 0
    if not integrity.ok:
        print("mlkata: the grading files do not match tests.manifest.json:", file=sys.stderr)
        for line in integrity.lines():
            print(f"  - {line}", file=sys.stderr)
        code = 1
    errors = [r.exercise for r in rows if r.status == "error"]
    if errors:
        print(f"mlkata: the kit could not grade {', '.join(errors)} (see the report)", file=sys.stderr)
        code = 1
    unsolved = [r.exercise for r in rows if r.status not in (status.PASSING, status.NOT_AVAILABLE)]
    if args.require_passing and unsolved:
        print(f"mlkata: not passing yet: {', '.join(unsolved)} (--require-passing)", file=sys.stderr)
        code = 1
    return code
