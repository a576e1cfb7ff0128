"""Grades `transformer` (contract section 6) against an independent GPT written with torch
built-ins (reference/transformer.py) that runs on the learner's state_dict."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from reference.transformer import block, feed_forward, gpt_logits, greedy_generate, layer_norm, rms_norm
from tests.helpers import (assert_close, assert_gradients_match_finite_differences, assert_no_banned_apis,
                           check_module_call, check_tensors, describe, expect_tensor)
from tests.strategies import batch_dims, chunk_sizes, float_dtypes, gpt_config_kwargs, randn, seeds

EXERCISE = "transformer"

CONFIG_DEFAULTS = dict(vocab_size=65, block_size=256, n_layer=4, n_head=4, d_model=128, dropout=0.0, bias=True)


def randomize(module: torch.nn.Module, seed: int, std: float = 0.5) -> torch.nn.Module:
    """Every parameter drawn N(0, std), so that a weight or bias used wrongly shows."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64) * std)
    return module


def tokens(shape: tuple[int, ...], vocab: int, seed: int) -> torch.Tensor:
    return torch.randint(0, vocab, shape, generator=torch.Generator().manual_seed(seed))


def state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach() for k, v in module.state_dict().items()}


def make_gpt(ex, kwargs, dtype=torch.float64, seed=0, random_weights=True):
    config = ex.GPTConfig(**kwargs)
    torch.manual_seed(seed)
    model = ex.GPT(config).to(dtype)
    if random_weights:
        randomize(model, seed)
    return config, model.eval()


def twin(impl, config, model):
    """`impl`'s GPT with `model`'s weights and mode: reruns a call on another implementation."""
    other = impl.GPT(config).to(next(model.parameters()).dtype)
    other.load_state_dict(model.state_dict())
    return other.train(model.training)


def config_text(kwargs) -> str:
    return "GPTConfig(" + ", ".join(f"{k}={v}" for k, v in kwargs.items()) + ")"


@pytest.mark.target("LayerNorm")
class TestLayerNorm:
    def test_parameters(self, ex):
        """weight starts at ones, bias at zeros; bias=False means no bias (None)"""
        norm = ex.LayerNorm(5)
        expect_tensor(norm.weight, call="LayerNorm(5).weight", shape=(5,))
        assert torch.equal(norm.weight.detach(), torch.ones(5)), "LayerNorm's weight starts at ones"
        assert norm.bias is not None and torch.equal(norm.bias.detach(), torch.zeros(5)), "LayerNorm's bias starts at zeros"
        no_bias = ex.LayerNorm(5, bias=False)
        assert getattr(no_bias, "bias", None) is None, "LayerNorm(5, bias=False).bias must be None"
        assert sum(p.numel() for p in no_bias.parameters()) == 5, "LayerNorm(5, bias=False) has only its weight (5 parameters)"

    @given(batch=batch_dims(2, 3), d=st.integers(2, 9), eps=st.sampled_from([1e-5, 1e-3, 0.1, 1.0]),
           bias=st.booleans(), scale=st.sampled_from([0.05, 1.0, 4.0]), dtype=float_dtypes, seed=seeds)
    def test_matches_torch(self, ex, batch, d, eps, bias, scale, dtype, seed):
        """equals torch.nn.LayerNorm with the same weight, bias and eps, over the last dim"""
        norm = randomize(ex.LayerNorm(d, eps, bias), seed).to(dtype)
        x = randn((*batch, d), dtype, seed, scale=scale) + 0.5
        expected = layer_norm(x, norm.weight.detach(), None if norm.bias is None else norm.bias.detach(), eps)
        check_module_call(ex, "LayerNorm", (d, eps, bias), norm, x, expected=expected, names=["x"])

    def test_biased_variance_and_eps_inside_sqrt(self, ex):
        """the variance is biased (divide by d) and eps is added inside the sqrt"""
        x = torch.tensor([[1.0, 2.0, 4.0, 7.0], [0.1, -0.2, 0.0, 0.3]], dtype=torch.float64)
        for eps in (1e-5, 0.5):
            norm = ex.LayerNorm(4, eps).to(torch.float64)
            check_module_call(ex, "LayerNorm", (4, eps), norm, x, names=["x"],
                              expected=layer_norm(x, torch.ones(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64), eps))
        norm = ex.LayerNorm(4).to(torch.float64)  # the default eps is 1e-5: it shows on a tiny variance
        small = x * 1e-3
        check_module_call(ex, "LayerNorm", (4,), norm, small, names=["x"],
                          expected=layer_norm(small, torch.ones(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64), 1e-5))

    def test_gradient(self, ex):
        """differentiable: autograd agrees with finite differences in float64"""
        norm = randomize(ex.LayerNorm(5), 1).to(torch.float64)
        assert_gradients_match_finite_differences(norm, [randn((3, 5), seed=2)], call="LayerNorm(5)(x (3, 5) float64)")


