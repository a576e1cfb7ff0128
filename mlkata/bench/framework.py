"""The benchmark machinery: timing, peak memory, and rows that never crash.

A benchmark *row* compares two implementations of the same job at one size: the learner's
("yours") and a baseline (usually torch's built-in). Both are timed in this process:

1. a first call, never counted (lazy initialisation, allocator growth, caches): on the CPU
   it runs under the peak-memory tracker (see `peak_memory`); on CUDA a separate
   peak-memory call follows it. Its output is kept to check that the two sides agree;
2. more warm-up calls, which also estimate how long one call takes;
3. `repeats` samples. A sample runs the function `number` times in a row (enough calls to
   last `Plan.min_sample_s`, so a microsecond op is not timed by a clock tick) and records
   the time per call. Slow calls get fewer samples (`Plan.slow_call_s`). With
   ``--device cuda`` every sample is fenced by `torch.cuda.synchronize()`: kernels run
   asynchronously, and an unfenced clock would only time their launch.

The row reports the median of the samples and their spread (the median absolute deviation),
and the ratio yours / baseline: below 1 is faster.
Nothing here passes or fails: a benchmark is a measurement.

A learner's function that is not implemented, raises, runs too long, or would need too much
memory gives a row that says so, and the next row runs.
"""

from __future__ import annotations

import gc
import math
import os
import signal
import statistics
import sys
import threading
import time
import tracemalloc
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from mlkata import paths
from mlkata.loader import LearnerCodeError, MissingName, learner_frame, load_exercise

Thunk = Callable[[], Any]  # the call being timed: no arguments, everything bound
Maker = Callable[[], Thunk]  # builds the thunk (models, optimizers); runs once, untimed

# ----------------------------------------------------------------------------------------------
# Statistics


def summarize(samples: list[float]) -> tuple[float, float]:
    """(median, spread) of timing samples.

    spread is the median absolute deviation from the median: like the median itself, one
    sample slowed down by another process barely moves it (with 3 samples it is the smaller
    of the two outer samples' distances to the middle one).
    """
    if not samples:
        raise ValueError("no samples")
    median = statistics.median(samples)
    return median, statistics.median(abs(s - median) for s in samples)


# ----------------------------------------------------------------------------------------------
# Peak memory


class LiveTensorBytes(TorchDispatchMode):
    """Tracks the bytes of tensor storage created while it is active, and their peak.

    Every aten operator call passes through `__torch_dispatch__`. Each output tensor whose
    storage is new (not one of the op's inputs' storages, not already tracked) adds its
    `nbytes` to `live`; a `weakref.finalize` on the storage subtracts them when the storage
    is freed (torch keeps one Python object per storage, so the finalizer fires exactly
    when the memory goes). `peak` is the largest `live` seen.

    What it sees: every tensor that any torch operator allocates, autograd's saved tensors
    included. What it does not: scratch memory inside one kernel (a fused kernel's
    workspace), tensors that existed before it started (the inputs), numpy or Python
    objects (use `tracemalloc` for those).
    """

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # By default torch wraps __torch_dispatch__ in torch._dynamo.disable, whose first use
        # imports torch._dynamo (seconds). Nothing here is compiled, so opt out.
        return False

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self.ops = 0  # operator calls seen (each costs tens of µs of Python while tracking)
        self._sizes: dict[int, int] = {}  # storage id (its C pointer) -> bytes counted for it

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[override]
        out = func(*args, **(kwargs or {}))
        self.ops += 1
        inputs = {_storage_key(t) for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)}
        for tensor in tree_leaves(out):
            if isinstance(tensor, torch.Tensor):
                self._track(tensor, inputs)
        return out

    def _track(self, tensor: torch.Tensor, inputs: set[int | None]) -> None:
        try:
            storage = tensor.untyped_storage()
        except (RuntimeError, NotImplementedError):  # sparse and other storage-less tensors
            return
        key = storage._cdata
        if key in inputs or key in self._sizes:
            return  # a view of, or an in-place write to, memory that already exists
        nbytes = storage.nbytes()
        self._sizes[key] = nbytes
        self.live += nbytes
        self.peak = max(self.peak, self.live)
        weakref.finalize(storage, self._free, key)

    def _free(self, key: int) -> None:
        self.live -= self._sizes.pop(key, 0)


