"""Oracles for `attention_variants`, built on torch's own kernels (never on solutions/).

flash_attention is checked against `reference.attention.sdpa` (torch's SDPA with the
contract's conventions); the oracles here cover GQA and sliding windows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reference.attention import sdpa


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """(B, H_kv, L, D) -> (B, H_kv * n_rep, L, D), output head h = input head h // n_rep."""
    return torch.repeat_interleave(x, n_rep, dim=1)


def gqa_from_weights(state: dict[str, torch.Tensor], x: torch.Tensor, n_heads: int, n_kv_heads: int,
                     is_causal: bool = True) -> torch.Tensor:
    """Grouped-query self-attention with the given q/k/v/out weights, through torch's SDPA with
    `enable_gqa=True` (query head h uses key/value head h // (n_heads // n_kv_heads))."""
    batch, length, d_model = x.shape
    head_dim = d_model // n_heads

    def project(name: str, heads: int) -> torch.Tensor:  # (B, L, d_model) -> (B, heads, L, hd)
        out = F.linear(x, state[f"{name}.weight"], state.get(f"{name}.bias"))
        return out.reshape(batch, length, heads, head_dim).permute(0, 2, 1, 3)

    q, k, v = project("q_proj", n_heads), project("k_proj", n_kv_heads), project("v_proj", n_kv_heads)
    # Square self-attention: torch's top-left causal mask is the contract's bottom-right one.
    out = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal, enable_gqa=True)
    out = out.permute(0, 2, 1, 3).reshape(batch, length, d_model)
    return F.linear(out, state["out_proj.weight"], state.get("out_proj.bias"))


def sliding_window_mask(q_len: int, k_len: int, window: int) -> torch.Tensor:
    """Hugging Face's Mistral mask, causal AND `kv_idx > q_idx - window`, on absolute
    (bottom-right aligned) query positions q_idx = i + k_len - q_len."""
    q_idx = torch.arange(k_len - q_len, k_len).unsqueeze(-1)
    kv_idx = torch.arange(k_len).unsqueeze(0)
    return (kv_idx <= q_idx) & (kv_idx > q_idx - window)


def local_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int) -> torch.Tensor:
    """Mistral-style local attention written without any mask: each query attends, through
    torch's SDPA, to the slice of the last `window` keys up to its own (bottom-right) position."""
    lq, lk = q.shape[-2], k.shape[-2]
    rows = []
    for i in range(lq):
        now = i + lk - lq
        start, stop = max(0, now - window + 1), now + 1
        if stop <= 0:  # the query sits before the first key: it sees nothing
            rows.append(q.new_zeros((*q.shape[:-2], 1, v.shape[-1])))
            continue
        rows.append(sdpa(q[..., i:i + 1, :], k[..., start:stop, :], v[..., start:stop, :]))
    return torch.cat(rows, dim=-2)
