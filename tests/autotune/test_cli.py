"""The command line without a GPU: the cache listing, clear errors for GPU-only commands, and the
tuning path with the GPU parts faked (timer, device, operands)."""

import sys

import pytest
from tritensor.autotune import cli
from tritensor.autotune.cache import DeviceInfo, TuningCache

H100 = DeviceInfo("NVIDIA H100 80GB HBM3", (9, 0))


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TRITENSOR_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_list_and_clear(cache_dir, capsys):
    assert cli.main(["--list"]) == 0
    assert "0 entries" in capsys.readouterr().out
    TuningCache().put("matmul[fp16]", H100, (4096, 4096, 4096, "float16", False, False),
                      dict(BLOCK_M=128, BLOCK_N=256, num_warps=8, num_stages=3), 0.1234)
    assert cli.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "1 entries" in out and str(cache_dir / "autotune.json") in out
    row = [line for line in out.splitlines() if line.startswith("matmul[fp16]")][0]
    for cell in ("NVIDIA H100 80GB HBM3", "sm_90", '[4096,4096,4096,"float16",false,false]',
                 "BLOCK_M=128 BLOCK_N=256 w8 s3", "0.1234", "default"):
        assert cell in row
    assert cli.main(["--clear"]) == 0
    assert "removed 1 entries" in capsys.readouterr().out
    assert TuningCache().entries() == []


def test_no_arguments_prints_help(capsys):
    assert cli.main([]) == 2
    assert "--compile-only" in capsys.readouterr().out


def test_benchmark_arguments_point_to_the_tritensor_command(capsys):
    # The benchmark job runs ops, which sit above this package: `python -m tritensor.autotune` names the command.
    assert cli.main(["--kernel", "softmax"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tritensor autotune --kernel softmax" in err


def test_export_then_import_into_an_empty_cache(cache_dir, tmp_path, capsys):
    TuningCache().put("reduction.reduce", H100, ("add", 4096), dict(BLOCK_M=1, BLOCK_R=1024, num_warps=4), 0.02)
    shipped = tmp_path / "winners.json"
    assert cli.main(["--export", str(shipped)]) == 0
    assert "exported 1 entries" in capsys.readouterr().out
    assert cli.main(["--clear"]) == 0
    assert TuningCache().entries() == []
    assert cli.main(["--import", str(shipped)]) == 0
    assert "imported 1 entries" in capsys.readouterr().out
    entry = TuningCache().get("reduction.reduce", H100, ("add", 4096), triton=TuningCache().entries()[0]["triton"])
    assert entry["config"] == dict(BLOCK_M=1, BLOCK_R=1024, num_warps=4)


@pytest.mark.parametrize("content", ["not json", '{"format": 99, "entries": {}}', '{"entries": 3}'])
def test_importing_a_bad_file_is_one_line_and_changes_nothing(cache_dir, tmp_path, capsys, content):
    TuningCache().put("softmax.softmax", H100, ("fp32", 1024), dict(BLOCK=1024, num_warps=4), 0.01)
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert cli.main(["--import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err
    assert len(TuningCache().entries()) == 1
    assert cli.main(["--import", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err


class _Terminal:
    """stderr as a terminal (tqdm draws only there)."""

    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, text):
        self.text += text

    def flush(self):
        pass


def test_compile_progress_counts_configs_on_a_terminal_only(monkeypatch):
    from tritensor.autotune import aot

    work = [("spec", dict(BLOCK=b), "sm_80", True) for b in (16, 32, 64)]
    monkeypatch.setattr(aot, "compile_config",
                        lambda spec, config, target, sass: type("R", (), {"to_dict": lambda self: dict(config)})())
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli._compile_all(work, jobs=1) == [dict(BLOCK=16), dict(BLOCK=32), dict(BLOCK=64)]
    assert "compiling" in terminal.text and "3/3" in terminal.text
    terminal.isatty = lambda: False
    terminal.text = ""
    assert len(cli._compile_all(work, jobs=1)) == 3
    assert terminal.text == ""  # a CI log (stderr not a terminal) gets no progress lines
