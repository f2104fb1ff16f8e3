"""Storage: the memory that a tensor and all its views share, with their shared version counter.

This is the layer below the Tensor that knows where memory lives: host NumPy memory (cpu, and cuda under
Triton's interpreter) or a cuda.core allocation, and how bytes move between host and device.
"""

from __future__ import annotations

import numpy as np

from .cuda import driver
from .cuda import memory as _memory
from .cuda.devices import current_device
from .device import device, interpreting
from .kernels.device_array import HostStorage


class Storage:
    """Host memory (a 1-D NumPy array; cpu and interpreted cuda) or a cuda.core allocation.

    `version` counts in-place writes; autograd compares it with the value saved at forward time.
    """

    __slots__ = ("host", "device_storage", "nbytes", "version", "_kernel_storage", "__weakref__")

    def __init__(self, host: np.ndarray | None = None, device_storage=None):
        self.host = host
        self.device_storage = device_storage
        self.nbytes = host.nbytes if host is not None else device_storage.nbytes
        self.version = 0
        self._kernel_storage = None

    def kernel_storage(self):
        """What a DeviceArray points into: the GPU allocation, or host memory for the interpreter."""
        ks = self._kernel_storage
        host = self.host
        if host is not None:
            if ks is None:
                ks = self._kernel_storage = HostStorage(host)
            return ks
        if ks is None:
            ks = self._kernel_storage = self.device_storage
        # Triton launches on the current device: an op's operands make their device current.
        driver.ensure_current(ks.device_index)
        return ks

    def data_ptr(self) -> int:
        """The address of the first byte of this memory (host address for cpu and interpreter storage)."""
        return self.kernel_storage().data_ptr()

    @staticmethod
    def allocate(numel: int, np_dtype, device) -> Storage:
        """Uninitialised memory for `numel` elements on `device`: host memory for cpu and the interpreter.

        cuda memory is counted by tt.cuda's memory statistics until it is freed (a CudaStorage). An allocation
        that fails for lack of memory is retried once after collecting garbage and emptying the cache, then
        raises tt.cuda.OutOfMemoryError.
        """
        if device.type == "cpu":
            return Storage(host=np.empty(numel, dtype=np_dtype))
        return new_cuda(numel, np_dtype, device.index)

    def copy_from_host(self, offset_bytes: int, src: np.ndarray, non_blocking: bool = False) -> None:
        """Write a host array's bytes (C order) into this storage at `offset_bytes`.

        non_blocking: when `src` is C-contiguous page-locked memory and this is GPU memory, only queue the
        copy on the current stream (the driver keeps `src` alive until it is done); otherwise, as PyTorch,
        the flag changes nothing and the copy is complete on return.
        """
        if self.host is not None:
            dst = self.host.view(np.uint8)[offset_bytes:offset_bytes + src.nbytes]
            dst[...] = np.ascontiguousarray(src).reshape(-1).view(np.uint8)
            return
        if non_blocking and src.nbytes and src.flags.c_contiguous and driver.is_pinned(src.ctypes.data):
            driver.copy_host_to_device_async(self.device_storage, offset_bytes, src)
            return
        # Pageable memory: the driver stages it through a pinned buffer anyway, and the caller may free `src`.
        driver.copy_host_to_device(self.device_storage, offset_bytes, src)

    def to_host(self, np_dtype, count: int, offset_bytes: int = 0) -> np.ndarray:
        """A host copy of `count` contiguous elements of `np_dtype` starting at `offset_bytes`."""
        out = np.empty(count, np_dtype)
        if self.host is not None:
            out.view(np.uint8)[...] = self.host.view(np.uint8)[offset_bytes:offset_bytes + out.nbytes]
            return out
        driver.copy_device_to_host(out, self.device_storage, offset_bytes)
        return out

    def is_pinned(self) -> bool:
        """True for host memory that is page-locked for a real GPU (never under the interpreter)."""
        return self.host is not None and pinning_available() and driver.is_pinned(self.host.ctypes.data)

    def record_stream(self, stream) -> None:
        """Mark device memory as used by the tt.cuda.Stream `stream`: its free waits for the work queued there
        (PyTorch's `Tensor.record_stream`; a no-op for host memory)."""
        native = getattr(stream, "_stream", None)
        if self.device_storage is not None and native is not None:
            self.device_storage.record_stream(native)

    def recount(self) -> None:
        """Update tt.cuda's memory statistics after this storage's memory was replaced (a resize): they count
        the new `nbytes` from now on. A no-op for host (cpu) storages, which are not counted."""

    def fill_zero(self) -> None:
        """Zero every byte (on the current stream for device memory)."""
        if self.host is not None:
            self.host.view(np.uint8)[...] = 0
            return
        driver.zero_(self.device_storage)


