"""`mlkata bench`: the statistics, the memory methods, rows that never crash, and a --quick run
of every benchmark on the worked solutions and on fresh stubs."""

from __future__ import annotations

import io
import json
import sys
import time
import types
from contextlib import redirect_stdout

import numpy as np
import pytest
import torch

from mlkata import bench, stubs
from mlkata.bench import framework, grader
from mlkata.bench.framework import Context, LiveTensorBytes, Plan, Row, bound, peak_memory, summarize
from mlkata.cli import main
from selftest.conftest import solution_source

TINY = Plan(min_sample_s=0.0, budget_s=0.0, min_repeats=3, max_repeats=3, warmup_s=0.0,
            slow_call_s=10.0, very_slow_call_s=20.0, max_call_s=5.0, timeout_s=5.0)


def run_cli(*argv: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["bench", *argv]) == 0
    return out.getvalue()


# -- statistics ----------------------------------------------------------------------------------

def test_summarize_is_median_and_median_absolute_deviation():
    assert summarize([3.0, 1.0, 2.0]) == (2.0, 1.0)
    assert summarize([1.0, 1.0, 1.0, 50.0]) == (1.0, 0.0)  # one slow outlier moves neither
    assert summarize([2.0]) == (2.0, 0.0)
    with pytest.raises(ValueError):
        summarize([])


def test_measure_counts_samples_and_calls():
    calls = []
    stats, first = framework.measure(lambda: calls.append(1) or torch.ones(3), plan=TINY, memory=None)
    assert stats.repeats == 3 and stats.number == 1 and stats.peak_bytes is None
    assert len(calls) == 1 + 1 + 3  # first call, one warm-up, three samples
    assert first[0] == (3,) and first[1].tolist() == [1.0, 1.0, 1.0]


def test_measure_times_a_known_sleep():
    stats, _ = framework.measure(lambda: time.sleep(0.01), plan=TINY, memory=None)
    assert 0.009 <= stats.median_s < 1.0


# -- peak memory ---------------------------------------------------------------------------------

def test_dispatch_mode_counts_a_new_tensor():
    peak, out = peak_memory(lambda: torch.empty(1000, dtype=torch.float32))
    assert peak == 4000 and out.shape == (1000,)


def test_dispatch_mode_peak_is_the_largest_live_total_not_the_sum():
    def two_temporaries_in_turn() -> torch.Tensor:
        a = torch.ones(1000, dtype=torch.float64)  # 8000 bytes
        b = a * 2  # 16000 live
        del a, b  # both freed
        return torch.zeros(500, dtype=torch.float64)  # 4000 live
    with LiveTensorBytes() as tracker:
        out = two_temporaries_in_turn()
    assert tracker.peak == 16000
    assert tracker.live == 4000
    del out
    assert tracker.live == 0  # freed through the storage's finalizer, even after the mode exited


def test_dispatch_mode_ignores_inputs_views_and_in_place_writes():
    x = torch.zeros(1000)

    def views_and_writes() -> torch.Tensor:
        y = x.view(10, 100).transpose(0, 1)  # a view: no new memory
        x.add_(1)  # in place
        return y[0]
    assert peak_memory(views_and_writes)[0] == 0


def test_dispatch_mode_counts_autograd_saved_tensors():
    w = torch.randn(100, 100, requires_grad=True)
    x = torch.randn(100, 100)
    peak, _ = peak_memory(lambda: (x @ w).tanh().sum())
    assert peak >= 2 * 100 * 100 * 4  # x @ w and its tanh (kept for the backward pass)


def test_tracemalloc_method_counts_a_numpy_array():
    peak, _ = peak_memory(lambda: np.ones(100_000), method="tracemalloc")
    assert 800_000 <= peak < 900_000


# -- rows that never crash -----------------------------------------------------------------------

def ctx_for(folder, **kwargs) -> Context:
    return Context(folder, quick=True, plan=TINY, **kwargs)


