"""Scaling laws: training compute, the Chinchilla parametric loss, compute-optimal model size, and
fitting a power law.

`N` is the number of parameters, `D` the number of training tokens, `C` the training compute in
FLOPs. Everything here is plain Python floats (and numpy for the fit); no tensors.
Hoffmann et al. 2022 ("Training Compute-Optimal Large Language Models"), Approach 3, fit
L(N, D) = E + A / N**alpha + B / D**beta with E = 1.69, A = 406.4, B = 410.7, alpha = 0.34,
beta = 0.28 (the rounded values of the paper's eq. 10).
Contract: ../shared/exercise-contract.md, section 9.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def training_flops(n_params: float, n_tokens: float) -> float:
    """Approximate training compute C = 6 * N * D FLOPs, as a float.

    Each parameter does one multiply-add (2 FLOPs) per token in the forward pass and about
    twice that in the backward pass (gradients w.r.t. activations and w.r.t. weights).
    """
    raise NotImplementedError("scaling.training_flops: not implemented yet (the docstring says what to compute)")


def chinchilla_loss(n_params: float, n_tokens: float, E: float = 1.69, A: float = 406.4, B: float = 410.7,
                    alpha: float = 0.34, beta: float = 0.28) -> float:
    """The Chinchilla parametric loss L(N, D) = E + A / N**alpha + B / D**beta, as a float.

    E is the irreducible loss (the entropy of text); A / N**alpha is what a finite model costs,
    B / D**beta what finite data costs.
    """
    raise NotImplementedError("scaling.chinchilla_loss: not implemented yet (the docstring says what to compute)")


def compute_optimal(compute_flops: float, E: float = 1.69, A: float = 406.4, B: float = 410.7,
                    alpha: float = 0.34, beta: float = 0.28) -> tuple[float, float]:
    """The (N, D) that minimise chinchilla_loss subject to 6 * N * D = C, in closed form.

    Substituting D = C / (6N) and setting dL/dN = 0 gives alpha * A / N**alpha = beta * B / D**beta:
        G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
        N_opt = G * (C / 6) ** (beta / (alpha + beta)),    D_opt = (C / 6) / N_opt
    E does not move the optimum (it is a constant). Returns (n_params, n_tokens) as floats.
    """
    raise NotImplementedError("scaling.compute_optimal: not implemented yet (the docstring says what to compute)")


def fit_power_law(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """Fit y = coef * x ** exponent by least squares in log-log space.

    log y = log coef + exponent * log x is a straight line in (log x, log y): fit it by ordinary
    least squares (np.polyfit(..., 1) or the closed form slope = cov / var).
    x, y: 1-D arrays of the same length. Returns (coef, exponent) as floats.
    ValueError if any x or y is <= 0 (no logarithm) or there are fewer than two points.
    """
    raise NotImplementedError("scaling.fit_power_law: not implemented yet (the docstring says what to compute)")
