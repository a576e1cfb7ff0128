"""Hypothesis strategies, defined once and shared by every exercise's tests.

Tensors are drawn as (shape, seed) and materialised with a seeded torch generator: cheap to
generate, fully reproducible, and hypothesis shrinks the shape and the seed on failure.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from hypothesis import strategies as st

float_dtypes = st.sampled_from([torch.float32, torch.float64])
seeds = st.integers(min_value=0, max_value=2**31 - 1)


def randn(shape: tuple[int, ...], dtype: torch.dtype = torch.float64, seed: int = 0,
          scale: float = 1.0, requires_grad: bool = False) -> torch.Tensor:
    """A standard-normal tensor (times `scale`) determined by `seed`."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=generator, dtype=torch.float64) * scale
    return x.to(dtype).requires_grad_(requires_grad)


def batch_dims(max_dims: int = 2, max_size: int = 3) -> st.SearchStrategy[tuple[int, ...]]:
    """Leading batch dimensions `...`: zero to `max_dims` sizes in 1..max_size."""
    return st.lists(st.integers(1, max_size), max_size=max_dims).map(tuple)


@dataclass(frozen=True)
class AttentionShape:
    batch: tuple[int, ...]
    lq: int
    lk: int
    d: int
    dv: int

    @property
    def q(self) -> tuple[int, ...]:
        return (*self.batch, self.lq, self.d)

    @property
    def k(self) -> tuple[int, ...]:
        return (*self.batch, self.lk, self.d)

    @property
    def v(self) -> tuple[int, ...]:
        return (*self.batch, self.lk, self.dv)


@st.composite
def attention_shapes(draw: st.DrawFn, max_len: int = 9, max_dim: int = 8,
                     same_length: bool = False, same_dim: bool = False) -> AttentionShape:
    """q (..., Lq, D), k (..., Lk, D), v (..., Lk, Dv) with independent Lq/Lk and D/Dv."""
    lq = draw(st.integers(1, max_len))
    lk = lq if same_length else draw(st.integers(1, max_len))
    d = draw(st.integers(1, max_dim))
    dv = d if same_dim else draw(st.integers(1, max_dim))
    return AttentionShape(draw(batch_dims()), lq, lk, d, dv)


@st.composite
def bool_masks(draw: st.DrawFn, shape: AttentionShape) -> torch.Tensor:
    """A bool mask broadcastable to (..., Lq, Lk): some of its dims are 1 (broadcast)."""
    full = (*shape.batch, shape.lq, shape.lk)
    mask_shape = tuple(1 if draw(st.booleans()) else n for n in full)
    keep = draw(st.sampled_from([0.5, 0.8]))
    generator = torch.Generator().manual_seed(draw(seeds))
    return torch.rand(mask_shape, generator=generator) < keep


@st.composite
def module_sizes(draw: st.DrawFn, max_heads: int = 4, max_head_dim: int = 6) -> tuple[int, int]:
    """(d_model, n_heads) with d_model divisible by n_heads."""
    heads = draw(st.integers(1, max_heads))
    return heads * draw(st.integers(1, max_head_dim)), heads
