"""Oracles for `kv_cache`, built on torch's own kernels (never on solutions/).

A cache changes how the outputs are computed, never what they are: chunk by chunk, the
outputs must be the rows of causal self-attention over the whole sequence at once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def causal_self_attention(state: dict[str, torch.Tensor], x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Causal multi-head self-attention over the whole of x (B, L, d_model), with q/k/v/out
    weights taken from `state` (contract names), through F.scaled_dot_product_attention.

    Lq == Lk here, so torch's (top-left) `is_causal` is the contract's bottom-right one.
    """
    batch, length, d_model = x.shape
    hd = d_model // n_heads

    def project(name: str) -> torch.Tensor:
        return F.linear(x, state[f"{name}.weight"], state.get(f"{name}.bias"))

    q, k, v = (project(p).reshape(batch, length, n_heads, hd).permute(0, 2, 1, 3)
               for p in ("q_proj", "k_proj", "v_proj"))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    out = out.permute(0, 2, 1, 3).reshape(batch, length, d_model)
    return F.linear(out, state["out_proj.weight"], state.get("out_proj.bias"))
