"""The debugging track: a worked solution with N cataloged bugs planted, for the learner to find.

`make_debug_file` writes `exercises/debug/<exercise>.py` (seeded, reproducible) and records
which bugs were planted in `<MLKATA_HOME>/debug/<exercise>.json`, so `mlkata check
debug/<exercise>` can say how many remain without naming them.
"""

from __future__ import annotations

import io
import json
import random
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

from mlkata import backups, bugs, catalog, paths

HEADER = '''\
# mlkata debugging track: {exercise} (seed {seed})
#
# This is an implementation of `{exercise}` with {n} bug{s} planted in it: the kind of
# mistakes real code and interviewers are full of. Find and fix {them}. The tests say what is
# wrong, not where:
#
#     make check EX=debug/{exercise}
#
# Stuck? `mlkata hint {exercise}` helps with the ideas; `mlkata debug {exercise} --reveal` names the bugs.

'''


@dataclass(frozen=True)
class Planted:
    exercise: str
    seed: int
    bug_ids: tuple[str, ...]
    file: Path


def debug_file(exercise: str) -> Path:
    return paths.EXERCISES / "debug" / f"{exercise}.py"


def _state_file(exercise: str) -> Path:
    return paths.home() / "debug" / f"{exercise}.json"


def strip_comments(source: str) -> str:
    """`source` without comments (they would give the planted bugs away); docstrings stay."""
    lines = source.splitlines(keepends=True)
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    for tok in reversed([t for t in tokens if t.type == tokenize.COMMENT]):
        row, col = tok.start
        code = lines[row - 1][:col].rstrip()
        lines[row - 1] = code + "\n" if code else ""
    return "".join(lines)


def _fingerprint(text: str) -> str:
    """A bug's replacement text as it appears once comments are stripped."""
    return "\n".join(re.sub(r"\s+#.*$", "", line).rstrip() for line in text.strip().splitlines())


def choose_bugs(exercise: str, n: int, seed: int) -> list[bugs.Bug]:
    """`n` cataloged bugs that can be planted together (seeded; overlapping patches are skipped)."""
    source = catalog.get(exercise).solution.read_text()
    candidates = list(bugs.load(exercise))
    random.Random(seed).shuffle(candidates)
    chosen: list[bugs.Bug] = []
    for bug in candidates:
        if len(chosen) == n:
            break
        if source.count(bug.find) == 1 and _fingerprint(bug.replace):
            source = source.replace(bug.find, bug.replace)
            chosen.append(bug)
    return chosen


def make_debug_file(exercise: str, n_bugs: int = 3, seed: int = 0) -> tuple[Planted, Path | None]:
    """Write the debug file; an existing one is first backed up. Returns (planted, backup path)."""
    entry = catalog.get(exercise)
    chosen = choose_bugs(exercise, n_bugs, seed)
    if not chosen:
        raise bugs.BugError(f"{exercise} has no cataloged bugs to plant")
    source = strip_comments(bugs.apply(entry.solution.read_text(), *chosen))
    header = HEADER.format(exercise=exercise, seed=seed, n=len(chosen), s="s" * (len(chosen) > 1),
                           them="them" if len(chosen) > 1 else "it")
    target = debug_file(exercise)
    backup = backups.backup(target)  # never overwrite the learner's work without a copy
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(header + source)
    planted = Planted(exercise, seed, tuple(b.id for b in chosen), target)
    state = _state_file(exercise)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"seed": seed, "bugs": list(planted.bug_ids)}, indent=2))
    return planted, backup


def planted(exercise: str) -> list[bugs.Bug]:
    """The bugs planted in the current debug file (empty if unknown)."""
    state = _state_file(exercise)
    if not state.is_file():
        return []
    ids = set(json.loads(state.read_text()).get("bugs", []))
    return [b for b in bugs.load(exercise) if b.id in ids]


def remaining(exercise: str, source: str) -> list[bugs.Bug]:
    """Planted bugs whose code is still in `source` (a fixed line no longer matches)."""
    original = strip_comments(catalog.get(exercise).solution.read_text())
    return [b for b in planted(exercise)
            if source.count(_fingerprint(b.replace)) > original.count(_fingerprint(b.replace))]