@pytest.mark.target("RMSNorm")
class TestRMSNorm:
    def test_parameters(self, ex):
        """weight starts at ones; no bias"""
        norm = ex.RMSNorm(6)
        expect_tensor(norm.weight, call="RMSNorm(6).weight", shape=(6,))
        assert torch.equal(norm.weight.detach(), torch.ones(6)), "RMSNorm's weight starts at ones"
        assert sum(p.numel() for p in norm.parameters()) == 6, "RMSNorm(6) has only its weight (6 parameters)"

    @given(batch=batch_dims(2, 3), d=st.integers(2, 9), eps=st.sampled_from([1e-6, 1e-3, 0.1, 1.0]),
           offset=st.sampled_from([0.0, 2.0]), scale=st.sampled_from([0.05, 1.0, 4.0]), dtype=float_dtypes, seed=seeds)
    def test_matches_torch(self, ex, batch, d, eps, offset, scale, dtype, seed):
        """equals torch's rms_norm with the same weight and eps (no centring)"""
        norm = randomize(ex.RMSNorm(d, eps), seed).to(dtype)
        x = randn((*batch, d), dtype, seed, scale=scale) + offset
        check_module_call(ex, "RMSNorm", (d, eps), norm, x, expected=rms_norm(x, norm.weight.detach(), eps), names=["x"])

    def test_not_centred_and_eps_honoured(self, ex):
        """RMSNorm does not subtract the mean, and eps (default 1e-6) is added inside the sqrt"""
        x = torch.tensor([[3.0, 4.0, 5.0, 6.0], [0.01, -0.02, 0.0, 0.03]], dtype=torch.float64)
        ones = torch.ones(4, dtype=torch.float64)
        for eps in (1e-6, 0.5):
            check_module_call(ex, "RMSNorm", (4, eps), ex.RMSNorm(4, eps).to(torch.float64), x, names=["x"],
                              expected=rms_norm(x, ones, eps))
        tiny = x * 1e-3  # mean(x**2) ~ 1e-11..1e-5: the default eps shows
        check_module_call(ex, "RMSNorm", (4,), ex.RMSNorm(4).to(torch.float64), tiny, names=["x"],
                          expected=rms_norm(tiny, ones, 1e-6))


@pytest.mark.target("FeedForward")
class TestFeedForward:
    def test_structure(self, ex):
        """fc: d_model -> hidden (default 4 * d_model), proj: hidden -> d_model, bias as asked"""
        for hidden, bias in ((None, True), (7, False)):
            mlp = ex.FeedForward(6, hidden, bias=bias)
            width = hidden or 24
            for name, (n_in, n_out) in (("fc", (6, width)), ("proj", (width, 6))):
                layer = getattr(mlp, name, None)
                assert isinstance(layer, torch.nn.Linear), f"FeedForward needs `self.{name} = nn.Linear(...)`"
                assert (layer.in_features, layer.out_features) == (n_in, n_out), \
                    f"FeedForward(6, hidden={hidden}).{name} must map {n_in} -> {n_out} features"
                assert (layer.bias is not None) == bias, f"{name} must {'have' if bias else 'not have'} a bias when bias={bias}"

    def test_gelu_is_the_tanh_approximation(self, ex):
        """the activation is GELU with the tanh approximation (GPT-2's), not the exact erf GELU"""
        mlp = ex.FeedForward(1, 1).to(torch.float64)
        with torch.no_grad():
            for layer in (mlp.fc, mlp.proj):
                layer.weight.fill_(1.0)
                layer.bias.zero_()
        x = torch.linspace(-4, 4, 33, dtype=torch.float64).reshape(33, 1)
        check_module_call(ex, "FeedForward", (1, 1), mlp, x, expected=F.gelu(x, approximate="tanh"), names=["x"])

    @given(d=st.integers(1, 8), hidden=st.one_of(st.none(), st.integers(1, 12)), bias=st.booleans(),
           batch=batch_dims(2, 3), dtype=float_dtypes, seed=seeds)
    def test_matches_reference(self, ex, d, hidden, bias, batch, dtype, seed):
        """equals proj(gelu_tanh(fc(x))) with the same weights, for any hidden size"""
        mlp = randomize(ex.FeedForward(d, hidden, bias), seed).to(dtype).eval()
        x = randn((*batch, d), dtype, seed, scale=2.0)
        check_module_call(ex, "FeedForward", (d, hidden, bias), mlp, x, expected=feed_forward(state(mlp), x), names=["x"])

    def test_dropout_only_in_training(self, ex):
        """dropout is applied in train() mode and is off in eval()"""
        mlp = randomize(ex.FeedForward(8, dropout=0.5), 3).to(torch.float64)
        x = randn((2, 3, 8), seed=4)
        check_module_call(ex, "FeedForward", (8, None, True, 0.5), mlp.eval(), x,
                          expected=feed_forward(state(mlp), x), names=["x"])
        torch.manual_seed(0)
        out = mlp.train()(x)
        assert not torch.allclose(out, feed_forward(state(mlp), x)), \
            "FeedForward(8, dropout=0.5) in train() mode gives the eval() output: is dropout applied?"


