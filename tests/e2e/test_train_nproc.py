"""`tritensor train --nproc N`: the job restarts itself as N mpiexec ranks training one DistributedDataParallel
model; rank 0 alone logs and writes the checkpoint, which holds the plain model's state (no `module.` prefix)."""

import pytest

from tritensor import cli, io
from tritensor.train import TrainError, train

ARGS = ["--epochs", "2", "--limit-train", "256", "--limit-test", "100", "--batch-size", "32", "--device", "cpu",
        "--no-progress"]


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_two_ranks_train_one_model_and_rank_0_alone_reports(model, tmp_path, capfd):
    ckpt = tmp_path / "ddp.safetensors"
    assert cli.main(["train", "--nproc", "2", "--model", model, "--save", str(ckpt), *ARGS]) == 0
    out = capfd.readouterr().out
    assert out.count("data parallel: 2 ranks (mpi), 16 samples per rank and step") == 1
    assert out.count("epoch 2/2") == 1 and out.count("done: 2 epochs") == 1
    losses = [float(line.split("train loss ")[1].split()[0]) for line in out.splitlines() if "train loss" in line]
    assert losses[1] < losses[0]
    state = io.load(str(ckpt))
    assert state["epoch"] == 2 and not any(k.startswith("module.") for k in state["model"])
    single = train(progress=False, log=lambda line: None, model=model, epochs=2, limit_train=256, limit_test=100,
                   batch_size=32, device="cpu")
    # the same global batch per step (other batches: DistributedSampler shuffles its own way): similar losses
    assert abs(losses[1] - single.epoch_train_loss[1]) < 0.25 * single.epoch_train_loss[1]


def test_nproc_needs_the_launcher_and_an_even_split(capsys, monkeypatch):
    with pytest.raises(TrainError, match="runs through the `tritensor train` command"):
        train(progress=False, log=lambda line: None, nproc=2, epochs=1, limit_train=64, device="cpu")
    monkeypatch.setenv("WORLD_SIZE", "2")  # as in a launched rank: checked before joining the process group
    with pytest.raises(TrainError, match="--batch-size 33 must be a multiple of --nproc 2"):
        train(progress=False, log=lambda line: None, nproc=2, batch_size=33, epochs=1, limit_train=64, device="cpu")
    with pytest.raises(TrainError, match="--nproc 3 does not match the 2 ranks"):
        train(progress=False, log=lambda line: None, nproc=3, epochs=1, limit_train=64, device="cpu")
    assert cli.main(["train", "--nproc", "0", "--no-progress"]) == 2
    assert "--nproc must be a positive integer, got 0" in capsys.readouterr().err


def test_text_model_on_two_ranks_saves_every_ranks_batch_generator(tmp_path, capfd):
    ckpt = tmp_path / "gpt.safetensors"
    assert cli.main(["train", "--nproc", "2", "--model", "gpt", "--dataset", "shakespeare", "--steps", "4",
                     "--eval-interval", "2", "--hidden", "16", "--block-size", "8", "--batch-size", "4",
                     "--limit-train", "4000", "--device", "cpu", "--no-progress", "--save", str(ckpt)]) == 0
    out = capfd.readouterr().out
    assert out.count("data parallel: 2 ranks (mpi), 2 windows per rank and step") == 1
    assert out.count("step 4/4") == 1 and out.count("done: 4 steps") == 1
    state = io.load(str(ckpt))
    assert len(state["shuffle_state"]) == 2 and not any(k.startswith("module.") for k in state["model"])
