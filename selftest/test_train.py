"""`mlkata train`, the capstone: data, a tiny smoke run, and clear errors instead of tracebacks."""

from __future__ import annotations

import shutil

import pytest
import torch

from mlkata import cli, paths, stubs
from mlkata.train import (DATA_FILE, TrainConfig, TrainError, get_batch, load_components, load_data,
                          train)

TINY = dict(n_layer=1, n_head=2, d_model=16, block_size=16, batch_size=8, steps=40, lr=3e-3, min_lr=3e-4,
            warmup_steps=4, eval_batches=2, sample_tokens=20)
TINY_ARGS = ["--n-layer", "1", "--n-head", "2", "--d-model", "16", "--block-size", "16", "--batch-size", "8",
             "--eval-batches", "2", "--sample-tokens", "10", "--no-progress"]


def test_corpus_is_the_documented_file():
    import hashlib

    assert hashlib.md5(DATA_FILE.read_bytes()).hexdigest() == "6fb458f1232090904fb40fe944165e91"


def test_character_split_and_batches():
    data = load_data()
    text = DATA_FILE.read_text()
    assert data.vocab_size == 65 and data.chars == sorted(set(text))
    assert len(data.train) == int(len(text) * 0.9) and len(data.train) + len(data.val) == len(text)
    assert data.decode(data.train[:200]) == text[:200] and data.decode(data.val[:50]) == text[len(data.train):][:50]
    assert torch.equal(data.encode(text[:30]), data.train[:30].long())
    x, y = get_batch(data.train, 5, 16, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 16) and x.dtype == y.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1]), "y must be x shifted by one character"


def test_tiny_training_run_learns_and_samples():
    result = train(TrainConfig(**TINY), load_components("solutions"), progress=False, log=lambda _: None)
    first, last = sum(result.losses[:5]) / 5, sum(result.losses[-5:]) / 5
    assert last < first - 0.5, f"the loss did not go down: {first:.3f} -> {last:.3f}"
    assert 0 < result.val_loss < 4.0 and result.mid_val_loss is not None and result.tokens_per_second > 0
    assert len(result.sample) == 20 and set(result.sample) <= set(load_data().chars)


def test_command_runs_end_to_end(capsys):
    assert cli.main(["train", "--impl", "solutions", "--steps", "8", *TINY_ARGS]) == 0
    out = capsys.readouterr().out
    assert "after 8 steps: train loss" in out and "val loss" in out and "tokens/s" in out and "a sample of 10" in out


@pytest.mark.parametrize("args, message", [
    (["--steps", "0"], "must be at least 1"),
    (["--d-model", "abc"], "expected a whole number"),
    (["--lr", "-1"], "must be positive"),
])
def test_bad_arguments_are_refused_by_the_parser(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", *args])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_indivisible_heads_give_a_clear_error(capsys):
    assert cli.main(["train", "--impl", "solutions", "--d-model", "10", "--n-head", "3"]) == 1
    err = capsys.readouterr().err
    assert "divisible by n_head" in err and "Traceback" not in err


def test_missing_folder_gives_a_clear_error(capsys, tmp_path):
    assert cli.main(["train", "--impl", str(tmp_path), *TINY_ARGS]) == 1
    err = capsys.readouterr().err
    assert "transformer.py does not exist" in err and "Traceback" not in err


def test_unimplemented_gpt_gives_one_paragraph(capsys, tmp_path):
    stubs.write_stubs(tmp_path, ["transformer", "optim"])
    assert cli.main(["train", "--impl", str(tmp_path), *TINY_ARGS]) == 1
    err = capsys.readouterr().err.strip()
    assert "not implemented yet" in err and "make check EX=transformer" in err and "IMPL=solutions" in err
    assert "Traceback" not in err and "\n" not in err


def test_unimplemented_optim_falls_back_with_a_note(tmp_path):
    shutil.copy(paths.SOLUTIONS / "transformer.py", tmp_path / "transformer.py")
    stubs.write_stubs(tmp_path, ["optim"])
    components = load_components(tmp_path)
    notes = " ".join(components.notes)
    for name in ("AdamW", "cosine_lr", "clip_grad_norm"):
        assert f"your {name} is not implemented yet" in notes
    assert components.cosine_lr(0, 1.0, 0.1, 10, 100) == pytest.approx(0.1)  # the worked solution's
    result = train(TrainConfig(**{**TINY, "steps": 4, "sample_tokens": 0}), components, progress=False,
                   log=lambda _: None)
    assert result.sample == "" and result.val_loss > 0


def test_bad_config_is_rejected_before_training():
    with pytest.raises(TrainError, match="divisible"):
        TrainConfig(d_model=10, n_head=4).validate()
    with pytest.raises(TrainError, match="dropout"):
        TrainConfig(dropout=1.0).validate()
