"""Grades `optim` (contract section 10) against torch.optim.AdamW, torch.nn.utils.clip_grad_norm_
and the warmup + cosine formula."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from reference.optim import adamw_trajectory
from reference.optim import clip_grad_norm as reference_clip
from reference.optim import cosine_lr as reference_cosine
from tests.helpers import assert_no_banned_apis, check_real_call, check_tensors, check_trajectory, describe
from tests.strategies import float_dtypes, log_uniform, param_shapes, randn, seeds

EXERCISE = "optim"
STEPS = 20


def make_grads(shapes, dtype, seed, steps=STEPS, scales=None, none_every=None):
    """grads[t][i] for parameter i at step t: randn * scale, or None where `none_every[i]` says so.

    none_every[i] = k > 0: None on every k-th step (t % k == 0); -1: always None; 0: never.
    """
    generator = torch.Generator().manual_seed(seed)
    scales = scales or [1.0] * len(shapes)
    none_every = none_every or [0] * len(shapes)
    grads = []
    for t in range(steps):
        row = []
        for shape, scale, k in zip(shapes, scales, none_every):
            g = torch.randn(shape, generator=generator, dtype=torch.float64) * scale
            row.append(None if k == -1 or (k > 0 and t % k == 0) else g.to(dtype))
        grads.append(row)
    return grads


def adamw_run(params, grads, groups=None, lrs=None, **options):
    """run(module): the graded AdamW fed `grads`; the parameters after each step."""
    def run(module):
        ps = [p.detach().clone().requires_grad_() for p in params]
        spec = ps if groups is None else [{**g, "params": [ps[i] for i in g["params"]]} for g in groups]
        opt = module.AdamW(spec, **options)
        states = []
        for t, step_grads in enumerate(grads):
            if lrs is not None:
                assert hasattr(opt, "param_groups"), (
                    "AdamW needs `self.param_groups`, a list of dicts with 'params', 'lr', 'betas', 'eps' and "
                    "'weight_decay' (the stub's __init__ builds it): a schedule sets group['lr'] between steps.")
                for group in opt.param_groups:
                    group["lr"] = lrs[t]
            for p, g in zip(ps, step_grads):
                p.grad = None if g is None else g.clone()
            opt.step()
            states.append([p.detach().clone() for p in ps])
        return states
    return run


def describe_adamw(params, groups=None, lrs=None, **options):
    shapes = ", ".join(describe(p) for p in params)
    extra = f", {len(groups)} param groups" if groups else ""
    extra += ", lr set by a schedule before each step" if lrs else ""
    opts = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in options.items())
    return f"AdamW([{shapes}]{extra}{', ' if opts else ''}{opts})"


def check_adamw(ex, params, grads, groups=None, lrs=None, atol=None, rtol=None, **options):
    expected = adamw_trajectory(params, grads, groups=groups, lrs=lrs, **options)
    check_trajectory(ex, "AdamW", adamw_run(params, grads, groups, lrs, **options), expected, initial=params,
                     call=describe_adamw(params, groups, lrs, **options), atol=atol, rtol=rtol)


@pytest.mark.target("AdamW")
class TestAdamW:
    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_matches_torch_float32(self, ex, seed):
        """matches torch.optim.AdamW to 1e-6 in float32 over 20 steps (default lr and betas, weight decay 0.1)"""
        shapes = [(4, 3), (5,), ()]
        params = [randn(s, torch.float32, seed + i) for i, s in enumerate(shapes)]
        grads = make_grads(shapes, torch.float32, seed, scales=[1.0, 1e-3, 10.0])
        check_adamw(ex, params, grads, atol=1e-6, rtol=1e-6, weight_decay=0.1)

    @given(shapes=param_shapes(), seed=seeds, lr=log_uniform(1e-4, 0.1), beta1=st.floats(0.5, 0.95),
           beta2=st.floats(0.9, 0.9999), eps=log_uniform(1e-10, 1e-4), weight_decay=st.floats(0.0, 0.5),
           grad_scale=log_uniform(1e-6, 10.0), with_none=st.booleans())
    def test_matches_torch_float64(self, ex, shapes, seed, lr, beta1, beta2, eps, weight_decay, grad_scale, with_none):
        """matches torch.optim.AdamW in float64 for any shapes, hyperparameters and gradient scale"""
        params = [randn(s, torch.float64, seed + i) for i, s in enumerate(shapes)]
        none_every = [(i % 3) + 2 if with_none else 0 for i in range(len(shapes))]
        grads = make_grads(shapes, torch.float64, seed, scales=[grad_scale] * len(shapes), none_every=none_every)
        check_adamw(ex, params, grads, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)

    def test_decay_order_eps_and_bias_correction_show(self, ex):
        """matches torch with a large lr and decay and tiny gradients, where decay order, eps placement and bias correction all show"""
        shapes = [(3, 2), (4,)]
        params = [randn(s, torch.float64, 10 + i) for i, s in enumerate(shapes)]
        grads = make_grads(shapes, torch.float64, 5, scales=[1e-6, 3.0])
        check_adamw(ex, params, grads, lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.3)

    def test_parameters_without_grad_are_skipped(self, ex):
        """a parameter whose .grad is None is left alone (no decay either), and counts only its own steps"""
        shapes = [(3,), (2, 2), (4,), ()]
        params = [randn(s, torch.float64, 20 + i) for i, s in enumerate(shapes)]
        # parameter 0: always a gradient; 1: none on every 3rd step; 2: never; 3: none on steps 0, 4, 8, ...
        grads = make_grads(shapes, torch.float64, 7, none_every=[0, 3, -1, 4])
        for t in range(5):  # parameter 1 also starts late: its first update is at step 5
            grads[t][1] = None
        check_adamw(ex, params, grads, lr=0.05, weight_decay=0.2)

    def test_param_groups_with_their_own_options(self, ex):
        """param groups (dicts) override lr, betas, eps and weight_decay; missing options take the defaults"""
        shapes = [(3, 2), (3,), (2,)]
        params = [randn(s, torch.float64, 30 + i) for i, s in enumerate(shapes)]
        grads = make_grads(shapes, torch.float64, 9, scales=[1.0, 0.1, 1e-5])
        groups = [{"params": [0], "weight_decay": 0.0},
                  {"params": [1, 2], "lr": 0.05, "betas": (0.7, 0.98), "eps": 1e-5}]
        check_adamw(ex, params, grads, groups=groups, lr=0.01, weight_decay=0.25)

    def test_reads_lr_from_param_groups_each_step(self, ex):
        """a schedule that sets param_group['lr'] before each step is followed (read lr at every step)"""
        shapes = [(3, 3), (2,)]
        params = [randn(s, torch.float64, 40 + i) for i, s in enumerate(shapes)]
        grads = make_grads(shapes, torch.float64, 11)
        lrs = [reference_cosine(t, 0.1, 0.01, 5, STEPS) for t in range(STEPS)]
        groups = [{"params": [0]}, {"params": [1], "weight_decay": 0.0}]
        check_adamw(ex, params, grads, groups=groups, lrs=lrs, lr=1e-3, weight_decay=0.1)

    def test_updates_in_place_without_autograd(self, ex):
        """step() updates the same tensors in place and records nothing for autograd (leaf parameters stay leaves)"""
        model = torch.nn.Linear(3, 2).double()
        params = list(model.parameters())
        opt = ex.AdamW(model.parameters(), lr=0.1)  # a one-shot generator, as in real training loops
        model(randn((4, 3), torch.float64, 0)).pow(2).sum().backward()
        before = [p.detach().clone() for p in params]
        opt.step()
        for name, p, old in zip(("weight", "bias"), params, before):
            assert p is getattr(model, name), f"AdamW.step replaced model.{name}; update the existing tensor in place"
            assert p.is_leaf and p.requires_grad and p.grad_fn is None, (
                f"after AdamW.step, model.{name} is no longer a leaf that requires grad (grad_fn={p.grad_fn}): "
                "do the update under torch.no_grad() (or on p.data) so autograd does not record it")
            assert not torch.equal(p.detach(), old), (
                f"AdamW.step did not change model.{name}: update in place (p.add_, p.mul_), not `p = p - ...`; "
                "and turn the params argument into a list once (it may be a generator)")

    @pytest.mark.gpu
    def test_cuda(self, ex):
        """on CUDA: matches the reference computed on the GPU, and parameters stay on the GPU"""
        device = torch.device("cuda")
        shapes = [(64, 32), (32,), ()]
        params = [randn(s, torch.float32, 50 + i).to(device) for i, s in enumerate(shapes)]
        grads = [[None if g is None else g.to(device) for g in row]
                 for row in make_grads(shapes, torch.float32, 13, scales=[1.0, 1e-3, 10.0], none_every=[0, 3, 0])]
        check_adamw(ex, params, grads, atol=1e-6, rtol=1e-6, lr=3e-3, weight_decay=0.1)


@pytest.mark.target("AdamW.zero_grad")
class TestZeroGrad:
    def test_next_backward_gives_fresh_gradients(self, ex):
        """after zero_grad every .grad is None or zeros, and the next backward gives fresh (not accumulated) gradients"""
        model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
        frozen = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))  # never gets a gradient
        opt = ex.AdamW([{"params": list(model.parameters())[:2]}, {"params": list(model.parameters())[2:] + [frozen]}])
        x1, x2 = randn((5, 3), torch.float64, 1), randn((5, 3), torch.float64, 2)
        model(x1).pow(2).sum().backward()
        opt.zero_grad()
        for name, p in model.named_parameters():
            assert p.grad is None or not p.grad.any(), (
                f"after zero_grad, {name}.grad is still nonzero: set every parameter's .grad to None (or zero it), "
                "in every param group")
        assert frozen.grad is None, "zero_grad gave a gradient to a parameter that had none"
        model(x2).pow(2).sum().backward()
        fresh = torch.autograd.grad(model(x2).pow(2).sum(), list(model.parameters()))
        for (name, p), want in zip(model.named_parameters(), fresh):
            assert p.grad is not None and torch.allclose(p.grad, want, rtol=1e-12, atol=0), (
                f"after zero_grad and a new backward, {name}.grad is not the new gradient alone: "
                "the old gradient was still added to it")

    def test_training_loop_matches_torch(self, ex):
        """a training loop (backward, step, zero_grad) follows torch's AdamW on the fresh gradient of each step"""
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU(), torch.nn.Linear(8, 1)).double()
        params = list(model.parameters())
        initial = [p.detach().clone() for p in params]
        opt = ex.AdamW(model.parameters(), lr=0.05, weight_decay=0.1)
        fresh, states = [], []
        for t in range(8):
            x, y = randn((6, 4), torch.float64, 100 + t), randn((6, 1), torch.float64, 200 + t)
            loss = (model(x) - y).pow(2).mean()
            fresh.append([g.detach().clone() for g in torch.autograd.grad(loss, params, retain_graph=True)])
            loss.backward()
            opt.step()
            opt.zero_grad()
            states.append([p.detach().clone() for p in params])
        expected = adamw_trajectory(initial, fresh, lr=0.05, weight_decay=0.1)
        for t, (got_step, want_step) in enumerate(zip(states, expected)):
            for (name, _), got, want in zip(model.named_parameters(), got_step, want_step):
                assert torch.allclose(got, want, rtol=1e-7, atol=1e-9), (
                    f"after training step {t + 1} (backward, step, zero_grad), parameter {name} differs from "
                    f"torch's AdamW fed that step's gradient alone "
                    f"(max abs err {(got - want).abs().max().item():.3g}): "
                    "if step passes its own checks, zero_grad does not clear the gradients")


