"""Benchmarks for `tokenizer`: training a byte-level BPE.

Torch has no BPE, so the baseline is the worked solution (solutions/tokenizer.py), which
keeps pair counts up to date incrementally instead of recounting the text every merge.
Training learns a 4,096-token vocabulary (3,840 merges) on data/tinyshakespeare.txt: first
on its first 100,000 characters, then on the whole file (1,115,394 characters). The second
size is skipped when the first predicts more than 20 s; a recount-every-merge implementation
is about merges x text length, hours on the whole file. Peak memory (Python objects,
`tracemalloc`) is measured on the slice only: tracing slows pure-Python code several times.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from mlkata import paths
from mlkata.bench.framework import Context, Row, Skip

EXERCISE = "tokenizer"
CORPUS = paths.ROOT / "data" / "tinyshakespeare.txt"
SLICE = 100_000
VOCAB = 4096


def synthetic_text(n_words: int, seed: int = 0) -> str:
    """A deterministic English-like text for --quick (no data file needed)."""
    words = ["the", "king", "queen", "of", "and", "to", "my", "lord", "thou", "art", "shall", "be", "what",
             "love", "night", "day", "sweet", "death", "fair", "é", "naïve"]
    rng = random.Random(seed)
    return " ".join(rng.choice(words) + ("\n" if rng.random() < 0.1 else "") for _ in range(n_words))




def cases(ctx: Context) -> Iterator[Row]:
    ex = ctx.load(EXERCISE)
    if ctx.quick:
        texts = [("synthetic text, 1,000 words, vocab 300", synthetic_text(1000), 300)]
    else:
        if not CORPUS.is_file():
            raise Skip(f"skipped: {paths.display(CORPUS)} not found (the capstone's corpus)")
        full = CORPUS.read_text(encoding="utf-8")
        texts = [(f"first {SLICE:,} characters of tinyshakespeare, vocab {VOCAB:,}", full[:SLICE], VOCAB),
                 (f"all {len(full):,} characters of tinyshakespeare, vocab {VOCAB:,}", full, VOCAB)]
    solution = ctx.solution(EXERCISE)
    for i, (size, text, vocab) in enumerate(texts):
        def bind(get_class):
            def build():
                cls = get_class()
                return lambda: cls().train(text, vocab)  # noqa: B023
            return build

        # The first size also measures peak memory (tracemalloc slows pure Python down).
        yield ctx.compare(EXERCISE, "BPETokenizer.train", size, bind(lambda: ex.BPETokenizer),
                          bind(lambda: solution.BPETokenizer), baseline="the worked solution",
                          memory="tracemalloc" if i == 0 else None, warmup=False, check=False,
                          work=len(text))
