"""Grades `attention` (contract section 1) against torch's SDPA and nn.MultiheadAttention."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from reference.attention import mha_from_weights, sdpa
from tests.helpers import (assert_close, assert_gradients_match_finite_differences, assert_no_banned_apis,
                           assert_projections, check_call, check_module_call, expect_tensor)
from tests.strategies import (attention_shapes, batch_dims, bool_masks, float_dtypes, module_sizes, non_contiguous,
                              randn, seeds)

EXERCISE = "attention"


def qkv(shape, dtype, seed, requires_grad=False):
    return (randn(shape.q, dtype, seed, requires_grad=requires_grad),
            randn(shape.k, dtype, seed + 1, requires_grad=requires_grad),
            randn(shape.v, dtype, seed + 2, requires_grad=requires_grad))


@pytest.mark.target("softmax")
class TestSoftmax:
    @given(batch=batch_dims(3, 4), n=st.integers(1, 7), dtype=float_dtypes, seed=seeds, data=st.data())
    def test_matches_torch_along_any_dim(self, ex, batch, n, dtype, seed, data):
        """softmax equals torch.softmax along any dim, for any shape, in float32 and float64"""
        x = randn((*batch, n), dtype, seed, scale=3.0)
        dim = data.draw(st.integers(-x.ndim, x.ndim - 1), label="dim")
        check_call(ex, "softmax", x, dim=dim, expected=torch.softmax(x, dim=dim), names=["x"])

    def test_default_dim_is_last(self, ex):
        """the default dim is -1"""
        x = randn((3, 4), torch.float64, 0)
        check_call(ex, "softmax", x, expected=torch.softmax(x, dim=-1), names=["x"])

    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    def test_stable_for_huge_inputs(self, ex, dtype):
        """no inf/NaN for inputs like ±1e4 (subtract the max first)"""
        x = torch.tensor([[1e4, -1e4, 0.0], [1e4, 1e4 - 1.0, -1e4], [-1e4, -1e4 + 2.0, -1e4]], dtype=dtype)
        check_call(ex, "softmax", x, expected=torch.softmax(x.double(), dim=-1).to(dtype), names=["x"])

    def test_all_minus_inf_row_gives_zeros(self, ex):
        """a row of all -inf gives all zeros; a partly -inf row ignores the -inf entries"""
        inf = float("inf")
        x = torch.tensor([[-inf, -inf, -inf], [0.0, -inf, 1.0]], dtype=torch.float64)
        expected = torch.tensor([[0.0, 0.0, 0.0], [1 / (1 + math.e), 0.0, math.e / (1 + math.e)]], dtype=torch.float64)
        check_call(ex, "softmax", x, dim=-1, expected=expected, names=["x"])

    def test_does_not_modify_input(self, ex):
        """the input tensor is left unchanged"""
        x = randn((4, 5), torch.float64, 3)
        before = x.clone()
        ex.softmax(x)
        assert_close(x, before, call="x after softmax(x)", what="the input's values")

    def test_gradient(self, ex):
        """differentiable: autograd agrees with finite differences in float64"""
        x = randn((3, 5), torch.float64, 7)
        assert_gradients_match_finite_differences(lambda t: ex.softmax(t, dim=0), [x], call="softmax(x (3, 5) float64, dim=0)")


@pytest.mark.target("scaled_dot_product_attention")
class TestScaledDotProductAttention:
    @given(shape=attention_shapes(), dtype=float_dtypes, seed=seeds, contiguous=st.booleans())
    def test_matches_sdpa(self, ex, shape, dtype, seed, contiguous):
        """equals torch's SDPA for random shapes with leading batch dims, Lq != Lk, D != Dv, any memory layout"""
        q, k, v = qkv(shape, dtype, seed)
        if not contiguous:
            q, k, v = map(non_contiguous, (q, k, v))
        check_call(ex, "scaled_dot_product_attention", q, k, v, expected=sdpa(q, k, v), names="qkv")

    @given(shape=attention_shapes(), dtype=float_dtypes, seed=seeds)
    def test_bottom_right_causal(self, ex, shape, dtype, seed):
        """is_causal=True is bottom-right aligned: query i sees key j iff j <= i + (Lk - Lq)"""
        q, k, v = qkv(shape, dtype, seed)
        check_call(ex, "scaled_dot_product_attention", q, k, v, is_causal=True,
                   expected=sdpa(q, k, v, is_causal=True), names="qkv")

    def test_causal_one_query_sees_whole_cache(self, ex):
        """one query over a cache of keys (Lq=1, Lk=6, causal) attends to every key"""
        q, k, v = randn((2, 1, 4), seed=1), randn((2, 6, 4), seed=2), randn((2, 6, 3), seed=3)
        check_call(ex, "scaled_dot_product_attention", q, k, v, is_causal=True,
                   expected=sdpa(q, k, v), names="qkv")

    def test_scale_uses_query_key_dim(self, ex):
        """the default scale is 1/sqrt(D), the query/key size, even when Dv differs"""
        q, k, v = randn((2, 5, 4), seed=1), randn((2, 7, 4), seed=2), randn((2, 7, 9), seed=3)
        check_call(ex, "scaled_dot_product_attention", q, k, v, expected=sdpa(q, k, v), names="qkv")

    @given(shape=attention_shapes(), seed=seeds, scale=st.floats(0.01, 3.0))
    def test_custom_scale(self, ex, shape, seed, scale):
        """a given `scale` multiplies q @ k^T instead of 1/sqrt(D)"""
        q, k, v = qkv(shape, torch.float64, seed)
        check_call(ex, "scaled_dot_product_attention", q, k, v, scale=scale,
                   expected=sdpa(q, k, v, scale=scale), names="qkv")

    @given(shape=attention_shapes(), seed=seeds, data=st.data(), causal=st.booleans())
    def test_bool_mask_broadcast_and_causal(self, ex, shape, seed, data, causal):
        """a bool mask (True = may attend) broadcasts to (..., Lq, Lk) and combines with is_causal"""
        q, k, v = qkv(shape, torch.float64, seed)
        mask = data.draw(bool_masks(shape), label="mask")
        check_call(ex, "scaled_dot_product_attention", q, k, v, mask=mask, is_causal=causal,
                   expected=sdpa(q, k, v, mask=mask, is_causal=causal), names="qkv")

    def test_fully_masked_rows_are_zero(self, ex):
        """a query that may attend to no key returns zeros, never NaN"""
        q, k, v = randn((1, 3, 4), seed=1), randn((1, 5, 4), seed=2), randn((1, 5, 2), seed=3)
        mask = torch.tensor([[True, False, True, False, False], [False] * 5, [True] * 5])
        expected = sdpa(q, k, v, mask=mask)
        check_call(ex, "scaled_dot_product_attention", q, k, v, mask=mask, expected=expected, names="qkv")
        # causal with Lq > Lk: the first Lq - Lk queries see nothing
        q2 = randn((1, 4, 4), seed=4)
        check_call(ex, "scaled_dot_product_attention", q2, k[:, :2], v[:, :2], is_causal=True,
                   expected=sdpa(q2, k[:, :2], v[:, :2], is_causal=True), names="qkv")

    def test_finite_differences(self, ex):
        """differentiable in q, k and v: autograd agrees with finite differences in float64 (mask and causal)"""
        q, k, v = (randn(s, torch.float64, i) for i, s in enumerate([(2, 3, 4), (2, 5, 4), (2, 5, 3)]))
        mask = torch.tensor([[True, True, False, True, True]])
        assert_gradients_match_finite_differences(
            lambda q, k, v: ex.scaled_dot_product_attention(q, k, v, mask=mask, is_causal=True), [q, k, v],
            call="scaled_dot_product_attention(q (2, 3, 4), k (2, 5, 4), v (2, 5, 3), mask, is_causal=True)")

    def test_gradients_match_reference(self, ex):
        """autograd gradients w.r.t. q, k and v equal the reference's"""
        shape_q, shape_k, shape_v = (2, 2, 5, 6), (2, 2, 7, 6), (2, 2, 7, 3)
        inputs = [randn(s, torch.float64, i, requires_grad=True) for i, s in enumerate([shape_q, shape_k, shape_v])]
        ref_inputs = [t.detach().clone().requires_grad_() for t in inputs]
        out = expect_tensor(ex.scaled_dot_product_attention(*inputs, is_causal=True),
                            call="scaled_dot_product_attention(q, k, v, is_causal=True)", shape=(2, 2, 5, 3))
        upstream = randn(out.shape, torch.float64, 9)
        (out * upstream).sum().backward()
        (sdpa(*ref_inputs, is_causal=True) * upstream).sum().backward()
        for name, mine, ref in zip("qkv", inputs, ref_inputs):
            assert mine.grad is not None, f"no gradient reached {name}: is the graph cut (.detach(), torch.no_grad)?"
            assert_close(mine.grad, ref.grad, call=f"d loss / d {name} of scaled_dot_product_attention(q, k, v, is_causal=True)",
                         what="gradients")


