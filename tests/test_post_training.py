"""Grades `post_training` (contract section 8) against oracles written from the papers' formulas.

DPO: Rafailov et al. 2023 with cDPO label smoothing (TRL's "sigmoid" loss). GRPO: DeepSeekMath
2024 with TRL's token-level clipping, the k3 KL estimator and loss_type="grpo" averaging.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import reference.post_training as ref
from tests.helpers import (assert_close, assert_gradients_match_finite_differences, assert_no_banned_apis,
                           check_call, check_outputs, describe_call, expect_tensor)
from tests.strategies import float_dtypes, randn, seeds, token_masks

EXERCISE = "post_training"

batches = st.integers(1, 4)
lengths = st.integers(1, 7)
vocabs = st.integers(2, 9)


def lm_batch(batch, length, vocab, dtype, seed, scale=3.0):
    """Logits (B, T, V) and labels (B, T) drawn from `seed`."""
    logits = randn((batch, length, vocab), dtype, seed, scale=scale)
    labels = torch.randint(0, vocab, (batch, length), generator=torch.Generator().manual_seed(seed + 1))
    return logits, labels


def softplus(x: float) -> float:
    """-log sigmoid(-x), stably, for expected values written by hand."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@pytest.mark.target("sequence_logprobs")
class TestSequenceLogprobs:
    @given(batch=batches, length=lengths, vocab=vocabs, dtype=float_dtypes, seed=seeds, data=st.data())
    def test_matches_reference(self, ex, batch, length, vocab, dtype, seed, data):
        """the sum over counted positions of log_softmax(logits)[label], one value per sequence"""
        logits, labels = lm_batch(batch, length, vocab, dtype, seed)
        mask = data.draw(token_masks(batch, length), label="mask")
        expected = ref.sequence_logprobs(logits.double(), labels, mask).to(dtype)
        check_call(ex, "sequence_logprobs", logits, labels, mask, expected=expected, names=["logits", "labels", "mask"])

    def test_sums_not_means(self, ex):
        """a sum, not a mean: a sequence repeated twice has twice the log-probability"""
        logits, labels = lm_batch(2, 3, 5, torch.float64, 11)
        mask = torch.tensor([[True, True, False], [False, True, True]])
        once = expect_tensor(ex.sequence_logprobs(logits, labels, mask), call="sequence_logprobs(logits (2, 3, 5), ...)",
                             shape=(2,))
        check_call(ex, "sequence_logprobs", logits.repeat(1, 2, 1), labels.repeat(1, 2), mask.repeat(1, 2),
                   expected=2 * once.detach(), names=["logits (repeated along T)", "labels", "mask"])

    def test_masked_positions_ignored(self, ex):
        """positions where mask is False change nothing: other logits or labels there give the same result"""
        logits, labels = lm_batch(3, 5, 6, torch.float64, 5)
        mask = torch.tensor([[False, False, True, True, False], [True, False, True, False, True], [False] * 5])
        other_logits, _ = lm_batch(3, 5, 6, torch.float64, 99, scale=10.0)
        other_labels = (labels + 1) % 6
        new_logits = torch.where(mask[..., None], logits, other_logits)
        new_labels = torch.where(mask, labels, other_labels)
        expected = ref.sequence_logprobs(logits, labels, mask)
        check_call(ex, "sequence_logprobs", new_logits, new_labels, mask, expected=expected,
                   names=["logits (other values where masked)", "labels (other ids where masked)", "mask"])

    def test_gradient(self, ex):
        """differentiable in logits: autograd agrees with finite differences, and masked positions get zero gradient"""
        logits, labels = lm_batch(2, 4, 5, torch.float64, 3)
        mask = torch.tensor([[True, False, True, True], [False, True, True, False]])
        call = "sequence_logprobs(logits (2, 4, 5) float64, labels, mask)"
        assert_gradients_match_finite_differences(lambda x: ex.sequence_logprobs(x, labels, mask), [logits], call=call)
        x = logits.clone().requires_grad_()
        ex.sequence_logprobs(x, labels, mask).sum().backward()
        assert_close(x.grad[~mask], torch.zeros_like(x.grad[~mask]), call=f"d/d logits of {call} at masked positions",
                     what="gradients")


