"""Benchmarks for `optim`: one AdamW step, and gradient clipping.

The parameters are shaped like a GPT's (token and position embeddings, per layer four
d x d attention matrices, the 4d MLP, LayerNorms, biases): the capstone model (4 layers,
d_model 128, about 0.8M parameters) and a larger one (d_model 512, about 12.7M), with fixed
random gradients. `torch.optim.AdamW` runs with its defaults: on the CPU a loop over the
parameters (its "for-loop" implementation), on CUDA the multi-tensor "foreach" one.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from mlkata.bench.framework import Context, Row, randn

EXERCISE = "optim"


def gpt_like_shapes(n_layer: int, d: int, vocab: int = 65, block: int = 256) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = [(vocab, d), (block, d)]
    for _ in range(n_layer):
        shapes += [(d,), (d,)]  # ln_1
        shapes += [(d, d), (d,)] * 4  # q, k, v, out projections
        shapes += [(d,), (d,)]  # ln_2
        shapes += [(4 * d, d), (4 * d,), (d, 4 * d), (d,)]  # MLP
    return shapes + [(d,), (d,)]  # ln_f


def make_params(shapes: list[tuple[int, ...]], device: str) -> list[torch.Tensor]:
    """Parameters with gradients, the same values every call."""
    params = []
    for i, shape in enumerate(shapes):
        p = randn(*shape, device=device, seed=2 * i).mul_(0.02).requires_grad_()
        p.grad = randn(*shape, device=device, seed=2 * i + 1)
        params.append(p)
    return params


def _models(configs: list[tuple[int, int]]) -> Iterator[tuple[list[tuple[int, ...]], int, str]]:
    """(parameter shapes, parameter count, size label) of a GPT-like model per (n_layer, d)."""
    for n_layer, d in configs:
        shapes = gpt_like_shapes(n_layer, d)
        n = sum(torch.Size(s).numel() for s in shapes)
        yield shapes, n, f"{len(shapes)} tensors, {n / 1e6:.2f}M parameters (GPT-like, d={d})"


def cases(ctx: Context) -> Iterator[Row]:
    ex = ctx.load(EXERCISE)
    dev = ctx.device
    configs = [(1, 32)] if ctx.quick else [(4, 128), (4, 512)]
    for shapes, n, size in _models(configs):

        def make_adamw(get_class):
            def build():
                opt = get_class()(make_params(shapes, dev), lr=1e-3, weight_decay=0.1)  # noqa: B023
                opt.step()  # the first step allocates the moment buffers: time and measure later ones
                return opt.step
            return build

        # Each call is one more step from different parameters: the outputs are not compared
        # (mlkata check compares the updates).
        yield ctx.compare(EXERCISE, "AdamW.step", size, make_adamw(lambda: ex.AdamW),
                          make_adamw(lambda: torch.optim.AdamW), baseline="torch.optim.AdamW.step",
                          check=False, work=n)

    for shapes, n, size in _models(configs):

        def make_clip(fn):
            def build():
                params = make_params(shapes, dev)  # noqa: B023
                clip = fn()
                # max_norm above the gradients' norm: nothing is scaled, so every call does the same work.
                return lambda: clip(params, max_norm=1e9)
            return build

        yield ctx.compare(EXERCISE, "clip_grad_norm", size, make_clip(lambda: ex.clip_grad_norm),
                          make_clip(lambda: torch.nn.utils.clip_grad_norm_),
                          baseline="torch.nn.utils.clip_grad_norm_", work=n)
