"""The `tritensor` console script as a user meets it, each run in a subprocess (`python -m tritensor`): one-line
errors (exit 2) for every bad option before any work starts, --version, the --metrics log and the --plot image,
and Ctrl-C (SIGINT) stopping cleanly with a checkpoint that resumes (exit 130)."""

import json
import math
import os
import re
import shlex
import signal
import struct
import subprocess
import sys
import time

import numpy as np
import pytest
from safetensors.numpy import save_file

import tritensor as tt
from tritensor.train import train

ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}  # one BLAS thread: xdist already runs a worker per core
TINY = ["--device", "cpu", "--limit-train", "256", "--batch-size", "32", "--limit-test", "100", "--no-progress"]


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tritensor", *args], capture_output=True, text=True, timeout=120,
                          env=env or ENV)


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tritensor", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)


def _error_line(done: subprocess.CompletedProcess) -> str:
    """The one stderr line of a refused command (exit 2, nothing started, no traceback)."""
    assert done.returncode == 2, done.stderr
    assert done.stdout == "", done.stdout  # refused before loading data: no "device:" line
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tritensor train: error: "), done.stderr
    return lines[0]


def _checkpoint(path, **overrides) -> None:
    """A real `tritensor train` checkpoint (one epoch of a tiny run) at path."""
    options = dict(device="cpu", limit_train=64, limit_test=32, batch_size=32, epochs=1, save=str(path))
    train(progress=False, log=lambda line: None, **{**options, **overrides})


@pytest.mark.parametrize("args, option", [
    (["--epochs", "-1"], "--epochs"),
    (["--batch-size", "0"], "--batch-size"),
    (["--hidden", "0"], "--hidden"),
    (["--lr", "-1"], "--lr"),
    (["--lr", "0"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--lr", "inf"], "--lr"),
    (["--seed", "-1"], "--seed"),
    (["--limit-train", "0"], "--limit-train"),
    (["--limit-test", "-5"], "--limit-test"),
    (["--save", "{tmp}/missing/ckpt.safetensors"], "--save"),
    (["--save", "{tmp}"], "--save"),
    (["--metrics", "{tmp}/missing/m.jsonl"], "--metrics"),
    (["--plot", "{tmp}/missing/p.png"], "--plot"),
    (["--plot", "{tmp}/p.jpg"], "--plot"),
    (["--metrics", "{tmp}/same", "--save", "{tmp}/same"], "--metrics"),
    (["--resume", "{tmp}/missing.safetensors"], "--resume"),
    (["--resume", "{tmp}/text.txt"], "--resume"),
    (["--resume", "{tmp}/plain.safetensors"], "--resume"),
    (["--resume", "{tmp}/other.safetensors"], "--resume"),
    (["--resume", "{tmp}/ckpt.safetensors", "--hidden", "64"], "--resume"),
    (["--dataset", "fashion-mnist", "--data-root", "{tmp}/missing"], "--data-root"),
    (["--dataset", "fashion-mnist", "--data-root", "{tmp}"], "--data-root"),
    (["--data-root", "{tmp}"], "--data-root"),
])
def test_bad_option_is_one_line_naming_it(tmp_path, args, option):
    (tmp_path / "text.txt").write_text("not a checkpoint\n")
    save_file({"w": np.zeros(3, np.float32)}, str(tmp_path / "plain.safetensors"))  # safetensors, not ours
    tt.save({"w": tt.zeros(3)}, tmp_path / "other.safetensors")  # tritensor's format, not a train checkpoint
    if "{tmp}/ckpt.safetensors" in args:
        _checkpoint(tmp_path / "ckpt.safetensors", hidden=None)
    line = _error_line(_cli("train", *[a.format(tmp=tmp_path) for a in args]))
    assert option in line
    assert "root=" not in line  # the Fashion-MNIST message speaks of --data-root, not the Python argument


def test_specific_messages(tmp_path):
    assert _error_line(_cli("train", "--lr", "nan")) == \
        "tritensor train: error: --lr must be a positive finite number, got nan"
    assert _error_line(_cli("train", "--epochs", "-1")) == \
        "tritensor train: error: --epochs must be an integer >= 0, got -1"
    (tmp_path / "text.txt").write_text("hello\n")
    assert "not a tritensor checkpoint" in _error_line(_cli("train", "--resume", str(tmp_path / "text.txt")))
    tt.save({"w": tt.zeros(3)}, tmp_path / "other.safetensors")
    line = _error_line(_cli("train", "--resume", str(tmp_path / "other.safetensors")))
    assert "not a `tritensor train` checkpoint" in line
    line = _error_line(_cli("train", "--dataset", "fashion-mnist", "--data-root", str(tmp_path)))
    assert "Fashion-MNIST not found" in line and "apt-get install dataset-fashion-mnist" in line


def test_plot_without_matplotlib_is_refused_before_training(tmp_path):
    fake = tmp_path / "site" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), ENV.get("PYTHONPATH", "")])}
    line = _error_line(_cli("train", "--plot", str(tmp_path / "p.png"), env=env))
    assert line == 'tritensor train: error: --plot needs matplotlib: pip install "tritensor[plot]"'
    assert not (tmp_path / "p.png").exists()


