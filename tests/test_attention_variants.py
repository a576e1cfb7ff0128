"""Grades `attention_variants` (contract section 7) against torch's SDPA (with `enable_gqa`),
nn.MultiheadAttention, Hugging Face's Mistral sliding-window mask and per-query local attention."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from reference.attention import mha_from_weights, sdpa
from reference.attention_variants import gqa_from_weights, local_attention, repeat_kv, sliding_window_mask
from tests.helpers import (assert_close, assert_gradients_match_finite_differences, assert_head_sources,
                           assert_no_banned_apis, assert_no_full_score_matrix, check_call, check_module_call,
                           describe_call, expect_tensor, record_allocations)
from tests.strategies import attention_shapes, float_dtypes, gqa_sizes, randn, seeds

EXERCISE = "attention_variants"


def qkv(shape, dtype, seed, scale=1.0):
    return (randn(shape.q, dtype, seed, scale=scale), randn(shape.k, dtype, seed + 1, scale=scale),
            randn(shape.v, dtype, seed + 2))


@pytest.mark.target("repeat_kv")
class TestRepeatKV:
    @given(batch=st.integers(1, 3), n_kv=st.integers(1, 4), length=st.integers(1, 5), dim=st.integers(1, 4),
           n_rep=st.integers(1, 4), dtype=float_dtypes, seed=seeds)
    def test_matches_repeat_interleave(self, ex, batch, n_kv, length, dim, n_rep, dtype, seed):
        """equals torch.repeat_interleave(x, n_rep, dim=1) for any (B, H_kv, L, D) and n_rep"""
        x = randn((batch, n_kv, length, dim), dtype, seed)
        check_call(ex, "repeat_kv", x, n_rep, expected=repeat_kv(x, n_rep), names=["x"])

    @pytest.mark.parametrize("n_kv, n_rep", [(2, 2), (2, 3), (3, 2), (4, 4)])
    def test_output_head_h_is_input_head_h_div_n_rep(self, ex, n_kv, n_rep):
        """output head h is input head h // n_rep (repeated in place, not tiled)"""
        x = torch.arange(n_kv, dtype=torch.float64).view(1, n_kv, 1, 1).expand(2, n_kv, 3, 4).clone()
        x += randn(x.shape, torch.float64, n_kv) * 1e-3  # keep heads distinguishable but recognisable
        call = describe_call("repeat_kv", [x, n_rep], names=["x"])
        out = expect_tensor(ex.repeat_kv(x, n_rep), call=call, shape=(2, n_kv * n_rep, 3, 4), dtype=x.dtype)
        sources = [next((g for g in range(n_kv) if torch.equal(out[:, h], x[:, g])), None)
                   for h in range(n_kv * n_rep)]
        assert_head_sources(sources, [h // n_rep for h in range(n_kv * n_rep)], call=call)

    def test_n_rep_one_is_identity(self, ex):
        """n_rep = 1 returns the same values"""
        x = randn((2, 3, 4, 5), torch.float64, 1)
        check_call(ex, "repeat_kv", x, 1, expected=x.clone(), names=["x"])


@pytest.mark.target("GroupedQueryAttention")
class TestGroupedQueryAttention:
    def make(self, ex, d_model, n_heads, n_kv_heads, bias=False, dtype=torch.float64, seed=0):
        torch.manual_seed(seed)
        module = ex.GroupedQueryAttention(d_model, n_heads, n_kv_heads, bias=bias).to(dtype)
        for p in module.parameters():  # make biases visible too (nn.Linear initialises them small)
            torch.nn.init.normal_(p, std=0.5)
        return module

    def test_structure_and_parameter_count(self, ex):
        """q_proj/out_proj are d_model -> d_model, k_proj/v_proj d_model -> n_kv_heads * hd (K/V shrink by n_heads / n_kv_heads)"""
        d_model, n_heads, n_kv, hd = 32, 8, 2, 4
        for bias in (False, True):
            module = ex.GroupedQueryAttention(d_model, n_heads, n_kv, bias=bias)
            sizes = {"q_proj": d_model, "k_proj": n_kv * hd, "v_proj": n_kv * hd, "out_proj": d_model}
            for name, out_features in sizes.items():
                layer = getattr(module, name, None)
                assert isinstance(layer, torch.nn.Linear), \
                    f"GroupedQueryAttention({d_model}, {n_heads}, {n_kv}) needs `self.{name} = nn.Linear(...)`"
                assert (layer.in_features, layer.out_features) == (d_model, out_features), (
                    f"{name} of GroupedQueryAttention({d_model}, {n_heads}, {n_kv}) maps {layer.in_features} -> "
                    f"{layer.out_features} features; expected {d_model} -> {out_features}"
                    + (" (n_kv_heads * head_dim: K and V have only n_kv_heads heads)" if name in ("k_proj", "v_proj") else ""))
                assert (layer.bias is not None) == bias, f"{name} must {'have' if bias else 'not have'} a bias when bias={bias}"
            n_params = sum(p.numel() for p in module.parameters())
            expected = 2 * (d_model * d_model + bias * d_model) + 2 * (d_model * n_kv * hd + bias * n_kv * hd)
            assert n_params == expected, (
                f"GroupedQueryAttention({d_model}, {n_heads}, {n_kv}, bias={bias}) has {n_params} parameters; expected "
                f"{expected} (multi-head attention has {4 * (d_model * d_model + bias * d_model)}: K/V shrink {n_heads // n_kv}x)")

    @pytest.mark.parametrize("d_model, n_heads, n_kv_heads", [(12, 4, 3), (10, 4, 2), (16, 4, 8), (12, 3, 2)])
    def test_bad_sizes_raise(self, ex, d_model, n_heads, n_kv_heads):
        """ValueError unless n_heads % n_kv_heads == 0 and d_model % n_heads == 0"""
        with pytest.raises(ValueError):
            ex.GroupedQueryAttention(d_model, n_heads, n_kv_heads)

    @given(sizes=gqa_sizes(), batch=st.integers(1, 2), length=st.integers(1, 6), bias=st.booleans(),
           causal=st.booleans(), dtype=float_dtypes, seed=seeds)
    def test_matches_sdpa_enable_gqa(self, ex, sizes, batch, length, bias, causal, dtype, seed):
        """equals torch's SDPA with enable_gqa=True and the same weights (query head h uses kv head h // n_rep)"""
        d_model, n_heads, n_kv = sizes
        module = self.make(ex, d_model, n_heads, n_kv, bias, dtype, seed)
        x = randn((batch, length, d_model), dtype, seed)
        check_module_call(ex, "GroupedQueryAttention", (d_model, n_heads, n_kv, bias), module, x, is_causal=causal,
                          expected=gqa_from_weights(module.state_dict(), x, n_heads, n_kv, is_causal=causal), names=["x"])

    def test_default_is_causal(self, ex):
        """forward(x) without is_causal is causal self-attention"""
        module = self.make(ex, 12, 4, 2, seed=3)
        x = randn((2, 5, 12), torch.float64, 3)
        check_module_call(ex, "GroupedQueryAttention", (12, 4, 2), module, x,
                          expected=gqa_from_weights(module.state_dict(), x, 4, 2, is_causal=True), names=["x"])

    @pytest.mark.parametrize("n_heads", [1, 3, 4])
    def test_multi_query(self, ex, n_heads):
        """n_kv_heads = 1 (multi-query attention): every query head shares one key/value head"""
        module = self.make(ex, 2 * n_heads, n_heads, 1, seed=n_heads)
        x = randn((2, 6, 2 * n_heads), torch.float64, 5)
        for causal in (True, False):
            check_module_call(ex, "GroupedQueryAttention", (2 * n_heads, n_heads, 1), module, x, is_causal=causal,
                              expected=gqa_from_weights(module.state_dict(), x, n_heads, 1, is_causal=causal), names=["x"])

    @pytest.mark.parametrize("bias", [False, True])
    def test_equals_multi_head_attention(self, ex, bias):
        """n_kv_heads = n_heads equals nn.MultiheadAttention with the same weights"""
        module = self.make(ex, 12, 3, 3, bias=bias, seed=7)
        x = randn((2, 5, 12), torch.float64, 7)
        for causal in (True, False):
            check_module_call(ex, "GroupedQueryAttention", (12, 3, 3, bias), module, x, is_causal=causal,
                              expected=mha_from_weights(module.state_dict(), x, 3, is_causal=causal), names=["x"])

    @pytest.mark.parametrize("n_heads, n_kv_heads", [(4, 2), (6, 2), (6, 3), (8, 4)])
    def test_query_head_h_uses_kv_head_h_div_group_size(self, ex, n_heads, n_kv_heads):
        """query head h uses kv head h // (n_heads // n_kv_heads), seen with weights that label each kv head"""
        hd = 2
        d_model = n_heads * hd
        module = ex.GroupedQueryAttention(d_model, n_heads, n_kv_heads).double()
        with torch.no_grad():
            for p in module.parameters():
                p.zero_()  # zero keys: uniform attention; only the values matter
            for g in range(n_kv_heads):  # kv head g's values are all g + 1 (times x[..., 0] = 1)
                module.v_proj.weight[g * hd:(g + 1) * hd, 0] = g + 1
            module.out_proj.weight.copy_(torch.eye(d_model))
        x = torch.ones((1, 3, d_model), dtype=torch.float64)
        call = describe_call(f"GroupedQueryAttention({d_model}, {n_heads}, {n_kv_heads})", [x], names=["x"])
        out = expect_tensor(module(x), call=call, shape=x.shape, dtype=x.dtype)
        labels = out[0, -1].view(n_heads, hd)[:, 0] - 1  # the kv head each query head read its values from
        sources = [int(round(t)) if abs(t - round(t)) < 1e-9 and 0 <= round(t) < n_kv_heads else None
                   for t in labels.tolist()]
        assert_head_sources(sources, [h // (n_heads // n_kv_heads) for h in range(n_heads)], call=call,
                            what="query head h's values (kv head)")

    def test_gradients(self, ex):
        """differentiable: finite differences agree in x, and every projection gets a gradient"""
        module = self.make(ex, 8, 4, 2, bias=True, seed=1)
        assert_gradients_match_finite_differences(lambda x: module(x), [randn((2, 4, 8), torch.float64, 2)],
                                                  call="GroupedQueryAttention(8, 4, 2, bias=True)(x (2, 4, 8) float64)")
        module.zero_grad()
        module(randn((2, 4, 8), torch.float64, 1)).sum().backward()
        for name, p in module.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"{name} got no gradient"


@pytest.mark.target("sliding_window_mask")
class TestSlidingWindowMask:
    @given(q_len=st.integers(1, 10), k_len=st.integers(1, 10), window=st.integers(1, 12))
    def test_matches_mistral_mask(self, ex, q_len, k_len, window):
        """equals the causal AND kv > q - window mask (Hugging Face's Mistral), bottom-right aligned"""
        check_call(ex, "sliding_window_mask", q_len, k_len, window, expected=sliding_window_mask(q_len, k_len, window))

    def test_window_one_is_the_diagonal(self, ex):
        """window = 1: each query sees only its own (bottom-right) position"""
        expected = torch.tensor([[0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1]], dtype=torch.bool)
        check_call(ex, "sliding_window_mask", 3, 5, 1, expected=expected)
        check_call(ex, "sliding_window_mask", 4, 4, 1, expected=torch.eye(4, dtype=torch.bool))

    @pytest.mark.parametrize("q_len, k_len", [(4, 4), (2, 6), (1, 5), (5, 3)])
    def test_large_window_is_bottom_right_causal(self, ex, q_len, k_len):
        """window >= k_len gives the plain bottom-right causal mask"""
        causal = torch.ones(q_len, k_len, dtype=torch.bool).tril(diagonal=k_len - q_len)
        for window in (k_len, k_len + 3):
            check_call(ex, "sliding_window_mask", q_len, k_len, window, expected=causal)

    def test_fewer_queries_than_keys(self, ex):
        """q_len < k_len: query i sits at key i + k_len - q_len and sees the window keys ending there"""
        expected = torch.tensor([[0, 1, 1, 1, 0], [0, 0, 1, 1, 1]], dtype=torch.bool)
        check_call(ex, "sliding_window_mask", 2, 5, 3, expected=expected)
        # q_len > k_len: the first queries sit before every key and see nothing
        expected = torch.tensor([[0, 0], [0, 0], [1, 0], [1, 1]], dtype=torch.bool)
        check_call(ex, "sliding_window_mask", 4, 2, 2, expected=expected)

    @given(shape=attention_shapes(max_len=8), window=st.integers(1, 9), seed=seeds)
    def test_with_sdpa_is_local_attention(self, ex, shape, window, seed):
        """used as SDPA's mask it gives Mistral-style local attention (each query over its last `window` keys)"""
        q, k, v = qkv(shape, torch.float64, seed)
        call = describe_call("sliding_window_mask", [shape.lq, shape.lk, window])
        mask = expect_tensor(ex.sliding_window_mask(shape.lq, shape.lk, window), call=call,
                             shape=(shape.lq, shape.lk), dtype=torch.bool)
        assert_close(sdpa(q, k, v, mask=mask), local_attention(q, k, v, window),
                     call=f"SDPA(q, k, v, mask={call}) with q {tuple(shape.q)}, k {tuple(shape.k)}")


@pytest.mark.target("flash_attention")
class TestFlashAttention:
    @given(shape=attention_shapes(max_len=12), causal=st.booleans(), dtype=float_dtypes, seed=seeds,
           block_q=st.integers(1, 14), block_k=st.integers(1, 14))
    def test_matches_sdpa_for_any_blocks(self, ex, shape, causal, dtype, seed, block_q, block_k):
        """equals SDPA for any block sizes (1, non-divisors, larger than the lengths), causal or not"""
        q, k, v = qkv(shape, dtype, seed)
        check_call(ex, "flash_attention", q, k, v, is_causal=causal, block_q=block_q, block_k=block_k,
                   expected=sdpa(q, k, v, is_causal=causal), names="qkv")

    @pytest.mark.parametrize("block_q, block_k", [(1, 1), (3, 5), (5, 3), (4, 4), (13, 2), (64, 64)])
    @pytest.mark.parametrize("causal", [False, True])
    def test_blocks_that_do_not_divide_the_lengths(self, ex, block_q, block_k, causal):
        """Lq = 10, Lk = 13 (bottom-right causal): blocks of 1, non-divisors and whole-sequence tiles"""
        q, k, v = randn((2, 10, 4), seed=1), randn((2, 13, 4), seed=2), randn((2, 13, 3), seed=3)
        check_call(ex, "flash_attention", q, k, v, is_causal=causal, block_q=block_q, block_k=block_k,
                   expected=sdpa(q, k, v, is_causal=causal), names="qkv")

    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    def test_default_blocks(self, ex, dtype):
        """the default 64 x 64 tiles, with Lq = 100 and Lk = 150 (several tiles, not divisible), causal and not"""
        q, k, v = randn((2, 100, 8), dtype, 1), randn((2, 150, 8), dtype, 2), randn((2, 150, 8), dtype, 3)
        for causal in (False, True):
            check_call(ex, "flash_attention", q, k, v, is_causal=causal,
                       expected=sdpa(q, k, v, is_causal=causal), names="qkv")

    @given(shape=attention_shapes(max_len=10), seed=seeds, scale=st.floats(0.01, 3.0), causal=st.booleans(),
           block_k=st.integers(1, 4))
    def test_custom_scale(self, ex, shape, seed, scale, causal, block_k):
        """a given `scale` multiplies q @ k^T instead of 1/sqrt(D)"""
        q, k, v = qkv(shape, torch.float64, seed)
        check_call(ex, "flash_attention", q, k, v, is_causal=causal, scale=scale, block_q=3, block_k=block_k,
                   expected=sdpa(q, k, v, is_causal=causal, scale=scale), names="qkv")

    @pytest.mark.parametrize("block_q, block_k", [(2, 3), (1, 1), (4, 64)])
    def test_fully_masked_rows_are_zero(self, ex, block_q, block_k):
        """causal with Lq > Lk: the first Lq - Lk queries see no key and return zeros, never NaN"""
        q, k, v = randn((2, 9, 4), seed=1), randn((2, 4, 4), seed=2), randn((2, 4, 3), seed=3)
        check_call(ex, "flash_attention", q, k, v, is_causal=True, block_q=block_q, block_k=block_k,
                   expected=sdpa(q, k, v, is_causal=True), names="qkv")

    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    @pytest.mark.parametrize("causal", [False, True])
    def test_stable_for_huge_scores(self, ex, dtype, causal):
        """no inf/NaN when scores are in the thousands (the running max must be the max over all tiles so far)"""
        q, k, v = randn((2, 12, 4), dtype, 4), randn((2, 12, 4), dtype, 5), randn((2, 12, 3), dtype, 6)
        check_call(ex, "flash_attention", q, k, v, is_causal=causal, scale=1000.0, block_q=4, block_k=3,
                   expected=sdpa(q, k, v, is_causal=causal, scale=1000.0), names="qkv")

    def test_does_not_modify_inputs(self, ex):
        """q, k and v are left unchanged"""
        q, k, v = randn((2, 5, 4), seed=1), randn((2, 7, 4), seed=2), randn((2, 7, 3), seed=3)
        before = [t.clone() for t in (q, k, v)]
        ex.flash_attention(q, k, v, is_causal=True, block_q=2, block_k=3)
        for name, t, b in zip("qkv", (q, k, v), before):
            assert_close(t, b, call=f"{name} after flash_attention(q, k, v)", what="the input's values")

    @pytest.mark.parametrize("lq, lk, causal, blocks", [(256, 256, True, {"block_q": 32, "block_k": 32}),
                                                        (192, 320, False, {})])
    def test_never_allocates_the_score_matrix(self, ex, lq, lk, causal, blocks):
        """never creates a tensor of Lq x Lk elements (scores, probabilities or mask): only tiles"""
        q = randn((1, 2, lq, 8), torch.float32, 1)
        k, v = randn((1, 2, lk, 8), torch.float32, 2), randn((1, 2, lk, 8), torch.float32, 3)
        call = describe_call("flash_attention", [q, k, v], {"is_causal": causal, **blocks}, "qkv")
        out, records = record_allocations(lambda: ex.flash_attention(q, k, v, is_causal=causal, **blocks))
        assert_no_full_score_matrix(records, lq, lk, call=call)
        assert_close(out, sdpa(q, k, v, is_causal=causal), call=call)


@pytest.mark.gpu
@pytest.mark.target("flash_attention")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("causal", [False, True])
def test_cuda_matches_sdpa(ex, dtype, causal):
    """on CUDA, in float32 and bfloat16, equals SDPA (64 x 64 tiles that do not divide Lq = 300, Lk = 333)"""
    q, k, v = (randn(s, torch.float64, i).to("cuda", dtype) for i, s in
               enumerate([(2, 4, 300, 64), (2, 4, 333, 64), (2, 4, 333, 64)]))
    # The exact result of the same (rounded) inputs, in float64, rounded once to `dtype`.
    expected = sdpa(q.double(), k.double(), v.double(), is_causal=causal).to(dtype)
    tolerance = {"atol": 1e-4, "rtol": 1e-3} if dtype == torch.float32 else {}  # GPU reduction order differs
    check_call(ex, "flash_attention", q, k, v, is_causal=causal, expected=expected, names="qkv", **tolerance)


@pytest.mark.gpu
@pytest.mark.target("flash_attention")
def test_cuda_memory_stays_linear_in_length(ex):
    """on CUDA with L = 8192, peak memory is O(L * block), far below one L x L score matrix"""
    batch, heads, length, dim, block = 1, 4, 8192, 64, 128
    q, k, v = (randn((batch, heads, length, dim), torch.float32, i).to("cuda") for i in range(3))
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    out = ex.flash_attention(q, k, v, block_q=block, block_k=block)
    torch.cuda.synchronize()
    extra = torch.cuda.max_memory_allocated() - base
    io_bytes = q.numel() * q.element_size()  # 8 MiB: the output, plus a few copies of it
    tile_bytes = batch * heads * block * block * 4
    limit = 6 * io_bytes + 32 * tile_bytes
    per_head = length * length * 4
    assert extra <= limit, (
        f"flash_attention(q, k, v (1, 4, 8192, 64) float32 cuda, block_q=128, block_k=128) needed {extra / 2**20:.0f} MiB "
        f"beyond its inputs; O(L * block) allows {limit / 2**20:.0f} MiB, and one L x L score matrix of a single head "
        f"is {per_head / 2**20:.0f} MiB. Compute one (block_q x block_k) tile of scores at a time.")
    head = (slice(None), slice(None), slice(0, 64))  # spot-check the first 64 queries against SDPA
    assert_close(out[head], sdpa(q[head], k, v), call="flash_attention(q, k, v (1, 4, 8192, 64) cuda)[..., :64, :]",
                 atol=1e-4, rtol=1e-3)


@pytest.mark.target("from scratch")
def test_no_banned_apis(ex_file):
    """the file uses none of the APIs this exercise asks you to write yourself"""
    assert_no_banned_apis(EXERCISE, ex_file)
