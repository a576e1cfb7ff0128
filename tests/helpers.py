"""Assertions whose failure messages a learner can act on.

Every comparison in `tests/` goes through `check_call` or `assert_close`, so a failure
always names the call (shapes, dtypes, flags), what was expected, the max abs/rel error and
the first mismatching index, and, where a simple transformation explains the difference
(transposed, negated, off by a constant factor), says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

# Tolerances, stated once per dtype: (atol, rtol). float64 is tight enough to reject a
# difference the size of tanh-vs-erf GELU (~1e-4); low precision is for GPU tests.
TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float64: (1e-9, 1e-7),
    torch.float32: (1e-5, 1e-4),
    torch.float16: (2e-3, 2e-3),
    torch.bfloat16: (2e-2, 2e-2),
}


class Mismatch(AssertionError):
    """A learner's output differs from the oracle's.

    `rerun(module)` recomputes the same call with another implementation of the exercise
    (the grader uses it to match the output against cataloged bugs); `actual` is the
    learner's output.
    """

    def __init__(self, message: str, *, function: str | None = None,
                 rerun: Callable[[Any], Any] | None = None, actual: Any = None,
                 atol: float = 0.0, rtol: float = 0.0) -> None:
        super().__init__(message)
        self.function, self.rerun, self.actual = function, rerun, actual
        self.atol, self.rtol = atol, rtol


def describe(value: Any) -> str:
    """`(2, 3, 4) float64` for a tensor; a short repr otherwise."""
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).removeprefix("torch.")
        device = "" if value.device.type == "cpu" else f" {value.device}"
        return f"{tuple(value.shape)} {dtype}{device}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def describe_call(function: str, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None,
                  names: Sequence[str] = ()) -> str:
    """`softmax(x (2, 3) float64, dim=-1)`: the call as the learner would write it."""
    parts = [f"{n} {describe(a)}" if n and isinstance(a, torch.Tensor) else describe(a)
             for n, a in zip(list(names) + [""] * len(args), args)]
    parts += [f"{k}={describe(v)}" for k, v in (kwargs or {}).items()]
    return f"{function}({', '.join(parts)})"


def expect_tensor(out: Any, *, call: str, shape: Sequence[int] | None = None,
                  dtype: torch.dtype | None = None, device: torch.device | None = None) -> torch.Tensor:
    """Fail with a clear message unless `out` is a tensor of this shape, dtype and device."""
    if out is None:
        raise AssertionError(f"{call} returned None; expected a tensor of shape {tuple(shape or ())}. "
                             "Is a `return` missing?")
    if not isinstance(out, torch.Tensor):
        raise AssertionError(f"{call} returned {type(out).__name__} ({describe(out)}); expected a torch.Tensor.")
    if shape is not None and tuple(out.shape) != tuple(shape):
        hint = ""
        if sorted(out.shape) == sorted(shape):
            hint = " Same sizes in another order: a transpose or permute is missing or wrong."
        raise AssertionError(f"{call} returned shape {tuple(out.shape)}; expected {tuple(shape)}.{hint}")
    if dtype is not None and out.dtype != dtype:
        raise AssertionError(f"{call} returned {out.dtype}; expected {dtype} (keep the input's dtype: "
                             "avoid creating float32 tensors without dtype=).")
    if device is not None and out.device.type != device.type:
        raise AssertionError(f"{call} returned a tensor on {out.device}; expected {device} "
                             "(create new tensors with device=x.device).")
    return out


def explain_difference(actual: torch.Tensor, expected: torch.Tensor, atol: float, rtol: float) -> str:
    """A guess at what went wrong when a simple transformation explains the difference."""
    def close(a: torch.Tensor) -> bool:
        return a.shape == expected.shape and bool(torch.allclose(a, expected, atol=atol, rtol=rtol))

    if actual.ndim >= 2 and close(actual.transpose(-1, -2)):
        return " The output is the expected one transposed (last two dims swapped)."
    if close(-actual):
        return " The output has the wrong sign everywhere."
    nonzero = expected.abs() > 1e-6
    # A constant ratio means something only over several distinct values (a table that
    # repeats two values would make almost any swap look like a "scale factor").
    if nonzero.sum() > 3 and expected[nonzero].abs().unique().numel() > 2:
        ratio = actual[nonzero] / expected[nonzero]
        if torch.allclose(ratio, ratio.flatten()[0].expand_as(ratio), rtol=1e-4, atol=0):
            return f" The output is the expected one times {ratio.flatten()[0].item():.4g}: a scale factor is off."
    return ""


def assert_close(actual: Any, expected: torch.Tensor, *, call: str, atol: float | None = None,
                 rtol: float | None = None, what: str = "values") -> torch.Tensor:
    """Fail with a learner-facing message unless `actual` matches `expected` within tolerance."""
    actual = expect_tensor(actual, call=call, shape=expected.shape, dtype=expected.dtype, device=expected.device)
    default_atol, default_rtol = TOLERANCES.get(expected.dtype, (1e-6, 1e-5))
    atol = default_atol if atol is None else atol
    rtol = default_rtol if rtol is None else rtol
    a, e = actual.detach().double().cpu(), expected.detach().double().cpu()
    if e.dtype.is_floating_point or a.dtype.is_floating_point:
        bad = ~torch.isclose(a, e, atol=atol, rtol=rtol, equal_nan=True)
    else:
        bad = a != e
    if not bad.any():
        return actual
    index = tuple(int(i) for i in bad.nonzero()[0])
    got, want = a[index].item(), e[index].item()
    finite = torch.isfinite(a) & torch.isfinite(e)
    diff = (a - e).abs().where(finite, torch.zeros_like(a))
    rel = diff / e.abs().clamp_min(1e-12)
    if torch.isnan(a).any() and not torch.isnan(e).any():
        summary = f"it contains NaN (first at {list(index)}) where the reference has finite values"
    elif not torch.isfinite(a).all() and torch.isfinite(e).all():
        summary = f"it contains inf (first at {list(index)}) where the reference is finite"
    else:
        summary = (f"max abs err {diff.max().item():.3g}, max rel err {rel.max().item():.3g}; "
                   f"first mismatch at {list(index)}: got {got:.6g}, expected {want:.6g}")
    explanation = explain_difference(a, e, atol, rtol) if finite.all() else ""
    raise Mismatch(f"{call}: {what} differ from the reference ({summary}; tolerance atol={atol:g}, "
                   f"rtol={rtol:g}).{explanation}", actual=actual, atol=atol, rtol=rtol)


def check_call(ex: Any, function: str, *args: Any, expected: torch.Tensor, names: Sequence[str] = (),
               atol: float | None = None, rtol: float | None = None, **kwargs: Any) -> torch.Tensor:
    """Call `ex.<function>(*args, **kwargs)` and compare with `expected`.

    On a mismatch the raised `Mismatch` can rerun the same call on another implementation,
    which is how the grader names a learner's likely bug.
    """
    call = describe_call(function, args, kwargs, names)
    out = getattr(ex, function)(*args, **kwargs)
    try:
        return assert_close(out, expected, call=call, atol=atol, rtol=rtol)
    except Mismatch as err:
        err.function = function
        err.rerun = lambda module: getattr(module, function)(*args, **kwargs)
        raise


def check_module_call(ex: Any, class_name: str, init_args: Sequence[Any], module: torch.nn.Module,
                      *args: Any, expected: torch.Tensor, names: Sequence[str] = (),
                      atol: float | None = None, rtol: float | None = None, **kwargs: Any) -> torch.Tensor:
    """Call an `nn.Module` built from `ex.<class_name>(*init_args)` and compare with `expected`.

    On a mismatch, `rerun(other)` rebuilds the module from another implementation, loads the
    same weights and repeats the call, so the grader can name a likely bug here too.
    """
    call = describe_call(f"{class_name}({', '.join(map(str, init_args))})", args, kwargs, names)
    out = module(*args, **kwargs)
    try:
        return assert_close(out, expected, call=call, atol=atol, rtol=rtol)
    except Mismatch as err:
        state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        dtype = next(iter(state.values())).dtype if state else torch.float32

        def rerun(other: Any) -> torch.Tensor:
            twin = getattr(other, class_name)(*init_args).to(dtype)
            twin.load_state_dict(state)
            twin.train(module.training)
            return twin(*args, **kwargs)

        err.function, err.rerun = class_name, rerun
        raise


def assert_no_banned_apis(exercise: str, file: Any) -> None:
    """The from-scratch rule, as a check: the graded file uses none of the catalog's banned APIs."""
    from mlkata import catalog
    from mlkata.banned import find_violations

    entry = catalog.get(exercise)
    try:
        violations = find_violations(file.read_text(), entry.banned, entry.banned_imports)
    except SyntaxError:
        return  # the loader reports syntax errors with the line
    if violations:
        listed = "; ".join(str(v) for v in violations)
        raise AssertionError(f"{file.name} must be written from scratch: {listed}.")


