"""Decoding and sampling: tiny deterministic language models, token checks, and
distribution checks for random draws."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from tests.helpers.compare import Mismatch, describe, describe_call, expect_tensor
from tests.helpers.mistakes import name_the_mistake


# Decoding and sampling.

def require(condition: Any, message: str) -> None:
    """`assert condition, message` without pytest's rewriting, which would append its own
    introspection ("assert False, where ...") to a message written for the learner."""
    if not condition:
        raise AssertionError(message)


class SeededGenerator(torch.Generator):
    """A CPU `torch.Generator` seeded at creation, shown as `Generator(seed=3)` in messages."""

    def __new__(cls, seed: int) -> SeededGenerator:
        self = super().__new__(cls, "cpu")
        self.manual_seed(seed)
        return self

    def __init__(self, seed: int) -> None:  # the work happens in __new__ (torch.Generator's takes a device)
        pass

    def __repr__(self) -> str:
        return f"Generator(seed={self.initial_seed()})"


class diagnosable:
    """`with diagnosable(function, actual, rerun):` lets a `Mismatch` raised inside name its
    call, so the grader can re-run it on cataloged bugs (as `check_call` does)."""

    def __init__(self, function: str, actual: Any, rerun: Callable[[Any], Any]) -> None:
        self.function, self.actual, self.rerun = function, actual, rerun

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> bool:
        if isinstance(error, Mismatch):
            error.function, error.actual, error.rerun = self.function, self.actual, self.rerun
        return False


class LookupLM:
    """A deterministic stand-in for a language model, for decoding tests.

    `model(ids (B, T) int64) -> logits (B, T, V) float32`: position t's logits are a fixed random
    row chosen by a running hash of ids[:, :t+1], so the prediction depends on the whole
    prefix, not only the last token. Every call's input is recorded in `calls`.
    """

    def __init__(self, vocab_size: int, seed: int = 0, n_states: int = 101, scale: float = 2.0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.vocab_size, self.n_states = vocab_size, n_states
        self.table = (torch.randn(n_states, vocab_size, generator=generator, dtype=torch.float64) * scale).float()
        self.calls: list[torch.Tensor] = []
        self.seed = seed

    def __repr__(self) -> str:
        return f"LookupLM(vocab_size={self.vocab_size}, seed={self.seed})"

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        if not isinstance(ids, torch.Tensor) or ids.dtype != torch.int64 or ids.ndim != 2:
            raise AssertionError(f"the model was called with {describe(ids)}; it takes token ids (B, T) int64 "
                                 "(keep appended tokens int64, e.g. from argmax or multinomial).")
        self.calls.append(ids.detach().clone())
        state = torch.zeros(ids.shape[0], dtype=torch.int64, device=ids.device)
        states = []
        for t in range(ids.shape[1]):
            state = (state * 31 + ids[:, t] + 7) % self.n_states
            states.append(state)
        return self.table.to(ids.device)[torch.stack(states, dim=1)]


class ScriptedLM:
    """A model that follows a script: every sequence whose first token is f predicts, at position
    prompt_len - 1 + s, the token scripts[f][s] (by a margin of 10 over the rest); at other
    positions it predicts token vocab_size - 1. Records every call's input in `calls`."""

    def __init__(self, vocab_size: int, prompt_len: int, scripts: dict[int, list[int]]) -> None:
        self.vocab_size, self.prompt_len, self.scripts = vocab_size, prompt_len, scripts
        self.noise = torch.rand(64, vocab_size, generator=torch.Generator().manual_seed(0))
        self.calls: list[torch.Tensor] = []

    def __repr__(self) -> str:
        return f"ScriptedLM(scripts={self.scripts})"

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        if not isinstance(ids, torch.Tensor) or ids.dtype != torch.int64 or ids.ndim != 2:
            raise AssertionError(f"the model was called with {describe(ids)}; it takes token ids (B, T) int64.")
        self.calls.append(ids.detach().clone())
        batch, length = ids.shape
        logits = self.noise[:length].repeat(batch, 1, 1)
        for b in range(batch):
            script = self.scripts[int(ids[b, 0])]
            for t in range(length):
                s = t - (self.prompt_len - 1)
                logits[b, t, script[s] if 0 <= s < len(script) else self.vocab_size - 1] += 10.0
        return logits


