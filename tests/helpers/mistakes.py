"""Naming the mistake: when a wrong output equals what a known mistake produces, say so in the
learner's terms (positional encodings: layouts, exponents, signs, ALiBi slopes)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from tests.helpers.compare import Mismatch, assert_close, describe_call


# learner's terms. `mistakes` maps a message to the output that mistake gives on the same call.

def name_the_mistake(actual: Any, mistakes: dict[str, torch.Tensor], atol: float, rtol: float) -> str:
    """' It looks like <message>' naming the known mistakes whose output equals `actual`, else ''."""
    if not isinstance(actual, torch.Tensor):
        return ""
    a = actual.detach().double().cpu()
    found = [message for message, wrong in mistakes.items()
             if wrong.shape == a.shape and bool(torch.isclose(a, wrong.detach().double().cpu(), atol=atol, rtol=rtol,
                                                              equal_nan=True).all())]
    return " It looks like " + " Or: ".join(found) if found else ""


def check_call_explained(ex: Any, function: str, *args: Any, expected: torch.Tensor,
                         mistakes: Callable[[], dict[str, torch.Tensor]] | None = None, names: Sequence[str] = (),
                         any_float: bool = False, dtype_rule: str = "", atol: float | None = None,
                         rtol: float | None = None, **kwargs: Any) -> torch.Tensor:
    """`check_call`, and on a mismatch name the known mistake (from `mistakes()`) that explains it.

    any_float: accept any floating dtype where the contract names none; `expected` must then be
    float64, and it is compared at the learner's precision.
    dtype_rule: what the contract says about the output dtype, said when it is wrong.
    """
    call = describe_call(function, args, kwargs, names)
    out = getattr(ex, function)(*args, **kwargs)
    if any_float and isinstance(out, torch.Tensor) and out.is_floating_point():
        expected = expected.to(out.dtype)
    if dtype_rule:
        expect_dtype(out, expected.dtype, call=call, rule=dtype_rule)
    try:
        return assert_close(out, expected, call=call, atol=atol, rtol=rtol)
    except Mismatch as err:
        hint = name_the_mistake(out, mistakes() if mistakes else {}, err.atol, err.rtol)
        raise Mismatch(str(err) + hint, function=function, actual=out, atol=err.atol, rtol=err.rtol,
                       rerun=lambda module: getattr(module, function)(*args, **kwargs)) from None


def expect_dtype(out: Any, dtype: torch.dtype, *, call: str, rule: str) -> None:
    """Fail with the contract's own rule (e.g. "the table is float32") when a tensor's dtype is wrong."""
    if isinstance(out, torch.Tensor) and out.dtype != dtype:
        raise AssertionError(f"{call} returned {out.dtype}; expected {dtype}: {rule}")


# Layouts of paired dims: "interleaved" pairs (2i, 2i+1), "half-split" pairs (i, i + d/2).
def swap_pair_members(x: torch.Tensor) -> torch.Tensor:
    """Exchange the columns 2i and 2i+1 of the last dim."""
    return torch.stack([x[..., 1::2], x[..., 0::2]], dim=-1).flatten(-2)


def interleaved_to_halves(x: torch.Tensor) -> torch.Tensor:
    """[a0, b0, a1, b1, ...] -> [a0, a1, ..., b0, b1, ...]."""
    return torch.cat([x[..., 0::2], x[..., 1::2]], dim=-1)


def halves_to_interleaved(x: torch.Tensor) -> torch.Tensor:
    """[a0, a1, ..., b0, b1, ...] -> [a0, b0, a1, b1, ...]."""
    half = x.shape[-1] // 2
    return torch.stack([x[..., :half], x[..., half:]], dim=-1).flatten(-2)


def _interleave_sin_cos(angles: torch.Tensor) -> torch.Tensor:
    return torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(-2)


def sinusoidal_mistakes(seq_len: int, d_model: int, base: float) -> dict[str, torch.Tensor]:
    """What common mistakes in the sinusoidal table produce (float64), keyed by their explanation."""
    p = torch.arange(seq_len, dtype=torch.float64)[:, None]
    i = torch.arange(d_model // 2, dtype=torch.float64)[None, :]
    j = torch.arange(d_model, dtype=torch.float64)[None, :]
    right = _interleave_sin_cos(p / base ** (2 * i / d_model))
    return {
        "dims 0 and 1 are swapped: sin/cos order? Column 2i is sin, column 2i+1 is cos.": swap_pair_members(right),
        "[sin..., cos...] concatenated instead of interleaved: column 2i is sin(angle_i), column 2i+1 is "
        "cos(angle_i), the two side by side.": interleaved_to_halves(right),
        "[cos..., sin...] concatenated instead of sin and cos interleaved (column 2i sin, 2i+1 cos).":
            interleaved_to_halves(swap_pair_members(right)),
        "the exponent is i/d_model instead of 2i/d_model: frequency i is 1/base**(2i/d_model).":
            _interleave_sin_cos(p / base ** (i / d_model)),
        "each column j uses its own frequency 1/base**(j/d_model); columns 2i and 2i+1 share 1/base**(2i/d_model).":
            torch.where(j % 2 == 0, torch.sin(p / base ** (j / d_model)), torch.cos(p / base ** ((j - 1) / d_model))),
        "the frequencies are inverted: the angle is p / base**(2i/d_model), not p * base**(2i/d_model).":
            _interleave_sin_cos(p * base ** (2 * i / d_model)),
        f"the `base` argument is ignored (10000 used instead of {base:g}).":
            _interleave_sin_cos(p / 10000.0 ** (2 * i / d_model)),
    }


def rope_table_mistakes(positions: torch.Tensor, head_dim: int, base: float, table: str) -> dict[str, torch.Tensor]:
    """What common mistakes in RoPE's cos (table="cos") or sin table produce, float64."""
    fn, other = (torch.cos, torch.sin) if table == "cos" else (torch.sin, torch.cos)
    pos = positions.double()[:, None]
    i = torch.arange(head_dim // 2, dtype=torch.float64)[None, :]
    angles = pos / base ** (2 * i / head_dim)
    half_split = fn(angles).repeat(1, 2)
    return {
        "each frequency sits in adjacent dims (GPT-J, interleaved pairs: repeat_interleave) instead of "
        "the half-split layout cat([angles, angles], -1) (GPT-NeoX / Llama).": halves_to_interleaved(half_split),
        f"this is the {'sin' if table == 'cos' else 'cos'} table: return (cos, sin) in that order.":
            other(angles).repeat(1, 2),
        "the exponent is i/head_dim instead of 2i/head_dim: inv_freq[i] = base**(-2i/head_dim).":
            fn(pos / base ** (i / head_dim)).repeat(1, 2),
        f"the `base` argument is ignored (10000 used instead of {base:g}).":
            fn(pos / 10000.0 ** (2 * i / head_dim)).repeat(1, 2),
        "the frequencies are inverted: angle = position * base**(-2i/head_dim), not position * base**(2i/head_dim).":
            fn(pos * base ** (2 * i / head_dim)).repeat(1, 2),
    }


def rope_mistakes(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> dict[str, torch.Tensor]:
    """What common mistakes in applying RoPE produce (float64), keyed by their explanation."""
    x, cos, sin = x.double(), cos.double(), sin.double()
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    rotated = torch.cat([-x2, x1], dim=-1)
    every_two = torch.stack([-x[..., 1::2], x[..., 0::2]], dim=-1).flatten(-2)
    return {
        "RoPE pairs are interleaved (GPT-J: dims 2i and 2i+1 rotate together) instead of half-split "
        "(GPT-NeoX / Llama: dims i and i + head_dim/2 rotate together).": x * cos + every_two * sin,
        "rotate_half's sign is flipped: rotate_half(x) = cat([-x2, x1]), not cat([x2, -x1]).": x * cos - rotated * sin,
        "rotate_half lost its minus sign: rotate_half(x) = cat([-x2, x1]), not cat([x2, x1]).":
            x * cos + torch.cat([x2, x1], dim=-1) * sin,
        "cos and sin are swapped: out = x * cos + rotate_half(x) * sin.": x * sin + rotated * cos,
    }


def alibi_slope_mistakes(n_heads: int) -> dict[str, torch.Tensor]:
    """What common mistakes in ALiBi's slopes produce (float64), keyed by their explanation."""
    def geometric(n: int) -> list[float]:
        return [2 ** (-8 * (h + 1) / n) for h in range(n)]

    m = 1 << (n_heads.bit_length() - 1)  # the largest power of two <= n_heads
    def off_by_one(n: int) -> list[float]:
        return [2 ** (-8 * h / n) for h in range(n)]

    mistakes = {"the exponent is off by one: slope[h] = 2**(-8 * (h + 1) / n), so the first head's slope is "
                "2**(-8/n), not 1.": off_by_one(m) + off_by_one(2 * m)[0::2][: n_heads - m]}
    if m < n_heads:
        rule = (f"for {n_heads} heads (not a power of two) take the {m} slopes for {m}, then the slopes for "
                f"{2 * m} at indices 0, 2, 4, ... ({n_heads - m} of them).")
        mistakes.update({
            f"the power-of-two formula 2**(-8(h+1)/n) was used for n = {n_heads}: {rule}": geometric(n_heads),
            f"the first {n_heads} slopes for {2 * m} heads were taken: {rule}": geometric(2 * m)[:n_heads],
            f"the extra slopes come from the odd indices 1, 3, 5, ...: {rule}":
                geometric(m) + geometric(2 * m)[1::2][: n_heads - m],
        })
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in mistakes.items()}


def alibi_bias_mistakes(slopes: torch.Tensor, q_len: int, k_len: int) -> dict[str, torch.Tensor]:
    """What common mistakes in ALiBi's bias produce (float64), given the right slopes."""
    i = torch.arange(q_len, dtype=torch.float64)[:, None]
    j = torch.arange(k_len, dtype=torch.float64)[None, :]
    slopes = slopes.double()[:, None, None]
    distance = j - (i + k_len - q_len)
    return {
        f"the bias is aligned top-left (j - i); with q_len={q_len} and k_len={k_len} query i sits at key "
        f"i + k_len - q_len = i + {k_len - q_len} (bottom-right), as with a KV cache.": slopes * (j - i),
        "the sign is flipped: keys in the past must get a negative bias, slope * (j - (i + k_len - q_len)).":
            -slopes * distance,
        "it uses -|j - (i + k_len - q_len)|: the contract's bias is linear, positive for future keys.":
            -slopes * distance.abs(),
    }
