"""The catalog is the single source of truth: every entry is complete and consistent."""

from __future__ import annotations

import ast

import pytest

from mlkata import bugs, catalog, paths

EXERCISES = catalog.load()


def test_names_are_unique_and_ordered_by_dependency():
    seen: list[str] = []
    for ex in EXERCISES:
        assert ex.name not in seen, f"{ex.name} is listed twice"
        for dep in ex.builds_on:
            assert dep in seen, f"{ex.name} builds on {dep}, which must come earlier in catalog.toml"
        seen.append(ex.name)


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda e: e.name)
def test_every_exercise_is_complete(ex):
    assert ex.solution.is_file(), f"missing {paths.display(ex.solution)}"
    assert ex.stub.is_file(), f"missing {paths.display(ex.stub)} (run `mlkata stubs`)"
    assert ex.test_file.is_file(), f"missing {paths.display(ex.test_file)}"
    assert len(ex.hints) >= 3, f"{ex.name} needs at least three progressive hints"
    assert ex.topics and ex.title
    assert len(bugs.load(ex.name)) >= 8, f"{ex.name} needs at least 8 cataloged bugs in bugs/{ex.name}.toml"


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda e: e.name)
def test_imports_between_exercises_are_declared(ex):
    """A relative import of another exercise must be listed in builds_on (the grader relies on it)."""
    tree = ast.parse(ex.solution.read_text())
    imported = {node.module for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module}
    assert imported <= set(ex.builds_on), f"{ex.name} imports {imported - set(ex.builds_on)} without declaring it"


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda e: e.name)
def test_every_test_has_a_target(ex):
    """Each test is grouped under the contract function it grades."""
    tree = ast.parse(ex.test_file.read_text())
    assert "EXERCISE" in ex.test_file.read_text(), f"{ex.test_file.name} must set EXERCISE = {ex.name!r}"
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name.lower().startswith("test"):
            marks = [ast.unparse(d) for d in node.decorator_list]
            assert any("target" in m for m in marks), f"{ex.test_file.name}:{node.lineno} {node.name} lacks @pytest.mark.target(...)"


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda e: e.name)
def test_solutions_obey_their_own_bans(ex):
    from mlkata.banned import find_violations

    assert find_violations(ex.solution.read_text(), ex.banned, ex.banned_imports) == []
