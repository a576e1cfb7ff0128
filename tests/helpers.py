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
    if nonzero.sum() > 1:
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

    with Recorder():
        result = fn()
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
