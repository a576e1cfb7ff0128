"""`mlkata train`: train your own GPT on Tiny Shakespeare (the capstone)."""

from __future__ import annotations

import argparse

from mlkata.commands import add_impl_options

HELP = "train your GPT (transformer + optim exercises) on Tiny Shakespeare, on the CPU"

EPILOG = """\
Defaults are nanoGPT's CPU recipe for shakespeare_char (about 1.88 validation loss after
2000 steps). Try `--steps 200` for a quick look, or `--impl solutions` for the worked solution.
"""


def _at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def register(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_impl_options(parser, own_deps=False)  # transformer.py and optim.py come from this folder
    parser.add_argument("--steps", type=_at_least(1), default=2000, help="optimisation steps (default 2000)")
    parser.add_argument("--n-layer", type=_at_least(1), default=4, help="transformer blocks (default 4)")
    parser.add_argument("--n-head", type=_at_least(1), default=4, help="attention heads (default 4)")
    parser.add_argument("--d-model", type=_at_least(1), default=128, help="model width (default 128)")
    parser.add_argument("--block-size", type=_at_least(1), default=64, help="context length in characters (default 64)")
    parser.add_argument("--batch-size", type=_at_least(1), default=12, help="sequences per step (default 12)")
    parser.add_argument("--lr", type=_positive_float, default=1e-3, help="peak learning rate (default 1e-3)")
    parser.add_argument("--seed", type=int, default=1337, help="seed for the initialisation, batches and sample")
    parser.add_argument("--eval-batches", type=_at_least(1), default=20,
                        help="batches per train/val loss estimate (default 20, as nanoGPT's CPU recipe)")
    parser.add_argument("--sample-tokens", type=_at_least(0), default=300,
                        help="characters to generate at the end (default 300; 0: none)")
    parser.add_argument("--threads", type=_at_least(1), default=None,
                        help="CPU threads for torch (default: torch's choice, one per core)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from mlkata.train import TrainConfig, TrainError, format_result, load_components, train

    cfg = TrainConfig(n_layer=args.n_layer, n_head=args.n_head, d_model=args.d_model, block_size=args.block_size,
                      steps=args.steps, batch_size=args.batch_size, lr=args.lr, min_lr=args.lr / 10,
                      seed=args.seed, eval_batches=args.eval_batches, sample_tokens=args.sample_tokens,
                      threads=args.threads, warmup_steps=min(100, args.steps // 10))
    try:
        cfg.validate()
        components = load_components(args.impl)
        result = train(cfg, components, progress=not args.no_progress)
    except TrainError as err:
        print(f"mlkata train: {err}", file=sys.stderr)
        return 1
    print(format_result(result, cfg))
    return 0
