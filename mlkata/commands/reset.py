"""`mlkata reset <exercise>` / `--all`: a fresh stub, after backing up your file."""

from __future__ import annotations

import argparse

HELP = "replace your exercise file with a fresh stub (your file is backed up first)"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercises", nargs="*", metavar="exercise", help="the exercises to reset")
    parser.add_argument("--all", action="store_true", help="every exercise in the kit")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mlkata import backups, catalog, paths, status, stubs

    if bool(args.exercises) == args.all:
        print("name the exercises to reset, or pass --all")
        return 2
    entries = list(catalog.load()) if args.all else [catalog.get(name) for name in args.exercises]
    code = 0
    for entry in entries:
        if not status.available(entry):
            if not args.all:
                print(f"{entry.name} is in the catalog but not in the kit yet: there is no stub to write.")
                code = 1
            continue
        file = status.learner_file(entry.name)
        if status.pristine(entry):
            note = "it was already the fresh stub" if file.is_file() else "it was missing"
        else:
            saved = backups.backup(file)
            note = f"your version is saved in {paths.display(saved)}" if saved else "it was missing"
        stubs.write_stubs(paths.EXERCISES, [entry.name])
        print(f"reset {paths.display(file)} ({note})")
    if entries and code == 0:
        print("`mlkata backups` lists your saved versions; `mlkata restore <backup>` brings one back.")
    return code
