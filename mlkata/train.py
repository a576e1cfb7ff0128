"""Train your own GPT: a character-level language model on Tiny Shakespeare, on the CPU.

`mlkata train` (`make train`) runs this file. Every part that matters is yours: the model is
the `GPT` of your `transformer` exercise (with the worked solutions standing in for the
exercises it imports, as when grading), and the optimiser, schedule and clipping are your
`optim` exercise's `AdamW`, `cosine_lr` and `clip_grad_norm` (the worked solution's stand in
for any of them that is not implemented yet, with a note).

The recipe is nanoGPT's for shakespeare_char on a CPU (its README's `--device=cpu` command):
4 layers, 4 heads, d_model 128, 64-character context, batches of 12, 2000 steps of AdamW
(lr 1e-3, betas (0.9, 0.99), weight decay 0.1 on the 2-D weights only), 100 warmup steps and
a cosine decay to 1e-4, gradients clipped at norm 1.0, no dropout, no biases. nanoGPT reaches
a validation loss of about 1.88 with it.

Shapes: `B` batch size, `T` context length (block_size), `V` vocabulary size (65), `C` d_model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from mlkata import paths

DATA_FILE = paths.ROOT / "data" / "tinyshakespeare.txt"


class TrainError(Exception):
    """Training cannot start or go on. `str()` is one paragraph for the learner."""


@dataclass
class TrainConfig:
    # model: nanoGPT's shakespeare_char CPU recipe (its train.py default is bias=False)
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    block_size: int = 64  # T: characters of context
    dropout: float = 0.0
    bias: bool = False
    # optimisation
    steps: int = 2000
    batch_size: int = 12  # B
    lr: float = 1e-3  # peak learning rate, reached at the end of warmup
    min_lr: float = 1e-4  # where the cosine ends, at the last step
    warmup_steps: int = 100
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.1  # on the 2-D weights (matrices, embeddings) only
    grad_clip: float = 1.0
    # evaluation and sampling
    eval_batches: int = 20  # batches per loss estimate (nanoGPT's CPU recipe: --eval_iters=20)
    sample_tokens: int = 300
    temperature: float = 0.8  # nanoGPT's sample.py default
    seed: int = 1337  # nanoGPT's
    threads: int | None = None  # torch.set_num_threads; None keeps torch's default

    def validate(self) -> None:
        """Raise `TrainError` for settings that cannot work, before any time is spent."""
        positive = ("n_layer", "n_head", "d_model", "block_size", "steps", "batch_size", "eval_batches")
        for name in positive:
            if getattr(self, name) < 1:
                raise TrainError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.d_model % self.n_head:
            raise TrainError(f"d_model ({self.d_model}) must be divisible by n_head ({self.n_head}): "
                             "each head gets d_model // n_head features.")
        if self.sample_tokens < 0 or self.warmup_steps < 0 or self.temperature < 0:
            raise TrainError("sample_tokens, warmup_steps and temperature must not be negative.")
        if not 0.0 <= self.dropout < 1.0:
            raise TrainError(f"dropout must be in [0, 1), got {self.dropout}.")
        if self.lr <= 0 or self.min_lr < 0:
            raise TrainError(f"lr must be positive and min_lr non-negative, got {self.lr} and {self.min_lr}.")


# --- data -------------------------------------------------------------------------------


@dataclass
class CharData:
    """The corpus as token ids: one token per character, id = the character's rank."""

    chars: list[str]  # the vocabulary, sorted
    train: torch.Tensor  # (N_train,) uint8: the first 90 % of the text
    val: torch.Tensor  # (N_val,) uint8: the last 10 %

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        index = {c: i for i, c in enumerate(self.chars)}
        return torch.tensor([index[c] for c in text], dtype=torch.long)

    def decode(self, ids: torch.Tensor) -> str:
        return "".join(self.chars[i] for i in ids.tolist())


def load_data(path: Path = DATA_FILE, val_fraction: float = 0.1) -> CharData:
    """Read the text and split it at the character level, as nanoGPT's prepare.py does."""
    if not path.is_file():
        raise TrainError(f"{paths.display(path)} is missing: it ships with the kit (see data/README.md).")
    text = path.read_text(encoding="utf-8")
    chars = sorted(set(text))
    if len(chars) > 256:
        raise TrainError(f"{path.name} has {len(chars)} distinct characters; this loader stores ids as uint8.")
    codes = torch.frombuffer(bytearray(text.encode("utf-32-le")), dtype=torch.int32)  # (N,) code points
    vocab = torch.tensor([ord(c) for c in chars], dtype=torch.int32)  # sorted, as `chars`
    ids = torch.searchsorted(vocab, codes).to(torch.uint8)  # (N,) each character's rank: its token id
    n_train = int(len(ids) * (1 - val_fraction))
    return CharData(chars, ids[:n_train], ids[n_train:])


