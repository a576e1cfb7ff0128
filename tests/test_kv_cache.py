"""Grades `kv_cache` (contract section 5): the cache's bookkeeping, and cached attention
against causal SDPA over the whole sequence (reference/kv_cache.py)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from reference.kv_cache import causal_self_attention
from tests.helpers import (assert_close, assert_no_banned_apis, assert_projections, check_module_call, check_tensors,
                           describe, expect_tensor)
from tests.strategies import chunk_sizes, float_dtypes, module_sizes, randn, seeds

EXERCISE = "kv_cache"


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise equality (NaN garbage in a torch.empty buffer compares equal to itself)."""
    return a.shape == b.shape and torch.equal(a.detach().cpu().contiguous().view(torch.uint8),
                                              b.detach().cpu().contiguous().view(torch.uint8))


def shares_memory(view: torch.Tensor, buffer: torch.Tensor) -> bool:
    return view.untyped_storage().data_ptr() == buffer.untyped_storage().data_ptr()


def check_update(cache, k_new, v_new, written_k, written_v, call):
    """One `update`, checked: it returns views of everything written so far, in place."""
    ptrs = cache.k.data_ptr(), cache.v.data_ptr()
    out = cache.update(k_new, v_new)
    assert isinstance(out, tuple) and len(out) == 2, f"{call} must return a tuple (k, v); got {type(out).__name__}"
    written_k.append(k_new)
    written_v.append(v_new)
    for name, got, written, buffer in (("k", out[0], written_k, cache.k), ("v", out[1], written_v, cache.v)):
        assert_close(got, torch.cat(written, dim=2), call=call,
                     what=f"the returned {name} (every position cached so far, in order)")
        assert shares_memory(got, buffer), (
            f"{call}: the returned {name} is a copy; return a view of the buffer, "
            f"self.{name}[:, :, :len] (no .clone(), no torch.cat).")
    filled = sum(t.shape[2] for t in written_k)
    assert len(cache) == filled, f"{call}: len(cache) is {len(cache)}; expected {filled}"
    assert (cache.k.data_ptr(), cache.v.data_ptr()) == ptrs, (
        f"{call} replaced the buffers cache.k / cache.v: write into them in place "
        "(self.k[:, :, n:n+t] = k_new) instead of reallocating (torch.cat, torch.zeros, .clone()).")
    return out