def greedy_mistakes(decode: Callable[..., torch.Tensor], model: Callable[[torch.Tensor], torch.Tensor],
                    prompt: torch.Tensor, max_new_tokens: int, eos_id: int | None) -> dict[str, torch.Tensor]:
    """What greedy decoding gives with common mistakes, using a correct `decode(model, prompt, n, eos_id)`."""
    def first_position(ids: torch.Tensor) -> torch.Tensor:  # every position sees position 0's logits
        return model(ids)[:, :1].expand(-1, ids.shape[1], -1)

    def last_token_only(ids: torch.Tensor) -> torch.Tensor:
        return model(ids[:, -1:])

    return {
        "the first position's logits were used: the next token comes from the last position, logits[:, -1].":
            decode(first_position, prompt, max_new_tokens, eos_id),
        "the model was fed only the last token: call it on the whole sequence so far.":
            decode(last_token_only, prompt, max_new_tokens, eos_id),
    }


def explain_token_difference(actual: torch.Tensor, expected: torch.Tensor, prompt_len: int,
                             eos_id: int | None) -> str:
    """Why two decoded (B, T + n) token tensors differ, in decoding terms."""
    new_actual, new_expected = actual.shape[1] - prompt_len, expected.shape[1] - prompt_len
    if actual.shape[0] != expected.shape[0]:
        return f"it returned {actual.shape[0]} rows; expected one per prompt row ({expected.shape[0]})."
    if new_actual != new_expected:
        if eos_id is not None and new_actual > new_expected:
            return (f"it added {new_actual} new tokens; every row had produced eos_id={eos_id} after "
                    f"{new_expected}, so decoding should stop there.")
        if eos_id is not None:
            return (f"it stopped after {new_actual} new tokens; expected {new_expected}: stop early only once "
                    f"every row has generated eos_id={eos_id} (a prompt containing it does not count).")
        return f"it added {new_actual} new tokens; expected {new_expected} (max_new_tokens, no eos_id given)."
    if not torch.equal(actual[:, :prompt_len], expected[:, :prompt_len]):
        return "the prompt part changed: the result must start with the prompt, unchanged."
    bad = (actual != expected).nonzero()
    if len(bad) == 0:
        return ""
    row, col = (int(v) for v in bad[0])
    step = col - prompt_len
    text = f"row {row}, new token {step}: got {int(actual[row, col])}, expected {int(expected[row, col])}"
    if eos_id is not None:
        earlier = (expected[row, prompt_len:col] == eos_id).nonzero()
        if len(earlier) and int(expected[row, col]) == eos_id:
            text += (f"; that row produced eos_id={eos_id} at new token {int(earlier[0])}, so every later token "
                     f"of it must be eos_id (padding)")
        elif int(actual[row, col]) == eos_id and bool((expected[row, :prompt_len] == eos_id).any()):
            text += (f"; that row has not generated eos_id={eos_id} yet (the one inside its prompt does not "
                     "count), so it is not finished")
    return text + "."


def expect_tokens(out: Any, *, call: str, batch: int) -> torch.Tensor:
    """Fail unless `out` is a (batch, T) int64 tensor of token ids."""
    out = expect_tensor(out, call=call)
    if out.dtype != torch.int64:
        raise AssertionError(f"{call} returned {out.dtype}; expected token ids, int64 (torch.cat of the prompt "
                             "and argmax/multinomial outputs keeps int64).")
    if out.ndim != 2 or out.shape[0] != batch:
        raise AssertionError(f"{call} returned shape {tuple(out.shape)}; expected ({batch}, T + new tokens).")
    return out


