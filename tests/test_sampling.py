"""Grades `sampling` (contract section 4): decoding against a per-row reference decoder on tiny
deterministic models, the filters against independent oracles (top-p set-based, in float64), and
sampling by its distribution: many seeded draws in one batched call, with a frequency bound a
correct sampler fails with probability below 1e-6 (see `frequency_tolerance` in tests/helpers/decoding.py).
Sampling is never compared draw for draw with an oracle, so any correct way of drawing passes."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from reference.sampling import greedy, mass_ranked_before, sampling_probs, top_k, top_p_keep
from tests.helpers import (LookupLM, ScriptedLM, SeededGenerator, assert_called_on_prefixes, assert_close,
                           assert_draws_allowed, assert_eos_rules, assert_filtered, assert_frequencies_match,
                           assert_no_banned_apis, check_tokens, describe_call, diagnosable, expect_tensor,
                           expect_tokens, greedy_mistakes, require)
from tests.strategies import logits_batches, seeds, token_prompts

EXERCISE = "sampling"

# Draws per distribution test, made as one call on identical rows so the test stays fast. With
# 2**14 draws over 6 tokens and a failure probability of 1e-6, the frequency bound is ±2.2
# percentage points (±3.2 where the draws are split between two distributions, each checked at
# 5e-7): see frequency_tolerance in tests/helpers/decoding.py. A wrong temperature or filter moves far more.
N_DRAWS = 2**14
VOCAB = 7


def generator(seed: int) -> torch.Generator:
    return SeededGenerator(seed)


def scripted_case():
    """Three rows that produce eos_id=0 at new tokens 1, 3 and 0; their model wants to go on afterwards."""
    prompt = torch.tensor([[1, 6, 6], [2, 6, 6], [3, 6, 6]])
    model = ScriptedLM(8, prompt_len=3, scripts={1: [4, 0, 5, 5, 5, 5], 2: [3, 4, 5, 0, 2, 2], 3: [0, 1, 1, 1, 1, 1]})
    expected = torch.tensor([[1, 6, 6, 4, 0, 0, 0], [2, 6, 6, 3, 4, 5, 0], [3, 6, 6, 0, 0, 0, 0]])
    return model, prompt, expected


@pytest.mark.target("greedy_decode")
class TestGreedyDecode:
    @given(prompt=token_prompts(VOCAB), n=st.integers(0, 6), seed=seeds, eos=st.sampled_from([None, 0, 3]))
    def test_matches_reference(self, ex, prompt, n, seed, eos):
        """appends the argmax of the last position's logits, one step at a time, for any batch, prompt and eos_id"""
        model = LookupLM(VOCAB, seed)
        check_tokens(ex, "greedy_decode", model, prompt, n, eos_id=eos, expected=greedy(model, prompt, n, eos),
                     prompt_len=prompt.shape[1], eos=eos, names=["model", "prompt"],
                     mistakes=lambda: greedy_mistakes(greedy, model, prompt, n, eos))

    def test_uses_last_position(self, ex):
        """the next token is the argmax of the last position's logits, model(seq)[:, -1]"""
        model, prompt = LookupLM(VOCAB, 3), torch.tensor([[1, 2, 3, 4], [4, 3, 2, 1]])
        check_tokens(ex, "greedy_decode", model, prompt, 5, expected=greedy(model, prompt, 5), prompt_len=4,
                     names=["model", "prompt"], mistakes=lambda: greedy_mistakes(greedy, model, prompt, 5, None))

    def test_calls_model_on_whole_sequence(self, ex):
        """each step calls the model on the whole sequence so far (prompt and the tokens added)"""
        model, prompt = LookupLM(VOCAB, 5), torch.tensor([[2, 5], [6, 0]])
        call = describe_call("greedy_decode", [model, prompt, 4], names=["model", "prompt"])
        out = expect_tokens(ex.greedy_decode(model, prompt, 4), call=call, batch=2)
        assert_called_on_prefixes(model.calls, out, 2, call=call)

    def test_eos_padding_per_row(self, ex):
        """a row that produced eos_id is padded with eos_id; decoding stops once every row has produced it"""
        model, prompt, expected = scripted_case()
        check_tokens(ex, "greedy_decode", model, prompt, 6, eos_id=0, expected=expected, prompt_len=3, eos=0,
                     names=["model", "prompt"])

    def test_no_early_stop_while_a_row_runs(self, ex):
        """with one row still running, decoding goes on to max_new_tokens"""
        prompt = torch.tensor([[1, 6], [2, 6]])
        model = ScriptedLM(8, prompt_len=2, scripts={1: [4, 0, 5, 5, 5], 2: [3, 4, 5, 6, 2]})
        expected = torch.tensor([[1, 6, 4, 0, 0, 0, 0], [2, 6, 3, 4, 5, 6, 2]])
        check_tokens(ex, "greedy_decode", model, prompt, 5, eos_id=0, expected=expected, prompt_len=2, eos=0,
                     names=["model", "prompt"])

    def test_stops_after_one_step_when_all_rows_end(self, ex):
        """if every row produces eos_id at once, the result has exactly one new token"""
        prompt = torch.tensor([[1, 6], [2, 6]])
        model = ScriptedLM(8, prompt_len=2, scripts={1: [0, 3, 3], 2: [0, 4, 4]})
        check_tokens(ex, "greedy_decode", model, prompt, 3, eos_id=0, expected=torch.tensor([[1, 6, 0], [2, 6, 0]]),
                     prompt_len=2, eos=0, names=["model", "prompt"])

    def test_eos_in_prompt_does_not_count(self, ex):
        """only generated tokens finish a row: an eos_id inside the prompt does not"""
        prompt = torch.tensor([[1, 0, 6]])
        model = ScriptedLM(8, prompt_len=3, scripts={1: [4, 5, 0, 3]})
        check_tokens(ex, "greedy_decode", model, prompt, 4, eos_id=0, expected=torch.tensor([[1, 0, 6, 4, 5, 0]]),
                     prompt_len=3, eos=0, names=["model", "prompt"])

    def test_eos_none_never_stops(self, ex):
        """without eos_id, a token that happens to be 0 changes nothing: exactly max_new_tokens are added"""
        prompt = torch.tensor([[1, 6]])
        model = ScriptedLM(8, prompt_len=2, scripts={1: [0, 3, 0]})
        check_tokens(ex, "greedy_decode", model, prompt, 3, expected=torch.tensor([[1, 6, 0, 3, 0]]), prompt_len=2,
                     names=["model", "prompt"])

    def test_zero_new_tokens_and_prompt_untouched(self, ex):
        """max_new_tokens=0 returns the prompt; the prompt tensor itself is never modified"""
        model, prompt = LookupLM(VOCAB, 1), torch.tensor([[3, 1, 2]])
        before = prompt.clone()
        check_tokens(ex, "greedy_decode", model, prompt, 0, expected=before, prompt_len=3, names=["model", "prompt"])
        check_tokens(ex, "greedy_decode", model, prompt, 2, expected=greedy(model, before, 2), prompt_len=3,
                     names=["model", "prompt"])
        require(torch.equal(prompt, before), "greedy_decode modified the prompt tensor in place.")


