"""`mlkata debug <exercise>`: write a debugging-track file with planted bugs."""

from __future__ import annotations

import argparse

HELP = "practise spotting bugs: a working solution with N cataloged bugs planted in it"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercise")
    parser.add_argument("--bugs", type=int, default=3, help="how many bugs to plant (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="which bugs (reproducible; default 0)")
    parser.add_argument("--reveal", action="store_true", help="name the bugs planted in the current file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mlkata import catalog, debugtrack, paths

    catalog.get(args.exercise)  # a clear error for an unknown name
    if args.reveal:
        found = debugtrack.planted(args.exercise)
        if not found:
            print(f"no debugging file recorded for {args.exercise}: run `mlkata debug {args.exercise}` first")
            return 1
        file = debugtrack.debug_file(args.exercise)
        still = {b.id for b in debugtrack.remaining(args.exercise, file.read_text())} if file.exists() else set()
        for bug in found:
            state = "still there" if bug.id in still else "fixed"
            print(f"- [{state}] in {bug.function}: {bug.explanation}")
        return 0
    if args.bugs < 1:
        print("--bugs must be at least 1")
        return 2
    planted, backup = debugtrack.make_debug_file(args.exercise, args.bugs, args.seed)
    if backup:
        print(f"backed up your previous {paths.display(planted.file)} to {paths.display(backup)}")
    n = len(planted.bug_ids)
    print(f"wrote {paths.display(planted.file)}: a working {args.exercise} with {n} planted bug{'s' * (n > 1)}.")
    if n < args.bugs:
        print(f"(only {n} of the cataloged bugs can be planted together)")
    print(f"Find them: make check EX=debug/{args.exercise}")
    return 0
