"""`mlkata solution <exercise>`: show the worked solution (recorded as peeked)."""

from __future__ import annotations

import argparse
import sys

HELP = "show an exercise's worked solution (asks first if it is not passing yet; recorded)"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercise")
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mlkata import progress

    return progress.friendly(_run)(args)


def _run(args: argparse.Namespace) -> int:
    from mlkata import catalog, paths, progress, status

    entry = catalog.get(args.exercise)
    if not entry.solution.is_file():
        print(f"{entry.name} is in the catalog but its worked solution is not in the kit yet.")
        return 1
    if status.of(entry, progress.summaries().get(entry.name)) != status.PASSING and not args.yes:
        question = (f"{entry.name} is not passing yet, and the peek is recorded in your progress. "
                    f"`mlkata hint {entry.name}` gives a nudge instead. Show the worked solution? [y/N] ")
        if not sys.stdin or not sys.stdin.isatty():
            print(question.rsplit(" Show", 1)[0] + f" Run `mlkata solution {entry.name} --yes` to see it.")
            return 1
        if input(question).strip().lower() not in ("y", "yes"):
            print("Not shown.")
            return 1
    progress.record_peek(entry.name)
    print(f"# {paths.display(entry.solution)}: the worked solution "
          "(`# BEGIN SOLUTION` ... `# END SOLUTION` mark what the stub asks you to write)\n")
    print(entry.solution.read_text(), end="")
    return 0
