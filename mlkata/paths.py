"""Where things live. Every path the tool uses is derived here, from the repo root."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "catalog.toml"
EXERCISES = ROOT / "exercises"
SOLUTIONS = ROOT / "solutions"
REFERENCE = ROOT / "reference"
TESTS = ROOT / "tests"
BUGS = ROOT / "bugs"


def home() -> Path:
    """The learner's private state (progress, backups): `.mlkata/`, or $MLKATA_HOME."""
    return Path(os.environ.get("MLKATA_HOME") or ROOT / ".mlkata")


def resolve_impl(impl: str | os.PathLike[str]) -> Path:
    """`exercises`, `solutions`, or any folder laid out like them (relative to cwd or root)."""
    text = str(impl)
    if text == "exercises":
        return EXERCISES
    if text == "solutions":
        return SOLUTIONS
    path = Path(text).expanduser()
    if not path.is_absolute() and not path.exists() and (ROOT / path).exists():
        path = ROOT / path
    return path.resolve()


def display(path: Path) -> str:
    """A path as the learner would type it: relative to the repo root when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
