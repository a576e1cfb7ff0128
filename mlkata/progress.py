"""The learner's progress: every graded attempt, hint, peek, interview and benchmark, in SQLite.

The store lives at `<home>/progress.db` (`.mlkata/progress.db`, or `$MLKATA_HOME`), is
git-ignored, and is only ever opened after grading, so `mlkata check` stays fast.

- Each public function opens its own connection and does its work in one transaction
  (`BEGIN IMMEDIATE` for writes), so two `mlkata check` runs at once are safe: SQLite
  serialises them and the second waits up to `TIMEOUT` seconds for the first.
- The schema carries a version (`PRAGMA user_version`); `MIGRATIONS[i]` upgrades version
  `i` to `i + 1`, applied in order the first time a newer kit opens an older store.
- Anything wrong with the file (corrupt, unreadable, from a newer kit) raises
  `ProgressError`, whose text tells the learner what happened and how to get out
  (`mlkata progress --reset-progress`); the commands print it instead of a traceback.

Times are Unix seconds (`time.time()`); `mode` is how an attempt was graded: "check",
"watch" (both count towards learning an exercise), "interview" (blank-slate, timed) or
"debug" (the debugging track).
"""

from __future__ import annotations

import functools
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mlkata import paths

MODES = ("check", "watch", "interview", "debug")
LEARNING_MODES = ("check", "watch")  # the attempts that make an exercise "passing"
TIMEOUT = 30.0  # seconds a writer waits for another one to finish