def _storage_key(tensor: torch.Tensor) -> int | None:
    try:
        return tensor.untyped_storage()._cdata
    except (RuntimeError, NotImplementedError):
        return None


TRACKING_COST_S = 50e-6  # a generous bound on LiveTensorBytes's overhead per operator call


def peak_memory(fn: Thunk, device: str = "cpu", method: str = "torch",
                counts: dict[str, int] | None = None) -> tuple[int, Any]:
    """(peak bytes allocated while `fn()` ran, beyond what existed before; fn's result).

    method "tracemalloc" (pure Python or numpy code): the peak of Python's traced
    allocations (numpy reports its arrays to tracemalloc), on any device. Otherwise, device
    "cuda": `torch.cuda.max_memory_allocated` after `reset_peak_memory_stats`, minus what was
    allocated before the call (everything the caching allocator hands out, kernel workspaces
    included); device "cpu": tensor storage counted by `LiveTensorBytes`, whose number of
    operator calls goes to `counts["ops"]` when `counts` is given.
    """
    if method == "tracemalloc":
        already = tracemalloc.is_tracing()
        if not already:
            tracemalloc.start()
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        try:
            out = fn()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            if not already:
                tracemalloc.stop()
        return max(0, peak - before), out
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        out = fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before, out
    with LiveTensorBytes() as tracker:
        out = fn()
    if counts is not None:
        counts["ops"] = tracker.ops
    return tracker.peak, out


# ----------------------------------------------------------------------------------------------
# Timing


@dataclass(frozen=True)
class Plan:
    """How hard to measure. `FULL` is `mlkata bench`; `QUICK` (``--quick``) is for tests."""

    min_sample_s: float = 0.01  # a sample lasts at least this long (`number` calls)
    budget_s: float = 1.0  # aim for this much total sampling time per measurement
    min_repeats: int = 3
    max_repeats: int = 15
    warmup_s: float = 0.05  # keep warming up (after the first call) until this much time passed
    slow_call_s: float = 1.0  # a call at least this slow: no extra warm-up, `slow_repeats` samples
    slow_repeats: int = 2
    very_slow_call_s: float = 2.5  # and at least this slow: a single sample
    max_call_s: float = 20.0  # skip a size whose calls are predicted to take longer
    timeout_s: float = 30.0  # abandon a first call that runs longer (a learner's endless loop)
    memory_fraction: float = 0.4  # skip a size predicted to need more of the available RAM
    memory_cap: int = 8 << 30  # ... or more than this, whatever is available


FULL = Plan()
QUICK = Plan(min_sample_s=0.0005, budget_s=0.01, min_repeats=3, max_repeats=3, warmup_s=0.0,
             slow_call_s=0.2, very_slow_call_s=2.0, max_call_s=5.0, timeout_s=20.0)


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


@dataclass
class Stats:
    """One implementation's measurement at one size."""

    median_s: float
    spread_s: float
    repeats: int  # samples taken
    number: int  # calls per sample
    peak_bytes: int | None = None

    def to_json(self) -> dict[str, float | int | None]:
        return {"median_s": self.median_s, "spread_s": self.spread_s, "repeats": self.repeats,
                "number": self.number, "peak_bytes": self.peak_bytes}


class CallTimeout(BaseException):
    """Raised inside a call that overran its time (a BaseException: `except Exception`
    in the learner's code must not swallow it)."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise `CallTimeout` in the main thread after `seconds` (no-op elsewhere, or on Windows).

    An alarm already pending (pytest-timeout's) is kept: it fires first if it is due sooner,
    and is re-armed with its remaining time afterwards. Python checks for signals between
    bytecodes, so a long single torch op finishes first.
    """
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or seconds <= 0:
        yield
        return

    def overran(signum, frame):  # noqa: ARG001
        raise CallTimeout(f"timed out after {seconds:g} s")

    outer_remaining, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    if 0 < outer_remaining <= seconds:
        yield  # the outer alarm is due first: let it act
        return
    previous = signal.signal(signal.SIGALRM, overran)
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_remaining > 0:  # re-arm the outer alarm with what was left of it
            left = max(outer_remaining - (time.monotonic() - started), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)


