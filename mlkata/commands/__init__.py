"""One module per `mlkata` subcommand, discovered by `mlkata.cli`.

Each module defines `HELP` (one line) and `register(parser)` (its arguments, and
`parser.set_defaults(run=...)`; `run(args) -> int` is the exit status). Keep module-level
imports light (no torch, no pytest): every command's module is imported to build `--help`,
and `mlkata check` must start fast. Import heavy things inside `run`.
"""
