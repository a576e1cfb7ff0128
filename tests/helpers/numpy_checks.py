"""The same learner-facing messages for numpy outputs (mlp_backprop)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from tests.helpers.compare import Mismatch, assert_close, assert_real_close, describe


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
