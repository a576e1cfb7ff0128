"""Benchmarks for `kv_cache`: decoding one position at a time, with and without the cache.

The learner's `CachedCausalSelfAttention` (d_model=128, 4 heads: the default GPTConfig's)
decodes 256 positions one by one, for one sequence. With a `KVCache` each step projects one position and
attends over the cache; without one, each step recomputes causal attention over the whole
sequence so far and keeps the last position. Both are the learner's code, so the ratio is
cached / uncached time: the cache's speed-up is its inverse. (The whole model's decoding,
`GPT.generate(use_cache=True/False)`, is in the transformer benchmark.)
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from mlkata.bench.framework import Context, Row, randn

EXERCISE = "kv_cache"


def cases(ctx: Context) -> Iterator[Row]:
    ex = ctx.load(EXERCISE)
    d_model, heads, steps = (32, 2, 16) if ctx.quick else (128, 4, 256)
    dev = ctx.device
    for batch in (1,):  # one sequence, as in the GPT's generate (B=8 costs 10 s more uncached)
        x = randn(batch, steps, d_model, device=dev, seed=0)  # the input of each position

        def make(cached: bool):
            def build():
                torch.manual_seed(0)
                attn = ex.CachedCausalSelfAttention(d_model, heads).to(dev).eval()

                def decode_cached() -> torch.Tensor:
                    cache = ex.KVCache(batch, heads, steps, d_model // heads, device=dev)  # noqa: B023
                    return torch.cat([attn(x[:, t:t + 1], cache) for t in range(steps)], dim=1)  # noqa: B023

                def decode_uncached() -> torch.Tensor:
                    return torch.cat([attn(x[:, :t + 1])[:, -1:] for t in range(steps)], dim=1)  # noqa: B023

                return decode_cached if cached else decode_uncached
            return build

        row = ctx.compare(EXERCISE, "CachedCausalSelfAttention, one position per step, with a KVCache",
                          f"B={batch} d_model={d_model} heads={heads}, {steps} steps",
                          make(True), make(False), baseline="your CachedCausalSelfAttention without a cache",
                          work=steps * steps, baseline_file=ctx.file_of(EXERCISE))
        add_throughput(row, batch * steps)
        yield row
        del x


def add_throughput(row: Row, tokens: int) -> None:
    """Tokens per second on both sides, and the speed-up (uncached time / cached time)."""
    if row.mine is not None:
        row.extra["tokens_per_s"] = tokens / row.mine.median_s
    if row.theirs is not None:
        row.extra["baseline_tokens_per_s"] = tokens / row.theirs.median_s
    if row.ratio:
        row.extra["speedup"] = 1 / row.ratio
        speedup = row.extra["speedup"]
        verdict = f"{speedup:.1f}x faster" if speedup >= 1 else f"{1 / speedup:.1f}x slower"
        row.notes.append(f"{row.extra['tokens_per_s']:,.0f} tokens/s with the cache, "
                         f"{row.extra['baseline_tokens_per_s']:,.0f} without: {verdict}")
