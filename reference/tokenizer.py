"""Oracle for `tokenizer`: the naive byte-level BPE trainer, vectorised with numpy.

Written independently of solutions/: every round recounts every adjacent pair of the whole
sequence from scratch (np.bincount over pair codes a * base + b) and rebuilds the sequence
with boolean masks. The counting is the one minbpe, tiktoken's educational trainer and
HF `tokenizers` use: every adjacent position counts, so "aaa" holds (a, a) twice.
"""

from __future__ import annotations

import numpy as np

Pair = tuple[int, int]


def _replace(ids: np.ndarray, pair: Pair, new_id: int) -> np.ndarray:
    """Every occurrence of `pair` in `ids` -> `new_id`, left to right, without overlap."""
    a, b = pair
    if ids.size < 2:
        return ids
    hit = (ids[:-1] == a) & (ids[1:] == b)  # hit[i]: the pair starts at position i
    if a == b:
        # Hits overlap only inside runs a a a ...: of a run of consecutive hits starting at
        # s, the scan left to right takes s, s + 2, s + 4, ...
        index = np.arange(hit.size)
        starts = hit & ~np.concatenate([[False], hit[:-1]])
        run_start = np.maximum.accumulate(np.where(starts, index, 0))
        hit &= (index - run_start) % 2 == 0
    out = ids.copy()
    out[:-1][hit] = new_id
    keep = np.ones(ids.size, dtype=bool)
    keep[1:][hit] = False  # the right half of each taken occurrence disappears
    return out[keep]


def train_merges(text: str, vocab_size: int) -> dict[Pair, int]:
    """The merges the contract's trainer learns: most frequent pair, ties -> smallest (a, b)."""
    if vocab_size < 256:
        raise ValueError("vocab_size < 256")
    ids = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)
    base = vocab_size
    merges: dict[Pair, int] = {}
    for new_id in range(256, vocab_size):
        if ids.size < 2:
            break
        counts = np.bincount(ids[:-1] * base + ids[1:], minlength=base * base)
        best = int(np.argmax(counts))  # the first maximum: the smallest code, i.e. smallest (a, b)
        pair = (best // base, best % base)
        merges[pair] = new_id
        ids = _replace(ids, pair, new_id)
    return merges


def encode(text: str, merges: dict[Pair, int]) -> list[int]:
    """Apply the merges to the text's bytes, one after another in the order they were learned."""
    ids = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)
    for pair, new_id in sorted(merges.items(), key=lambda item: item[1]):
        ids = _replace(ids, pair, new_id)
    return [int(i) for i in ids]


def decode(ids: list[int], merges: dict[Pair, int]) -> str:
    """The ids' bytes, each merged id expanded recursively into its two parts."""
    parts = {new_id: pair for pair, new_id in merges.items()}

    def expand(i: int) -> bytes:
        return bytes([i]) if i < 256 else expand(parts[i][0]) + expand(parts[i][1])

    return b"".join(expand(i) for i in ids).decode("utf-8", errors="replace")