@pytest.mark.target("MultiHeadAttention")
class TestMultiHeadAttention:
    def make(self, ex, d_model, n_heads, bias=True, dtype=torch.float64, seed=0):
        torch.manual_seed(seed)
        module = ex.MultiHeadAttention(d_model, n_heads, bias=bias).to(dtype)
        for p in module.parameters():  # make biases visible too (nn.Linear initialises them small)
            torch.nn.init.normal_(p, std=0.5)
        return module

    def test_structure(self, ex):
        """q_proj, k_proj, v_proj, out_proj are nn.Linear(d_model, d_model) with bias as asked"""
        for bias in (True, False):
            module = ex.MultiHeadAttention(12, 3, bias=bias)
            assert_projections(module, "MultiHeadAttention(12, 3)", dict.fromkeys(("q_proj", "k_proj", "v_proj", "out_proj"), (12, 12)), bias)
            n_params = sum(p.numel() for p in module.parameters())
            assert n_params == 4 * (144 + 12 * bias), f"MultiHeadAttention(12, 3, bias={bias}) has {n_params} parameters; expected {4 * (144 + 12 * bias)}"

    def test_indivisible_heads_raise(self, ex):
        """ValueError when d_model is not divisible by n_heads"""
        with pytest.raises(ValueError):
            ex.MultiHeadAttention(10, 3)

    @given(sizes=module_sizes(), batch=st.integers(1, 3), length=st.integers(1, 7), bias=st.booleans(),
           causal=st.booleans(), dtype=float_dtypes, seed=seeds)
    def test_matches_nn_multihead_attention(self, ex, sizes, batch, length, bias, causal, dtype, seed):
        """equals nn.MultiheadAttention with the same weights (head h uses features h*hd:(h+1)*hd)"""
        d_model, n_heads = sizes
        module = self.make(ex, d_model, n_heads, bias, dtype, seed)
        x = randn((batch, length, d_model), dtype, seed)
        expected = mha_from_weights(module.state_dict(), x, n_heads, is_causal=causal)
        check_module_call(ex, "MultiHeadAttention", (d_model, n_heads, bias), module, x, is_causal=causal,
                          expected=expected, names=["x"])

    @given(sizes=module_sizes(), length=st.integers(2, 6), seed=seeds, per_head=st.booleans())
    def test_mask(self, ex, sizes, length, seed, per_head):
        """a bool mask broadcastable to (B, n_heads, L, L), with or without is_causal"""
        d_model, n_heads = sizes
        module = self.make(ex, d_model, n_heads, seed=seed)
        x = randn((2, length, d_model), torch.float64, seed)
        g = torch.Generator().manual_seed(seed)
        mask = torch.rand((2, n_heads if per_head else 1, length, length), generator=g) < 0.7
        mask |= torch.eye(length, dtype=torch.bool)  # every query keeps at least itself
        for causal in (False, True):
            check_module_call(ex, "MultiHeadAttention", (d_model, n_heads), module, x, mask=mask, is_causal=causal,
                              expected=mha_from_weights(module.state_dict(), x, n_heads, mask=mask, is_causal=causal),
                              names=["x"])

    def test_gradients_reach_every_parameter(self, ex):
        """a backward pass gives every projection a gradient"""
        module = self.make(ex, 8, 2)
        module(randn((2, 4, 8), torch.float64, 1), is_causal=True).sum().backward()
        for name, p in module.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"{name} got no gradient"


