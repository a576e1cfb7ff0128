"""Benchmarks for `attention`: softmax, scaled dot-product attention, multi-head attention.

Sizes (full): B=8 batches, H=8 heads, head size D=64, sequence length L in 128, 512, 2048.
softmax runs on attention scores of shape (B, H, L, L). SDPA is compared with torch's
default kernel (on CPU a fused flash-style kernel that never builds the L x L matrix) and
with its math backend (the textbook formula in aten ops: the fair comparison for a
from-scratch implementation). MultiHeadAttention runs at d_model = H * D = 512.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from mlkata.bench.framework import Context, Row, bound, randn

EXERCISE = "attention"
FLOAT = 4  # bytes per float32


def sizes(ctx: Context) -> tuple[int, int, int, list[int]]:
    """(B, H, D, lengths)."""
    return (2, 2, 16, [16, 64]) if ctx.quick else (8, 8, 64, [128, 512, 2048])


def sdpa_math(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """torch's SDPA forced onto its math backend (softmax(q k^T / sqrt(D)) v in aten ops)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.MATH):
        return F.scaled_dot_product_attention(q, k, v)


def torch_mha_like(mine: nn.Module, d_model: int, n_heads: int, device: str) -> nn.MultiheadAttention:
    """An `nn.MultiheadAttention` holding the learner's q/k/v/out weights (so outputs compare)."""
    ref = nn.MultiheadAttention(d_model, n_heads, batch_first=True, device=device).eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([mine.q_proj.weight, mine.k_proj.weight, mine.v_proj.weight]))
        ref.in_proj_bias.copy_(torch.cat([mine.q_proj.bias, mine.k_proj.bias, mine.v_proj.bias]))
        ref.out_proj.weight.copy_(mine.out_proj.weight)
        ref.out_proj.bias.copy_(mine.out_proj.bias)
    return ref


def cases(ctx: Context) -> Iterator[Row]:
    ex = ctx.load(EXERCISE)
    batch, heads, dim, lengths = sizes(ctx)
    dev = ctx.device

    def qkv(length: int) -> list[torch.Tensor]:
        return [randn(batch, heads, length, dim, device=dev, seed=s) for s in range(3)]

    def scores_bytes(length: int) -> int:  # one (B, H, L, L) float32 tensor
        return batch * heads * length * length * FLOAT

    for length in lengths:
        q, k, _ = qkv(length)
        scores = (q @ k.transpose(-2, -1)) * dim ** -0.5  # a realistic softmax input, made untimed
        del q, k
        yield ctx.compare(EXERCISE, "softmax", f"scores ({batch}, {heads}, {length}, {length})",
                          bound(lambda: ex.softmax, scores, dim=-1), bound(lambda: torch.softmax, scores, dim=-1),
                          baseline="torch.softmax", work=scores.numel(),
                          mine_bytes=4 * scores_bytes(length), theirs_bytes=2 * scores_bytes(length))
        del scores

    for backend in ("F.scaled_dot_product_attention", "F.scaled_dot_product_attention (math backend)"):
        baseline = F.scaled_dot_product_attention if "math" not in backend else sdpa_math
        for length in lengths:
            q, k, v = qkv(length)
            # The learner's side is measured once per size: the second baseline reuses it.
            yield ctx.compare(EXERCISE, "scaled_dot_product_attention", f"B={batch} H={heads} L={length} D={dim}",
                              bound(lambda: ex.scaled_dot_product_attention, q, k, v),
                              bound(lambda: baseline, q, k, v),  # noqa: B023 - used before the loop moves on
                              baseline=backend, work=batch * heads * length * length * dim,
                              mine_bytes=4 * scores_bytes(length),
                              theirs_bytes=(4 if "math" in backend else 1) * scores_bytes(length))
            del q, k, v

    # Multi-head attention at the two smaller lengths: projections plus attention, d_model = H * D.
    d_model = heads * dim
    for length in lengths[:2]:
        x = randn(batch, length, d_model, device=dev, seed=3)
        built: dict[str, nn.Module] = {}

        def make_mine() -> object:
            torch.manual_seed(0)
            built["mine"] = module = ex.MultiHeadAttention(d_model, heads).to(dev).eval()
            return lambda: module(x)  # noqa: B023

        def make_theirs() -> object:
            try:  # the learner's weights, so that the two outputs compare
                module = torch_mha_like(built["mine"], d_model, heads, dev)
            except Exception:  # noqa: BLE001 - theirs did not build, or not as the contract says
                module = nn.MultiheadAttention(d_model, heads, batch_first=True, device=dev).eval()
            return lambda: module(x, x, x, need_weights=False)[0]  # noqa: B023

        yield ctx.compare(EXERCISE, "MultiHeadAttention", f"B={batch} L={length} d_model={d_model} heads={heads}",
                          make_mine, make_theirs, baseline="nn.MultiheadAttention",
                          work=batch * heads * length * length * dim, mine_bytes=4 * scores_bytes(length))
        del x
