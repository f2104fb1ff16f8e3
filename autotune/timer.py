"""Timing a config: the Timer protocol and the CUDA-event timer used on a GPU.

`triton.testing.do_bench` imports torch, so tritensor times kernels itself: CUDA events recorded
on the library's stream (through tritensor.cuda.driver), a warm-up, the median of several reps,
and L2 flushed before each rep so every rep reads its operands from DRAM as a first call would.
Tests inject a deterministic timer instead (any object with `measure`).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .space import Config


@runtime_checkable
class Timer(Protocol):
    def measure(self, run: Callable[[Config], None], config: Config) -> float:
        """Milliseconds one `run(config)` takes (run launches the kernel once)."""
        ...


def gpu_available() -> bool:
    """True when a CUDA device runs the kernels (a GPU is present and Triton is not interpreting)."""
    from tritensor.cuda import driver
    from tritensor.device import interpreting

    if interpreting():
        return False
    return driver.device_count() > 0


class CudaEventTimer:
    """Median of `reps` CUDA-event timings after `warmup` launches, L2 flushed before each rep.

    Reps are cut down for slow configs so that one config costs about `budget_ms` (never fewer
    than `min_reps`).
    """

    def __init__(self, device_index: int = 0, warmup: int = 3, reps: int = 20, min_reps: int = 3,
                 budget_ms: float = 200.0, flush_l2: bool = True):
        self.device_index = device_index
        self.warmup = warmup
        self.reps = reps
        self.min_reps = min_reps
        self.budget_ms = budget_ms
        self.flush_l2 = flush_l2
        self._flush = None
        from tritensor.cuda import driver

        driver.install_triton_stream_hook()  # launches and events must share one stream

    def _flush_buffer(self):
        if self._flush is None:
            from tritensor.cuda import driver

            l2 = int(driver.properties(self.device_index).l2_cache_size)
            # Twice the L2 size evicts every line whatever the replacement policy keeps.
            self._flush = driver.DeviceStorage(max(2 * l2, 1 << 24), self.device_index)
        return self._flush

    def _timed(self, run: Callable[[Config], None], config: Config) -> float:
        from tritensor.cuda import driver

        if self.flush_l2:
            driver.zero_(self._flush_buffer())
        start = driver.timing_event(self.device_index)
        run(config)
        end = driver.timing_event(self.device_index)
        return driver.elapsed_ms(start, end)

    def measure(self, run: Callable[[Config], None], config: Config) -> float:
        from tritensor.cuda import driver

        run(config)  # the first launch compiles; never time it
        driver.synchronize(self.device_index)
        estimate = self._timed(run, config)
        for _ in range(self.warmup):
            run(config)
        reps = self.reps
        if estimate > 0:
            reps = max(self.min_reps, min(self.reps, int(self.budget_ms / estimate)))
        times = [self._timed(run, config) for _ in range(reps)]
        return float(statistics.median(times))
