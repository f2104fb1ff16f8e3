"""The command line without a GPU: the cache listing, clear errors for GPU-only commands, and the
tuning path with the GPU parts faked (timer, device, operands)."""

import sys

import numpy as np
import pytest
from tritensor.autotune import cli, problems, tuner
from tritensor.autotune.cache import DeviceInfo, TuningCache

from tritensor.cuda import driver

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


@pytest.mark.parametrize("argv", [["--kernel", "matmul", "--shapes", "64x64x64"], ["--plot", "x.png"],
                                  ["--kernel", "matmul", "--shapes", "64x64x64", "--dtype", "bf16", "--mode", "max"]])
def test_gpu_commands_without_a_gpu(argv, capsys, monkeypatch):
    assert cli.main(argv) == 2  # TRITON_INTERPRET=1 in this run
    err = capsys.readouterr().err
    assert "--compile-only" in err and "TRITON_INTERPRET" in err
    monkeypatch.delenv("TRITON_INTERPRET")
    monkeypatch.setattr(driver, "device_count", lambda: 0)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "none is available" in err and "--compile-only --target sm_80" in err


def test_no_arguments_prints_help(capsys):
    assert cli.main([]) == 2
    assert "--compile-only" in capsys.readouterr().out


def test_parse_shapes():
    assert problems.parse_shapes("4096x4096x4096, 128x4096x11008,") == [(4096, 4096, 4096), (128, 4096, 11008)]
    for bad in ("", "12xAx3", "0x4x4", "4x-1x2"):
        with pytest.raises(ValueError):
            problems.parse_shapes(bad)


def test_format_table():
    text = cli.format_table(("a", "bb", "c"), [("1", "22222", "x y"), ("333", "4", "")])
    assert text.splitlines() == ["a    bb     c", "---  -----  ---", "1    22222  x y", "333  4"]