@pytest.mark.target("Block")
class TestBlock:
    def test_structure(self, ex):
        """ln_1, ln_2 are LayerNorms; attn has q/k/v/out projections; mlp is a FeedForward"""
        b = ex.Block(ex.GPTConfig(d_model=12, n_head=3))
        for name in ("ln_1", "ln_2"):
            assert isinstance(getattr(b, name, None), ex.LayerNorm), f"Block needs `self.{name} = LayerNorm(d_model)`"
        assert isinstance(getattr(b, "mlp", None), ex.FeedForward), "Block needs `self.mlp = FeedForward(d_model, ...)`"
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            layer = getattr(getattr(b, "attn", None), name, None)
            assert isinstance(layer, torch.nn.Linear) and layer.weight.shape == (12, 12), \
                f"Block needs `self.attn` with `{name} = nn.Linear(d_model, d_model)` (use CachedCausalSelfAttention)"

    @given(kwargs=gpt_config_kwargs(), batch=st.integers(1, 2), length=st.integers(1, 6),
           dropout=st.sampled_from([0.0, 0.5]), dtype=float_dtypes, seed=seeds)
    def test_matches_reference(self, ex, kwargs, batch, length, dropout, dtype, seed):
        """pre-norm with both residuals: x + attn(ln_1(x)), then x + mlp(ln_2(x)) (dropout off in eval)"""
        kwargs = {**kwargs, "dropout": dropout}
        config = ex.GPTConfig(**kwargs)
        b = randomize(ex.Block(config), seed).to(dtype).eval()
        x = randn((batch, length, config.d_model), dtype, seed)
        check_module_call(ex, "Block", (config,), b, x, expected=block(state(b), x, config.n_head), names=["x"])