def get_batch(data: torch.Tensor, batch_size: int, block_size: int,
              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """B random windows of the text: inputs x and next-character targets y, each (B, T) int64.

    Two indexing operations, no Python loop: row b of x is data[i_b : i_b + T] and row b of y
    is the same window one character later, so y[b, t] is the character that follows x[b, t].
    (Both are contiguous, so a model may call .view on them.)
    """
    starts = torch.randint(len(data) - block_size, (batch_size, 1), generator=generator)  # (B, 1)
    positions = starts + torch.arange(block_size)  # (B, T): the indices of each window
    return data[positions].long(), data[positions + 1].long()


# --- the learner's components -------------------------------------------------------------


@dataclass
class Components:
    """What trains: the graded folder's GPT and optimiser parts (or stand-ins), and notes on them."""

    GPTConfig: Any
    GPT: Any
    AdamW: Any
    cosine_lr: Callable[..., float]
    clip_grad_norm: Callable[..., Any]
    folder: Path  # the graded folder the GPT comes from
    notes: list[str] = field(default_factory=list)


def load_components(impl: str | Path = "exercises") -> Components:
    """The GPT of `impl`'s transformer.py, and its optim.py's parts where they are implemented."""
    from mlkata.loader import LearnerCodeError, load_exercise

    impl_dir = paths.resolve_impl(impl)
    try:
        transformer = load_exercise("transformer", impl_dir)
    except LearnerCodeError as err:
        raise TrainError(f"{err} `mlkata train` needs your transformer exercise to import.") from None
    missing = [name for name in ("GPT", "GPTConfig") if name not in dir(transformer)]
    if missing:
        raise TrainError(f"{paths.display(impl_dir / 'transformer.py')} does not define "
                         f"{' and '.join(f'`{m}`' for m in missing)}, which the exercise contract requires.")

    notes: list[str] = []
    solution = load_exercise("optim", paths.SOLUTIONS)
    try:
        optim = load_exercise("optim", impl_dir)
    except LearnerCodeError as err:
        notes.append(f"your optim exercise could not be loaded ({err}); the worked solution's AdamW, "
                     "cosine_lr and clip_grad_norm are used instead.")
        optim = solution
    parts = {}
    for name, probe in (("AdamW", _probe_adamw), ("cosine_lr", _probe_cosine_lr),
                        ("clip_grad_norm", _probe_clip_grad_norm)):
        part = getattr(optim, name) if name in dir(optim) else None
        problem = "is missing" if part is None else probe(part)
        if optim is not solution and problem:
            notes.append(f"your {name} {problem}; the worked solution's stands in for it.")
            part = getattr(solution, name)
        parts[name] = part
    return Components(transformer.GPTConfig, transformer.GPT, parts["AdamW"], parts["cosine_lr"],
                      parts["clip_grad_norm"], impl_dir, notes)


def _failure(err: BaseException) -> str:
    if isinstance(err, NotImplementedError):
        return "is not implemented yet"
    first = str(err).splitlines()[0] if str(err) else ""
    return f"raised {type(err).__name__}{': ' + first if first else ''} (`mlkata check optim` says more)"


def _probe_adamw(AdamW: Any) -> str:
    """'' if one AdamW step on a toy parameter (in param groups) runs, else what went wrong."""
    p = torch.zeros(3, requires_grad=True)
    p.grad = torch.ones(3)
    try:
        opt = AdamW([{"params": [p], "weight_decay": 0.1}], lr=1e-3)
        opt.step()
        opt.zero_grad()
    except Exception as err:  # noqa: BLE001 - any failure means: use the stand-in
        return _failure(err)
    return "" if bool(torch.isfinite(p).all()) and not torch.equal(p.detach(), torch.zeros(3)) else \
        "did not change the parameter in one step"


def _probe_cosine_lr(cosine_lr: Callable[..., float]) -> str:
    try:
        lr = cosine_lr(0, 1e-3, 1e-4, 100, 2000)
    except Exception as err:  # noqa: BLE001
        return _failure(err)
    return "" if isinstance(lr, (int, float)) and math.isfinite(lr) else f"returned {lr!r}, not a float"


def _probe_clip_grad_norm(clip_grad_norm: Callable[..., Any]) -> str:
    p = torch.zeros(2, requires_grad=True)
    p.grad = torch.tensor([3.0, 4.0])
    try:
        clip_grad_norm([p], 1.0)
    except Exception as err:  # noqa: BLE001
        return _failure(err)
    return ""


# --- training -----------------------------------------------------------------------------


@dataclass
class TrainResult:
    steps: int
    train_loss: float  # estimated on eval_batches random batches after the last step
    val_loss: float
    mid_val_loss: float | None  # the same, halfway through
    losses: list[float]  # the training loss of every step's batch
    train_seconds: float  # the training loop, including the midway evaluation
    tokens_per_second: float  # training tokens (B * T per step) per second of train_seconds
    sample: str
    sample_seconds: float
    notes: list[str]


def build_model(components: Components, cfg: TrainConfig, vocab_size: int) -> torch.nn.Module:
    """The learner's GPT with this config, checked on one tiny batch before any time is spent."""
    from mlkata.loader import learner_frame

    file = components.folder / "transformer.py"
    x = torch.zeros(2, min(3, cfg.block_size), dtype=torch.long)  # (B, T) = (2, 3): a tiny batch
    try:
        config = components.GPTConfig(vocab_size=vocab_size, block_size=cfg.block_size, n_layer=cfg.n_layer,
                                      n_head=cfg.n_head, d_model=cfg.d_model, dropout=cfg.dropout, bias=cfg.bias)
        model = components.GPT(config)
        out = model(x, x)  # (logits (2, 3, V), loss)
    except NotImplementedError as err:
        where = str(err).split(":")[0] or "part of it"
        raise TrainError(
            f"Your GPT is not implemented yet ({where} raises NotImplementedError in {paths.display(file)}), so "
            "there is nothing of yours to train. Work through the transformer exercise first: `make check "
            "EX=transformer` grades it function by function, and `mlkata hint transformer` helps. Meanwhile "
            "`make train IMPL=solutions` trains the worked solution, to see what you are aiming at.") from None
    except Exception as err:  # noqa: BLE001 - the learner's code: report it, never a traceback
        frame = learner_frame(err, file.resolve())
        where = f" at {file.name} line {frame.lineno} ({frame.name}): `{frame.line}`" if frame else ""
        first = str(err).splitlines()[0] if str(err) else ""
        raise TrainError(
            f"Your GPT raised {type(err).__name__}{': ' + first if first else ''}{where}, while being built and "
            f"run on a batch of shape {tuple(x.shape)} with targets. `make check EX=transformer` says what is "
            "wrong.") from None
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], torch.Tensor) and out[1].dim() == 0):
        raise TrainError(f"GPT.forward(idx, targets) in {paths.display(file)} must return (logits, loss) with a "
                         "scalar loss (the exercise contract, section 6).")
    return model


