"""Grades `scaling` (contract section 9): plain-float formulas, checked over many values with hypothesis.

The oracles (reference/scaling.py) find the compute-optimal model by bisection on the
first-order condition and fit power laws with the normal equations, so they share no code
with the closed forms a solution uses.
"""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference.scaling as ref
from tests.helpers import assert_no_banned_apis, assert_real_close, check_outputs, check_real_call
from tests.strategies import log_uniform, seeds

EXERCISE = "scaling"

ROUNDED = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)  # the contract's defaults
UNROUNDED = dict(E=1.6934, A=406.4, B=410.7, alpha=0.3392, beta=0.2849)  # Hoffmann et al. 2022, eq. 10
GOPHER_FLOPS = 5.76e23  # Gopher's training budget, Chinchilla's headline comparison


@st.composite
def chinchilla_constants(draw: st.DrawFn) -> dict[str, float]:
    """E, A, B, alpha, beta around (and well beyond) the published fit."""
    return dict(E=draw(st.floats(0.0, 3.0)), A=draw(log_uniform(10.0, 5000.0)), B=draw(log_uniform(10.0, 5000.0)),
                alpha=draw(st.floats(0.1, 0.7)), beta=draw(st.floats(0.1, 0.7)))


def describe_constants(constants: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.6g}" for k, v in constants.items())


@pytest.mark.target("training_flops")
class TestTrainingFlops:
    @given(n_params=log_uniform(1e3, 1e13), n_tokens=log_uniform(1e3, 1e14))
    def test_six_n_d(self, ex, n_params, n_tokens):
        """C = 6 N D: 2 FLOPs per parameter per token forward, 4 backward"""
        check_real_call(ex, "training_flops", n_params, n_tokens, expected=ref.training_flops(n_params, n_tokens),
                        call=f"training_flops({n_params:.6g}, {n_tokens:.6g})", rel=1e-12)

    @given(n_params=st.integers(1, 10**12), n_tokens=st.integers(1, 10**13))
    def test_returns_float_for_int_arguments(self, ex, n_params, n_tokens):
        """returns a float even for integer arguments (e.g. GPT-3: 175e9 params x 300e9 tokens = 3.15e23)"""
        check_real_call(ex, "training_flops", n_params, n_tokens, expected=6.0 * n_params * n_tokens,
                        call=f"training_flops({n_params}, {n_tokens})", rel=1e-12)
        out = ex.training_flops(n_params, n_tokens)
        assert isinstance(out, float), (f"training_flops({n_params}, {n_tokens}) returned {type(out).__name__}; "
                                        "the contract says float: return float(...) or compute with 6.0")


@pytest.mark.target("chinchilla_loss")
class TestChinchillaLoss:
    @given(n_params=log_uniform(1e5, 1e14), n_tokens=log_uniform(1e5, 1e15), constants=chinchilla_constants())
    def test_matches_formula(self, ex, n_params, n_tokens, constants):
        """L = E + A / N**alpha + B / D**beta for any constants"""
        check_real_call(ex, "chinchilla_loss", n_params, n_tokens, **constants,
                        expected=ref.chinchilla_loss(n_params, n_tokens, **constants),
                        call=f"chinchilla_loss({n_params:.6g}, {n_tokens:.6g}, {describe_constants(constants)})", rel=1e-10)

    @given(n_params=log_uniform(1e5, 1e14), n_tokens=log_uniform(1e5, 1e15))
    def test_defaults(self, ex, n_params, n_tokens):
        """the defaults are the rounded Hoffmann et al. constants E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28"""
        check_real_call(ex, "chinchilla_loss", n_params, n_tokens, expected=ref.chinchilla_loss(n_params, n_tokens, **ROUNDED),
                        call=f"chinchilla_loss({n_params:.6g}, {n_tokens:.6g})", rel=1e-10)

    def test_chinchilla_and_gopher(self, ex):
        """Chinchilla (70B params, 1.4T tokens) scores about 1.937, Gopher (280B, 300B tokens) about 1.993"""
        check_real_call(ex, "chinchilla_loss", 70e9, 1.4e12, expected=ref.chinchilla_loss(70e9, 1.4e12),
                        call="chinchilla_loss(70e9, 1.4e12)", rel=1e-10)
        check_real_call(ex, "chinchilla_loss", 280e9, 300e9, expected=ref.chinchilla_loss(280e9, 300e9),
                        call="chinchilla_loss(280e9, 300e9)", rel=1e-10)


