"""Everything that needs a real NVIDIA GPU, through cuda.core: devices, the stream-ordered allocator,
streams, events and host<->device copies. Kept thin: nothing here runs without a GPU, so nothing
else may need it in order to work.
"""

from __future__ import annotations

import functools

import numpy as np

from ..device import interpreting


@functools.cache
def device_count() -> int:
    """GPUs the CUDA driver sees; 0 when there is no driver or no device (never raises)."""
    try:
        from cuda.core import system

        return int(system.get_num_devices())
    except Exception:
        return 0


@functools.cache
def _device(index: int):
    from cuda.core import Device

    dev = Device(index)
    dev.set_current()
    return dev


_current_streams: dict[int, object] = {}


def current_stream(index: int):
    """The library's current stream on a device (its default stream until set_stream)."""
    stream = _current_streams.get(index)
    if stream is None:
        stream = _current_streams[index] = _device(index).default_stream
    return stream


def set_stream(index: int, stream) -> None:
    """Make a cuda.core stream the library's current stream on device `index` (launches and copies use it)."""
    _current_streams[index] = stream


def create_stream(index: int):
    """A new cuda.core stream on device `index`."""
    return _device(index).create_stream()


def install_triton_stream_hook() -> None:
    """Make Triton launch on the library's current stream (Triton defaults to stream 0 without torch)."""
    import triton

    driver = triton.runtime.driver.active
    driver.get_current_stream = lambda index=None: int(current_stream(index or 0).handle)


# Called with the device index after every synchronize(): the device error word is read there (a layer above
# registers it, so this module imports nothing of tritensor's).
_after_synchronize: list = []


def on_synchronize(fn) -> None:
    """Run fn(index) after each synchronize(index)."""
    _after_synchronize.append(fn)


def synchronize(index: int) -> None:
    """Wait for all work on device `index`, then run the hooks registered with `on_synchronize`."""
    _device(index).sync()
    for fn in _after_synchronize:
        fn(index)


def name(index: int) -> str:
    """The device's name as the driver reports it (e.g. 'NVIDIA H100 80GB HBM3')."""
    return _device(index).name


def capability(index: int) -> tuple[int, int]:
    """The device's compute capability as (major, minor)."""
    cc = _device(index).compute_capability
    return int(cc.major), int(cc.minor)


def properties(index: int):
    """cuda.core DeviceProperties (shared memory per block, L2 size, SM count, ...)."""
    return _device(index).properties


class DeviceStorage:
    """A stream-ordered allocation from the device's memory pool, freed on its stream when dropped."""

    __slots__ = ("buffer", "device_index", "nbytes", "_ptr", "__weakref__")

    def __init__(self, nbytes: int, device_index: int):
        dev = _device(device_index)
        self.buffer = dev.allocate(max(nbytes, 1), stream=current_stream(device_index))
        self.device_index = device_index
        self.nbytes = nbytes
        self._ptr = int(self.buffer.handle)

    def data_ptr(self) -> int:
        """The device address of the allocation's first byte."""
        return self._ptr

    def __del__(self):
        buffer = getattr(self, "buffer", None)
        if buffer is not None:
            buffer.close(current_stream(self.device_index))


def copy_host_to_device(dst: DeviceStorage, dst_offset_bytes: int, src: np.ndarray) -> None:
    """Copy a host array into `dst` at a byte offset on the current stream; returns once the copy is done."""
    from cuda.bindings import driver as cu

    src = np.ascontiguousarray(src)
    stream = current_stream(dst.device_index)
    (err,) = cu.cuMemcpyHtoDAsync(dst.data_ptr() + dst_offset_bytes, src.ctypes.data, src.nbytes,
                                  int(stream.handle))
    _check(err)
    stream.sync()  # src may be a temporary owned by the caller


def copy_device_to_host(dst: np.ndarray, src: DeviceStorage, src_offset_bytes: int) -> None:
    """Copy `dst.nbytes` bytes from `src` at a byte offset into the host array `dst`; returns once done."""
    from cuda.bindings import driver as cu

    stream = current_stream(src.device_index)
    (err,) = cu.cuMemcpyDtoHAsync(dst.ctypes.data, src.data_ptr() + src_offset_bytes, dst.nbytes,
                                  int(stream.handle))
    _check(err)
    stream.sync()


def _check(err) -> None:
    from cuda.bindings import driver as cu

    if err != cu.CUresult.CUDA_SUCCESS:
        raise RuntimeError(f"CUDA error: {err}")


def timing_event(index: int):
    """Record a timing event on the current stream (the autotuner's timer uses pairs of these)."""
    from cuda.core import EventOptions

    return current_stream(index).record(options=EventOptions(enable_timing=True))


def elapsed_ms(start, end) -> float:
    """Milliseconds between two timing events (waits for `end`)."""
    end.sync()
    return float(end - start)


def zero_(storage: DeviceStorage) -> None:
    """Overwrite a whole allocation with zeros on the current stream (used to flush L2)."""
    storage.buffer.fill(0, stream=current_stream(storage.device_index))


_hook_installed = False


def require(index: int) -> None:
    """Raise unless cuda:index can hold tensors (a GPU, or the interpreter's cuda:0); install Triton's
    stream hook on first use of a real GPU."""
    global _hook_installed
    if interpreting():
        if index != 0:
            raise RuntimeError(f"CUDA error: invalid device ordinal {index} (the interpreter provides cuda:0 only)")
        return
    count = device_count()
    if count == 0:
        raise RuntimeError(
            "No CUDA GPU is available. Run on a machine with an NVIDIA GPU, or set TRITON_INTERPRET=1 "
            "before importing tritensor to run the Triton kernels in Triton's interpreter on the CPU, "
            "or use device='cpu'."
        )
    if index >= count:
        raise RuntimeError(f"CUDA error: invalid device ordinal {index} ({count} device(s) available)")
    if not _hook_installed:
        install_triton_stream_hook()
        _hook_installed = True
