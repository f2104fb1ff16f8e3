"""Everything that needs a real NVIDIA GPU, through cuda.core: devices, the stream-ordered allocator,
streams, events and host<->device copies. Kept thin: nothing here runs without a GPU, so nothing
else may need it in order to work.

cuda.core and cuda.bindings are reached only through `_core()` and `_cu()`, and Triton's driver
only through `_triton_driver()`: the emulated-device tests (tests/emulated) put a fake GPU behind
these three seams and run this module's real code path with Triton's interpreter.

The current device is per thread (a CUDA context is current per thread) and the legacy default
stream means "the null stream of whatever context is current", so everything that launches,
allocates, copies, records or synchronises first makes its device current (`ensure_current`).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sysconfig
import tempfile
import threading
from dataclasses import dataclass

import numpy as np

from ..device import interpreting
from ..kernels import tuning


def _core():
    """The cuda.core module."""
    import cuda.core

    return cuda.core


def _cu():
    """cuda.bindings' driver API module."""
    from cuda.bindings import driver

    return driver


def _triton_driver():
    """Triton's active driver (creating it needs a GPU)."""
    import triton

    return triton.runtime.driver.active


@functools.cache
def device_count() -> int:
    """GPUs the CUDA driver sees (after CUDA_VISIBLE_DEVICES); 0 when there is no driver or no device
    (never raises). NVML is not asked: it counts every GPU in the machine, visible or not."""
    try:
        cu = _cu()
        (err,) = cu.cuInit(0)
        if err != cu.CUresult.CUDA_SUCCESS:  # CUDA_ERROR_NO_DEVICE when CUDA_VISIBLE_DEVICES hides them all
            return 0
        err, count = cu.cuDeviceGetCount()
        if err != cu.CUresult.CUDA_SUCCESS:
            return 0
        return int(count)
    except Exception:  # no libcuda (cuda.pathfinder raises), a broken driver install
        return 0


_tls = threading.local()  # .index: the device this thread last made current


def ensure_current(index: int) -> None:
    """Make cuda:index the calling thread's current device unless it already is (one attribute read then).

    Triton launches on the current device, and the legacy default stream is the current context's, so
    every launch, allocation, copy and event goes through here first.
    """
    if getattr(_tls, "index", None) != index:
        device = _core().Device(index)
        device.set_current()
        _tls.index = index
        # Grids are sized to fill this GPU (split reductions and scans).
        tuning.set_sm_count(int(device.properties.multiprocessor_count))


def _device(index: int):
    ensure_current(index)  # cuda.core's Devices are thread-local singletons, initialised by set_current
    return _core().Device(index)


_current_streams: dict[int, object] = {}


def current_stream(index: int):
    """The library's current stream on a device (its default stream until set_stream); makes the device
    current, as work is queued on the stream next."""
    ensure_current(index)
    stream = _current_streams.get(index)
    if stream is None:
        stream = _current_streams[index] = _device(index).default_stream
    return stream


def default_stream(index: int):
    """The device's default stream (cuda.core's legacy default stream, the same object on every call)."""
    return _device(index).default_stream


def set_stream(index: int, stream) -> None:
    """Make a cuda.core stream the library's current stream on device `index` (launches and copies use it)."""
    _current_streams[index] = stream


def create_stream(index: int, priority: int = 0):
    """A new cuda.core stream on device `index` (`priority`: lower runs first, as CUDA's; 0 is the default)."""
    if priority:
        return _device(index).create_stream(options=_core().StreamOptions(priority=priority))
    return _device(index).create_stream()


def stream_query(stream) -> bool:
    """Whether all work queued on a cuda.core stream has finished (cuStreamQuery; never waits)."""
    cu = _cu()
    (err,) = cu.cuStreamQuery(stream.handle)
    if err == cu.CUresult.CUDA_ERROR_NOT_READY:
        return False
    _check(err)
    return True


