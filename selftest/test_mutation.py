"""Every cataloged bug must be caught by its exercise's tests (mutation score 100 %)."""

from __future__ import annotations

import pytest

from mlkata import bugs, mutation
from selftest.conftest import exercises_with_solutions


@pytest.mark.parametrize("name", exercises_with_solutions())
def test_every_cataloged_bug_applies_to_its_solution(name):
    for bug in bugs.load(name):
        bugs.mutant_source(bug)  # raises BugError when the entry no longer applies


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", exercises_with_solutions())
def test_every_cataloged_bug_is_caught(name):
    results = mutation.run(name)
    survived = [r for r in results if not r.caught]
    print(mutation.format_scores({name: results}))
    assert not survived, mutation.format_scores({name: results})
