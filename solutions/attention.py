"""Attention from scratch: a stable softmax, scaled dot-product attention, multi-head attention.

Shapes: `B` batch, `H` heads, `Lq`/`Lk` query/key lengths, `D` query/key size, `Dv` value size.
Contract: ../shared/exercise-contract.md, section 1.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """exp(x) / sum(exp(x)) along `dim`, numerically stable.

    Subtract the maximum along `dim` first (softmax is shift-invariant) so that exp never
    overflows, even for inputs like 1e4. A slice that is entirely -inf yields all zeros.

    x: any shape. Returns: the same shape and dtype.
    """
    # BEGIN SOLUTION
    # The shift is a constant per row, so it needs no gradient (detach saves autograd work).
    row_max = x.detach().amax(dim=dim, keepdim=True)
    row_max = row_max.nan_to_num(neginf=0.0)  # a row of all -inf: shift by 0, not by -inf
    exp = torch.exp_(x - row_max)  # in place on the fresh difference: one full-size buffer fewer
    # An ordinary row sums to >= 1 (its max contributes exp(0) = 1); a row of all -inf sums
    # to 0, and dividing it by 1 keeps it at zeros.
    return exp / exp.sum(dim=dim, keepdim=True).clamp_min(1.0)
    # END SOLUTION


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> torch.Tensor:
    """softmax(q @ k^T * scale + masking) @ v.

    q: (..., Lq, D), k: (..., Lk, D), v: (..., Lk, Dv) -> (..., Lq, Dv).
    mask: bool, broadcastable to (..., Lq, Lk); True = the query may attend to that key.
    is_causal: bottom-right causal masking, query i sees key j iff j <= i + (Lk - Lq);
        combined (AND) with `mask` when both are given.
    scale: multiplies q @ k^T; default 1 / sqrt(D) (the query/key size, not Dv).
    A query that may attend to no key at all gets an output row of zeros.
    """
    # BEGIN SOLUTION
    lq, lk, d = q.shape[-2], k.shape[-2], q.shape[-1]
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    scores = (q * scale) @ k.transpose(-2, -1)  # (..., Lq, Lk); scaling q touches D, not Lk, columns
    if is_causal:
        causal = torch.ones(lq, lk, dtype=torch.bool, device=q.device).tril(diagonal=lk - lq)
        mask = causal if mask is None else mask & causal
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return softmax(scores, dim=-1) @ v
    # END SOLUTION


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention with separate q/k/v/out projections.

    Head h uses features h*hd:(h+1)*hd of each projection, hd = d_model // n_heads.
    """

    def __init__(self, d_model: int, n_heads: int, bias: bool = True) -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.d_model, self.n_heads, self.head_dim = d_model, n_heads, d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                is_causal: bool = False) -> torch.Tensor:
        """x: (B, L, d_model) -> (B, L, d_model).

        mask: bool, broadcastable to (B, n_heads, L, L), True = may attend.
        """
        # BEGIN SOLUTION
        batch, length, _ = x.shape

        def split_heads(t: torch.Tensor) -> torch.Tensor:  # (B, L, d_model) -> (B, H, L, hd)
            return t.view(batch, length, self.n_heads, self.head_dim).transpose(1, 2)

        q, k, v = split_heads(self.q_proj(x)), split_heads(self.k_proj(x)), split_heads(self.v_proj(x))
        out = scaled_dot_product_attention(q, k, v, mask=mask, is_causal=is_causal)  # (B, H, L, hd)
        out = out.transpose(1, 2).reshape(batch, length, self.d_model)  # merge heads
        return self.out_proj(out)
        # END SOLUTION
