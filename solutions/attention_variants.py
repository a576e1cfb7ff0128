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
    # BEGIN SOLUTION
    if n_rep == 1:
        return x
    batch, n_kv_heads, length, head_dim = x.shape
    # A new axis right after the head axis, expanded (no copy yet), then merged into it.
    x = x[:, :, None].expand(batch, n_kv_heads, n_rep, length, head_dim)
    return x.reshape(batch, n_kv_heads * n_rep, length, head_dim)
    # END SOLUTION


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
        # BEGIN SOLUTION
        kv_dim = n_kv_heads * self.head_dim
        self.q_proj = nn.Linear(d_model, n_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(d_model, kv_dim, bias=bias)
        self.v_proj = nn.Linear(d_model, kv_dim, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        # END SOLUTION

    def forward(self, x: torch.Tensor, is_causal: bool = True) -> torch.Tensor:
        """x: (B, L, d_model) -> (B, L, d_model); causal self-attention unless is_causal=False.

        Head h of q uses features h*hd:(h+1)*hd of q_proj's output; kv head g uses features
        g*hd:(g+1)*hd of k_proj's and v_proj's.
        """
        # BEGIN SOLUTION
        batch, length, _ = x.shape

        def split_heads(t: torch.Tensor, n: int) -> torch.Tensor:  # (B, L, n*hd) -> (B, n, L, hd)
            return t.view(batch, length, n, self.head_dim).transpose(1, 2)

        q = split_heads(self.q_proj(x), self.n_heads)
        k = split_heads(self.k_proj(x), self.n_kv_heads)
        v = split_heads(self.v_proj(x), self.n_kv_heads)
        n_rep = self.n_heads // self.n_kv_heads
        k, v = repeat_kv(k, n_rep), repeat_kv(v, n_rep)  # query head h now meets kv head h // n_rep
        out = scaled_dot_product_attention(q, k, v, is_causal=is_causal)  # (B, H, L, hd)
        out = out.transpose(1, 2).reshape(batch, length, self.d_model)
        return self.out_proj(out)
        # END SOLUTION


def sliding_window_mask(q_len: int, k_len: int, window: int) -> torch.Tensor:
    """Bool mask (q_len, k_len) for causal sliding-window (local) attention, True = may attend.

    Bottom-right aligned like the causal mask: query i sits at key position i + (k_len - q_len)
    and sees that key and the window - 1 keys before it:
        mask[i, j] = 0 <= (i + k_len - q_len) - j < window.
    window = 1 is the diagonal only; window >= k_len is the plain bottom-right causal mask.
    (Mistral's sliding window: a key is visible iff it is not in the future and fewer than
    `window` positions back.)
    """
    # BEGIN SOLUTION
    now = torch.arange(q_len)[:, None] + (k_len - q_len)  # query i's own key position
    distance = now - torch.arange(k_len)[None, :]  # how far back key j is from query i
    return (distance >= 0) & (distance < window)
    # END SOLUTION


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
    # BEGIN SOLUTION
    lq, lk, d = q.shape[-2], k.shape[-2], q.shape[-1]
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    offset = lk - lq  # bottom-right causal: query i may see key j iff j <= i + offset
    work = torch.promote_types(q.dtype, torch.float32)  # accumulate in at least float32
    out_tiles = []
    for q_start in range(0, lq, block_q):
        q_end = min(q_start + block_q, lq)
        q_tile = q[..., q_start:q_end, :].to(work) * scale
        rows = (*q_tile.shape[:-1], 1)
        row_max = torch.full(rows, float("-inf"), dtype=work, device=q.device)  # m
        row_sum = torch.zeros(rows, dtype=work, device=q.device)  # l
        acc = torch.zeros((*q_tile.shape[:-1], v.shape[-1]), dtype=work, device=q.device)
        # With causal masking, keys from q_end + offset on are in every query's future: skip them.
        k_stop = min(lk, q_end + offset) if is_causal else lk
        for k_start in range(0, k_stop, block_k):
            k_end = min(k_start + block_k, k_stop)
            s = q_tile @ k[..., k_start:k_end, :].to(work).transpose(-2, -1)  # (..., bq, bk)
            if is_causal:  # the mask of this tile only, from its row and column indices
                i = torch.arange(q_start, q_end, device=q.device)[:, None]
                j = torch.arange(k_start, k_end, device=q.device)[None, :]
                s = s.masked_fill(j > i + offset, float("-inf"))
            new_max = torch.maximum(row_max, s.amax(dim=-1, keepdim=True))
            # A row that has seen only masked keys keeps max -inf: use 0 so exp(-inf - 0) = 0, not NaN.
            safe_max = torch.where(new_max == float("-inf"), torch.zeros_like(new_max), new_max)
            p = torch.exp(s - safe_max)
            correction = torch.exp(row_max - safe_max)  # rescales everything summed so far
            row_sum = row_sum * correction + p.sum(dim=-1, keepdim=True)
            acc = acc * correction + p @ v[..., k_start:k_end, :].to(work)
            row_max = new_max
        # Normalise once, at the end; a row that saw no key has acc = 0 and l = 0: output 0.
        out_tiles.append(acc / torch.where(row_sum > 0, row_sum, torch.ones_like(row_sum)))
    return torch.cat(out_tiles, dim=-2).to(q.dtype)
    # END SOLUTION
