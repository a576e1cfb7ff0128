"""Checks for attention variants: which input head feeds each output head, and the
tensors an op creates (proof that flash attention never builds the full score matrix)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch


def assert_head_sources(sources: Sequence[int | None], expected: Sequence[int], *, call: str,
                        what: str = "output head h") -> None:
    """Fail unless `sources[h] == expected[h]` for every head; `sources[h]` is the input head
    that output head h turned out to be computed from (None: no input head matches).

    Says so when the heads were tiled (h % n) instead of repeated in place (h // n_rep).
    """
    sources, expected = list(sources), list(expected)
    if sources == expected:
        return
    n_in = max(expected) + 1
    hint = ""
    if sources == [h % n_in for h in range(len(expected))]:
        hint = (f" That is h % {n_in}: the heads were tiled (like .repeat). Each head must be repeated"
                " in place, so consecutive heads share one source (like repeat_interleave).")
    elif None in sources:
        hint = " (None: that head equals no input head; were features of different heads mixed?)"
    raise AssertionError(f"{call}: {what} comes from input heads {sources}; expected {expected}, "
                         f"i.e. head h uses head h // {len(expected) // n_in}.{hint}")


def record_allocations(fn: Callable[[], Any]) -> tuple[Any, list[tuple[str, tuple[int, ...], int]]]:
    """Run `fn()`; return its result and every tensor a torch op created meanwhile, as
    (op name, shape, elements allocated).

    A `TorchDispatchMode` sees each aten op's outputs, so matmuls hidden in einsum, operators
    and factory functions are all seen. Outputs that share storage with one of the op's
    inputs (views, in-place ops) allocate nothing and are skipped; the element count is the
    storage's size, so a broadcast view (`expand`) counts as the small tensor behind it.
    """
    from torch.utils._python_dispatch import TorchDispatchMode  # already loaded by torch
    from torch.utils._pytree import tree_leaves

    records: list[tuple[str, tuple[int, ...], int]] = []

    def storage_ptr(t: torch.Tensor) -> int:
        return t.untyped_storage().data_ptr()

    class Recorder(TorchDispatchMode):
        @classmethod
        def _should_skip_dynamo(cls) -> bool:
            # torch's default wraps __torch_dispatch__ in a dynamo guard whose first call
            # imports torch._dynamo, a second of every grading; nothing here is compiled.
            return False

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            inputs = {storage_ptr(t) for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)}
            for t in tree_leaves(out):
                if isinstance(t, torch.Tensor) and storage_ptr(t) not in inputs:
                    elements = t.untyped_storage().nbytes() // max(t.element_size(), 1)
                    records.append((str(func.overloadpacket.__name__), tuple(t.shape), elements))
            return out

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # under a Python mode, intra-op worker threads queue for the GIL (~ms per op)
    try:
        with Recorder():
            result = fn()
    finally:
        torch.set_num_threads(threads)
    return result, records


def assert_no_full_score_matrix(records: Sequence[tuple[str, tuple[int, ...], int]], lq: int, lk: int, *,
                                call: str) -> None:
    """Fail if any recorded allocation (from `record_allocations`) holds Lq * Lk elements or more:
    tiled attention must never materialise the (Lq, Lk) scores, probabilities or mask."""
    too_big = [r for r in records if r[2] >= lq * lk]
    if not too_big:
        return
    op, shape, elements = max(too_big, key=lambda r: r[2])
    raise AssertionError(
        f"{call} created a tensor of shape {shape} ({elements:,} elements, by torch op `{op}`), as large as "
        f"the whole Lq x Lk = {lq} x {lk} = {lq * lk:,} score matrix. Tiled attention must never hold "
        "all the scores (or probabilities, or a full mask) at once: inside the loop over key tiles compute "
        "only q_tile @ k_tile^T, a (block_q x block_k) tile, and build any causal mask per tile from index "
        "ranges. Computing full attention and slicing it into tiles does not count.")
