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
        # BEGIN SOLUTION
        bound = 1.0 / np.sqrt(in_features)
        self.W = rng.uniform(-bound, bound, size=(in_features, out_features))
        self.b = rng.uniform(-bound, bound, size=out_features)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        # END SOLUTION

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, in) -> x @ W + b: (N, out). Keeps x: backward needs it for dW."""
        # BEGIN SOLUTION
        self.x = x
        return x @ self.W + self.b
        # END SOLUTION

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out = dL/dy: (N, out) -> dL/dx: (N, in); stores dL/dW in dW and dL/db in db.

        y[n, j] = sum_i x[n, i] W[i, j] + b[j], so by the chain rule
            dW = x^T @ grad_out         (in, out)
            db = sum over n of grad_out (out,)   a sum, not a mean: the loss already averaged
            dx = grad_out @ W^T         (N, in)
        dW and db are overwritten (not accumulated) on every call.
        """
        # BEGIN SOLUTION
        self.dW[:] = self.x.T @ grad_out  # in place: parameters() hands out these very arrays
        self.db[:] = grad_out.sum(axis=0)
        return grad_out @ self.W.T
        # END SOLUTION


class ReLU:
    """max(0, x), elementwise."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: any shape -> max(0, x), same shape."""
        # BEGIN SOLUTION
        self.x = x
        return np.maximum(x, 0.0)
        # END SOLUTION

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """dL/dx = grad_out where the forward input x was > 0, and 0 elsewhere."""
        # BEGIN SOLUTION
        return grad_out * (self.x > 0)
        # END SOLUTION


class Tanh:
    """tanh(x), elementwise."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: any shape -> tanh(x), same shape. Keeps x for backward."""
        # BEGIN SOLUTION
        self.x = x
        return np.tanh(x)
        # END SOLUTION

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """dL/dx = grad_out * (1 - tanh(x)^2): one minus the *output* squared, not 1 - x^2."""
        # BEGIN SOLUTION
        t = np.tanh(self.x)
        return grad_out * (1.0 - t**2)
        # END SOLUTION


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
    # BEGIN SOLUTION
    n = logits.shape[0]
    rows = np.arange(n)
    shifted = logits - logits.max(axis=1, keepdims=True)  # every row's max is now 0: exp <= 1
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[rows, targets].mean()
    probs = np.exp(log_probs)
    onehot = np.zeros_like(probs)
    onehot[rows, targets] = 1.0
    grad = (probs - onehot) / n
    return float(loss), grad
    # END SOLUTION


class MLP:
    """Linear -> ReLU -> Linear -> ReLU -> ... -> Linear: logits, with no activation at the end.

    sizes = [in, hidden_1, ..., out] gives len(sizes) - 1 Linear layers, in the list `layers`
    with a ReLU between each two of them.
    """

    def __init__(self, sizes: list[int], rng: np.random.Generator | None = None) -> None:
        rng = np.random.default_rng() if rng is None else rng
        # BEGIN SOLUTION
        self.layers: list[Linear | ReLU] = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            self.layers.append(Linear(fan_in, fan_out, rng))
            if i < len(sizes) - 2:  # no activation after the last layer: it outputs logits
                self.layers.append(ReLU())
        # END SOLUTION

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, sizes[0]) -> logits (N, sizes[-1]): each layer's forward, first to last."""
        # BEGIN SOLUTION
        for layer in self.layers:
            x = layer.forward(x)
        return x
        # END SOLUTION

    def backward(self, grad_logits: np.ndarray) -> np.ndarray:
        """grad_logits: (N, sizes[-1]) -> dL/dx (N, sizes[0]): each layer's backward, last to first.

        Fills every Linear's dW and db on the way.
        """
        # BEGIN SOLUTION
        grad = grad_logits
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad
        # END SOLUTION

    def parameters(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(W, dW), (b, db)] for each Linear, in layer order: what an optimiser updates."""
        # BEGIN SOLUTION
        params = []
        for layer in self.layers:
            if isinstance(layer, Linear):
                params += [(layer.W, layer.dW), (layer.b, layer.db)]
        return params
        # END SOLUTION


def sgd_step(params: list[tuple[np.ndarray, np.ndarray]], lr: float) -> None:
    """One step of gradient descent, in place: param -= lr * grad for each (param, grad) pair.

    In place matters: `param = param - lr * grad` would only rebind the loop variable,
    and the model's arrays would never change.
    """
    # BEGIN SOLUTION
    for param, grad in params:
        param -= lr * grad
    # END SOLUTION