MIGRATIONS: list[str] = [
    # 0 -> 1: the first schema.
    """
    CREATE TABLE attempts (
        id       INTEGER PRIMARY KEY,
        exercise TEXT NOT NULL,
        mode     TEXT NOT NULL,
        at       REAL NOT NULL,
        passed   INTEGER NOT NULL,
        total    INTEGER NOT NULL,
        ok       INTEGER NOT NULL,
        seconds  REAL,              -- time the learner spent, where the mode measures it
        file     TEXT
    );
    CREATE INDEX attempts_by_exercise ON attempts (exercise, mode, at);
    CREATE TABLE hints (
        exercise TEXT NOT NULL,
        number   INTEGER NOT NULL,  -- 1-based
        at       REAL NOT NULL,
        PRIMARY KEY (exercise, number)
    );
    CREATE TABLE peeks (
        exercise TEXT NOT NULL,
        at       REAL NOT NULL
    );
    CREATE TABLE interviews (
        id          INTEGER PRIMARY KEY,
        exercise    TEXT NOT NULL,
        started_at  REAL NOT NULL,
        minutes     REAL NOT NULL,
        folder      TEXT NOT NULL,
        finished_at REAL,
        seconds     REAL             -- time to green
    );
    CREATE TABLE benchmarks (
        id       INTEGER PRIMARY KEY,
        at       REAL NOT NULL,
        exercise TEXT NOT NULL,
        "case"   TEXT NOT NULL,
        impl     TEXT NOT NULL,
        metric   TEXT NOT NULL,
        value    REAL NOT NULL
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class ProgressError(Exception):
    """The progress store cannot be used. `str()` is a message for the learner."""


class Graded(Protocol):
    """What `record_attempt` needs from a result: `mlkata.grader.GradeResult` fits."""

    exercise: str
    file: Path

    @property
    def passed(self) -> int: ...
    @property
    def total(self) -> int: ...
    @property
    def ok(self) -> bool: ...


def db_path() -> Path:
    return paths.home() / "progress.db"


def _way_out(path: Path) -> str:
    return (f"Your exercises are untouched. `mlkata progress --reset-progress` moves "
            f"{paths.display(path)} aside (nothing is deleted) and starts a fresh record.")


@contextmanager
def _connect(write: bool) -> Iterator[sqlite3.Connection]:
    """A connection inside one transaction, migrated to `SCHEMA_VERSION`; commits on success."""
    path = db_path()
    db: sqlite3.Connection | None = None
    try:
        if not write and not path.exists():
            db = sqlite3.connect(":memory:", isolation_level=None)  # nothing recorded yet
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=TIMEOUT, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("BEGIN IMMEDIATE" if write or db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION
                   else "BEGIN")
        _migrate(db, path)
        yield db
        db.execute("COMMIT")
    except sqlite3.Error as err:
        raise _explain(err, path) from None
    except OSError as err:  # the folder cannot be created
        raise ProgressError(f"cannot create the progress record {paths.display(path)} ({err}): "
                            "check that its folder is writable, or set MLKATA_HOME.") from None
    except BaseException:
        if db is not None and db.in_transaction:
            db.execute("ROLLBACK")
        raise
    finally:
        if db is not None:
            db.close()


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the store to `SCHEMA_VERSION`, inside the caller's (write-locked) transaction."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise ProgressError(
            f"{paths.display(path)} was written by a newer mlkata (schema {version}; this kit "
            f"knows {SCHEMA_VERSION}). Update the kit (`git pull`), or: {_way_out(path)}")
    for number in range(version, SCHEMA_VERSION):
        # executescript would COMMIT first; run the statements one by one inside our transaction.
        for statement in MIGRATIONS[number].split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {number + 1}")


def _explain(err: sqlite3.Error, path: Path) -> ProgressError:
    text = str(err)
    if "locked" in text or "busy" in text:
        return ProgressError(f"{paths.display(path)} stayed locked by another mlkata for {TIMEOUT:.0f} s "
                             f"({text}); try again.")
    if "unable to open" in text or "readonly" in text or "read-only" in text:
        return ProgressError(f"cannot write the progress record {paths.display(path)} ({text}): "
                             f"check that the folder exists and is writable, or set MLKATA_HOME.")
    return ProgressError(f"the progress record {paths.display(path)} is unreadable ({text}). {_way_out(path)}")


def reset_progress() -> Path | None:
    """Move the store aside (to `progress.db.old-<time>`) and return where it went; None if absent."""
    path = db_path()
    if not path.exists():
        return None
    aside = path.with_name(f"{path.name}.old-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while aside.exists():
        aside = aside.with_name(f"{path.name}.old-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
        n += 1
    path.rename(aside)
    for suffix in ("-journal", "-wal", "-shm"):
        leftover = path.with_name(path.name + suffix)
        if leftover.exists():
            leftover.rename(aside.with_name(aside.name + suffix))
    return aside


def friendly(run: Callable[..., int]) -> Callable[..., int]:
    """Wrap a command's `run` so a `ProgressError` is a message and exit status 2, not a traceback."""
    @functools.wraps(run)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            return run(*args, **kwargs)
        except ProgressError as err:
            print(f"mlkata: {err}", file=sys.stderr)
            return 2
    return wrapper


# --- writing ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recorded:
    """What `record_attempt` learned while writing: enough for a one-line reaction."""

    attempt_id: int
    first_pass: bool  # this is the exercise's first passing check/watch attempt
    passing: int  # exercises whose latest check/watch attempt passes, this one included
    hints: int  # hints of this exercise seen so far


def record_attempt(result: Graded, mode: str = "check", seconds: float | None = None, *,
                   at: float | None = None) -> Recorded:
    """Record one graded attempt: `record_attempt(grader.grade(...), mode="debug")`.

    `result` is a `mlkata.grader.GradeResult` (or anything with `exercise`, `file`, `passed`,
    `total`, `ok`); `mode` is one of `MODES`; `seconds` is the learner's time where the mode
    measures one (an interview's time since its start), else None.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    at = time.time() if at is None else at
    with _connect(write=True) as db:
        learning = mode in LEARNING_MODES
        passed_before = learning and bool(db.execute(
            "SELECT 1 FROM attempts WHERE exercise = ? AND ok AND mode IN ('check', 'watch') LIMIT 1",
            (result.exercise,)).fetchone())
        cursor = db.execute(
            "INSERT INTO attempts (exercise, mode, at, passed, total, ok, seconds, file) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (result.exercise, mode, at, result.passed, result.total, int(result.ok), seconds, str(result.file)))
        records = _summaries(db)
    passing = sum(r.last_ok for r in records.values())
    hints = records[result.exercise].hints if result.exercise in records else 0
    return Recorded(int(cursor.lastrowid or 0), learning and result.ok and not passed_before, passing, hints)


def record_benchmark(exercise: str, case: str, impl: str, metrics: dict[str, float]) -> None:
    """Record one benchmark case's measurements (e.g. {"median_s": 0.0019, "ratio": 1.4}).

    One row per metric; a value that is None or NaN is left out rather than failing the rest.
    """
    at = time.time()
    rows = [(at, exercise, case, impl, name, float(value)) for name, value in metrics.items()
            if value is not None and value == value]
    with _connect(write=True) as db:
        db.executemany('INSERT INTO benchmarks (at, exercise, "case", impl, metric, value) VALUES (?, ?, ?, ?, ?, ?)',
                       rows)


def reveal_hint(exercise: str, available: int) -> int:
    """Mark the next of `available` hints as seen; returns its 1-based number (0 if there are none).

    Once every hint has been seen, returns `available` again without recording anything.
    """
    with _connect(write=True) as db:
        seen = db.execute("SELECT COUNT(*) FROM hints WHERE exercise = ?", (exercise,)).fetchone()[0]
        if seen >= available:
            return available
        db.execute("INSERT INTO hints (exercise, number, at) VALUES (?, ?, ?)", (exercise, seen + 1, time.time()))
        return seen + 1


def record_peek(exercise: str) -> None:
    """The learner looked at the worked solution."""
    with _connect(write=True) as db:
        db.execute("INSERT INTO peeks (exercise, at) VALUES (?, ?)", (exercise, time.time()))


# --- interviews ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Interview:
    id: int
    exercise: str
    started_at: float
    minutes: float
    folder: Path
    finished_at: float | None
    seconds: float | None  # time to green

    @property
    def file(self) -> Path:
        return self.folder / f"{self.exercise}.py"

    def elapsed(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.started_at

    def remaining(self, now: float | None = None) -> float:
        """Seconds left on the clock (negative once time is up)."""
        return self.minutes * 60 - self.elapsed(now)


def _interview(row: sqlite3.Row) -> Interview:
    return Interview(row["id"], row["exercise"], row["started_at"], row["minutes"], Path(row["folder"]),
                     row["finished_at"], row["seconds"])


def start_interview(exercise: str, minutes: float, folder: Path) -> Interview:
    at = time.time()
    with _connect(write=True) as db:
        cursor = db.execute("INSERT INTO interviews (exercise, started_at, minutes, folder) VALUES (?, ?, ?, ?)",
                            (exercise, at, minutes, str(folder)))
    return Interview(int(cursor.lastrowid or 0), exercise, at, minutes, folder, None, None)


def open_interview() -> Interview | None:
    """The most recent interview that has not gone green yet."""
    with _connect(write=False) as db:
        row = db.execute("SELECT * FROM interviews WHERE finished_at IS NULL ORDER BY started_at DESC LIMIT 1").fetchone()
    return _interview(row) if row else None


def finish_interview(interview_id: int, seconds: float) -> None:
    with _connect(write=True) as db:
        db.execute("UPDATE interviews SET finished_at = ?, seconds = ? WHERE id = ? AND finished_at IS NULL",
                   (time.time(), seconds, interview_id))


# --- reading ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExerciseProgress:
    """One exercise's row of the progress sheet."""

    exercise: str
    first_attempt: float | None = None
    first_pass: float | None = None
    attempts: int = 0  # check and watch attempts
    last_passed: int = 0  # the latest check/watch attempt's counts
    last_total: int = 0
    last_ok: bool = False
    hints: int = 0
    peeked: float | None = None  # when the worked solution was first shown
    interviews: int = 0
    interview_best: float | None = None  # fastest time to green, seconds


def summaries() -> dict[str, ExerciseProgress]:
    """Every exercise with anything recorded, by name (an exercise absent here has no record)."""
    with _connect(write=False) as db:
        return _summaries(db)


def _summaries(db: sqlite3.Connection) -> dict[str, ExerciseProgress]:
    rows: dict[str, dict[str, Any]] = {}

    def row(name: str) -> dict[str, Any]:
        return rows.setdefault(name, {"exercise": name})

    for r in db.execute("""
            SELECT exercise, MIN(at) AS first_attempt, MIN(CASE WHEN ok THEN at END) AS first_pass,
                   COUNT(*) AS attempts
            FROM attempts WHERE mode IN ('check', 'watch') GROUP BY exercise"""):
        row(r["exercise"]).update(first_attempt=r["first_attempt"], first_pass=r["first_pass"], attempts=r["attempts"])
    for r in db.execute("""
            SELECT exercise, passed, total, ok FROM attempts AS a
            WHERE mode IN ('check', 'watch') AND id = (
                SELECT id FROM attempts WHERE exercise = a.exercise AND mode IN ('check', 'watch')
                ORDER BY at DESC, id DESC LIMIT 1)"""):
        row(r["exercise"]).update(last_passed=r["passed"], last_total=r["total"], last_ok=bool(r["ok"]))
    for r in db.execute("SELECT exercise, COUNT(*) AS n FROM hints GROUP BY exercise"):
        row(r["exercise"])["hints"] = r["n"]
    for r in db.execute("SELECT exercise, MIN(at) AS at FROM peeks GROUP BY exercise"):
        row(r["exercise"])["peeked"] = r["at"]
    for r in db.execute("SELECT exercise, COUNT(*) AS n, MIN(seconds) AS best FROM interviews GROUP BY exercise"):
        row(r["exercise"]).update(interviews=r["n"], interview_best=r["best"])
    return {name: ExerciseProgress(**fields) for name, fields in rows.items()}


def hints_seen(exercise: str) -> int:
    with _connect(write=False) as db:
        return db.execute("SELECT COUNT(*) FROM hints WHERE exercise = ?", (exercise,)).fetchone()[0]


def attempts(exercise: str | None = None) -> list[dict[str, Any]]:
    """Every recorded attempt (of one exercise), oldest first, as plain dicts."""
    with _connect(write=False) as db:
        query = "SELECT * FROM attempts" + (" WHERE exercise = ?" if exercise else "") + " ORDER BY at, id"
        return [dict(r) for r in db.execute(query, (exercise,) if exercise else ())]


def benchmarks(exercise: str | None = None) -> list[dict[str, Any]]:
    """Every recorded benchmark measurement (of one exercise), oldest first, as plain dicts."""
    with _connect(write=False) as db:
        query = "SELECT * FROM benchmarks" + (" WHERE exercise = ?" if exercise else "") + " ORDER BY at, id"
        return [dict(r) for r in db.execute(query, (exercise,) if exercise else ())]