def record_event(index: int, stream, event=None, *, timing: bool = False, blocking: bool = False,
                 interprocess: bool = False):
    """Record `event` (a cuda.core Event, or None for a new one with these options) on a cuda.core stream of
    device `index`; returns the event."""
    ensure_current(index)
    if event is not None:
        return stream.record(event)
    options = _core().EventOptions(timing_enabled=timing, blocking_sync=blocking, ipc_enabled=interprocess)
    return stream.record(options=options)


def wait_event(index: int, stream, event) -> None:
    """Make future work on a cuda.core stream of device `index` wait for a recorded cuda.core event."""
    ensure_current(index)
    stream.wait(event)


def wait_stream(waiter, waiter_index: int, other, other_index: int) -> None:
    """Make future work on stream `waiter` wait for all work queued on stream `other` so far."""
    ensure_current(other_index)
    event = other.record()
    ensure_current(waiter_index)
    waiter.wait(event)


def install_triton_stream_hook() -> None:
    """Make Triton launch on the library's current stream (Triton defaults to stream 0 without torch).

    Triton asks for the stream of its current device, which `ensure_current` keeps the tensors' device.
    """
    driver = _triton_driver()
    driver.get_current_stream = lambda index=None: int(current_stream(index or 0).handle)


# Called with the device index after every synchronize(): the device error word is read there (a layer above
# registers it, so this module imports nothing of tritensor's).
_after_synchronize: list = []


def on_synchronize(fn) -> None:
    """Run fn(index) after each synchronize(index)."""
    _after_synchronize.append(fn)


def synchronize(index: int) -> None:
    """Wait for all work on device `index`, let go of the host buffers its asynchronous copies read, then run
    the hooks registered with `on_synchronize`."""
    _device(index).sync()
    with _in_flight_lock:  # the copies queued so far are done (another thread may have queued one since)
        _drop_finished(_in_flight.get(index, []))
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


def total_memory(index: int) -> int:
    """The device's global memory in bytes (cuDeviceTotalMem)."""
    cu = _cu()
    err, dev = cu.cuDeviceGet(index)
    _check(err)
    err, nbytes = cu.cuDeviceTotalMem(dev)
    _check(err)
    return int(nbytes)


def device_properties(index: int) -> dict:
    """What tt.cuda.get_device_properties reports of a GPU, as a dict of PyTorch's field names."""
    dev = _device(index)
    props = dev.properties
    cc = dev.compute_capability
    return dict(name=dev.name, major=int(cc.major), minor=int(cc.minor), total_memory=total_memory(index),
                multi_processor_count=int(props.multiprocessor_count), is_integrated=bool(props.integrated),
                is_multi_gpu_board=bool(props.multi_gpu_board),
                max_threads_per_multi_processor=int(props.max_threads_per_multiprocessor),
                warp_size=int(props.warp_size), L2_cache_size=int(props.l2_cache_size), uuid=str(dev.uuid))


# ------------------------------------------------------------------ the memory pool (tt.cuda memory statistics)
def mem_get_info(index: int) -> tuple[int, int]:
    """(free, total) bytes of device memory as the driver reports them (cuMemGetInfo)."""
    ensure_current(index)
    cu = _cu()
    err, free, total = cu.cuMemGetInfo()
    _check(err)
    return int(free), int(total)


def _pool(index: int):
    """The cuda.core memory resource allocations of device `index` come from, when it is a memory pool (it has
    pool `attributes`), else None."""
    resource = getattr(_device(index), "memory_resource", None)
    return resource if getattr(resource, "attributes", None) is not None else None


def pool_usage(index: int) -> tuple[int, int] | None:
    """(current, peak) bytes the device's memory pool reserves from the driver, or None without a pool."""
    pool = _pool(index)
    if pool is None:
        return None
    attributes = pool.attributes
    return int(attributes.reserved_mem_current), int(attributes.reserved_mem_high)


