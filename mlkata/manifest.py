"""Fingerprints of the files that decide a grade, so a changed test cannot pass unnoticed.

`tests.manifest.json` (committed at the repo root) holds the SHA-256 of every file under
`tests/` and `reference/`, and of `catalog.toml` (its banned-API lists are part of the
grade). `mlkata grade` compares them with the working tree and names every file that was
changed, added or removed; in CI that fails the run. Maintainers refresh the manifest with
`mlkata manifest --update` whenever they change a test (a self-test says when it is stale).

Line endings are normalised before hashing, so a Windows checkout (CRLF) matches.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from mlkata import paths

FILE_NAME = "tests.manifest.json"
GUARDED_FOLDERS = ("tests", "reference")
GUARDED_FILES = ("catalog.toml",)


class ManifestError(Exception):
    """The manifest is missing or malformed. `str()` says what to do."""


@dataclass(frozen=True)
class Change:
    path: str  # relative to the repo root, with forward slashes
    kind: str  # "changed" | "added" | "removed"

    @property
    def what(self) -> str:
        return {"changed": "differs from the kit's version",
                "added": "is not part of the kit (added)",
                "removed": "is missing (removed)"}[self.kind]

    def __str__(self) -> str:
        return f"{self.path} {self.what}"


def _digest(file: Path) -> str:
    return hashlib.sha256(file.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def guarded_files(root: Path = paths.ROOT) -> list[Path]:
    """Every file whose contents the manifest pins, sorted."""
    found = [root / name for name in GUARDED_FILES if (root / name).is_file()]
    for folder in GUARDED_FOLDERS:
        for file in (root / folder).rglob("*"):
            parts = file.relative_to(root).parts
            if file.is_file() and "__pycache__" not in parts and not any(p.startswith(".") for p in parts) \
                    and file.suffix != ".pyc":
                found.append(file)
    return sorted(found)


def current(root: Path = paths.ROOT) -> dict[str, str]:
    """{relative path: sha256} for the working tree."""
    return {file.relative_to(root).as_posix(): _digest(file) for file in guarded_files(root)}


def write(root: Path = paths.ROOT) -> Path:
    """(Maintainers) record the current fingerprints in `tests.manifest.json`."""
    path = root / FILE_NAME
    data = {"about": "SHA-256 of the files that decide a grade; `mlkata manifest --update` rewrites it.",
            "files": current(root)}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def recorded(root: Path = paths.ROOT) -> dict[str, str]:
    path = root / FILE_NAME
    try:
        files = json.loads(path.read_text())["files"]
    except FileNotFoundError:
        raise ManifestError(f"{FILE_NAME} is missing: the kit cannot tell whether its tests were changed "
                            "(maintainers: `mlkata manifest --update`)") from None
    except (ValueError, KeyError, TypeError) as err:
        raise ManifestError(f"{FILE_NAME} is malformed ({err}); restore it with `git checkout {FILE_NAME}`") from None
    if not isinstance(files, dict):
        raise ManifestError(f"{FILE_NAME} is malformed (\"files\" is not a mapping)")
    return files


def compare(root: Path = paths.ROOT) -> list[Change]:
    """Every difference between the working tree and the manifest, by path."""
    expected, actual = recorded(root), current(root)
    changes = [Change(p, "changed") for p in expected if p in actual and actual[p] != expected[p]]
    changes += [Change(p, "removed") for p in expected if p not in actual]
    changes += [Change(p, "added") for p in actual if p not in expected]
    return sorted(changes, key=lambda c: c.path)
