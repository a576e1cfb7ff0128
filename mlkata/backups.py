"""Backups of the learner's files, so that nothing `reset`, `restore` or `debug` does loses work.

Before anything overwrites a learner's file, `backup(file)` copies it to
`<home>/backups/<label>-<YYYYmmdd-HHMMSS>.py` (`.mlkata/backups/`), where the label is the
exercise name (`attention`) or, for the debugging track's `exercises/debug/attention.py`,
`debug-attention`. `mlkata backups` lists them; `mlkata restore` copies one back (backing up
the file it replaces first). Backups are never deleted by the tool.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from mlkata import paths

STAMP = "%Y%m%d-%H%M%S"
_NAME = re.compile(r"^(?P<label>.+)-(?P<stamp>\d{8}-\d{6})(?P<n>(?:-\d+)*)\.py$")
DEBUG_PREFIX = "debug-"


def folder() -> Path:
    return paths.home() / "backups"


@dataclass(frozen=True)
class Backup:
    path: Path
    label: str  # "attention", or "debug-attention" for exercises/debug/attention.py
    when: float  # Unix time, from the name's stamp
    n: tuple[int, ...] = ()  # the tie-breaker of backups made within one second

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def target(self) -> Path:
        """The learner's file this is a backup of."""
        if self.label.startswith(DEBUG_PREFIX):
            return paths.EXERCISES / "debug" / f"{self.label.removeprefix(DEBUG_PREFIX)}.py"
        return paths.EXERCISES / f"{self.label}.py"


class BackupError(Exception):
    """No backup matches what the learner asked for. `str()` says what there is."""


def label_for(file: Path) -> str:
    """`exercises/attention.py` -> "attention"; `exercises/debug/attention.py` -> "debug-attention"."""
    file = file.resolve()
    if file.parent == (paths.EXERCISES / "debug").resolve():
        return DEBUG_PREFIX + file.stem
    return file.stem


def parse(path: Path) -> Backup | None:
    match = _NAME.match(path.name)
    if not match:
        return None
    when = time.mktime(time.strptime(match["stamp"], STAMP))
    n = tuple(int(part) for part in match["n"].split("-") if part)
    return Backup(path, match["label"], when, n)


def list_backups(label: str | None = None) -> list[Backup]:
    """Every backup (of one label), oldest first."""
    if not folder().is_dir():
        return []
    found = [b for p in folder().glob("*.py") if (b := parse(p)) is not None]
    if label is not None:
        found = [b for b in found if b.label == label]
    return sorted(found, key=lambda b: (b.when, b.n, b.name))


def backup(file: Path) -> Path | None:
    """Copy `file` into the backups folder; returns the copy (None if `file` does not exist).

    When the newest backup of the same file already has identical contents, that one is
    returned instead of writing a duplicate.
    """
    if not file.is_file():
        return None
    label = label_for(file)
    content = file.read_bytes()
    existing = list_backups(label)
    if existing and existing[-1].path.read_bytes() == content:
        return existing[-1].path
    folder().mkdir(parents=True, exist_ok=True)
    stamp = time.strftime(STAMP)
    target = folder() / f"{label}-{stamp}.py"
    n = 1
    while target.exists():
        target = folder() / f"{label}-{stamp}-{n}.py"
        n += 1
    shutil.copyfile(file, target)
    return target


def find(spec: str) -> Backup:
    """The backup `spec` names: its number in `mlkata backups`, its file name (with or without
    `.py`, or a path to it), or an exercise name (its newest backup)."""
    every = list_backups()
    if not every:
        raise BackupError(f"there are no backups yet (they are made in {paths.display(folder())} "
                          "whenever `mlkata reset` or `restore` replaces a file)")
    if spec.isdigit():
        if 1 <= int(spec) <= len(every):
            return every[int(spec) - 1]
        raise BackupError(f"there is no backup number {spec}: `mlkata backups` numbers them 1 to {len(every)}")
    name = Path(spec).name
    for b in every:
        if name in (b.name, b.path.stem):
            return b
    label = DEBUG_PREFIX + spec.removeprefix("debug/") if spec.startswith("debug/") else spec
    newest = [b for b in every if b.label == label]
    if newest:
        return newest[-1]
    raise BackupError(f"no backup called {spec!r}; `mlkata backups` lists them")


def restore(chosen: Backup, *, keep_current: bool = True) -> tuple[Path, Path | None]:
    """Copy `chosen` back over its file; returns (the file, the backup made of what it replaced).

    `keep_current=False` skips that backup (the caller knows the file is a pristine stub).
    """
    target = chosen.target
    saved = None
    if keep_current and target.is_file() and target.read_bytes() != chosen.path.read_bytes():
        saved = backup(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(chosen.path, target)
    return target, saved
