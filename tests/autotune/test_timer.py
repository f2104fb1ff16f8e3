"""CudaEventTimer's protocol with the CUDA driver faked: warm-up, L2 flush per rep, median, budget.

The real thing needs a GPU; here every driver call is recorded so the order of events is checked.
"""

import pytest
from tritensor.autotune.timer import CudaEventTimer, Timer, gpu_available

from tritensor.cuda import driver


class FakeDriver:
    def __init__(self, kernel_ms):
        self.kernel_ms = list(kernel_ms)  # elapsed time reported for each timed launch, in order
        self.log = []
        self.clock = 0.0
        self.allocated = []

    def install(self, monkeypatch):
        fake = self

        class Storage:
            def __init__(self, nbytes, index):
                fake.allocated.append(nbytes)
                self.nbytes = nbytes

        class Props:
            l2_cache_size = 50 << 20

        monkeypatch.setattr(driver, "install_triton_stream_hook", lambda: self.log.append("hook"))
        monkeypatch.setattr(driver, "properties", lambda index: Props())
        monkeypatch.setattr(driver, "DeviceStorage", Storage)
        monkeypatch.setattr(driver, "zero_", lambda storage: self.log.append(("flush", storage.nbytes)))
        monkeypatch.setattr(driver, "synchronize", lambda index: self.log.append("sync"))
        monkeypatch.setattr(driver, "timing_event", self.event)
        monkeypatch.setattr(driver, "elapsed_ms", lambda start, end: end - start)

    def event(self, index):
        self.log.append("event")
        return self.clock

    def run(self, config):
        self.log.append(("run", config["BLOCK"]))
        if self.log.count("event") % 2 == 1:  # a launch between a start and an end event is timed
            self.clock += self.kernel_ms.pop(0)


def test_event_timer_flushes_l2_before_each_rep_and_takes_the_median(monkeypatch):
    times = [9.0] + [1.0, 5.0, 2.0, 4.0, 3.0]  # the estimate, then five reps
    fake = FakeDriver(times)
    fake.install(monkeypatch)
    timer = CudaEventTimer(warmup=2, reps=5, budget_ms=1000.0)
    assert isinstance(timer, Timer)
    ms = timer.measure(fake.run, {"BLOCK": 128})
    assert ms == 3.0  # median of the five reps; the estimate is not one of them
    flush = ("flush", 100 << 20)  # twice the L2 size
    run = ("run", 128)
    assert fake.log == ["hook", run, "sync",  # first launch compiles: untimed
                        flush, "event", run, "event",  # the estimate
                        run, run,  # warm-up
                        *[flush, "event", run, "event"] * 5]
    assert fake.allocated == [100 << 20]  # the flush buffer is allocated once
    fake.kernel_ms = [1.0] * 6
    timer.measure(fake.run, {"BLOCK": 128})
    assert fake.allocated == [100 << 20]


def test_event_timer_cuts_reps_for_slow_kernels(monkeypatch):
    fake = FakeDriver([50.0] + [40.0, 60.0, 50.0, 55.0, 45.0])
    fake.install(monkeypatch)
    timer = CudaEventTimer(warmup=0, reps=20, min_reps=3, budget_ms=250.0)
    assert timer.measure(fake.run, {"BLOCK": 64}) == 50.0  # 250 ms / 50 ms = 5 reps
    assert fake.kernel_ms == []


def test_event_timer_without_flush(monkeypatch):
    fake = FakeDriver([1.0] * 4)
    fake.install(monkeypatch)
    timer = CudaEventTimer(warmup=0, reps=3, flush_l2=False)
    assert timer.measure(fake.run, {"BLOCK": 32}) == pytest.approx(1.0)
    assert not any(isinstance(e, tuple) and e[0] == "flush" for e in fake.log)
    assert fake.allocated == []


def test_gpu_available_is_false_here(monkeypatch):
    assert not gpu_available()  # the interpreter is on in this test run
    monkeypatch.delenv("TRITON_INTERPRET")
    monkeypatch.setattr(driver, "device_count", lambda: 0)
    assert not gpu_available()
    monkeypatch.setattr(driver, "device_count", lambda: 1)
    assert gpu_available()
