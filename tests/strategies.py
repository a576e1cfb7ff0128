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


@st.composite
def chunk_sizes(draw: st.DrawFn, total: int) -> list[int]:
    """Positive chunk lengths summing to `total`: how a sequence is fed through a KV cache.

    Either an arbitrary split, or generation's pattern: a prompt chunk, then single tokens.
    """
    if draw(st.booleans()):
        prompt = draw(st.integers(1, total))
        return [prompt] + [1] * (total - prompt)
    cuts = draw(st.sets(st.integers(1, total - 1), max_size=total - 1)) if total > 1 else set()
    bounds = [0, *sorted(cuts), total]
    return [b - a for a, b in zip(bounds, bounds[1:])]


@st.composite
def gpt_config_kwargs(draw: st.DrawFn, max_block: int = 8) -> dict[str, object]:
    """Keyword arguments for a small `GPTConfig` (d_model divisible by n_head, head size >= 2
    so that a shrunk failing example is not degenerate: LayerNorm of one feature is constant)."""
    n_head = draw(st.integers(1, 3))
    return dict(vocab_size=draw(st.integers(2, 13)), block_size=draw(st.integers(1, max_block)),
                n_layer=draw(st.integers(1, 2)), n_head=n_head, d_model=n_head * draw(st.integers(2, 4)),
                dropout=0.0, bias=draw(st.booleans()))


@st.composite
def token_masks(draw: st.DrawFn, batch: int, length: int, nonempty_rows: bool = False) -> torch.Tensor:
    """A bool (batch, length) mask, True = the token counts.

    Either a prompt / completion / padding layout (False..., True..., False...) or scattered
    positions. With `nonempty_rows`, every row counts at least one token.
    """
    generator = torch.Generator().manual_seed(draw(seeds))
    if draw(st.booleans()):  # prompt, then completion, then padding
        starts = torch.randint(0, length, (batch, 1), generator=generator)
        ends = starts + 1 + (torch.rand((batch, 1), generator=generator) * (length - starts)).long()
        positions = torch.arange(length)[None, :]
        mask = (positions >= starts) & (positions < ends)
    else:
        mask = torch.rand((batch, length), generator=generator) < draw(st.sampled_from([0.3, 0.7, 1.0]))
    if nonempty_rows:
        forced = torch.randint(0, length, (batch,), generator=generator)
        mask[torch.arange(batch), forced] = True
    elif not draw(st.booleans()):
        mask[torch.randint(0, batch, (1,), generator=generator)] = False  # sometimes a row counts nothing
    return mask


def log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    """Positive floats spread evenly in log scale between `low` and `high` (for FLOPs, sizes, constants)."""
    import math

    return st.floats(math.log10(low), math.log10(high)).map(lambda e: 10.0 ** e)


@st.composite
def gqa_sizes(draw: st.DrawFn, max_kv_heads: int = 3, max_rep: int = 3,
              max_head_dim: int = 4) -> tuple[int, int, int]:
    """(d_model, n_heads, n_kv_heads) for grouped-query attention: n_heads = n_kv_heads * n_rep,
    d_model = n_heads * head_dim (n_rep = 1 is multi-head, n_kv_heads = 1 multi-query)."""
    n_kv_heads = draw(st.integers(1, max_kv_heads))
    n_heads = n_kv_heads * draw(st.integers(1, max_rep))
    return n_heads * draw(st.integers(1, max_head_dim)), n_heads, n_kv_heads


def randn_np(shape: tuple[int, ...], seed: int = 0, scale: float = 1.0):
    """A float64 standard-normal numpy array (times `scale`) determined by `seed`."""
    import numpy as np

    return np.random.default_rng(seed).standard_normal(shape) * scale


@st.composite
def mlp_sizes(draw: st.DrawFn, min_layers: int = 1, max_layers: int = 3, max_width: int = 6) -> list[int]:
    """`sizes` for an MLP: [in, hidden..., out], each in 1..max_width, with 1..max_layers Linear layers."""
    layers = draw(st.integers(min_layers, max_layers))
    return draw(st.lists(st.integers(1, max_width), min_size=layers + 1, max_size=layers + 1))


