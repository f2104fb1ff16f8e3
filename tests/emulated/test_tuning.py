"""CudaEventTimer with cuda.core events and the tuner on one key of the map kernel, on the fake GPU.

The fake GPU's clock only moves when a test says so: `run` wrappers below advance it by a config's
made-up kernel time, so timing events measure exactly that.
"""

import numpy as np
import pytest
from tritensor.autotune import tuner as tuner_module
from tritensor.autotune.cache import TuningCache
from tritensor.autotune.timer import CudaEventTimer, gpu_available
from tritensor.autotune.tuner import AutotuneWarning, Tuner
from tritensor.kernels import elementwise, tuning

import tritensor as tt


def test_event_timer_measures_with_timing_events(gpu):
    timer = CudaEventTimer(warmup=1, reps=5)
    launches = []

    def run(config):
        launches.append(config["BLOCK"])
        gpu.clock += 2.5

    assert timer.measure(run, {"BLOCK": 256}) == pytest.approx(2.5)
    assert launches == [256] * (1 + 1 + 1 + 5)  # compile, estimate, warm-up, reps
    assert gpu.triton.get_current_stream(0) == 1  # the timer installed the stream hook
    flush = [e for e in gpu.entries("allocate") if e[3] == 0]
    assert len(flush) == 1  # the L2 flush buffer, allocated once
    assert gpu_available()  # the fake GPU counts as one


def test_elapsed_time_needs_timing_enabled_events(gpu):
    from tritensor.cuda import driver

    start = driver.current_stream(0).record()  # no options: not a timing event
    end = driver.timing_event(0)
    with pytest.raises(RuntimeError, match="timing_enabled"):
        driver.elapsed_ms(start, end)


MADE_UP_MS = {(1024, 4): 4.0, (512, 4): 1.0, (2048, 8): 3.0, (1024, 8): 2.0}


@pytest.fixture
def tuner(gpu, tmp_path, monkeypatch):
    tuner = Tuner(mode="1", cache=TuningCache(tmp_path / "tuning.json"),
                  timer=CudaEventTimer(warmup=1, reps=3))
    monkeypatch.setattr(tuner_module, "_default", tuner)
    installed = tuning._selector

    def timed_selector(tunable, key, sizes, run, repeatable):
        def timed_run(config):
            run(config)
            gpu.clock += MADE_UP_MS[(config["BLOCK"], config["num_warps"])]

        return tuner_module.select_for_launch(tunable, key, sizes, timed_run, repeatable)

    monkeypatch.setattr(tuning, "_selector", timed_selector)
    assert installed is tuner_module.select_for_launch  # what tritensor installs: the wrapper only adds time
    yield tuner
    tuning.forget()
    tuner._timer = None  # its L2 flush buffer is device memory: freed before the fake GPU goes


def test_the_tuner_times_the_map_kernel_and_keeps_the_fastest(tuner):
    x = tt.arange(3000, dtype=tt.float32, device="cuda")
    y = x + x
    [result] = tuner.results
    assert result.spec_name == elementwise.FLAT_TUNING.name  # a contiguous add runs the flat kernel
    assert len(result.trials) == len(elementwise.FLAT_TUNING.all_configs())
    assert result.best == {"BLOCK": 512, "num_warps": 4, "maxnreg": 128} and result.best_ms == pytest.approx(1.0)
    [entry] = tuner.cache.entries()
    assert entry["config"] == result.best and entry["device"].startswith("Emulated GPU 0")
    np.testing.assert_array_equal(y.cpu().numpy(), 2 * np.arange(3000, dtype=np.float32))
    z = x + 1.0  # same key: chosen from memory, never timed again
    assert len(tuner.results) == 1
    np.testing.assert_array_equal(z.cpu().numpy(), np.arange(3000, dtype=np.float32) + 1)


def test_a_failing_timer_falls_back_to_the_heuristic(tuner, gpu):
    gpu.fail_elapsed = True
    x = tt.ones(100, device="cuda")
    with pytest.warns(AutotuneWarning, match="using the heuristic config"):
        y = x + x
    assert tuner.results == [] and tuner.cache.entries() == []
    np.testing.assert_array_equal(y.cpu().numpy(), np.full(100, 2.0))
