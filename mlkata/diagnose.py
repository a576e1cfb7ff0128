"""Name the learner's likely bug.

When a check fails with a `Mismatch` that can re-run its call (`tests.helpers.check_call`),
the same call is repeated on each cataloged buggy variant of the worked solution. If the
learner's output matches a variant's (within the check's tolerance), that bug's explanation
is the diagnosis. No match, no guess; a passing check is never diagnosed.
"""

from __future__ import annotations

import math
import numbers
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from mlkata import bugs, paths
from mlkata.loader import LearnerModule, load_exercise

_MUTANTS = Path(tempfile.mkdtemp(prefix="mlkata-diagnose-"))


@lru_cache(maxsize=None)
def _mutant(bug: bugs.Bug) -> LearnerModule:
    folder = _MUTANTS / bug.id
    folder.mkdir(exist_ok=True)
    file = folder / f"{bug.exercise}.py"
    file.write_text(bugs.mutant_source(bug))
    return load_exercise(bug.exercise, paths.SOLUTIONS, file=file)


def _same(a: Any, b: Any, atol: float, rtol: float) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.shape != b.shape:
            return False
        a, b = a.detach().double().cpu(), b.detach().double().cpu()
        return bool(torch.isclose(a, b, atol=atol, rtol=rtol, equal_nan=True).all())
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y, atol, rtol) for x, y in zip(a, b))
    if isinstance(a, numbers.Real) and isinstance(b, numbers.Real):
        return math.isclose(a, b, rel_tol=rtol, abs_tol=atol) or (math.isnan(a) and math.isnan(b))
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - incomparable values simply do not match
        return False


def likely_bugs(exercise: str, error: BaseException) -> list[bugs.Bug]:
    """The cataloged bugs whose output equals the learner's on the failing call."""
    rerun = getattr(error, "rerun", None)
    actual = getattr(error, "actual", None)
    if rerun is None or actual is None:
        return []
    atol, rtol = max(getattr(error, "atol", 0.0), 1e-12), max(getattr(error, "rtol", 0.0), 1e-9)
    matches = []
    for bug in bugs.load(exercise):
        try:
            # fork_rng: a rerun must not shift the learner's random stream; warnings from a
            # buggy variant (e.g. var() of one element) are not the learner's to read.
            with torch.random.fork_rng(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                output = rerun(_mutant(bug))
        except Exception:  # noqa: BLE001 - a variant that raises here simply does not match
            continue
        if _same(output, actual, atol, rtol):
            matches.append(bug)
    return matches


def diagnosis(exercise: str, error: BaseException) -> str:
    """`Likely bug` text for a failing check, or "" when no cataloged bug explains it."""
    found = likely_bugs(exercise, error)
    if not found:
        return ""
    return " Or: ".join(bug.explanation for bug in found[:2])
