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
    raise NotImplementedError("attention.softmax: not implemented yet (the docstring says what to compute)")


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
    raise NotImplementedError("attention.scaled_dot_product_attention: not implemented yet (the docstring says what to compute)")


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
        raise NotImplementedError("attention.MultiHeadAttention.forward: not implemented yet (the docstring says what to compute)")
