"""Shared fixtures for the kit's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkata import catalog


@pytest.fixture
def learner_folder(tmp_path: Path):
    """Write learner files into a fresh folder: `learner_folder(attention="...source...")`."""
    def write(**files: str) -> Path:
        for name, source in files.items():
            (tmp_path / f"{name}.py").write_text(source)
        return tmp_path
    return write


def solution_source(name: str) -> str:
    return catalog.get(name).solution.read_text()


def patched(name: str, old: str, new: str) -> str:
    """The solution of `name` with `old` replaced by `new`; `old` must be there (a test
    whose patch silently matched nothing would grade the untouched solution)."""
    source = solution_source(name)
    assert source.count(old) == 1, f"solutions/{name}.py no longer contains {old!r}: update this test"
    return source.replace(old, new)


def exercises_with_solutions() -> list[str]:
    return [ex.name for ex in catalog.load() if ex.solution.is_file()]
