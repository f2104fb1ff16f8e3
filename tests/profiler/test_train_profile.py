"""`tritensor train --profile [DIR]`: optimizer steps 3-5 are profiled, their Chrome trace lands in DIR as a
TensorBoard trace file and the top ops are logged; the run itself is unchanged."""

import argparse
import json
import os
import re

import pytest

from tritensor import cli, train_args
from tritensor.train import train

RUN = dict(progress=False, epochs=1, limit_train=192, limit_test=32, batch_size=32, device="cpu", seed=3)


def test_profile_writes_the_trace_and_logs_the_table(tmp_path):
    lines = []
    folder = tmp_path / "prof"
    profiled = train(log=lines.append, profile=str(folder), **RUN)
    plain = train(log=lambda line: None, **RUN)
    assert profiled.step_losses == pytest.approx(plain.step_losses, rel=1e-6)  # 6 steps, as without --profile
    (name,) = os.listdir(folder)
    assert re.fullmatch(r".+\.\d+\.pt\.trace\.json", name)
    events = json.loads((folder / name).read_text())["traceEvents"]
    steps = [e["name"] for e in events if e.get("name", "").startswith("ProfilerStep#")]
    assert steps == ["ProfilerStep#2", "ProfilerStep#3", "ProfilerStep#4"]
    assert sum(e["name"] == "Optimizer.step#Adam.step" for e in events) == 3
    (report,) = [line for line in lines if line.startswith("profile: 3 steps recorded")]
    table = report.splitlines()[1:]
    assert table[1].split()[:1] == ["Name"] and "# of Calls" in table[1]
    rows = [line.split()[0] for line in table[3:-2] if line.startswith(" ")]
    assert len(rows) == 15 and "F.linear" in rows
    linear = next(line.split() for line in table if line.split()[:1] == ["F.linear"])
    assert linear[-1] == "6"  # two layers, three steps


def test_a_run_too_short_to_profile_says_so(tmp_path):
    lines = []
    train(log=lines.append, profile=str(tmp_path / "p"), **{**RUN, "limit_train": 32})  # 1 step
    assert any(line.startswith("profile: the run ended before a recorded step") for line in lines)
    assert not (tmp_path / "p").exists()


def test_the_option_defaults_to_a_profile_folder():
    parser = argparse.ArgumentParser()
    train_args.add_arguments(parser)
    assert parser.parse_args(["--profile"]).profile == "profile"
    assert parser.parse_args(["--profile", "out"]).profile == "out"
    assert parser.parse_args([]).profile is None


def test_a_file_is_not_a_profile_folder(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("")
    assert cli.main(["train", "--profile", str(target), "--no-progress"]) == 2
    assert f"--profile {target}: not a folder" in capsys.readouterr().err
