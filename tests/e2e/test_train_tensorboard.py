"""`tritensor train --tensorboard DIR`: every step's loss and lr and every evaluation reach TensorBoard scalars,
read back with tensorboard's own event reader."""

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tritensor import cli
from tritensor.train import train


def test_steps_and_evaluations_are_tensorboard_scalars(tmp_path):
    logdir = tmp_path / "tb"
    metrics = train(progress=False, log=lambda line: None, epochs=2, limit_train=128, limit_test=64, batch_size=32,
                    device="cpu", tensorboard=str(logdir))
    events = EventAccumulator(str(logdir))
    events.Reload()
    losses = events.Scalars("step/loss")
    assert [e.step for e in losses] == list(range(1, 9))
    assert [e.value for e in losses] == pytest.approx(metrics.step_losses, rel=1e-6)
    accuracy = events.Scalars("eval/accuracy")
    assert [e.value for e in accuracy] == pytest.approx(metrics.epoch_test_accuracy, rel=1e-6)
    assert len(events.Scalars("step/lr")) == 8


def test_a_file_is_not_a_log_folder(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("")
    assert cli.main(["train", "--tensorboard", str(target), "--no-progress"]) == 2
    assert f"--tensorboard {target}: not a folder" in capsys.readouterr().err