def measure(thunk: Thunk, *, device: str = "cpu", plan: Plan = FULL, memory: str | None = "torch",
            grad: bool = False, warmup: bool = True) -> tuple[Stats, Any]:
    """Time `thunk()` (and its peak memory unless `memory` is None); return (stats, first output).

    `grad=False` runs under `torch.no_grad()` (inference); `grad=True` leaves autograd on.
    `warmup=False`: a first call slower than `plan.slow_call_s` is kept as a sample
    (pure-Python code has nothing to warm up); so is any first call slower than
    `plan.very_slow_call_s`, if the memory tracker did not slow it down. A later call
    slower than `plan.slow_call_s` always counts.
    """
    on_cpu = not device.startswith("cuda")
    tracked_first = memory == "tracemalloc" or (bool(memory) and on_cpu)
    samples: list[float] = []
    with torch.enable_grad() if grad else torch.no_grad():
        peak = None
        # 1. The first call: the warm-up. On CPU it is also the memory call; on CUDA the memory
        # call comes after a warm-up, so that one-time allocations (cuBLAS workspaces) are not
        # counted as the function's.
        counts: dict[str, int] = {}
        with deadline(plan.timeout_s):
            start = time.perf_counter()
            if tracked_first:
                peak, first = peak_memory(thunk, device, memory or "torch", counts)
            else:
                first = thunk()
            synchronize(device)
            estimate = time.perf_counter() - start
            if memory and not tracked_first:
                peak, _ = peak_memory(thunk, device, memory)
        first = _fingerprint(first)  # keep a small sample, not a large output
        # Was the first call timed faithfully? Untracked, or tracked with few enough ops that
        # the tracker's Python overhead is under 2 % (a few large ops: attention at L=2048).
        faithful = not tracked_first or ("ops" in counts and counts["ops"] * TRACKING_COST_S < 0.02 * estimate)
        # A slow call has little left to warm up: a faithful first call counts as a sample when
        # it is very slow, or when the caller says there is nothing to warm up.
        if faithful and estimate >= plan.slow_call_s and (not warmup or estimate >= plan.very_slow_call_s):
            samples.append(estimate)

        # 2. More warm-up, each call refining the estimate of one call's time: after a first
        # call that was not timed faithfully, one plain call (a sample itself if it is slow);
        # for fast calls, more until `plan.warmup_s` has passed.
        if not faithful:
            estimate = _timed_call(thunk, device)
            if estimate >= plan.slow_call_s:
                samples.append(estimate)
        if estimate < plan.slow_call_s:
            warm_end = time.perf_counter() + plan.warmup_s
            for _ in range(20):
                estimate = _timed_call(thunk, device)
                if time.perf_counter() >= warm_end:
                    break

        # 3. Samples: `number` calls each, `repeats` of them (fewer for slow calls).
        number = max(1, math.ceil(plan.min_sample_s / max(estimate, 1e-9)))
        repeats = min(plan.max_repeats, max(plan.min_repeats, int(plan.budget_s / (estimate * number))))
        if estimate >= plan.very_slow_call_s:
            repeats = 1
        elif estimate >= plan.slow_call_s:
            repeats = plan.slow_repeats
        gc_was_enabled = gc.isenabled()
        gc.disable()  # a collection in the middle of one sample is noise, not the function's cost
        try:
            while len(samples) < repeats:
                synchronize(device)
                start = time.perf_counter()
                for _ in range(number):
                    thunk()
                synchronize(device)
                samples.append((time.perf_counter() - start) / number)
        finally:
            if gc_was_enabled:
                gc.enable()
    median, spread = summarize(samples)
    return Stats(median, spread, len(samples), number, peak), first


def _timed_call(thunk: Thunk, device: str) -> float:
    start = time.perf_counter()
    thunk()
    synchronize(device)
    return time.perf_counter() - start


