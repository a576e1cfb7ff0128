"""`mlkata watch [<exercise>]`: re-grade on every save."""

from __future__ import annotations

import argparse
import sys

from mlkata.commands import add_impl_options

HELP = "re-grade on every save (default: the first exercise not passing yet, moving on as each passes)"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercise", nargs="?", help="stay on this exercise (default: follow the catalog)")
    add_impl_options(parser)
    parser.add_argument("--poll", action="store_true",
                        help="check modification times instead of file notifications (network drives, WSL, Docker)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mlkata import progress

    return progress.friendly(_run)(args)


def _run(args: argparse.Namespace) -> int:
    import threading

    from mlkata import catalog, paths, report, status, watch

    if args.exercise:
        entry = catalog.get(args.exercise)
        if not status.available(entry):
            print(f"{entry.name} is in the catalog but not in the kit yet: choose another (`mlkata list`).")
            return 1
    folder = paths.resolve_impl(args.impl)
    if not folder.is_dir():
        print(f"mlkata: {paths.display(folder)} is not a folder")
        return 2
    stop = threading.Event()
    with watch.interrupts(stop), watch.keys(stop):
        return watch.follow(folder, args.exercise, watch.changes(folder, stop, poll=args.poll),
                            own_deps=args.own_deps, record=folder.resolve() == paths.EXERCISES.resolve(),
                            stop=stop, color=report.use_color(sys.stdout))
