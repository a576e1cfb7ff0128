"""Interview mode: a timed, blank-slate attempt at one exercise.

`start` writes a fresh stub into a scratch folder, `<home>/interviews/<exercise>-<time>/`
(the learner's own `exercises/` file is never touched), and starts the clock. Every check
(`session`, on each save, or `mlkata interview --check`) shows the countdown and is recorded
with mode "interview" and the seconds since the start; the first green check stops the clock
and its time is the interview's time to green (`mlkata list` shows the best one).
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from mlkata import catalog, paths, progress, status, stubs
from mlkata.progress import Interview

if TYPE_CHECKING:
    from mlkata.grader import GradeResult

DEFAULT_MINUTES = 45.0


def clock(seconds: float) -> str:
    """`75.3` -> "1:15"; `3725` -> "1:02:05"."""
    seconds = int(round(abs(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def countdown(interview: Interview, now: float | None = None) -> str:
    left = interview.remaining(now)
    limit = clock(interview.minutes * 60)
    if left >= 0:
        return f"⏱ {clock(left)} left of {limit}"
    return f"⏱ time is up: {clock(-left)} over the {limit}"


def start(exercise: str, minutes: float = DEFAULT_MINUTES) -> Interview:
    """A fresh stub in a new scratch folder, and the clock started."""
    entry = catalog.get(exercise)
    if not status.available(entry):
        raise catalog.CatalogError(f"{exercise} is in the catalog but not in the kit yet: choose another")
    if minutes <= 0:
        raise ValueError("--minutes must be positive")
    folder = paths.home() / "interviews" / f"{exercise}-{time.strftime('%Y%m%d-%H%M%S')}"
    n = 1
    while folder.exists():
        folder = folder.with_name(f"{exercise}-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
        n += 1
    stubs.write_stubs(folder, [exercise])
    return progress.start_interview(exercise, minutes, folder)


def check(interview: Interview) -> GradeResult:
    """Grade the interview's file once; record it; stop the clock when green."""
    from mlkata.watch import regrade

    result, _ = regrade(interview.exercise, interview.folder)
    elapsed = interview.elapsed()
    progress.record_attempt(result, mode="interview", seconds=elapsed)
    if result.ok:
        progress.finish_interview(interview.id, elapsed)
    return result


def verdict(interview: Interview, result: GradeResult, now: float | None = None) -> str:
    """The line under a report: the countdown, or the time to green."""
    if not result.ok:
        return countdown(interview, now)
    elapsed = interview.elapsed(now)
    within = "within" if elapsed <= interview.minutes * 60 else "over"
    best = progress.summaries().get(interview.exercise)
    record = ""
    if best and best.interview_best is not None and best.interview_best < elapsed - 0.5:
        record = f" (your best: {clock(best.interview_best)})"
    elif best and best.interviews > 1:
        record = " (a new best)"
    return f"Green in {clock(elapsed)}, {within} the {clock(interview.minutes * 60)} limit{record}."


def weights(records: dict[str, progress.ExerciseProgress]) -> dict[str, float]:
    """How likely `interview --random` is to pick each available exercise: weak ones weigh more.

    1, plus 3 if it is not passing, plus one per hint used, plus 2 if the solution was
    peeked at, plus 2 if no interview on it has gone green yet, else up to 2 for a slow best time.
    """
    result = {}
    for entry in catalog.load():
        if not status.available(entry):
            continue
        r = records.get(entry.name)
        w = 1.0
        if status.of(entry, r) != status.PASSING:
            w += 3
        if r is not None:
            w += r.hints + (2 if r.peeked else 0)
            w += 2 if r.interview_best is None else min(2.0, r.interview_best / (DEFAULT_MINUTES * 60) * 2)
        else:
            w += 2
        result[entry.name] = w
    return result


def pick_random(records: dict[str, progress.ExerciseProgress], rng: random.Random | None = None) -> str:
    table = weights(records)
    if not table:
        raise catalog.CatalogError("no exercise is in the kit yet")
    names = list(table)
    return (rng or random.Random()).choices(names, weights=[table[n] for n in names])[0]


def session(interview: Interview, batches: Iterable[set[Path]], *, stop: threading.Event | None = None,
            out: TextIO = sys.stdout, color: bool = False) -> int:
    """Grade the scratch file on every save until it is green (0) or the learner stops (1)."""
    from mlkata import report
    from mlkata.watch import rule

    stop = stop or threading.Event()
    target = interview.file.resolve()
    for batch in batches:
        if stop.is_set():
            break
        if target not in batch:
            continue
        result = check(interview)
        if stop.is_set():
            break
        rule(f"interview: {interview.exercise}", out, color)
        print(report.format_result(result, color=color), file=out)
        print(verdict(interview, result), file=out, flush=True)
        if result.ok:
            return 0
    print(f"\nStopped; the clock keeps running. `mlkata interview --check` grades "
          f"{paths.display(interview.file)} and `mlkata interview --resume` watches it again.", file=out)
    return 1
