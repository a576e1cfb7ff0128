"""Oracles for `positional`, each the paper's formula written another way (never solutions/).

- sinusoidal: the `exp(-ln(base) * 2i / d)` frequency form of "The Annotated Transformer", with
  cos written as a phase-shifted sin: PE[p, j] = sin(p * w_{j//2} + (j % 2) * pi/2).
- RoPE: the rotation as complex multiplication, (x1 + i x2) * e^{i angle} in the half-split
  layout, in float64.
- ALiBi: the slopes by the recursion in the ALiBi authors' code
  (ofirpress/attention_with_linear_biases, fairseq/models/transformer.py, `get_slopes`).
"""

from __future__ import annotations

import math

import torch


def sinusoidal(seq_len: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """(seq_len, d_model) float32, computed in float64."""
    j = torch.arange(d_model, dtype=torch.float64)
    freq = torch.exp(-math.log(base) * 2 * torch.div(j, 2, rounding_mode="floor") / d_model)  # w_{j//2}
    phase = (j % 2) * (math.pi / 2)  # cos(a) = sin(a + pi/2)
    p = torch.arange(seq_len, dtype=torch.float64)[:, None]
    return torch.sin(p * freq[None, :] + phase[None, :]).to(torch.float32)


def rope_angles(positions: torch.Tensor, head_dim: int, base: float = 10000.0) -> torch.Tensor:
    """angles[l, i] = positions[l] / base**(2i / head_dim): (L, head_dim/2) float64."""
    i = torch.arange(head_dim // 2, dtype=torch.float64)
    return torch.outer(positions.to(torch.float64), 1.0 / base ** (2 * i / head_dim))


def rope_tables(angles: torch.Tensor, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """(cos, sin), each (L, head_dim) in the half-split layout: every angle appears at i and i + hd/2."""
    return (torch.cos(angles).repeat(1, 2).to(dtype), torch.sin(angles).repeat(1, 2).to(dtype))


def rope_rotate(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate x (..., L, hd) by angles (L, hd/2): pair (x[i], x[i + hd/2]) is the complex number
    x[i] + 1j * x[i + hd/2], multiplied by exp(1j * angle). Returns x's dtype."""
    half = x.shape[-1] // 2
    z = torch.complex(x[..., :half].double(), x[..., half:].double())
    z = z * torch.polar(torch.ones_like(angles), angles)
    return torch.cat([z.real, z.imag], dim=-1).to(x.dtype)


def get_slopes(n: int) -> list[float]:
    """ALiBi's slopes, as in the authors' code (ported verbatim, with its comment)."""
    def get_slopes_power_of_2(n: int) -> list[float]:
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        ratio = start
        return [start * ratio**i for i in range(n)]

    if math.log2(n).is_integer():
        return get_slopes_power_of_2(n)
    # "In the paper, we only train models that have 2^a heads for some a. This function has some
    # good properties that only occur when the input is a power of 2. To maintain that even when
    # the number of heads is not a power of 2, we use this workaround."
    closest_power_of_2 = 2 ** math.floor(math.log2(n))
    return (get_slopes_power_of_2(closest_power_of_2)
            + get_slopes(2 * closest_power_of_2)[0::2][: n - closest_power_of_2])


def alibi(n_heads: int, q_len: int, k_len: int) -> torch.Tensor:
    """(n_heads, q_len, k_len) float64: slope * (key position - the query's absolute position)."""
    slopes = torch.tensor(get_slopes(n_heads), dtype=torch.float64)
    query_pos = torch.arange(k_len - q_len, k_len, dtype=torch.float64)  # queries are the last q_len keys
    key_pos = torch.arange(k_len, dtype=torch.float64)
    return slopes.view(-1, 1, 1) * (key_pos.view(1, 1, -1) - query_pos.view(1, -1, 1))
