"""Mutation testing: every cataloged bug, applied alone to the worked solution, must make
its exercise's tests fail. This is how the kit proves its tests can catch real mistakes."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlkata import bugs, grader


@dataclass
class MutantResult:
    bug: bugs.Bug
    caught: bool
    caught_by: str  # the first failing check's title (empty when the bug survived)
    message: str
    diagnosis: str  # what the grader's "Likely bug" said about the first failure

    @property
    def diagnosed(self) -> bool:
        """The grader named this very bug."""
        return self.bug.explanation in self.diagnosis


def run(exercise: str) -> list[MutantResult]:
    """Grade each of `exercise`'s mutants, stopping each at its first failing check."""
    results = []
    with tempfile.TemporaryDirectory(prefix=f"mlkata-mutants-{exercise}-") as tmp:
        for i, bug in enumerate(bugs.load(exercise)):
            folder = Path(tmp) / f"m{i}"
            folder.mkdir()
            (folder / f"{exercise}.py").write_text(bugs.mutant_source(bug))
            result = grader.grade(exercise, folder, extra_args=["-x"])
            failed = [c for c in result.checks if c.outcome == "failed"]
            first = failed[0] if failed else None
            results.append(MutantResult(bug, bool(failed), first.title if first else "",
                                        first.message if first else "", first.diagnosis if first else ""))
    return results


def format_scores(results_by_exercise: dict[str, list[MutantResult]]) -> str:
    lines = []
    for exercise, results in results_by_exercise.items():
        caught = sum(r.caught for r in results)
        named = sum(r.diagnosed for r in results)
        lines.append(f"{exercise}: {caught}/{len(results)} cataloged bugs caught, "
                     f"{named} named by the diagnosis at the first failing check")
        lines += [f"  SURVIVED {r.bug.id}: {r.bug.explanation}" for r in results if not r.caught]
    return "\n".join(lines)