@pytest.mark.target("GPT")
class TestGPT:
    def test_config_and_structure(self, ex):
        """GPTConfig has the contract's defaults; GPT has tok_emb, pos_emb, blocks, ln_f and an unbiased lm_head"""
        config = ex.GPTConfig()
        for name, value in CONFIG_DEFAULTS.items():
            assert getattr(config, name, None) == value, f"GPTConfig().{name} should default to {value!r}"
        model = ex.GPT(ex.GPTConfig(vocab_size=11, block_size=7, n_layer=3, n_head=2, d_model=8))
        layers = {"tok_emb": (torch.nn.Embedding, (11, 8)), "pos_emb": (torch.nn.Embedding, (7, 8)),
                  "lm_head": (torch.nn.Linear, (11, 8))}
        for name, (kind, shape) in layers.items():
            layer = getattr(model, name, None)
            assert isinstance(layer, kind) and tuple(layer.weight.shape) == shape, \
                f"GPT needs `self.{name}`: an nn.{kind.__name__} whose weight is {shape} for vocab 11, block 7, d_model 8"
        assert model.lm_head.bias is None, "lm_head is nn.Linear(d_model, vocab_size, bias=False)"
        assert isinstance(getattr(model, "blocks", None), torch.nn.ModuleList) and len(model.blocks) == 3, \
            "GPT needs `self.blocks = nn.ModuleList([Block(config) for _ in range(n_layer)])`"
        assert isinstance(getattr(model, "ln_f", None), ex.LayerNorm), "GPT needs a final `self.ln_f = LayerNorm(d_model)`"

    def test_weight_tying_is_the_same_tensor(self, ex):
        """lm_head.weight and tok_emb.weight are the same Parameter (tied), not two copies"""
        model = ex.GPT(ex.GPTConfig(vocab_size=11, block_size=7, n_layer=1, n_head=2, d_model=8))
        assert model.lm_head.weight is model.tok_emb.weight, (
            "lm_head.weight is not tok_emb.weight: tie them with `self.lm_head.weight = self.tok_emb.weight` "
            "(copying the values is not tying; they would drift apart in training)")

    @given(kwargs=gpt_config_kwargs(), batch=st.integers(1, 2), dropout=st.sampled_from([0.0, 0.3]),
           dtype=float_dtypes, seed=seeds, data=st.data())
    def test_logits_match_reference(self, ex, kwargs, batch, dropout, dtype, seed, data):
        """logits equal an independent GPT's with the same (random) weights (dropout off in eval)"""
        kwargs = {**kwargs, "dropout": dropout}
        length = data.draw(st.integers(1, kwargs["block_size"]), label="T")
        config, model = make_gpt(ex, kwargs, dtype, seed)
        idx = tokens((batch, length), config.vocab_size, seed)
        check_module_call(ex, "GPT", (config,), model, idx, expected=gpt_logits(state(model), idx, config.n_head),
                          names=["idx"])

    @given(kwargs=gpt_config_kwargs(max_block=9), seed=seeds, data=st.data())
    def test_causal(self, ex, kwargs, seed, data):
        """changing future tokens never changes the logits of earlier positions"""
        kwargs = {**kwargs, "block_size": max(2, kwargs["block_size"])}
        config, model = make_gpt(ex, kwargs, torch.float64, seed)
        length = data.draw(st.integers(2, config.block_size), label="T")
        cut = data.draw(st.integers(1, length - 1), label="first changed position")
        idx = tokens((2, length), config.vocab_size, seed)
        changed = idx.clone()
        changed[:, cut:] = tokens((2, length - cut), config.vocab_size, seed + 1)
        with torch.no_grad():
            before, after = model(idx), model(changed)
        assert_close(after[:, :cut], before[:, :cut], call=f"GPT(...)(idx) with tokens {cut}.. changed ({config_text(kwargs)})",
                     what=f"logits of positions 0..{cut - 1} (they may only depend on tokens up to their own position)")

    def test_loss_is_mean_cross_entropy(self, ex):
        """with targets, forward returns (logits, loss), loss the mean cross-entropy over all B*T positions"""
        kwargs = dict(vocab_size=13, block_size=6, n_layer=2, n_head=2, d_model=8)
        config, model = make_gpt(ex, kwargs, torch.float64, seed=5)
        idx, targets = tokens((3, 6), 13, 6), tokens((3, 6), 13, 7)
        out = model(idx, targets)
        assert isinstance(out, tuple) and len(out) == 2, "GPT(idx, targets) must return a tuple (logits, loss)"
        expected_logits = gpt_logits(state(model), idx, 2)
        expected_loss = F.cross_entropy(expected_logits.reshape(-1, 13), targets.reshape(-1))
        check_tensors(ex, "GPT", lambda impl: list(twin(impl, config, model)(idx, targets)),
                      [expected_logits, expected_loss], names=["logits", "loss (the mean cross-entropy over every position)"],
                      call=f"GPT({config_text(kwargs)})(idx (3, 6), targets (3, 6))")

    def test_initial_loss_is_about_ln_vocab(self, ex):
        """at initialisation the loss is about ln(vocab_size): small N(0, 0.02) weights give near-uniform predictions"""
        torch.manual_seed(0)
        model = ex.GPT(ex.GPTConfig(vocab_size=65, block_size=32, n_layer=2, n_head=4, d_model=64))
        with torch.no_grad():
            _, loss = model(tokens((4, 32), 65, 1), tokens((4, 32), 65, 2))
        assert abs(loss.item() - math.log(65)) < 0.3, (
            f"the loss of a freshly initialised GPT(vocab_size=65) is {loss.item():.3f}; expected about "
            f"ln(65) = {math.log(65):.3f}. Initialise weights N(0, 0.02) as GPT-2 does (nn.Embedding's default N(0, 1) "
            "makes the initial logits, and the loss, far too large).")

    def test_block_size_limits(self, ex):
        """T == block_size works; one position more raises ValueError, with or without caches"""
        config, model = make_gpt(ex, dict(vocab_size=7, block_size=5, n_layer=1, n_head=1, d_model=4))
        expect_tensor(model(tokens((2, 5), 7, 0)), call="GPT(block_size=5)(idx (2, 5))", shape=(2, 5, 7))
        with pytest.raises(ValueError):
            model(tokens((2, 6), 7, 0))
        caches = model.make_caches(2)
        model(tokens((2, 4), 7, 1), caches=caches)
        model(tokens((2, 1), 7, 2), caches=caches)  # positions 0..4: fits exactly
        with pytest.raises(ValueError):
            model(tokens((2, 1), 7, 3), caches=caches)

    def test_make_caches(self, ex):
        """make_caches: one empty KVCache per block, (B, n_head, max_len, head_dim), in the model's dtype"""
        config, model = make_gpt(ex, dict(vocab_size=7, block_size=9, n_layer=3, n_head=2, d_model=6))
        for max_len, expected_len in ((None, 9), (4, 4)):
            caches = model.make_caches(2, max_len) if max_len else model.make_caches(2)
            assert isinstance(caches, list) and len(caches) == 3, "make_caches returns a list with one KVCache per block"
            for cache in caches:
                assert len(cache) == 0, "the caches start empty"
                expect_tensor(cache.k, call=f"make_caches(2, max_len={max_len})[i].k", shape=(2, 2, expected_len, 3),
                              dtype=torch.float64)

    @given(kwargs=gpt_config_kwargs(), batch=st.integers(1, 2), seed=seeds, data=st.data())
    def test_caches_match_full_forward(self, ex, kwargs, batch, seed, data):
        """through caches, chunk by chunk, the logits equal the full forward's: positions continue after the cache"""
        config, model = make_gpt(ex, kwargs, torch.float64, seed)
        length = data.draw(st.integers(1, config.block_size), label="T")
        chunks = data.draw(chunk_sizes(length), label="chunks")
        idx = tokens((batch, length), config.vocab_size, seed)
        expected = gpt_logits(state(model), idx, config.n_head)
        bounds = [sum(chunks[:i]) for i in range(len(chunks) + 1)]

        def run(impl):  # the same weights and chunks through `impl`'s GPT and caches
            gpt = twin(impl, config, model)
            caches = gpt.make_caches(batch)
            with torch.no_grad():
                return [gpt(idx[:, a:b], caches=caches) for a, b in zip(bounds, bounds[1:])]

        check_tensors(ex, "GPT", run, [expected[:, a:b] for a, b in zip(bounds, bounds[1:])],
                      names=[f"logits of idx[:, {a}:{b}] with {a} positions cached (must equal the full forward's)"
                             for a, b in zip(bounds, bounds[1:])],
                      call=f"GPT({config_text(kwargs)}) fed idx {describe(idx)} in chunks {chunks} through make_caches({batch})")

    def test_generate_greedy(self, ex):
        """generate with temperature 0 is argmax decoding, with and without the cache, also past block_size"""
        kwargs = dict(vocab_size=17, block_size=8, n_layer=2, n_head=2, d_model=8)
        config, model = make_gpt(ex, kwargs, torch.float64, seed=11)
        prompt = tokens((2, 3), 17, 12)
        for new in (4, 9):  # 3 + 9 > block_size: the model then sees the last block_size tokens
            expected = greedy_generate(state(model), prompt, new, config.n_head)
            for use_cache in (True, False):
                out = model.generate(prompt, new, use_cache=use_cache)
                call = f"GPT({config_text(kwargs)}).generate(prompt (2, 3), {new}, use_cache={use_cache})"
                assert_close(out, expected, call=call, what="tokens")

    @pytest.mark.parametrize("temperature, top_k", [(1.0, None), (0.7, 3), (2.0, 5)])
    def test_generate_cache_equals_no_cache_when_sampling(self, ex, temperature, top_k):
        """sampling with the same generator seed gives identical tokens with use_cache=True and False"""
        kwargs = dict(vocab_size=17, block_size=10, n_layer=2, n_head=2, d_model=8)
        config, model = make_gpt(ex, kwargs, torch.float64, seed=13)
        prompt = tokens((3, 2), 17, 14)
        outs = {}
        for use_cache in (True, False):
            generator = torch.Generator().manual_seed(15)
            call = f"generate(prompt (3, 2), 12, temperature={temperature}, top_k={top_k}, use_cache={use_cache})"
            out = expect_tensor(model.generate(prompt, 12, temperature=temperature, top_k=top_k, use_cache=use_cache,
                                               generator=generator), call=call, shape=(3, 14), dtype=torch.int64)
            assert torch.equal(out[:, :2], prompt), f"{call} must start with the prompt"
            assert 0 <= out.min() and out.max() < 17, f"{call} returned token ids outside 0..16"
            outs[use_cache] = out
        assert torch.equal(outs[True], outs[False]), (
            f"generate(..., temperature={temperature}, top_k={top_k}) picks different tokens with use_cache=True "
            f"({outs[True].tolist()}) and use_cache=False ({outs[False].tolist()}); both runs get a generator seeded "
            "the same way: draw with it (torch.multinomial(probs, 1, generator=generator)), not with the global RNG")

    def test_top_k_1_is_greedy(self, ex):
        """top_k=1 keeps only the best token, so sampling at temperature 1 is argmax decoding"""
        kwargs = dict(vocab_size=17, block_size=8, n_layer=1, n_head=2, d_model=8)
        config, model = make_gpt(ex, kwargs, torch.float64, seed=16)
        prompt = tokens((2, 2), 17, 17)
        out = model.generate(prompt, 6, temperature=1.0, top_k=1, generator=torch.Generator().manual_seed(0))
        assert_close(out, greedy_generate(state(model), prompt, 6, config.n_head), what="tokens",
                     call=f"GPT({config_text(kwargs)}).generate(prompt (2, 2), 6, temperature=1.0, top_k=1)")

    def test_dropout_only_in_training(self, ex):
        """with dropout > 0 the model is random in train() mode and deterministic (the reference) in eval()"""
        kwargs = dict(vocab_size=11, block_size=6, n_layer=1, n_head=2, d_model=8, dropout=0.5)
        config, model = make_gpt(ex, kwargs, torch.float64, seed=18)
        idx = tokens((2, 6), 11, 19)
        expected = gpt_logits(state(model), idx, 2)
        assert_close(model.eval()(idx), expected, call=f"GPT({config_text(kwargs)}).eval()(idx (2, 6))", what="logits")
        torch.manual_seed(0)
        assert not torch.allclose(model.train()(idx), expected), \
            f"GPT({config_text(kwargs)}) in train() mode gives the eval() logits: is dropout applied?"

    def test_gradients_reach_every_parameter(self, ex):
        """differentiable: the loss's backward pass gives every parameter a gradient"""
        config, model = make_gpt(ex, dict(vocab_size=11, block_size=6, n_layer=2, n_head=2, d_model=8))
        _, loss = model(tokens((2, 6), 11, 1), tokens((2, 6), 11, 2))
        loss.backward()
        for name, p in model.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"{name} got no gradient"

    @pytest.mark.gpu
    def test_cuda_bfloat16(self, ex):
        """on cuda in bfloat16: logits match the reference, and generate picks (near-)argmax tokens with and without the cache"""
        cuda = torch.device("cuda")
        torch.manual_seed(0)
        config = ex.GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=4, d_model=64)
        model = ex.GPT(config).to(device=cuda, dtype=torch.bfloat16).eval()
        reference_state = {k: v.detach().double().cpu() for k, v in model.state_dict().items()}
        idx = tokens((2, 10), 50, 1).to(cuda)
        with torch.no_grad():
            logits = model(idx)
        expect_tensor(logits, call="GPT(...) on cuda, bfloat16", shape=(2, 10, 50), dtype=torch.bfloat16, device=cuda)
        assert_close(logits.double().cpu(), gpt_logits(reference_state, idx.cpu(), 4), atol=3e-2, rtol=3e-2,
                     call=f"GPT(...)(idx {describe(idx)}) in bfloat16", what="logits")
        for use_cache in (True, False):
            call = f"GPT(...) on cuda, bfloat16: generate(idx[:, :4], 8, use_cache={use_cache})"
            out = expect_tensor(model.generate(idx[:, :4], 8, use_cache=use_cache), call=call, shape=(2, 12),
                                dtype=torch.int64, device=cuda)
            out = out.cpu()
            assert torch.equal(out[:, :4], idx[:, :4].cpu()), f"{call} must start with the prompt"
            for step in range(8):
                ref = gpt_logits(reference_state, out[:, :4 + step], 4)[:, -1]  # (2, V)
                chosen = ref.gather(1, out[:, 4 + step, None]).squeeze(1)
                assert bool((chosen >= ref.max(dim=-1).values - 0.05).all()), \
                    f"{call}: token {4 + step} is not the argmax of the next-token logits"


@pytest.mark.target("from scratch")
def test_no_banned_apis(ex_file):
    """the file uses none of the APIs this exercise asks you to write yourself"""
    assert_no_banned_apis(EXERCISE, ex_file)