@pytest.mark.target("cosine_lr")
class TestCosineLR:
    # (step, warmup_steps, total_steps) at every boundary, for max_lr=6e-4, min_lr=6e-5
    @pytest.mark.parametrize("step, warmup, total, expected", [
        (0, 10, 100, 6e-5),  # warmup starts at max_lr / warmup_steps, not 0
        (4, 10, 100, 3e-4),
        (9, 10, 100, 6e-4),  # the last warmup step reaches max_lr
        (10, 10, 100, 6e-4),  # the cosine starts at max_lr
        (55, 10, 100, 3.3e-4),  # half way: (max + min) / 2
        (100, 10, 100, 6e-5),  # total_steps: min_lr
        (101, 10, 100, 6e-5),  # beyond: min_lr, flat (not a cosine going back up)
        (1000, 10, 100, 6e-5),
        (0, 0, 100, 6e-4),  # no warmup: starts at max_lr
        (5, 10, 10, 3.6e-4),  # warmup only
        (10, 10, 10, 6e-5),
    ])
    def test_boundaries(self, ex, step, warmup, total, expected):
        """exact values at warmup start and end, cosine start, half way, total_steps and beyond"""
        check_real_call(ex, "cosine_lr", step, 6e-4, 6e-5, warmup, total, expected=expected, rel=1e-9, abs_tol=1e-15)

    def test_near_the_end(self, ex):
        """one step before total_steps the cosine is just above min_lr"""
        expected = reference_cosine(99, 6e-4, 6e-5, 10, 100)
        check_real_call(ex, "cosine_lr", 99, 6e-4, 6e-5, 10, 100, expected=expected, rel=1e-9)

    @given(warmup=st.integers(0, 30), cosine=st.integers(1, 200), max_lr=log_uniform(1e-5, 1.0),
           floor=st.floats(0.0, 1.0), data=st.data())
    def test_matches_formula(self, ex, warmup, cosine, max_lr, floor, data):
        """equals the contract's formula for any warmup, length, step (beyond the end too) and min_lr <= max_lr"""
        total = warmup + cosine
        step = data.draw(st.integers(0, total + 20), label="step")
        min_lr = max_lr * floor
        check_real_call(ex, "cosine_lr", step, max_lr, min_lr, warmup, total,
                        expected=reference_cosine(step, max_lr, min_lr, warmup, total), rel=1e-9, abs_tol=1e-15)


