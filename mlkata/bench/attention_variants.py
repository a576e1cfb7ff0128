"""Benchmarks for `attention_variants`: tiled flash attention, time and peak memory.

flash_attention (default tiles, block_q = block_k = 64) is compared with torch's SDPA and with
the learner's own `scaled_dot_product_attention` (from their attention exercise) at
L in 512, 2048, 8192, D=64: B=1, H=4 on the CPU (a Python loop over 64 x 64 tiles is slow
there), B=8, H=8 on CUDA. The point is memory: naive attention allocates several (B, H, L, L)
tensors, flash attention only O(B * H * (L * D + block_q * block_k)), so its peak grows
linearly in L. A naive SDPA whose estimated peak would not fit in memory is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch.nn.functional as F

from mlkata.bench.framework import Context, Row, Skip, bound, randn
from mlkata.loader import LearnerCodeError

EXERCISE = "attention_variants"
FLOAT = 4


def sizes(ctx: Context) -> tuple[int, int, int, list[int]]:
    """(B, H, D, lengths)."""
    if ctx.quick:
        return 1, 2, 16, [64, 256]
    if ctx.device.startswith("cuda"):
        return 8, 8, 64, [512, 2048, 8192]
    return 1, 4, 64, [512, 2048, 8192]


def cases(ctx: Context) -> Iterator[Row]:
    ex = ctx.load(EXERCISE)
    batch, heads, dim, lengths = sizes(ctx)
    dev = ctx.device

    def your_sdpa():  # the learner's attention exercise; if it does not load, that row says so
        try:
            return ctx.load("attention").scaled_dot_product_attention
        except Skip as err:
            raise LearnerCodeError(f"your attention exercise: {err}") from None

    for baseline, get_baseline, baseline_file in (
        ("F.scaled_dot_product_attention", lambda: F.scaled_dot_product_attention, None),
        ("your scaled_dot_product_attention", your_sdpa, ctx.file_of("attention")),
    ):
        for length in lengths:
            q, k, v = (randn(batch, heads, length, dim, device=dev, seed=s) for s in range(3))
            scores = batch * heads * length * length * FLOAT  # bytes of one (B, H, L, L) tensor
            naive = baseline.startswith("your")
            yield ctx.compare(EXERCISE, "flash_attention", f"B={batch} H={heads} L={length} D={dim}",
                              bound(lambda: ex.flash_attention, q, k, v),
                              bound(get_baseline, q, k, v),  # noqa: B023 - used before the loop moves on
                              baseline=baseline, work=batch * heads * length * length * dim,
                              theirs_bytes=4 * scores if naive else None, baseline_file=baseline_file)
            del q, k, v
