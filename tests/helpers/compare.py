"""Comparisons whose failure messages a learner can act on.

Every comparison in `tests/` goes through `check_call`, `check_module_call` or `assert_close`,
so a failure always names the call (shapes, dtypes, flags), what was expected, the max abs/rel
error and the first mismatching index, and, where a simple transformation explains the
difference (transposed, negated, off by a constant factor), says so. A `Mismatch` can rerun
its call on another implementation: that is how the grader names a likely bug.
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
def assert_projections(module: torch.nn.Module, owner: str, shapes: dict[str, tuple[int, int]],
                       bias: bool) -> None:
    """Each `module.<name>` in `shapes` is an nn.Linear(in, out), with a bias iff `bias`."""
    for name, (n_in, n_out) in shapes.items():
        layer = getattr(module, name, None)
        assert isinstance(layer, torch.nn.Linear), f"{owner} needs `self.{name} = nn.Linear({n_in}, {n_out})`"
        assert (layer.in_features, layer.out_features) == (n_in, n_out), f"{name} must map {n_in} -> {n_out} features"
        assert (layer.bias is not None) == bias, f"{name} must {'have' if bias else 'not have'} a bias when bias={bias}"