def top_k_reason(logits: torch.Tensor, k: int):
    kth = logits.double().sort(dim=-1, descending=True).values[:, min(k, logits.shape[-1]) - 1]

    def why(row: int, token: int, should_keep: bool) -> str:
        value, threshold = logits[row, token].item(), kth[row].item()
        if should_keep and value == threshold:
            return (f"its logit {value:.6g} ties with the k-th largest of its row (k={k}): ties with the k-th "
                    "largest value are kept (compare with >=, not a fixed count of k).")
        relation = ">=" if should_keep else "<"
        return f"its logit {value:.6g} is {relation} the k-th largest of its row, {threshold:.6g} (k={k})."
    return why


def check_top_k(ex, logits: torch.Tensor, k: int) -> torch.Tensor:
    expected = top_k(logits, k)
    keep = ~torch.isneginf(expected)
    call = describe_call("top_k_filter", [logits, k], names=["logits"])
    out = ex.top_k_filter(logits, k)
    with diagnosable("top_k_filter", out, lambda module: module.top_k_filter(logits, k)):
        return assert_filtered(out, logits, keep, ~keep, call=call, why=top_k_reason(logits, k))


@pytest.mark.target("top_k_filter")
class TestTopKFilter:
    @given(logits=logits_batches(), data=st.data())
    def test_matches_reference(self, ex, logits, data):
        """keeps the k largest logits of each row unchanged and sets the others to -inf"""
        check_top_k(ex, logits, data.draw(st.integers(1, logits.shape[-1]), label="k"))

    @pytest.mark.parametrize("k", [1, 2, 3])
    def test_ties_with_kth_are_kept(self, ex, k):
        """entries tied with the k-th largest value are all kept"""
        logits = torch.tensor([[1.0, 3.0, 3.0, 2.0, 0.5], [3.0, 2.0, 2.0, 1.0, 2.0]])
        check_top_k(ex, logits, k)

    @pytest.mark.parametrize("extra", [0, 1, 5])
    def test_k_at_least_vocab_keeps_all(self, ex, extra):
        """k >= V keeps every entry"""
        logits = torch.randn(3, 6, generator=generator(0), dtype=torch.float64)
        check_top_k(ex, logits, 6 + extra)

    @pytest.mark.parametrize("k", [0, -1])
    def test_k_below_one_raises(self, ex, k):
        """ValueError for k < 1"""
        with pytest.raises(ValueError):
            ex.top_k_filter(torch.zeros(2, 4), k)

    def test_input_not_modified(self, ex):
        """the input tensor is left unchanged"""
        logits = torch.randn(3, 8, generator=generator(1))
        before = logits.clone()
        ex.top_k_filter(logits, 2)
        assert_close(logits, before, call="logits after top_k_filter(logits (3, 8) float32, 2)",
                     what="the input's values")