def assert_gradients_match_finite_differences(fn: Callable[..., torch.Tensor], inputs: Sequence[torch.Tensor], *,
                                              call: str, directions: int = 4, eps: float = 1e-6,
                                              seed: int = 0) -> None:
    """Autograd's gradient of `fn` agrees with central finite differences, in float64.

    Checks directional derivatives along random directions (what gradcheck's fast mode
    does) through a scalar `.backward()`. Use this rather than `torch.autograd.gradcheck`:
    that one passes explicit grad_outputs, which makes torch import sympy and costs every
    grading a third of a second.
    """
    inputs = [x.detach().to(torch.float64).requires_grad_() for x in inputs]
    out = expect_tensor(fn(*inputs), call=call)
    if not out.requires_grad:
        raise AssertionError(f"{call}: the output does not require grad, so no gradient can flow back. "
                             "Avoid .detach(), .item(), numpy round-trips and torch.no_grad() in the forward pass.")
    generator = torch.Generator().manual_seed(seed)
    weights = torch.randn(out.shape, generator=generator, dtype=torch.float64)  # a random scalar projection
    (out * weights).sum().backward()
    for i, x in enumerate(inputs):
        if x.grad is None:
            raise AssertionError(f"{call}: no gradient reached input {i}: is part of the graph cut "
                                 "(.detach(), .data, torch.no_grad)?")
    with torch.no_grad():
        for _ in range(directions):
            us = [torch.randn(x.shape, generator=generator, dtype=torch.float64) for x in inputs]
            plus = (fn(*[x + eps * u for x, u in zip(inputs, us)]) * weights).sum().item()
            minus = (fn(*[x - eps * u for x, u in zip(inputs, us)]) * weights).sum().item()
            numeric = (plus - minus) / (2 * eps)
            analytic = sum((x.grad * u).sum().item() for x, u in zip(inputs, us))
            if abs(numeric - analytic) > 1e-5 + 1e-4 * abs(numeric):
                raise AssertionError(
                    f"{call}: autograd's gradient disagrees with finite differences (directional derivative "
                    f"{analytic:.6g} by autograd, {numeric:.6g} numerically). Avoid in-place edits of tensors "
                    "autograd needs, .detach() and .item() in the forward pass.")


def assert_real_close(actual: Any, expected: float, *, call: str, rel: float = 1e-9, abs_tol: float = 0.0,
                      what: str = "value") -> float:
    """Fail with a learner-facing message unless `actual` is a real number close to `expected`.

    For exercises that return Python floats (numpy's float64 is one). `rel` is relative to
    `expected`; `abs_tol` is for expected values near zero.
    """
    import math
    import numbers

    if actual is None:
        raise AssertionError(f"{call} returned None for the {what}; expected a float. Is a `return` missing?")
    if isinstance(actual, torch.Tensor) or not isinstance(actual, numbers.Real) or isinstance(actual, bool):
        raise AssertionError(f"{call} returned {type(actual).__name__} ({describe(actual)}) for the {what}; "
                             "expected a Python float (use float(...) on a 0-d array or tensor).")
    got = float(actual)
    if math.isclose(got, expected, rel_tol=rel, abs_tol=abs_tol):
        return got
    if not math.isfinite(got):
        summary = f"got {got}, expected {expected:.10g}"
    else:
        error = abs(got - expected)
        summary = f"got {got:.10g}, expected {expected:.10g} (abs err {error:.3g}, rel err {error / max(abs(expected), 1e-300):.3g})"
        if expected != 0 and got != 0 and math.isclose(got / expected, round(got / expected), rel_tol=1e-6) \
                and round(got / expected) not in (0, 1):
            summary += f"; that is {round(got / expected)} times the expected value: a constant factor is off"
        elif expected != 0 and got != 0 and math.isclose(expected / got, round(expected / got), rel_tol=1e-6) \
                and round(expected / got) not in (0, 1):
            summary += f"; that is the expected value divided by {round(expected / got)}: a constant factor is off"
    raise Mismatch(f"{call}: the {what} differs from the reference ({summary}; tolerance rel={rel:g}, "
                   f"abs={abs_tol:g}).", actual=actual, atol=abs_tol, rtol=rel)


def check_outputs(ex: Any, function: str, *args: Any, expected: Sequence[Any], outputs: Sequence[str],
                  names: Sequence[str] = (), call: str | None = None, atol: float | None = None,
                  rtol: float | None = None, **kwargs: Any) -> tuple[Any, ...]:
    """Call `ex.<function>(*args, **kwargs)`, which returns a tuple, and compare each element.

    `expected` holds one value per returned element (a tensor, compared with `assert_close`, or
    a float, compared with `assert_real_close`); `outputs` names them for the message, e.g.
    ("loss", "chosen_rewards", "rejected_rewards"). `call` overrides the described call (useful
    for numpy arguments). On a mismatch the grader can rerun the call on a cataloged bug.
    """
    call = call or describe_call(function, args, kwargs, names)
    out = getattr(ex, function)(*args, **kwargs)
    if not isinstance(out, (tuple, list)) or len(out) != len(expected):
        raise AssertionError(f"{call} returned {describe(out)}; expected a tuple of {len(expected)} values "
                             f"({', '.join(outputs)}).")
    try:
        for name, got, want in zip(outputs, out, expected):
            if isinstance(want, torch.Tensor):
                assert_close(got, want, call=call, atol=atol, rtol=rtol, what=f"{name} values")
            else:
                assert_real_close(got, want, call=call, rel=1e-9 if rtol is None else rtol,
                                  abs_tol=0.0 if atol is None else atol, what=name)
    except Mismatch as err:
        err.function, err.actual = function, out
        err.rerun = lambda module: getattr(module, function)(*args, **kwargs)
        raise
    return tuple(out)


def check_real_call(ex: Any, function: str, *args: Any, expected: float, call: str | None = None,
                    rel: float = 1e-9, abs_tol: float = 0.0, **kwargs: Any) -> float:
    """Call `ex.<function>(*args, **kwargs)`, which returns one float, and compare with `expected`."""
    call = call or describe_call(function, args, kwargs)
    out = getattr(ex, function)(*args, **kwargs)
    try:
        return assert_real_close(out, expected, call=call, rel=rel, abs_tol=abs_tol)
    except Mismatch as err:
        err.function = function
        err.rerun = lambda module: getattr(module, function)(*args, **kwargs)
        raise


