"""One module per `mlkata` subcommand, discovered by `mlkata.cli`.

Each module defines `HELP` (one line) and `register(parser)` (its arguments, and
`parser.set_defaults(run=...)`; `run(args) -> int` is the exit status). Keep module-level
imports light (no torch, no pytest): every command's module is imported to build `--help`,
and `mlkata check` must start fast. Import heavy things inside `run`.
"""

from __future__ import annotations

import argparse


def add_impl_options(parser: argparse.ArgumentParser, *, own_deps: bool = True) -> None:
    """`--impl` (which folder is graded) and `--own-deps`, the same for every command."""
    parser.add_argument("--impl", default="exercises",
                        help="the folder to use: exercises (default), solutions, or a folder laid out like them")
    if own_deps:
        parser.add_argument("--own-deps", action="store_true",
                            help="take the exercises this one imports from the same folder too "
                                 "(default: the worked solutions stand in for them)")
