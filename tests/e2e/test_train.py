"""The `tritensor train` job end to end: accuracy on Digits and Fashion-MNIST on the cpu, the interpreted
cuda path against the cpu path step by step, checkpoints that resume exactly, and the CLI's messages."""

import os
import re
import subprocess
import sys

import pytest

from tritensor import cli
from tritensor.train import Config, TrainError, train


def _quiet(**kwargs):
    return train(progress=False, log=lambda line: None, **kwargs)


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    """`python -m tritensor train ...` in a subprocess. One BLAS thread: pytest-xdist already runs a worker per
    core, and OpenBLAS threads competing for the same cores make small matrix products many times slower."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "tritensor", "train", *args], capture_output=True, text=True,
                          timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


def _parse(out: str, epochs: int) -> tuple[list[tuple[float, float]], float]:
    """[(train loss, test accuracy)] per epoch and the final test accuracy from the job's output."""
    lines = re.findall(rf"^epoch (\d+)/{epochs}  train loss ([\d.]+)  test accuracy ([\d.]+)  "
                       r"\([\d.]+ s, [\d,]+ samples/s\)", out, re.M)
    assert [int(e[0]) for e in lines] == list(range(1, epochs + 1)), out
    final = re.search(rf"^done: {epochs} epochs on cpu in [\d.]+ s \([\d,]+ samples/s\); test accuracy ([\d.]+)$",
                      out, re.M)
    assert final is not None, out
    return [(float(e[1]), float(e[2])) for e in lines], float(final.group(1))


@pytest.mark.slow
def test_default_command_reaches_95_percent_on_digits():
    """`tritensor train` with no options: an MLP on digits, on the cpu here (no GPU), >= 95% test accuracy."""
    done = _run_cli()
    assert done.stdout.startswith("device: cpu")
    epochs, accuracy = _parse(done.stdout, 15)
    assert epochs[-1][0] < epochs[0][0]  # the loss went down
    assert accuracy == epochs[-1][1] >= 0.95
    assert "epoch 1/15:" in done.stderr and "batch/s" in done.stderr  # the tqdm bar


@pytest.mark.slow
def test_fashion_mnist_mlp_two_epochs():
    done = _run_cli("--dataset", "fashion-mnist", "--epochs", "2", "--device", "cpu", "--no-progress")
    assert "data: fashion-mnist, 60000 train / 10000 test samples" in done.stdout
    epochs, accuracy = _parse(done.stdout, 2)
    assert epochs[1][0] < epochs[0][0]
    assert accuracy >= 0.84


@pytest.mark.slow
def test_fashion_mnist_cnn_two_epochs():
    """`tritensor train --model cnn`: the LeNet-style net with BatchNorm, >= 90% on Fashion-MNIST in 2 epochs (cpu)."""
    done = _run_cli("--model", "cnn", "--dataset", "fashion-mnist", "--epochs", "2", "--device", "cpu",
                    "--no-progress")
    assert "model: cnn" in done.stdout
    epochs, accuracy = _parse(done.stdout, 2)
    assert epochs[1][0] < epochs[0][0]
    assert accuracy >= 0.90


def test_interpreted_cuda_cnn_matches_cpu_step_by_step():
    """The CNN's conv, BatchNorm and max-pool kernels (interpreted) give the cpu path's losses on 128 digits."""
    options = dict(model="cnn", limit_train=128, limit_test=32, batch_size=64, epochs=1)
    cpu = _quiet(device="cpu", **options)
    cuda = _quiet(device="cuda", **options)
    assert len(cpu.step_losses) == len(cuda.step_losses) == 2
    assert cuda.step_losses == pytest.approx(cpu.step_losses, rel=1e-4, abs=1e-5)
    assert cuda.test_accuracy == pytest.approx(cpu.test_accuracy, abs=1 / 32)


def test_interpreted_cuda_matches_cpu_step_by_step():
    """One epoch of 256 digits in batches of 64: the Triton kernels (interpreted) give the cpu path's losses."""
    options = dict(limit_train=256, limit_test=64, batch_size=64, epochs=1)
    cpu = _quiet(device="cpu", **options)
    cuda = _quiet(device="cuda", **options)
    assert cuda.device == "cuda:0" and cpu.device == "cpu"
    assert len(cpu.step_losses) == len(cuda.step_losses) == 4
    assert cuda.step_losses == pytest.approx(cpu.step_losses, rel=1e-5, abs=1e-6)
    assert cuda.test_accuracy == cpu.test_accuracy


