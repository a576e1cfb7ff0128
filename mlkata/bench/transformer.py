"""Benchmarks for `transformer`: a training step of the GPT, and cached vs uncached generation.

1. Forward + backward of the capstone configuration (4 layers, 4 heads, d_model 128,
   block 64, vocabulary 65, batch 12) against the same model built from torch's own modules:
   `nn.Embedding`, a pre-norm `nn.TransformerEncoder` with a causal mask (its attention is
   `F.scaled_dot_product_attention`), `nn.LayerNorm`, a tied `nn.Linear` head. The learner's
   weights are copied into it, so the two losses must agree.
2. `GPT.generate` of 256 new tokens (greedy, batch 1, the default GPTConfig: block 256) with
   `use_cache=True` against the learner's own `use_cache=False`: tokens per second.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mlkata.bench.framework import Context, Row
from mlkata.bench.kv_cache import add_throughput

EXERCISE = "transformer"


class TorchGPT(nn.Module):
    """The contract's GPT from torch built-ins (pre-norm encoder layers with a causal mask)."""

    def __init__(self, vocab_size: int, block_size: int, n_layer: int, n_head: int, d_model: int) -> None:
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(block_size, d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_head, 4 * d_model, dropout=0.0, batch_first=True,
                                           norm_first=True, activation=lambda x: F.gelu(x, approximate="tanh"))
        self.blocks = nn.TransformerEncoder(layer, n_layer, enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight

    def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        length = idx.shape[1]
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(length, device=idx.device))
        mask = nn.Transformer.generate_square_subsequent_mask(length, device=idx.device)
        logits = self.lm_head(self.ln_f(self.blocks(x, mask=mask, is_causal=True)))
        return logits, F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    @torch.no_grad()
    def copy_from(self, gpt: Any) -> None:
        """Take the weights of a GPT laid out as the contract says (tok_emb, blocks[i].attn.q_proj, ...)."""
        self.tok_emb.weight.copy_(gpt.tok_emb.weight)
        self.pos_emb.weight.copy_(gpt.pos_emb.weight)
        for block, layer in zip(gpt.blocks, self.blocks.layers, strict=True):
            attn = block.attn
            projections = (attn.q_proj, attn.k_proj, attn.v_proj)
            layer.self_attn.in_proj_weight.copy_(torch.cat([p.weight for p in projections]))
            layer.self_attn.in_proj_bias.copy_(torch.cat([p.bias for p in projections]))
            layer.self_attn.out_proj.weight.copy_(attn.out_proj.weight)
            layer.self_attn.out_proj.bias.copy_(attn.out_proj.bias)
            for mine, theirs in ((block.ln_1, layer.norm1), (block.ln_2, layer.norm2),
                                 (block.mlp.fc, layer.linear1), (block.mlp.proj, layer.linear2)):
                theirs.weight.copy_(mine.weight)
                theirs.bias.copy_(mine.bias)
        self.ln_f.weight.copy_(gpt.ln_f.weight)
        self.ln_f.bias.copy_(gpt.ln_f.bias)


def train_step(model: nn.Module, idx: torch.Tensor, targets: torch.Tensor):
    def step() -> torch.Tensor:
        model.zero_grad(set_to_none=True)
        _, loss = model(idx, targets)
        loss.backward()
        return loss.detach()
    return step


def cases(ctx: Context) -> Iterator[Row]:
    ex = ctx.load(EXERCISE)
    dev = ctx.device

    # 1. Training step: forward + backward.
    if ctx.quick:
        shape = dict(vocab_size=65, block_size=16, n_layer=1, n_head=2, d_model=32)
        batch = 2
    else:
        shape = dict(vocab_size=65, block_size=64, n_layer=4, n_head=4, d_model=128)
        batch = 12
    gen = torch.Generator().manual_seed(0)
    idx = torch.randint(0, shape["vocab_size"], (batch, shape["block_size"]), generator=gen).to(dev)
    targets = torch.randint(0, shape["vocab_size"], (batch, shape["block_size"]), generator=gen).to(dev)
    built: dict[str, nn.Module] = {}

    def make_mine():
        torch.manual_seed(0)
        built["mine"] = model = ex.GPT(ex.GPTConfig(**shape)).to(dev)
        return train_step(model, idx, targets)

    def make_theirs():
        torch.manual_seed(0)
        model = TorchGPT(**shape).to(dev)
        if "mine" in built:
            try:
                model.copy_from(built["mine"])  # same weights: the two losses must agree
            except Exception:  # noqa: BLE001 - not the contract's layout: compare speed only
                pass
        return train_step(model, idx, targets)

    size = (f"{shape['n_layer']} layers, {shape['n_head']} heads, d={shape['d_model']}, "
            f"block {shape['block_size']}, batch {batch}")
    yield ctx.compare(EXERCISE, "GPT forward + backward", size, make_mine, make_theirs,
                      baseline="the same GPT from torch.nn built-ins", grad=True)

    # 2. Generation with and without the KV cache.
    new_tokens = 16 if ctx.quick else 256
    config = dict(block_size=32, n_layer=1, n_head=2, d_model=32) if ctx.quick else {}
    prompt = torch.zeros(1, 1, dtype=torch.long, device=dev)
    model: dict[str, nn.Module] = {}

    def make(use_cache: bool):
        def build():
            if "gpt" not in model:
                torch.manual_seed(0)
                model["gpt"] = ex.GPT(ex.GPTConfig(**config)).to(dev).eval()
            gpt = model["gpt"]
            return lambda: gpt.generate(prompt, new_tokens, use_cache=use_cache)
        return build

    size = "default GPTConfig" if not config else f"{config['n_layer']} layer, d={config['d_model']}"
    row = ctx.compare(EXERCISE, "GPT.generate(use_cache=True)", f"{size}, B=1, {new_tokens} new tokens",
                      make(True), make(False), baseline="your GPT.generate(use_cache=False)",
                      baseline_file=ctx.file_of(EXERCISE))
    add_throughput(row, new_tokens)
    yield row
