"""Decoding a language model: greedy decoding, temperature, top-k and top-p (nucleus) sampling.

`model` is any callable mapping token ids (B, T) int64 to logits (B, T, V): position t's logits
score the token that comes after ids[:, t]. Shapes: `B` batch, `T` length so far, `V` vocabulary.
Contract: ../shared/exercise-contract.md, section 4.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Model = Callable[[torch.Tensor], torch.Tensor]


def greedy_decode(model: Model, prompt: torch.Tensor, max_new_tokens: int,
                  eos_id: int | None = None) -> torch.Tensor:
    """Append the most likely next token, one step at a time.

    prompt: (B, T) int64. Each step calls model on the whole sequence so far, takes the logits
    of the last position, (B, V), and appends their argmax to every row.
    With eos_id: once a row has produced eos_id, every later token of that row is eos_id
    (padding), and decoding stops as soon as every row has produced it. A prompt that
    contains eos_id does not count: only generated tokens finish a row.

    Returns: (B, T + n) int64, n = max_new_tokens unless every row finished earlier.
    """
    # BEGIN SOLUTION
    seq = prompt
    finished = torch.zeros(prompt.shape[0], dtype=torch.bool, device=prompt.device)
    for _ in range(max_new_tokens):
        logits = model(seq)[:, -1, :]  # (B, V): the last position predicts the next token
        next_token = logits.argmax(dim=-1)  # (B,)
        if eos_id is not None:
            next_token = torch.where(finished, torch.full_like(next_token, eos_id), next_token)  # pad
            finished = finished | (next_token == eos_id)
        seq = torch.cat([seq, next_token[:, None]], dim=1)
        if eos_id is not None and bool(finished.all()):
            break  # every row is done: stop early
    return seq
    # END SOLUTION


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep each row's k largest logits; set the rest to -inf.

    logits: (B, V). An entry strictly below the k-th largest value of its row becomes -inf;
    entries tied with the k-th largest are kept (so more than k may survive). k >= V keeps
    everything. The input is not modified.

    Returns: (B, V), same dtype. Raises ValueError for k < 1.
    """
    # BEGIN SOLUTION
    if k < 1:
        raise ValueError(f"top-k needs k >= 1, got {k}")
    k = min(k, logits.shape[-1])  # k >= V keeps everything
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]  # (B, 1)
    return logits.masked_fill(logits < kth_largest, float("-inf"))  # ties with the k-th survive
    # END SOLUTION


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering: keep the smallest set of most likely tokens whose probability reaches p.

    logits: (B, V). Sort each row's probabilities softmax(logits) in descending order; a token is
    kept iff the total probability of the tokens ranked strictly before it is < p. The top token
    (nothing before it) is always kept. The others become -inf. p = 1 keeps every token.

    Returns: (B, V), same dtype. Raises ValueError unless 0 < p <= 1.
    """
    # BEGIN SOLUTION
    if not 0 < p <= 1:
        raise ValueError(f"top-p needs 0 < p <= 1, got {p}")
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs  # strictly before each token: 0 for the top
    keep_sorted = mass_before < p
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)  # back to vocabulary order
    return logits.masked_fill(~keep, float("-inf"))
    # END SOLUTION


def sample_next_token(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                      top_p: float | None = None,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one token per row.

    logits: (B, V). temperature == 0 means greedy: the argmax. Otherwise, in this order:
    divide by temperature (> 1 flattens the distribution, < 1 sharpens it), apply top_k
    filtering, then top_p filtering, then draw from the softmax using `generator`
    (so a seeded generator makes the draw reproducible).

    Returns: (B,) int64. Raises ValueError for a negative temperature.
    """
    # BEGIN SOLUTION
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits / temperature  # first: top-p depends on the temperature-scaled distribution
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)
    # END SOLUTION


def generate(model: Model, prompt: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, eos_id: int | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Like `greedy_decode`, but each new token is drawn with `sample_next_token`.

    prompt: (B, T) int64. Each step calls model on the whole sequence so far and draws the next
    token of every row from the last position's logits with sample_next_token(temperature,
    top_k, top_p, generator). eos_id works as in greedy_decode: padding after a row's eos_id,
    and an early stop once every row has produced it.

    Returns: (B, T + n) int64.
    """
    # BEGIN SOLUTION
    seq = prompt
    finished = torch.zeros(prompt.shape[0], dtype=torch.bool, device=prompt.device)
    for _ in range(max_new_tokens):
        last_logits = model(seq)[:, -1]  # (B, V)
        next_token = sample_next_token(last_logits, temperature=temperature, top_k=top_k, top_p=top_p,
                                       generator=generator)
        if eos_id is not None:
            next_token = next_token.masked_fill(finished, eos_id)  # finished rows only pad
            finished = finished | (next_token == eos_id)
        seq = torch.cat([seq, next_token[:, None]], dim=1)
        if eos_id is not None and bool(finished.all()):
            break
    return seq
    # END SOLUTION