GPU_DTYPES = [torch.float32, torch.bfloat16, torch.float16]


def on_cuda(*tensors: torch.Tensor, dtype: torch.dtype) -> list[torch.Tensor]:
    """Round to `dtype` on the GPU; the float64 CPU copies the oracle sees are rounded the same way."""
    return [t.to("cuda", dtype) for t in tensors]


@pytest.mark.gpu
@pytest.mark.target("softmax")
@pytest.mark.parametrize("dtype", GPU_DTYPES)
def test_softmax_on_cuda(ex, dtype):
    """on CUDA in float32, bfloat16 and float16: matches the float64 result within that dtype's tolerance"""
    [x] = on_cuda(randn((4, 33), seed=1, scale=4.0), dtype=dtype)
    check_call(ex, "softmax", x, expected=torch.softmax(x.double().cpu(), -1).to("cuda", dtype), names=["x"])


@pytest.mark.gpu
@pytest.mark.target("scaled_dot_product_attention")
@pytest.mark.parametrize("dtype", GPU_DTYPES)
def test_sdpa_on_cuda(ex, dtype):
    """on CUDA in float32, bfloat16 and float16, causal with Lq != Lk: matches float64 SDPA within tolerance"""
    q, k, v = on_cuda(randn((2, 4, 16, 32), seed=1), randn((2, 4, 24, 32), seed=2), randn((2, 4, 24, 16), seed=3), dtype=dtype)
    expected = sdpa(q.double().cpu(), k.double().cpu(), v.double().cpu(), is_causal=True).to("cuda", dtype)
    check_call(ex, "scaled_dot_product_attention", q, k, v, is_causal=True, expected=expected, names="qkv")


@pytest.mark.gpu
@pytest.mark.target("MultiHeadAttention")
@pytest.mark.parametrize("dtype", GPU_DTYPES)
def test_mha_on_cuda(ex, dtype):
    """on CUDA in float32, bfloat16 and float16: matches nn.MultiheadAttention in float64 within tolerance"""
    torch.manual_seed(0)
    module = ex.MultiHeadAttention(32, 4).to("cuda", dtype)
    [x] = on_cuda(randn((2, 16, 32), seed=4), dtype=dtype)
    state64 = {k: v.double().cpu() for k, v in module.state_dict().items()}
    expected = mha_from_weights(state64, x.double().cpu(), 4, is_causal=True).to("cuda", dtype)
    check_module_call(ex, "MultiHeadAttention", (32, 4), module, x, is_causal=True, expected=expected, names=["x"])


@pytest.mark.target("from scratch")
def test_no_banned_apis(ex_file):
    """the file uses none of the APIs this exercise asks you to write yourself"""
    assert_no_banned_apis(EXERCISE, ex_file)