@pytest.mark.target("sft_loss")
class TestSftLoss:
    @given(batch=batches, length=lengths, vocab=vocabs, dtype=float_dtypes, seed=seeds, data=st.data())
    def test_matches_reference(self, ex, batch, length, vocab, dtype, seed, data):
        """the mean negative log-likelihood over every counted token of the batch"""
        logits, labels = lm_batch(batch, length, vocab, dtype, seed)
        mask = data.draw(token_masks(batch, length, nonempty_rows=data.draw(st.booleans(), label="nonempty")),
                         label="mask")
        assume(mask.any())
        expected = ref.sft_loss(logits.double(), labels, mask).to(dtype)
        check_call(ex, "sft_loss", logits, labels, mask, expected=expected, names=["logits", "labels", "mask"])

    def test_token_mean_not_sequence_mean(self, ex):
        """every counted token weighs the same: a 1-token answer and a 4-token answer are not averaged per sequence"""
        logits, labels = lm_batch(2, 5, 4, torch.float64, 21)
        mask = torch.tensor([[False, False, False, False, True], [False, True, True, True, True]])
        check_call(ex, "sft_loss", logits, labels, mask, expected=ref.sft_loss(logits, labels, mask),
                   names=["logits", "labels", "mask"])

    def test_uniform_logits_give_log_vocab(self, ex):
        """all-equal logits give exactly ln V, whatever the mask"""
        labels = torch.randint(0, 7, (3, 4), generator=torch.Generator().manual_seed(0))
        mask = torch.tensor([[False, True, True, True], [False, False, True, False], [True] * 4])
        logits = torch.zeros(3, 4, 7, dtype=torch.float64)
        check_call(ex, "sft_loss", logits, labels, mask, expected=torch.tensor(math.log(7), dtype=torch.float64),
                   names=["logits (all zero)", "labels", "mask"])

    def test_prompt_logits_ignored_entirely(self, ex):
        """prompt tokens' logits change neither the loss nor get any gradient"""
        logits, labels = lm_batch(2, 6, 5, torch.float64, 8)
        mask = torch.tensor([[False, False, False, True, True, True], [False, False, True, True, False, False]])
        other, _ = lm_batch(2, 6, 5, torch.float64, 77, scale=10.0)
        new_logits = torch.where(mask[..., None], logits, other).requires_grad_()
        out = check_call(ex, "sft_loss", new_logits, labels, mask, expected=ref.sft_loss(logits, labels, mask),
                         names=["logits (other values on the prompt)", "labels", "mask"])
        out.backward()
        assert new_logits.grad is not None, "sft_loss: no gradient reached the logits"
        assert_close(new_logits.grad[~mask], torch.zeros_like(new_logits.grad[~mask]),
                     call="d sft_loss / d logits at prompt (masked) positions", what="gradients")

    def test_gradient(self, ex):
        """differentiable: autograd agrees with finite differences in float64"""
        logits, labels = lm_batch(2, 4, 5, torch.float64, 4)
        mask = torch.tensor([[True, False, True, True], [False, True, False, False]])
        assert_gradients_match_finite_differences(lambda x: ex.sft_loss(x, labels, mask), [logits],
                                                  call="sft_loss(logits (2, 4, 5) float64, labels, mask)")


