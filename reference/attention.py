"""Oracles for `attention`, built on torch's own kernels (never on solutions/)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def allowed_keys(lq: int, lk: int, mask: torch.Tensor | None, is_causal: bool,
                 device: torch.device | None = None) -> torch.Tensor | None:
    """The combined bool mask (True = may attend), or None when nothing is masked."""
    if is_causal:
        causal = torch.ones(lq, lk, dtype=torch.bool, device=device).tril(diagonal=lk - lq)
        return causal if mask is None else mask & causal
    return mask


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
         is_causal: bool = False, scale: float | None = None) -> torch.Tensor:
    """torch's SDPA with the contract's conventions: bottom-right causal, zero rows when fully masked."""
    lq, lk = q.shape[-2], k.shape[-2]
    batch = q.shape[:-2]
    q4, k4, v4 = (t.reshape(-1, 1, *t.shape[-2:]) for t in (q, k, v))  # SDPA's (N, H, L, D) layout
    # The bottom-right causal mask is built explicitly: it equals torch's
    # `torch.nn.attention.bias.causal_lower_right` (selftest/test_reference.py checks that),
    # whose import alone (torch._dynamo) would cost the grader most of a second.
    allowed = allowed_keys(lq, lk, mask, is_causal, q.device)
    attn_mask = None if allowed is None else allowed.expand(*batch, lq, lk).reshape(-1, 1, lq, lk)
    out = F.scaled_dot_product_attention(q4, k4, v4, attn_mask=attn_mask, scale=scale)
    out = out.reshape(*batch, lq, v.shape[-1])
    if allowed is not None:
        anyone = allowed.expand(*batch, lq, lk).any(dim=-1, keepdim=True)
        out = torch.where(anyone, out, torch.zeros_like(out))
    return out


def mha_from_weights(state: dict[str, torch.Tensor], x: torch.Tensor, n_heads: int,
                     mask: torch.Tensor | None = None, is_causal: bool = False) -> torch.Tensor:
    """Self-attention through `nn.MultiheadAttention` with q/k/v/out weights copied in."""
    batch, length, d_model = x.shape
    bias = "q_proj.bias" in state
    ref = nn.MultiheadAttention(d_model, n_heads, bias=bias, batch_first=True, dtype=x.dtype, device=x.device)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([state[f"{p}.weight"] for p in ("q_proj", "k_proj", "v_proj")]))
        ref.out_proj.weight.copy_(state["out_proj.weight"])
        if bias:
            ref.in_proj_bias.copy_(torch.cat([state[f"{p}.bias"] for p in ("q_proj", "k_proj", "v_proj")]))
            ref.out_proj.bias.copy_(state["out_proj.bias"])
    allowed = allowed_keys(length, length, mask, is_causal, x.device)
    attn_mask = None
    if allowed is not None:
        # nn.MultiheadAttention's bool mask means *masked* (True = may NOT attend): invert.
        attn_mask = ~allowed.expand(batch, n_heads, length, length).reshape(batch * n_heads, length, length)
    out, _ = ref(x, x, x, attn_mask=attn_mask, need_weights=False)
    return out
