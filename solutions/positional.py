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
    # BEGIN SOLUTION
    if d_model % 2 != 0:
        raise ValueError(f"d_model must be even (columns come in sin/cos pairs), got {d_model}")
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # 2i for i = 0 .. d_model/2 - 1
    inv_freq = base ** (-two_i / d_model)  # (d_model/2,): 1 / base**(2i/d_model)
    angles = torch.arange(seq_len, dtype=torch.float64)[:, None] * inv_freq[None, :]  # (L, d_model/2)
    pe = torch.empty(seq_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)  # even columns
    pe[:, 1::2] = torch.cos(angles)  # odd columns
    return pe.to(torch.float32)  # computed in float64 so long tables stay accurate
    # END SOLUTION


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
    # BEGIN SOLUTION
    if head_dim % 2 != 0:
        raise ValueError(f"head_dim must be even (dims rotate in pairs), got {head_dim}")
    exponents = torch.arange(0, head_dim, 2, dtype=torch.float64, device=positions.device) / head_dim  # 2i/hd
    inv_freq = base ** -exponents  # (hd/2,)
    angles = positions.to(torch.float64)[:, None] * inv_freq[None, :]  # (L, hd/2)
    emb = torch.cat([angles, angles], dim=-1)  # (L, hd): the two halves share frequencies
    return emb.cos().to(torch.float32), emb.sin().to(torch.float32)
    # END SOLUTION


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """cat([-x2, x1], -1), where x1 and x2 are the first and second halves of the last dim.

    Pairing dim i with dim i + hd/2, this is a 90-degree rotation of every (x1[i], x2[i]) pair:
    (a, b) -> (-b, a).
    """
    # BEGIN SOLUTION
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([-x2, x1], dim=-1)
    # END SOLUTION


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate queries or keys by their positions' angles.

    x: (..., L, head_dim); cos, sin: (L, head_dim) from `rope_cos_sin` (they broadcast).
        out = x * cos + rotate_half(x) * sin
    i.e. each pair (x[i], x[i + hd/2]) is rotated by angle[l, i]. Rotations preserve norms, and
    <apply_rope(q at m), apply_rope(k at n)> depends only on m - n: that is the point of RoPE.

    Returns: the same shape as x and x's dtype (even when cos/sin are float32 and x is not).
    """
    # BEGIN SOLUTION
    out = x * cos + rotate_half(x) * sin
    return out.to(x.dtype)  # float16 x times float32 cos promotes to float32: cast back
    # END SOLUTION


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """The per-head slopes of ALiBi ("Train Short, Test Long"), as the authors' code computes them.

    For a power of two n: slope[h] = 2**(-8 * (h + 1) / n), a geometric sequence from 2**(-8/n)
    down to 2**-8. For any other n: let m be the largest power of two below n; take the m slopes
    for m, then the slopes for 2m at the even indices 0, 2, 4, ..., keeping the first n - m.

    Returns: (n_heads,) float tensor.
    """
    # BEGIN SOLUTION
    def power_of_two_slopes(n: int) -> list[float]:
        return [2 ** (-8 * (h + 1) / n) for h in range(n)]

    m = 1 << (n_heads.bit_length() - 1)  # the largest power of two <= n_heads
    slopes = power_of_two_slopes(m)
    if m < n_heads:  # interpolate: every other slope of the next power of two
        slopes += power_of_two_slopes(2 * m)[0::2][: n_heads - m]
    return torch.tensor(slopes, dtype=torch.float32)
    # END SOLUTION


def alibi_bias(n_heads: int, q_len: int, k_len: int) -> torch.Tensor:
    """The ALiBi attention bias, added to the scores q @ k^T before the softmax.

    Query i's own position is key i + (k_len - q_len) (bottom-right aligned, as in a KV cache):
        bias[h, i, j] = slope[h] * (j - (i + k_len - q_len))
    zero on that diagonal, negative for keys further in the past (and positive for future keys,
    which causal masking removes anyway).

    Returns: (n_heads, q_len, k_len) float tensor.
    """
    # BEGIN SOLUTION
    i = torch.arange(q_len)[:, None]  # (q_len, 1)
    j = torch.arange(k_len)[None, :]  # (1, k_len)
    distance = j - (i + k_len - q_len)  # (q_len, k_len): 0 on the bottom-right diagonal
    return alibi_slopes(n_heads)[:, None, None] * distance  # (H, q_len, k_len)
    # END SOLUTION
