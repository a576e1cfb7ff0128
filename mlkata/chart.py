"""Exercises passed over time, as a step function: in the terminal, or as a PNG/SVG file.

`passes` is a list of (time, exercise) first passes; the count steps up by one at each.
"""

from __future__ import annotations

import time
from pathlib import Path

PLOT_MISSING = ("--plot needs matplotlib, an optional extra: `.venv/bin/pip install -e '.[plot]'` "
                "(or `pip install matplotlib`). The terminal chart above needs nothing.")


class PlotUnavailable(Exception):
    """matplotlib is not installed. `str()` says how to install it."""


def _date(t: float, span: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M" if span < 3 * 86400 else "%Y-%m-%d", time.localtime(t))


def step_chart(passes: list[tuple[float, str]], total: int, start: float, end: float, width: int = 56) -> str:
    """A Unicode step line of how many exercises had passed at each moment from `start` to `end`.

        3 ┤                         ┌────────
        2 ┤              ┌──────────┘
        1 ┤     ┌────────┘
        0 ┤─────┘
          └──────────────────────────────────
           2025-11-26 14:02   2025-11-26 16:40
    """
    times = sorted(t for t, _ in passes)
    end = max(end, start + 60.0, *(times or [start]))
    span = end - start
    levels = max(total, len(times), 1)
    grid = [[" "] * width for _ in range(levels + 1)]  # grid[level][column]
    before = sum(t < start for t in times)
    for column in range(width):
        edge = start + span * (column + 1) / width  # each column shows the count at its right edge
        value = sum(t <= edge for t in times)
        if value == before:
            grid[value][column] = "─"
        else:
            grid[before][column] = "┘"
            for level in range(before + 1, value):
                grid[level][column] = "│"
            grid[value][column] = "┌"
        before = value
    label = len(str(levels))
    lines = [f"{level:>{label}} ┤" + "".join(grid[level]).rstrip() for level in range(levels, -1, -1)]
    lines.append(" " * label + " └" + "─" * width)
    left, right = _date(start, span), _date(end, span)
    lines.append(" " * (label + 2) + left + right.rjust(max(width - len(left), len(right) + 1)))
    return "\n".join(lines)


def plot(passes: list[tuple[float, str]], total: int, start: float, end: float, file: Path) -> Path:
    """Draw the same step function with matplotlib into `file` (the suffix picks PNG, SVG, PDF)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no window, works without a display
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotUnavailable(PLOT_MISSING) from None
    from datetime import datetime

    passes = sorted(passes)
    end = max(end, *(t for t, _ in passes)) if passes else end
    xs = [datetime.fromtimestamp(t) for t in [start] + [t for t, _ in passes] + [end]]
    ys = [0] + list(range(1, len(passes) + 1)) + [len(passes)]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.step(xs, ys, where="post", linewidth=2)
    for (t, name), y in zip(passes, range(1, len(passes) + 1)):
        ax.annotate(name, (datetime.fromtimestamp(t), y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_ylim(0, max(total, 1) + 0.5)
    ax.set_ylabel("exercises passed")
    ax.set_title("mlkata: exercises passed over time")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    file.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(file, bbox_inches="tight")
    plt.close(fig)
    return file
