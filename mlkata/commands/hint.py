"""`mlkata hint <exercise>`: reveal the next hint (progressive; recorded)."""

from __future__ import annotations

import argparse

HELP = "reveal the next hint for an exercise (the ones you have seen are shown again)"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercise")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mlkata import progress

    return progress.friendly(_run)(args)


def _run(args: argparse.Namespace) -> int:
    import textwrap

    from mlkata import catalog, progress

    entry = catalog.get(args.exercise)
    total = len(entry.hints)
    if not total:
        print(f"{entry.name} has no hints yet.")
        return 0
    seen_before = progress.hints_seen(entry.name)
    shown = progress.reveal_hint(entry.name, total)
    for number in range(1, shown + 1):
        fresh = number > seen_before
        head = f"Hint {number} of {total}" + ("" if fresh else " (seen before)")
        print(f"{head}:\n" + textwrap.fill(entry.hints[number - 1], 96, initial_indent="  ", subsequent_indent="  "))
    if shown == total and seen_before == total:
        print(f"That is every hint for {entry.name}. `mlkata solution {entry.name}` shows the worked solution.")
    elif shown < total:
        print(f"Still stuck? `mlkata hint {entry.name}` again reveals hint {shown + 1}.")
    return 0
