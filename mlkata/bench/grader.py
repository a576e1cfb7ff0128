"""The grader's own latency: `mlkata check attention` against a bare `python -c "import torch"`.

Both run as fresh subprocesses (what a learner waits for after `make check`), timed from
start to exit, median of 5 runs (3 with --quick). The ratio says how much of the wait is the
grader rather than torch's import.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Sequence

from mlkata import paths
from mlkata.bench.framework import Context, Row, Stats, summarize

EXERCISE = "attention"


def time_command(argv: Sequence[str], repeats: int) -> Stats:
    """Wall time of running `argv` to completion, `repeats` times (its output is discarded)."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(list(argv), cwd=paths.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        samples.append(time.perf_counter() - start)
    median, spread = summarize(samples)
    return Stats(median, spread, repeats, 1)


def cases(ctx: Context, exercise: str = EXERCISE, command: Sequence[str] | None = None,
          baseline: Sequence[str] | None = None, repeats: int | None = None) -> Iterator[Row]:
    """One row. `command` and `baseline` replace the two commands (the self-test uses tiny ones)."""
    command = command or [sys.executable, "-m", "mlkata.cli", "check", exercise, "--impl", ctx.impl]
    baseline = baseline or [sys.executable, "-c", "import torch"]
    repeats = repeats or (3 if ctx.quick else 5)
    time_command(baseline, 1)  # warm the file cache, so the first sample is not the odd one out
    row = Row("grader", f"mlkata check {exercise} --impl {ctx.impl}", 'python -c "import torch"',
              f"median of {repeats} runs")
    row.mine = time_command(command, repeats)
    row.theirs = time_command(baseline, repeats)
    row.extra["grader_overhead_s"] = row.mine.median_s - row.theirs.median_s
    row.notes.append(f"the grader adds {row.extra['grader_overhead_s']:.2f} s to torch's import")
    yield row
