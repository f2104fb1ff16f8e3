"""`tritensor train --workers N` and `--model resnet18`: worker processes give the run of `--workers 0` exactly
(same batches in the same order, for the image and the text jobs, resumed runs included), and ResNet-18 trains
on both image datasets with torchvision's state_dict keys."""

import shutil

import numpy as np
import pytest

from tritensor import cli
from tritensor.train import train

IMAGES = dict(limit_train=96, limit_test=64, batch_size=32, epochs=2, device="cpu")
TEXT = dict(model="gpt", dataset="shakespeare", steps=8, eval_interval=4, hidden=16, block_size=8, batch_size=4,
            device="cpu")


def _quiet(**kwargs):
    return train(progress=False, log=lambda line: None, **kwargs)


def test_image_workers_train_on_the_same_batches():
    in_process = _quiet(**IMAGES)
    workers = _quiet(workers=2, **IMAGES)
    assert workers.step_losses == in_process.step_losses
    assert workers.test_accuracy == in_process.test_accuracy


def test_text_workers_train_on_the_same_batches_and_resume_exactly(tmp_path):
    in_process = _quiet(**TEXT)
    saved, copy = str(tmp_path / "run.safetensors"), str(tmp_path / "half.safetensors")

    def keep_half(line: str) -> None:
        if line.startswith("step 4/8"):
            shutil.copy(saved, copy)

    # Workers prefetch batches past step 4 when the checkpoint is written: it must still resume at step 5's.
    workers = train(progress=False, log=keep_half, workers=2, save=saved, **TEXT)
    assert workers.step_losses == in_process.step_losses and workers.val_loss == in_process.val_loss
    resumed = _quiet(resume=copy, save=str(tmp_path / "again.safetensors"), **TEXT)
    assert resumed.start_step == 4 and resumed.step_losses == in_process.step_losses[4:]


@pytest.mark.parametrize("dataset", ["digits", "fashion-mnist"])
def test_resnet18_trains_on_the_image_datasets(dataset):
    metrics = _quiet(model="resnet18", dataset=dataset, **IMAGES)
    assert np.all(np.isfinite(metrics.step_losses))
    # ln(10) = 2.30 is a uniform guess; measured: about 1.8 then 0.7 (fashion-mnist), 1.6 then 0.6 (digits)
    assert metrics.epoch_train_loss[1] < metrics.epoch_train_loss[0] < 2.3, metrics.epoch_train_loss


def test_resnet18_checkpoint_has_torchvision_keys(tmp_path):
    from tritensor import io

    ckpt = str(tmp_path / "resnet.safetensors")
    _quiet(model="resnet18", dataset="digits", limit_train=32, limit_test=32, batch_size=32, epochs=1, device="cpu",
           save=ckpt)
    keys = set(io.load(ckpt)["model"])
    assert {"conv1.weight", "bn1.running_mean", "bn1.num_batches_tracked", "layer1.0.conv1.weight",
            "layer2.0.downsample.0.weight", "layer4.1.bn2.bias", "fc.weight", "fc.bias"} <= keys
    assert len([k for k in keys if k.endswith("weight")]) == 41  # 20 conv + 20 BatchNorm + fc, as torchvision's


@pytest.mark.parametrize("args, message", [
    (["--workers", "-1"], "--workers must be an integer >= 0, got -1"),
    (["--model", "resnet18", "--dataset", "shakespeare"], "--model resnet18 trains on --dataset digits or"),
])
def test_option_errors(capsys, args, message):
    assert cli.main(["train", *args, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
