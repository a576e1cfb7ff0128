"""A GPT from scratch: LayerNorm, RMSNorm, the MLP, pre-norm blocks, tied embeddings and
cached generation.

The architecture is GPT-2's (and nanoGPT's): token + learned position embeddings, a stack of
pre-norm blocks (causal self-attention, then an MLP, each inside a residual connection), a
final LayerNorm, and a language-model head that shares its weight with the token embedding.

Shapes: `B` batch, `T` sequence length, `C` = d_model, `V` vocabulary size.
Contract: ../shared/exercise-contract.md, section 6.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .kv_cache import CachedCausalSelfAttention, KVCache
from .sampling import sample_next_token


@dataclass
class GPTConfig:
    vocab_size: int = 65
    block_size: int = 256  # the longest sequence the model sees (its number of positions)
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    dropout: float = 0.0
    bias: bool = True  # biases in the Linear layers and LayerNorms


class LayerNorm(nn.Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, over the last dimension.

    var is the *biased* variance, mean((x - mean)**2) (divide by d, not d - 1), as in
    torch.nn.LayerNorm. x: (..., d) -> (..., d). With bias=False there is no bias (None).
    """

    def __init__(self, d: int, eps: float = 1e-5, bias: bool = True) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        centred = x - x.mean(dim=-1, keepdim=True)
        var = centred.pow(2).mean(dim=-1, keepdim=True)  # biased: divide by d, not d - 1
        y = centred * torch.rsqrt(var + self.eps) * self.weight  # rsqrt(v) = 1 / sqrt(v)
        return y + self.bias if self.bias is not None else y
        # END SOLUTION


class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x**2) + eps) * weight, over the last dimension (no centring, no bias).

    x: (..., d) -> (..., d).
    """

    def __init__(self, d: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        mean_square = x.pow(2).mean(dim=-1, keepdim=True)
        return x * torch.rsqrt(mean_square + self.eps) * self.weight
        # END SOLUTION


class FeedForward(nn.Module):
    """The transformer's MLP: proj(gelu(fc(x))), then dropout.

    fc: d_model -> hidden (default 4 * d_model); proj: hidden -> d_model. GELU is the tanh
    approximation GPT-2 uses: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x**3))).
    x: (..., d_model) -> (..., d_model).
    """

    def __init__(self, d_model: int, hidden: int | None = None, bias: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        hidden = hidden or 4 * d_model
        self.fc = nn.Linear(d_model, hidden, bias=bias)
        self.proj = nn.Linear(hidden, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        return self.dropout(self.proj(F.gelu(self.fc(x), approximate="tanh")))
        # END SOLUTION


class Block(nn.Module):
    """A pre-norm transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).

    Normalising *inside* each branch (pre-norm) leaves the residual stream x untouched from
    the embedding to ln_f, which is what lets deep stacks train without warmup tricks.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = LayerNorm(config.d_model, bias=config.bias)
        self.attn = CachedCausalSelfAttention(config.d_model, config.n_head, bias=config.bias)
        self.ln_2 = LayerNorm(config.d_model, bias=config.bias)
        self.mlp = FeedForward(config.d_model, bias=config.bias, dropout=config.dropout)
        self.dropout = nn.Dropout(config.dropout)  # on the attention branch's output

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """x: (B, T, C) -> (B, T, C). `cache`: as in CachedCausalSelfAttention.

        self.dropout acts on the attention branch's output (the MLP has its own dropout).
        """
        # BEGIN SOLUTION
        x = x + self.dropout(self.attn(self.ln_1(x), cache))
        x = x + self.mlp(self.ln_2(x))
        return x
        # END SOLUTION


class GPT(nn.Module):
    """A decoder-only transformer language model.

    logits = lm_head(ln_f(blocks(tok_emb(idx) + pos_emb(positions)))), where lm_head shares
    its weight with tok_emb (weight tying: one (V, C) matrix both embeds and un-embeds).
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.block_size, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = LayerNorm(config.d_model, bias=config.bias)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        # Tie lm_head's weight to tok_emb's (the same Parameter), then initialise as GPT-2
        # does: every nn.Linear and nn.Embedding weight N(0, 0.02), every Linear bias zero.
        # (nn.Embedding's default N(0, 1) would make the initial logits huge and the initial
        # loss far above ln(vocab_size), the loss of a uniform guess.)
        # BEGIN SOLUTION
        self.lm_head.weight = self.tok_emb.weight  # the same Parameter, not a copy
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        # END SOLUTION

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                caches: list[KVCache] | None = None) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """idx: (B, T) int64 token ids -> logits (B, T, V).

        With targets (B, T): returns (logits, loss), loss = the mean cross-entropy over all
        B * T positions. With caches (one KVCache per block), idx holds only the newest
        tokens: their positions start at len(caches[0]), and the blocks append to the caches.
        Raises ValueError if a position would reach block_size (start + T > block_size).
        self.dropout acts on the sum of the two embeddings.
        """
        # BEGIN SOLUTION
        length = idx.shape[1]
        start = len(caches[0]) if caches is not None else 0
        if start + length > self.config.block_size:
            raise ValueError(f"positions {start}..{start + length - 1} do not fit block_size={self.config.block_size}")
        positions = torch.arange(start, start + length, device=idx.device)
        x = self.dropout(self.tok_emb(idx) + self.pos_emb(positions))  # (B, T, C)
        for i, block in enumerate(self.blocks):
            x = block(x, caches[i] if caches is not None else None)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        if targets is None:
            return logits
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        return logits, loss
        # END SOLUTION

    def make_caches(self, batch_size: int, max_len: int | None = None) -> list[KVCache]:
        """One empty KVCache per block, holding up to max_len (default block_size) positions,
        in the model's dtype and on its device."""
        # BEGIN SOLUTION
        c = self.config
        weight = self.tok_emb.weight
        return [KVCache(batch_size, c.n_head, max_len or c.block_size, c.d_model // c.n_head,
                        dtype=weight.dtype, device=weight.device) for _ in range(c.n_layer)]
        # END SOLUTION

    @torch.inference_mode()  # no autograd bookkeeping: most of decoding's per-token cost
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 0.0,
                 top_k: int | None = None, use_cache: bool = True,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Extend idx (B, T) by max_new_tokens tokens -> (B, T + max_new_tokens).

        Each step draws the next token from the logits of the last position with
        sample_next_token (the sampling exercise): temperature == 0 picks the argmax;
        otherwise divide by temperature, keep the top_k logits (if given), and draw from the
        softmax with torch.multinomial(..., generator=generator).
        use_cache=True feeds the prompt once and then only the newest token, through caches
        from make_caches; use_cache=False feeds the whole sequence every step. Both pick the
        same tokens. When the sequence outgrows block_size, the model sees only its last
        block_size tokens (the window slides, so both paths recompute that window).
        """
        # BEGIN SOLUTION
        block_size = self.config.block_size
        caches = self.make_caches(idx.shape[0]) if use_cache else None
        for _ in range(max_new_tokens):
            if caches is None:
                logits = self(idx[:, -block_size:])
            elif idx.shape[1] > block_size:  # the window slid: every cached position moved
                for cache in caches:
                    cache.reset()
                logits = self(idx[:, -block_size:], caches=caches)
            else:
                logits = self(idx[:, len(caches[0]):], caches=caches)  # only what is not cached yet
            next_token = sample_next_token(logits[:, -1, :], temperature, top_k, generator=generator)  # (B,)
            idx = torch.cat([idx, next_token[:, None]], dim=1)
        return idx
        # END SOLUTION
