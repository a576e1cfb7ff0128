"""Benchmarks for `mlp_backprop`: one forward + backward pass of the numpy MLP.

The learner's `MLP([784, 256, 256, 10])` (float64, batch 256: MNIST-sized) computes logits,
`softmax_cross_entropy` and the backward pass by hand; the baseline is the same network in
torch (float64, the learner's weights copied in) with `F.cross_entropy` and autograd. Both
return dL/dx, which must agree. Peak memory: `tracemalloc` for numpy (numpy reports its
arrays to it), the tensor-storage count for torch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from mlkata.bench.framework import Context, Row

EXERCISE = "mlp_backprop"


def cases(ctx: Context) -> Iterator[Row]:
    ex = ctx.load(EXERCISE)
    sizes, batch = ([8, 16, 16, 4], 8) if ctx.quick else ([784, 256, 256, 10], 256)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0]))
    y = rng.integers(0, sizes[-1], batch)
    built: dict[str, object] = {}

    def make_mine():
        built["mlp"] = mlp = ex.MLP(sizes, rng=np.random.default_rng(1))

        def step():
            _, grad_logits = ex.softmax_cross_entropy(mlp.forward(x), y)
            return mlp.backward(grad_logits)
        return step

    def make_theirs():
        dev = "cpu"  # numpy runs on the CPU: so does its baseline, also with --device cuda
        if "mlp" in built:  # the learner's weights: [(W, dW), (b, db), ...], W is (in, out)
            arrays = [p for p, _ in built["mlp"].parameters()]
        else:
            arrays = [a for i, o in zip(sizes, sizes[1:]) for a in (rng.standard_normal((i, o)) / i ** 0.5,
                                                                  np.zeros(o))]
        params = [torch.tensor(a, device=dev) for a in arrays]
        xt = torch.tensor(x, device=dev, requires_grad=True)
        yt = torch.tensor(y, device=dev)

        def step():
            xt.grad = None
            h = xt
            for i in range(0, len(params), 2):
                h = h @ params[i] + params[i + 1]
                if i + 2 < len(params):
                    h = h.relu()
            F.cross_entropy(h, yt).backward()
            return xt.grad
        return step

    yield ctx.compare(EXERCISE, "MLP forward + backward (numpy)", f"sizes {sizes}, batch {batch}, float64",
                      make_mine, make_theirs, baseline="the same MLP in torch with autograd", grad=True,
                      memory=("tracemalloc", "torch"))
