"""The debugging track: planted bugs, reproducible, counted without being named, never destructive."""

from __future__ import annotations

import pytest

from mlkata import bugs, catalog, debugtrack, grader, loader, paths
from mlkata.commands.check import debug_status


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "EXERCISES", tmp_path / "exercises")
    monkeypatch.setenv("MLKATA_HOME", str(tmp_path / "home"))
    return tmp_path


def test_planted_file_is_reproducible_and_clean(sandbox):
    planted, backup = debugtrack.make_debug_file("attention", n_bugs=3, seed=7)
    first = planted.file.read_text()
    assert backup is None and len(planted.bug_ids) == 3
    assert "BEGIN SOLUTION" not in first and "mlkata debugging track" in first
    body = first.split("\n\n", 1)[1]
    assert "#" not in "".join(line.split('"')[0] for line in body.splitlines()), "comments would give the bugs away"
    again, backup = debugtrack.make_debug_file("attention", n_bugs=3, seed=7)
    assert again.file.read_text() == first and backup is not None and backup.read_text() == first


def test_graded_count_goes_down_as_bugs_are_fixed(sandbox):
    planted, _ = debugtrack.make_debug_file("attention", n_bugs=2, seed=3)
    file = planted.file
    result = grader.grade("attention", paths.EXERCISES, file=file, diagnose=False)
    assert not result.ok
    assert debug_status("attention", file, result.ok) == "Planted bugs remaining: 2 of 2."
    assert "Likely bug" not in str([c.diagnosis for c in result.checks])

    header = file.read_text().split('"""', 1)[0]
    first, second = debugtrack.planted("attention")
    solution = catalog.get("attention").solution.read_text()
    file.write_text(header + debugtrack.strip_comments(bugs.apply(solution, first)))  # one fixed
    assert [b.id for b in debugtrack.remaining("attention", file.read_text())] == [first.id]
    file.write_text(header + debugtrack.strip_comments(solution))  # both fixed
    assert debugtrack.remaining("attention", file.read_text()) == []
    loader.forget(file)
    result = grader.grade("attention", paths.EXERCISES, file=file, diagnose=False)
    assert result.ok, [c.message for c in result.checks if c.outcome == "failed"]
    assert debug_status("attention", file, True).startswith("All 2 planted bugs fixed")


def test_reveal_names_the_planted_bugs(sandbox, capsys):
    from mlkata.cli import main

    assert main(["debug", "attention", "--bugs", "2", "--seed", "1"]) == 0
    assert main(["debug", "attention", "--reveal"]) == 0
    out = capsys.readouterr().out
    assert out.count("[still there]") == 2