def test_version():
    done = _cli("--version")
    assert done.returncode == 0 and done.stdout == f"tritensor {tt.__version__}\n" and done.stderr == ""


def test_only_built_options_are_offered():
    done = _cli("train", "--model", "resnet50")
    assert done.returncode == 2 and "invalid choice: 'resnet50'" in done.stderr and "Traceback" not in done.stderr
    helptext = _cli("train", "--help").stdout
    assert "{mlp,cnn,resnet18,lstm,gpt}" in helptext and "resnet50" not in helptext
    assert "--metrics" in helptext and "--plot" in helptext


def test_metrics_and_plot(tmp_path):
    metrics, plot = tmp_path / "m.jsonl", tmp_path / "curves.png"
    done = _cli("train", *TINY, "--epochs", "3", "--metrics", str(metrics), "--plot", str(plot))
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    steps = [r for r in records if r["kind"] == "step"]
    evals = [r for r in records if r["kind"] == "eval"]
    assert len(records) == len(steps) + len(evals) and len(evals) == 3 and len(steps) == 3 * 8
    assert all(set(r) == {"kind", "epoch", "step", "loss", "accuracy", "lr", "time_s"} for r in steps)
    assert all(set(r) == {"kind", "epoch", "step", "loss", "train_loss", "accuracy", "lr", "time_s"} for r in evals)
    assert [r["step"] for r in steps] == list(range(1, 25))
    assert [r["epoch"] for r in steps] == [e for e in (1, 2, 3) for _ in range(8)]
    assert [(r["epoch"], r["step"]) for r in evals] == [(1, 8), (2, 16), (3, 24)]
    assert [records.index(r) for r in evals] == [8, 17, 26]  # each evaluation right after its epoch's steps
    assert all(math.isfinite(r["loss"]) and r["loss"] > 0 for r in records)
    assert all(r["accuracy"] is None for r in steps) and all(0 <= r["accuracy"] <= 1 for r in evals)
    assert steps[0]["lr"] == 3e-3 and all(a["lr"] > b["lr"] for a, b in zip(steps, steps[1:]))  # cosine decay
    times = [r["time_s"] for r in records]
    assert times == sorted(times) and times[0] > 0
    assert steps[-1]["loss"] < steps[0]["loss"]
    printed = re.search(r"test accuracy ([\d.]+)$", done.stdout.splitlines()[-2])  # the "done:" line
    assert printed and f"{evals[-1]['accuracy']:.4f}" == printed.group(1)
    epoch_losses = re.findall(r"train loss ([\d.]+)", done.stdout)
    assert epoch_losses == [f"{r['train_loss']:.4f}" for r in evals]
    png = plot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (800, 300) and 10_000 < len(png) < 200_000
    assert done.stdout.splitlines()[-1] == f"plot: {plot}"