def clip_run(grads, max_norm, as_generator=False):
    """run(module): clip_grad_norm on parameters holding `grads`; returns [norm, grad_0, grad_1, ...]."""
    def run(module):
        params = []
        for g in grads:
            p = torch.nn.Parameter(torch.zeros_like(g) if g is not None else torch.zeros(1))
            p.grad = None if g is None else g.clone()
            params.append(p)
        norm = module.clip_grad_norm((p for p in params) if as_generator else params, max_norm)
        return [norm, *(p.grad for p in params)]
    return run


def check_clip(ex, grads, max_norm, as_generator=False):
    norm, clipped = reference_clip(grads, max_norm)
    names = ["the returned norm (before clipping)", *(f"p[{i}].grad after the call" for i in range(len(grads)))]
    shapes = ", ".join("None" if g is None else describe(g) for g in grads)
    how = " as a generator" if as_generator else ""
    call = f"clip_grad_norm(params with grads [{shapes}]{how}, max_norm={max_norm:.4g})"
    check_tensors(ex, "clip_grad_norm", clip_run(grads, max_norm, as_generator), [norm, *clipped],
                  names=names, call=call)


@pytest.mark.target("clip_grad_norm")
class TestClipGradNorm:
    @given(shapes=param_shapes(max_params=4), dtype=float_dtypes, seed=seeds, grad_scale=log_uniform(1e-3, 1e3),
           ratio=st.one_of(st.floats(0.01, 0.95), st.floats(1.05, 5.0)), with_none=st.booleans())
    def test_matches_torch(self, ex, shapes, dtype, seed, grad_scale, ratio, with_none):
        """equals torch.nn.utils.clip_grad_norm_ (returned norm and clipped grads) above and below the threshold"""
        grads = [randn(s, dtype, seed + i, scale=grad_scale) for i, s in enumerate(shapes)]
        if with_none:
            grads.append(None)
        total = torch.sqrt(sum((g.double() ** 2).sum() for g in grads if g is not None)).item()
        check_clip(ex, grads, max_norm=ratio * total)

    def test_returns_norm_before_clipping(self, ex):
        """clips when the total norm exceeds max_norm, scaling every grad by max_norm / (total + 1e-6), and returns the norm before clipping"""
        grads = [torch.tensor([0.3, 0.0], dtype=torch.float64), torch.tensor([[0.0], [0.4]], dtype=torch.float64)]
        check_clip(ex, grads, max_norm=0.1)  # total 0.5: the 1e-6 shows in float64

    def test_no_op_below_threshold(self, ex):
        """leaves every gradient unchanged when the total norm is below max_norm (and still returns the norm)"""
        grads = [randn((3, 2), torch.float64, 1), randn((4,), torch.float64, 2)]
        check_clip(ex, grads, max_norm=100.0)

    def test_accepts_a_generator(self, ex):
        """params may be a one-shot generator like model.parameters()"""
        grads = [randn((3, 2), torch.float64, 3, scale=2.0), randn((5,), torch.float64, 4)]
        check_clip(ex, grads, max_norm=0.5, as_generator=True)

    def test_clips_in_place(self, ex):
        """scales the existing .grad tensors in place (the same objects, now clipped)"""
        params = [torch.nn.Parameter(torch.zeros(3, dtype=torch.float64)) for _ in range(2)]
        for i, p in enumerate(params):
            p.grad = randn((3,), torch.float64, 10 + i, scale=5.0)
        originals = [p.grad for p in params]
        expected = reference_clip([g.clone() for g in originals], 1.0)[1]
        ex.clip_grad_norm(params, 1.0)
        for i, (p, g, want) in enumerate(zip(params, originals, expected)):
            assert p.grad is g, (f"clip_grad_norm replaced p[{i}].grad with a new tensor; scale it in place "
                                 "(p.grad.mul_(scale)) as torch.nn.utils.clip_grad_norm_ does")
            assert torch.allclose(g, want, rtol=1e-7, atol=1e-9), f"p[{i}].grad is not clipped"

    @pytest.mark.gpu
    def test_cuda(self, ex):
        """on CUDA: same norm and clipped grads as torch's, returned and kept on the GPU"""
        grads = [randn((64, 32), torch.float32, 1, scale=3.0).cuda(), randn((32,), torch.float32, 2).cuda(), None]
        check_clip(ex, grads, max_norm=1.0)
        check_clip(ex, grads, max_norm=1e4)


@pytest.mark.target("from scratch")
def test_no_banned_apis(ex_file):
    """the file uses none of the APIs this exercise asks you to write yourself"""
    assert_no_banned_apis(EXERCISE, ex_file)
