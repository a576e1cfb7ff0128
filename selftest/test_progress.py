"""The progress store: what it records, its schema migrations, concurrent writers, broken files."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mlkata import paths, progress
from mlkata.cli import main


@dataclass
class FakeResult:
    """Stands in for a GradeResult: record_attempt needs only these."""

    exercise: str
    passed: int
    total: int
    file: Path = Path("exercises/attention.py")
    checks: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.passed == self.total > 0


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MLKATA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_reading_an_empty_store_creates_nothing(home):
    assert progress.summaries() == {} and progress.hints_seen("attention") == 0
    assert progress.open_interview() is None
    assert not home.exists(), "reading must not create .mlkata/"


def test_attempts_add_up_to_a_summary(home):
    first = progress.record_attempt(FakeResult("attention", 3, 22), at=100.0)
    second = progress.record_attempt(FakeResult("attention", 22, 22), at=200.0)
    third = progress.record_attempt(FakeResult("attention", 22, 22), mode="watch", at=300.0)
    progress.record_attempt(FakeResult("attention", 10, 22), mode="interview", seconds=42.0, at=400.0)
    progress.record_attempt(FakeResult("attention", 0, 22), mode="debug", at=500.0)
    assert (first.first_pass, second.first_pass, third.first_pass) == (False, True, False)
    assert second.passing == 1
    s = progress.summaries()["attention"]
    assert (s.first_attempt, s.first_pass, s.attempts) == (100.0, 200.0, 3), "interview/debug attempts do not count"
    assert (s.last_passed, s.last_total, s.last_ok) == (22, 22, True)
    assert [a["mode"] for a in progress.attempts("attention")] == ["check", "check", "watch", "interview", "debug"]
    assert progress.attempts("attention")[3]["seconds"] == 42.0
    assert (home / "progress.db").is_file()


def test_a_later_failure_is_the_latest_verdict(home):
    progress.record_attempt(FakeResult("attention", 22, 22), at=1.0)
    progress.record_attempt(FakeResult("attention", 5, 22), at=2.0)
    s = progress.summaries()["attention"]
    assert s.first_pass == 1.0 and not s.last_ok and s.last_passed == 5


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode"):
        progress.record_attempt(FakeResult("attention", 1, 2), mode="exam")


def test_hints_are_revealed_one_at_a_time_and_stop_at_the_last():
    assert [progress.reveal_hint("attention", 3) for _ in range(5)] == [1, 2, 3, 3, 3]
    assert progress.hints_seen("attention") == 3 and progress.summaries()["attention"].hints == 3
    assert progress.reveal_hint("positional", 0) == 0


def test_peeks_interviews_and_benchmarks_are_recorded():
    progress.record_peek("attention")
    session = progress.start_interview("attention", 45, Path("/tmp/x"))
    assert progress.open_interview() == session
    progress.finish_interview(session.id, 600.0)
    slower = progress.start_interview("attention", 45, Path("/tmp/y"))
    progress.finish_interview(slower.id, 900.0)
    assert progress.open_interview() is None
    s = progress.summaries()["attention"]
    assert s.peeked and s.interviews == 2 and s.interview_best == 600.0

    progress.record_benchmark("attention", "B=8 L=512", "exercises",
                              {"ms": 1.5, "ratio_to_torch": 1.25, "peak": None, "odd": float("nan")})
    rows = progress.benchmarks("attention")
    assert {(r["case"], r["impl"], r["metric"], r["value"]) for r in rows} == {
        ("B=8 L=512", "exercises", "ms", 1.5), ("B=8 L=512", "exercises", "ratio_to_torch", 1.25)}


def test_schema_is_versioned_and_migrated_in_order(home, monkeypatch):
    progress.record_attempt(FakeResult("attention", 1, 2))
    with sqlite3.connect(home / "progress.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == progress.SCHEMA_VERSION
    # A newer kit adds a migration: the old store is upgraded in place and keeps its data.
    monkeypatch.setattr(progress, "MIGRATIONS", progress.MIGRATIONS + ["ALTER TABLE attempts ADD COLUMN note TEXT"])
    monkeypatch.setattr(progress, "SCHEMA_VERSION", len(progress.MIGRATIONS))
    assert progress.summaries()["attention"].attempts == 1
    with sqlite3.connect(home / "progress.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == progress.SCHEMA_VERSION
        assert "note" in [row[1] for row in db.execute("PRAGMA table_info(attempts)")]


def test_a_store_from_a_newer_kit_is_a_clear_error(home):
    progress.record_attempt(FakeResult("attention", 1, 2))
    with sqlite3.connect(home / "progress.db") as db:
        db.execute(f"PRAGMA user_version = {progress.SCHEMA_VERSION + 1}")
    with pytest.raises(progress.ProgressError, match="newer mlkata"):
        progress.summaries()


def test_a_corrupt_store_gives_a_message_and_a_way_out(home, capsys):
    home.mkdir(parents=True)
    (home / "progress.db").write_bytes(b"this is not a database" * 100)
    for argv in (["list"], ["progress"], ["hint", "attention"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "unreadable" in err and "--reset-progress" in err and "Traceback" not in err
    assert main(["progress", "--reset-progress"]) == 0
    assert "moved" in capsys.readouterr().out
    assert list(home.glob("progress.db.old-*")), "the broken file is kept, not deleted"
    assert main(["list"]) == 0


def test_an_unwritable_home_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("MLKATA_HOME", str(blocker / "home"))
    with pytest.raises(progress.ProgressError, match="MLKATA_HOME"):
        progress.record_attempt(FakeResult("attention", 1, 2))


WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from mlkata import progress
    from mlkata.commands.check import record

    class Result:
        def __init__(self, i):
            self.exercise, self.passed, self.total, self.ok = "attention", i % 3, 2, i % 3 == 2
            self.file, self.checks = Path("exercises/attention.py"), []

    go = Path(sys.argv[1])
    while not go.exists():  # start together, so the two processes really overlap
        time.sleep(0.005)
    for i in range(int(sys.argv[2])):
        record(Result(i), "check")       # what `mlkata check` does after grading
        progress.reveal_hint("attention", 1000)
""")


def test_two_processes_writing_at_once_lose_nothing(home, tmp_path):
    """Two `mlkata check`s at the same moment, both creating the store: every write lands."""
    go, n = tmp_path / "go", 25
    env = {**os.environ, "MLKATA_HOME": str(home), "PYTHONPATH": str(paths.ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(go), str(n)], env=env, cwd=paths.ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    go.touch()
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert "not recorded" not in out + err and "Traceback" not in err
    assert progress.summaries()["attention"].attempts == 2 * n
    assert progress.hints_seen("attention") == 2 * n, "hint numbers must not collide"
    ids = [a["id"] for a in progress.attempts("attention")]
    assert len(set(ids)) == len(ids) == 2 * n
