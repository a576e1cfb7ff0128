"""Where an exercise stands: not in the kit yet, not started, in progress, or passing.

One definition, used by `mlkata list`, `watch`, `interview --random` and `grade`:

- not in the kit yet: the catalog lists it, but its solution or tests have not landed;
- not started: the learner's file is missing or still exactly the generated stub;
- passing: the latest graded attempt (check or watch) passed every check;
- in progress: otherwise.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from mlkata import catalog, paths, stubs
from mlkata.progress import ExerciseProgress

NOT_AVAILABLE = "not in the kit yet"
NOT_STARTED = "not started"
IN_PROGRESS = "in progress"
PASSING = "passing"


def available(exercise: catalog.Exercise) -> bool:
    """The kit has what it takes to grade the exercise and to write its stub."""
    return exercise.solution.is_file() and exercise.test_file.is_file()


def learner_file(name: str, folder: Path | None = None) -> Path:
    """The learner's file for exercise `name` (in `exercises/`, or `folder`)."""
    return (folder or paths.EXERCISES) / f"{name}.py"


def pristine(exercise: catalog.Exercise, folder: Path | None = None) -> bool:
    """The learner's file is missing or still exactly the generated stub."""
    file = learner_file(exercise.name, folder)
    if not file.is_file():
        return True
    try:
        return file.read_text() == stubs.expected_stub(exercise.name)
    except (OSError, UnicodeDecodeError, SyntaxError, stubs.StubError):
        return False


def of(exercise: catalog.Exercise, record: ExerciseProgress | None, folder: Path | None = None) -> str:
    """The status of one exercise, from its progress record (None: nothing recorded)."""
    if not available(exercise):
        return NOT_AVAILABLE
    if pristine(exercise, folder):
        return NOT_STARTED
    return PASSING if record is not None and record.last_ok else IN_PROGRESS


def of_result(exercise: catalog.Exercise, ok: bool, folder: Path | None = None) -> str:
    """The status of one exercise just graded (`ok`: every check passed)."""
    if ok:
        return PASSING
    return NOT_STARTED if pristine(exercise, folder) else IN_PROGRESS


def next_to_do(records: dict[str, ExerciseProgress], after: str | None = None,
               skip: Collection[str] = (), folder: Path | None = None) -> str | None:
    """The next available exercise that is not passing: the first in catalog order, or, given
    `after`, the first one after it (wrapping round to the start). Names in `skip` are passed over."""
    exercises = list(catalog.load())
    names = [ex.name for ex in exercises]
    start = names.index(after) + 1 if after in names else 0
    for exercise in exercises[start:] + exercises[:start]:
        if exercise.name == after or exercise.name in skip or not available(exercise):
            continue
        if of(exercise, records.get(exercise.name), folder) != PASSING:
            return exercise.name
    return None
