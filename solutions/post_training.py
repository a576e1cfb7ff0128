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
    # BEGIN SOLUTION
    logprobs = torch.log_softmax(logits, dim=-1)  # (B, T, V), stable: logits - logsumexp
    token_logps = logprobs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)  # (B, T)
    # torch.where, not a multiplication: 0 * (-inf) would be NaN
    token_logps = torch.where(mask, token_logps, torch.zeros_like(token_logps))
    return token_logps.sum(dim=-1)
    # END SOLUTION


def sft_loss(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Supervised fine-tuning loss: the mean negative log-likelihood per counted token.

    logits: (B, T, V); labels: (B, T) int64; mask: (B, T) bool (False for prompt tokens and padding).
    Returns: a scalar, -sum_{b,t} mask * log p(label) / sum_{b,t} mask. Every counted token of the
    batch weighs the same (a long answer weighs more than a short one); prompt tokens' logits
    do not matter at all.
    """
    # BEGIN SOLUTION
    total_logp = sequence_logprobs(logits, labels, mask).sum()  # over every counted token
    n_tokens = mask.sum()
    return -total_logp / n_tokens
    # END SOLUTION


def reward_model_loss(chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor) -> torch.Tensor:
    """Bradley-Terry pairwise loss for a reward model: -mean(log sigmoid(r_chosen - r_rejected)).

    chosen_rewards, rejected_rewards: (B,) scalar rewards of the preferred and the other answer.
    Returns: a scalar. Under Bradley-Terry, P(chosen > rejected) = sigmoid(r_c - r_r), so this is
    the mean negative log-likelihood of the human preferences. Equal rewards give ln 2.
    """
    # BEGIN SOLUTION
    margin = chosen_rewards - rejected_rewards
    return -F.logsigmoid(margin).mean()  # logsigmoid is stable where log(sigmoid(x)) gives -inf
    # END SOLUTION


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
    # BEGIN SOLUTION
    chosen_logratios = policy_chosen_logps - ref_chosen_logps  # log pi/ref on the chosen answer
    rejected_logratios = policy_rejected_logps - ref_rejected_logps
    logits = beta * (chosen_logratios - rejected_logratios)  # beta * h
    losses = -(1 - label_smoothing) * F.logsigmoid(logits) - label_smoothing * F.logsigmoid(-logits)
    chosen_rewards = beta * chosen_logratios.detach()
    rejected_rewards = beta * rejected_logratios.detach()
    return losses.mean(), chosen_rewards, rejected_rewards
    # END SOLUTION


def grpo_advantages(rewards: torch.Tensor, eps: float = 1e-4, scale: bool = True) -> torch.Tensor:
    """Group-relative advantages (GRPO, DeepSeekMath 2024): normalise rewards within each group.

    rewards: (B, G), row b holds the rewards of the G completions sampled for prompt b.
    Returns: (B, G), (r - mean_g r) / (std_g r + eps) with the *unbiased* std (divide by G - 1,
    torch.std's default); each group is normalised on its own, never across the batch.
    scale=False returns r - mean_g r only (Dr. GRPO). ValueError for G < 2 when scale=True
    (one sample has no standard deviation).
    """
    # BEGIN SOLUTION
    if scale and rewards.shape[1] < 2:
        raise ValueError(f"grpo_advantages needs at least 2 completions per group to scale, got G={rewards.shape[1]}")
    centered = rewards - rewards.mean(dim=1, keepdim=True)
    if not scale:
        return centered
    return centered / (rewards.std(dim=1, keepdim=True) + eps)
    # END SOLUTION


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
    # BEGIN SOLUTION
    ratio = torch.exp(logps - old_logps)  # (B, T)
    adv = advantages.unsqueeze(-1)  # (B, 1): broadcast over the tokens of each completion
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * adv
    per_token = -torch.min(unclipped, clipped)  # pessimistic: never profit from moving past the clip
    if beta > 0:
        if ref_logps is None:
            raise ValueError("grpo_loss needs ref_logps when beta > 0")
        log_ratio_ref = ref_logps - logps
        per_token = per_token + beta * (torch.exp(log_ratio_ref) - log_ratio_ref - 1)
    mask = mask.to(per_token.dtype)
    per_sequence = (per_token * mask).sum(dim=-1) / mask.sum(dim=-1)  # mean over each completion's tokens
    return per_sequence.mean()
    # END SOLUTION