@pytest.mark.target("reward_model_loss")
class TestRewardModelLoss:
    @given(batch=st.integers(1, 8), dtype=float_dtypes, seed=seeds, scale=st.sampled_from([0.5, 3.0, 20.0]))
    def test_matches_reference(self, ex, batch, dtype, seed, scale):
        """Bradley-Terry: -mean(logsigmoid(chosen - rejected))"""
        chosen, rejected = randn((batch,), dtype, seed, scale), randn((batch,), dtype, seed + 1, scale)
        expected = ref.reward_model_loss(chosen.double(), rejected.double()).to(dtype)
        check_call(ex, "reward_model_loss", chosen, rejected, expected=expected, names=["chosen_rewards", "rejected_rewards"])

    @given(batch=st.integers(1, 8), seed=seeds)
    def test_equal_rewards_give_ln2(self, ex, batch, seed):
        """equal rewards give ln 2 (the model is indifferent: P(chosen preferred) = 1/2)"""
        rewards = randn((batch,), torch.float64, seed, scale=5.0)
        check_call(ex, "reward_model_loss", rewards, rewards.clone(), expected=torch.tensor(math.log(2.0), dtype=torch.float64),
                   names=["chosen_rewards", "rejected_rewards (= chosen)"])

    @given(batch=st.integers(1, 8), seed=seeds, shift=st.floats(-50, 50))
    def test_symmetry(self, ex, batch, seed, shift):
        """depends only on the margin (shift-invariant), and loss(c, r) - loss(r, c) = mean(r - c)"""
        chosen, rejected = randn((batch,), torch.float64, seed, 2.0), randn((batch,), torch.float64, seed + 1, 2.0)
        forward = expect_tensor(ex.reward_model_loss(chosen, rejected), call="reward_model_loss(chosen, rejected)", shape=())
        check_call(ex, "reward_model_loss", chosen + shift, rejected + shift, expected=forward.detach(),
                   names=["chosen_rewards + shift", "rejected_rewards + shift"])
        check_call(ex, "reward_model_loss", rejected, chosen, expected=forward.detach() + (chosen - rejected).mean(),
                   names=["rejected_rewards", "chosen_rewards (swapped)"])

    def test_stable_for_large_margins(self, ex):
        """stable for margins like ±150 in float32 (logsigmoid, not log(sigmoid(x)))"""
        chosen = torch.tensor([150.0, -150.0, 0.0])
        rejected = torch.zeros(3)
        expected = torch.tensor((softplus(-150.0) + softplus(150.0) + math.log(2.0)) / 3)
        check_call(ex, "reward_model_loss", chosen, rejected, expected=expected, names=["chosen_rewards", "rejected_rewards"])

    def test_gradient(self, ex):
        """differentiable: autograd agrees with finite differences, and raising the chosen reward lowers the loss"""
        chosen, rejected = randn((5,), torch.float64, 1), randn((5,), torch.float64, 2)
        assert_gradients_match_finite_differences(ex.reward_model_loss, [chosen, rejected],
                                                  call="reward_model_loss(chosen (5,), rejected (5,))")
        c, r = chosen.clone().requires_grad_(), rejected.clone().requires_grad_()
        ex.reward_model_loss(c, r).backward()
        assert (c.grad < 0).all() and (r.grad > 0).all(), \
            "reward_model_loss: raising a chosen reward must lower the loss (and raising a rejected one raise it)"


def dpo_inputs(batch, dtype, seed):
    """Sequence log-probs (negative, like sums over tokens): pc, pr, rc, rr."""
    return tuple(-randn((batch,), dtype, seed + i, scale=8.0).abs() - 1.0 for i in range(4))


DPO_NAMES = ["policy_chosen_logps", "policy_rejected_logps", "ref_chosen_logps", "ref_rejected_logps"]
DPO_OUTPUTS = ["loss", "chosen_rewards", "rejected_rewards"]


