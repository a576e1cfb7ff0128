"""tokenizer: exact Python values (token ids, strings, merge tables)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tests.helpers.compare import Mismatch, describe


def _first_difference(got: Sequence[Any], want: Sequence[Any]) -> str:
    """`first difference at index 3: got 259, expected 101` for two sequences."""
    for k, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return f"first difference at index {k}: got {g!r}, expected {w!r}"
    return f"the first {min(len(got), len(want))} agree, then one of them stops"


def check_exact(ex: Any, function: str, run: Callable[[Any], Any], expected: Any, *, call: str,
                what: str = "output") -> Any:
    """`run(ex)` must equal `expected` exactly: a list of token ids, or a string.

    Says where a list or string first differs; on a mismatch the grader can repeat `run` on a
    cataloged buggy variant.
    """
    out = run(ex)
    if isinstance(expected, list):
        if not isinstance(out, list):
            raise AssertionError(f"{call} returned {type(out).__name__} ({describe(out)}); expected a list of ints.")
        if out and not all(isinstance(i, int) and not isinstance(i, bool) for i in out):
            odd = next(i for i in out if not isinstance(i, int) or isinstance(i, bool))
            raise AssertionError(f"{call} returned a list holding {type(odd).__name__} ({odd!r}); expected "
                                 "Python ints (use int(...) on tensor or numpy elements).")
    elif isinstance(expected, str) and not isinstance(out, str):
        raise AssertionError(f"{call} returned {type(out).__name__} ({describe(out)}); expected a str.")
    if out == expected:
        return out
    summary = _first_difference(out, expected)
    if isinstance(expected, (list, str)) and len(out) != len(expected):
        summary = f"{len(out)} items, expected {len(expected)}; {summary}"
    raise Mismatch(f"{call}: the {what} differs from the reference ({summary}).", function=function,
                   actual=out, rerun=run)


def _pair_counts(text: str, merges: Sequence[tuple[tuple[int, int], int]]) -> dict[tuple[int, int], int]:
    """Adjacent-pair counts of `text`'s bytes after applying `merges` (in order)."""
    from collections import Counter

    ids = list(text.encode("utf-8"))
    for (a, b), new_id in merges:
        merged, i = [], 0
        while i < len(ids):
            if i + 1 < len(ids) and ids[i] == a and ids[i + 1] == b:
                merged.append(new_id)
                i += 2
            else:
                merged.append(ids[i])
                i += 1
        ids = merged
    return Counter(zip(ids, ids[1:]))


def _token_bytes(token: int, merges: dict[tuple[int, int], int]) -> bytes:
    parts = {new_id: pair for pair, new_id in merges.items()}
    if token < 256 or token not in parts:
        return bytes([token]) if 0 <= token < 256 else b"?"
    a, b = parts[token]
    return _token_bytes(a, merges) + _token_bytes(b, merges)


def check_merges(ex: Any, run: Callable[[Any], Any], expected: dict[tuple[int, int], int], text: str, *,
                 call: str) -> None:
    """The merges `run(ex)` learned on `text` must be exactly `expected` (pair -> new id).

    At the first merge that differs, the message shows both pairs as bytes and how often each
    occurs at that point of training (from replaying the expected merges), so a wrong count, a
    wrong tie rule or a wrong replacement is visible.
    """
    merges = run(ex)
    function = "BPETokenizer.train"
    if not isinstance(merges, dict):
        raise AssertionError(f"{call}: `merges` is {type(merges).__name__} ({describe(merges)}); expected a dict "
                             "mapping (a, b) pairs of ids to new ids.")
    if merges == expected:
        return
    wrong_keys = [k for k in merges if not (isinstance(k, tuple) and len(k) == 2)]
    if wrong_keys:
        raise AssertionError(f"{call}: the keys of `merges` must be (a, b) tuples of ids; found {wrong_keys[0]!r}.")
    got_ids = sorted(merges.values())
    fail = lambda message: Mismatch(f"{call}: {message}", function=function, actual=merges, rerun=run)  # noqa: E731
    if got_ids != list(range(256, 256 + len(got_ids))):
        raise fail(f"the new ids are {got_ids[:5]}{'...' if len(got_ids) > 5 else ''}; they must be 256, 257, "
                   "... in the order the merges are learned (ids 0..255 are the bytes).")
    got_order = sorted(merges.items(), key=lambda item: item[1])
    want_order = sorted(expected.items(), key=lambda item: item[1])
    for r, (got, want) in enumerate(zip(got_order, want_order)):
        if got == want:
            continue
        counts = _pair_counts(text, want_order[:r])
        g, w = got[0], want[0]
        show = lambda pair, table: f"{pair} = {_token_bytes(pair[0], table) + _token_bytes(pair[1], table)!r}"  # noqa: E731
        message = (f"merge {r + 1} (new id {256 + r}) differs, the {r} before it agree. You merged "
                   f"{show(g, merges)}, which occurs {counts.get(g, 0)} times at that point; the reference "
                   f"merged {show(w, expected)}, which occurs {counts.get(w, 0)} times.")
        if counts.get(g, 0) == counts.get(w, 0):
            message += " Equal counts: ties go to the smallest pair (a, b), compared as tuples."
        else:
            message += (" Count every adjacent position (\"aaa\" holds (a, a) twice), replace left to right "
                        "without overlap, and keep the counts in step with each replacement.")
        raise fail(message)
    raise fail(f"learned {len(got_order)} merges; expected {len(want_order)} (vocab_size - 256, or fewer only "
               "when no adjacent pair is left). The ones both learned agree.")
