"""A multi-layer perceptron with hand-written backprop, in numpy only (no autograd).

Every layer has `forward(x)`, which keeps what its backward pass will need, and
`backward(grad_out)`, which takes dL/d(output) and returns dL/d(input) by the chain rule.
Layers with parameters also store dL/dW and dL/db. The MLP chains them: forward left to
right, backward right to left.

Shapes: `N` batch size, `in`/`out` feature sizes, `C` number of classes.
Contract: ../shared/exercise-contract.md, section 3. This file must not import torch.
"""

from __future__ import annotations

import numpy as np


class Linear:
    """y = x @ W + b, with W: (in, out) and b: (out,), float64.

    W and b start uniform in [-1/sqrt(in), 1/sqrt(in)] (drawn from `rng`, a
    `np.random.Generator`; a fresh one when None), torch's nn.Linear default, so the
    outputs keep about the scale of the inputs. dW and db hold the latest gradients.
    """

    def __init__(self, in_features: int, out_features: int, rng: np.random.Generator | None = None) -> None:
        rng = np.random.default_rng() if rng is None else rng
        self.in_features, self.out_features = in_features, out_features
        raise NotImplementedError("mlp_backprop.Linear.__init__: not implemented yet (the docstring says what to compute)")

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, in) -> x @ W + b: (N, out). Keeps x: backward needs it for dW."""
        raise NotImplementedError("mlp_backprop.Linear.forward: not implemented yet (the docstring says what to compute)")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out = dL/dy: (N, out) -> dL/dx: (N, in); stores dL/dW in dW and dL/db in db.

        y[n, j] = sum_i x[n, i] W[i, j] + b[j], so by the chain rule
            dW = x^T @ grad_out         (in, out)
            db = sum over n of grad_out (out,)   a sum, not a mean: the loss already averaged
            dx = grad_out @ W^T         (N, in)
        dW and db are overwritten (not accumulated) on every call.
        """
        raise NotImplementedError("mlp_backprop.Linear.backward: not implemented yet (the docstring says what to compute)")


class ReLU:
    """max(0, x), elementwise."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: any shape -> max(0, x), same shape."""
        raise NotImplementedError("mlp_backprop.ReLU.forward: not implemented yet (the docstring says what to compute)")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """dL/dx = grad_out where the forward input x was > 0, and 0 elsewhere."""
        raise NotImplementedError("mlp_backprop.ReLU.backward: not implemented yet (the docstring says what to compute)")


class Tanh:
    """tanh(x), elementwise."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: any shape -> tanh(x), same shape. Keeps x for backward."""
        raise NotImplementedError("mlp_backprop.Tanh.forward: not implemented yet (the docstring says what to compute)")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """dL/dx = grad_out * (1 - tanh(x)^2): one minus the *output* squared, not 1 - x^2."""
        raise NotImplementedError("mlp_backprop.Tanh.backward: not implemented yet (the docstring says what to compute)")


def softmax_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """The mean cross-entropy of softmax(logits) against integer class targets, and its gradient.

    logits: (N, C), targets: (N,) ints in [0, C) -> (loss, grad_logits (N, C)).
        p = softmax(logits) row by row
        loss = -(1/N) * sum_n log p[n, targets[n]]
        grad_logits = (p - onehot(targets)) / N     (the 1/N because the loss is a mean)
    Stable for logits like ±1e4: subtract each row's max first (softmax is shift-invariant)
    and take log p = shifted - log(sum(exp(shifted))), never log(exp(...)).
    The input `logits` is not modified.
    """
    raise NotImplementedError("mlp_backprop.softmax_cross_entropy: not implemented yet (the docstring says what to compute)")


class MLP:
    """Linear -> ReLU -> Linear -> ReLU -> ... -> Linear: logits, with no activation at the end.

    sizes = [in, hidden_1, ..., out] gives len(sizes) - 1 Linear layers, in the list `layers`
    with a ReLU between each two of them.
    """

    def __init__(self, sizes: list[int], rng: np.random.Generator | None = None) -> None:
        rng = np.random.default_rng() if rng is None else rng
        raise NotImplementedError("mlp_backprop.MLP.__init__: not implemented yet (the docstring says what to compute)")

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, sizes[0]) -> logits (N, sizes[-1]): each layer's forward, first to last."""
        raise NotImplementedError("mlp_backprop.MLP.forward: not implemented yet (the docstring says what to compute)")

    def backward(self, grad_logits: np.ndarray) -> np.ndarray:
        """grad_logits: (N, sizes[-1]) -> dL/dx (N, sizes[0]): each layer's backward, last to first.

        Fills every Linear's dW and db on the way.
        """
        raise NotImplementedError("mlp_backprop.MLP.backward: not implemented yet (the docstring says what to compute)")

    def parameters(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(W, dW), (b, db)] for each Linear, in layer order: what an optimiser updates."""
        raise NotImplementedError("mlp_backprop.MLP.parameters: not implemented yet (the docstring says what to compute)")


def sgd_step(params: list[tuple[np.ndarray, np.ndarray]], lr: float) -> None:
    """One step of gradient descent, in place: param -= lr * grad for each (param, grad) pair.

    In place matters: `param = param - lr * grad` would only rebind the loop variable,
    and the model's arrays would never change.
    """
    raise NotImplementedError("mlp_backprop.sgd_step: not implemented yet (the docstring says what to compute)")
