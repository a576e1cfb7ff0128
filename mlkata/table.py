"""Plain-text tables for the terminal (`mlkata list`, `progress`, `backups`, `grade`)."""

from __future__ import annotations

from collections.abc import Sequence


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> str:
    """Columns padded to their widest cell; `align` has one "l" or "r" per column (default "l").

        exercise   status       checks
        ---------  -----------  ------
        attention  passing       22/22
    """
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    align = align.ljust(len(headers), "l")

    def line(row: list[str]) -> str:
        return "  ".join(cell.rjust(w) if a == "r" else cell.ljust(w)
                         for cell, w, a in zip(row, widths, align)).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths])] + [line(row) for row in cells[1:]])