@pytest.mark.target("KVCache")
class TestKVCache:
    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    def test_preallocates_buffers(self, ex, dtype):
        """__init__ allocates k and v once, (B, H, max_len, D) in the requested dtype; len is 0"""
        cache = ex.KVCache(2, 3, 7, 4, dtype=dtype)
        call = f"KVCache(2, 3, 7, 4, dtype={dtype})"
        for name in ("k", "v"):
            expect_tensor(getattr(cache, name, None), call=f"{call}.{name}", shape=(2, 3, 7, 4), dtype=dtype)
        assert len(cache) == 0, f"len({call}) is {len(cache)} before any update; expected 0"
        assert ex.KVCache(1, 1, 2, 3).k.dtype == torch.float32, "the default dtype is torch.float32"

    def test_honours_device(self, ex):
        """the buffers are created on the requested device (tested with torch's 'meta' device)"""
        cache = ex.KVCache(1, 2, 5, 3, dtype=torch.float64, device="meta")
        for name in ("k", "v"):
            expect_tensor(getattr(cache, name), call=f"KVCache(1, 2, 5, 3, dtype=torch.float64, device='meta').{name}",
                          shape=(1, 2, 5, 3), dtype=torch.float64, device=torch.device("meta"))
        cache.update(torch.zeros(1, 2, 2, 3, dtype=torch.float64, device="meta"),
                     torch.zeros(1, 2, 2, 3, dtype=torch.float64, device="meta"))
        assert len(cache) == 2

    @given(b=st.integers(1, 2), h=st.integers(1, 3), d=st.integers(1, 4), total=st.integers(1, 8),
           room=st.integers(0, 3), dtype=float_dtypes, seed=seeds, data=st.data())
    def test_update_appends_in_place_and_returns_views(self, ex, b, h, d, total, room, dtype, seed, data):
        """update writes after the filled positions, in place, and returns views of everything cached"""
        chunks = data.draw(chunk_sizes(total), label="chunks")
        cache = ex.KVCache(b, h, total + room, d, dtype=dtype)
        written_k, written_v = [], []
        for i, t in enumerate(chunks):
            k_new, v_new = randn((b, h, t, d), dtype, seed + 2 * i), randn((b, h, t, d), dtype, seed + 2 * i + 1)
            call = f"update #{i + 1} (k_new, v_new ({b}, {h}, {t}, {d})) of KVCache({b}, {h}, {total + room}, {d})"
            check_update(cache, k_new, v_new, written_k, written_v, call)

    def test_fills_exactly_to_max_len(self, ex):
        """filling the cache to exactly max_len is allowed; one more position raises ValueError"""
        cache = ex.KVCache(2, 1, 5, 3, dtype=torch.float64)
        written_k, written_v = [], []
        check_update(cache, randn((2, 1, 3, 3), seed=1), randn((2, 1, 3, 3), seed=2), written_k, written_v,
                     "update with 3 positions into KVCache(2, 1, max_len=5, 3)")
        check_update(cache, randn((2, 1, 2, 3), seed=3), randn((2, 1, 2, 3), seed=4), written_k, written_v,
                     "update with 2 more positions (3 + 2 = max_len = 5)")
        with pytest.raises(ValueError):
            cache.update(randn((2, 1, 1, 3), seed=5), randn((2, 1, 1, 3), seed=6))

    @pytest.mark.parametrize("filled, extra", [(0, 6), (3, 3), (4, 2)])
    def test_overflow_raises_and_leaves_cache_unchanged(self, ex, filled, extra):
        """an update past max_len raises ValueError and leaves the cache exactly as it was"""
        cache = ex.KVCache(1, 2, 5, 3, dtype=torch.float64)
        written_k, written_v = [], []
        if filled:
            check_update(cache, randn((1, 2, filled, 3), seed=1), randn((1, 2, filled, 3), seed=2),
                         written_k, written_v, f"update with {filled} positions")
        before_k, before_v = cache.k.clone(), cache.v.clone()
        call = f"update with {extra} positions when {filled} of max_len=5 are filled"
        with pytest.raises(ValueError):
            cache.update(randn((1, 2, extra, 3), seed=3), randn((1, 2, extra, 3), seed=4))
        assert len(cache) == filled, (f"after the failed {call}, len(cache) is {len(cache)}; expected {filled}: "
                                      "check for overflow before changing anything")
        assert same_bits(cache.k, before_k) and same_bits(cache.v, before_v), (
            f"the failed {call} modified the buffers: check for overflow before writing anything")
        check_update(cache, randn((1, 2, 5 - filled, 3), seed=5), randn((1, 2, 5 - filled, 3), seed=6),
                     written_k, written_v, f"update with the {5 - filled} positions that fit, after the failed one")

    def test_reset_empties_and_reuses_buffers(self, ex):
        """reset empties the cache; later updates start at position 0 in the same buffers"""
        cache = ex.KVCache(2, 2, 6, 3, dtype=torch.float64)
        ptrs = cache.k.data_ptr(), cache.v.data_ptr()
        check_update(cache, randn((2, 2, 4, 3), seed=1), randn((2, 2, 4, 3), seed=2), [], [], "update with 4 positions")
        cache.reset()
        assert len(cache) == 0, f"len(cache) is {len(cache)} after reset(); expected 0"
        assert (cache.k.data_ptr(), cache.v.data_ptr()) == ptrs, \
            "reset() replaced the buffers; keep them (only the count of filled positions changes)"
        check_update(cache, randn((2, 2, 5, 3), seed=3), randn((2, 2, 5, 3), seed=4), [], [],
                     "update with 5 positions after reset()")

    @pytest.mark.gpu
    def test_cuda_bfloat16(self, ex):
        """on cuda in bfloat16: buffers on the GPU, updates in place, views returned"""
        cuda = torch.device("cuda")
        cache = ex.KVCache(2, 3, 9, 8, dtype=torch.bfloat16, device=cuda)
        expect_tensor(cache.k, call="KVCache(2, 3, 9, 8, dtype=torch.bfloat16, device='cuda').k",
                      shape=(2, 3, 9, 8), dtype=torch.bfloat16, device=cuda)
        written_k, written_v = [], []
        for i, t in enumerate([4, 1, 1, 3]):
            k_new = randn((2, 3, t, 8), torch.bfloat16, 2 * i).to(cuda)
            v_new = randn((2, 3, t, 8), torch.bfloat16, 2 * i + 1).to(cuda)
            check_update(cache, k_new, v_new, written_k, written_v, f"update #{i + 1} on cuda, bfloat16")


