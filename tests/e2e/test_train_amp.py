"""`tritensor train --amp fp16|bf16`: every model trains under autocast (fp16 with a GradScaler), an fp16 run
resumes exactly with its loss scale, and the combinations that cannot work are one-line errors."""

import math

import pytest

from tritensor import cli
from tritensor.train import train

RUN = dict(limit_train=256, limit_test=100, batch_size=32, epochs=2, device="cpu")
TEXT = dict(dataset="shakespeare", steps=4, eval_interval=2, hidden=16, block_size=8, batch_size=4, limit_train=4000,
            device="cpu")


def _quiet(lines=None, **kwargs):
    return train(progress=False, log=(lambda line: None) if lines is None else lines.append, **kwargs)


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_image_models_train_under_autocast(model, amp):
    lines = []
    fp32 = _quiet(model=model, **RUN)
    mixed = _quiet(lines, model=model, amp=amp, **RUN)
    assert all(math.isfinite(x) for x in mixed.step_losses)
    assert mixed.epoch_train_loss[1] < mixed.epoch_train_loss[0]
    # the same seed and batches: the mixed run tracks the float32 one
    assert abs(mixed.epoch_train_loss[1] - fp32.epoch_train_loss[1]) < 0.05 * fp32.epoch_train_loss[1]
    scaler = ", GradScaler (dynamic loss scale)" if amp == "fp16" else ""
    assert f"precision: autocast {'float16' if amp == 'fp16' else 'bfloat16'}{scaler}" in lines


@pytest.mark.parametrize("model", ["lstm", "gpt"])
def test_text_models_train_under_bf16(model):
    metrics = _quiet(model=model, amp="bf16", **TEXT)
    assert len(metrics.step_losses) == 4 and all(math.isfinite(x) for x in metrics.step_losses)


def test_fp16_on_interpreted_cuda():
    metrics = _quiet(model="mlp", amp="fp16", **dict(RUN, device="cuda", limit_train=64, limit_test=32, epochs=1))
    assert len(metrics.step_losses) == 2 and all(math.isfinite(x) for x in metrics.step_losses)


def test_fp16_resumes_exactly_with_its_loss_scale(tmp_path):
    options = dict(RUN, epochs=3, amp="fp16")
    straight = _quiet(**options)
    ckpt = tmp_path / "ckpt.safetensors"

    def interrupt_after_epoch_2(line):
        if line.startswith("epoch 2/3"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(progress=False, log=interrupt_after_epoch_2, save=str(ckpt), **options)
    from tritensor import io

    assert io.load(str(ckpt))["scaler"]["scale"] == 2.0**16
    resumed = _quiet(resume=str(ckpt), **options)
    assert resumed.step_losses == straight.step_losses[-8:]


def test_bad_combinations_are_one_line_errors(capsys):
    assert cli.main(["train", "--amp", "fp16", "--optimizer", "lbfgs", "--no-progress"]) == 2
    assert "--amp fp16 steps through a GradScaler, which cannot run --optimizer lbfgs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["train", "--amp", "fp8"])
    assert "argument --amp: invalid choice: 'fp8'" in capsys.readouterr().err
