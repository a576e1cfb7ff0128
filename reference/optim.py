"""Oracles for `optim` (never built on solutions/): torch.optim.AdamW's update ported op for
op (`matches_torch_optim` checks it against torch.optim itself), torch.nn.utils.clip_grad_norm_,
and the schedule's formula written another way."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

Grads = Sequence[Sequence[torch.Tensor | None]]  # grads[step][i]: parameter i's gradient at that step


def adamw_trajectory(params: Sequence[torch.Tensor], grads: Grads, groups: Sequence[dict] | None = None,
                     lrs: Sequence[float] | None = None, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                     eps: float = 1e-8, weight_decay: float = 1e-2) -> list[list[torch.Tensor]]:
    """The parameters after each step of AdamW fed these gradients: torch.optim.AdamW's update
    (`torch.optim.adam._single_tensor_adam` with decoupled decay), op for op.

    torch.optim itself is not used here: building any torch optimizer imports torch._dynamo,
    which would cost every grading about a second and a half. `matches_torch_optim` checks that
    this port equals torch.optim.AdamW bit for bit.

    params: initial values (never modified). groups: optional param-group dicts whose "params"
    are indices into `params`; options they lack take the keyword arguments' values. lrs: an
    optional learning rate per step, set on every group before that step (as a scheduler
    would). Returns states[step][i].
    """
    ps = [p.detach().clone() for p in params]
    defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
    groups = [{**defaults, **g} for g in (groups or [{"params": list(range(len(ps)))}])]
    state: dict[int, tuple[torch.Tensor, torch.Tensor, list[int]]] = {}  # i -> (exp_avg, exp_avg_sq, [step])
    states = []
    for t, step_grads in enumerate(grads):
        for group in groups:
            group_lr = group["lr"] if lrs is None else lrs[t]
            beta1, beta2 = group["betas"]
            for i in group["params"]:
                grad, param = step_grads[i], ps[i]
                if grad is None:
                    continue
                if i not in state:
                    state[i] = (torch.zeros_like(param), torch.zeros_like(param), [0])
                exp_avg, exp_avg_sq, step = state[i]
                step[0] += 1
                param.mul_(1 - group_lr * group["weight_decay"])
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                bias_correction1 = 1 - beta1 ** step[0]
                bias_correction2 = 1 - beta2 ** step[0]
                step_size = group_lr / bias_correction1
                denom = (exp_avg_sq.sqrt() / bias_correction2 ** 0.5).add_(group["eps"])
                param.addcdiv_(exp_avg, denom, value=-step_size)
        states.append([p.clone() for p in ps])
    return states


def torch_adamw_trajectory(params: Sequence[torch.Tensor], grads: Grads, groups: Sequence[dict] | None = None,
                           lrs: Sequence[float] | None = None, **options: float) -> list[list[torch.Tensor]]:
    """`adamw_trajectory` computed by torch.optim.AdamW itself (slow to start: imports torch._dynamo)."""
    ps = [p.detach().clone().requires_grad_() for p in params]
    spec: list = ps if groups is None else [{**g, "params": [ps[i] for i in g["params"]]} for g in groups]
    opt = torch.optim.AdamW(spec, foreach=False, **options)
    states = []
    for t, step_grads in enumerate(grads):
        if lrs is not None:
            for group in opt.param_groups:
                group["lr"] = lrs[t]
        for p, g in zip(ps, step_grads):
            p.grad = None if g is None else g.clone()
        opt.step()
        states.append([p.detach().clone() for p in ps])
    return states


def matches_torch_optim(seed: int = 0) -> bool:
    """True when `adamw_trajectory` equals torch.optim.AdamW exactly (float32 and float64, param
    groups, a schedule, gradients that are sometimes None). For the kit's self-test."""
    generator = torch.Generator().manual_seed(seed)
    for dtype in (torch.float32, torch.float64):
        shapes = [(3, 2), (4,), ()]
        params = [torch.randn(s, generator=generator, dtype=dtype) for s in shapes]
        grads = [[None if (t + i) % 4 == 0 else torch.randn(s, generator=generator, dtype=dtype) * 10.0 ** -i
                  for i, s in enumerate(shapes)] for t in range(12)]
        groups = [{"params": [0, 2], "weight_decay": 0.0},
                  {"params": [1], "lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6}]
        lrs = [0.01 * (1 + t % 3) for t in range(12)]
        for kwargs in ({}, {"groups": groups}, {"groups": groups, "lrs": lrs}):
            options = {"lr": 0.02, "weight_decay": 0.1}
            ours = adamw_trajectory(params, grads, **kwargs, **options)
            theirs = torch_adamw_trajectory(params, grads, **kwargs, **options)
            if not all(torch.equal(a, b) for x, y in zip(ours, theirs) for a, b in zip(x, y)):
                return False
    return True


def clip_grad_norm(grads: Sequence[torch.Tensor | None],
                   max_norm: float) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """(total norm before clipping, the clipped gradients) from torch.nn.utils.clip_grad_norm_."""
    ps = []
    for g in grads:
        p = torch.zeros_like(g) if g is not None else torch.zeros(1)
        p.grad = None if g is None else g.clone()
        ps.append(p)
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
    return total, [p.grad for p in ps]


def cosine_lr(step: int, max_lr: float, min_lr: float, warmup_steps: int, total_steps: int) -> float:
    """Warmup to max_lr, then max_lr -> min_lr along cos^2 (= (1 + cos 2x) / 2), then min_lr."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps * max_lr
    if step >= total_steps:
        return min_lr
    half_angle = 0.5 * math.pi * (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + (max_lr - min_lr) * math.cos(half_angle) ** 2
