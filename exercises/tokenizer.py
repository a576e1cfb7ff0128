"""A byte-level BPE tokenizer from scratch: train merges on UTF-8 bytes, encode, decode.

Ids 0..255 are the raw bytes; merge number r (0-based) creates id 256 + r. No regex
pre-tokenization: the whole text is one byte sequence, so merges may cross spaces.
Contract: ../shared/exercise-contract.md, section 11.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict

Pair = tuple[int, int]


class BPETokenizer:
    """Byte-pair encoding (Sennrich et al., 2016) over UTF-8 bytes, as in GPT-2 / minbpe.

    `merges` maps each learned pair of ids to its new id, in the order learned (a dict
    keeps insertion order): {(a, b): 256, (c, d): 257, ...}.
    """

    def __init__(self) -> None:
        self.merges: dict[Pair, int] = {}

    def train(self, text: str, vocab_size: int) -> None:
        """Learn `vocab_size - 256` merges from `text` (fewer if the text runs out of pairs).

        Start from ids = list(text.encode("utf-8")). Each round:
          1. count every adjacent pair (ids[i], ids[i + 1]), overlapping ones included:
             "aaa" holds the pair (a, a) twice;
          2. take the most frequent pair; among equally frequent ones the smallest (a, b),
             compared as tuples;
          3. replace its occurrences left to right, without overlap ("aaa" -> [X, a]), by
             the new id 256 + round, and record merges[(a, b)] = 256 + round.
        Stop early when no pair is left (a text of one token). Replaces any earlier merges.
        Raises ValueError if vocab_size < 256 (the 256 byte ids always exist).

        Recounting every pair each round costs O(len(text)) per merge: simple, and fast enough
        for the tests. Faster (a 4096-token vocabulary on all of tinyshakespeare in seconds):
        keep the counts up to date, since a merge only changes the pairs that touch the merged
        positions, so each round costs about the number of occurrences it merges.
        """
        raise NotImplementedError("tokenizer.BPETokenizer.train: not implemented yet (the docstring says what to compute)")

    def encode(self, text: str) -> list[int]:
        """text -> ids: its UTF-8 bytes, then every merge applied in the order it was learned.

        For each learned pair (a, b) -> new, in order, replace every occurrence of a followed
        by b, left to right and without overlap, by new. Returns a list of Python ints.
        """
        raise NotImplementedError("tokenizer.BPETokenizer.encode: not implemented yet (the docstring says what to compute)")

    def decode(self, ids: list[int]) -> str:
        """ids -> text: concatenate each id's bytes and decode them as UTF-8.

        Id b < 256 is the byte b; a merged id is its pair's bytes joined (left then right).
        Bytes that are not valid UTF-8 (say, half of a multi-byte character) become the
        replacement character U+FFFD instead of raising: bytes.decode(..., errors="replace").
        """
        raise NotImplementedError("tokenizer.BPETokenizer.decode: not implemented yet (the docstring says what to compute)")
