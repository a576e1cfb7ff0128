"""optim: results computed through a whole run (optimizer steps, in-place clipping)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from tests.helpers.compare import Mismatch, assert_close, describe


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
