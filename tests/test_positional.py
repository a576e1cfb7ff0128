"""Grades `positional` (contract section 2) against the papers' formulas written independently:
the sinusoidal table in its exp(-ln(base) 2i/d) form, RoPE as complex multiplication, and the
ALiBi authors' own `get_slopes` recursion."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from reference.positional import alibi, get_slopes, rope_angles, rope_rotate, rope_tables, sinusoidal
from tests.helpers import (Mismatch, alibi_bias_mistakes, alibi_slope_mistakes, assert_close, assert_no_banned_apis,
                           check_call_explained, describe, describe_call, expect_dtype, name_the_mistake, require,
                           rope_mistakes, rope_table_mistakes, sinusoidal_mistakes)
from tests.strategies import batch_dims, even_sizes, float_dtypes, randn, seeds

EXERCISE = "positional"


def angle_atol(max_position: float) -> float:
    """Tolerance on sin/cos of angles p * w computed in float32: a float32 frequency w is off by up to
    ~8e-7 relative (rounding of 2i/d amplified by ln(base) in base**x), so sin and cos of p * w are
    off by up to ~8e-7 * p. Allow 2e-6 * p, plus float32's own atol."""
    return 2e-6 * float(max_position) + 1e-5


def check_sinusoidal(ex, seq_len: int, d_model: int, **kwargs) -> torch.Tensor:
    base = kwargs.get("base", 10000.0)
    return check_call_explained(ex, "sinusoidal_positions", seq_len, d_model, **kwargs,
                                expected=sinusoidal(seq_len, d_model, base), atol=angle_atol(seq_len),
                                dtype_rule="the table is float32 (compute in float64 if you like, then cast).",
                                mistakes=lambda: sinusoidal_mistakes(seq_len, d_model, base))


@pytest.mark.target("sinusoidal_positions")
class TestSinusoidalPositions:
    @given(seq_len=st.integers(1, 64), d_model=even_sizes(64), base=st.sampled_from([10000.0, 100.0, 500000.0, 7.5]))
    def test_matches_formula(self, ex, seq_len, d_model, base):
        """PE[p, 2i] = sin(p / base**(2i/d)), PE[p, 2i+1] = cos(p / base**(2i/d)), float32, any even d_model and base"""
        check_sinusoidal(ex, seq_len, d_model, base=base)

    def test_interleaved_layout(self, ex):
        """sin and cos are interleaved (column 2i sin, 2i+1 cos), not concatenated [sin..., cos...]"""
        pe = check_sinusoidal(ex, 5, 8)
        require(torch.allclose(pe[0], torch.tensor([0.0, 1.0] * 4), atol=1e-6),
                "position 0 must be [sin 0, cos 0, ...] = [0, 1, 0, 1, ...].")

    def test_default_base(self, ex):
        """the default base is 10000"""
        check_sinusoidal(ex, 12, 6)

    def test_base_is_honoured(self, ex):
        """a given `base` replaces 10000"""
        check_sinusoidal(ex, 16, 8, base=100.0)

    @pytest.mark.parametrize("d_model", [1, 3, 7])
    def test_odd_d_model_raises(self, ex, d_model):
        """ValueError for an odd d_model (columns come in sin/cos pairs)"""
        with pytest.raises(ValueError):
            ex.sinusoidal_positions(4, d_model)


