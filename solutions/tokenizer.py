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
        # BEGIN SOLUTION
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256 (one id per byte), got {vocab_size}")
        self.merges = {}
        ids = list(text.encode("utf-8"))
        n = len(ids)
        # The sequence as a doubly linked list over positions, so that a merge is O(1):
        # position j merged into its left neighbour i is unlinked and marked dead (-1).
        nxt = list(range(1, n + 1))  # n: no next position
        prv = list(range(-1, n - 1))  # -1: no previous position
        counts: dict[Pair, int] = defaultdict(int)  # pair -> number of adjacent occurrences
        where: dict[Pair, set[int]] = defaultdict(set)  # pair -> its left positions (some stale)
        for i in range(n - 1):
            counts[ids[i], ids[i + 1]] += 1
            where[ids[i], ids[i + 1]].add(i)

        def priority(pair: Pair) -> tuple[int, Pair]:
            """Heap order: the most frequent pair first; among equal counts, the smallest (a, b)."""
            return (-counts[pair], pair)

        # A heap of (priority, pair). Counts change after an entry is pushed: an entry whose
        # count is out of date is re-queued with the current count when it reaches the top.
        heap = [(priority(pair), pair) for pair in counts]
        heapq.heapify(heap)

        for new_id in range(256, vocab_size):
            best = None
            while heap and best is None:
                (neg_count, _), pair = heapq.heappop(heap)
                if counts.get(pair, 0) == -neg_count:
                    best = pair
                elif counts.get(pair, 0) > 0:
                    heapq.heappush(heap, (priority(pair), pair))
            if best is None:
                break  # no pair left: the text is a single token
            self.merges[best] = new_id
            a, b = best
            grown: set[Pair] = set()  # pairs whose count went up this round
            for i in sorted(where.pop(best)):  # left to right
                j = nxt[i]
                if ids[i] != a or j >= n or ids[j] != b:
                    continue  # stale: an earlier merge (say, in a run "aaa") took this one
                p, q = prv[i], nxt[j]
                # Only the pairs touching i and j change: (x, a) -> (x, new), (b, y) -> (new, y).
                if p >= 0:
                    x = ids[p]
                    counts[x, a] -= 1
                    counts[x, new_id] += 1
                    where[x, new_id].add(p)
                    grown.add((x, new_id))
                if q < n:
                    y = ids[q]
                    counts[b, y] -= 1
                    counts[new_id, y] += 1
                    where[new_id, y].add(i)
                    grown.add((new_id, y))
                ids[i], ids[j] = new_id, -1  # j joins i
                nxt[i] = q
                if q < n:
                    prv[q] = i
            del counts[best]
            for pair in grown:
                if counts[pair] > 0:
                    heapq.heappush(heap, (priority(pair), pair))
        # END SOLUTION

    def encode(self, text: str) -> list[int]:
        """text -> ids: its UTF-8 bytes, then every merge applied in the order it was learned.

        For each learned pair (a, b) -> new, in order, replace every occurrence of a followed
        by b, left to right and without overlap, by new. Returns a list of Python ints.
        """
        # BEGIN SOLUTION
        ids = list(text.encode("utf-8"))
        while len(ids) >= 2:
            # The pair present in ids that was learned first. Applying that one everywhere,
            # again and again, is the same as walking the merges in learned order: a pair
            # learned earlier can never reappear, since merging only creates pairs that
            # contain the new id, and those were learned later.
            pair = min(set(zip(ids, ids[1:])), key=lambda p: self.merges.get(p, math.inf))
            if pair not in self.merges:
                break  # nothing left to merge
            new_id = self.merges[pair]
            merged: list[int] = []
            i = 0
            while i < len(ids):  # left to right, without overlap
                if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
                    merged.append(new_id)
                    i += 2
                else:
                    merged.append(ids[i])
                    i += 1
            ids = merged
        return ids
        # END SOLUTION

    def decode(self, ids: list[int]) -> str:
        """ids -> text: concatenate each id's bytes and decode them as UTF-8.

        Id b < 256 is the byte b; a merged id is its pair's bytes joined (left then right).
        Bytes that are not valid UTF-8 (say, half of a multi-byte character) become the
        replacement character U+FFFD instead of raising: bytes.decode(..., errors="replace").
        """
        # BEGIN SOLUTION
        vocab = {i: bytes([i]) for i in range(256)}
        for (a, b), new_id in self.merges.items():  # a pair's parts always come first
            vocab[new_id] = vocab[a] + vocab[b]
        return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")
        # END SOLUTION
