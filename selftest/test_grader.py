"""The grader's own behaviour: honest verdicts, and clear messages for broken learner code."""

from __future__ import annotations

import pytest

from mlkata import catalog, grader, report, stubs
from selftest.conftest import exercises_with_solutions, patched, solution_source

SOFTMAX_RETURN = "return exp / exp.sum(dim=dim, keepdim=True).clamp_min(1.0)"


def grade(folder, name="attention", **kwargs) -> grader.GradeResult:
    return grader.grade(name, folder, **kwargs)


def messages(result: grader.GradeResult) -> str:
    return "\n".join(c.message for c in result.checks if c.outcome == "failed")


@pytest.mark.parametrize("name", exercises_with_solutions())
def test_generated_stub_fails_every_contract_function(name, tmp_path):
    """Every function's checks fail on a fresh stub, so no check passes without work."""
    stubs.write_stubs(tmp_path, [name])
    result = grade(tmp_path, name)
    assert not result.problems, result.problems
    for target, checks in result.by_target().items():
        if target == "from scratch":
            continue
        assert any(c.outcome == "failed" for c in checks), f"{name}: the stub passes every check of {target}"
        assert all(c.kind == "not-implemented" for c in checks if c.outcome == "failed"), \
            f"{name}/{target}: a stub failure that is not 'not implemented yet'"


def test_solution_grades_clean_through_the_grader():
    result = grade("solutions")
    assert result.ok, report.format_result(result)
    assert "attention: 22/22 checks pass" in report.format_result(result) or result.passed == result.total


def test_syntax_error_names_file_and_line(learner_folder):
    folder = learner_folder(attention=patched("attention", "def softmax(", "def softmax(("))
    result = grade(folder)
    text = report.format_result(result)
    assert not result.ok and "does not parse" in text and "line" in text and "attention.py" in text
    assert text.count("does not parse") == 1, "the load error should be said once, not per check"


def test_error_at_import_is_reported(learner_folder):
    folder = learner_folder(attention="import torch\nundefined_name + 1\n")
    result = grade(folder)
    assert "NameError" in messages(result) and "line 2" in messages(result)


def test_missing_function_is_named(learner_folder):
    source = patched("attention", "def softmax(", "def soft_max(")
    result = grade(learner_folder(attention=source))
    assert "does not define `softmax`" in messages(result)


def test_none_return_is_explained(learner_folder):
    source = patched("attention", SOFTMAX_RETURN, "pass")
    result = grade(learner_folder(attention=source))
    assert "returned None" in messages(result) and "`return`" in messages(result)


def test_wrong_shape_is_explained(learner_folder):
    source = patched("attention", "return softmax(scores, dim=-1) @ v", "return (softmax(scores, dim=-1) @ v).transpose(-1, -2)")
    result = grade(learner_folder(attention=source))
    assert "returned shape" in messages(result) and "expected" in messages(result)


def test_learner_exception_points_at_their_line(learner_folder):
    source = patched("attention", "exp = torch.exp_(x - row_max)", "exp = torch.exp_(x - row_max) @ torch.ones(7, 3)")
    result = grade(learner_folder(attention=source))
    assert "raised RuntimeError" in messages(result) and "attention.py line" in messages(result)


def test_infinite_loop_times_out_with_a_message(learner_folder):
    source = patched("attention", "exp = torch.exp_(x - row_max)", "while True:\n        pass")
    result = grade(learner_folder(attention=source), extra_args=["--timeout=1", "-k", "huge_inputs"])
    assert result.checks and all(c.kind == "timeout" for c in result.checks if c.outcome == "failed")
    assert "infinite" in messages(result) and "softmax" in messages(result)


def test_banned_api_fails_the_exercise_with_the_line(learner_folder):
    source = solution_source("attention") + "\n\nbuiltin = torch.nn.functional.softmax  # behaviour unchanged\n"
    result = grade(learner_folder(attention=source))
    failing = [c for c in result.checks if c.outcome == "failed"]
    assert [c.target for c in failing] == ["from scratch"] and "`.softmax`" in failing[0].message
    assert not result.ok


def test_stub_report_says_not_implemented(tmp_path):
    stubs.write_stubs(tmp_path, ["attention"])
    text = report.format_result(grade(tmp_path))
    assert "not implemented yet" in text and "checks pass" in text


def test_explicit_file_is_graded(learner_folder, tmp_path):
    (tmp_path / "debug").mkdir()
    file = tmp_path / "debug" / "attention.py"
    file.write_text(solution_source("attention"))
    result = grader.grade("attention", tmp_path, file=file)
    assert result.ok and result.file == file


def test_missing_file_is_a_clear_failure(tmp_path):
    assert "does not exist" in messages(grade(tmp_path))


def test_every_cataloged_exercise_has_tests_collected():
    for ex in catalog.load():
        assert ex.test_file.is_file()