def test_row_for_unimplemented_and_raising_functions(learner_folder):
    source = solution_source("attention") + "\n\ndef softmax(x, dim=-1):\n    raise ValueError('boom')\n"
    ctx = ctx_for(learner_folder(attention=source))
    ex = ctx.load("attention")
    x = torch.randn(4, 4)

    def stub() -> None:
        raise NotImplementedError("softmax: see the docstring")

    row = ctx.compare("attention", "softmax", "4x4", bound(lambda: ex.softmax, x), bound(lambda: torch.softmax, x, -1),
                      baseline="torch.softmax")
    assert row.mine is None and row.status.startswith("raised ValueError: boom at attention.py line ")
    assert row.theirs is None and row.ratio is None
    row = ctx.compare("attention", "stub", "4x4", bound(lambda: stub), bound(lambda: torch.softmax, x, -1),
                      baseline="torch.softmax")
    assert row.status == "not implemented yet"
    row = ctx.compare("attention", "missing", "4x4", bound(lambda: ex.no_such_function),
                      bound(lambda: torch.softmax, x, -1), baseline="torch.softmax")
    assert "does not define `no_such_function`" in row.status


def test_a_crashing_function_leaves_the_other_rows_running(learner_folder):
    source = solution_source("attention") + (
        "\n\ndef broken_forward(self, x, mask=None, is_causal=False):\n"
        "    raise KeyError('boom')\n\n\n"
        "MultiHeadAttention.forward = broken_forward\n")
    rows = list(framework.run_cases(ctx_for(learner_folder(attention=source)), "attention"))
    mha = [r for r in rows if r.case == "MultiHeadAttention"]
    assert mha and all(r.status.startswith("raised KeyError: 'boom' at attention.py line") for r in mha)
    others = [r for r in rows if r.case != "MultiHeadAttention"]
    assert others and all(r.ratio is not None for r in others)


def test_a_file_that_does_not_load_gives_one_row(learner_folder):
    rows = list(framework.run_cases(ctx_for(learner_folder(attention="def softmax(:\n")), "attention"))
    assert len(rows) == 1 and rows[0].status.startswith("could not load:") and "does not parse" in rows[0].status


def test_size_skipped_when_it_would_not_fit_in_memory():
    ctx = ctx_for("solutions")
    ctx.memory_limit = 1000
    row = ctx.compare("attention", "big", "huge", bound(lambda: torch.ones, 10),
                      bound(lambda: torch.ones, 10), baseline="b", mine_bytes=10**12)
    assert row.mine is None and row.status.startswith("skipped: would allocate about 931.3 GiB")
    assert row.theirs is None and row.baseline_status == "not measured"
    row = ctx.compare("attention", "big", "huge baseline", bound(lambda: torch.ones, 10),
                      bound(lambda: torch.ones, 10), baseline="b", theirs_bytes=10**12)
    assert row.mine is not None and row.baseline_status.startswith("skipped: would allocate")


def test_size_skipped_when_the_previous_one_predicts_too_long():
    ctx = ctx_for("solutions")
    sleep = bound(lambda: time.sleep, 0.002)
    first = ctx.compare("x", "sleep", "small", sleep, sleep, baseline="b", work=1)
    assert first.mine is not None
    second = ctx.compare("x", "sleep", "large", sleep, sleep, baseline="b", work=1e6)
    assert second.status.startswith("skipped: one call would take about")


def test_endless_call_times_out():
    plan = Plan(timeout_s=0.2, max_call_s=0.2)
    ctx = Context("solutions", quick=True, plan=plan)

    def forever() -> None:
        while True:
            pass
    row = ctx.compare("x", "loop", "n", bound(lambda: forever), bound(lambda: torch.ones, 1), baseline="b", work=1)
    assert row.status.startswith("timed out after 0.2 s")
    later = ctx.compare("x", "loop", "bigger", bound(lambda: forever), bound(lambda: torch.ones, 1), baseline="b")
    assert later.status == "skipped: a smaller size already ran out of time"


def test_disagreeing_outputs_get_a_note():
    ctx = ctx_for("solutions")
    x = torch.randn(5, 5)
    row = ctx.compare("attention", "softmax", "5x5", bound(lambda: torch.sigmoid, x),
                      bound(lambda: torch.softmax, x, -1), baseline="torch.softmax")
    assert row.ratio is not None and any("outputs differ" in n for n in row.notes)
    same = ctx.compare("attention", "softmax", "5x5b", bound(lambda: torch.softmax, x, -1),
                       bound(lambda: torch.softmax, x, -1), baseline="torch.softmax")
    assert not same.notes