def check_tokens(ex: Any, function: str, *args: Any, expected: torch.Tensor, prompt_len: int,
                 eos: int | None = None, names: Sequence[str] = (),
                 mistakes: Callable[[], dict[str, torch.Tensor]] | None = None, **kwargs: Any) -> torch.Tensor:
    """Call a decoding function and compare its tokens with `expected` exactly, explaining a difference
    (`eos`: the eos_id of the call, for the explanation)."""
    call = describe_call(function, args, kwargs, names)
    out = expect_tokens(getattr(ex, function)(*args, **kwargs), call=call, batch=expected.shape[0])
    if out.shape != expected.shape or not torch.equal(out, expected):
        why = explain_token_difference(out, expected, prompt_len, eos)
        hint = name_the_mistake(out, mistakes() if mistakes else {}, 0.0, 0.0)
        def rerun(module: Any) -> Any:  # with fresh generators, seeded as the learner's were
            fresh = {k: SeededGenerator(v.initial_seed()) if isinstance(v, SeededGenerator) else v
                     for k, v in kwargs.items()}
            return getattr(module, function)(*args, **fresh)

        raise Mismatch(f"{call}: the tokens differ from the reference: {why}{hint}", function=function, actual=out,
                       rerun=rerun)
    return out


def assert_draws_allowed(draws: torch.Tensor, allowed: torch.Tensor, *, call: str, rule: str) -> None:
    """Every drawn token (draws (B,)) is allowed in its row (allowed (B, V) bool).

    rule: the learner-facing name of what allows a token, e.g. "top-k (k=2)".
    """
    draws = expect_tensor(draws, call=call, shape=allowed.shape[:1])
    if draws.dtype != torch.int64:
        raise AssertionError(f"{call} returned {draws.dtype}; expected token ids, int64.")
    vocab = allowed.shape[-1]
    if bool(((draws < 0) | (draws >= vocab)).any()):
        bad = int(draws[(draws < 0) | (draws >= vocab)][0])
        raise AssertionError(f"{call} drew token {bad}, which is not in the vocabulary 0..{vocab - 1}.")
    ok = allowed.gather(-1, draws[:, None].long()).squeeze(-1)
    if not bool(ok.all()):
        row = int((~ok).nonzero()[0])
        raise Mismatch(f"{call}: token {int(draws[row])} was drawn (row {row}) but is outside {rule}.", actual=draws)


def frequency_tolerance(n_draws: int, n_tokens: int, failure_probability: float = 1e-6) -> float:
    """The largest deviation |observed frequency - p| a correct sampler exceeds, for any token,
    with probability below `failure_probability`.

    Each token's count is Binomial(n, p_v). Hoeffding: P(|count/n - p_v| >= t) <= 2 exp(-2 n t^2).
    A union bound over the V tokens gives P(any token off by >= t) <= 2 V exp(-2 n t^2); setting
    that to the failure probability delta gives t = sqrt(ln(2 V / delta) / (2 n)).
    E.g. n = 2**16 draws over V = 6 tokens, delta = 1e-6: t = 0.0111.
    """
    import math

    return math.sqrt(math.log(2 * n_tokens / failure_probability) / (2 * n_draws))


def assert_frequencies_match(draws: torch.Tensor, probs: torch.Tensor, *, call: str, what: str,
                             failure_probability: float = 1e-6) -> None:
    """The tokens drawn (draws (N,), identical rows) follow `probs` (V,): a frequency bound that a
    correct sampler fails with probability < failure_probability (see `frequency_tolerance`)."""
    n, vocab = draws.numel(), probs.numel()
    counts = torch.bincount(draws.flatten().long(), minlength=vocab)[:vocab].double()
    freq = counts / n
    tolerance = frequency_tolerance(n, vocab, failure_probability)
    gap = (freq - probs.double()).abs()
    v = int(gap.argmax())
    if gap[v] >= tolerance:
        raise Mismatch(
            f"{call}: over {n} draws token {v} came up {freq[v]:.2%} of the time, but {what} gives it "
            f"{probs[v]:.2%} (a correct sampler stays within ±{tolerance:.2%} except with probability "
            f"< {failure_probability:g}). Observed: {[round(f, 3) for f in freq.tolist()]}, expected: "
            f"{[round(p, 3) for p in probs.double().tolist()]}.", actual=draws)


