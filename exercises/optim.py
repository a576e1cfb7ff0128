"""Training-loop machinery from scratch: AdamW, a warmup + cosine learning-rate schedule,
and gradient clipping by the global norm.

Contract: ../shared/exercise-contract.md, section 10. Compare with `torch.optim.AdamW`,
and `torch.nn.utils.clip_grad_norm_` (which you may not use here).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch


class AdamW:
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as `torch.optim.AdamW`.

    Built like a torch optimizer: `self.param_groups` is a list of dicts, each holding
    "params" (a list of tensors) and that group's "lr", "betas", "eps" and "weight_decay".
    `params` is either an iterable of tensors (one group) or an iterable of dicts such as
    `[{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}]`;
    a dict's missing options take the constructor's (`self.defaults`). A learning-rate schedule
    changes `group["lr"]` between steps, so `step` must read the options from the groups
    every time. `self.state[p]` is the per-parameter state: a dict you fill on p's first step.
    """

    def __init__(self, params: Iterable[torch.Tensor] | Iterable[dict[str, Any]], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2) -> None:
        self.defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        groups = list(params)
        if groups and not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.param_groups: list[dict[str, Any]] = [
            {**self.defaults, **group, "params": list(group["params"])} for group in groups]
        self.state: dict[torch.Tensor, dict[str, Any]] = {}  # keyed by the parameter tensor itself

    @torch.no_grad()  # the update itself must not be recorded by autograd
    def step(self) -> None:
        """One AdamW update of every parameter that has a gradient (`p.grad is None`: skipped).

        Per parameter p with gradient g, with its own step count t = 1, 2, ... (a parameter
        skipped on some steps counts only the steps it was updated):

            p   <- p * (1 - lr * weight_decay)          decoupled decay, applied first
            m   <- beta1 * m + (1 - beta1) * g          first moment   (starts at 0)
            v   <- beta2 * v + (1 - beta2) * g^2        second moment  (starts at 0)
            m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)      bias correction
            p   <- p - lr * m_hat / (sqrt(v_hat) + eps)

        Everything happens in place on p (same tensor object), element-wise with torch ops:
        one loop over parameters, none over their elements.
        """
        raise NotImplementedError("optim.AdamW.step: not implemented yet (the docstring says what to compute)")

    def zero_grad(self) -> None:
        """Forget every parameter's gradient before the next backward pass.

        Either set `p.grad = None` (what torch does by default) or fill it with zeros: both
        make the next `.backward()` produce fresh gradients instead of adding to old ones.
        """
        raise NotImplementedError("optim.AdamW.zero_grad: not implemented yet (the docstring says what to compute)")


def cosine_lr(step: int, max_lr: float, min_lr: float, warmup_steps: int, total_steps: int) -> float:
    """The learning rate at `step` (0-based): linear warmup, then a half cosine, then flat.

        step < warmup_steps:                 max_lr * (step + 1) / warmup_steps
        warmup_steps <= step < total_steps:  min_lr + (max_lr - min_lr) * (1 + cos(pi * progress)) / 2,
                                             progress = (step - warmup_steps) / (total_steps - warmup_steps)
        step >= total_steps:                 min_lr

    So the last warmup step reaches max_lr, the cosine starts at max_lr (progress 0) and
    would reach min_lr at step == total_steps, where the flat part takes over.
    Returns a Python float.
    """
    raise NotImplementedError("optim.cosine_lr: not implemented yet (the docstring says what to compute)")


def clip_grad_norm(params: Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Scale all gradients together so that their global L2 norm is at most `max_norm`.

        total = sqrt(sum over parameters of sum(p.grad ** 2))   (parameters without .grad: skipped)
        if max_norm / (total + 1e-6) < 1:  every p.grad *= max_norm / (total + 1e-6), in place

    `params` may be any iterable, including a one-shot generator like `model.parameters()`.
    Returns `total`, the norm *before* clipping, as a 0-d tensor (the gradients' dtype).
    """
    raise NotImplementedError("optim.clip_grad_norm: not implemented yet (the docstring says what to compute)")
