"""Benchmarks for `sampling`: top-k and top-p filtering, and drawing one token.

Torch has no top-p filter, so each baseline is the usual torch-ops recipe, written here:
`torch.topk` then `masked_fill` for top-k; `sort`, `cumsum` and `scatter` for top-p (as in
Hugging Face's TopPLogitsWarper, with the contract's "mass strictly before" rule); temperature,
both filters, `softmax` and `torch.multinomial` for sampling. Logits are (B, V) with GPT-2's
vocabulary, V = 50,257, for one sequence and for a batch of 64.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from mlkata.bench.framework import Context, Row, bound, randn

EXERCISE = "sampling"
TOP_K, TOP_P, TEMPERATURE = 50, 0.9, 0.8


def torch_top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    kth = torch.topk(logits, min(k, logits.shape[-1]), dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def torch_top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    keep_sorted = probs.cumsum(dim=-1) - probs < p
    keep = keep_sorted.scatter(-1, order, keep_sorted)
    return logits.masked_fill(~keep, float("-inf"))


def torch_sample(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    filtered = torch_top_p(torch_top_k(logits / TEMPERATURE, TOP_K), TOP_P)
    return torch.multinomial(filtered.softmax(dim=-1), 1, generator=generator).squeeze(-1)


def cases(ctx: Context) -> Iterator[Row]:
    ex = ctx.load(EXERCISE)
    shapes = [(2, 100)] if ctx.quick else [(1, 50257), (64, 50257)]
    dev = ctx.device
    for name, mine, theirs, baseline in (
        ("top_k_filter", lambda: ex.top_k_filter, torch_top_k, "torch.topk + masked_fill"),
        ("top_p_filter", lambda: ex.top_p_filter, torch_top_p, "sort + cumsum + scatter"),
    ):
        arg = TOP_K if name == "top_k_filter" else TOP_P
        for batch, vocab in shapes:
            logits = randn(batch, vocab, device=dev, seed=0).mul_(3)
            yield ctx.compare(EXERCISE, name, f"logits ({batch}, {vocab:,})", bound(mine, logits, arg),
                              bound(lambda: theirs, logits, arg),  # noqa: B023 - used before the loop moves on
                              baseline=baseline, work=batch * vocab)

    for batch, vocab in shapes:
        logits = randn(batch, vocab, device=dev, seed=0).mul_(3)
        gen = torch.Generator(device=dev).manual_seed(0)
        yield ctx.compare(EXERCISE, f"sample_next_token(temperature={TEMPERATURE}, top_k={TOP_K}, top_p={TOP_P})",
                          f"logits ({batch}, {vocab:,})",
                          bound(lambda: ex.sample_next_token, logits, TEMPERATURE, TOP_K, TOP_P, generator=gen),
                          bound(lambda: torch_sample, logits, gen), baseline="the same steps in torch ops",
                          work=batch * vocab, check=False)  # random draws: not compared