@pytest.mark.target("CachedCausalSelfAttention")
class TestCachedCausalSelfAttention:
    def make(self, ex, d_model, n_heads, bias=True, dtype=torch.float64, seed=0):
        torch.manual_seed(seed)
        module = ex.CachedCausalSelfAttention(d_model, n_heads, bias=bias).to(dtype)
        for p in module.parameters():  # make biases visible too (nn.Linear initialises them small)
            torch.nn.init.normal_(p, std=0.5)
        return module

    def run_chunks(self, ex, module, x, chunks, n_heads, cache_len=None):
        """Feed x through one cache in `chunks`; compare each chunk with the whole-sequence reference."""
        batch, length, d_model = x.shape
        cache_len = cache_len or length
        weights = {k: v.detach().clone() for k, v in module.state_dict().items()}
        bias = "q_proj.bias" in weights

        def run(impl):  # the same weights and chunks through `impl`'s module and cache
            twin = impl.CachedCausalSelfAttention(d_model, n_heads, bias).to(x.dtype)
            twin.load_state_dict(weights)
            cache = impl.KVCache(batch, n_heads, cache_len, d_model // n_heads, dtype=x.dtype, device=x.device)
            outs, start = [], 0
            with torch.no_grad():
                for t in chunks:
                    outs.append(twin(x[:, start:start + t], cache))
                    start += t
                    assert len(cache) == start, (f"after feeding x[:, {start - t}:{start}] through the cache, "
                                                 f"len(cache) is {len(cache)}; expected {start}")
            return outs

        expected = causal_self_attention(weights, x, n_heads)
        bounds = [sum(chunks[:i]) for i in range(len(chunks) + 1)]
        check_tensors(ex, "CachedCausalSelfAttention", run, [expected[:, a:b] for a, b in zip(bounds, bounds[1:])],
                      names=[f"output for x[:, {a}:{b}] with {a} positions cached" for a, b in zip(bounds, bounds[1:])],
                      call=(f"CachedCausalSelfAttention({d_model}, {n_heads}, bias={bias}) fed x {describe(x)} "
                            f"in chunks {chunks} through one KVCache(max_len={cache_len})"))

    def test_structure(self, ex):
        """q_proj, k_proj, v_proj, out_proj are nn.Linear(d_model, d_model) with bias as asked; ValueError if indivisible"""
        for bias in (True, False):
            module = ex.CachedCausalSelfAttention(12, 3, bias=bias)
            assert_projections(module, "CachedCausalSelfAttention(12, 3)", dict.fromkeys(("q_proj", "k_proj", "v_proj", "out_proj"), (12, 12)), bias)
        with pytest.raises(ValueError):
            ex.CachedCausalSelfAttention(10, 3)

    @given(sizes=module_sizes(), batch=st.integers(1, 3), length=st.integers(1, 7), bias=st.booleans(),
           dtype=float_dtypes, seed=seeds)
    def test_without_cache_matches_reference(self, ex, sizes, batch, length, bias, dtype, seed):
        """without a cache: causal self-attention, equal to torch's SDPA with the same weights"""
        d_model, n_heads = sizes
        module = self.make(ex, d_model, n_heads, bias, dtype, seed)
        x = randn((batch, length, d_model), dtype, seed)
        check_module_call(ex, "CachedCausalSelfAttention", (d_model, n_heads, bias), module, x,
                          expected=causal_self_attention(module.state_dict(), x, n_heads), names=["x"])

    @given(sizes=module_sizes(), batch=st.integers(1, 3), length=st.integers(1, 8), room=st.integers(0, 2),
           dtype=float_dtypes, seed=seeds, data=st.data())
    def test_any_chunking_matches_whole_sequence(self, ex, sizes, batch, length, room, dtype, seed, data):
        """any split of a sequence into chunks through one cache gives the uncached outputs (batch >= 1)"""
        d_model, n_heads = sizes
        chunks = data.draw(chunk_sizes(length), label="chunks")
        module = self.make(ex, d_model, n_heads, dtype=dtype, seed=seed)
        self.run_chunks(ex, module, randn((batch, length, d_model), dtype, seed), chunks, n_heads, length + room)

    def test_prompt_then_single_tokens(self, ex):
        """generation's pattern: a prompt chunk, then one token at a time, batch 3"""
        module = self.make(ex, 12, 3, seed=1)
        self.run_chunks(ex, module, randn((3, 8, 12), seed=2), [3, 1, 1, 1, 1, 1], 3)

    def test_chunk_after_cache_is_bottom_right_causal(self, ex):
        """a chunk of t new queries after L cached keys: query i sees keys 0..L+i only (bottom-right)"""
        module = self.make(ex, 8, 2, seed=3)
        self.run_chunks(ex, module, randn((2, 7, 8), seed=4), [3, 4], 2)
        self.run_chunks(ex, module, randn((2, 7, 8), seed=5), [1, 2, 4], 2, cache_len=9)

    def test_whole_sequence_through_empty_cache(self, ex):
        """the whole sequence through an empty cache equals no cache, and fills it"""
        module = self.make(ex, 6, 2, bias=False, seed=5)
        self.run_chunks(ex, module, randn((2, 5, 6), seed=6), [5], 2, cache_len=7)

    def test_gradients_reach_every_parameter(self, ex):
        """differentiable: a backward pass without a cache gives every projection a gradient"""
        module = self.make(ex, 8, 2)
        module(randn((2, 4, 8), torch.float64, 1)).sum().backward()
        for name, p in module.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"{name} got no gradient"

    @pytest.mark.gpu
    def test_cuda_bfloat16_chunks(self, ex):
        """on cuda in bfloat16: chunked through a cache equals the whole-sequence reference"""
        cuda = torch.device("cuda")
        torch.manual_seed(0)
        module = ex.CachedCausalSelfAttention(32, 4).to(device=cuda, dtype=torch.bfloat16)
        x = randn((2, 9, 32), torch.bfloat16, 1).to(cuda)
        state = {k: v.double().cpu() for k, v in module.state_dict().items()}
        expected = causal_self_attention(state, x.double().cpu(), 4)
        cache = ex.KVCache(2, 4, 9, 8, dtype=torch.bfloat16, device=cuda)
        start = 0
        for t in [4, 1, 1, 3]:
            with torch.no_grad():
                out = module(x[:, start:start + t], cache)
            expect_tensor(out, call="CachedCausalSelfAttention on cuda", shape=(2, t, 32), dtype=torch.bfloat16, device=cuda)
            assert_close(out.double().cpu(), expected[:, start:start + t], atol=3e-2, rtol=3e-2,
                         call=f"CachedCausalSelfAttention(32, 4) on cuda, bfloat16, chunk x[:, {start}:{start + t}]")
            start += t


@pytest.mark.target("from scratch")
def test_no_banned_apis(ex_file):
    """the file uses none of the APIs this exercise asks you to write yourself"""
    assert_no_banned_apis(EXERCISE, ex_file)