@pytest.mark.target("dpo_loss")
class TestDpoLoss:
    @given(batch=st.integers(1, 6), dtype=float_dtypes, seed=seeds, beta=st.floats(0.01, 2.0),
           label_smoothing=st.floats(0.0, 0.5))
    def test_matches_formula(self, ex, batch, dtype, seed, beta, label_smoothing):
        """loss = mean(-(1-eps) logsigmoid(beta h) - eps logsigmoid(-beta h)), rewards = beta (policy - ref)"""
        inputs = dpo_inputs(batch, dtype, seed)
        expected = [t.to(dtype) for t in ref.dpo_loss(*(x.double() for x in inputs), beta=beta, label_smoothing=label_smoothing)]
        check_outputs(ex, "dpo_loss", *inputs, beta=beta, label_smoothing=label_smoothing, expected=expected,
                      outputs=DPO_OUTPUTS, names=DPO_NAMES)

    def test_defaults(self, ex):
        """the defaults are beta=0.1 and label_smoothing=0 (plain DPO)"""
        inputs = dpo_inputs(4, torch.float64, 3)
        check_outputs(ex, "dpo_loss", *inputs, expected=ref.dpo_loss(*inputs, beta=0.1, label_smoothing=0.0),
                      outputs=DPO_OUTPUTS, names=DPO_NAMES)

    def test_hand_computed_value(self, ex):
        """pc-rc = 10, pr-rr = -10, beta = 0.5: loss = 0.75 softplus(-10) + 0.25 softplus(10) with eps = 0.25"""
        pc, rc = torch.tensor([-20.0], dtype=torch.float64), torch.tensor([-30.0], dtype=torch.float64)
        pr, rr = torch.tensor([-40.0], dtype=torch.float64), torch.tensor([-30.0], dtype=torch.float64)
        for eps in (0.0, 0.25):
            expected = [torch.tensor((1 - eps) * softplus(-10.0) + eps * softplus(10.0), dtype=torch.float64),
                        torch.tensor([5.0], dtype=torch.float64), torch.tensor([-5.0], dtype=torch.float64)]
            check_outputs(ex, "dpo_loss", pc, pr, rc, rr, beta=0.5, label_smoothing=eps, expected=expected,
                          outputs=DPO_OUTPUTS, names=DPO_NAMES)

    @given(batch=st.integers(1, 6), seed=seeds, beta=st.floats(0.05, 1.0))
    def test_label_smoothing_half_is_symmetric(self, ex, batch, seed, beta):
        """with label_smoothing=0.5 the labels carry no information: swapping chosen and rejected changes nothing"""
        pc, pr, rc, rr = dpo_inputs(batch, torch.float64, seed)
        loss = expect_tensor(ex.dpo_loss(pc, pr, rc, rr, beta=beta, label_smoothing=0.5)[0],
                             call="dpo_loss(..., label_smoothing=0.5)[0]", shape=())
        swapped = expect_tensor(ex.dpo_loss(pr, pc, rr, rc, beta=beta, label_smoothing=0.5)[0],
                                call="dpo_loss(rejected and chosen swapped, label_smoothing=0.5)[0]", shape=())
        assert_close(swapped, loss.detach(), call=f"dpo_loss(..., beta={beta:.4g}, label_smoothing=0.5) with chosen and rejected swapped",
                     what="loss")

    def test_rewards_are_detached(self, ex):
        """chosen_rewards and rejected_rewards are detached from the graph (no grad); the loss is not"""
        inputs = [x.requires_grad_() for x in dpo_inputs(3, torch.float64, 5)]
        out = ex.dpo_loss(*inputs, beta=0.2)
        assert isinstance(out, (tuple, list)) and len(out) == 3, "dpo_loss must return (loss, chosen_rewards, rejected_rewards)"
        loss, chosen, rejected = out
        assert isinstance(loss, torch.Tensor) and loss.requires_grad, \
            "dpo_loss: the loss must stay differentiable (no .detach() or torch.no_grad() on it)"
        for name, reward in (("chosen_rewards", chosen), ("rejected_rewards", rejected)):
            expect_tensor(reward, call=f"dpo_loss(...) {name}", shape=(3,))
            assert not reward.requires_grad, (f"dpo_loss: {name} must be detached (beta * (policy - ref).detach()): "
                                              "the implicit rewards are for logging, not for gradients")

    @given(batch=st.integers(1, 6), seed=seeds, beta=st.floats(0.01, 1.0))
    def test_gradient_sign(self, ex, batch, seed, beta):
        """raising a chosen log-prob lowers the loss, raising a rejected one raises it (label_smoothing=0)"""
        # (with label smoothing eps the loss has its minimum at sigmoid(beta h) = 1 - eps, so no fixed sign)
        inputs = [x.requires_grad_() for x in dpo_inputs(batch, torch.float64, seed)]
        loss = expect_tensor(ex.dpo_loss(*inputs, beta=beta)[0],
                             call="dpo_loss(...)[0]", shape=())
        loss.backward()
        pc, pr, rc, rr = (x.grad for x in inputs)
        assert pc is not None and pr is not None, "dpo_loss: no gradient reached the policy log-probs"
        assert (pc < 0).all(), "dpo_loss: raising policy_chosen_logps must lower the loss (is h's sign swapped?)"
        assert (pr > 0).all(), "dpo_loss: raising policy_rejected_logps must raise the loss (is h's sign swapped?)"

    def test_gradient(self, ex):
        """differentiable: autograd agrees with finite differences in float64 (with label smoothing)"""
        inputs = dpo_inputs(4, torch.float64, 9)
        assert_gradients_match_finite_differences(lambda *x: ex.dpo_loss(*x, beta=0.3, label_smoothing=0.1)[0],
                                                  list(inputs), call="dpo_loss(pc, pr, rc, rr, beta=0.3, label_smoothing=0.1)")

    def test_stable_for_large_margins(self, ex):
        """stable for beta*h like ±150 in float32 (logsigmoid, not log(sigmoid(x)))"""
        pc = torch.tensor([0.0, -3000.0])
        pr = torch.tensor([-3000.0, 0.0])
        zero = torch.zeros(2)
        expected = [torch.tensor((softplus(-150.0) + softplus(150.0)) / 2), torch.tensor([0.0, -150.0]),
                    torch.tensor([-150.0, 0.0])]
        check_outputs(ex, "dpo_loss", pc, pr, zero, zero, beta=0.05, expected=expected, outputs=DPO_OUTPUTS, names=DPO_NAMES)


