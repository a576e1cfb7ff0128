"""`mlkata bench`: time a learner's implementation against torch's built-in for the same job.

`framework` holds the machinery (timing with warm-up and repeats, peak memory, rows that say
"not implemented yet" instead of a traceback); every other module here is the benchmark of
the exercise it is named after and defines `EXERCISE` and `cases(ctx)`. `grader` times
`mlkata check` itself. docs/benchmarks.md explains the method and records the numbers.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

NOT_CASES = {"framework", "grader"}  # modules of this package that benchmark no exercise


def available() -> list[str]:
    """The exercises that have a benchmark, in the catalog's learning order."""
    from mlkata import catalog

    here = {m.name for m in pkgutil.iter_modules(__path__)} - NOT_CASES
    return [name for name in catalog.names() if name in here]


def cases_module(exercise: str) -> ModuleType:
    """`mlkata.bench.<exercise>`, the module whose `cases(ctx)` benchmarks that exercise."""
    return importlib.import_module(f"{__name__}.{exercise}")