def top_p_reason(logits: torch.Tensor, p: float):
    before = mass_ranked_before(logits)

    def why(row: int, token: int, should_keep: bool) -> str:
        mass = before[row, token].item()
        if should_keep and mass == 0:
            return f"it is the most likely token of its row, and the top token is always kept (p={p})."
        relation = "<" if should_keep else ">="
        return (f"the tokens ranked strictly before it have total probability {mass:.4f} {relation} p={p} "
                "(a token's own probability does not count towards that mass).")
    return why


def check_top_p(ex, logits: torch.Tensor, p: float, margin: float = 0.0) -> torch.Tensor:
    keep, drop = top_p_keep(logits, p, margin)
    call = describe_call("top_p_filter", [logits, p], names=["logits"])
    out = ex.top_p_filter(logits, p)
    with diagnosable("top_p_filter", out, lambda module: module.top_p_filter(logits, p)):
        return assert_filtered(out, logits, keep, drop, call=call, why=top_p_reason(logits, p))


# One row: probabilities 0.15, 0.5, 0.05, 0.3 (vocabulary order); ranked 0.5, 0.3, 0.15, 0.05 the
# masses before each are 0, 0.5, 0.8, 0.95.
CRAFTED = torch.tensor([[0.15, 0.5, 0.05, 0.3]], dtype=torch.float64).log()


@pytest.mark.target("top_p_filter")
class TestTopPFilter:
    @given(logits=logits_batches(), p=st.floats(0.01, 1.0))
    def test_matches_reference(self, ex, logits, p):
        """keeps a token iff the probability of the tokens ranked before it is < p (float32 or float64)"""
        # Where that mass is within float32 rounding of p, either decision is accepted.
        check_top_p(ex, logits, p, margin=1e-5 if logits.dtype == torch.float32 else 1e-9)

    @pytest.mark.parametrize("p, kept", [(0.4, [1]), (0.6, [1, 3]), (0.85, [0, 1, 3]), (0.96, [0, 1, 2, 3])])
    def test_exact_kept_sets(self, ex, p, kept):
        """exact kept sets for probabilities 0.15, 0.5, 0.05, 0.3 (not sorted in the vocabulary)"""
        out = check_top_p(ex, CRAFTED, p)
        got = (~torch.isneginf(out[0])).nonzero()[:, 0].tolist()
        require(got == kept, f"top_p_filter(logits, {p}) kept tokens {got}; expected {kept}.")

    @pytest.mark.parametrize("p", [1e-6, 0.3])
    def test_top_token_always_kept(self, ex, p):
        """the most likely token survives even when its own probability exceeds p"""
        logits = torch.tensor([[0.0, 2.5, 1.0], [4.0, 0.0, -1.0]], dtype=torch.float64)
        check_top_p(ex, logits, p)

    def test_mass_strictly_before(self, ex):
        """a token's own probability does not count: with p=0.6 the 0.3-token (mass 0.5 before it) is kept"""
        check_top_p(ex, CRAFTED, 0.6)

    def test_p_one_keeps_all(self, ex):
        """p = 1 keeps every token"""
        logits = torch.randn(4, 10, generator=generator(2))
        check_top_p(ex, logits, 1.0)

    @pytest.mark.parametrize("p", [0.0, -0.5, 1.5])
    def test_bad_p_raises(self, ex, p):
        """ValueError unless 0 < p <= 1"""
        with pytest.raises(ValueError):
            ex.top_p_filter(torch.zeros(2, 4), p)

    def test_input_not_modified(self, ex):
        """the input tensor is left unchanged"""
        logits = torch.randn(3, 8, generator=generator(3))
        before = logits.clone()
        ex.top_p_filter(logits, 0.5)
        assert_close(logits, before, call="logits after top_p_filter(logits (3, 8) float32, 0.5)",
                     what="the input's values")


