"""Oracles for `transformer`: an independent GPT written with torch built-ins
(`nn.LayerNorm`, `F.rms_norm`, `F.gelu(approximate="tanh")`, `F.scaled_dot_product_attention`)
that runs on a learner's `state_dict`, read by the contract's parameter names.

Never built on solutions/. Tied weights: `lm_head.weight` is read under its own name, so the
oracle un-embeds with whatever matrix the learner's head holds (tying is checked separately).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

State = dict[str, torch.Tensor]


def layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, eps: float = 1e-5) -> torch.Tensor:
    """torch.nn.LayerNorm with these parameters (bias None = no bias)."""
    d = x.shape[-1]
    ref = nn.LayerNorm(d, eps=eps, bias=bias is not None, dtype=x.dtype, device=x.device)
    with torch.no_grad():
        ref.weight.copy_(weight)
        if bias is not None:
            ref.bias.copy_(bias)
    return ref(x)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """torch's RMSNorm: x / sqrt(mean(x**2) + eps) * weight."""
    return F.rms_norm(x, (x.shape[-1],), weight, eps)


def _linear(state: State, name: str, x: torch.Tensor) -> torch.Tensor:
    return F.linear(x, state[f"{name}.weight"], state.get(f"{name}.bias"))


def _norm(state: State, name: str, x: torch.Tensor) -> torch.Tensor:
    return layer_norm(x, state[f"{name}.weight"], state.get(f"{name}.bias"))


def feed_forward(state: State, x: torch.Tensor, prefix: str = "") -> torch.Tensor:
    """proj(gelu_tanh(fc(x))) with the weights `{prefix}fc.*`, `{prefix}proj.*`."""
    return _linear(state, prefix + "proj", F.gelu(_linear(state, prefix + "fc", x), approximate="tanh"))


def causal_attention(state: State, x: torch.Tensor, n_head: int, prefix: str = "") -> torch.Tensor:
    """Causal self-attention over the whole of x (B, T, C) with `{prefix}q_proj.*` etc.

    Lq == Lk, so torch's is_causal (top-left) equals the contract's bottom-right masking.
    """
    batch, length, d_model = x.shape
    q, k, v = (_linear(state, prefix + p, x).reshape(batch, length, n_head, d_model // n_head).permute(0, 2, 1, 3)
               for p in ("q_proj", "k_proj", "v_proj"))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return _linear(state, prefix + "out_proj", out.permute(0, 2, 1, 3).reshape(batch, length, d_model))


def block(state: State, x: torch.Tensor, n_head: int, prefix: str = "") -> torch.Tensor:
    """Pre-norm: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""
    x = x + causal_attention(state, _norm(state, prefix + "ln_1", x), n_head, prefix + "attn.")
    return x + feed_forward(state, _norm(state, prefix + "ln_2", x), prefix + "mlp.")


def gpt_logits(state: State, idx: torch.Tensor, n_head: int) -> torch.Tensor:
    """The logits (B, T, V) of a GPT for token ids idx (B, T), positions 0..T-1."""
    n_layer = len({key.split(".")[1] for key in state if key.startswith("blocks.")})
    positions = torch.arange(idx.shape[1], device=idx.device)
    x = F.embedding(idx, state["tok_emb.weight"]) + F.embedding(positions, state["pos_emb.weight"])
    for i in range(n_layer):
        x = block(state, x, n_head, f"blocks.{i}.")
    return F.linear(_norm(state, "ln_f", x), state["lm_head.weight"])


def greedy_generate(state: State, idx: torch.Tensor, max_new_tokens: int, n_head: int) -> torch.Tensor:
    """Argmax decoding without a cache; the model sees at most its last block_size tokens."""
    block_size = state["pos_emb.weight"].shape[0]
    for _ in range(max_new_tokens):
        logits = gpt_logits(state, idx[:, -block_size:], n_head)[:, -1]
        idx = torch.cat([idx, logits.argmax(dim=-1, keepdim=True)], dim=1)
    return idx