def reset_pool_peak(index: int) -> None:
    """Restart the pool's reserved and used high watermarks from their current values."""
    pool = _pool(index)
    if pool is None:
        return
    cu = _cu()
    for attr in (cu.CUmemPool_attribute.CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH,
                 cu.CUmemPool_attribute.CU_MEMPOOL_ATTR_USED_MEM_HIGH):
        (err,) = cu.cuMemPoolSetAttribute(pool.handle, attr, cu.cuuint64_t(0))  # 0 resets it to the current value
        _check(err)


def empty_cache(index: int) -> None:
    """Wait for the device (frees queued on its streams complete), then return the pool's unused memory to the
    driver (cuMemPoolTrimTo 0)."""
    pool = _pool(index)
    _device(index).sync()
    if pool is None:
        return
    cu = _cu()
    (err,) = cu.cuMemPoolTrimTo(pool.handle, 0)
    _check(err)


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether an exception raised by an allocation is the driver's CUDA_ERROR_OUT_OF_MEMORY."""
    return "CUDA_ERROR_OUT_OF_MEMORY" in str(exc)


class DeviceStorage:
    """A stream-ordered allocation from the device's memory pool.

    It is freed on the stream it was allocated on (`stream`), after that stream waits for the streams
    passed to `record_stream` (PyTorch's `Tensor.record_stream`): the pool may hand the memory out
    again only once the work queued on them before the free has finished.
    """

    __slots__ = ("buffer", "device_index", "nbytes", "stream", "_recorded", "_ptr", "__weakref__")

    def __init__(self, nbytes: int, device_index: int):
        dev = _device(device_index)
        self.stream = current_stream(device_index)
        self.buffer = dev.allocate(max(nbytes, 1), stream=self.stream)
        self.device_index = device_index
        self.nbytes = nbytes
        self._recorded: list | None = None
        self._ptr = int(self.buffer.handle)

    def data_ptr(self) -> int:
        """The device address of the allocation's first byte."""
        return self._ptr

    def record_stream(self, stream) -> None:
        """Mark the memory as used by the cuda.core `stream`: the free waits for the work queued there."""
        if stream == self.stream:
            return
        if self._recorded is None:
            self._recorded = []
        if not any(stream == s for s in self._recorded):
            self._recorded.append(stream)

    def free(self) -> None:
        """Return the memory to the pool on the allocation stream (idempotent)."""
        buffer = getattr(self, "buffer", None)
        if buffer is None:
            return
        self.buffer = None
        # The garbage collector may run this between an op's ensure_current and its launch: switch to
        # the allocation's device only for the free and switch back.
        previous = getattr(_tls, "index", None)
        switch = previous != self.device_index
        if switch:
            _core().Device(self.device_index).set_current()
        try:
            for other in self._recorded or ():
                self.stream.wait(other)  # records an event on `other` now and orders the free after it
            buffer.close(self.stream)
        finally:
            if switch and previous is not None:
                _core().Device(previous).set_current()

    def __del__(self):
        try:
            self.free()
        except Exception:  # interpreter exit: cuda.core or this module's globals may be gone already
            pass


def copy_host_to_device(dst: DeviceStorage, dst_offset_bytes: int, src: np.ndarray) -> None:
    """Copy a host array into `dst` at a byte offset on the current stream; returns once the copy is done."""
    cu = _cu()
    src = np.ascontiguousarray(src)
    stream = current_stream(dst.device_index)
    (err,) = cu.cuMemcpyHtoDAsync(dst.data_ptr() + dst_offset_bytes, src.ctypes.data, src.nbytes,
                                  int(stream.handle))
    _check(err)
    stream.sync()  # src may be a temporary owned by the caller


def copy_device_to_host(dst: np.ndarray, src: DeviceStorage, src_offset_bytes: int) -> None:
    """Copy `dst.nbytes` bytes from `src` at a byte offset into the host array `dst`; returns once done."""
    cu = _cu()
    stream = current_stream(src.device_index)
    (err,) = cu.cuMemcpyDtoHAsync(dst.ctypes.data, src.data_ptr() + src_offset_bytes, dst.nbytes,
                                  int(stream.handle))
    _check(err)
    stream.sync()


