"""Attention variants: grouped-query attention, sliding-window masks and tiled flash attention.

Shapes: `B` batch, `H` query heads, `H_kv` key/value heads, `L`/`Lq`/`Lk` lengths, `D` head size.
Contract: ../shared/exercise-contract.md, section 7.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .attention import scaled_dot_product_attention


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """Repeat each key/value head `n_rep` times in place, so K/V line up with the query heads.

    x: (B, H_kv, L, D) -> (B, H_kv * n_rep, L, D). Output head h is input head h // n_rep:
    with H_kv = 2 and n_rep = 3 the output heads come from input heads [0, 0, 0, 1, 1, 1]
    (not [0, 1, 0, 1, 0, 1]). Same as `torch.repeat_interleave(x, n_rep, dim=1)`.
    """
    raise NotImplementedError("attention_variants.repeat_kv: not implemented yet (the docstring says what to compute)")


class GroupedQueryAttention(nn.Module):
    """Grouped-query self-attention (GQA): `n_heads` query heads share `n_kv_heads` key/value heads.

    Query head h uses key/value head h // (n_heads // n_kv_heads): consecutive query heads form
    a group. n_kv_heads == n_heads is multi-head attention, n_kv_heads == 1 multi-query attention.
    """

    def __init__(self, d_model: int, n_heads: int, n_kv_heads: int, bias: bool = False) -> None:
        """Projections (hd = d_model // n_heads, each an nn.Linear with `bias`):
        q_proj: d_model -> n_heads * hd, k_proj and v_proj: d_model -> n_kv_heads * hd,
        out_proj: d_model -> d_model. K/V are n_heads / n_kv_heads times smaller than in
        multi-head attention: that is GQA's saving (in parameters and in the KV cache).
        """
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        if n_heads % n_kv_heads != 0:
            raise ValueError(f"n_heads ({n_heads}) must be divisible by n_kv_heads ({n_kv_heads})")
        self.d_model, self.n_heads, self.n_kv_heads = d_model, n_heads, n_kv_heads
        self.head_dim = d_model // n_heads
        raise NotImplementedError("attention_variants.GroupedQueryAttention.__init__: not implemented yet (the docstring says what to compute)")

    def forward(self, x: torch.Tensor, is_causal: bool = True) -> torch.Tensor:
        """x: (B, L, d_model) -> (B, L, d_model); causal self-attention unless is_causal=False.

        Head h of q uses features h*hd:(h+1)*hd of q_proj's output; kv head g uses features
        g*hd:(g+1)*hd of k_proj's and v_proj's.
        """
        raise NotImplementedError("attention_variants.GroupedQueryAttention.forward: not implemented yet (the docstring says what to compute)")


def sliding_window_mask(q_len: int, k_len: int, window: int) -> torch.Tensor:
    """Bool mask (q_len, k_len) for causal sliding-window (local) attention, True = may attend.

    Bottom-right aligned like the causal mask: query i sits at key position i + (k_len - q_len)
    and sees that key and the window - 1 keys before it:
        mask[i, j] = 0 <= (i + k_len - q_len) - j < window.
    window = 1 is the diagonal only; window >= k_len is the plain bottom-right causal mask.
    (Mistral's sliding window: a key is visible iff it is not in the future and fewer than
    `window` positions back.)
    """
    raise NotImplementedError("attention_variants.sliding_window_mask: not implemented yet (the docstring says what to compute)")


def flash_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    is_causal: bool = False,
    scale: float | None = None,
    block_q: int = 64,
    block_k: int = 64,
) -> torch.Tensor:
    """Scaled dot-product attention computed tile by tile with the online softmax (FlashAttention-2).

    q: (..., Lq, D), k: (..., Lk, D), v: (..., Lk, Dv) -> (..., Lq, Dv): the same result as
    `scaled_dot_product_attention(q, k, v, is_causal=is_causal, scale=scale)` (bottom-right
    causal; default scale 1 / sqrt(D); a query that may see no key gets zeros), but no tensor
    with Lq * Lk elements or more (scores, probabilities or a mask) is ever created: only
    (block_q x block_k) tiles of scores. Any block_q, block_k >= 1 works, also when they do not
    divide Lq and Lk.

    The online softmax: for each tile of block_q queries, visit the key tiles in order
    (s = q_tile @ k_tile^T * scale) and keep, per query row, over the keys seen so far:
        m    the running max of the scores                   (starts at -inf)
        l    the sum of exp(score_j - m)                     (starts at 0)
        acc  the sum of exp(score_j - m) * v_j               (starts at 0; (..., block_q, Dv))
    When a tile raises the max, l and acc were summed relative to the old m: rescale them.
    The output rows are acc / l, divided once after the last key tile (FlashAttention-2).
    float16/bfloat16 inputs keep m, l and acc in float32, as real kernels do; the output
    has q's dtype.
    """
    raise NotImplementedError("attention_variants.flash_attention: not implemented yet (the docstring says what to compute)")
