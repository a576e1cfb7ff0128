"""`mlkata restore <backup>`: bring a backed-up file back (the current one is backed up first)."""

from __future__ import annotations

import argparse

HELP = "bring back a backup (by number, file name, or exercise for its newest); nothing is lost"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("backup", help="a number from `mlkata backups`, a backup's file name, or an exercise name")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mlkata import backups, catalog, paths, status

    try:
        chosen = backups.find(args.backup)
    except backups.BackupError as err:
        print(f"mlkata: {err}")
        return 1
    # A fresh stub needs no backup: `mlkata reset` writes it again whenever wanted.
    stub = chosen.label in catalog.names() and status.pristine(catalog.get(chosen.label))
    target, saved = backups.restore(chosen, keep_current=not stub)
    print(f"restored {paths.display(target)} from {paths.display(chosen.path)}")
    if saved:
        print(f"(the version it replaced is saved in {paths.display(saved)})")
    return 0