class CudaStorage(Storage):
    """A cuda Storage that tt.cuda's memory statistics count from its allocation until it is freed.

    `__del__` is the finalizer: it runs when the last tensor (view) over the memory goes, costs a few integer
    updates (it runs once per cuda allocation, so it stays that small), and never raises. `_counted` is the size
    the statistics hold for it, so they never drift when the memory is replaced (`recount`).
    """

    __slots__ = ("_stats", "_counted")

    def __del__(self):
        try:
            if self._counted:
                self._stats.remove(self._counted)
        except Exception:  # interpreter exit (the statistics may be gone already), or a half-made storage
            pass

    def recount(self) -> None:
        """Count the current `nbytes` in place of the size counted so far (after the memory was replaced)."""
        stats, counted = self._stats, self._counted
        if counted:
            stats.remove(counted)
        if self.nbytes:
            stats.add(self.nbytes)
        self._counted = self.nbytes


_new = object.__new__


def new_cuda(numel: int, np_dtype, index: int, retry: bool = True) -> CudaStorage:
    """Uninitialised, counted memory for `numel` elements on cuda:index (`Storage.allocate` for cuda): host
    memory under the interpreter, else a cuda.core allocation. Zero bytes are not counted, as PyTorch's allocator
    does not count empty tensors. An allocation that fails for lack of memory is retried once (`retry`) after
    collecting garbage and emptying the cache, then raises tt.cuda.OutOfMemoryError.

    Every cuda op's output comes through here, so the storage's slots are set directly, without Storage.__init__'s
    call and its host-or-device test."""
    try:
        if interpreting():
            host = np.empty(numel, np_dtype)
            storage = _new(CudaStorage)
            storage.host = host
            storage.device_storage = None
            nbytes = host.nbytes
        else:
            dev_storage = driver.DeviceStorage(numel * np.dtype(np_dtype).itemsize, index)
            storage = _new(CudaStorage)
            storage.host = None
            storage.device_storage = dev_storage
            nbytes = dev_storage.nbytes
    except Exception as exc:
        if not retry:
            raise
        return _memory.allocate_after_failure(exc, index, numel * np.dtype(np_dtype).itemsize,
                                              lambda: new_cuda(numel, np_dtype, index, False))
    storage.nbytes = nbytes
    storage.version = 0
    storage._kernel_storage = None
    # Set before anything can drop the storage, so __del__ always finds them (until _counted is set, __del__
    # uncounts nothing).
    stats = storage._stats = _memory._stats.get(index) or _memory.device_stats(index)
    storage._counted = nbytes
    if nbytes:
        stats.add(nbytes)
    return storage


def pinning_available() -> bool:
    """True when host memory can be page-locked: a real GPU is present (under Triton's interpreter `cuda` is host
    memory already, and pinning, as PyTorch's non-blocking copies, is a no-op)."""
    return not interpreting() and driver.device_count() > 0


def pinned_copy(src: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of a host array in page-locked memory (needs `pinning_available()`)."""
    return driver.pinned_copy(src)


def canonical_device(spec) -> device:
    """The concrete device a tensor lives on: cuda without an index is the current device
    (`tt.cuda.set_device`, 0 by default)."""
    d = device(spec)
    if d.type == "cuda":
        if d.index is None:
            d = device("cuda", current_device())
        driver.require(d.index)
    return d