def non_contiguous(t: torch.Tensor) -> torch.Tensor:
    """The same values in a transposed (non-contiguous) memory layout.

    Inputs arrive in any layout in real code (q from a transpose, k sliced from a cache):
    `.view` on them fails where `.reshape` works. Tests draw `contiguous=st.booleans()`.
    """
    if t.ndim < 2:
        return t
    out = t.transpose(-1, -2).contiguous().transpose(-1, -2)
    return out.requires_grad_(t.requires_grad) if t.is_leaf else out


@st.composite
def param_shapes(draw: st.DrawFn, max_params: int = 3, max_dims: int = 2, max_size: int = 4) -> list[tuple[int, ...]]:
    """Shapes of 1..max_params parameters: scalars (0-d), vectors and small matrices."""
    n = draw(st.integers(1, max_params))
    return [tuple(draw(st.lists(st.integers(1, max_size), max_size=max_dims))) for _ in range(n)]


# Pieces of text that stress a byte-level tokenizer: multi-byte UTF-8, emoji with skin tones,
# ZWJ sequences and flags, combining marks (decomposed accents), CJK, right-to-left, controls.
UNICODE_PIECES = ["a", " ", "\n", "\r\n", "\t", "\x00", "é", "e\u0301", "n\u0303", "\u0915\u093f", "ß", "Ω",
                  "€", "日本語", "한국어", "עברית", "مرحبا", "👋", "👋🏽", "👩\u200d💻", "🇫🇷", "🏳️\u200d🌈",
                  "\ufeff", "\U0010ffff", "the ", "aaa", "\u0301"]


def unicode_texts(max_size: int = 40) -> st.SearchStrategy[str]:
    """Arbitrary Unicode strings (any code point UTF-8 can encode), or runs of tricky pieces."""
    anything = st.text(max_size=max_size)  # hypothesis leaves out surrogates, which UTF-8 cannot encode
    pieces = st.lists(st.sampled_from(UNICODE_PIECES), max_size=max_size // 2).map("".join)
    return st.one_of(anything, pieces)


def bpe_training_texts(max_size: int = 60) -> st.SearchStrategy[str]:
    """Short texts over tiny alphabets, full of repeats and runs ("aaaa", "abab"), where pair
    counts tie often and merges overlap: what tells BPE trainers apart."""
    alphabet = st.sampled_from(["ab", "aab ", "abc", "a", "xy\n", "aé", "ab👋"])
    return alphabet.flatmap(lambda chars: st.text(alphabet=chars, max_size=max_size))


def even_sizes(max_size: int = 32) -> st.SearchStrategy[int]:
    """Even sizes 2..max_size (d_model, head_dim of positional encodings)."""
    return st.integers(1, max_size // 2).map(lambda half: 2 * half)


@st.composite
def logits_batches(draw: st.DrawFn, max_batch: int = 4, max_vocab: int = 12,
                   dtype: torch.dtype | None = None) -> torch.Tensor:
    """(B, V) logits, float32 or float64, at a random spread (std 0.5 to 4): random, so no two
    entries of a row tie."""
    batch, vocab = draw(st.integers(1, max_batch)), draw(st.integers(1, max_vocab))
    scale = draw(st.sampled_from([0.5, 1.0, 2.0, 4.0]))
    dtype = dtype or draw(st.sampled_from([torch.float32, torch.float64]))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    return (torch.randn(batch, vocab, generator=generator, dtype=torch.float64) * scale).to(dtype)


@st.composite
def token_prompts(draw: st.DrawFn, vocab_size: int, max_batch: int = 3, max_len: int = 5) -> torch.Tensor:
    """(B, T) int64 prompts of tokens in 0..vocab_size-1."""
    batch, length = draw(st.integers(1, max_batch)), draw(st.integers(1, max_len))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    return torch.randint(0, vocab_size, (batch, length), generator=generator)