class PinnedHostBuffer:
    """Page-locked ("pinned") host memory from cuMemHostAlloc, seen by NumPy through `__array_interface__`
    (`np.asarray(buffer)` is a uint8 array whose base keeps the buffer alive). The GPU's copy engines read it
    directly, so a host-to-device copy from it can run asynchronously (`Tensor.pin_memory`, DataLoader).

    Freed with cuMemFreeHost when the last array over it goes. An asynchronous copy still reading it holds
    an array over it until the copy is known to be done (`copy_host_to_device_async`). Needs a GPU.
    """

    def __init__(self, nbytes: int, device_index: int = 0) -> None:
        ensure_current(device_index)
        cu = _cu()
        err, ptr = cu.cuMemHostAlloc(max(nbytes, 1), cu.CU_MEMHOSTALLOC_PORTABLE)  # pinned for every context
        _check(err)
        self.ptr = int(ptr)
        self.nbytes = nbytes
        self.__array_interface__ = {"data": (self.ptr, False), "shape": (nbytes,), "typestr": "|u1", "version": 3}

    def __del__(self):
        try:
            _cu().cuMemFreeHost(self.ptr)
        except Exception:  # interpreter exit: cuda.bindings may be gone already
            pass


def pinned_empty(nbytes: int) -> np.ndarray:
    """An uninitialised uint8 host array of `nbytes` bytes in page-locked memory (GPU only)."""
    return np.asarray(PinnedHostBuffer(nbytes))