def test_checkpoint_resumes_exactly(tmp_path):
    options = dict(limit_train=200, limit_test=100, batch_size=32, epochs=3, device="cpu")
    straight = _quiet(**options)
    ckpt = tmp_path / "ckpt.safetensors"

    def interrupt_after_epoch_2(line):
        if line.startswith("epoch 2/3"):
            raise KeyboardInterrupt  # Ctrl-C right after the epoch-2 checkpoint was written

    with pytest.raises(KeyboardInterrupt):
        train(progress=False, log=interrupt_after_epoch_2, save=str(ckpt), **options)
    lines = []
    resumed = train(progress=False, log=lines.append, resume=str(ckpt), **options)
    assert any(line == f"resumed from {ckpt} after epoch 2" for line in lines)
    assert resumed.start_epoch == 2 and resumed.step_losses == straight.step_losses[-7:]
    assert resumed.epoch_train_loss == straight.epoch_train_loss[-1:]
    assert resumed.test_accuracy == straight.test_accuracy
    with pytest.raises(TrainError, match="continues a different run \\(hidden=128 there, 64 here\\)"):
        _quiet(resume=str(ckpt), hidden=64, **options)
    import tritensor as tt

    saved = tt.io.load(ckpt)  # the resumed run kept checkpointing to the file it resumed from
    assert saved["epoch"] == 3 and set(saved) >= {"model", "optimizer", "scheduler", "shuffle_state", "config"}
    assert set(saved["model"]) == {"1.weight", "1.bias", "3.weight", "3.bias"}


def test_sgd_option_and_config_object():
    metrics = train(Config(optimizer="sgd", limit_train=128, limit_test=50, epochs=2, device="cpu"),
                    progress=False, log=lambda line: None)
    assert len(metrics.epoch_train_loss) == 2 and metrics.epoch_train_loss[1] < metrics.epoch_train_loss[0]


def test_cli_errors(capsys, tmp_path):
    assert cli.main(["train", "--dataset", "fashion-mnist", "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "apt-get install dataset-fashion-mnist" in err and "--data-root" in err
    assert "root=" not in err
    assert cli.main(["train", "--limit-train", "0"]) == 2
    assert capsys.readouterr().err == "tritensor train: error: --limit-train must be a positive integer, got 0\n"
    for bad in (["--dataset", "cifar"], ["--model", "resnet50"]):  # not offered: argparse refuses it
        with pytest.raises(SystemExit):
            cli.main(["train", *bad])
        assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    assert "--resume" in capsys.readouterr().out
    with pytest.raises(TrainError, match="--model must be one of mlp, cnn, resnet18, lstm, gpt, got 'resnet50'"):
        _quiet(model="resnet50")


def test_cli_runs_and_saves(capsys, tmp_path):
    ckpt = tmp_path / "run.safetensors"
    rc = cli.main(["train", "--device", "cpu", "--epochs", "1", "--limit-train", "64", "--limit-test", "32",
                   "--batch-size", "32", "--save", str(ckpt), "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and ckpt.is_file() and "[saved]" in out and f"checkpoint {ckpt}" in out
    assert cli.main(["demo", "--steps", "5", "--device", "cpu"]) in (0, 1)  # the demo is still there
    assert "step" in capsys.readouterr().out


def test_ctrl_c_mid_epoch_saves_and_resumes_exactly(tmp_path, monkeypatch):
    """SIGINT in the middle of epoch 2: the step finishes, a checkpoint of that position is written, Interrupted is
    raised; resuming gives the uninterrupted run's remaining steps, epochs and accuracy exactly."""
    import signal

    from tritensor import train as train_module
    from tritensor.train import Interrupted

    options = dict(limit_train=200, limit_test=100, batch_size=32, epochs=3, device="cpu")  # 7 steps an epoch
    straight = _quiet(**options)
    ckpt = tmp_path / "ckpt.safetensors"

    class CtrlCAtStep10(train_module.MetricsLog):
        def add(self, kind, **fields):
            if kind == "step" and fields["step"] == 10:
                signal.raise_signal(signal.SIGINT)  # as a user's Ctrl-C: the handler only flags it
            return super().add(kind, **fields)

    monkeypatch.setattr(train_module, "MetricsLog", CtrlCAtStep10)
    with pytest.raises(Interrupted) as stopped:
        _quiet(save=str(ckpt), **options)
    assert (stopped.value.epoch, stopped.value.step, stopped.value.checkpoint) == (1, 3, str(ckpt))
    assert str(stopped.value) == "stopped at epoch 2/3, step 3/7"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    monkeypatch.undo()
    lines = []
    resumed = train(progress=False, log=lines.append, resume=str(ckpt), **options)
    assert f"resumed from {ckpt} at epoch 2, step 3/7" in lines
    assert resumed.step_losses == straight.step_losses[10:]
    assert resumed.epoch_train_loss == straight.epoch_train_loss[1:]  # epoch 2's mean includes its first 3 steps
    assert resumed.test_accuracy == straight.test_accuracy