def configure_optimizer(model: torch.nn.Module, components: Components, cfg: TrainConfig) -> Any:
    """AdamW with two parameter groups, as nanoGPT: weight decay on the 2-D tensors (the
    Linear weights and the embeddings, which the tied lm_head shares), none on the biases and
    LayerNorm weights (decaying a gain towards 0 would only fight the normalisation)."""
    params = list(model.parameters())  # each tensor once, even the tied embedding / lm_head
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return components.AdamW(groups, lr=cfg.lr, betas=cfg.betas)


@torch.no_grad()
def estimate_loss(model: torch.nn.Module, data: torch.Tensor, cfg: TrainConfig,
                  generator: torch.Generator) -> float:
    """The mean loss over `eval_batches` random batches, in eval mode (no dropout)."""
    model.eval()
    losses = [model(*get_batch(data, cfg.batch_size, cfg.block_size, generator))[1].item()
              for _ in range(cfg.eval_batches)]
    model.train()
    return sum(losses) / len(losses)


def sample(model: Any, data: CharData, cfg: TrainConfig, notes: list[str]) -> str:
    """`sample_tokens` characters from the model's own generate, with its KV cache, after a newline."""
    prompt = data.encode("\n")[None, :]  # (1, 1)
    generator = torch.Generator().manual_seed(cfg.seed)
    model.eval()
    try:
        try:
            out = model.generate(prompt, cfg.sample_tokens, temperature=cfg.temperature, use_cache=True,
                                 generator=generator)
        except ValueError:
            # The contract leaves generating past block_size open: this GPT does not slide its window.
            n = min(cfg.sample_tokens, cfg.block_size - prompt.shape[1])
            notes.append(f"your generate raised ValueError for {cfg.sample_tokens} new tokens (past block_size="
                         f"{cfg.block_size}), so the sample has {n}.")
            out = model.generate(prompt, n, temperature=cfg.temperature, use_cache=True,
                                 generator=torch.Generator().manual_seed(cfg.seed))
    except NotImplementedError:
        notes.append("your GPT.generate is not implemented yet, so there is no sample.")
        return ""
    except Exception as err:  # noqa: BLE001 - the learner's code
        notes.append(f"your GPT.generate raised {type(err).__name__}: {err}; no sample "
                     "(`make check EX=transformer` says more).")
        return ""
    return data.decode(out[0, prompt.shape[1]:])