@pytest.mark.target("compute_optimal")
class TestComputeOptimal:
    @given(compute=log_uniform(1e15, 1e28), constants=chinchilla_constants())
    def test_matches_constrained_minimum(self, ex, compute, constants):
        """equals the constrained minimiser of chinchilla_loss, found by bisection, for any constants"""
        check_outputs(ex, "compute_optimal", compute, **constants, expected=ref.compute_optimal(compute, **constants),
                      outputs=["n_params", "n_tokens"], rtol=1e-9, atol=0.0,
                      call=f"compute_optimal({compute:.6g}, {describe_constants(constants)})")

    @given(compute=log_uniform(1e15, 1e28), constants=chinchilla_constants())
    def test_on_the_compute_constraint(self, ex, compute, constants):
        """the optimum spends exactly the budget: 6 N D = C"""
        call = f"compute_optimal({compute:.6g}, {describe_constants(constants)})"
        out = ex.compute_optimal(compute, **constants)
        assert isinstance(out, (tuple, list)) and len(out) == 2, f"{call} must return a tuple (n_params, n_tokens)"
        n_params, n_tokens = out
        assert_real_close(6 * n_params * n_tokens, compute, call=f"6 * N * D with (N, D) = {call}", rel=1e-9,
                          what="compute spent (it must equal C)")

    @given(compute=log_uniform(1e15, 1e28), constants=chinchilla_constants(), delta=st.floats(0.01, 0.9),
           larger=st.booleans())
    def test_is_the_minimum(self, ex, compute, constants, delta, larger):
        """the loss is higher at N (1 ± delta) on the constraint, D = C / (6 N (1 ± delta))"""
        n_params, n_tokens = ex.compute_optimal(compute, **constants)
        moved = n_params * (1 + delta if larger else 1 - delta)
        best = ref.chinchilla_loss(n_params, n_tokens, **constants)
        other = ref.chinchilla_loss(moved, compute / (6 * moved), **constants)
        assert other > best, (f"compute_optimal({compute:.6g}, {describe_constants(constants)}) returned N={n_params:.6g}, "
                              f"but N={moved:.6g} (with D = C / 6N) has lower loss: {other:.12g} < {best:.12g}")

    def test_gopher_budget(self, ex):
        """at Gopher's budget C = 5.76e23: about 32.2B params and 2.98T tokens (93 tokens per param, not 20)"""
        n_params, n_tokens = check_outputs(ex, "compute_optimal", GOPHER_FLOPS, expected=ref.compute_optimal(GOPHER_FLOPS),
                                           outputs=["n_params", "n_tokens"], rtol=1e-9, atol=0.0,
                                           call="compute_optimal(5.76e23)")
        assert_real_close(n_params, 32.2e9, call="compute_optimal(5.76e23)", rel=2e-3, what="n_params (about 32.2B)")
        assert_real_close(n_tokens, 2.98e12, call="compute_optimal(5.76e23)", rel=2e-3, what="n_tokens (about 2.98T)")
        # the paper's unrounded fit moves the optimum noticeably: about 40.3B params, 2.38T tokens
        check_outputs(ex, "compute_optimal", GOPHER_FLOPS, **UNROUNDED,
                      expected=ref.compute_optimal(GOPHER_FLOPS, **UNROUNDED), outputs=["n_params", "n_tokens"],
                      rtol=1e-9, atol=0.0, call=f"compute_optimal(5.76e23, {describe_constants(UNROUNDED)})")

    @given(compute=log_uniform(1e15, 1e28), constants=chinchilla_constants(), other_e=st.floats(0.0, 3.0))
    def test_e_does_not_move_the_optimum(self, ex, compute, constants, other_e):
        """E is a constant offset: it does not change the optimal N and D"""
        expected = ex.compute_optimal(compute, **constants)
        check_outputs(ex, "compute_optimal", compute, **{**constants, "E": other_e}, expected=list(expected),
                      outputs=["n_params", "n_tokens"], rtol=1e-9, atol=0.0,
                      call=f"compute_optimal({compute:.6g}, {describe_constants({**constants, 'E': other_e})})")


def power_law_data(coef, exponent, n, x0, ratio, noise, seed):
    """n points x = x0 * ratio**i (jittered), y = coef * x**exponent * exp(noise * N(0, 1))."""
    rng = np.random.default_rng(seed)
    x = x0 * ratio ** np.arange(n) * np.exp(rng.uniform(-0.05, 0.05, n))
    y = coef * x ** exponent * np.exp(noise * rng.standard_normal(n))
    return x, y


