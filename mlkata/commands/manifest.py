"""`mlkata manifest`: (maintainers) check or rewrite tests.manifest.json, the grading files' hashes."""

from __future__ import annotations

import argparse

HELP = "(maintainers) check the grading files against tests.manifest.json; --update rewrites it"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--update", action="store_true", help="record the current tests/, reference/, catalog.toml")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mlkata import manifest, paths

    if args.update:
        path = manifest.write()
        print(f"wrote {paths.display(path)} ({len(manifest.current())} files)")
        return 0
    try:
        changes = manifest.compare()
    except manifest.ManifestError as err:
        print(f"mlkata: {err}")
        return 1
    for change in changes:
        print(change)
    if changes:
        print(f"{len(changes)} grading file(s) differ from {manifest.FILE_NAME}. Learners: `git checkout -- tests reference "
              f"catalog.toml` restores them. Maintainers: `mlkata manifest --update` records the new versions.")
        return 1
    print(f"the grading files match {manifest.FILE_NAME}")
    return 0