def _fingerprint(out: Any) -> Any:
    """A small stand-in for an output, enough to tell whether two implementations agree:
    for a tensor, its shape and up to 4096 evenly spaced elements (as float64 on the CPU)."""
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        out = out[0]  # (logits, loss), (output, weights): compare the first
    if not isinstance(out, torch.Tensor):
        if not (isinstance(out, (float, int)) or hasattr(out, "__array__")):
            return None
        try:  # a number or a numpy array
            out = torch.as_tensor(out)
        except (TypeError, ValueError, RuntimeError):
            return None
    flat = out.detach().reshape(-1)
    step = max(1, flat.numel() // 4096)
    return tuple(out.shape), flat[::step].to("cpu", torch.float64).clone()


def outputs_differ(mine: Any, theirs: Any, atol: float = 1e-3, rtol: float = 1e-3) -> str | None:
    """A note when two fingerprints disagree (loosely: benchmarks use float32), else None."""
    if mine is None or theirs is None:
        return None
    (shape_a, a), (shape_b, b) = mine, theirs
    if shape_a != shape_b:
        return f"your output has shape {shape_a}, the baseline's {shape_b}"
    same = (a == b) | (a.isnan() & b.isnan())  # equal infinities included
    close = same | ((a - b).abs() <= atol + rtol * b.abs())
    if bool(close.all()):
        return None
    error = (a - b).abs()[~close].nan_to_num(nan=float("inf")).max().item()
    return f"outputs differ from the baseline's (max abs error {error:.2g})"


# ----------------------------------------------------------------------------------------------
# Rows


@dataclass
class Row:
    """One comparison at one size. `status`/`baseline_status` say why a side has no numbers."""

    exercise: str
    case: str  # what is timed: "scaled_dot_product_attention"
    baseline: str  # what it is compared with: "F.scaled_dot_product_attention"
    size: str  # "B=8 H=8 L=128 D=64"
    mine: Stats | None = None
    theirs: Stats | None = None
    status: str = ""  # "not implemented yet", "raised ValueError: ...", "skipped: ..."
    baseline_status: str = ""
    notes: list[str] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)  # derived metrics, e.g. tokens_per_s

    @property
    def ratio(self) -> float | None:
        """yours / baseline median time: below 1 is faster than the baseline."""
        if self.mine is None or self.theirs is None or self.theirs.median_s <= 0:
            return None
        return self.mine.median_s / self.theirs.median_s

    @property
    def memory_ratio(self) -> float | None:
        if self.mine is None or self.theirs is None or not self.mine.peak_bytes or not self.theirs.peak_bytes:
            return None
        return self.mine.peak_bytes / self.theirs.peak_bytes

    def metrics(self) -> dict[str, float]:
        """The numbers worth keeping in the progress store (floats only)."""
        out: dict[str, float] = {}
        if self.mine is not None:
            out["median_s"] = self.mine.median_s
            out["spread_s"] = self.mine.spread_s
            if self.mine.peak_bytes is not None:
                out["peak_bytes"] = float(self.mine.peak_bytes)
        if self.theirs is not None:
            out["baseline_median_s"] = self.theirs.median_s
            if self.theirs.peak_bytes is not None:
                out["baseline_peak_bytes"] = float(self.theirs.peak_bytes)
        if self.ratio is not None:
            out["ratio"] = self.ratio
        if self.memory_ratio is not None:
            out["memory_ratio"] = self.memory_ratio
        out.update(self.extra)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"exercise": self.exercise, "case": self.case, "baseline": self.baseline, "size": self.size,
                "status": self.status or "ok", "baseline_status": self.baseline_status or "ok",
                "mine": self.mine.to_json() if self.mine else None,
                "baseline_stats": self.theirs.to_json() if self.theirs else None,
                "ratio": self.ratio, "memory_ratio": self.memory_ratio, "notes": self.notes, "extra": self.extra}


def describe_error(error: BaseException, file: Path | None = None) -> str:
    """What a row says instead of a traceback: 'not implemented yet', 'raised ValueError: ...'."""
    if isinstance(error, NotImplementedError):
        return "not implemented yet"
    if isinstance(error, CallTimeout):
        return f"{error} (too slow to benchmark at this size; try `mlkata bench --quick`)"
    if isinstance(error, (LearnerCodeError, MissingName)):
        return str(error)
    if isinstance(error, torch.cuda.OutOfMemoryError) or isinstance(error, MemoryError):
        return f"ran out of memory ({type(error).__name__})"
    text = str(error).strip().splitlines()
    where = ""
    if file is not None:
        frame = learner_frame(error, file)
        if frame is not None:
            where = f" at {file.name} line {frame.lineno}"
    message = f": {text[0][:160]}" if text else ""
    return f"raised {type(error).__name__}{message}{where}"


