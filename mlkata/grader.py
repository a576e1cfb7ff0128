"""Run one exercise's tests in-process and collect a verdict per check.

The grader never crashes on learner code: every exception a check raises becomes a
`Check` with a one-paragraph message (see `explain`). Pytest's own output is silenced
unless `verbose`; `mlkata.report` turns the result into what the learner reads.
"""

from __future__ import annotations

import io
import traceback
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis  # noqa: F401 - imported before pytest's assertion rewriter (see below)
import pytest

from mlkata import catalog, paths

# pytest rewrites the assertions of every package that registers a pytest plugin, hypothesis
# included, when it is imported after pytest starts. Imported here, before, hypothesis loads
# as is: with bytecode caching off (PYTHONDONTWRITEBYTECODE) that rewrite costs 0.4 s a run.
from mlkata.loader import learner_frame


@dataclass
class Check:
    """The verdict of one test item."""

    nodeid: str
    target: str  # the contract function it grades (the `target` marker)
    title: str  # the test's docstring, first line
    outcome: str  # "passed" | "failed" | "skipped"
    kind: str = ""  # failed: "not-implemented" | "timeout" | "mismatch" | "error" | "load"
    message: str = ""  # one paragraph for the learner
    details: str = ""  # the full traceback (shown with -v)
    diagnosis: str = ""  # "Likely bug": the explanation of a cataloged bug that matches the output
    error: BaseException | None = field(default=None, repr=False)


@dataclass
class GradeResult:
    exercise: str
    file: Path
    checks: list[Check]
    problems: list[str]  # kit-side problems: a test module that did not import, no tests found

    @property
    def passed(self) -> int:
        return sum(c.outcome == "passed" for c in self.checks)

    @property
    def total(self) -> int:
        return sum(c.outcome != "skipped" for c in self.checks)

    @property
    def ok(self) -> bool:
        return not self.problems and self.total > 0 and self.passed == self.total

    def by_target(self) -> dict[str, list[Check]]:
        groups: dict[str, list[Check]] = {}
        for check in self.checks:
            groups.setdefault(check.target, []).append(check)
        return groups


def explain(error: BaseException, file: Path) -> tuple[str, str]:
    """(kind, one-paragraph message) for an exception raised while a check ran."""
    text = str(error).strip()
    if isinstance(error, pytest.fail.Exception):
        if text.startswith("Timeout"):
            frame = learner_frame(error, file)
            where = f" It was running line {frame.lineno} of {file.name} ({frame.name})." if frame else ""
            return "timeout", (f"did not finish in time ({text.split(' from ')[0].lower()}): an infinite "
                               f"loop, or a Python loop over elements where a tensor operation would do?{where}")
        return "load", text
    if isinstance(error, NotImplementedError):
        return "not-implemented", "not implemented yet" + (f" ({text.split(':')[0]})" if ":" in text else "")
    if isinstance(error, AssertionError):
        if type(error).__name__ == "Mismatch":
            return "mismatch", text
        if text.startswith("assert "):  # a bare assert: pytest's introspection is all there is
            return "mismatch", "check failed: " + "\n".join(text.splitlines()[:3])
        return "mismatch", text.split("\nassert ")[0]  # the message, without pytest's introspection
    frame = learner_frame(error, file)
    where = f" at {file.name} line {frame.lineno} (in {frame.name}): `{frame.line}`" if frame else ""
    first_line = text.splitlines()[0] if text else ""
    return "error", f"raised {type(error).__name__}{': ' + first_line if first_line else ''}{where}"


class _Collector:
    """A pytest plugin that records a `Check` for every test item."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.checks: dict[str, Check] = {}
        self.problems: list[str] = []

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[Any]):
        report = yield
        earlier = self.checks.get(item.nodeid)
        if earlier is not None and earlier.outcome != "passed":
            return report  # keep the first failure (a setup error, say)
        if report.passed and report.when != "call":
            return report  # setup and teardown that pass say nothing
        self.checks[item.nodeid] = self._check(item, call, report)
        return report

    def _check(self, item: pytest.Item, call: pytest.CallInfo[Any], report: pytest.TestReport) -> Check:
        marker = item.get_closest_marker("target")
        function = getattr(item, "function", None)
        doc = (function.__doc__ or "").strip().splitlines() if function else []
        title = doc[0] if doc else item.name.removeprefix("test_").replace("_", " ")
        if getattr(item, "callspec", None) is not None:
            title += f" [{item.callspec.id}]"
        check = Check(item.nodeid, marker.args[0] if marker else "other", title, report.outcome)
        if report.skipped and call.excinfo is not None:
            check.message = str(call.excinfo.value.msg if hasattr(call.excinfo.value, "msg") else call.excinfo.value)
        elif report.failed and call.excinfo is not None:
            check.kind, check.message = explain(call.excinfo.value, self.file)
            check.details = "".join(traceback.format_exception(call.excinfo.value))
            check.error = call.excinfo.value
        return check

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.problems.append(f"the tests for this exercise could not be collected:\n{report.longrepr}")


def grade(exercise: str, impl: str | Path = "exercises", *, own_deps: bool = False,
          file: Path | None = None, verbose: bool = False, diagnose: bool = True,
          extra_args: list[str] | None = None) -> GradeResult:
    """Grade one exercise of the folder `impl` (or one explicit `file`).

    With `diagnose`, each failing comparison is matched against the exercise's cataloged
    bugs, and a match becomes the check's `diagnosis`.
    """
    entry = catalog.get(exercise)
    impl_dir = paths.resolve_impl(impl)
    graded_file = (file or impl_dir / f"{exercise}.py").resolve()
    args = [str(entry.test_file), f"--impl={impl_dir}", "-p", "no:anyio",
            "-p", "no:unraisableexception", "-p", "no:threadexception",  # each costs a gc.collect()
            f"--rootdir={paths.ROOT}", "-c", str(paths.ROOT / "pyproject.toml")]
    if own_deps:
        args.append("--own-deps")
    if file:
        args.append(f"--exercise-file={graded_file}")
    # --tb=native: pytest's own traceback styles parse the source of every frame (torch's
    # too) for each failure, which costs a failing stub most of a second.
    args += ["-q", "--tb=short"] if verbose else ["-q", "--tb=native", "--no-header", "-p", "no:warnings"]
    args += extra_args or []
    collector = _Collector(graded_file)
    sink = io.StringIO()
    if verbose:
        pytest.main(args, plugins=[collector])
    else:
        with redirect_stdout(sink):
            pytest.main(args, plugins=[collector])
    checks = list(collector.checks.values())
    if diagnose:
        _diagnose(exercise, checks)
    problems = collector.problems + ([] if checks else [f"no checks ran for {exercise}.{sink.getvalue()}"])
    return GradeResult(exercise, graded_file, checks, problems)


def _diagnose(exercise: str, checks: list[Check]) -> None:
    """Fill in `diagnosis` for failing comparisons (at most one search per distinct message)."""
    from mlkata.diagnose import diagnosis

    seen: dict[str, str] = {}
    for check in checks:
        if check.outcome == "failed" and check.kind == "mismatch" and hasattr(check.error, "rerun"):
            if check.message not in seen:
                seen[check.message] = diagnosis(exercise, check.error)
            check.diagnosis = seen[check.message]
