"""`mlkata stubs`: (maintainers) regenerate exercises/ from solutions/."""

from __future__ import annotations

import argparse

HELP = "(maintainers) regenerate exercises/ from solutions/"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", help="exercises to regenerate (default: all)")
    parser.add_argument("--check", action="store_true", help="only report stubs that are out of sync")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mlkata import paths, stubs

    if args.check:
        stale = stubs.out_of_sync()
        for name in stale:
            print(f"exercises/{name}.py is out of sync with solutions/{name}.py (run `mlkata stubs`)")
        return 1 if stale else 0
    for path in stubs.write_stubs(paths.EXERCISES, args.names or None):
        print(f"wrote {paths.display(path)}")
    return 0
