"""`tritensor autotune` as the benchmark job: dry runs in the interpreter, one-line errors, and the
tuning table and plot with the GPU's timer faked."""

import json

import pytest
from tritensor.autotune import tuner as tuner_mod
from tritensor.autotune.cache import DeviceInfo, TuningCache
from tritensor.autotune.roofline import peak_from_properties
from tritensor.autotune.space import config_id

import tritensor as tt
from tritensor import benchmark
from tritensor.benchmark import job, plot

H100 = DeviceInfo("NVIDIA H100 80GB HBM3", (9, 0))
H100_PEAK = peak_from_properties(H100.name, (9, 0), 132, 1_980_000, 2_619_000, 5120)


def test_model_dry_run_lists_every_launch_of_one_step(capsys, tmp_path):
    out_json = tmp_path / "mlp.json"
    assert benchmark.main(["--model", "mlp", "--dry-run", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    for kernel in ("matmul.matmul", "loss.cross_entropy", "optim.step", "elementwise.map"):
        assert kernel in out
    report = json.loads(out_json.read_text())["workloads"][0]
    assert report["label"] == "mlp step"
    # 4 Linear matmuls forward/backward at least, plus loss, relu, bias reductions and one fused Adam step.
    assert report["launch_count"] >= 13 and report["graph_nodes"] >= 5
    assert sum(launch["count"] for launch in report["launches"] if launch["kernel"] == "optim.step") == 1
    assert report["launch_count"] == sum(launch["count"] for launch in report["launches"])
    assert f"mlp step: {report['launch_count']} kernel launches" in out


def test_kernel_dry_run_does_not_run_the_kernels(capsys, monkeypatch):
    from tritensor.kernels import tuning
    from triton.runtime.interpreter import InterpretedFunction

    launched_dry = []
    real_run = InterpretedFunction.run

    def counting_run(self, *args, **kwargs):
        launched_dry.append(tuning._dry_run)
        return real_run(self, *args, **kwargs)

    monkeypatch.setattr(InterpretedFunction, "run", counting_run)
    assert benchmark.main(["--kernel", "softmax", "--shapes", "4x8,2x1024", "--dry-run"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("softmax.softmax")]
    assert len(lines) == 2 and "softmax 4x8 fp32" in lines[0] and "softmax 2x1024 fp32" in lines[1]
    assert launched_dry == []  # no kernel ran during the listing
    tt.softmax(tt.randn(4, 8, device="cuda"), -1)
    assert launched_dry == [False]  # ... though the counter sees a launch outside it


def test_dry_run_plot_places_each_launch_under_the_reference_roof(capsys, tmp_path):
    from tritensor.autotune.roofline import REFERENCE_PEAK

    png = tmp_path / "dry.png"
    argv = ["--kernel", "softmax", "--shapes", "4x8,256x1024", "--dry-run", "--plot", str(png)]
    assert benchmark.main(argv) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"under the roof of {REFERENCE_PEAK.name} (nothing timed)" in capsys.readouterr().out
    # The data sheet's H100 SXM: 3.35 TB/s and 989 TFLOP/s fp16 dense.
    assert REFERENCE_PEAK.bandwidth == pytest.approx(3.352e12, rel=1e-3)
    assert REFERENCE_PEAK.flops["tc16"] == pytest.approx(989.4e12, rel=1e-3)
    # A 256x1024 fp32 softmax reads and writes 1 MiB each: 2 MiB at 3.35 TB/s at best.
    launch = job.Launch("softmax.softmax", (), {}, bytes=2.0 * 256 * 1024 * 4, flops=4.0 * 256 * 1024)
    best = job.attainable(launch, "fp32", REFERENCE_PEAK)
    assert best.time_ms == pytest.approx(launch.bytes / 3.352e12 * 1e3, rel=1e-3)
    assert best.bound(REFERENCE_PEAK) == "memory"


@pytest.mark.parametrize("argv, words", [
    (["--kernel", "nope"], ["unknown kernel 'nope'", "softmax"]),
    (["--kernel", "softmax", "--shapes", "12xAx3"], ["bad shape '12xax3'"]),
    (["--kernel", "matmul", "--shapes", "64x64"], ["takes 3 sizes"]),
    (["--kernel", "sort", "--dtype", "fp64"], ["kernel 'sort' has no dtype 'fp64'"]),
    (["--kernel", "softmax", "--dtype", "int3"], ["unknown dtype 'int3'"]),
    (["--kernel", "all", "--shapes", "8x8"], ["--shapes needs one --kernel"]),
    (["--kernel", "softmax", "--model", "mlp"], ["not both"]),
    (["--model", "nope"], ["unknown model 'nope'", "mlp, cnn, lstm, gpt"]),
    (["--kernel", "softmax", "--dry-run", "--json", "/no/such/folder/x.json"], ["folder does not exist"]),
    (["--kernel", "softmax"], ["TRITON_INTERPRET=1 is set", "--dry-run"]),
])
def test_bad_input_is_one_line_and_exit_2(argv, words, capsys):
    assert benchmark.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    for word in words:
        assert word in err


def test_plot_without_matplotlib(monkeypatch, capsys):
    monkeypatch.setattr(plot, "pyplot", lambda: None)
    assert benchmark.main(["--kernel", "softmax", "--plot", "r.png"]) == 2
    assert "pip install 'tritensor[plot]'" in capsys.readouterr().err


def test_no_gpu_and_no_interpreter_says_how_to_get_either(monkeypatch, capsys):
    import sys

    import tritensor.autotune.timer as timer_mod

    # sys.modules: `tritensor.device` as an attribute is the device class, not the module.
    monkeypatch.setattr(sys.modules["tritensor.device"], "interpreting", lambda: False)
    monkeypatch.setattr(timer_mod, "gpu_available", lambda: False)
    assert benchmark.main(["--kernel", "softmax"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "NVIDIA GPU" in err and "TRITON_INTERPRET=1" in err and "--dry-run" in err


class FakeTimer:
    """Runs each config once (the interpreter checks it launches) and reports a time from its warps."""

    def __init__(self):
        self.timed = []

    def measure(self, run, config):
        run(config)
        self.timed.append(dict(config))
        return 0.001 * config["num_warps"] + 0.0001 * len(config_id(config))


@pytest.fixture
def fake_gpu_tuner(tmp_path, monkeypatch):
    """A Tuner that times (with FakeTimer) although the kernels run in the interpreter."""
    monkeypatch.setattr(tuner_mod, "interpreting", lambda: False)
    return tuner_mod.Tuner(timer=FakeTimer(), cache=TuningCache(tmp_path / "autotune.json"), mode="1", device=H100,
                           pruner=lambda name, configs: configs, in_place=True, refresh=True)


def test_tuning_table_plot_and_cache_with_the_timer_faked(fake_gpu_tuner, tmp_path):
    x = tt.randn(4, 8, device="cuda")
    measured = job.measure("softmax 4x8 fp32", "fp32", lambda: tt.softmax(x, -1), fake_gpu_tuner, dry_run=False)
    assert [r.spec_name for r in measured.results] == ["softmax.softmax"]
    result = measured.results[0]
    times = {config_id(t.config): t.time_ms for t in result.trials}
    assert len(times) >= 2 and result.best_ms == min(times.values())
    assert config_id(result.best) == min(times, key=times.get)
    (row,) = job.tuned_rows([measured], H100_PEAK)
    kernel, label, _, best, ms, gbps, _, percent, bound, gain = row
    assert (kernel, label, best, bound) == ("softmax.softmax", "softmax 4x8 fp32", config_id(result.best), "memory")
    expected_gbps = result.cost[0] / result.best_ms / 1e6
    assert float(gbps) == pytest.approx(expected_gbps, rel=1e-3)
    assert float(percent) == pytest.approx(100 * expected_gbps * 1e9 / H100_PEAK.bandwidth, rel=1e-2)
    assert float(gain[:-1]) == pytest.approx(times[config_id(result.heuristic)] / result.best_ms, rel=1e-2)
    # The winner is stored for launches to find, with its throughput.
    (entry,) = fake_gpu_tuner.cache.entries()
    assert entry["kernel"] == "softmax.softmax" and entry["config"] == result.best and entry["gbps"] > 0
    png = tmp_path / "roofline.png"
    plot.plot(plot.pyplot(), [measured], H100_PEAK, str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_failing_timer_falls_back_to_the_heuristic_with_a_warning(fake_gpu_tuner):
    class Broken:
        def measure(self, run, config):
            raise TypeError("EventOptions.__init__() got an unexpected keyword argument")

    fake_gpu_tuner._timer = Broken()
    x = tt.randn(3, 5, device="cuda")
    with pytest.warns(tuner_mod.AutotuneWarning, match="using the heuristic config"):
        measured = job.measure("softmax", "fp32", lambda: tt.softmax(x, -1), fake_gpu_tuner, dry_run=False)
    (launch,) = measured.launches
    assert launch.config == launch_heuristic(launch)
    assert fake_gpu_tuner.cache.entries() == []


def launch_heuristic(launch):
    from tritensor.kernels import softmax

    tunable = next(v for v in vars(softmax).values() if getattr(v, "name", None) == launch.kernel)
    return tunable.heuristic(launch.key)
