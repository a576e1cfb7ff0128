"""Positional encodings: sinusoidal (Vaswani et al., 2017), rotary (RoPE, Su et al., 2021) and
ALiBi (Press et al., 2022).

Shapes: `L` sequence length, `hd` head size (`head_dim`), `H` heads.
Contract: ../shared/exercise-contract.md, section 2.
"""

from __future__ import annotations

import torch


def sinusoidal_positions(seq_len: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The fixed position table of "Attention Is All You Need", sin and cos interleaved.

    For position p < seq_len and frequency index i < d_model / 2:
        PE[p, 2i]   = sin(p / base**(2i / d_model))
        PE[p, 2i+1] = cos(p / base**(2i / d_model))
    so columns 2i and 2i+1 share one angle (interleaved, not [sin..., cos...]).

    Returns: (seq_len, d_model) float32. Raises ValueError for an odd d_model.
    """
    raise NotImplementedError("positional.sinusoidal_positions: not implemented yet (the docstring says what to compute)")


def rope_cos_sin(positions: torch.Tensor, head_dim: int,
                 base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The cos and sin tables of rotary position embeddings, half-split (GPT-NeoX / Llama) layout.

    positions: (L,) integer tensor (any positions, e.g. arange(start, start + L) after a cache).
        inv_freq[i] = base**(-2i / head_dim)               for i < head_dim / 2
        angles[l, i] = positions[l] * inv_freq[i]           (L, head_dim/2)
        cos = cat([cos(angles), cos(angles)], -1)           (L, head_dim)
        sin = cat([sin(angles), sin(angles)], -1)
    Frequency i sits at dims i and i + head_dim/2: those two dims rotate together.

    Returns: (cos, sin), each (L, head_dim) float32 on positions' device.
    Raises ValueError for an odd head_dim.
    """
    raise NotImplementedError("positional.rope_cos_sin: not implemented yet (the docstring says what to compute)")


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """cat([-x2, x1], -1), where x1 and x2 are the first and second halves of the last dim.

    Pairing dim i with dim i + hd/2, this is a 90-degree rotation of every (x1[i], x2[i]) pair:
    (a, b) -> (-b, a).
    """
    raise NotImplementedError("positional.rotate_half: not implemented yet (the docstring says what to compute)")


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate queries or keys by their positions' angles.

    x: (..., L, head_dim); cos, sin: (L, head_dim) from `rope_cos_sin` (they broadcast).
        out = x * cos + rotate_half(x) * sin
    i.e. each pair (x[i], x[i + hd/2]) is rotated by angle[l, i]. Rotations preserve norms, and
    <apply_rope(q at m), apply_rope(k at n)> depends only on m - n: that is the point of RoPE.

    Returns: the same shape as x and x's dtype (even when cos/sin are float32 and x is not).
    """
    raise NotImplementedError("positional.apply_rope: not implemented yet (the docstring says what to compute)")


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """The per-head slopes of ALiBi ("Train Short, Test Long"), as the authors' code computes them.

    For a power of two n: slope[h] = 2**(-8 * (h + 1) / n), a geometric sequence from 2**(-8/n)
    down to 2**-8. For any other n: let m be the largest power of two below n; take the m slopes
    for m, then the slopes for 2m at the even indices 0, 2, 4, ..., keeping the first n - m.

    Returns: (n_heads,) float tensor.
    """
    raise NotImplementedError("positional.alibi_slopes: not implemented yet (the docstring says what to compute)")


def alibi_bias(n_heads: int, q_len: int, k_len: int) -> torch.Tensor:
    """The ALiBi attention bias, added to the scores q @ k^T before the softmax.

    Query i's own position is key i + (k_len - q_len) (bottom-right aligned, as in a KV cache):
        bias[h, i, j] = slope[h] * (j - (i + k_len - q_len))
    zero on that diagonal, negative for keys further in the past (and positive for future keys,
    which causal masking removes anyway).

    Returns: (n_heads, q_len, k_len) float tensor.
    """
    raise NotImplementedError("positional.alibi_bias: not implemented yet (the docstring says what to compute)")