class Skip(Exception):
    """A case cannot run at all (its module does not load): the runner prints one row."""


def available_memory() -> int:
    """Bytes of RAM available now (Linux /proc/meminfo; a guess of 4 GiB elsewhere)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def format_seconds(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


class Context:
    """What a benchmark module's `cases(ctx)` works with: the device, the plan, loading the
    learner's modules, and `compare`, which measures both sides of a row.

    Measurements are cached by (what, size), so a second row comparing the same learner call
    with another baseline does not time it again.
    """

    def __init__(self, impl: str | Path = "exercises", *, device: str = "cpu", quick: bool = False,
                 own_deps: bool = False, plan: Plan | None = None) -> None:
        self.impl = str(impl)
        self.impl_dir = paths.resolve_impl(impl)
        self.device = device
        self.quick = quick
        self.own_deps = own_deps
        self.plan = plan or (QUICK if quick else FULL)
        if device.startswith("cuda"):
            self.memory_limit = int(torch.cuda.get_device_properties(0).total_memory * 0.8)
        else:
            self.memory_limit = int(min(self.plan.memory_cap, available_memory() * self.plan.memory_fraction))
        self._cache: dict[tuple[str, str], tuple[Stats | None, str, Any]] = {}
        self._rates: dict[str, float] = {}  # what -> seconds per unit of `work`, from the last size

    # -- loading ---------------------------------------------------------------------------
    def load(self, name: str) -> Any:
        """The implementation being benchmarked of exercise `name` (as `mlkata check` loads it)."""
        try:
            return load_exercise(name, self.impl_dir, own_deps=self.own_deps)
        except LearnerCodeError as err:
            raise Skip(f"could not load: {err}") from None

    def solution(self, name: str) -> Any:
        """The worked solution of `name` (a baseline where torch has no built-in)."""
        return load_exercise(name, paths.SOLUTIONS)

    def file_of(self, name: str) -> Path:
        return self.impl_dir / f"{name}.py"

    # -- measuring -------------------------------------------------------------------------
    def compare(self, exercise: str, case: str, size: str, mine: Maker, theirs: Maker, *, baseline: str,
                memory: str | None | tuple[str | None, str | None] = "torch", grad: bool = False,
                work: float | None = None, mine_bytes: float | None = None, theirs_bytes: float | None = None,
                check: bool = True, warmup: bool = True, baseline_file: Path | None = None) -> Row:
        """Measure `mine` and `theirs` at one size and return the row.

        mine, theirs: makers: called once (untimed) to build what is needed, they return the
            thunk to time. A maker or thunk that raises gives that side a status, not a crash;
            when yours has no numbers, the baseline is not measured.
        work: the size's cost in any unit proportional to run time (e.g. B*H*L*L*D); with the
            previous size's time it predicts this one's, to skip sizes that would take longer
            than `Plan.max_call_s`.
        memory: how peak memory is measured ("torch", "tracemalloc" or None: not at all; see
            `peak_memory`), or a pair (yours, baseline) when the two sides differ (numpy vs torch).
        mine_bytes, theirs_bytes: estimated peak memory; a side over the limit is skipped.
        warmup: False for pure-Python code with nothing to warm up: a slow first call then
            counts as a sample instead of being thrown away.
        baseline_file: when the baseline is the learner's code too (their own SDPA, their
            generate without a cache), the file it lives in, so its errors name their line.
        """
        row = Row(exercise, case, baseline, size)
        learner_file = self.file_of(exercise)
        mine_memory, theirs_memory = memory if isinstance(memory, tuple) else (memory, memory)
        options = dict(grad=grad, work=work, warmup=warmup)
        row.mine, row.status, out_mine = self._measure(case, size, mine, est_bytes=mine_bytes, file=learner_file,
                                                       memory=mine_memory, **options)
        if row.mine is None:  # nothing to compare with: do not spend time on the baseline
            row.baseline_status = "not measured"
            return row
        row.theirs, row.baseline_status, out_theirs = self._measure(
            baseline, size, theirs, est_bytes=theirs_bytes, file=baseline_file, memory=theirs_memory, **options)
        if check and row.mine is not None and row.theirs is not None:
            note = outputs_differ(out_mine, out_theirs)
            if note:
                row.notes.append(f"{note}: `mlkata check {exercise}` says where")
        return row

    def _measure(self, what: str, size: str, maker: Maker, *, est_bytes: float | None, file: Path | None,
                 work: float | None, **options: Any) -> tuple[Stats | None, str, Any]:
        key = (what, size)
        if key not in self._cache:
            self._cache[key] = self._measure_uncached(what, maker, est_bytes=est_bytes, file=file,
                                                      work=work, **options)
        return self._cache[key]

    def _measure_uncached(self, what: str, maker: Maker, *, est_bytes: float | None, file: Path | None,
                          work: float | None, **options: Any) -> tuple[Stats | None, str, Any]:
        if est_bytes is not None and est_bytes > self.memory_limit:
            return None, (f"skipped: would allocate about {format_bytes(est_bytes)} "
                          f"(limit {format_bytes(self.memory_limit)})"), None
        rate = self._rates.get(what)
        if rate == math.inf:
            return None, "skipped: a smaller size already ran out of time", None
        if work is not None and rate is not None and rate * work > self.plan.max_call_s:
            return None, (f"skipped: one call would take about {rate * work:.0f} s "
                          f"(limit {self.plan.max_call_s:g} s)"), None
        try:
            with deadline(self.plan.timeout_s):
                thunk = maker()
            stats, out = measure(thunk, device=self.device, plan=self.plan, **options)
        except (Exception, CallTimeout, SystemExit) as err:  # any failure is a row's status, never a crash
            if isinstance(err, CallTimeout):
                self._rates[what] = math.inf
            return None, describe_error(err, file), None
        finally:
            gc.collect(1)  # young garbage cycles (a model and its closures); a full collection costs 0.2 s
        if work:
            self._rates[what] = stats.median_s / work
        return stats, "", out


# ----------------------------------------------------------------------------------------------
# Helpers for the case modules


def bound(get: Callable[[], Callable[..., Any]], *args: Any, **kwargs: Any) -> Maker:
    """A maker for `get()(*args, **kwargs)`. `get` looks the function up when the row runs,
    so a function the learner's module lacks becomes that row's status:
    `bound(lambda: ex.softmax, x, dim=-1)`."""
    def make() -> Thunk:
        fn = get()
        return lambda: fn(*args, **kwargs)
    return make


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(*shape: int, device: str = "cpu", seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=seeded(seed), dtype=dtype).to(device)


def run_cases(ctx: Context, exercise: str) -> Iterator[Row]:
    """The rows of one exercise's benchmark; a module that cannot load or a benchmark that
    breaks gives one row saying so, never a traceback."""
    from mlkata.bench import cases_module

    try:
        yield from cases_module(exercise).cases(ctx)
    except Skip as skip:
        yield Row(exercise, exercise, "", "", status=str(skip))
    except (Exception, CallTimeout, SystemExit) as err:
        reason = describe_error(err, ctx.file_of(exercise))
        yield Row(exercise, exercise, "", "", status=f"the benchmark stopped: {reason}")


def environment(device: str) -> str:
    """One line naming what the numbers were measured on."""
    if device.startswith("cuda"):
        where = f"cuda ({torch.cuda.get_device_name(0)})"
    else:
        threads = torch.get_num_threads()
        where = f"cpu ({threads} thread{'s' if threads > 1 else ''}, {os.cpu_count()} cores)"
    return f"{where} · torch {torch.__version__} · python {sys.version.split()[0]}"


def busy_warning(device: str) -> str | None:
    """A warning when other programs keep the CPU busy (Unix load average above 75 % of the
    cores): torch's threads then wait for each other and small ops can run 10x slower."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
    cores = os.cpu_count() or 1
    if load <= 0.75 * cores:
        return None
    advice = ""
    if not device.startswith("cuda") and torch.get_num_threads() > 1:
        advice = " `--threads 1` gives steadier numbers."
    return f"the machine is busy (load average {load:.1f} on {cores} cores): timings are noisy.{advice}"


__all__ = ["Context", "Plan", "FULL", "QUICK", "Row", "Stats", "Skip", "LiveTensorBytes", "bound",
           "measure", "peak_memory", "summarize", "describe_error", "format_bytes", "format_seconds",
           "environment", "busy_warning", "randn", "run_cases"]