def test_plot_needs_matplotlib(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    assert cli._pyplot() is None
    assert "pip install 'tritensor[plot]'" in capsys.readouterr().err


class FakeTimer:
    def __init__(self):
        self.calls = 0

    def measure(self, run, config):
        run(config)
        self.calls += 1
        return 1.0 / config["BLOCK_M"]


def fake_problem(label_shape):
    launched = []
    configs = [dict(BLOCK_M=m, num_warps=4) for m in (16, 32, 64)]

    def run(config):
        if config["BLOCK_M"] == 16:
            raise RuntimeError("out of resources")
        launched.append(config)

    return problems.Problem("fake[fp16]", tuple(label_shape), lambda space: configs, configs[1], run,
                            flops=2.0e9, label="x".join(map(str, label_shape)))


def test_tuning_table_with_the_gpu_faked(cache_dir, monkeypatch, capsys):
    import tritensor.autotune.timer as timer_mod

    timer = FakeTimer()
    monkeypatch.delenv("TRITON_INTERPRET")
    monkeypatch.setattr(timer_mod, "gpu_available", lambda: True)
    monkeypatch.setattr(timer_mod, "CudaEventTimer", lambda: timer)
    monkeypatch.setattr(tuner, "current_device", lambda index=0: H100)
    # No AOT pruning: it would import kernels modules while TRITON_INTERPRET is unset (real JITFunctions).
    monkeypatch.setattr(tuner.Tuner, "aot_prune", lambda self, name, configs: configs)
    monkeypatch.setattr(problems, "make_problem", lambda kernel, shape, dtype: fake_problem(shape))
    monkeypatch.setattr(problems, "tunable_kernels", lambda: ["fake", "matmul"])
    plotted = []
    monkeypatch.setattr(cli, "_pyplot", lambda: "plt")
    monkeypatch.setattr(cli, "_plot", lambda plt, measured, path: plotted.append((plt, len(measured), path)))
    assert cli.main(["--kernel", "fake", "--shapes", "8x8x8,16x16x16", "--plot", "out.png"]) == 0
    out = capsys.readouterr().out
    assert timer.calls == 4  # 2 shapes x 2 configs that launch (the failing one raises inside measure)
    rows = [line for line in out.splitlines() if line.startswith("BLOCK_M=")]
    assert rows[0].split() == ["BLOCK_M=64", "w4", "0.0156", "128.0", "best"]
    assert rows[1].split() == ["BLOCK_M=32", "w4", "0.0312", "64.0", "(heuristic)"]
    assert rows[2].startswith("BLOCK_M=16 w4") and "failed: RuntimeError: out of resources" in rows[2]
    assert plotted == [("plt", 2, "out.png")]
    cached = sorted(TuningCache().entries(), key=lambda e: e["key"])
    assert [(e["key"], e["config"]["BLOCK_M"], e["device"]) for e in cached] == \
        [([8, 8, 8], 64, H100.name), ([16, 16, 16], 64, H100.name)]


def test_plot_draws_one_panel_per_problem():
    calls = []

    class Axis:
        def __getattr__(self, name):
            return lambda *a, **k: calls.append((name, a))

    class Axes:
        def __getitem__(self, index):
            return [Axis(), Axis()]

    class Fig:
        def tight_layout(self):
            calls.append(("tight_layout", ()))

        def savefig(self, path, dpi):
            calls.append(("savefig", (path,)))

    class Plt:
        def subplots(self, rows, cols, figsize, squeeze):
            calls.append(("subplots", (rows, cols)))
            return Fig(), Axes()

        def close(self, fig):
            calls.append(("close", ()))

    best = dict(BLOCK_M=64)
    trials = [tuner.Trial(dict(BLOCK_M=32), 1.0), tuner.Trial(best, 0.5), tuner.Trial(dict(BLOCK_M=16), None, "x")]
    result = tuner.TuneResult("fake", (1,), best, 0.5, trials)
    problem = problems.Problem("fake", (1,), [], best, lambda c: None, 1e9, "1x1x1")
    cli._plot(Plt(), [(problem, result), (problem, result)], "p.png")
    bars = [a for name, a in calls if name == "bar"]
    assert len(bars) == 2 and bars[0][1] == [2.0, 1.0]  # TFLOP/s, fastest first; failures left out
    assert ("savefig", ("p.png",)) in calls and calls[0] == ("subplots", (2, 1))


def test_matmul_problem_runs_the_matmul_wrapper(monkeypatch):
    """The matmul adapter's run(config) computes A @ B, with and without split-K (interpreter memory)."""
    from tritensor.kernels import matmul

    from tests.conftest import as_device

    arrays = []

    def host(shape, dtype, device_index, rng):
        a = rng.standard_normal(shape).astype(dtype.np) if rng is not None else np.zeros(shape, dtype.np)
        arrays.append(a)
        return as_device(a)

    monkeypatch.setattr(problems, "_device_array", host)
    p = problems.make_problem("matmul", (24, 40, 48), "fp16")
    a, b, out = arrays[:3]
    assert p.spec_name == "matmul[fp16]" and p.key == matmul.tuning_key(24, 40, 48, "float16", (1152, 48, 1),
                                                                        (1920, 40, 1))
    assert p.flops == 2 * 24 * 40 * 48 and p.label == "24x40x48 fp16"
    want = a[0].astype(np.float32) @ b[0].astype(np.float32)
    split = next(c for c in p.configs("default") if c["SPLIT_K"] > 1)
    for config in (p.heuristic, split):
        out[...] = 0
        p.run(config)
        np.testing.assert_allclose(out[0].astype(np.float32), want, rtol=2e-2, atol=2e-2)
    assert all(c in matmul.config_space("float16", "max") for c in p.configs("max"))
    assert problems.make_problem("matmul", (8, 8, 8), "tf32").spec_name == "matmul[fp32:tf32]"
    with pytest.raises(ValueError, match="MxNxK"):
        problems.make_problem("matmul", (8, 8), "fp16")
    with pytest.raises(ValueError, match="dtype"):
        problems.make_problem("matmul", (8, 8, 8), "int8")
    with pytest.raises(ValueError, match="no tuning_problem"):
        problems.make_problem("reduction", (8, 8), "fp32")
    with pytest.raises(KeyError, match="no kernels module"):
        problems.make_problem("nope", (8, 8), "fp32")


@pytest.mark.parametrize("argv", [["--kernel", "nope"], ["--kernel", "nope", "--shapes", "8x8x8", "--plot", "x.png"]])
def test_unknown_kernel_is_named_before_the_gpu_check(argv, capsys, monkeypatch):
    for interpret in ("1", None):  # with and without TRITON_INTERPRET: the typo is the one-line error either way
        if interpret is None:
            monkeypatch.delenv("TRITON_INTERPRET")
            monkeypatch.setattr(driver, "device_count", lambda: 0)
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "unknown kernel 'nope'" in err and "known kernels: matmul" in err
        assert "GPU" not in err


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
