"""Post-training losses: SFT, a Bradley-Terry reward model, DPO and GRPO.

Shapes: `B` batch (sequences, or prompts for GRPO), `T` tokens, `V` vocabulary, `G` completions
per prompt. Log-probability tensors are already aligned by the caller: `logits[:, t]` scores
`labels[:, t]` (shift by one before calling, as a causal LM predicts the next token).
Masks are bool, True = the token counts (completion tokens), False = ignored (prompt, padding).
Contract: ../shared/exercise-contract.md, section 8.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sequence_logprobs(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The log-probability of each whole sequence: sum_t mask[b, t] * log p(labels[b, t]).

    logits: (B, T, V) float; labels: (B, T) int64 token ids; mask: (B, T) bool.
    Returns: (B,), the *sum* (not the mean) over counted positions of log_softmax(logits)[label];
    a row with no counted position gives 0. Positions where mask is False contribute nothing,
    whatever their logits.
    """
    raise NotImplementedError("post_training.sequence_logprobs: not implemented yet (the docstring says what to compute)")


def sft_loss(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Supervised fine-tuning loss: the mean negative log-likelihood per counted token.

    logits: (B, T, V); labels: (B, T) int64; mask: (B, T) bool (False for prompt tokens and padding).
    Returns: a scalar, -sum_{b,t} mask * log p(label) / sum_{b,t} mask. Every counted token of the
    batch weighs the same (a long answer weighs more than a short one); prompt tokens' logits
    do not matter at all.
    """
    raise NotImplementedError("post_training.sft_loss: not implemented yet (the docstring says what to compute)")


def reward_model_loss(chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor) -> torch.Tensor:
    """Bradley-Terry pairwise loss for a reward model: -mean(log sigmoid(r_chosen - r_rejected)).

    chosen_rewards, rejected_rewards: (B,) scalar rewards of the preferred and the other answer.
    Returns: a scalar. Under Bradley-Terry, P(chosen > rejected) = sigmoid(r_c - r_r), so this is
    the mean negative log-likelihood of the human preferences. Equal rewards give ln 2.
    """
    raise NotImplementedError("post_training.reward_model_loss: not implemented yet (the docstring says what to compute)")


def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float = 0.1,
    label_smoothing: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Direct Preference Optimization (Rafailov et al. 2023), with cDPO label smoothing.

    All inputs: (B,) sequence log-probs (`sequence_logprobs`) of the chosen and rejected answers
    under the policy being trained and under the frozen reference model.
        h = (pc - rc) - (pr - rr)        how much more the policy prefers chosen than the reference does
        loss = mean(-(1 - eps) * logsigmoid(beta * h) - eps * logsigmoid(-beta * h)),  eps = label_smoothing
    label_smoothing > 0 assumes each preference label is flipped with probability eps.
    Returns: (loss scalar, chosen_rewards (B,), rejected_rewards (B,)) with the implicit rewards
    beta * (pc - rc) and beta * (pr - rr), detached: they are for logging, not for gradients.
    """
    raise NotImplementedError("post_training.dpo_loss: not implemented yet (the docstring says what to compute)")


def grpo_advantages(rewards: torch.Tensor, eps: float = 1e-4, scale: bool = True) -> torch.Tensor:
    """Group-relative advantages (GRPO, DeepSeekMath 2024): normalise rewards within each group.

    rewards: (B, G), row b holds the rewards of the G completions sampled for prompt b.
    Returns: (B, G), (r - mean_g r) / (std_g r + eps) with the *unbiased* std (divide by G - 1,
    torch.std's default); each group is normalised on its own, never across the batch.
    scale=False returns r - mean_g r only (Dr. GRPO). ValueError for G < 2 when scale=True
    (one sample has no standard deviation).
    """
    raise NotImplementedError("post_training.grpo_advantages: not implemented yet (the docstring says what to compute)")


def grpo_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    ref_logps: torch.Tensor | None = None,
    clip_eps: float = 0.2,
    beta: float = 0.0,
) -> torch.Tensor:
    """GRPO's clipped surrogate loss, token-level as in TRL, with the k3 KL penalty.

    logps: (B, T) per-token log-probs of the sampled completions under the policy being trained
    (the only input gradients flow into); old_logps: (B, T) the same under the policy that sampled
    them; ref_logps: (B, T) under the reference model (needed only when beta > 0);
    advantages: (B,) one per completion (`grpo_advantages`, flattened); mask: (B, T) bool.
    Per token, with ratio = exp(logps - old_logps) and A the completion's advantage:
        l = -min(ratio * A, clamp(ratio, 1 - clip_eps, 1 + clip_eps) * A) + beta * k3
        k3 = exp(ref - logps) - (ref - logps) - 1     (>= 0; an unbiased estimate of KL(pi || ref))
    Returns: a scalar, the mean over sequences of sum_t(mask * l) / sum_t(mask).
    """
    raise NotImplementedError("post_training.grpo_loss: not implemented yet (the docstring says what to compute)")