def check_rope_tables(ex, positions: torch.Tensor, head_dim: int, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    """rope_cos_sin returns (cos, sin), each compared with the oracle; a mismatch names the mistake."""
    base = kwargs.get("base", 10000.0)
    call = describe_call("rope_cos_sin", [positions, head_dim], kwargs, ["positions"])
    out = ex.rope_cos_sin(positions, head_dim, **kwargs)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise AssertionError(f"{call} returned {describe(out)}; expected a tuple (cos, sin) of two tensors.")
    expected = rope_tables(rope_angles(positions, head_dim, base))
    atol = angle_atol(positions.abs().max()) if len(positions) else None
    for name, got, want in zip(("cos", "sin"), out, expected):
        expect_dtype(got, torch.float32, call=call, rule=f"the {name} table is float32, whatever the positions' dtype.")
        try:
            assert_close(got, want, call=call, atol=atol, what=f"{name} values")
        except Mismatch as err:
            hint = name_the_mistake(got, rope_table_mistakes(positions, head_dim, base, name), err.atol, err.rtol)
            raise Mismatch(str(err) + hint, function="rope_cos_sin", actual=tuple(out), atol=err.atol, rtol=err.rtol,
                           rerun=lambda module: module.rope_cos_sin(positions, head_dim, **kwargs)) from None
    return out[0], out[1]


@pytest.mark.target("rope_cos_sin")
class TestRopeCosSin:
    @given(length=st.integers(1, 12), head_dim=even_sizes(32), seed=seeds,
           base=st.sampled_from([10000.0, 500000.0, 100.0]), dtype=st.sampled_from([torch.int64, torch.int32]))
    def test_matches_formula(self, ex, length, head_dim, seed, base, dtype):
        """cos/sin of positions * base**(-2i/head_dim), half-split, float32, for any integer positions"""
        positions = torch.randint(0, 256, (length,), generator=torch.Generator().manual_seed(seed)).to(dtype)
        check_rope_tables(ex, positions, head_dim, base=base)

    def test_half_split_layout(self, ex):
        """frequency i sits at dims i and i + head_dim/2 (cat([angles, angles]), the GPT-NeoX / Llama layout)"""
        cos, sin = check_rope_tables(ex, torch.arange(4), 8)
        require(torch.equal(cos[:, :4], cos[:, 4:]) and torch.equal(sin[:, :4], sin[:, 4:]),
                "the two halves of cos (and of sin) must be identical: cat([cos(angles), cos(angles)], -1).")

    def test_inv_freq_exponent(self, ex):
        """at position 1 the angles are inv_freq[i] = base**(-2i/head_dim) themselves"""
        check_rope_tables(ex, torch.tensor([1]), 8)

    def test_base_is_honoured(self, ex):
        """a given `base` replaces 10000"""
        check_rope_tables(ex, torch.tensor([0, 3, 7, 2]), 6, base=100.0)

    @pytest.mark.parametrize("head_dim", [1, 5])
    def test_odd_head_dim_raises(self, ex, head_dim):
        """ValueError for an odd head_dim (dims rotate in pairs)"""
        with pytest.raises(ValueError):
            ex.rope_cos_sin(torch.arange(3), head_dim)


def rope_inputs(batch, length, head_dim, dtype, seed, max_position=1000):
    """x (*batch, L, hd), its positions' angles (L, hd/2) and the tables (cos, sin) in x's dtype."""
    x = randn((*batch, length, head_dim), dtype, seed)
    positions = torch.randint(0, max_position, (length,), generator=torch.Generator().manual_seed(seed))
    angles = rope_angles(positions, head_dim)
    return x, angles, *rope_tables(angles, dtype)


def check_apply_rope(ex, x, cos, sin, expected, **tolerance):
    return check_call_explained(ex, "apply_rope", x, cos, sin, expected=expected, names=["x", "cos", "sin"],
                                mistakes=lambda: rope_mistakes(x, cos, sin), **tolerance)


@pytest.mark.target("apply_rope")
class TestApplyRope:
    @given(batch=batch_dims(2, 3), length=st.integers(1, 6), head_dim=even_sizes(16), dtype=float_dtypes, seed=seeds)
    def test_matches_rotation(self, ex, batch, length, head_dim, dtype, seed):
        """x * cos + rotate_half(x) * sin: pair (x_i, x_{i+hd/2}) rotated by its angle, any leading dims"""
        x, angles, cos, sin = rope_inputs(batch, length, head_dim, dtype, seed)
        check_apply_rope(ex, x, cos, sin, rope_rotate(x, angles))

    def test_half_split_pairs(self, ex):
        """dim i rotates together with dim i + head_dim/2 (GPT-NeoX / Llama), not with dim i + 1 (GPT-J)"""
        x = torch.eye(6, dtype=torch.float64)  # each row a unit vector, all at position 1
        angles = rope_angles(torch.ones(6, dtype=torch.int64), 6)
        check_apply_rope(ex, x, *rope_tables(angles, torch.float64), rope_rotate(x, angles))

    def test_rotate_half_sign(self, ex):
        """rotate_half(x) = cat([-x2, x1]): e_0 turns towards +e_{hd/2}, e_{hd/2} towards -e_0"""
        x = torch.zeros(2, 4, dtype=torch.float64)
        x[0, 0] = x[1, 2] = 1.0
        angles = torch.full((2, 2), 0.5, dtype=torch.float64)
        out = check_apply_rope(ex, x, *rope_tables(angles, torch.float64), rope_rotate(x, angles))
        require(out[0, 2] > 0 and out[1, 0] < 0, "e_0 must turn towards +e_2 and e_2 towards -e_0 (head_dim 4).")

    @given(length=st.integers(1, 6), head_dim=even_sizes(16), seed=seeds)
    def test_preserves_norms(self, ex, length, head_dim, seed):
        """a rotation: every vector keeps its norm, and x itself is left unchanged"""
        x, angles, cos, sin = rope_inputs((2,), length, head_dim, torch.float64, seed, max_position=10_000)
        before = x.clone()
        call = describe_call("apply_rope", [x, cos, sin], names=["x", "cos", "sin"])
        out = check_apply_rope(ex, x, cos, sin, rope_rotate(x, angles))
        assert_close(out.norm(dim=-1), x.norm(dim=-1), call=call, what="vector norms (a rotation preserves them)")
        assert_close(x, before, call=f"x after {call}", what="the input's values")

    @given(m=st.integers(0, 10_000), n=st.integers(0, 10_000), shift=st.integers(-5_000, 5_000),
           head_dim=even_sizes(16), seed=seeds)
    def test_relative_positions(self, ex, m, n, shift, head_dim, seed):
        """<rope(q, m), rope(k, n)> depends only on m - n: shifting both positions changes nothing"""
        q, k = randn((head_dim,), torch.float64, seed), randn((head_dim,), torch.float64, seed + 1)
        positions = torch.tensor([m, n, m + shift, n + shift])
        angles = rope_angles(positions, head_dim)
        x = torch.stack([q, k, q, k])  # (L=4, hd): q at m, k at n, q at m + shift, k at n + shift
        out = check_apply_rope(ex, x, *rope_tables(angles, torch.float64), rope_rotate(x, angles))
        score, shifted = (out[0] @ out[1]).item(), (out[2] @ out[3]).item()
        scale = (q.norm() * k.norm()).item()
        require(math.isclose(score, shifted, abs_tol=1e-9 * scale),
                f"<rope(q, {m}), rope(k, {n})> = {score:.9g} but <rope(q, {m + shift}), rope(k, {n + shift})> = "
                f"{shifted:.9g}: the score must depend only on the offset m - n = {m - n}.")

    @pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
    def test_output_dtype_is_input_dtype(self, ex, dtype):
        """the output has x's dtype even when cos/sin are float32 (half-precision x) or float64 (float32 x)"""
        x, angles, cos, sin = rope_inputs((2,), 5, 8, torch.float32, 3)
        check_apply_rope(ex, x.to(dtype), cos, sin, rope_rotate(x, angles).to(dtype), atol=5e-2, rtol=2e-2)
        check_apply_rope(ex, x, cos.double(), sin.double(), rope_rotate(x, angles))


def check_alibi_slopes(ex, n_heads: int) -> torch.Tensor:
    expected = torch.tensor(get_slopes(n_heads), dtype=torch.float64)
    return check_call_explained(ex, "alibi_slopes", n_heads, expected=expected, any_float=True,
                                mistakes=lambda: alibi_slope_mistakes(n_heads))


@pytest.mark.target("alibi_slopes")
class TestAlibiSlopes:
    @pytest.mark.parametrize("n_heads", [1, 2, 4, 8, 16, 32])
    def test_powers_of_two(self, ex, n_heads):
        """for n a power of two: slope[h] = 2**(-8 (h + 1) / n), from 2**(-8/n) down to 2**-8"""
        check_alibi_slopes(ex, n_heads)

    @pytest.mark.parametrize("n_heads", [3, 5, 6, 12, 24])
    def test_other_head_counts(self, ex, n_heads):
        """otherwise the slopes of the power of two below, then every other slope of the next one"""
        check_alibi_slopes(ex, n_heads)

    @given(n_heads=st.integers(1, 100))
    def test_any_head_count(self, ex, n_heads):
        """equals the ALiBi authors' get_slopes for any number of heads"""
        check_alibi_slopes(ex, n_heads)


def check_alibi_bias(ex, n_heads: int, q_len: int, k_len: int) -> torch.Tensor:
    expected = alibi(n_heads, q_len, k_len)
    slopes = torch.tensor(get_slopes(n_heads), dtype=torch.float64)
    return check_call_explained(ex, "alibi_bias", n_heads, q_len, k_len, expected=expected, any_float=True,
                                mistakes=lambda: alibi_bias_mistakes(slopes, q_len, k_len))


@pytest.mark.target("alibi_bias")
class TestAlibiBias:
    @given(n_heads=st.integers(1, 12), q_len=st.integers(1, 8), k_len=st.integers(1, 8))
    def test_matches_formula(self, ex, n_heads, q_len, k_len):
        """bias[h, i, j] = slope[h] * (j - (i + k_len - q_len)) for any q_len, k_len"""
        check_alibi_bias(ex, n_heads, q_len, k_len)

    def test_bottom_right_alignment(self, ex):
        """with q_len < k_len (a KV cache) query i sits at key i + k_len - q_len: zero bias there"""
        bias = check_alibi_bias(ex, 2, 2, 5)
        require(bias[:, 0, 3].abs().max() == 0 and bias[:, 1, 4].abs().max() == 0,
                "alibi_bias(2, 2, 5): queries 0 and 1 sit at keys 3 and 4, where the bias is 0.")

    def test_sign(self, ex):
        """keys in the past get a negative bias that grows with the distance"""
        bias = check_alibi_bias(ex, 4, 3, 6)
        require(bool((bias[:, 2, :5] < 0).all()) and bool((bias[:, 2, :4] < bias[:, 2, 1:5]).all()),
                "alibi_bias(4, 3, 6): the last query's bias must be negative for the 5 keys before it, "
                "more negative the further back.")


@pytest.mark.target("from scratch")
def test_no_banned_apis(ex_file):
    """the file uses none of the APIs this exercise asks you to write yourself"""
    assert_no_banned_apis(EXERCISE, ex_file)