def allowed_tokens(logits: torch.Tensor, temperature: float, k: int | None, p: float | None) -> torch.Tensor:
    """(B, V) bool: the tokens sampling may draw; a token within float32 rounding of the top-p cut counts as allowed."""
    scaled = logits.double() / temperature
    if k is not None:
        scaled = top_k(scaled, k)
    allowed = ~torch.isneginf(scaled)
    if p is not None:
        allowed &= ~top_p_keep(scaled, p, margin=1e-5)[1]
    return allowed


def filter_rule(top_k: int | None, top_p: float | None) -> str:
    parts = [f"top-k (k={top_k})"] if top_k is not None else []
    parts += [f"top-p (p={top_p})"] if top_p is not None else []
    return " then ".join(parts) if parts else "the vocabulary"


def distribution(temperature: float, top_k: int | None, top_p: float | None) -> str:
    """The sampling distribution in words: softmax(top_p(top_k(logits / T, k), p))."""
    inner = f"logits / {temperature:g}"
    if top_k is not None:
        inner = f"top_k({inner}, k={top_k})"
    if top_p is not None:
        inner = f"top_p({inner}, p={top_p})"
    return f"softmax({inner})"


def sample_rows(ex, rows: torch.Tensor, seed: int, **kwargs) -> tuple[torch.Tensor, str, diagnosable]:
    """Draw once for every row of `rows` (B, V) with a seeded generator: (draws, the call, a context
    in which a failed check can be re-run on cataloged bugs with a fresh generator of the same seed)."""
    call = describe_call("sample_next_token", [rows], {**kwargs, "generator": generator(seed)}, ["logits"])
    draws = expect_tensor(ex.sample_next_token(rows, **kwargs, generator=generator(seed)), call=call,
                          shape=rows.shape[:1])
    require(draws.dtype == torch.int64, f"{call} returned {draws.dtype}; expected token ids, int64.")
    rerun = diagnosable("sample_next_token", draws,
                        lambda module: module.sample_next_token(rows, **kwargs, generator=generator(seed)))
    return draws, call, rerun


# Two distributions over 6 tokens; rows alternate between them, so each row must use its own.
ROW_A = torch.tensor([2.0, 1.0, 0.5, 0.0, -0.5, -1.5])
ROW_B = torch.tensor([-1.0, 0.0, 1.5, 0.2, 2.2, 0.1])


