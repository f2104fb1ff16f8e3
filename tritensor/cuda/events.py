"""CUDA events, as torch.cuda.Event: markers recorded on a stream to wait for, query, or time between.

On a GPU an Event is a cuda.core event, created on its first `record` (its device is the recording
stream's). Under Triton's interpreter every launch has finished when it returns, so an event is complete as
soon as it is recorded and it keeps the host time of its recording (time.perf_counter): `elapsed_time`
then measures the host time the work between two events took.
"""

from __future__ import annotations

import time

from ..device import device as _device_cls
from ..device import interpreting
from . import devices, driver


class Event:
    """A CUDA event, as torch.cuda.Event.

    enable_timing: the event can measure time (`elapsed_time`); blocking: `synchronize` sleeps instead of
    spinning; interprocess: the event may be shared between processes (accepted; IPC handles are not
    provided). Events are created lazily, on the first `record`.
    """

    def __init__(self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False,
                 external: bool = False):
        self.enable_timing = bool(enable_timing)
        self.blocking = bool(blocking)
        self.interprocess = bool(interprocess)
        self.external = bool(external)
        self._device_index: int | None = None  # set by the first record
        self._native = None  # the cuda.core Event (GPU)
        self._time: float | None = None  # time.perf_counter() of the last record (interpreter)

    @staticmethod
    def _target(stream) -> tuple[int, object]:
        """(device index, cuda.core stream or None under the interpreter) of a tt.cuda.Stream or, for None,
        the current device's current stream."""
        if stream is not None:
            return stream.device_index, stream._stream
        index = devices.current_device()
        driver.require(index)
        return index, (None if interpreting() else driver.current_stream(index))

    @property
    def device(self) -> _device_cls | None:
        """The device the event was recorded on (None before its first record)."""
        return None if self._device_index is None else _device_cls("cuda", self._device_index)

    @property
    def cuda_event(self) -> int:
        """The CUevent handle as an int (0 before the first record, and under the interpreter)."""
        return 0 if self._native is None else int(self._native.handle)

    event_id = cuda_event

    def record(self, stream=None) -> None:
        """Record the event on `stream` (default: the current stream): it completes when the work queued
        there so far has. Re-recording moves it; the stream must be on the device of the first record."""
        index, native = self._target(stream)
        if self._device_index is not None and self._device_index != index:
            raise RuntimeError(f"Event device {self._device_index} does not match recording stream's device {index}.")
        self._device_index = index
        if native is None:
            self._time = time.perf_counter()
            return
        self._native = driver.record_event(index, native, self._native, timing=self.enable_timing,
                                           blocking=self.blocking, interprocess=self.interprocess)

    def wait(self, stream=None) -> None:
        """Make all future work on `stream` (default: the current stream) wait for this event; a no-op for an
        event never recorded, and under the interpreter."""
        index, native = self._target(stream)
        if self._native is not None and native is not None:
            driver.wait_event(index, native, self._native)

    def query(self) -> bool:
        """True when the work the event waits for has completed (or it was never recorded)."""
        return True if self._native is None else bool(self._native.is_done)

    def synchronize(self) -> None:
        """Wait until the event has completed (returns at once if it was never recorded)."""
        if self._native is not None:
            self._native.sync()

    def elapsed_time(self, end_event: Event) -> float:
        """Milliseconds from this event's record to `end_event`'s. Both must be created with
        enable_timing=True and recorded (ValueError otherwise, as PyTorch), and complete (RuntimeError)."""
        if not (self.enable_timing and end_event.enable_timing):
            raise ValueError("Both events must be created with argument 'enable_timing=True'.")
        if self._device_index is None or end_event._device_index is None:
            raise ValueError("Both events must be recorded before calculating elapsed time.")
        if not (self.query() and end_event.query()):
            raise RuntimeError("Both events must be completed before calculating elapsed time.")
        if self._native is None or end_event._native is None:
            return (end_event._time - self._time) * 1000.0
        return driver.elapsed_ms(self._native, end_event._native)

    def __repr__(self) -> str:
        if self._device_index is None:
            return "<tritensor.cuda.Event uninitialized>"
        return f"<tritensor.cuda.Event cuda:{self._device_index} {self.cuda_event:#x}>"
