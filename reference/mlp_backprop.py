"""Oracles for `mlp_backprop`: torch autograd in float64 on the same weights (never solutions/).

Every function takes and returns numpy arrays, so tests compare like with like. Weights use
the exercise's layout, W: (in, out), which is nn.Linear's weight transposed.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def _leaf(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().copy()


def _backward(y: torch.Tensor, upstream: np.ndarray) -> None:
    """Backpropagate the upstream gradient dL/dy. As (y * upstream).sum().backward(), not
    y.backward(upstream): an explicit gradient makes torch import sympy (a third of a second)."""
    (y * torch.from_numpy(upstream)).sum().backward()


def linear(x: np.ndarray, W: np.ndarray, b: np.ndarray, grad_out: np.ndarray) -> dict[str, np.ndarray]:
    """y = x @ W + b through F.linear, and autograd's dW, db, grad_x for upstream grad_out."""
    xt, Wt, bt = _leaf(x), _leaf(W), _leaf(b)
    y = F.linear(xt, Wt.T, bt)
    _backward(y, grad_out)
    return {"y": _np(y), "dW": _np(Wt.grad), "db": _np(bt.grad), "grad_x": _np(xt.grad)}


ACTIVATIONS = {"ReLU": torch.relu, "Tanh": torch.tanh}


def activation(name: str, x: np.ndarray, grad_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(torch.<activation>(x), autograd's dL/dx for upstream grad_out)."""
    xt = _leaf(x)
    y = ACTIVATIONS[name](xt)
    _backward(y, grad_out)
    return _np(y), _np(xt.grad)


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """(F.cross_entropy(logits, targets) (the mean over the batch), its gradient w.r.t. logits)."""
    lt = _leaf(logits)
    loss = F.cross_entropy(lt, torch.from_numpy(np.asarray(targets, dtype=np.int64)))
    loss.backward()
    return loss.item(), _np(lt.grad)


def mlp(weights: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray,
        grad_logits: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Linear, ReLU, ..., Linear (no activation at the end) in torch with these (W, b) pairs.

    Returns (logits, dL/dx, [(dW, db) per layer]) for upstream gradient grad_logits.
    """
    xt = _leaf(x)
    params = [(_leaf(W), _leaf(b)) for W, b in weights]
    h = xt
    for i, (W, b) in enumerate(params):
        h = F.linear(h, W.T, b)
        if i < len(params) - 1:
            h = torch.relu(h)
    _backward(h, grad_logits)
    return _np(h), _np(xt.grad), [(_np(W.grad), _np(b.grad)) for W, b in params]