@pytest.mark.target("sample_next_token")
class TestSampleNextToken:
    @given(logits=logits_batches(), top=st.sampled_from([None, 2]), p=st.sampled_from([None, 0.5]))
    def test_temperature_zero_is_argmax(self, ex, logits, top, p):
        """temperature=0 returns each row's argmax (B,) int64, whatever top_k and top_p say"""
        call = describe_call("sample_next_token", [logits], {"temperature": 0.0, "top_k": top, "top_p": p}, ["logits"])
        draws = expect_tensor(ex.sample_next_token(logits, temperature=0.0, top_k=top, top_p=p), call=call,
                              shape=logits.shape[:1])
        require(draws.dtype == torch.int64, f"{call} returned {draws.dtype}; expected int64 token ids.")
        require(torch.equal(draws, logits.argmax(dim=-1)),
                f"{call} returned {draws.tolist()}; expected each row's argmax, {logits.argmax(-1).tolist()}.")

    @pytest.mark.parametrize("temperature, top_k, top_p", [(0.5, None, None), (2.0, 3, None), (1.0, None, 0.7),
                                                           (1.5, 4, 0.8)])
    def test_draws_follow_filtered_softmax(self, ex, temperature, top_k, top_p):
        """the frequencies of many seeded draws match softmax(top_p(top_k(logits / temperature)))"""
        rows = torch.stack([ROW_A, ROW_B]).repeat(N_DRAWS // 2, 1)  # A, B, A, B, ...
        kwargs = dict(temperature=temperature, top_k=top_k, top_p=top_p)
        probs = sampling_probs(rows[:2], temperature, top_k, top_p)
        allowed = allowed_tokens(rows[:2], temperature, top_k, top_p).repeat(N_DRAWS // 2, 1)
        draws, call, rerun = sample_rows(ex, rows, 0, **kwargs)
        with rerun:
            assert_draws_allowed(draws, allowed, call=call, rule=filter_rule(top_k, top_p))
            for name, half, row_probs in (("A", draws[0::2], probs[0]), ("B", draws[1::2], probs[1])):
                # two checks in this test: each may fail a correct sampler with probability 5e-7
                assert_frequencies_match(half, row_probs, call=f"{call}, rows like {name}", failure_probability=5e-7,
                                         what=distribution(temperature, top_k, top_p))

    def test_temperature_before_top_p(self, ex):
        """the temperature is applied before filtering: at temperature 10 top-p (p=0.8) keeps all 4 tokens"""
        rows = torch.tensor([3.0, 1.0, 0.0, -1.0]).repeat(N_DRAWS, 1)
        probs = sampling_probs(rows[0], 10.0, None, 0.8)
        draws, call, rerun = sample_rows(ex, rows, 1, temperature=10.0, top_p=0.8)
        seen = torch.bincount(draws, minlength=4)
        require(bool((seen > 0).all()),
                f"{call} drew only tokens {seen.nonzero()[:, 0].tolist()}: at temperature 10 the distribution is "
                "nearly flat and top-p keeps all 4 tokens. Divide by the temperature first, then filter.")
        with rerun:
            assert_frequencies_match(draws, probs, call=call, what=distribution(10.0, None, 0.8))

    def test_top_k_before_top_p(self, ex):
        """top-p sees the renormalised top-k distribution: probabilities .35 .3 .2 .15, k=2, p=0.5 keep token 0 only"""
        rows = torch.tensor([0.35, 0.3, 0.2, 0.15]).log().repeat(4096, 1)
        draws, call, rerun = sample_rows(ex, rows, 2, top_k=2, top_p=0.5)
        allowed = torch.tensor([True, False, False, False]).repeat(4096, 1)
        with rerun:
            assert_draws_allowed(draws, allowed, call=call, rule="top-k (k=2) then top-p (p=0.5): after top-k the two "
                                 "tokens have probabilities 0.54 and 0.46, so top-p keeps only token 0")

    @given(logits=logits_batches(max_batch=3, max_vocab=10), temperature=st.floats(0.3, 3.0),
           top=st.one_of(st.none(), st.integers(1, 10)), p=st.one_of(st.none(), st.floats(0.05, 1.0)), seed=seeds)
    def test_never_draws_filtered_tokens(self, ex, logits, temperature, top, p, seed):
        """tokens removed by top-k or top-p are never drawn (512 draws per row)"""
        rows = logits.repeat_interleave(512, dim=0)
        allowed = allowed_tokens(logits, temperature, top, p).repeat_interleave(512, dim=0)
        draws, call, rerun = sample_rows(ex, rows, seed, temperature=temperature, top_k=top, top_p=p)
        with rerun:
            assert_draws_allowed(draws, allowed, call=call, rule=filter_rule(top, p))

    def test_generator_makes_draws_reproducible(self, ex):
        """the same seeded generator gives the same draws whatever the global RNG; another seed differs"""
        rows = torch.zeros(4096, 6)  # uniform: every draw is a coin toss
        torch.manual_seed(0)
        first, call, _ = sample_rows(ex, rows, 7)
        torch.manual_seed(1)
        again, _, _ = sample_rows(ex, rows, 7)
        other, _, _ = sample_rows(ex, rows, 8)
        require(torch.equal(first, again), f"{call}: two calls with generators seeded alike (but a different global "
                                           "seed) drew differently: pass generator=generator to the sampling call.")
        require(not torch.equal(first, other), f"{call}: generators with seeds 7 and 8 drew the same 4096 tokens.")

    def test_input_not_modified(self, ex):
        """the logits passed in are left unchanged (divide by the temperature into a new tensor)"""
        logits = torch.randn(4, 6, generator=generator(5))
        before = logits.clone()
        ex.sample_next_token(logits, temperature=0.5, top_k=3, top_p=0.9, generator=generator(0))
        assert_close(logits, before, call="logits after sample_next_token(logits (4, 6) float32, temperature=0.5, "
                     "top_k=3, top_p=0.9)", what="the input's values")

    def test_negative_temperature_raises(self, ex):
        """ValueError for a negative temperature"""
        with pytest.raises(ValueError):
            ex.sample_next_token(torch.zeros(2, 4), temperature=-0.5)


@pytest.mark.target("generate")
class TestGenerate:
    @given(prompt=token_prompts(VOCAB), n=st.integers(0, 5), seed=seeds, eos=st.sampled_from([None, 0]))
    def test_temperature_zero_is_greedy(self, ex, prompt, n, seed, eos):
        """temperature=0 gives exactly greedy decoding (with eos_id handled the same way)"""
        model = LookupLM(VOCAB, seed)
        check_tokens(ex, "generate", model, prompt, n, temperature=0.0, eos_id=eos, generator=generator(seed),
                     expected=greedy(model, prompt, n, eos), prompt_len=prompt.shape[1], eos=eos,
                     names=["model", "prompt"], mistakes=lambda: greedy_mistakes(greedy, model, prompt, n, eos))

    @pytest.mark.parametrize("kwargs", [dict(top_k=1), dict(top_p=1e-9)], ids=["top_k=1", "top_p=1e-9"])
    def test_one_candidate_is_greedy(self, ex, kwargs):
        """at temperature 1.5, top_k=1 (or a tiny top_p) leaves one candidate: the greedy tokens"""
        model, prompt = LookupLM(VOCAB, 4), torch.tensor([[1, 2], [3, 4], [5, 6]])
        check_tokens(ex, "generate", model, prompt, 5, temperature=1.5, **kwargs, generator=generator(0),
                     expected=greedy(model, prompt, 5), prompt_len=2, names=["model", "prompt"])

    def test_eos_padding_and_early_stop(self, ex):
        """eos_id: finished rows are padded with it, and decoding stops once every row has produced it"""
        model, prompt, expected = scripted_case()
        check_tokens(ex, "generate", model, prompt, 6, top_k=1, eos_id=0, generator=generator(0), expected=expected,
                     prompt_len=3, eos=0, names=["model", "prompt"])

    @given(prompt=token_prompts(4, max_batch=4), n=st.integers(1, 6), seed=seeds)
    def test_eos_rules_when_sampling(self, ex, prompt, n, seed):
        """whatever is drawn: eos_id padding after a row's first eos_id, and the early stop"""
        model = LookupLM(4, seed)
        call = describe_call("generate", [model, prompt, n], {"eos_id": 0, "generator": generator(seed)},
                             ["model", "prompt"])
        out = expect_tokens(ex.generate(model, prompt, n, eos_id=0, generator=generator(seed)), call=call,
                            batch=prompt.shape[0])
        assert_eos_rules(out, prompt, n, 0, call=call)

    @pytest.mark.parametrize("temperature, top_k, top_p", [(2.0, 3, None), (0.7, None, 0.6)])
    def test_draws_follow_filtered_softmax(self, ex, temperature, top_k, top_p):
        """each token is drawn from the last position's logits with temperature, top_k and top_p"""
        model = LookupLM(6, 11)
        prompt = torch.tensor([[1, 4, 2]]).repeat(N_DRAWS, 1)
        kwargs = dict(temperature=temperature, top_k=top_k, top_p=top_p)
        call = describe_call("generate", [model, prompt, 2], {**kwargs, "generator": generator(0)}, ["model", "prompt"])
        out = expect_tokens(ex.generate(model, prompt, 2, **kwargs, generator=generator(0)), call=call, batch=N_DRAWS)
        require(out.shape[1] == 5, f"{call} returned shape {tuple(out.shape)}; expected ({N_DRAWS}, 5).")
        rule = filter_rule(top_k, top_p) + " of the last position's logits"
        rerun = diagnosable("generate", out, lambda module: module.generate(model, prompt, 2, **kwargs,
                                                                            generator=generator(0)))
        with rerun:
            # Every draw stays inside the filters. The first draw's context is the prompt; the second's
            # is the prompt and one of the 6 tokens, so 6 contexts cover every row.
            allowed = allowed_tokens(model(prompt[:1])[:, -1], temperature, top_k, top_p).expand(N_DRAWS, -1)
            assert_draws_allowed(out[:, 3], allowed, call=f"{call}, new token 0", rule=rule)
            contexts = torch.cat([prompt[:6], torch.arange(6)[:, None]], dim=1)  # (6, 4): the prompt, then token v
            allowed = allowed_tokens(model(contexts)[:, -1], temperature, top_k, top_p)[out[:, 3]]
            assert_draws_allowed(out[:, 4], allowed, call=f"{call}, new token 1", rule=rule)
            first_probs = sampling_probs(model(prompt[:1])[0, -1], temperature, top_k, top_p)
            assert_frequencies_match(out[:, 3], first_probs, call=f"{call}, first new token",
                                     what=distribution(temperature, top_k, top_p) + " of the last position's logits")

    def test_calls_model_on_whole_sequence(self, ex):
        """each step calls the model on the whole sequence so far"""
        model, prompt = LookupLM(VOCAB, 6), torch.tensor([[2, 5, 1], [6, 0, 0]])
        call = describe_call("generate", [model, prompt, 4], names=["model", "prompt"])
        out = expect_tokens(ex.generate(model, prompt, 4, generator=generator(0)), call=call, batch=2)
        require(out.shape == (2, 7), f"{call} returned shape {tuple(out.shape)}; expected (2, 7).")
        assert_called_on_prefixes(model.calls, out, 3, call=call)

    def test_generator_makes_generation_reproducible(self, ex):
        """the same seeded generator gives the same tokens whatever the global RNG; another seed differs"""
        model, prompt = LookupLM(6, 2), torch.tensor([[1, 2]]).repeat(512, 1)
        call = describe_call("generate", [model, prompt, 3], {"temperature": 2.0, "generator": generator(3)},
                             ["model", "prompt"])
        torch.manual_seed(0)
        first = ex.generate(model, prompt, 3, temperature=2.0, generator=generator(3))
        torch.manual_seed(1)
        again = ex.generate(model, prompt, 3, temperature=2.0, generator=generator(3))
        other = ex.generate(model, prompt, 3, temperature=2.0, generator=generator(4))
        require(torch.equal(first, again), f"{call}: two runs with generators seeded alike (but a different global "
                                           "seed) differ: pass the generator on to sample_next_token.")
        require(not torch.equal(first, other), f"{call}: generators seeded 3 and 4 gave the same tokens.")

    def test_zero_new_tokens_and_prompt_untouched(self, ex):
        """max_new_tokens=0 returns the prompt; the prompt tensor itself is never modified"""
        model, prompt = LookupLM(VOCAB, 1), torch.tensor([[3, 1, 2], [0, 0, 1]])
        before = prompt.clone()
        check_tokens(ex, "generate", model, prompt, 0, expected=before, prompt_len=3, names=["model", "prompt"])
        check_tokens(ex, "generate", model, prompt, 3, temperature=0.0, eos_id=0, expected=greedy(model, before, 3, 0),
                     prompt_len=3, eos=0, names=["model", "prompt"])
        require(torch.equal(prompt, before), "generate modified the prompt tensor in place.")


@pytest.mark.target("from scratch")
def test_no_banned_apis(ex_file):
    """the file uses none of the APIs this exercise asks you to write yourself"""
    assert_no_banned_apis(EXERCISE, ex_file)