def _wait_for_step(path, beyond: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Poll the metrics file until it records a step past `beyond` (the run is inside its training loop)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if path.exists():
            steps = [json.loads(line)["step"] for line in path.read_text().splitlines() if line.endswith("}")]
            if steps and max(steps) > beyond:
                return
        time.sleep(0.01)
    proc.kill()
    raise AssertionError("the run did not start training")


def _interrupt(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    return out, err


STOPPED = r"stopped (?:at epoch (\d+)/2000, step (\d+)/8|after epoch (\d+)/2000)"


def _position(match: re.Match) -> int:
    """Steps done when the run stopped (8 steps an epoch)."""
    at_epoch, at_step, after_epoch = match.groups()[:3]
    return (int(at_epoch) - 1) * 8 + int(at_step) if at_epoch else int(after_epoch) * 8


def test_ctrl_c_saves_a_checkpoint_that_resumes(tmp_path):
    ckpt, metrics = tmp_path / "run.safetensors", tmp_path / "m.jsonl"
    proc = _start("train", *TINY, "--hidden", "32", "--epochs", "2000", "--save", str(ckpt), "--metrics", str(metrics))
    _wait_for_step(metrics, 20, proc)
    _, err = _interrupt(proc)
    lines = err.splitlines()
    assert len(lines) == 1, err
    match = re.fullmatch(rf"tritensor train: {STOPPED}; checkpoint saved to (\S+); resume with: (.+)", lines[0])
    assert match and match.group(4) == str(ckpt), lines[0]
    stopped_at = _position(match)
    saved = tt.io.load(ckpt)
    assert saved["epoch"] * 8 + saved["step_in_epoch"] == stopped_at
    command = shlex.split(match.group(5))
    assert command[:2] == ["tritensor", "train"] and command[-3:-1] == ["--resume", str(ckpt)]
    assert "--save" not in command  # a resumed run keeps checkpointing to the file it resumed from

    proc = _start(*command[1:])  # the printed command, as `python -m tritensor`
    _wait_for_step(metrics, stopped_at + 5, proc)
    out, err = _interrupt(proc)
    assert out.startswith("device: cpu") and f"resumed from {ckpt} " in out
    match = re.fullmatch(rf"tritensor train: {STOPPED}; checkpoint saved to (\S+); resume with: (.+)",
                         err.splitlines()[-1])
    assert match and match.group(4) == str(ckpt) and shlex.split(match.group(5)) == command
    resaved = tt.io.load(ckpt)
    assert resaved["epoch"] * 8 + resaved["step_in_epoch"] == _position(match) > stopped_at
    steps = [r["step"] for r in map(json.loads, metrics.read_text().splitlines()) if r["kind"] == "step"]
    assert steps == list(range(1, len(steps) + 1))  # the log continues the interrupted one: no gap, no repeat


def test_ctrl_c_without_save(tmp_path):
    metrics = tmp_path / "m.jsonl"
    proc = _start("train", *TINY, "--hidden", "32", "--epochs", "2000", "--metrics", str(metrics))
    _wait_for_step(metrics, 3, proc)
    _, err = _interrupt(proc)
    assert re.fullmatch(rf"tritensor train: {STOPPED}; nothing saved \(--save CKPT makes a run resumable\)\n",
                        err), err


@pytest.mark.parametrize("args,message", [(("--steps", "-1"), "argument --steps: must be a positive integer, got -1"),
                                          (("--steps", "x"), "argument --steps: must be a positive integer, got 'x'"),
                                          (("--lr", "nan"), "argument --lr: must be a positive finite number, got nan"),
                                          (("--lr", "0"), "argument --lr: must be a positive finite number, got 0")])
def test_demo_options_are_checked(args, message):
    done = _cli("demo", *args)
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == f"tritensor demo: error: {message}"


def test_autotune_unknown_kernel_is_one_line():
    done = subprocess.run([sys.executable, "-m", "tritensor", "autotune", "--kernel", "nope"], capture_output=True,
                          text=True, timeout=120, env=ENV)
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: unknown kernel 'nope'; choose from: all, matmul, ") and "softmax" in line


def test_autotune_model_dry_run_in_the_interpreter():
    # What CI runs: `TRITON_INTERPRET=1 tritensor autotune --model mlp --dry-run` lists one step's launches.
    done = subprocess.run([sys.executable, "-m", "tritensor", "autotune", "--model", "mlp", "--dry-run"],
                          capture_output=True, text=True, timeout=300, env={**ENV, "TRITON_INTERPRET": "1"})
    assert done.returncode == 0, done.stderr
    assert "matmul.matmul" in done.stdout and "optim.step" in done.stdout
    assert "mlp step: " in done.stdout and "kernel launches" in done.stdout
