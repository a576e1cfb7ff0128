"""The pytest side of the grader: which implementation is graded, and how it is loaded.

Loaded by `-p mlkata.pytest_plugin` (pyproject's addopts), so a plain `pytest` in an IDE
grades the learner's `exercises/` exactly as `mlkata check` does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

from mlkata import paths
from mlkata.loader import LearnerCodeError, LearnerModule, load_exercise

# Hypothesis profiles. "check" is what a learner's `make check` runs: few examples, fixed
# seed, so the verdict is quick and the same every time. "ci" is the kit's self-test
# (reproducible); "thorough" is `make test-thorough`.
# The "explain" phase re-runs a failing test many times to say which arguments matter: far
# too slow for an interactive verdict, so no profile here uses it.
_phases = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)
# differing_executors: the grader runs the same test classes again in one process (watch
# mode, mutation testing), which that health check would wrongly flag.
# report_multiple_bugs=False: one failure per check (two distinct ones would reach the
# learner as an unhelpful "ExceptionGroup").
_common = dict(deadline=None, phases=_phases, report_multiple_bugs=False,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.differing_executors],
               print_blob=True)
settings.register_profile("check", max_examples=12, derandomize=True, database=None, **_common)
settings.register_profile("ci", max_examples=25, derandomize=True, database=None, **_common)
settings.register_profile("thorough", max_examples=300, **_common)
settings.load_profile(os.environ.get("MLKATA_HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "check"))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mlkata")
    group.addoption("--impl", default="exercises",
                    help="folder to grade: exercises (default), solutions, or a path laid out like them")
    group.addoption("--own-deps", action="store_true",
                    help="resolve an exercise's imports of other exercises from the graded folder "
                         "too (default: the worked solutions stand in)")
    group.addoption("--exercise-file", default=None,
                    help="grade this one file as the exercise (e.g. exercises/debug/attention.py)")


def _impl_dir(config: pytest.Config) -> Path:
    return paths.resolve_impl(config.getoption("impl"))


@pytest.fixture(scope="module")
def ex(request: pytest.FixtureRequest) -> LearnerModule:
    """The graded implementation of the test module's `EXERCISE`."""
    name: str = request.module.EXERCISE
    config = request.config
    file = config.getoption("exercise_file")
    try:
        return load_exercise(name, _impl_dir(config), own_deps=config.getoption("own_deps"),
                             file=Path(file).resolve() if file else None)
    except LearnerCodeError as err:
        pytest.fail(str(err), pytrace=False)


@pytest.fixture(scope="module")
def ex_file(request: pytest.FixtureRequest) -> Path:
    """The file being graded for the test module's `EXERCISE`."""
    file = request.config.getoption("exercise_file")
    return Path(file).resolve() if file else _impl_dir(request.config) / f"{request.module.EXERCISE}.py"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("gpu"):
        import torch

        if not torch.cuda.is_available():
            pytest.skip("needs CUDA (torch.cuda.is_available() is False); on a GPU machine install a "
                        "CUDA build of torch (README: 'On a GPU') and run `make test-gpu`")


def pytest_configure(config: pytest.Config) -> None:
    import torch

    # Checks use small tensors: with several threads, torch's pool costs more than the work
    # itself (20 ms per op instead of microseconds when the CPU is shared).
    torch.set_num_threads(1)