def assert_head_sources(sources: Sequence[int | None], expected: Sequence[int], *, call: str,
                        what: str = "output head h") -> None:
    """Fail unless `sources[h] == expected[h]` for every head; `sources[h]` is the input head
    that output head h turned out to be computed from (None: no input head matches).

    Says so when the heads were tiled (h % n) instead of repeated in place (h // n_rep).
    """
    sources, expected = list(sources), list(expected)
    if sources == expected:
        return
    n_in = max(expected) + 1
    hint = ""
    if sources == [h % n_in for h in range(len(expected))]:
        hint = (f" That is h % {n_in}: the heads were tiled (like .repeat). Each head must be repeated"
                " in place, so consecutive heads share one source (like repeat_interleave).")
    elif None in sources:
        hint = " (None: that head equals no input head; were features of different heads mixed?)"
    raise AssertionError(f"{call}: {what} comes from input heads {sources}; expected {expected}, "
                         f"i.e. head h uses head h // {len(expected) // n_in}.{hint}")


def record_allocations(fn: Callable[[], Any]) -> tuple[Any, list[tuple[str, tuple[int, ...], int]]]:
    """Run `fn()`; return its result and every tensor a torch op created meanwhile, as
    (op name, shape, elements allocated).

    A `TorchDispatchMode` sees each aten op's outputs, so matmuls hidden in einsum, operators
    and factory functions are all seen. Outputs that share storage with one of the op's
    inputs (views, in-place ops) allocate nothing and are skipped; the element count is the
    storage's size, so a broadcast view (`expand`) counts as the small tensor behind it.
    """
    from torch.utils._python_dispatch import TorchDispatchMode  # already loaded by torch
    from torch.utils._pytree import tree_leaves

    records: list[tuple[str, tuple[int, ...], int]] = []

    def storage_ptr(t: torch.Tensor) -> int:
        return t.untyped_storage().data_ptr()

    class Recorder(TorchDispatchMode):
        @classmethod
        def _should_skip_dynamo(cls) -> bool:
            # torch's default wraps __torch_dispatch__ in a dynamo guard whose first call
            # imports torch._dynamo, a second of every grading; nothing here is compiled.
            return False

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            inputs = {storage_ptr(t) for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)}
            for t in tree_leaves(out):
                if isinstance(t, torch.Tensor) and storage_ptr(t) not in inputs:
                    elements = t.untyped_storage().nbytes() // max(t.element_size(), 1)
                    records.append((str(func.overloadpacket.__name__), tuple(t.shape), elements))
            return out

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # under a Python mode, intra-op worker threads queue for the GIL (~ms per op)
    try:
        with Recorder():
            result = fn()
    finally:
        torch.set_num_threads(threads)
    return result, records


def assert_no_full_score_matrix(records: Sequence[tuple[str, tuple[int, ...], int]], lq: int, lk: int, *,
                                call: str) -> None:
    """Fail if any recorded allocation (from `record_allocations`) holds Lq * Lk elements or more:
    tiled attention must never materialise the (Lq, Lk) scores, probabilities or mask."""
    too_big = [r for r in records if r[2] >= lq * lk]
    if not too_big:
        return
    op, shape, elements = max(too_big, key=lambda r: r[2])
    raise AssertionError(
        f"{call} created a tensor of shape {shape} ({elements:,} elements, by torch op `{op}`), as large as "
        f"the whole Lq x Lk = {lq} x {lk} = {lq * lk:,} score matrix. Tiled attention must never hold "
        "all the scores (or probabilities, or a full mask) at once: inside the loop over key tiles compute "
        "only q_tile @ k_tile^T, a (block_q x block_k) tile, and build any causal mask per tile from index "
        "ranges. Computing full attention and slicing it into tiles does not count.")


# --- numpy exercises (mlp_backprop): the same messages for np.ndarray outputs -------------------


