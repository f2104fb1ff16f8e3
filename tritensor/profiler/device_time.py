"""Kernel times, the one place the profiler talks to a GPU.

On a GPU a launch only enqueues work, so host time says nothing of how long the kernel ran: each kernel
event then gets a pair of tt.cuda.Events (timing enabled) recorded on the current stream around its launch
(the end one at the next point the profiler sees: the next launch, or the end of the op), and the time
between them is read once, when the trace stops (one synchronize). Under Triton's interpreter, and with no
GPU, a launch runs to completion on the host, so the host time between the same two points is the kernel's
time and no event is made.
"""

from __future__ import annotations

from ..device import interpreting

__all__ = ["KernelClock"]


class KernelClock:
    """Marks around kernel launches: `mark()` at a kernel's start and end, `elapsed_us(start, end)` after the
    trace stops (None when the marks are host-only: use the host times)."""

    def __init__(self) -> None:
        self.gpu = not interpreting() and _gpu_present()
        if self.gpu:
            from ..cuda import Event

            self._event = Event

    def mark(self):
        """A timing event recorded on the current stream now (GPU), else None."""
        if not self.gpu:
            return None
        event = self._event(enable_timing=True)
        event.record()
        return event

    @staticmethod
    def elapsed_us(start, end) -> float | None:
        """Device microseconds between two marks, waiting for them to complete; None for host-only marks."""
        if start is None or end is None:
            return None
        end.synchronize()
        return start.elapsed_time(end) * 1000.0


def _gpu_present() -> bool:
    from ..cuda import driver

    return driver.device_count() > 0