# -- progress store ------------------------------------------------------------------------------

def test_record_calls_progress_store_and_survives_its_failure(monkeypatch, tmp_path):
    from mlkata.commands import bench as command

    calls = []
    fake = types.ModuleType("mlkata.progress")
    fake.record_benchmark = lambda *args: calls.append(args)
    monkeypatch.setitem(sys.modules, "mlkata.progress", fake)
    monkeypatch.setattr("mlkata.progress", fake, raising=False)
    row = Row("attention", "softmax", "torch.softmax", "4x4",
              mine=framework.Stats(2.0, 0.1, 3, 1, 100), theirs=framework.Stats(1.0, 0.1, 3, 1, 50))
    command.record(row, ctx_for("solutions"))
    assert calls == []  # the worked solutions' numbers are nobody's progress
    ctx = ctx_for(tmp_path)
    command.record(row, ctx)
    (exercise, case, impl, metrics), = calls
    assert exercise == "attention" and "softmax" in case and impl == str(tmp_path)
    assert metrics["ratio"] == 2.0 and metrics["memory_ratio"] == 2.0
    assert all(isinstance(v, float) for v in metrics.values())

    def broken(*args):
        raise RuntimeError("disk full")
    fake.record_benchmark = broken
    command.record(row, ctx)  # prints nothing, raises nothing


# -- the command ---------------------------------------------------------------------------------

def test_quick_run_of_every_benchmark_on_the_solutions():
    doc = json.loads(run_cli("--all", "--impl", "solutions", "--quick", "--json"))
    exercises = {row["exercise"] for row in doc["rows"]}
    assert exercises == set(bench.available()) and "attention" in exercises
    for row in doc["rows"]:
        assert row["status"] == "ok" and row["baseline_status"] == "ok", row
        assert row["ratio"] is not None and row["ratio"] > 0
        assert not any("differ" in note for note in row["notes"]), row
    assert {e["exercise"] for e in doc["summary"]} == exercises


def test_quick_run_on_fresh_stubs_says_not_implemented(tmp_path):
    stubs.write_stubs(tmp_path, bench.available())
    text = run_cli("--all", "--impl", str(tmp_path), "--quick")
    assert "Traceback" not in text
    assert "not implemented yet" in text and "summary" in text
    doc = json.loads(run_cli("attention", "--impl", str(tmp_path), "--quick", "--json"))
    assert all(row["status"] == "not implemented yet" for row in doc["rows"])


def test_unknown_or_unbenchmarked_exercise_is_a_usage_error(capsys):
    assert "scaling" not in bench.available()
    assert main(["bench", "scaling"]) == 2
    assert "has no benchmark" in capsys.readouterr().err
    assert main(["bench", "no_such_exercise"]) == 2
    assert main(["bench"]) == 2


def test_grader_latency_row():
    ctx = ctx_for("solutions")
    row, = grader.cases(ctx, command=[sys.executable, "-c", "pass"], baseline=[sys.executable, "-c", "pass"],
                        repeats=1)
    assert row.exercise == "grader" and row.mine.repeats == 1 and row.ratio is not None


@pytest.mark.gpu
def test_quick_run_on_cuda():
    doc = json.loads(run_cli("attention", "--impl", "solutions", "--quick", "--json", "--device", "cuda"))
    assert doc["device"] == "cuda"
    for row in doc["rows"]:
        assert row["status"] == "ok" and row["mine"]["peak_bytes"] > 0, row


def test_a_very_slow_call_is_measured_once_when_tracking_did_not_slow_it():
    plan = Plan(slow_call_s=0.02, very_slow_call_s=0.05, warmup_s=0.0)
    calls = []

    def slow() -> torch.Tensor:
        calls.append(1)
        time.sleep(0.06)
        return torch.ones(2)  # one op: the tracker's overhead is negligible
    stats, _ = framework.measure(slow, plan=plan, memory="torch")
    assert len(calls) == 1 and stats.repeats == 1 and stats.peak_bytes == 8 and stats.median_s >= 0.06

    calls.clear()
    stats, _ = framework.measure(lambda: (calls.append(1), time.sleep(0.03)), plan=plan, memory="torch")
    assert len(calls) == 1 + plan.slow_repeats  # slow, not very slow: the first call only warms up