@pytest.mark.target("grpo_advantages")
class TestGrpoAdvantages:
    @given(batch=st.integers(1, 4), group=st.integers(2, 8), dtype=float_dtypes, seed=seeds,
           eps=st.sampled_from([1e-4, 1e-2, 1.0]), scale=st.booleans())
    def test_matches_reference(self, ex, batch, group, dtype, seed, eps, scale):
        """(r - mean over G) / (unbiased std over G + eps), each group on its own; r - mean when scale=False"""
        rewards = randn((batch, group), dtype, seed, scale=2.0) + randn((batch, 1), dtype, seed + 1, scale=5.0)
        expected = ref.grpo_advantages(rewards.double(), eps=eps, scale=scale).to(dtype)
        check_call(ex, "grpo_advantages", rewards, eps=eps, scale=scale, expected=expected, names=["rewards"])

    def test_unbiased_std(self, ex):
        """the std is the unbiased one (divide by G - 1): rewards [0, 1] give ±0.5 / (0.7071 + eps)"""
        rewards = torch.tensor([[0.0, 1.0], [3.0, 5.0]], dtype=torch.float64)
        s = math.sqrt(0.5)
        expected = torch.tensor([[-0.5 / (s + 1e-4), 0.5 / (s + 1e-4)], [-1 / (2 * s + 1e-4), 1 / (2 * s + 1e-4)]],
                                dtype=torch.float64)
        check_call(ex, "grpo_advantages", rewards, expected=expected, names=["rewards"])

    @given(group=st.integers(2, 6), seed=seeds, scale=st.booleans())
    def test_per_group_not_per_batch(self, ex, group, seed, scale):
        """each group is normalised on its own: changing another group's rewards changes nothing in this one"""
        rewards = randn((3, group), torch.float64, seed)
        other = rewards.clone()
        other[1:] = other[1:] * 10.0 + 7.0
        first = expect_tensor(ex.grpo_advantages(rewards, scale=scale), call="grpo_advantages(rewards (3, G))",
                              shape=(3, group), dtype=torch.float64)
        check_call(ex, "grpo_advantages", other, scale=scale,
                   expected=torch.cat([first[:1].detach(), ref.grpo_advantages(other[1:], scale=scale)]),
                   names=["rewards (groups 1 and 2 rescaled)"])

    def test_eps(self, ex):
        """eps is added to the std: an all-equal group gives zeros (not NaN), and eps=1 divides by std + 1"""
        rewards = torch.tensor([[2.0, 2.0, 2.0], [1.0, 2.0, 6.0]], dtype=torch.float64)
        check_call(ex, "grpo_advantages", rewards, expected=ref.grpo_advantages(rewards), names=["rewards"])
        check_call(ex, "grpo_advantages", rewards, eps=1.0, expected=ref.grpo_advantages(rewards, eps=1.0),
                   names=["rewards"])

    @given(batch=st.integers(1, 4), group=st.integers(1, 6), seed=seeds)
    def test_scale_false(self, ex, batch, group, seed):
        """scale=False returns r - mean over G only (any G, even 1)"""
        rewards = randn((batch, group), torch.float64, seed, scale=3.0)
        check_call(ex, "grpo_advantages", rewards, scale=False, expected=rewards - rewards.mean(dim=1, keepdim=True),
                   names=["rewards"])

    def test_one_completion_per_group_raises(self, ex):
        """ValueError for G < 2 when scale=True (one sample has no standard deviation)"""
        with pytest.raises(ValueError):
            ex.grpo_advantages(torch.ones(3, 1))

    def test_does_not_modify_input(self, ex):
        """the rewards tensor is left unchanged"""
        rewards = randn((2, 4), torch.float64, 1)
        before = rewards.clone()
        ex.grpo_advantages(rewards)
        assert_close(rewards, before, call="rewards after grpo_advantages(rewards)", what="the input's values")


