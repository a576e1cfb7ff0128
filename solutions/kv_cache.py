"""A preallocated KV cache, and causal self-attention that can use it.

When a language model generates text one token at a time, every step needs the keys and
values of all earlier positions. Recomputing them costs O(T) projections per step; a KV cache
keeps them, so each step only projects the newest token and appends its key and value.

Shapes: `B` batch, `H` heads, `t` new positions, `L` positions cached, `D` head size.
Contract: ../shared/exercise-contract.md, section 5.
"""

from __future__ import annotations

import torch
from torch import nn

from .attention import scaled_dot_product_attention


class KVCache:
    """Keys and values of the positions seen so far, in buffers allocated once.

    `k` and `v` are (B, H, max_len, D) tensors created in `__init__` and never replaced:
    `update` writes into them in place (no torch.cat, which would copy the whole cache every
    step) and returns views of the filled part.
    """

    def __init__(self, batch_size: int, n_heads: int, max_len: int, head_dim: int,
                 dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> None:
        """Allocate k and v, each (batch_size, n_heads, max_len, head_dim), in `dtype` on
        `device`, and start empty (len 0)."""
        self.batch_size, self.n_heads, self.max_len, self.head_dim = batch_size, n_heads, max_len, head_dim
        # BEGIN SOLUTION
        shape = (batch_size, n_heads, max_len, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.length = 0  # positions 0 .. length-1 are filled
        # END SOLUTION

    def __len__(self) -> int:
        """The number of positions filled so far."""
        # BEGIN SOLUTION
        return self.length
        # END SOLUTION

    def update(self, k_new: torch.Tensor, v_new: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append t positions; return everything cached so far.

        k_new, v_new: (B, H, t, D), written at positions len .. len+t-1 of the buffers,
        in place. Returns the views k[:, :, :len+t], v[:, :, :len+t], each (B, H, len+t, D).
        Raises ValueError if len + t > max_len, leaving the cache exactly as it was.
        """
        # BEGIN SOLUTION
        t = k_new.shape[-2]
        start, end = self.length, self.length + t
        if end > self.max_len:  # check before writing anything, so a failed update changes nothing
            raise ValueError(f"KVCache overflow: {self.length} positions cached + {t} new > max_len={self.max_len}")
        self.k[:, :, start:end] = k_new  # in place: the buffers are never reallocated
        self.v[:, :, start:end] = v_new
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]
        # END SOLUTION

    def reset(self) -> None:
        """Empty the cache (the buffers are kept and reused)."""
        # BEGIN SOLUTION
        self.length = 0  # stale entries are simply overwritten by later updates
        # END SOLUTION


class CachedCausalSelfAttention(nn.Module):
    """Causal multi-head self-attention that can run incrementally through a `KVCache`.

    Projections as in `MultiHeadAttention`: head h uses features h*hd:(h+1)*hd of each of
    q_proj, k_proj, v_proj (hd = d_model // n_heads), then out_proj.
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

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """x: (B, t, d_model) -> (B, t, d_model).

        Without a cache: causal self-attention over the t positions of x.
        With a cache holding L earlier positions: x is positions L .. L+t-1. Their keys and
        values are appended to the cache, and the t queries attend to all L+t cached keys,
        bottom-right causally: new query i sees key j iff j <= i + L.
        Either way, position p attends exactly to positions 0..p of the sequence, so feeding
        a sequence in chunks through one cache gives the same outputs as feeding it whole.
        """
        # BEGIN SOLUTION
        batch, t, _ = x.shape

        def split_heads(y: torch.Tensor) -> torch.Tensor:  # (B, t, d_model) -> (B, H, t, hd)
            return y.view(batch, t, self.n_heads, self.head_dim).transpose(1, 2)

        q, k, v = split_heads(self.q_proj(x)), split_heads(self.k_proj(x)), split_heads(self.v_proj(x))
        if cache is not None:
            k, v = cache.update(k, v)  # now (B, H, L + t, hd): the past and the new positions
        # The t queries are the *last* t of the L + t keys: bottom-right causal is exactly right.
        # A single new query may see every key, so decoding one token needs no mask at all.
        out = scaled_dot_product_attention(q, k, v, is_causal=t > 1)  # (B, H, t, hd)
        out = out.transpose(1, 2).reshape(batch, t, self.d_model)  # merge heads
        return self.out_proj(out)
        # END SOLUTION