def assert_filtered(actual: Any, logits: torch.Tensor, keep: torch.Tensor, drop: torch.Tensor, *, call: str,
                    why: Callable[[int, int, bool], str]) -> torch.Tensor:
    """A filter's output: every entry in `keep` unchanged, every entry in `drop` -inf (entries in
    neither may be either). why(row, token, should_keep) explains one entry to the learner."""
    out = expect_tensor(actual, call=call, shape=logits.shape, dtype=logits.dtype)
    neg_inf = torch.isneginf(out)
    unchanged = out == logits
    if not bool((unchanged | neg_inf).all()):
        row, token = (int(v) for v in (~(unchanged | neg_inf)).nonzero()[0])
        raise Mismatch(f"{call}: entry [{row}, {token}] is {out[row, token].item():.6g}; a filter leaves kept "
                       f"logits unchanged ({logits[row, token].item():.6g}) and sets the others to -inf.", actual=out)
    wrongly_dropped = keep & neg_inf & ~torch.isneginf(logits)
    wrongly_kept = drop & ~neg_inf
    for mask, should_keep in ((wrongly_dropped, True), (wrongly_kept, False)):
        if bool(mask.any()):
            row, token = (int(v) for v in mask.nonzero()[0])
            verb = "dropped (set to -inf)" if should_keep else "kept"
            raise Mismatch(f"{call}: row {row}, token {token} was {verb}, but {why(row, token, should_keep)}", actual=out)
    return out


def assert_called_on_prefixes(calls: Sequence[torch.Tensor], out: torch.Tensor, prompt_len: int, *, call: str) -> None:
    """Decoding step i called the model on the whole sequence so far, out[:, :prompt_len + i]."""
    for i in range(out.shape[1] - prompt_len):
        want = out[:, : prompt_len + i]
        if i >= len(calls):
            raise AssertionError(f"{call} called the model {len(calls)} times but added {out.shape[1] - prompt_len} "
                                 "tokens: call it once per new token.")
        if calls[i].shape != want.shape or not torch.equal(calls[i], want):
            raise AssertionError(f"{call}: step {i} called the model with {describe(calls[i])}; expected the whole "
                                 f"sequence so far, {describe(want)} (the prompt and the {i} tokens added before).")


def assert_eos_rules(out: torch.Tensor, prompt: torch.Tensor, max_new_tokens: int, eos_id: int, *, call: str) -> None:
    """Whatever tokens were drawn: the result starts with the prompt; after a row's first generated
    eos_id, all its tokens are eos_id; decoding stops right after the last row finishes, else after
    max_new_tokens."""
    prompt_len = prompt.shape[1]
    if out.shape[1] < prompt_len or not torch.equal(out[:, :prompt_len], prompt):
        raise AssertionError(f"{call}: the result must start with the prompt, unchanged.")
    new = out[:, prompt_len:]
    finish = []
    for row in range(new.shape[0]):
        hits = (new[row] == eos_id).nonzero()
        if len(hits):
            first = int(hits[0])
            if not bool((new[row, first:] == eos_id).all()):
                later = int(new[row, first:][new[row, first:] != eos_id][0])
                raise AssertionError(f"{call}: row {row} produced eos_id={eos_id} at new token {first}, then token "
                                     f"{later}: every later token of a finished row must be eos_id (padding).")
        finish.append(int(hits[0]) + 1 if len(hits) else None)
    expected_new = max_new_tokens if None in finish else min(max_new_tokens, max(finish, default=0))
    if new.shape[1] != expected_new:
        state = ("every row had produced eos_id by then" if None not in finish
                 else "some row never produced eos_id, so it runs to max_new_tokens")
        raise AssertionError(f"{call} added {new.shape[1]} tokens; expected {expected_new} ({state}).")