def describe_data(x: np.ndarray, y: np.ndarray) -> str:
    def show(a: np.ndarray) -> str:
        return "[" + ", ".join(f"{v:.4g}" for v in a[:4]) + (", ..." if len(a) > 4 else "") + "]"
    return f"fit_power_law(x={show(x)}, y={show(y)}) ({len(x)} points)"


power_law_args = dict(coef=log_uniform(1e-3, 1e4), exponent=st.floats(-1.5, 1.5), n=st.integers(2, 20),
                      x0=log_uniform(1e-2, 1e6), ratio=st.floats(1.5, 10.0), seed=seeds)


@pytest.mark.target("fit_power_law")
class TestFitPowerLaw:
    @given(**power_law_args)
    def test_recovers_noiseless(self, ex, coef, exponent, n, x0, ratio, seed):
        """recovers coef and exponent exactly from noiseless data y = coef * x**exponent"""
        x, y = power_law_data(coef, exponent, n, x0, ratio, 0.0, seed)
        check_outputs(ex, "fit_power_law", x, y, expected=[coef, exponent], outputs=["coef", "exponent"],
                      rtol=1e-8, atol=1e-9, call=describe_data(x, y))

    @given(**power_law_args, noise=st.floats(0.01, 0.5))
    def test_least_squares_in_log_space(self, ex, coef, exponent, n, x0, ratio, seed, noise):
        """with noisy data, the least-squares line through (log x, log y)"""
        x, y = power_law_data(coef, exponent, n, x0, ratio, noise, seed)
        check_outputs(ex, "fit_power_law", x, y, expected=list(ref.fit_power_law(x, y)), outputs=["coef", "exponent"],
                      rtol=1e-8, atol=1e-9, call=describe_data(x, y))

    @given(**power_law_args, noise=st.floats(0.0, 0.3), k=log_uniform(1e-3, 1e3), s=log_uniform(1e-3, 1e3))
    def test_rescaling(self, ex, coef, exponent, n, x0, ratio, seed, noise, k, s):
        """rescaling y by k multiplies coef by k; rescaling x by s divides coef by s**exponent (same exponent)"""
        x, y = power_law_data(coef, exponent, n, x0, ratio, noise, seed)
        fitted_coef, fitted_exponent = ref.fit_power_law(x, y)
        check_outputs(ex, "fit_power_law", x * s, y * k,
                      expected=[k * fitted_coef / s ** fitted_exponent, fitted_exponent], outputs=["coef", "exponent"],
                      rtol=1e-8, atol=1e-9, call=describe_data(x * s, y * k))

    @given(start=st.floats(15.0, 20.0), gaps=st.lists(st.floats(0.3, 1.5), min_size=1, max_size=7),
           constants=chinchilla_constants())
    def test_recovers_the_compute_optimal_exponent(self, ex, start, gaps, constants):
        """fitting N_opt against C recovers N_opt ∝ C ** (beta / (alpha + beta))"""
        c = 10.0 ** (start + np.cumsum([0.0, *gaps]))  # budgets at least 10**0.3 apart
        n = np.array([ref.compute_optimal(v, **constants)[0] for v in c])
        exponent = constants["beta"] / (constants["alpha"] + constants["beta"])
        coef = n[0] / c[0] ** exponent
        check_outputs(ex, "fit_power_law", c, n, expected=[coef, exponent], outputs=["coef", "exponent"],
                      rtol=1e-7, atol=1e-9, call=describe_data(c, n))

    @pytest.mark.parametrize("where", ["x", "y"])
    def test_non_positive_data_raises(self, ex, where):
        """ValueError when any x or y is zero or negative (a power law is fitted in log space)"""
        for bad in (0.0, -1.0, -3.5):
            for index in (0, 2, 4):
                x, y = power_law_data(2.0, -0.3, 5, 1.0, 3.0, 0.1, index)
                (x if where == "x" else y)[index] = bad
                try:
                    ex.fit_power_law(x, y)
                except ValueError:
                    continue
                raise AssertionError(f"{describe_data(x, y)} with {where}[{index}] = {bad} must raise ValueError")

    def test_fewer_than_two_points_raises(self, ex):
        """ValueError for fewer than two points (a line needs two)"""
        for x, y in ((np.array([3.0]), np.array([5.0])), (np.array([]), np.array([]))):
            try:
                ex.fit_power_law(x, y)
            except ValueError:
                continue
            raise AssertionError(f"fit_power_law with {len(x)} point(s) must raise ValueError")


@pytest.mark.target("from scratch")
def test_no_banned_apis(ex_file):
    """the file uses none of the APIs this exercise asks you to write yourself"""
    assert_no_banned_apis(EXERCISE, ex_file)
