"""`mlkata <command>`: argument parsing only. Each command lives in `mlkata/commands/<name>.py`."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from mlkata import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlkata", description="From-scratch ML coding practice.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub.add_parser(info.name.replace("_", "-"), help=module.HELP, description=module.HELP))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from mlkata.bugs import BugError
    from mlkata.catalog import CatalogError
    from mlkata.progress import ProgressError

    try:
        return args.run(args)
    except (CatalogError, BugError, ProgressError) as err:
        print(f"mlkata: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `mlkata list | head`: the reader left; that is fine
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
