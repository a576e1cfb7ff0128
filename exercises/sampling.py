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
    raise NotImplementedError("sampling.greedy_decode: not implemented yet (the docstring says what to compute)")


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep each row's k largest logits; set the rest to -inf.

    logits: (B, V). An entry strictly below the k-th largest value of its row becomes -inf;
    entries tied with the k-th largest are kept (so more than k may survive). k >= V keeps
    everything. The input is not modified.

    Returns: (B, V), same dtype. Raises ValueError for k < 1.
    """
    raise NotImplementedError("sampling.top_k_filter: not implemented yet (the docstring says what to compute)")


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering: keep the smallest set of most likely tokens whose probability reaches p.

    logits: (B, V). Sort each row's probabilities softmax(logits) in descending order; a token is
    kept iff the total probability of the tokens ranked strictly before it is < p. The top token
    (nothing before it) is always kept. The others become -inf. p = 1 keeps every token.

    Returns: (B, V), same dtype. Raises ValueError unless 0 < p <= 1.
    """
    raise NotImplementedError("sampling.top_p_filter: not implemented yet (the docstring says what to compute)")


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
    raise NotImplementedError("sampling.sample_next_token: not implemented yet (the docstring says what to compute)")


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
    raise NotImplementedError("sampling.generate: not implemented yet (the docstring says what to compute)")
