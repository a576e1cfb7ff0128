"""The learner's daily workflow: list, check, hint, solution, reset/backups/restore, watch,
interview, progress, grade (and the CI workflow that runs it), the manifest, the editor set-up.

Every test runs in a sandbox: `MLKATA_HOME` and `exercises/` point into tmp_path, and the
catalog is `attention` plus `ghost`, an exercise the catalog lists but the kit does not have
yet, so every command is also checked to degrade gracefully for one.
"""

from __future__ import annotations

import io
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mlkata import backups, catalog, chart, grader, gradebook, interview, loader, manifest, paths, progress, status, stubs
from mlkata import watch
from mlkata.cli import build_parser, main
from selftest.conftest import solution_source

GHOST = catalog.Exercise("ghost", "An exercise still being written", ("testing",), (), (), (), ("one", "two", "three"))
BROKEN = ("return softmax(scores, dim=-1) @ v", "return (softmax(scores, dim=-1) @ v) * 2")
# In-process gradings run four of attention's checks (real pytest, real loading): a stub fails
# two, BROKEN one, the solution none. The two end-to-end tests in a subprocess grade in full.
QUICK = "default_dim_is_last or causal_one_query_sees_whole_cache or structure or no_banned_apis"


@pytest.fixture
def kit(tmp_path, monkeypatch) -> Path:
    """A learner's sandbox; returns its exercises/ folder (a fresh attention stub)."""
    monkeypatch.setenv("MLKATA_HOME", str(tmp_path / "home"))
    folder = tmp_path / "exercises"
    monkeypatch.setattr(paths, "EXERCISES", folder)
    stubs.write_stubs(folder, ["attention"])
    entries = (catalog.get("attention"), GHOST)
    monkeypatch.setattr(catalog, "load", lambda path=paths.CATALOG: entries)
    monkeypatch.setattr(manifest, "compare", lambda root=paths.ROOT: [])
    real_grade = grader.grade
    monkeypatch.setattr(grader, "grade", lambda *args, **kwargs: real_grade(*args, **kwargs, extra_args=["-k", QUICK]))
    return folder


def solved() -> str:
    return solution_source("attention")


def broken() -> str:
    assert solved().count(BROKEN[0]) == 1
    return solved().replace(*BROKEN)


# --- list, check, hint, solution ---------------------------------------------------------------

