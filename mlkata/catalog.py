"""The exercise catalog (`catalog.toml`): order, topics, dependencies, banned APIs, hints."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from mlkata import paths


@dataclass(frozen=True)
class Exercise:
    name: str
    title: str
    topics: tuple[str, ...]
    builds_on: tuple[str, ...]
    banned: tuple[str, ...]
    banned_imports: tuple[str, ...]
    hints: tuple[str, ...] = field(default=())

    @property
    def solution(self) -> Path:
        return paths.SOLUTIONS / f"{self.name}.py"

    @property
    def stub(self) -> Path:
        return paths.EXERCISES / f"{self.name}.py"

    @property
    def test_file(self) -> Path:
        return paths.TESTS / f"test_{self.name}.py"

    @property
    def bug_file(self) -> Path:
        return paths.BUGS / f"{self.name}.toml"


class CatalogError(Exception):
    """The catalog is malformed, or names an exercise that does not exist."""


@lru_cache(maxsize=None)
def load(path: Path = paths.CATALOG) -> tuple[Exercise, ...]:
    """All exercises, in learning order."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    always_banned = tuple(data.get("defaults", {}).get("banned_imports", ()))
    exercises = []
    for entry in data.get("exercise", []):
        try:
            exercises.append(Exercise(
                name=entry["name"],
                title=entry["title"],
                topics=tuple(entry.get("topics", ())),
                builds_on=tuple(entry.get("builds_on", ())),
                banned=tuple(entry.get("banned", ())),
                banned_imports=always_banned + tuple(entry.get("banned_imports", ())),
                hints=tuple(entry.get("hints", ())),
            ))
        except KeyError as missing:
            raise CatalogError(f"{path.name}: an exercise entry lacks {missing}") from None
    return tuple(exercises)


def names() -> list[str]:
    return [ex.name for ex in load()]


def get(name: str) -> Exercise:
    """The exercise called `name`; a `CatalogError` listing the choices otherwise."""
    for ex in load():
        if ex.name == name:
            return ex
    raise CatalogError(f"no exercise called {name!r}; choose one of: {', '.join(names())}")