def grpo_inputs(batch, length, dtype, seed, spread=0.3):
    """Per-token log-probs: logps, old_logps (ratios around 1, some clipped), ref_logps, advantages."""
    logps = -randn((batch, length), dtype, seed).abs() * 2 - 0.1
    old = logps + randn((batch, length), dtype, seed + 1, scale=spread)
    ref_logps = logps + randn((batch, length), dtype, seed + 2, scale=0.5)
    advantages = randn((batch,), dtype, seed + 3)
    return logps, old, advantages, ref_logps


GRPO_NAMES = ["logps", "old_logps", "advantages", "mask"]


@pytest.mark.target("grpo_loss")
class TestGrpoLoss:
    @given(batch=batches, length=lengths, dtype=float_dtypes, seed=seeds, data=st.data(),
           clip_eps=st.floats(0.05, 0.5), beta=st.sampled_from([0.0, 0.04, 0.5]))
    def test_matches_reference(self, ex, batch, length, dtype, seed, data, clip_eps, beta):
        """-min(ratio A, clip(ratio) A) + beta k3 per token, averaged per sequence, then over sequences"""
        logps, old, adv, ref_logps = grpo_inputs(batch, length, dtype, seed)
        mask = data.draw(token_masks(batch, length, nonempty_rows=True), label="mask")
        expected = ref.grpo_loss(logps.double(), old.double(), adv.double(), mask, ref_logps.double(),
                                 clip_eps=clip_eps, beta=beta).to(dtype)
        check_call(ex, "grpo_loss", logps, old, adv, mask, ref_logps=ref_logps, clip_eps=clip_eps, beta=beta,
                   expected=expected, names=GRPO_NAMES)

    @given(clip_eps=st.floats(0.05, 0.5), fractions=st.lists(st.floats(0.01, 0.99), min_size=6, max_size=6),
           magnitudes=st.lists(st.floats(0.1, 3.0), min_size=6, max_size=6))
    def test_clipping_both_sides(self, ex, clip_eps, fractions, magnitudes):
        """ratios above 1+eps (A > 0) and below 1-eps (A < 0) are clipped (zero gradient); the other sides are not"""
        # one single-token sequence per case: ratio above / inside / below the clip range, for A > 0 and A < 0
        above = (1 + clip_eps) * math.exp(0.01 + 2 * fractions[0])
        inside = (1 - clip_eps) + 2 * clip_eps * fractions[1]
        below = (1 - clip_eps) * math.exp(-(0.01 + 2 * fractions[2]))
        inside_neg = (1 - clip_eps) + 2 * clip_eps * fractions[4]
        ratios = [above, inside, below, (1 + clip_eps) * math.exp(0.01 + 2 * fractions[3]), inside_neg,
                  (1 - clip_eps) * math.exp(-(0.01 + 2 * fractions[5]))]
        assume(all(abs(r - (1 + clip_eps)) > 1e-6 and abs(r - (1 - clip_eps)) > 1e-6 for r in ratios))
        adv = [magnitudes[i] if i < 3 else -magnitudes[i] for i in range(6)]
        #          A > 0: above clipped, inside and below not;  A < 0: below clipped, inside and above not
        clipped = [True, False, False, False, False, True]
        per_token = [-(1 + clip_eps) * a if c and a > 0 else -(1 - clip_eps) * a if c else -r * a
                     for r, a, c in zip(ratios, adv, clipped)]
        grads = [0.0 if c else -r * a / 6 for r, a, c in zip(ratios, adv, clipped)]
        old = torch.full((6, 1), -1.0, dtype=torch.float64)
        logps = (old + torch.tensor(ratios, dtype=torch.float64).log()[:, None]).requires_grad_()
        advantages = torch.tensor(adv, dtype=torch.float64)
        mask = torch.ones(6, 1, dtype=torch.bool)
        out = check_call(ex, "grpo_loss", logps, old, advantages, mask, clip_eps=clip_eps,
                         expected=torch.tensor(sum(per_token) / 6, dtype=torch.float64), names=GRPO_NAMES)
        out.backward()
        assert logps.grad is not None, "grpo_loss: no gradient reached logps"
        assert_close(logps.grad, torch.tensor(grads, dtype=torch.float64)[:, None],
                     call=f"d grpo_loss / d logps, ratios {[round(r, 3) for r in ratios]}, advantages {[round(a, 3) for a in adv]}, "
                          f"clip_eps={clip_eps:.3g} (zero where clipped, -ratio*A/B elsewhere)", what="gradients")

    @given(batch=batches, length=lengths, seed=seeds, data=st.data(), beta=st.sampled_from([0.0, 0.1]))
    def test_masked_tokens_ignored(self, ex, batch, length, seed, data, beta):
        """masked tokens change nothing: other logps, old_logps or ref_logps there give the same loss and no gradient"""
        logps, old, adv, ref_logps = grpo_inputs(batch, length, torch.float64, seed)
        mask = data.draw(token_masks(batch, length, nonempty_rows=True), label="mask")
        garbage = [randn((batch, length), torch.float64, seed + 10 + i, scale=3.0) - 2.0 for i in range(3)]
        new = [torch.where(mask, t, g) for t, g in zip((logps, old, ref_logps), garbage)]
        new[0].requires_grad_()
        out = check_call(ex, "grpo_loss", new[0], new[1], adv, mask, ref_logps=new[2], beta=beta,
                         expected=ref.grpo_loss(logps, old, adv, mask, ref_logps, beta=beta),
                         names=["logps (other values where masked)", "old_logps (same)", "advantages", "mask"])
        out.backward()
        assert new[0].grad is not None, "grpo_loss: no gradient reached logps"
        assert_close(new[0].grad[~mask], torch.zeros_like(new[0].grad[~mask]),
                     call="d grpo_loss / d logps at masked positions", what="gradients")

    def test_per_sequence_averaging(self, ex):
        """each sequence's tokens are averaged first, then the sequences: a 1-token and a 4-token completion weigh the same"""
        logps = torch.full((2, 4), -1.0, dtype=torch.float64)
        mask = torch.tensor([[True, False, False, False], [True, True, True, True]])
        advantages = torch.tensor([1.0, -1.0], dtype=torch.float64)
        # ratio 1 everywhere: per-token loss -A, so the sequences average to -1 and +1: the loss is 0
        # (a mean over all 5 tokens would give 0.6)
        check_call(ex, "grpo_loss", logps, logps.clone(), advantages, mask,
                   expected=torch.tensor(0.0, dtype=torch.float64), names=GRPO_NAMES)

    @given(batch=batches, length=lengths, seed=seeds, data=st.data())
    def test_beta_zero_ignores_ref(self, ex, batch, length, seed, data):
        """with beta=0 (the default) ref_logps is not needed: None or any values give the same loss"""
        logps, old, adv, ref_logps = grpo_inputs(batch, length, torch.float64, seed)
        mask = data.draw(token_masks(batch, length, nonempty_rows=True), label="mask")
        expected = ref.grpo_loss(logps, old, adv, mask)
        check_call(ex, "grpo_loss", logps, old, adv, mask, expected=expected, names=GRPO_NAMES)
        check_call(ex, "grpo_loss", logps, old, adv, mask, ref_logps=ref_logps * 3.0, beta=0.0, expected=expected,
                   names=GRPO_NAMES)

    @given(batch=batches, length=lengths, seed=seeds, data=st.data(), beta=st.floats(0.01, 1.0))
    def test_k3_penalty(self, ex, batch, length, seed, data, beta):
        """k3 = exp(ref - logp) - (ref - logp) - 1: the loss is >= 0 with zero advantages, and 0 when policy = reference"""
        logps, old, _, ref_logps = grpo_inputs(batch, length, torch.float64, seed)
        mask = data.draw(token_masks(batch, length, nonempty_rows=True), label="mask")
        zero_adv = torch.zeros(batch, dtype=torch.float64)
        out = check_call(ex, "grpo_loss", logps, old, zero_adv, mask, ref_logps=ref_logps, beta=beta,
                         expected=ref.grpo_loss(logps, old, zero_adv, mask, ref_logps, beta=beta),
                         names=["logps", "old_logps", "advantages (zero)", "mask"])
        assert out.item() >= 0, f"grpo_loss with zero advantages is beta * mean k3, which is >= 0; got {out.item():.6g}"
        check_call(ex, "grpo_loss", logps, old, zero_adv, mask, ref_logps=logps.clone(), beta=beta,
                   expected=torch.tensor(0.0, dtype=torch.float64), names=["logps", "old_logps", "advantages (zero)", "mask"])

    def test_gradient_only_through_logps(self, ex):
        """gradients flow through logps only: autograd agrees with the reference and with finite differences"""
        logps, old, adv, ref_logps = grpo_inputs(3, 5, torch.float64, 13, spread=0.15)
        mask = torch.tensor([[True, True, False, True, False], [True] * 5, [False, False, True, True, True]])
        kwargs = dict(ref_logps=ref_logps, clip_eps=0.2, beta=0.1)
        call = describe_call("grpo_loss", [logps, old, adv, mask], kwargs, GRPO_NAMES)
        assert_gradients_match_finite_differences(lambda x: ex.grpo_loss(x, old, adv, mask, **kwargs), [logps], call=call)
        mine, theirs = logps.clone().requires_grad_(), logps.clone().requires_grad_()
        ex.grpo_loss(mine, old, adv, mask, **kwargs).backward()
        ref.grpo_loss(theirs, old, adv, mask, **kwargs).backward()
        assert_close(mine.grad, theirs.grad, call=f"d {call} / d logps", what="gradients")

    def test_gradient_on_policy(self, ex):
        """with old_logps = logps.detach() (ratio 1), each counted token gets gradient -A / (n_tokens * B)"""
        logps, _, adv, _ = grpo_inputs(2, 4, torch.float64, 17)
        mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
        x = logps.clone().requires_grad_()
        out = expect_tensor(ex.grpo_loss(x, x.detach(), adv, mask), call="grpo_loss(logps, logps.detach(), advantages, mask)",
                            shape=())
        out.backward()
        expected = -adv[:, None] * mask / (mask.sum(dim=1, keepdim=True) * 2)
        assert x.grad is not None, "grpo_loss: no gradient reached logps"
        assert_close(x.grad, expected, call="d grpo_loss(logps, logps.detach(), advantages, mask) / d logps", what="gradients")


@pytest.mark.target("from scratch")
def test_no_banned_apis(ex_file):
    """the file uses none of the APIs this exercise asks you to write yourself"""
    assert_no_banned_apis(EXERCISE, ex_file)