def test_list_shows_the_catalog_in_order_with_status(kit, capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    header, _, attention, ghost = out.splitlines()[:4]
    assert header.split()[:4] == ["#", "exercise", "topics", "status"]
    assert "attention" in attention and "not started" in attention and "0/4" in attention
    assert "ghost" in ghost and "not in the kit yet" in ghost
    assert "0 of 1 exercises passing" in out and "make check EX=attention" in out


def test_check_records_the_attempt_and_reacts(kit, capsys):
    (kit / "attention.py").write_text(broken())
    assert main(["check", "attention"]) == 1
    out = capsys.readouterr().out
    assert "Stuck? `mlkata hint attention` reveals hint 1 of 4" in out
    assert progress.summaries()["attention"].attempts == 1

    loader.forget(kit / "attention.py")
    (kit / "attention.py").write_text(solved())
    assert main(["check", "attention"]) == 0
    assert "First pass for attention: 1 of 1 exercises passing" in capsys.readouterr().out
    record = progress.summaries()["attention"]
    assert record.attempts == 2 and record.last_ok and record.first_pass

    assert main(["list"]) == 0
    assert re.search(r"attention .* passing .* 4/4", capsys.readouterr().out)


def test_check_of_another_folder_is_not_recorded_and_ghost_is_explained(kit, capsys):
    assert main(["check", "attention", "--impl", "solutions"]) == 0
    assert progress.summaries() == {}
    assert main(["check", "ghost"]) == 1
    assert "not in the kit yet" in capsys.readouterr().out
    (kit / "debug").mkdir()
    (kit / "debug" / "attention.py").write_text(broken())
    assert main(["check", "debug/attention"]) == 1  # the debugging track: recorded as "debug"
    assert [a["mode"] for a in progress.attempts("attention")] == ["debug"]
    assert "attention" not in progress.summaries(), "debug attempts are not attempts at attention itself"


def test_hints_are_progressive_and_recorded(kit, capsys):
    hints = catalog.get("attention").hints
    assert main(["hint", "attention"]) == 0
    out = capsys.readouterr().out
    assert "Hint 1 of 4:" in out and hints[0][:40] in out and "Hint 2" not in out
    assert main(["hint", "attention"]) == 0
    out = capsys.readouterr().out
    assert "Hint 1 of 4 (seen before)" in out and "Hint 2 of 4:" in out
    for _ in range(3):
        main(["hint", "attention"])
    assert "every hint" in capsys.readouterr().out and progress.hints_seen("attention") == 4
    assert main(["hint", "ghost"]) == 0 and "Hint 1 of 3" in capsys.readouterr().out  # hints live in the catalog


def test_solution_asks_first_and_records_the_peek(kit, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal: no question can be asked
    assert main(["solution", "attention"]) == 1
    assert "--yes" in capsys.readouterr().out and not progress.summaries()
    assert main(["solution", "attention", "--yes"]) == 0
    assert "BEGIN SOLUTION" in capsys.readouterr().out and progress.summaries()["attention"].peeked
    assert main(["solution", "ghost", "--yes"]) == 1 and "not in the kit yet" in capsys.readouterr().out


# --- reset, backups, restore -------------------------------------------------------------------

def test_reset_backups_restore_round_trip_loses_nothing(kit, capsys):
    mine = kit / "attention.py"
    mine.write_text("# my work in progress\n")
    assert main(["reset", "attention"]) == 0
    assert "saved in" in capsys.readouterr().out
    assert mine.read_text() == stubs.expected_stub("attention")
    [saved] = backups.list_backups("attention")
    assert saved.path.read_text() == "# my work in progress\n" and saved.path.parent == paths.home() / "backups"
    assert re.fullmatch(r"attention-\d{8}-\d{6}\.py", saved.name)

    mine.write_text("# a second attempt\n")
    assert main(["restore", "attention"]) == 0  # the newest backup of attention
    assert mine.read_text() == "# my work in progress\n"
    assert "the version it replaced is saved" in capsys.readouterr().out
    assert [b.path.read_text() for b in backups.list_backups()] == ["# my work in progress\n", "# a second attempt\n"]

    assert main(["backups"]) == 0
    listing = capsys.readouterr().out
    assert listing.count("attention-") == 2 and "exercises/attention.py" in listing.replace(str(kit.parent) + "/", "")
    assert main(["restore", "2"]) == 0 and mine.read_text() == "# a second attempt\n"
    assert main(["restore", saved.path.stem]) == 0 and mine.read_text() == "# my work in progress\n"
    assert len({b.path.read_text() for b in backups.list_backups()}) == 2, "no duplicate backups of one text"
    assert main(["restore", "99"]) == 1 and "no backup number 99" in capsys.readouterr().out
    assert main(["reset", "attention"]) == 0
    count = len(backups.list_backups())
    assert main(["restore", "1"]) == 0 and len(backups.list_backups()) == count, "a fresh stub needs no backup"


def test_reset_of_a_fresh_stub_or_missing_file_makes_no_backup(kit, capsys):
    assert main(["reset", "attention"]) == 0 and "already the fresh stub" in capsys.readouterr().out
    (kit / "attention.py").unlink()
    assert main(["reset", "--all"]) == 0  # ghost, not in the kit yet, is skipped quietly
    assert (kit / "attention.py").is_file() and not backups.list_backups()
    assert main(["reset", "ghost"]) == 1 and "not in the kit yet" in capsys.readouterr().out
    assert main(["reset"]) == 2
    assert main(["backups"]) == 0 and "No backups" in capsys.readouterr().out


def test_debugging_track_files_are_backed_up_under_their_own_label(kit):
    debug = kit / "debug" / "attention.py"
    debug.parent.mkdir()
    debug.write_text("# planted bugs\n")
    saved = backups.backup(debug)
    assert saved.name.startswith("debug-attention-")
    found = backups.find("debug/attention")
    assert found.target == debug and found.label == "debug-attention"
    debug.write_text("# half fixed\n")
    backups.restore(found)
    assert debug.read_text() == "# planted bugs\n"


# --- progress ------------------------------------------------------------------------------------

def test_progress_sheet_chart_and_csv(kit, capsys, tmp_path):
    assert main(["progress"]) == 0 and "Nothing recorded yet" in capsys.readouterr().out

    class Result:
        exercise, passed, total, ok, file, checks = "attention", 22, 22, True, kit / "attention.py", []

    progress.record_attempt(Result(), at=time.time() - 3600)
    progress.reveal_hint("attention", 4)
    assert main(["progress", "--csv", str(tmp_path / "sheet.csv")]) == 0
    out = capsys.readouterr().out
    assert "first attempt" in out and "interview best" in out and "┌" in out and "┘" in out
    lines = (tmp_path / "sheet.csv").read_text().splitlines()
    assert lines[0].startswith("exercise,status,first_attempt,first_pass,attempts")
    assert lines[1].startswith("attention,") and lines[2].startswith("ghost,not in the kit yet")


def test_plot_without_matplotlib_says_how_to_get_it(kit, capsys, monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    progress.record_attempt(type("R", (), {"exercise": "attention", "passed": 1, "total": 2, "ok": False,
                                           "file": kit / "attention.py"})())
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert main(["progress", "--plot", str(tmp_path / "p.png")]) == 2
    assert "[plot]" in capsys.readouterr().err and not (tmp_path / "p.png").exists()


def test_plot_writes_a_file(tmp_path):
    pytest.importorskip("matplotlib")
    now = time.time()
    out = chart.plot([(now - 50, "attention"), (now - 20, "positional")], 11, now - 100, now, tmp_path / "p.svg")
    assert out.read_text().lstrip().startswith("<?xml")


def test_step_chart_steps_up_at_each_first_pass():
    text = chart.step_chart([(50.0, "a"), (75.0, "b")], total=3, start=0.0, end=100.0, width=20)
    rows = {line.split("┤")[0].strip(): line.split("┤")[1] for line in text.splitlines() if "┤" in line}
    assert rows["0"] == "─" * 9 + "┘" and rows["1"].index("┌") == 9 and rows["1"].rstrip().endswith("┘")
    assert rows["2"].index("┌") == 14 and rows["3"] == ""


# --- watch ---------------------------------------------------------------------------------------

def test_watch_regrades_each_save_and_moves_on_when_it_passes(kit):
    file = (kit / "attention.py").resolve()

    def saves():
        file.write_text(broken())
        yield {file, (kit / "notes.py").resolve()}
        file.write_text(solved())
        yield {file}
        raise AssertionError("watch should stop once every exercise in the kit passes")

    out = io.StringIO()
    started = time.perf_counter()
    assert watch.follow(kit, None, saves(), out=out) == 0
    text = out.getvalue()
    assert text.count("graded in") == 3, text
    first, second, third = re.findall(r"attention: (\d+)/(\d+) checks pass", text)
    assert first[0] != first[1] and second[0] != second[1] and third[0] == third[1], "each save is re-read"
    assert "every other exercise in the kit" in text
    modes = [a["mode"] for a in progress.attempts("attention")]
    assert modes == ["watch"] * 3 and progress.summaries()["attention"].last_ok
    print(f"3 gradings in {time.perf_counter() - started:.2f} s")


def test_watch_in_a_real_process_follows_saves_and_quits_on_q(tmp_path):
    """End to end: real file notifications (--poll), a save turns it green, `q` + Enter stops it."""
    folder = tmp_path / "work"
    stubs.write_stubs(folder, ["attention"])
    env = {**os.environ, "MLKATA_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mlkata.cli", "watch", "attention", "--impl", str(folder), "--poll"],
                            cwd=paths.ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()

    def wait_for(pattern: str, timeout: float, save: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                if save is not None:  # until the watcher has seen it, save again
                    (folder / "attention.py").write_text(save)
                continue
            if re.search(pattern, line):
                return
        proc.kill()
        pytest.fail(f"watch never printed {pattern!r}")

    try:
        wait_for(r"attention: \d+/\d+ checks pass", 60)
        wait_for(r"attention: (\d+)/\1 checks pass", 60, save=solved())
        proc.stdin.write("q\n")
        proc.stdin.flush()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_watch_starts_at_the_first_exercise_not_passing(kit):
    assert status.next_to_do({}) == "attention"
    (kit / "attention.py").write_text(solved())
    passing = {"attention": progress.ExerciseProgress("attention", attempts=1, last_ok=True)}
    assert status.next_to_do(passing) is None, "ghost is not in the kit yet"
    assert status.next_to_do({}, after="attention") is None, "moving on means another exercise"
    assert status.next_to_do({}, skip={"attention"}) is None


def test_watch_refuses_an_exercise_not_in_the_kit(kit, capsys):
    assert main(["watch", "ghost"]) == 1 and "not in the kit yet" in capsys.readouterr().out


# --- interview -----------------------------------------------------------------------------------

def test_interview_is_timed_in_a_scratch_copy(kit, capsys):
    mine = (kit / "attention.py").read_text()
    assert main(["interview", "attention", "--no-watch", "--minutes", "30"]) == 0
    out = capsys.readouterr().out
    session = progress.open_interview()
    assert session and session.minutes == 30 and session.file.read_text() == stubs.expected_stub("attention")
    assert session.folder.is_relative_to(paths.home()) and str(session.file.relative_to(paths.home())) in out

    assert main(["interview", "--check"]) == 1
    assert re.search(r"⏱ (29|30):\d\d left of 30:00", capsys.readouterr().out)

    def saves():
        session.file.write_text(solved())
        yield {session.file.resolve()}
        raise AssertionError("the session ends when it goes green")

    buffer = io.StringIO()
    assert interview.session(session, saves(), out=buffer) == 0
    assert "Green in 0:" in buffer.getvalue() and "within the 30:00 limit" in buffer.getvalue()
    assert (kit / "attention.py").read_text() == mine, "the learner's own file is untouched"
    record = progress.summaries()["attention"]
    assert record.interview_best is not None and record.attempts == 0, "interviews are not check attempts"
    assert progress.open_interview() is None
    assert main(["list"]) == 0 and re.search(r"attention .* 0:\d\d ", capsys.readouterr().out)


def test_interview_random_prefers_weak_exercises_and_skips_missing_ones(kit, capsys, monkeypatch):
    assert main(["interview", "--random", "--seed", "3", "--no-watch"]) == 0
    assert progress.open_interview().exercise == "attention"
    assert main(["interview", "ghost", "--no-watch"]) == 2 and "not in the kit yet" in capsys.readouterr().err
    strong = progress.ExerciseProgress("attention", attempts=3, last_ok=True, interview_best=300.0)
    weak = progress.ExerciseProgress("attention", attempts=9, hints=4, peeked=1.0)
    (kit / "attention.py").write_text(solved())
    assert interview.weights({"attention": weak})["attention"] > interview.weights({"attention": strong})["attention"]
    assert interview.clock(75.3) == "1:15" and interview.clock(3725) == "1:02:05"


# --- grade, the manifest and the CI workflow -----------------------------------------------------

def test_grade_all_writes_text_markdown_json_and_junit(kit, capsys, tmp_path):
    junit = tmp_path / "grades.xml"
    assert main(["grade", "--all", "--markdown", "--junit", str(junit)]) == 0, "unsolved exercises do not fail"
    captured = capsys.readouterr()
    assert "| # | exercise | checks passed | status |" in captured.out
    assert re.search(r"\| 1 \| `attention` \| \d+/\d+ \| \S+ not started \|", captured.out)
    assert "| 2 | `ghost` | – | · not in the kit yet |" in captured.out
    assert "attention:" in captured.err, "progress goes to stderr, the report to stdout"
    suites = {s.get("name"): s for s in ET.parse(junit).getroot()}
    assert int(suites["attention"].get("failures")) > 0 and suites["ghost"].get("skipped") == "1"
    assert suites["grading files"].get("failures") == "0"

    result = grader.GradeResult("attention", kit / "attention.py", [], [])
    rows = [gradebook.Row("attention", status.PASSING, 22, 22, result), gradebook.Row("ghost", status.NOT_AVAILABLE)]
    changed = gradebook.Integrity([manifest.Change("tests/test_attention.py", "changed")])
    data = json.loads(gradebook.as_json(rows, changed))
    assert data["passing"] == 1 and data["integrity"]["changes"] == [{"path": "tests/test_attention.py", "kind": "changed"}]
    assert "`tests/test_attention.py` differs" in gradebook.markdown(rows, changed)
    assert "1 of 1 exercises passing (1 not in the kit yet)" in gradebook.text(rows, gradebook.Integrity())


def test_grade_exit_status(kit, capsys, monkeypatch):
    rows = [gradebook.Row("attention", status.IN_PROGRESS, 5, 22, None)]
    monkeypatch.setattr(gradebook, "grade_all", lambda *a, **k: rows)
    assert main(["grade", "--all"]) == 0
    assert main(["grade", "--all", "--require-passing"]) == 1
    monkeypatch.setattr(manifest, "compare", lambda root=paths.ROOT: [manifest.Change("tests/helpers.py", "changed")])
    assert main(["grade", "--all", "--json"]) == 1
    assert "tests/helpers.py differs from the kit's version" in capsys.readouterr().err
    assert main(["grade"]) == 2


def test_manifest_names_changed_added_and_removed_files(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "reference").mkdir()
    (tmp_path / "catalog.toml").write_text("[defaults]\n")
    (tmp_path / "tests" / "test_a.py").write_text("def test(): pass\n")
    (tmp_path / "reference" / "a.py").write_text("x = 1\n")
    with pytest.raises(manifest.ManifestError, match="missing"):
        manifest.compare(tmp_path)
    manifest.write(tmp_path)
    assert manifest.compare(tmp_path) == []
    (tmp_path / "tests" / "test_a.py").write_text("def test(): pass\r\n")  # a Windows checkout
    (tmp_path / "tests" / "__pycache__").mkdir()
    (tmp_path / "tests" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert manifest.compare(tmp_path) == []
    (tmp_path / "tests" / "test_a.py").write_text("def test(): assert True\n")
    (tmp_path / "tests" / "conftest.py").write_text("")
    (tmp_path / "reference" / "a.py").unlink()
    assert [str(c) for c in manifest.compare(tmp_path)] == [
        "reference/a.py is missing (removed)", "tests/conftest.py is not part of the kit (added)",
        "tests/test_a.py differs from the kit's version"]


def test_the_committed_manifest_is_up_to_date():
    changes = manifest.compare()
    assert not changes, ("tests.manifest.json is stale; maintainers: `mlkata manifest --update` "
                         f"(or `make manifest`): {[str(c) for c in changes]}")


def parse_yaml(text: str):
    """The YAML subset GitHub workflows use here: maps, lists, scalars, `|` blocks (no PyYAML)."""
    lines = [line.rstrip() for line in text.splitlines()]

    def indent(line: str) -> int:
        return len(line) - len(line.lstrip())

    def significant(i: int) -> int:
        while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
            i += 1
        return i

    def scalar(text: str) -> str:
        text = re.sub(r"\s+#.*$", "", text) if text[:1] not in "'\"" else text
        return text[1:-1] if text[:1] in "'\"" and text[-1:] == text[:1] else text

    def block(i: int, level: int):
        i = significant(i)
        if lines[i].lstrip().startswith("- "):
            items = []
            while i < len(lines) and indent(lines[i]) == level and lines[i].lstrip().startswith("- "):
                lines[i] = lines[i].replace("- ", "  ", 1)
                if ":" in lines[i]:
                    item, i = block(i, level + 2)
                else:
                    item, i = scalar(lines[i].strip()), i + 1
                items.append(item)
                i = significant(i)
            return items, i
        mapping = {}
        while i < len(lines) and indent(lines[i]) == level and not lines[i].lstrip().startswith("- "):
            key, _, rest = lines[i].strip().partition(":")
            rest = rest.strip()
            if rest == "|":
                body, i = [], i + 1
                while i < len(lines) and (not lines[i].strip() or indent(lines[i]) > level):
                    body.append(lines[i])
                    i += 1
                depth = min(indent(line) for line in body if line.strip())
                mapping[key] = "\n".join(line[depth:] for line in body).strip() + "\n"
            elif rest:
                mapping[key], i = scalar(rest), i + 1
            else:
                nxt = significant(i + 1)
                if nxt < len(lines) and (indent(lines[nxt]) > level or lines[nxt].lstrip().startswith("- ")):
                    mapping[key], i = block(nxt, indent(lines[nxt]))
                else:
                    mapping[key], i = None, i + 1
            i = significant(i)
        return mapping, i

    return block(0, 0)[0]


WORKFLOW = paths.ROOT / ".github" / "workflows" / "grade.yml"


def test_workflow_installs_cpu_torch_and_calls_commands_that_exist():
    text = WORKFLOW.read_text()
    flow = parse_yaml(text)
    assert "push" in flow["on"] and flow["env"]["REQUIRE_PASSING"] == "false"
    assert text.count(flow["env"]["TORCH_INDEX_URL"]) == 1, "the CPU wheel index is defined once, as a variable"
    assert "pypi" not in text.lower() and "pythonhosted" not in text.lower()
    steps = flow["jobs"]["grade"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("actions/checkout@") for u in uses) and any(u.startswith("actions/setup-python@") for u in uses)
    assert any(u.startswith("actions/upload-artifact@") and s["with"]["path"] == "grades.xml" and s.get("if") == "always()"
               for u, s in zip(uses, steps))
    scripts = [s["run"] for s in steps if "run" in s]
    install = next(s for s in scripts if "torch==" in s)
    assert '--index-url "$TORCH_INDEX_URL"' in install and "pip install --disable-pip-version-check -e ." in install
    commands = [line.strip() for script in scripts for line in script.splitlines() if line.strip().startswith("mlkata ")]
    assert commands, "the workflow grades with mlkata"
    parser = build_parser()
    for command in commands:
        argv = [a for a in command.split()[1:] if not a.startswith(('"$', ">>"))]
        args = parser.parse_args(argv)  # exits (fails the test) on an unknown command or flag
        assert args.command == "grade" and args.all and args.markdown and args.junit == "grades.xml"
    assert '>> "$GITHUB_STEP_SUMMARY"' in commands[0]


def test_the_workflow_grading_step_runs_here(tmp_path):
    """Run the workflow's own grading script, with `mlkata` narrowed to `attention --impl solutions`."""
    steps = parse_yaml(WORKFLOW.read_text())["jobs"]["grade"]["steps"]
    script = next(s["run"] for s in steps if "mlkata grade" in s.get("run", ""))
    shim = tmp_path / "bin" / "mlkata"
    shim.parent.mkdir()
    shim.write_text("#!/usr/bin/env bash\n"
                    'args=(); for a in "$@"; do if [ "$a" = --all ]; then args+=(attention --impl solutions); '
                    'else args+=("$a"); fi; done\n'
                    f'exec "{sys.executable}" -m mlkata.cli "${{args[@]}}"\n')
    shim.chmod(0o755)
    summary = tmp_path / "summary.md"
    env = {**os.environ, "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}", "GITHUB_STEP_SUMMARY": str(summary),
           "REQUIRE_PASSING": "true", "MLKATA_HOME": str(tmp_path / "home"), "PYTHONPATH": str(paths.ROOT)}
    done = subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == (0 if not manifest.compare() else 1), done.stderr
    assert "| 1 | `attention` | 22/22 | ✅ passing |" in summary.read_text()
    suites = {s.get("name"): s for s in ET.parse(tmp_path / "grades.xml").getroot()}
    assert suites["attention"].get("failures") == "0" and int(suites["attention"].get("tests")) >= 22


# --- editor and make ------------------------------------------------------------------------------

def test_vscode_runs_pytest_on_tests():
    settings = json.loads((paths.ROOT / ".vscode" / "settings.json").read_text())
    assert settings["python.testing.pytestEnabled"] is True and settings["python.testing.pytestArgs"] == ["tests"]
    assert settings["python.testing.unittestEnabled"] is False


MINE = ("list", "progress", "hint", "watch", "solution", "reset", "backups", "restore", "interview", "grade",
        "manifest")


def test_make_targets_call_commands_that_exist():
    commands = set(build_parser()._subparsers._group_actions[0].choices)
    recipes = dict(re.findall(r"^([\w-]+):.*\n\t@\$\(BIN\)/mlkata (\S+)", (paths.ROOT / "Makefile").read_text(), re.M))
    for target in MINE:
        assert target in recipes, f"make {target} is missing"
        assert recipes[target] in commands, f"make {target} calls `mlkata {recipes[target]}`, which does not exist"