def train(cfg: TrainConfig, components: Components, *, progress: bool = True,
          log: Callable[[str], None] = print) -> TrainResult:
    """Train the learner's GPT on Tiny Shakespeare with `cfg`; evaluate; sample."""
    cfg.validate()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    data = load_data()
    torch.manual_seed(cfg.seed)  # the model's initialisation
    batches = torch.Generator().manual_seed(cfg.seed)  # the training batches
    evals = torch.Generator().manual_seed(cfg.seed + 1)  # the evaluation batches
    model = build_model(components, cfg, data.vocab_size)
    optimizer = configure_optimizer(model, components, cfg)
    n_params = sum(p.numel() for p in model.parameters())
    threads = torch.get_num_threads()
    log(f"GPT from {paths.display(components.folder / 'transformer.py')}: {n_params / 1e6:.2f}M parameters, "
        f"{cfg.n_layer} layers, {cfg.n_head} heads, d_model {cfg.d_model}, context {cfg.block_size}; "
        f"{len(data.train):,} training and {len(data.val):,} validation characters; "
        f"{threads} CPU thread{'s' * (threads != 1)}.")
    for note in components.notes:
        log(f"note: {note}")

    from tqdm import tqdm

    losses: list[float] = []
    mid_val: float | None = None
    bar = tqdm(range(cfg.steps), desc="training", unit="step", disable=not progress, dynamic_ncols=True)
    start = time.perf_counter()
    for step in bar:
        lr = components.cosine_lr(step, cfg.lr, cfg.min_lr, cfg.warmup_steps, cfg.steps)
        for group in optimizer.param_groups:  # the schedule sets every group's lr before the step
            group["lr"] = lr
        x, y = get_batch(data.train, cfg.batch_size, cfg.block_size, batches)  # (B, T) each
        _, loss = model(x, y)  # mean cross-entropy over the B * T next-character predictions
        optimizer.zero_grad()
        loss.backward()
        components.clip_grad_norm(model.parameters(), cfg.grad_clip)
        optimizer.step()

        losses.append(loss.item())
        if not math.isfinite(losses[-1]):
            bar.close()
            raise TrainError(f"the training loss became {losses[-1]} at step {step}: something in the model or "
                             "the optimiser is numerically broken (`make check EX=transformer`, `EX=optim`).")
        if step % 10 == 0:
            bar.set_postfix_str(f"loss {losses[-1]:.3f}, lr {lr:.2e}", refresh=False)
        if step + 1 == cfg.steps // 2 and cfg.steps >= 4:
            mid_val = estimate_loss(model, data.val, cfg, evals)
            bar.write(f"step {step + 1}: val loss {mid_val:.4f}")
    train_seconds = time.perf_counter() - start
    bar.close()

    train_loss = estimate_loss(model, data.train, cfg, evals)
    val_loss = estimate_loss(model, data.val, cfg, evals)
    notes: list[str] = []
    start = time.perf_counter()
    text = sample(model, data, cfg, notes) if cfg.sample_tokens else ""
    sample_seconds = time.perf_counter() - start
    tokens = cfg.steps * cfg.batch_size * cfg.block_size
    return TrainResult(cfg.steps, train_loss, val_loss, mid_val, losses, train_seconds, tokens / train_seconds,
                       text, sample_seconds, notes)


def format_result(result: TrainResult, cfg: TrainConfig) -> str:
    """The summary `mlkata train` prints at the end."""
    lines = [f"after {result.steps} steps: train loss {result.train_loss:.4f}, val loss {result.val_loss:.4f} "
             f"(each the mean of {cfg.eval_batches} random batches of {cfg.batch_size} x {cfg.block_size} characters)",
             f"trained in {result.train_seconds:.1f} s: {result.tokens_per_second:,.0f} tokens/s "
             f"({result.train_seconds / result.steps * 1e3:.1f} ms per step)"]
    lines += [f"note: {note}" for note in result.notes]
    if result.sample:
        lines += [f"--- a sample of {len(result.sample)} characters (temperature {cfg.temperature:g}, KV cache, "
                  f"{result.sample_seconds:.1f} s) ---", result.sample.rstrip(), "---"]
    return "\n".join(lines)
