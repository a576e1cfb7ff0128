"""`mlkata backups [<exercise>]`: the saved versions of your files, newest last."""

from __future__ import annotations

import argparse

HELP = "list the backups that reset and restore made of your files"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercise", nargs="?", help="only this exercise's backups")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import time

    from mlkata import backups, paths
    from mlkata.table import format_table

    every = backups.list_backups()
    wanted = args.exercise
    if wanted and wanted.startswith("debug/"):  # the debugging track's file
        wanted = backups.DEBUG_PREFIX + wanted.removeprefix("debug/")
    rows = []
    for number, b in enumerate(every, start=1):
        if wanted and b.label != wanted:
            continue
        lines = len(b.path.read_text(errors="replace").splitlines())
        rows.append([number, b.name, paths.display(b.target), time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(b.when)),
                     lines])
    if not rows:
        print("No backups" + (f" of {args.exercise}" if args.exercise else "") +
              f" yet. `mlkata reset` and `restore` save your file in {paths.display(backups.folder())}/ first.")
        return 0
    print(format_table(["#", "backup", "restores", "saved", "lines"], rows, align="rlllr"))
    print(f"In {paths.display(backups.folder())}/. `mlkata restore <# or backup>` brings one back "
          "(your current file is backed up first).")
    return 0