def pinned_copy(src: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of a host array in page-locked memory, same dtype and shape (GPU only)."""
    out = pinned_empty(src.nbytes).view(src.dtype).reshape(src.shape)
    np.copyto(out, src)
    return out


def is_pinned(address: int) -> bool:
    """Whether a host address lies in page-locked memory the CUDA driver knows (False without a GPU)."""
    if device_count() == 0:
        return False
    if getattr(_tls, "index", None) is None:
        ensure_current(0)  # the driver answers pointer queries within a context
    cu = _cu()
    err, kind = cu.cuPointerGetAttribute(cu.CUpointer_attribute.CU_POINTER_ATTRIBUTE_MEMORY_TYPE, address)
    return err == cu.CUresult.CUDA_SUCCESS and int(kind) == int(cu.CUmemorytype.CU_MEMORYTYPE_HOST)


# Host arrays that asynchronous host-to-device copies may still be reading, per device: (event recorded
# after the copy, array). Holding the array holds its page-locked buffer: the caller may drop its tensor the
# moment `.to("cuda", non_blocking=True)` returns, and freeing (or reusing) the buffer while the DMA engine
# reads it would copy garbage. Entries go when their event is done (checked at each new async copy) and all
# of a device's at synchronize(). A lock, as a DataLoader thread may copy while the main thread does.
_in_flight: dict[int, list] = {}
_in_flight_lock = threading.Lock()


def _drop_finished(pending: list) -> None:
    pending[:] = [(event, array) for event, array in pending if not event.is_done]


def copy_host_to_device_async(dst: DeviceStorage, dst_offset_bytes: int, src: np.ndarray) -> None:
    """Queue a copy of a page-locked, C-contiguous host array into `dst` on the current stream and return at
    once (`copy_host_to_device` waits instead). `src` is kept alive here until the copy is done."""
    cu = _cu()
    stream = current_stream(dst.device_index)
    (err,) = cu.cuMemcpyHtoDAsync(dst.data_ptr() + dst_offset_bytes, src.ctypes.data, src.nbytes,
                                  int(stream.handle))
    _check(err)
    event = stream.record()
    with _in_flight_lock:
        pending = _in_flight.setdefault(dst.device_index, [])
        _drop_finished(pending)
        pending.append((event, src))


def host_buffers_in_flight(index: int) -> int:
    """How many host arrays asynchronous copies to device `index` may still be reading (held alive here)."""
    with _in_flight_lock:
        pending = _in_flight.get(index, [])
        _drop_finished(pending)
        return len(pending)


def _check(err) -> None:
    cu = _cu()
    if err != cu.CUresult.CUDA_SUCCESS:
        raise RuntimeError(f"CUDA error: {err}")


def timing_event(index: int):
    """Record a timing event on the current stream (the autotuner's timer uses pairs of these)."""
    stream = current_stream(index)
    return stream.record(options=_core().EventOptions(timing_enabled=True))


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


# ------------------------------------------------------------------ can Triton build its launcher?
@dataclass(frozen=True)
class LauncherCheck:
    """What Triton needs to build its C launcher on first launch: a C compiler, Python's headers, libcuda."""

    compiler: str | None
    python_include: str
    libcuda_dir: str | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when nothing is missing."""
        return not self.problems

    @property
    def message(self) -> str:
        """One line when all is well, else one line per problem with its fix."""
        if self.ok:
            return (f"Triton's launcher can be built: C compiler {self.compiler}, Python headers in "
                    f"{self.python_include}, libcuda.so.1 in {self.libcuda_dir}")
        return "Triton cannot build its C launcher:\n" + "\n".join(f"  - {p}" for p in self.problems)


def _find_compiler() -> str | None:
    # Triton's own order (triton/runtime/build.py): $CC, else gcc, else clang.
    cc = os.environ.get("CC")
    if cc:
        return shutil.which(cc) or (cc if os.path.isfile(cc) else None)
    return shutil.which("gcc") or shutil.which("clang")


def _python_include() -> str:
    scheme = sysconfig.get_default_scheme()
    if scheme == "posix_local":  # as Triton does on Debian's Python
        scheme = "posix_prefix"
    return sysconfig.get_paths(scheme=scheme)["include"]


def _libcuda_dir() -> tuple[str | None, str]:
    """(the directory Triton links libcuda.so.1 from, why none was found)."""
    try:
        from triton.backends.nvidia.driver import libcuda_dirs

        dirs = libcuda_dirs()  # TRITON_LIBCUDA_PATH, else `ldconfig -p`, else LD_LIBRARY_PATH
        return dirs[0], ""
    except Exception as exc:  # Triton asserts when it finds none; ldconfig may be missing
        return None, f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def check_launcher(compile_headers: bool = True) -> LauncherCheck:
    """Whether Triton can build its C launcher here (for `tritensor selftest`, before any launch).

    Triton compiles a small C module the first time it launches on a GPU; that needs a C compiler, the
    Python development headers (Python.h) and libcuda.so.1 where the linker finds it. compile_headers:
    also run the compiler over `#include <Python.h>` (a fraction of a second) to prove the pair works.
    """
    problems = []
    cc = _find_compiler()
    if cc is None:
        problems.append("no C compiler: install gcc (apt-get install gcc) or set CC to one")
    include = _python_include()
    has_headers = os.path.isfile(os.path.join(include, "Python.h"))
    if not has_headers:
        problems.append(f"no Python.h in {include}: install the Python development headers "
                        "(apt-get install python3-dev, or the python3.X-dev matching this interpreter)")
    libcuda_dir, why = _libcuda_dir()
    if libcuda_dir is None:
        problems.append("libcuda.so.1 is not in the loader cache: install the NVIDIA driver and run "
                        "`sudo ldconfig`, or set TRITON_LIBCUDA_PATH to the directory holding libcuda.so.1"
                        + (f" ({why})" if why else ""))
    if compile_headers and cc is not None and has_headers:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "probe.c")
            with open(src, "w") as f:
                f.write("#include <Python.h>\nint probe(void) { return 0; }\n")
            proc = subprocess.run([cc, "-fsyntax-only", f"-I{include}", src], capture_output=True, text=True)
            if proc.returncode != 0:
                err = proc.stderr.strip().splitlines()
                problems.append(f"{cc} cannot compile against Python.h: {err[0] if err else proc.returncode}")
    return LauncherCheck(cc, include, libcuda_dir, tuple(problems))
