"""The grader names a learner's likely bug only when a cataloged bug explains the output."""

from __future__ import annotations

from mlkata import bugs, grader, report
from selftest.conftest import patched


def bug(exercise: str, bug_id: str) -> bugs.Bug:
    return next(b for b in bugs.load(exercise) if b.id == bug_id)


def test_a_cataloged_bug_is_named(learner_folder):
    scale = bug("attention", "scale-by-value-dim")
    folder = learner_folder(attention=bugs.mutant_source(scale))
    result = grader.grade("attention", folder)
    diagnosed = [c for c in result.checks if c.diagnosis]
    assert diagnosed and all(scale.explanation in c.diagnosis for c in diagnosed)
    assert "Likely bug: " in report.format_result(result)


def test_module_bugs_are_named_too(learner_folder):
    merge = bug("attention", "heads-merged-without-transpose")
    result = grader.grade("attention", learner_folder(attention=bugs.mutant_source(merge)))
    assert any(merge.explanation in c.diagnosis for c in result.checks if c.target == "MultiHeadAttention")


def test_no_guess_for_an_uncataloged_bug(learner_folder):
    source = patched("attention", "return softmax(scores, dim=-1) @ v", "return 2 * softmax(scores, dim=-1) @ v")
    result = grader.grade("attention", learner_folder(attention=source))
    assert not result.ok
    assert not any(c.diagnosis for c in result.checks)


def test_no_guess_on_passing_checks():
    result = grader.grade("attention", "solutions")
    assert result.ok and not any(c.diagnosis for c in result.checks)


def test_diagnosis_can_be_turned_off(learner_folder):
    folder = learner_folder(attention=bugs.mutant_source(bug("attention", "scale-by-value-dim")))
    result = grader.grade("attention", folder, diagnose=False)
    assert not result.ok and not any(c.diagnosis for c in result.checks)
