"""Oracles for `post_training`, written from the papers' formulas another way (never from solutions/).

- log-likelihoods through `F.cross_entropy` on the selected tokens;
- Bradley-Terry and DPO (with cDPO label smoothing) as binary cross-entropy with logits
  against a (soft) target: BCE(x, y) = -y log sigmoid(x) - (1 - y) log sigmoid(-x);
- GRPO's clipped objective in its piecewise form: for A >= 0 it is -min(r, 1 + eps) * A,
  for A < 0 it is -max(r, 1 - eps) * A (the same function as TRL's -min(r A, clip(r) A));
- per-sequence averages with explicit Python loops over rows.
Checked against TRL (trl/trainer/dpo_trainer.py sigmoid loss, trl/trainer/grpo_trainer.py
per_token_loss / per_token_kl / loss_type="grpo") and the DeepSeekMath paper (k3 estimator).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B, T) log p(label) via cross-entropy (which is -log_softmax at the label)."""
    batch, length, vocab = logits.shape
    nll = F.cross_entropy(logits.reshape(-1, vocab), labels.reshape(-1), reduction="none")
    return -nll.reshape(batch, length)


def sequence_logprobs(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    rows = []
    for b in range(logits.shape[0]):
        counted = mask[b]
        if counted.any():
            rows.append(-F.cross_entropy(logits[b][counted], labels[b][counted], reduction="sum"))
        else:
            rows.append(logits.new_zeros(()) + 0.0 * logits[b].sum())  # keeps the graph
    return torch.stack(rows)


def sft_loss(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits[mask], labels[mask], reduction="mean")


def reward_model_loss(chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
    margin = chosen - rejected
    return F.binary_cross_entropy_with_logits(margin, torch.ones_like(margin))


def dpo_loss(pc: torch.Tensor, pr: torch.Tensor, rc: torch.Tensor, rr: torch.Tensor, beta: float = 0.1,
             label_smoothing: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """cDPO (Mitchell 2023, eq. 3; TRL's "sigmoid" loss): BCE of beta*h against target 1 - eps."""
    h = (pc - pr) - (rc - rr)
    target = torch.full_like(h, 1.0 - label_smoothing)
    loss = F.binary_cross_entropy_with_logits(beta * h, target)
    with torch.no_grad():
        chosen, rejected = beta * (pc - rc), beta * (pr - rr)
    return loss, chosen, rejected


def grpo_advantages(rewards: torch.Tensor, eps: float = 1e-4, scale: bool = True) -> torch.Tensor:
    n_groups, group = rewards.shape
    out = torch.empty_like(rewards)
    for b in range(n_groups):
        r = rewards[b]
        mean = r.sum() / group
        centered = r - mean
        if scale:
            std = torch.sqrt((centered ** 2).sum() / (group - 1))  # unbiased (Bessel's correction)
            centered = centered / (std + eps)
        out[b] = centered
    return out


def grpo_per_token(logps: torch.Tensor, old_logps: torch.Tensor, advantages: torch.Tensor,
                   ref_logps: torch.Tensor | None, clip_eps: float, beta: float) -> torch.Tensor:
    """(B, T) per-token GRPO loss, piecewise form of the clipped objective."""
    ratio = torch.exp(logps - old_logps)
    adv = advantages[:, None].expand_as(ratio)
    upper = torch.minimum(ratio, torch.full_like(ratio, 1 + clip_eps))  # A >= 0: gains stop at 1 + eps
    lower = torch.maximum(ratio, torch.full_like(ratio, 1 - clip_eps))  # A < 0: gains stop at 1 - eps
    surrogate = torch.where(adv >= 0, upper, lower) * adv
    loss = -surrogate
    if beta > 0:
        loss = loss + beta * k3(logps, ref_logps)
    return loss


def k3(logps: torch.Tensor, ref_logps: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(pi || ref) from samples of pi: r - log r - 1, r = ref/pi."""
    log_r = ref_logps - logps
    return torch.expm1(log_r) - log_r


def grpo_loss(logps: torch.Tensor, old_logps: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
              ref_logps: torch.Tensor | None = None, clip_eps: float = 0.2, beta: float = 0.0) -> torch.Tensor:
    per_token = grpo_per_token(logps, old_logps, advantages, ref_logps, clip_eps, beta)
    per_sequence = [per_token[b][mask[b]].mean() for b in range(per_token.shape[0])]
    return torch.stack(per_sequence).mean()
