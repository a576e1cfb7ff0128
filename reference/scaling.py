"""Oracles for `scaling`, computed another way than the closed forms (never from solutions/).

- compute_optimal: bisection on the first-order condition of the constrained problem
  (no closed form), to machine precision;
- fit_power_law: the normal equations of simple linear regression on centred logs (no polyfit).
"""

from __future__ import annotations

import math

import numpy as np


def training_flops(n_params: float, n_tokens: float) -> float:
    forward = 2.0 * n_params * n_tokens  # one multiply-add per parameter per token
    backward = 4.0 * n_params * n_tokens  # gradients w.r.t. activations and w.r.t. weights
    return forward + backward


def chinchilla_loss(n_params: float, n_tokens: float, E: float = 1.69, A: float = 406.4, B: float = 410.7,
                    alpha: float = 0.34, beta: float = 0.28) -> float:
    return E + A * math.exp(-alpha * math.log(n_params)) + B * math.exp(-beta * math.log(n_tokens))


def compute_optimal(compute_flops: float, E: float = 1.69, A: float = 406.4, B: float = 410.7,
                    alpha: float = 0.34, beta: float = 0.28) -> tuple[float, float]:
    """Minimise L(N, C / (6N)) over log N by bisection on dL/dlogN = 0.

    With u = log N and log D = log(C/6) - u, dL/du = -alpha A e^{-alpha u} + beta B e^{-beta log D},
    which increases strictly with u: the root is the unique constrained minimum.
    """
    log_budget = math.log(compute_flops / 6.0)  # log(N * D)

    def slope(u: float) -> float:
        return -alpha * A * math.exp(-alpha * u) + beta * B * math.exp(-beta * (log_budget - u))

    low, high = -50.0 + min(0.0, log_budget), 50.0 + max(0.0, log_budget)
    assert slope(low) < 0 < slope(high)
    for _ in range(200):
        mid = 0.5 * (low + high)
        if slope(mid) < 0:
            low = mid
        else:
            high = mid
        if high - low <= 1e-15 * max(1.0, abs(mid)):
            break
    log_n = 0.5 * (low + high)
    return math.exp(log_n), math.exp(log_budget - log_n)


def fit_power_law(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Ordinary least squares of log y on log x: slope = cov / var, intercept = mean - slope * mean."""
    lx, ly = np.log(np.asarray(x, dtype=np.float64)), np.log(np.asarray(y, dtype=np.float64))
    cx, cy = lx - lx.mean(), ly - ly.mean()
    slope = float((cx * cy).sum() / (cx * cx).sum())
    intercept = float(ly.mean() - slope * lx.mean())
    return math.exp(intercept), slope
