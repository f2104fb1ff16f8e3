"""`tritensor train --optimizer NAME --scheduler NAME`: every optimizer trains the digits MLP (its loss falls), every
schedule drives the lr the documented way over the run, a non-default pair resumes exactly, and bad names are
one-line errors."""

import math
import shutil

import numpy as np
import pytest

import tritensor as tt
from tritensor import cli
from tritensor.train import OPTIMIZERS, train
from tritensor.train_optim import SCHEDULERS, warmup_steps

RUN = dict(limit_train=256, limit_test=100, batch_size=32, epochs=2, device="cpu")
STEPS = 16  # 256 / 32 samples per epoch, 2 epochs


def _quiet(**kwargs):
    return train(progress=False, log=lambda line: None, **kwargs)


def _lrs(metrics) -> np.ndarray:
    return np.array([r["lr"] for r in metrics.records if r["kind"] == "step"])


IMAGE_OPTIMIZERS = [name for name in OPTIMIZERS if name != "sparseadam"]  # sparseadam: --model lstm (below)
LSTM = dict(model="lstm", dataset="shakespeare", optimizer="sparseadam", lr=1e-2, steps=12, eval_interval=6, hidden=16,
            block_size=8, batch_size=4)


@pytest.mark.parametrize("optimizer", IMAGE_OPTIMIZERS)
def test_every_optimizer_trains(optimizer):
    metrics = _quiet(optimizer=optimizer, **RUN)
    assert all(math.isfinite(x) for x in metrics.step_losses)
    assert metrics.epoch_train_loss[1] < metrics.epoch_train_loss[0], metrics.epoch_train_loss


def _expected(name: str, lr: float) -> np.ndarray | None:
    """The lr at steps 0..STEPS-1 as the --scheduler help describes it (None: checked by shape only)."""
    t = np.arange(STEPS, dtype=np.float64)
    warmup = warmup_steps(STEPS)
    decay = 0.01 ** (1.0 / STEPS)
    progress = np.minimum(1.0, (t - warmup) / max(1, STEPS - warmup))
    table = {
        "none": np.full(STEPS, lr),
        "cosine": lr * (1 + np.cos(np.pi * t / STEPS)) / 2,
        "step": lr * 0.1 ** (t // (STEPS // 3)),
        "multistep": lr * 0.1 ** ((t >= STEPS // 2).astype(int) + (t >= STEPS * 3 // 4).astype(int)),
        "constant": np.where(t < STEPS // 10, lr / 3, lr),
        "linear": lr * (1 - t / STEPS),
        "exponential": lr * decay ** t,
        "multiplicative": lr * decay ** t,
        "polynomial": lr * (1 - t / STEPS) ** 2,
        "lambda": lr * np.where(t < warmup, (t + 1) / warmup, 0.1 + 0.45 * (1 + np.cos(np.pi * progress))),
    }
    return table.get(name)


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_every_scheduler_drives_the_lr(scheduler):
    metrics = _quiet(scheduler=scheduler, **RUN)
    lrs = _lrs(metrics)
    assert len(lrs) == STEPS and np.all(np.isfinite(lrs)) and np.all(lrs >= 0)
    expected = _expected(scheduler, 3e-3)
    if expected is not None:
        np.testing.assert_allclose(lrs, expected, rtol=1e-9, atol=1e-15)
    elif scheduler == "plateau":
        assert np.all(lrs[:STEPS // 2] == 3e-3)  # only evaluations (one per epoch) can lower it
    else:
        assert lrs.max() <= 3e-3 * (1 + 1e-12) and len(set(lrs.round(15))) > 2  # it moves, never past the peak


def test_non_default_pair_resumes_exactly(tmp_path):
    options = dict(RUN, epochs=3, optimizer="nadam", scheduler="onecycle")
    straight = _quiet(**options)
    ckpt = tmp_path / "ckpt.safetensors"

    def interrupt_after_epoch_2(line):
        if line.startswith("epoch 2/3"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(progress=False, log=interrupt_after_epoch_2, save=str(ckpt), **options)
    resumed = _quiet(resume=str(ckpt), **options)
    assert resumed.step_losses == straight.step_losses[-8:]
    assert resumed.test_accuracy == straight.test_accuracy


def test_sparseadam_trains_the_lstm_and_resumes_exactly(tmp_path):
    saved, copy = str(tmp_path / "run.safetensors"), str(tmp_path / "half.safetensors")

    def keep_half(line: str) -> None:
        if line.startswith("step 6/12"):
            shutil.copy(saved, copy)

    whole = train(save=saved, log=keep_half, progress=False, **LSTM)
    assert whole.eval_val_loss[-1] < whole.eval_val_loss[0] < whole.step_losses[0] - 0.1, whole.eval_val_loss
    resumed = train(resume=copy, save=str(tmp_path / "again.safetensors"), progress=False, log=lambda line: None,
                    **LSTM)
    assert resumed.start_step == 6 and resumed.step_losses == whole.step_losses[6:]


def test_sparseadam_steps_the_embedding_sparsely():
    from tritensor import nn
    from tritensor.models import CharLSTM
    from tritensor.train_optim import SparseDenseAdam

    model = CharLSTM(10, hidden=4, num_layers=1, sparse=True)
    embed = model.embed.weight
    opt = SparseDenseAdam([embed], [p for p in model.parameters() if p is not embed], lr=0.1)
    before = embed.detach().numpy().copy()
    logits, _ = model(tt.tensor([[1, 3]]))
    nn.functional.cross_entropy(logits.reshape(-1, 10), tt.tensor([3, 4])).backward()
    assert embed.grad.is_sparse and not model.head.weight.grad.is_sparse
    opt.step()
    moved = np.any(embed.detach().numpy() != before, axis=1)
    np.testing.assert_array_equal(np.flatnonzero(moved), [1, 3])  # only the rows the batch looked up
    assert [len(g["params"]) for g in opt.state_dict()["param_groups"]] == [1, len(list(model.parameters())) - 1]


def test_sparseadam_needs_the_lstm(capsys):
    assert cli.main(["train", "--optimizer", "sparseadam", "--no-progress"]) == 2
    assert "--optimizer sparseadam updates the sparse gradients of an nn.Embedding(sparse=True)" in \
        capsys.readouterr().err


def test_bad_names_are_one_line_errors(capsys):
    for flag in ("--scheduler", "--optimizer"):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["train", flag, "nope"])
        assert exit_info.value.code == 2  # argparse's usage error, before any data is loaded
        assert f"argument {flag}: invalid choice: 'nope'" in capsys.readouterr().err
