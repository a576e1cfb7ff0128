"""Oracles for `sampling`, written independently of solutions/.

- greedy: each row decoded on its own (a plain Python loop), then the rows padded with eos
  to a common length: a different route to the contract's batch semantics.
- top-k: the k-th largest value by `torch.kthvalue`.
- top-p: set-based rather than sort-based: token j's "mass ranked before it" is the total
  probability of the tokens strictly more likely than j (the same thing when no two
  probabilities tie), in float64. Tokens whose mass lies within `margin` of p are reported as
  ambiguous, so the tests accept either decision where float32 rounding could flip it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Model = Callable[[torch.Tensor], torch.Tensor]


def greedy(model: Model, prompt: torch.Tensor, max_new_tokens: int, eos_id: int | None = None) -> torch.Tensor:
    rows: list[list[int]] = []
    for b in range(prompt.shape[0]):
        row = prompt[b].tolist()
        for _ in range(max_new_tokens):
            token = int(model(torch.tensor([row], dtype=torch.int64))[0, -1].argmax())
            row.append(token)
            if token == eos_id:
                break
        rows.append(row)
    length = max(len(r) for r in rows)
    return torch.tensor([r + [eos_id] * (length - len(r)) for r in rows], dtype=torch.int64)


def top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    vocab = logits.shape[-1]
    if k >= vocab:
        return logits.clone()
    kth = torch.kthvalue(logits, vocab - k + 1, dim=-1, keepdim=True).values  # k-th largest
    return torch.where(logits >= kth, logits, torch.full_like(logits, float("-inf")))


def mass_ranked_before(logits: torch.Tensor) -> torch.Tensor:
    """(..., V) float64: for each token, the probability of the tokens strictly more likely."""
    probs = torch.softmax(logits.double(), dim=-1)
    more_likely = probs[..., None, :] > probs[..., :, None]  # [..., j, k]: token k beats token j
    return (more_likely * probs[..., None, :]).sum(-1)


def top_p_keep(logits: torch.Tensor, p: float, margin: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(surely kept, surely dropped) bool masks; tokens in neither are within `margin` of the cut."""
    before = mass_ranked_before(logits)
    return before < p - margin, before >= p + margin


def top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    keep, _ = top_p_keep(logits, p)
    return torch.where(keep, logits, torch.full_like(logits, float("-inf")))


def sampling_probs(logits: torch.Tensor, temperature: float = 1.0, k: int | None = None,
                   p: float | None = None) -> torch.Tensor:
    """float64 probabilities sample_next_token draws from (temperature > 0)."""
    scaled = logits.double() / temperature
    if k is not None:
        scaled = top_k(scaled, k)
    if p is not None:
        scaled = top_p(scaled, p)
    return torch.softmax(scaled, dim=-1)