def describe_array(value: Any) -> str:
    """`(2, 3) float64` for a numpy array (or tensor); a short repr otherwise."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return f"{value.shape} {value.dtype}"
    return describe(value)


def expect_array(out: Any, *, call: str, shape: Sequence[int] | None = None, dtype: Any = None) -> Any:
    """Fail with a clear message unless `out` is a numpy array of this shape (and dtype)."""
    import numpy as np

    if out is None:
        raise AssertionError(f"{call} returned None; expected a numpy array of shape {tuple(shape or ())}. "
                             "Is a `return` missing?")
    if isinstance(out, torch.Tensor):
        raise AssertionError(f"{call} returned a torch.Tensor; this exercise is numpy only: return an np.ndarray.")
    if not isinstance(out, np.ndarray):
        raise AssertionError(f"{call} returned {type(out).__name__} ({describe(out)}); expected a numpy array.")
    if shape is not None and tuple(out.shape) != tuple(shape):
        hint = ""
        if sorted(out.shape) == sorted(shape):
            hint = " Same sizes in another order: a transpose is missing or wrong."
        elif len(out.shape) == len(shape) - 1:
            hint = " One dimension is missing: was it summed or averaged away?"
        raise AssertionError(f"{call} returned shape {tuple(out.shape)}; expected {tuple(shape)}.{hint}")
    if dtype is not None and out.dtype != np.dtype(dtype):
        raise AssertionError(f"{call} returned {out.dtype}; expected {np.dtype(dtype)} (keep float64 throughout: "
                             "create arrays with dtype=np.float64 or from the float64 inputs).")
    return out


def _numpy_to_torch(value: Any) -> Any:
    """numpy arrays and real numbers become float64 tensors (tuples element-wise), so that
    `mlkata.diagnose` can compare a learner's numpy output with a cataloged bug's."""
    import numbers

    import numpy as np

    if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
        return torch.from_numpy(np.array(value, dtype=np.float64))
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return torch.tensor(float(value), dtype=torch.float64)
    if isinstance(value, (tuple, list)):
        return tuple(_numpy_to_torch(v) for v in value)
    return value


def assert_close_np(actual: Any, expected: Any, *, call: str, atol: float | None = None,
                    rtol: float | None = None, what: str = "values") -> Any:
    """`assert_close` for numpy arrays: the same message (shapes, errors, first mismatch)."""
    import numpy as np

    expected = np.asarray(expected)
    actual = expect_array(actual, call=call, shape=expected.shape, dtype=expected.dtype)
    assert_close(_numpy_to_torch(actual), _numpy_to_torch(expected), call=call, atol=atol, rtol=rtol, what=what)
    return actual


def check_numpy(ex: Any, function: str, run: Callable[[Any], Any], *, expected: Any, call: str,
                outputs: Sequence[str] = (), atol: float | None = None, rtol: float | None = None,
                what: str = "values") -> Any:
    """Compare `run(ex)`, a numpy result computed with the graded module, with `expected`.

    `run` does the whole computation from the module (build a layer, set its weights, call
    forward and backward, return the result), so on a mismatch the grader can repeat it on a
    cataloged buggy variant and name the likely bug. `expected` is one array, or a tuple of
    arrays and floats named by `outputs` (e.g. ("loss", "grad_logits")) for a function that
    returns a tuple; floats are compared with `assert_real_close`.
    """
    out = run(ex)
    try:
        if not outputs:
            return assert_close_np(out, expected, call=call, atol=atol, rtol=rtol, what=what)
        if not isinstance(out, (tuple, list)) or len(out) != len(outputs):
            raise AssertionError(f"{call} returned {describe_array(out)}; expected a tuple of {len(outputs)} "
                                 f"values ({', '.join(outputs)}).")
        for name, got, want in zip(outputs, out, expected):
            if isinstance(want, float):
                assert_real_close(got, want, call=call, rel=1e-9 if rtol is None else rtol,
                                  abs_tol=1e-12 if atol is None else atol, what=name)
            else:
                assert_close_np(got, want, call=call, atol=atol, rtol=rtol, what=f"{name} values")
        return tuple(out)
    except Mismatch as err:
        err.function, err.actual = function, _numpy_to_torch(out)
        err.rerun = lambda module: _numpy_to_torch(run(module))
        raise


def assert_numpy_gradients_match_finite_differences(loss: Callable[[], Any], params: Sequence[Any],
                                                    grads: Sequence[Any], *, call: str, directions: int = 4,
                                                    eps: float = 1e-6, seed: int = 0) -> None:
    """Hand-written gradients `grads` of the scalar `loss()` agree with central finite differences.

    `loss` reads the float64 arrays `params` (a model's weights); each is nudged in place along
    random directions and restored exactly afterwards.
    """
    import numpy as np

    for i, (p, g) in enumerate(zip(params, grads)):
        expect_array(g, call=f"{call}: gradient {i}", shape=p.shape)  # a gradient has its parameter's shape
    grads = [np.array(g, dtype=np.float64) for g in grads]
    originals = [p.copy() for p in params]
    rng = np.random.default_rng(seed)
    try:
        for _ in range(directions):
            us = [rng.standard_normal(p.shape) for p in params]
            values = []
            for sign in (1.0, -1.0):
                for p, p0, u in zip(params, originals, us):
                    p[...] = p0 + sign * eps * u
                values.append(float(loss()))
            numeric = (values[0] - values[1]) / (2 * eps)
            analytic = sum(float((g * u).sum()) for g, u in zip(grads, us))
            if abs(numeric - analytic) > 1e-5 + 1e-4 * abs(numeric):
                raise AssertionError(
                    f"{call}: your gradients disagree with finite differences of your own loss (directional "
                    f"derivative {analytic:.6g} from your backward, {numeric:.6g} numerically). The forward "
                    "pass and the backward pass do not compute the derivative of the same function.")
    finally:
        for p, p0 in zip(params, originals):
            p[...] = p0


# --- optim: results computed through a whole run (optimizer steps, in-place clipping) ---------


def check_tensors(ex: Any, function: str, run: Callable[[Any], Sequence[torch.Tensor | None]],
                  expected: Sequence[torch.Tensor | None], *, names: Sequence[str], call: str,
                  atol: float | None = None, rtol: float | None = None) -> list[torch.Tensor | None]:
    """Compare each tensor `run(ex)` returns with `expected` (None where None is expected).

    `run(module)` does the whole computation with the graded module (build gradients, call the
    function, collect what it returned and what it changed in place), so on a mismatch the
    grader can repeat it on a cataloged buggy variant. `names` says what each tensor is, for
    the message ("the returned norm", "p[1].grad after the call").
    """
    out = list(run(ex))
    for i, (name, got, want) in enumerate(zip(names, out, expected)):
        if want is None:
            if got is not None:
                raise AssertionError(f"{call}: {name} should be None (left alone), but it is {describe(got)}.")
            continue
        try:
            assert_close(got, want, call=f"{call}: {name}", atol=atol, rtol=rtol)
        except Mismatch as err:
            err.function = function
            err.rerun = lambda module, i=i: list(run(module))[i]
            raise
    return out


def check_trajectory(ex: Any, function: str, run: Callable[[Any], Sequence[Sequence[torch.Tensor]]],
                     expected: Sequence[Sequence[torch.Tensor]], *, initial: Sequence[torch.Tensor], call: str,
                     atol: float | None = None, rtol: float | None = None) -> None:
    """Compare an optimizer's parameters after every step with the reference optimizer's.

    `run(module)` builds the optimizer from the graded module, feeds it fixed gradients and
    returns states[t][i], parameter i after step t + 1 (detached copies); `expected` has the
    same layout and `initial` holds the values before step 1. The first difference names the
    step and the parameter, and says so when a parameter that should move did not move at all
    (updated out of place, or skipped). On a mismatch the grader can rerun the same run on a
    cataloged buggy variant.
    """
    states = [list(s) for s in run(ex)]
    if len(states) != len(expected):
        raise AssertionError(f"{call}: the run recorded {len(states)} steps; expected {len(expected)}.")
    previous, previous_expected = list(initial), list(initial)
    for t, (got_step, want_step) in enumerate(zip(states, expected)):
        for i, (got, want) in enumerate(zip(got_step, want_step)):
            where = f"{call}: parameter {i} {describe(want)} after step {t + 1} of {len(expected)}"
            if got.shape == previous[i].shape and torch.equal(got, previous[i]) \
                    and not torch.equal(want, previous_expected[i]):
                raise Mismatch(
                    f"{where} did not change, but torch.optim.AdamW changes it. Update each parameter in place "
                    "(p.mul_(...), p.add_(...) under torch.no_grad()): `p = p - ...` only rebinds a local name. "
                    "Is it skipped although its .grad is set?", function=function, actual=got,
                    rerun=lambda module, t=t, i=i: [list(s) for s in run(module)][t][i])
            try:
                assert_close(got, want, call=where, atol=atol, rtol=rtol)
            except Mismatch as err:
                err.function = function
                err.rerun = lambda module, t=t, i=i: [list(s) for s in run(module)][t][i]
                raise
        previous, previous_expected = got_step, want_step


# --- tokenizer: exact Python values (token ids, strings, merge tables) --------------------------


def _first_difference(got: Sequence[Any], want: Sequence[Any]) -> str:
    """`first difference at index 3: got 259, expected 101` for two sequences."""
    for k, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return f"first difference at index {k}: got {g!r}, expected {w!r}"
    return f"the first {min(len(got), len(want))} agree, then one of them stops"


def check_exact(ex: Any, function: str, run: Callable[[Any], Any], expected: Any, *, call: str,
                what: str = "output") -> Any:
    """`run(ex)` must equal `expected` exactly: a list of token ids, or a string.

    Says where a list or string first differs; on a mismatch the grader can repeat `run` on a
    cataloged buggy variant.
    """
    out = run(ex)
    if isinstance(expected, list):
        if not isinstance(out, list):
            raise AssertionError(f"{call} returned {type(out).__name__} ({describe(out)}); expected a list of ints.")
        if out and not all(isinstance(i, int) and not isinstance(i, bool) for i in out):
            odd = next(i for i in out if not isinstance(i, int) or isinstance(i, bool))
            raise AssertionError(f"{call} returned a list holding {type(odd).__name__} ({odd!r}); expected "
                                 "Python ints (use int(...) on tensor or numpy elements).")
    elif isinstance(expected, str) and not isinstance(out, str):
        raise AssertionError(f"{call} returned {type(out).__name__} ({describe(out)}); expected a str.")
    if out == expected:
        return out
    summary = _first_difference(out, expected)
    if isinstance(expected, (list, str)) and len(out) != len(expected):
        summary = f"{len(out)} items, expected {len(expected)}; {summary}"
    raise Mismatch(f"{call}: the {what} differs from the reference ({summary}).", function=function,
                   actual=out, rerun=run)


def _pair_counts(text: str, merges: Sequence[tuple[tuple[int, int], int]]) -> dict[tuple[int, int], int]:
    """Adjacent-pair counts of `text`'s bytes after applying `merges` (in order)."""
    from collections import Counter

    ids = list(text.encode("utf-8"))
    for (a, b), new_id in merges:
        merged, i = [], 0
        while i < len(ids):
            if i + 1 < len(ids) and ids[i] == a and ids[i + 1] == b:
                merged.append(new_id)
                i += 2
            else:
                merged.append(ids[i])
                i += 1
        ids = merged
    return Counter(zip(ids, ids[1:]))


def _token_bytes(token: int, merges: dict[tuple[int, int], int]) -> bytes:
    parts = {new_id: pair for pair, new_id in merges.items()}
    if token < 256 or token not in parts:
        return bytes([token]) if 0 <= token < 256 else b"?"
    a, b = parts[token]
    return _token_bytes(a, merges) + _token_bytes(b, merges)


def check_merges(ex: Any, run: Callable[[Any], Any], expected: dict[tuple[int, int], int], text: str, *,
                 call: str) -> None:
    """The merges `run(ex)` learned on `text` must be exactly `expected` (pair -> new id).

    At the first merge that differs, the message shows both pairs as bytes and how often each
    occurs at that point of training (from replaying the expected merges), so a wrong count, a
    wrong tie rule or a wrong replacement is visible.
    """
    merges = run(ex)
    function = "BPETokenizer.train"
    if not isinstance(merges, dict):
        raise AssertionError(f"{call}: `merges` is {type(merges).__name__} ({describe(merges)}); expected a dict "
                             "mapping (a, b) pairs of ids to new ids.")
    if merges == expected:
        return
    wrong_keys = [k for k in merges if not (isinstance(k, tuple) and len(k) == 2)]
    if wrong_keys:
        raise AssertionError(f"{call}: the keys of `merges` must be (a, b) tuples of ids; found {wrong_keys[0]!r}.")
    got_ids = sorted(merges.values())
    fail = lambda message: Mismatch(f"{call}: {message}", function=function, actual=merges, rerun=run)  # noqa: E731
    if got_ids != list(range(256, 256 + len(got_ids))):
        raise fail(f"the new ids are {got_ids[:5]}{'...' if len(got_ids) > 5 else ''}; they must be 256, 257, "
                   "... in the order the merges are learned (ids 0..255 are the bytes).")
    got_order = sorted(merges.items(), key=lambda item: item[1])
    want_order = sorted(expected.items(), key=lambda item: item[1])
    for r, (got, want) in enumerate(zip(got_order, want_order)):
        if got == want:
            continue
        counts = _pair_counts(text, want_order[:r])
        g, w = got[0], want[0]
        show = lambda pair, table: f"{pair} = {_token_bytes(pair[0], table) + _token_bytes(pair[1], table)!r}"  # noqa: E731
        message = (f"merge {r + 1} (new id {256 + r}) differs, the {r} before it agree. You merged "
                   f"{show(g, merges)}, which occurs {counts.get(g, 0)} times at that point; the reference "
                   f"merged {show(w, expected)}, which occurs {counts.get(w, 0)} times.")
        if counts.get(g, 0) == counts.get(w, 0):
            message += " Equal counts: ties go to the smallest pair (a, b), compared as tuples."
        else:
            message += (" Count every adjacent position (\"aaa\" holds (a, a) twice), replace left to right "
                        "without overlap, and keep the counts in step with each replacement.")
        raise fail(message)
    raise fail(f"learned {len(got_order)} merges; expected {len(want_order)} (vocab_size - 256, or fewer only "
               "when no adjacent pair is left). The ones both learned agree.")


# ---------------------------------------------------------------------------------------------
# Naming the mistake: when a wrong output equals what a known mistake produces, say so in the
# learner's terms. `mistakes` maps a message to the output that mistake gives on the same call.

def name_the_mistake(actual: Any, mistakes: dict[str, torch.Tensor], atol: float, rtol: float) -> str:
    """' It looks like <message>' naming the known mistakes whose output equals `actual`, else ''."""
    if not isinstance(actual, torch.Tensor):
        return ""
    a = actual.detach().double().cpu()
    found = [message for message, wrong in mistakes.items()
             if wrong.shape == a.shape and bool(torch.isclose(a, wrong.detach().double().cpu(), atol=atol, rtol=rtol,
                                                              equal_nan=True).all())]
    return " It looks like " + " Or: ".join(found) if found else ""


def check_call_explained(ex: Any, function: str, *args: Any, expected: torch.Tensor,
                         mistakes: Callable[[], dict[str, torch.Tensor]] | None = None, names: Sequence[str] = (),
                         any_float: bool = False, dtype_rule: str = "", atol: float | None = None,
                         rtol: float | None = None, **kwargs: Any) -> torch.Tensor:
    """`check_call`, and on a mismatch name the known mistake (from `mistakes()`) that explains it.

    any_float: accept any floating dtype where the contract names none; `expected` must then be
    float64, and it is compared at the learner's precision.
    dtype_rule: what the contract says about the output dtype, said when it is wrong.
    """
    call = describe_call(function, args, kwargs, names)
    out = getattr(ex, function)(*args, **kwargs)
    if any_float and isinstance(out, torch.Tensor) and out.is_floating_point():
        expected = expected.to(out.dtype)
    if dtype_rule:
        expect_dtype(out, expected.dtype, call=call, rule=dtype_rule)
    try:
        return assert_close(out, expected, call=call, atol=atol, rtol=rtol)
    except Mismatch as err:
        hint = name_the_mistake(out, mistakes() if mistakes else {}, err.atol, err.rtol)
        raise Mismatch(str(err) + hint, function=function, actual=out, atol=err.atol, rtol=err.rtol,
                       rerun=lambda module: getattr(module, function)(*args, **kwargs)) from None


def expect_dtype(out: Any, dtype: torch.dtype, *, call: str, rule: str) -> None:
    """Fail with the contract's own rule (e.g. "the table is float32") when a tensor's dtype is wrong."""
    if isinstance(out, torch.Tensor) and out.dtype != dtype:
        raise AssertionError(f"{call} returned {out.dtype}; expected {dtype}: {rule}")


# Layouts of paired dims: "interleaved" pairs (2i, 2i+1), "half-split" pairs (i, i + d/2).
def swap_pair_members(x: torch.Tensor) -> torch.Tensor:
    """Exchange the columns 2i and 2i+1 of the last dim."""
    return torch.stack([x[..., 1::2], x[..., 0::2]], dim=-1).flatten(-2)


def interleaved_to_halves(x: torch.Tensor) -> torch.Tensor:
    """[a0, b0, a1, b1, ...] -> [a0, a1, ..., b0, b1, ...]."""
    return torch.cat([x[..., 0::2], x[..., 1::2]], dim=-1)


def halves_to_interleaved(x: torch.Tensor) -> torch.Tensor:
    """[a0, a1, ..., b0, b1, ...] -> [a0, b0, a1, b1, ...]."""
    half = x.shape[-1] // 2
    return torch.stack([x[..., :half], x[..., half:]], dim=-1).flatten(-2)


def _interleave_sin_cos(angles: torch.Tensor) -> torch.Tensor:
    return torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(-2)


def sinusoidal_mistakes(seq_len: int, d_model: int, base: float) -> dict[str, torch.Tensor]:
    """What common mistakes in the sinusoidal table produce (float64), keyed by their explanation."""
    p = torch.arange(seq_len, dtype=torch.float64)[:, None]
    i = torch.arange(d_model // 2, dtype=torch.float64)[None, :]
    j = torch.arange(d_model, dtype=torch.float64)[None, :]
    right = _interleave_sin_cos(p / base ** (2 * i / d_model))
    return {
        "dims 0 and 1 are swapped: sin/cos order? Column 2i is sin, column 2i+1 is cos.": swap_pair_members(right),
        "[sin..., cos...] concatenated instead of interleaved: column 2i is sin(angle_i), column 2i+1 is "
        "cos(angle_i), the two side by side.": interleaved_to_halves(right),
        "[cos..., sin...] concatenated instead of sin and cos interleaved (column 2i sin, 2i+1 cos).":
            interleaved_to_halves(swap_pair_members(right)),
        "the exponent is i/d_model instead of 2i/d_model: frequency i is 1/base**(2i/d_model).":
            _interleave_sin_cos(p / base ** (i / d_model)),
        "each column j uses its own frequency 1/base**(j/d_model); columns 2i and 2i+1 share 1/base**(2i/d_model).":
            torch.where(j % 2 == 0, torch.sin(p / base ** (j / d_model)), torch.cos(p / base ** ((j - 1) / d_model))),
        "the frequencies are inverted: the angle is p / base**(2i/d_model), not p * base**(2i/d_model).":
            _interleave_sin_cos(p * base ** (2 * i / d_model)),
        f"the `base` argument is ignored (10000 used instead of {base:g}).":
            _interleave_sin_cos(p / 10000.0 ** (2 * i / d_model)),
    }


def rope_table_mistakes(positions: torch.Tensor, head_dim: int, base: float, table: str) -> dict[str, torch.Tensor]:
    """What common mistakes in RoPE's cos (table="cos") or sin table produce, float64."""
    fn, other = (torch.cos, torch.sin) if table == "cos" else (torch.sin, torch.cos)
    pos = positions.double()[:, None]
    i = torch.arange(head_dim // 2, dtype=torch.float64)[None, :]
    angles = pos / base ** (2 * i / head_dim)
    half_split = fn(angles).repeat(1, 2)
    return {
        "each frequency sits in adjacent dims (GPT-J, interleaved pairs: repeat_interleave) instead of "
        "the half-split layout cat([angles, angles], -1) (GPT-NeoX / Llama).": halves_to_interleaved(half_split),
        f"this is the {'sin' if table == 'cos' else 'cos'} table: return (cos, sin) in that order.":
            other(angles).repeat(1, 2),
        "the exponent is i/head_dim instead of 2i/head_dim: inv_freq[i] = base**(-2i/head_dim).":
            fn(pos / base ** (i / head_dim)).repeat(1, 2),
        f"the `base` argument is ignored (10000 used instead of {base:g}).":
            fn(pos / 10000.0 ** (2 * i / head_dim)).repeat(1, 2),
        "the frequencies are inverted: angle = position * base**(-2i/head_dim), not position * base**(2i/head_dim).":
            fn(pos * base ** (2 * i / head_dim)).repeat(1, 2),
    }


def rope_mistakes(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> dict[str, torch.Tensor]:
    """What common mistakes in applying RoPE produce (float64), keyed by their explanation."""
    x, cos, sin = x.double(), cos.double(), sin.double()
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    rotated = torch.cat([-x2, x1], dim=-1)
    every_two = torch.stack([-x[..., 1::2], x[..., 0::2]], dim=-1).flatten(-2)
    return {
        "RoPE pairs are interleaved (GPT-J: dims 2i and 2i+1 rotate together) instead of half-split "
        "(GPT-NeoX / Llama: dims i and i + head_dim/2 rotate together).": x * cos + every_two * sin,
        "rotate_half's sign is flipped: rotate_half(x) = cat([-x2, x1]), not cat([x2, -x1]).": x * cos - rotated * sin,
        "rotate_half lost its minus sign: rotate_half(x) = cat([-x2, x1]), not cat([x2, x1]).":
            x * cos + torch.cat([x2, x1], dim=-1) * sin,
        "cos and sin are swapped: out = x * cos + rotate_half(x) * sin.": x * sin + rotated * cos,
    }


def alibi_slope_mistakes(n_heads: int) -> dict[str, torch.Tensor]:
    """What common mistakes in ALiBi's slopes produce (float64), keyed by their explanation."""
    def geometric(n: int) -> list[float]:
        return [2 ** (-8 * (h + 1) / n) for h in range(n)]

    m = 1 << (n_heads.bit_length() - 1)  # the largest power of two <= n_heads
    def off_by_one(n: int) -> list[float]:
        return [2 ** (-8 * h / n) for h in range(n)]

    mistakes = {"the exponent is off by one: slope[h] = 2**(-8 * (h + 1) / n), so the first head's slope is "
                "2**(-8/n), not 1.": off_by_one(m) + off_by_one(2 * m)[0::2][: n_heads - m]}
    if m < n_heads:
        rule = (f"for {n_heads} heads (not a power of two) take the {m} slopes for {m}, then the slopes for "
                f"{2 * m} at indices 0, 2, 4, ... ({n_heads - m} of them).")
        mistakes.update({
            f"the power-of-two formula 2**(-8(h+1)/n) was used for n = {n_heads}: {rule}": geometric(n_heads),
            f"the first {n_heads} slopes for {2 * m} heads were taken: {rule}": geometric(2 * m)[:n_heads],
            f"the extra slopes come from the odd indices 1, 3, 5, ...: {rule}":
                geometric(m) + geometric(2 * m)[1::2][: n_heads - m],
        })
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in mistakes.items()}


def alibi_bias_mistakes(slopes: torch.Tensor, q_len: int, k_len: int) -> dict[str, torch.Tensor]:
    """What common mistakes in ALiBi's bias produce (float64), given the right slopes."""
    i = torch.arange(q_len, dtype=torch.float64)[:, None]
    j = torch.arange(k_len, dtype=torch.float64)[None, :]
    slopes = slopes.double()[:, None, None]
    distance = j - (i + k_len - q_len)
    return {
        f"the bias is aligned top-left (j - i); with q_len={q_len} and k_len={k_len} query i sits at key "
        f"i + k_len - q_len = i + {k_len - q_len} (bottom-right), as with a KV cache.": slopes * (j - i),
        "the sign is flipped: keys in the past must get a negative bias, slope * (j - (i + k_len - q_len)).":
            -slopes * distance,
        "it uses -|j - (i + k_len - q_len)|: the contract's bias is linear, positive for future keys.":
            -slopes * distance.abs(),
    }


# ---------------------------------------------------------------------------------------------
# Decoding and sampling.

def require(condition: Any, message: str) -> None:
    """`assert condition, message` without pytest's rewriting, which would append its own
    introspection ("assert False, where ...") to a message written for the learner."""
    if not condition:
        raise AssertionError(message)


class SeededGenerator(torch.Generator):
    """A CPU `torch.Generator` seeded at creation, shown as `Generator(seed=3)` in messages."""

    def __new__(cls, seed: int) -> SeededGenerator:
        self = super().__new__(cls, "cpu")
        self.manual_seed(seed)
        return self

    def __init__(self, seed: int) -> None:  # the work happens in __new__ (torch.Generator's takes a device)
        pass

    def __repr__(self) -> str:
        return f"Generator(seed={self.initial_seed()})"


class diagnosable:
    """`with diagnosable(function, actual, rerun):` lets a `Mismatch` raised inside name its
    call, so the grader can re-run it on cataloged bugs (as `check_call` does)."""

    def __init__(self, function: str, actual: Any, rerun: Callable[[Any], Any]) -> None:
        self.function, self.actual, self.rerun = function, actual, rerun

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> bool:
        if isinstance(error, Mismatch):
            error.function, error.actual, error.rerun = self.function, self.actual, self.rerun
        return False


class LookupLM:
    """A deterministic stand-in for a language model, for decoding tests.

    `model(ids (B, T) int64) -> logits (B, T, V) float32`: position t's logits are a fixed random
    row chosen by a running hash of ids[:, :t+1], so the prediction depends on the whole
    prefix, not only the last token. Every call's input is recorded in `calls`.
    """

    def __init__(self, vocab_size: int, seed: int = 0, n_states: int = 101, scale: float = 2.0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.vocab_size, self.n_states = vocab_size, n_states
        self.table = (torch.randn(n_states, vocab_size, generator=generator, dtype=torch.float64) * scale).float()
        self.calls: list[torch.Tensor] = []
        self.seed = seed

    def __repr__(self) -> str:
        return f"LookupLM(vocab_size={self.vocab_size}, seed={self.seed})"

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        if not isinstance(ids, torch.Tensor) or ids.dtype != torch.int64 or ids.ndim != 2:
            raise AssertionError(f"the model was called with {describe(ids)}; it takes token ids (B, T) int64 "
                                 "(keep appended tokens int64, e.g. from argmax or multinomial).")
        self.calls.append(ids.detach().clone())
        state = torch.zeros(ids.shape[0], dtype=torch.int64, device=ids.device)
        states = []
        for t in range(ids.shape[1]):
            state = (state * 31 + ids[:, t] + 7) % self.n_states
            states.append(state)
        return self.table.to(ids.device)[torch.stack(states, dim=1)]


class ScriptedLM:
    """A model that follows a script: every sequence whose first token is f predicts, at position
    prompt_len - 1 + s, the token scripts[f][s] (by a margin of 10 over the rest); at other
    positions it predicts token vocab_size - 1. Records every call's input in `calls`."""

    def __init__(self, vocab_size: int, prompt_len: int, scripts: dict[int, list[int]]) -> None:
        self.vocab_size, self.prompt_len, self.scripts = vocab_size, prompt_len, scripts
        self.noise = torch.rand(64, vocab_size, generator=torch.Generator().manual_seed(0))
        self.calls: list[torch.Tensor] = []

    def __repr__(self) -> str:
        return f"ScriptedLM(scripts={self.scripts})"

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        if not isinstance(ids, torch.Tensor) or ids.dtype != torch.int64 or ids.ndim != 2:
            raise AssertionError(f"the model was called with {describe(ids)}; it takes token ids (B, T) int64.")
        self.calls.append(ids.detach().clone())
        batch, length = ids.shape
        logits = self.noise[:length].repeat(batch, 1, 1)
        for b in range(batch):
            script = self.scripts[int(ids[b, 0])]
            for t in range(length):
                s = t - (self.prompt_len - 1)
                logits[b, t, script[s] if 0 <= s < len(script) else self.vocab_size - 1] += 10.0
        return logits


def greedy_mistakes(decode: Callable[..., torch.Tensor], model: Callable[[torch.Tensor], torch.Tensor],
                    prompt: torch.Tensor, max_new_tokens: int, eos_id: int | None) -> dict[str, torch.Tensor]:
    """What greedy decoding gives with common mistakes, using a correct `decode(model, prompt, n, eos_id)`."""
    def first_position(ids: torch.Tensor) -> torch.Tensor:  # every position sees position 0's logits
        return model(ids)[:, :1].expand(-1, ids.shape[1], -1)

    def last_token_only(ids: torch.Tensor) -> torch.Tensor:
        return model(ids[:, -1:])

    return {
        "the first position's logits were used: the next token comes from the last position, logits[:, -1].":
            decode(first_position, prompt, max_new_tokens, eos_id),
        "the model was fed only the last token: call it on the whole sequence so far.":
            decode(last_token_only, prompt, max_new_tokens, eos_id),
    }


def explain_token_difference(actual: torch.Tensor, expected: torch.Tensor, prompt_len: int,
                             eos_id: int | None) -> str:
    """Why two decoded (B, T + n) token tensors differ, in decoding terms."""
    new_actual, new_expected = actual.shape[1] - prompt_len, expected.shape[1] - prompt_len
    if actual.shape[0] != expected.shape[0]:
        return f"it returned {actual.shape[0]} rows; expected one per prompt row ({expected.shape[0]})."
    if new_actual != new_expected:
        if eos_id is not None and new_actual > new_expected:
            return (f"it added {new_actual} new tokens; every row had produced eos_id={eos_id} after "
                    f"{new_expected}, so decoding should stop there.")
        if eos_id is not None:
            return (f"it stopped after {new_actual} new tokens; expected {new_expected}: stop early only once "
                    f"every row has generated eos_id={eos_id} (a prompt containing it does not count).")
        return f"it added {new_actual} new tokens; expected {new_expected} (max_new_tokens, no eos_id given)."
    if not torch.equal(actual[:, :prompt_len], expected[:, :prompt_len]):
        return "the prompt part changed: the result must start with the prompt, unchanged."
    bad = (actual != expected).nonzero()
    if len(bad) == 0:
        return ""
    row, col = (int(v) for v in bad[0])
    step = col - prompt_len
    text = f"row {row}, new token {step}: got {int(actual[row, col])}, expected {int(expected[row, col])}"
    if eos_id is not None:
        earlier = (expected[row, prompt_len:col] == eos_id).nonzero()
        if len(earlier) and int(expected[row, col]) == eos_id:
            text += (f"; that row produced eos_id={eos_id} at new token {int(earlier[0])}, so every later token "
                     f"of it must be eos_id (padding)")
        elif int(actual[row, col]) == eos_id and bool((expected[row, :prompt_len] == eos_id).any()):
            text += (f"; that row has not generated eos_id={eos_id} yet (the one inside its prompt does not "
                     "count), so it is not finished")
    return text + "."


def expect_tokens(out: Any, *, call: str, batch: int) -> torch.Tensor:
    """Fail unless `out` is a (batch, T) int64 tensor of token ids."""
    out = expect_tensor(out, call=call)
    if out.dtype != torch.int64:
        raise AssertionError(f"{call} returned {out.dtype}; expected token ids, int64 (torch.cat of the prompt "
                             "and argmax/multinomial outputs keeps int64).")
    if out.ndim != 2 or out.shape[0] != batch:
        raise AssertionError(f"{call} returned shape {tuple(out.shape)}; expected ({batch}, T + new tokens).")
    return out


def check_tokens(ex: Any, function: str, *args: Any, expected: torch.Tensor, prompt_len: int,
                 eos: int | None = None, names: Sequence[str] = (),
                 mistakes: Callable[[], dict[str, torch.Tensor]] | None = None, **kwargs: Any) -> torch.Tensor:
    """Call a decoding function and compare its tokens with `expected` exactly, explaining a difference
    (`eos`: the eos_id of the call, for the explanation)."""
    call = describe_call(function, args, kwargs, names)
    out = expect_tokens(getattr(ex, function)(*args, **kwargs), call=call, batch=expected.shape[0])
    if out.shape != expected.shape or not torch.equal(out, expected):
        why = explain_token_difference(out, expected, prompt_len, eos)
        hint = name_the_mistake(out, mistakes() if mistakes else {}, 0.0, 0.0)
        def rerun(module: Any) -> Any:  # with fresh generators, seeded as the learner's were
            fresh = {k: SeededGenerator(v.initial_seed()) if isinstance(v, SeededGenerator) else v
                     for k, v in kwargs.items()}
            return getattr(module, function)(*args, **fresh)

        raise Mismatch(f"{call}: the tokens differ from the reference: {why}{hint}", function=function, actual=out,
                       rerun=rerun)
    return out


def assert_draws_allowed(draws: torch.Tensor, allowed: torch.Tensor, *, call: str, rule: str) -> None:
    """Every drawn token (draws (B,)) is allowed in its row (allowed (B, V) bool).

    rule: the learner-facing name of what allows a token, e.g. "top-k (k=2)".
    """
    draws = expect_tensor(draws, call=call, shape=allowed.shape[:1])
    if draws.dtype != torch.int64:
        raise AssertionError(f"{call} returned {draws.dtype}; expected token ids, int64.")
    vocab = allowed.shape[-1]
    if bool(((draws < 0) | (draws >= vocab)).any()):
        bad = int(draws[(draws < 0) | (draws >= vocab)][0])
        raise AssertionError(f"{call} drew token {bad}, which is not in the vocabulary 0..{vocab - 1}.")
    ok = allowed.gather(-1, draws[:, None].long()).squeeze(-1)
    if not bool(ok.all()):
        row = int((~ok).nonzero()[0])
        raise Mismatch(f"{call}: token {int(draws[row])} was drawn (row {row}) but is outside {rule}.", actual=draws)


def frequency_tolerance(n_draws: int, n_tokens: int, failure_probability: float = 1e-6) -> float:
    """The largest deviation |observed frequency - p| a correct sampler exceeds, for any token,
    with probability below `failure_probability`.

    Each token's count is Binomial(n, p_v). Hoeffding: P(|count/n - p_v| >= t) <= 2 exp(-2 n t^2).
    A union bound over the V tokens gives P(any token off by >= t) <= 2 V exp(-2 n t^2); setting
    that to the failure probability delta gives t = sqrt(ln(2 V / delta) / (2 n)).
    E.g. n = 2**16 draws over V = 6 tokens, delta = 1e-6: t = 0.0111.
    """
    import math

    return math.sqrt(math.log(2 * n_tokens / failure_probability) / (2 * n_draws))


def assert_frequencies_match(draws: torch.Tensor, probs: torch.Tensor, *, call: str, what: str,
                             failure_probability: float = 1e-6) -> None:
    """The tokens drawn (draws (N,), identical rows) follow `probs` (V,): a frequency bound that a
    correct sampler fails with probability < failure_probability (see `frequency_tolerance`)."""
    n, vocab = draws.numel(), probs.numel()
    counts = torch.bincount(draws.flatten().long(), minlength=vocab)[:vocab].double()
    freq = counts / n
    tolerance = frequency_tolerance(n, vocab, failure_probability)
    gap = (freq - probs.double()).abs()
    v = int(gap.argmax())
    if gap[v] >= tolerance:
        raise Mismatch(
            f"{call}: over {n} draws token {v} came up {freq[v]:.2%} of the time, but {what} gives it "
            f"{probs[v]:.2%} (a correct sampler stays within ±{tolerance:.2%} except with probability "
            f"< {failure_probability:g}). Observed: {[round(f, 3) for f in freq.tolist()]}, expected: "
            f"{[round(p, 3) for p in probs.double().tolist()]}.", actual=draws)


def assert_filtered(actual: Any, logits: torch.Tensor, keep: torch.Tensor, drop: torch.Tensor, *, call: str,
                    why: Callable[[int, int, bool], str]) -> torch.Tensor:
    """A filter's output: every entry in `keep` unchanged, every entry in `drop` -inf (entries in
    neither may be either). why(row, token, should_keep) explains one entry to the learner."""
    out = expect_tensor(actual, call=call, shape=logits.shape, dtype=logits.dtype)
    neg_inf = torch.isneginf(out)
    unchanged = out == logits
    if not bool((unchanged | neg_inf).all()):
        row, token = (int(v) for v in (~(unchanged | neg_inf)).nonzero()[0])
        raise Mismatch(f"{call}: entry [{row}, {token}] is {out[row, token].item():.6g}; a filter leaves kept "
                       f"logits unchanged ({logits[row, token].item():.6g}) and sets the others to -inf.", actual=out)
    wrongly_dropped = keep & neg_inf & ~torch.isneginf(logits)
    wrongly_kept = drop & ~neg_inf
    for mask, should_keep in ((wrongly_dropped, True), (wrongly_kept, False)):
        if bool(mask.any()):
            row, token = (int(v) for v in mask.nonzero()[0])
            verb = "dropped (set to -inf)" if should_keep else "kept"
            raise Mismatch(f"{call}: row {row}, token {token} was {verb}, but {why(row, token, should_keep)}", actual=out)
    return out


def assert_called_on_prefixes(calls: Sequence[torch.Tensor], out: torch.Tensor, prompt_len: int, *, call: str) -> None:
    """Decoding step i called the model on the whole sequence so far, out[:, :prompt_len + i]."""
    for i in range(out.shape[1] - prompt_len):
        want = out[:, : prompt_len + i]
        if i >= len(calls):
            raise AssertionError(f"{call} called the model {len(calls)} times but added {out.shape[1] - prompt_len} "
                                 "tokens: call it once per new token.")
        if calls[i].shape != want.shape or not torch.equal(calls[i], want):
            raise AssertionError(f"{call}: step {i} called the model with {describe(calls[i])}; expected the whole "
                                 f"sequence so far, {describe(want)} (the prompt and the {i} tokens added before).")


def assert_eos_rules(out: torch.Tensor, prompt: torch.Tensor, max_new_tokens: int, eos_id: int, *, call: str) -> None:
    """Whatever tokens were drawn: the result starts with the prompt; after a row's first generated
    eos_id, all its tokens are eos_id; decoding stops right after the last row finishes, else after
    max_new_tokens."""
    prompt_len = prompt.shape[1]
    if out.shape[1] < prompt_len or not torch.equal(out[:, :prompt_len], prompt):
        raise AssertionError(f"{call}: the result must start with the prompt, unchanged.")
    new = out[:, prompt_len:]
    finish = []
    for row in range(new.shape[0]):
        hits = (new[row] == eos_id).nonzero()
        if len(hits):
            first = int(hits[0])
            if not bool((new[row, first:] == eos_id).all()):
                later = int(new[row, first:][new[row, first:] != eos_id][0])
                raise AssertionError(f"{call}: row {row} produced eos_id={eos_id} at new token {first}, then token "
                                     f"{later}: every later token of a finished row must be eos_id (padding).")
        finish.append(int(hits[0]) + 1 if len(hits) else None)
    expected_new = max_new_tokens if None in finish else min(max_new_tokens, max(finish, default=0))
    if new.shape[1] != expected_new:
        state = ("every row had produced eos_id by then" if None not in finish
                 else "some row never produced eos_id, so it runs to max_new_tokens")
        raise AssertionError(f"{call} added {new.shape[1]} tokens; expected {expected_new} ({state}).")


def assert_projections(module: torch.nn.Module, owner: str, shapes: dict[str, tuple[int, int]],
                       bias: bool) -> None:
    """Each `module.<name>` in `shapes` is an nn.Linear(in, out), with a bias iff `bias`."""
    for name, (n_in, n_out) in shapes.items():
        layer = getattr(module, name, None)
        assert isinstance(layer, torch.nn.Linear), f"{owner} needs `self.{name} = nn.Linear({n_in}, {n_out})`"
        assert (layer.in_features, layer.out_features) == (n_in, n_out), f"{name} must map {n_in} -> {n_out} features"
        assert (layer.bias is not None) == bias, f"{name} must {'have' if bias else 'not have'} a bias when bias={bias}"
