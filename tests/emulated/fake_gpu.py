"""A fake GPU behind tritensor.cuda.driver's three seams (`_core`, `_cu`, `_triton_driver`).

Device memory is a dict of fake addresses -> bytearrays, apart from host memory: the addresses are
non-canonical on x86-64, so nothing can read them as host pointers, and the fake memcpys refuse a device
address passed as a host one. Every fake class mirrors the installed cuda.core class of the same name:
each public method has the real one's parameters (checked when the class is defined), so a wrong
keyword fails here as it would on a GPU, and option objects (EventOptions, StreamOptions) must be the
real cuda.core ones. Work runs at once (Triton's interpreter runs the kernels); the log records what
was queued on which stream, for the stream-ordering tests.
"""

from __future__ import annotations

import bisect
import ctypes
import inspect
import types
from collections import namedtuple

import cuda.core as real_core
from cuda.bindings import driver as real_cu
from cuda.core._device import DeviceProperties

CUresult = real_cu.CUresult
LEGACY_HANDLE = 1  # CU_STREAM_LEGACY: the null stream of whichever context is current
DEVICE_BASE = 0x0DE0_0000_0000_0000  # non-canonical: never a host address
ALIGN = 256

_PROPERTY_TYPES = (property, types.GetSetDescriptorType, types.MemberDescriptorType)


def _params(fn) -> list[tuple[str, object]]:
    return [(p.name, p.kind) for p in inspect.signature(fn).parameters.values()]


def mirrors(real: type):
    """Class decorator: every public attribute of the fake exists on `real` with the same parameters."""

    def check(fake: type) -> type:
        for name, attr in vars(fake).items():
            if name.startswith("_"):
                continue
            target = inspect.getattr_static(real, name, None)
            assert target is not None, f"cuda.core's {real.__name__} has no {name!r}"
            if isinstance(attr, property):
                assert isinstance(target, _PROPERTY_TYPES), f"{real.__name__}.{name} is not a property"
            else:
                real_fn = getattr(real, name)
                assert _params(attr) == _params(real_fn), (
                    f"fake {real.__name__}.{name}{inspect.signature(attr)} != real {inspect.signature(real_fn)}")
        return fake

    return check


def mirrors_function(real_fn):
    """Function decorator: the fake takes exactly the real cuda.bindings function's parameters."""

    def check(fn):
        params = _params(fn)
        if params and params[0][0] == "self":
            params = params[1:]
        assert params == _params(real_fn), f"fake {fn.__name__}{inspect.signature(fn)} != {inspect.signature(real_fn)}"
        return fn

    return check


class CudaError(RuntimeError):
    """What cuda.core raises for a failed driver call."""


ComputeCapability = namedtuple("ComputeCapability", ["major", "minor"])


@mirrors(DeviceProperties)
class FakeProperties:
    def __init__(self, gpu: FakeGpu):
        self._gpu = gpu

    @property
    def l2_cache_size(self) -> int:
        return self._gpu.l2_cache_size

    @property
    def max_shared_memory_per_block_optin(self) -> int:
        return 227 * 1024

    @property
    def multiprocessor_count(self) -> int:
        return 132


@mirrors(real_core.Event)
class FakeEvent:
    def __init__(self, gpu: FakeGpu, timing: bool, time_ms: float):
        self._gpu, self._timing, self._time = gpu, timing, time_ms

    @property
    def is_timing_enabled(self) -> bool:
        return self._timing

    def sync(self):
        self._gpu.log.append(("event_sync",))

    def __sub__(self, other: FakeEvent) -> float:
        if not (self._timing and other._timing):  # cuEventElapsedTime: CUDA_ERROR_INVALID_HANDLE
            raise CudaError("CUDA_ERROR_INVALID_HANDLE: an event was not created with timing_enabled=True")
        if self._gpu.fail_elapsed:
            raise CudaError("CUDA_ERROR_LAUNCH_FAILED (injected)")
        return float(self._time - other._time)


@mirrors(real_core.Stream)
class FakeStream:
    def __init__(self, gpu: FakeGpu, handle: int, device_id: int | None):
        self._gpu, self._handle, self._device_id = gpu, handle, device_id  # None: the legacy default stream
        self._closed = False

    @property
    def handle(self):
        return real_cu.CUstream(self._handle)

    @property
    def is_closed(self) -> bool:
        return self._closed

    def __eq__(self, other) -> bool:
        return isinstance(other, FakeStream) and other._handle == self._handle

    def __hash__(self) -> int:
        return hash(self._handle)

    def sync(self):
        self._gpu.log.append(("stream_sync", self._handle))

    def record(self, event=None, options=None):
        if options is not None and not isinstance(options, real_core.EventOptions):
            raise TypeError(f"options must be a cuda.core EventOptions, not {type(options).__name__}")
        timing = bool(options is not None and options.timing_enabled)
        event = FakeEvent(self._gpu, timing, self._gpu.clock)
        self._gpu.log.append(("record", self._handle, id(event)))
        return event

    def wait(self, event_or_stream):
        if isinstance(event_or_stream, FakeStream):  # cuda.core records an event on that stream first
            event_or_stream = event_or_stream.record()
        if not isinstance(event_or_stream, FakeEvent):
            raise TypeError(f"wait() takes an Event or a Stream, not {type(event_or_stream).__name__}")
        self._gpu.log.append(("wait", self._handle, id(event_or_stream)))


@mirrors(real_core.Buffer)
class FakeBuffer:
    def __init__(self, gpu: FakeGpu, address: int, size: int, device_id: int, stream: FakeStream):
        self._gpu, self._address, self._size, self._device_id = gpu, address, size, device_id
        self._stream = stream
        self._closed = False

    @property
    def handle(self) -> int:
        return self._address

    @property
    def size(self) -> int:
        return self._size

    @property
    def device_id(self) -> int:
        return self._device_id

    @property
    def is_closed(self) -> bool:
        return self._closed

    def close(self, stream=None):
        if self._closed:
            return
        stream = self._stream if stream is None else stream
        self._gpu.check_stream(stream, self._device_id, "free")
        self._closed = True
        self._gpu.free(self._address)
        self._gpu.log.append(("free", self._address, stream._handle, self._device_id))

    def fill(self, value, *, stream):
        if not isinstance(value, int) or not 0 <= value < 256:
            raise TypeError("fill value must be an int in [0, 256)")
        self._gpu.check_stream(stream, self._device_id, "fill")
        mem, offset = self._gpu.resolve(self._address, self._size)
        mem[offset:offset + self._size] = bytes([value]) * self._size


class FakeDevice:
    """cuda.core.Device for one fake GPU (the per-GPU subclass sets `_gpu`); checked by `mirrors` below."""

    _gpu: FakeGpu

    def __new__(cls, device_id=None):
        gpu = cls._gpu
        index = gpu.current if device_id is None else int(device_id)
        if not 0 <= index < gpu.count:
            raise ValueError(f"device_id must be within [0, {gpu.count}), got {index}")
        dev = gpu.devices.get(index)
        if dev is None:
            dev = gpu.devices[index] = object.__new__(cls)
            dev._id = index
        return dev

    def _check_initialized(self):
        if self._id not in self._gpu.initialized:
            raise CudaError(f"Device {self._id} is not yet initialized: call .set_current() first")

    def set_current(self, ctx=None):
        self._gpu.current = self._id
        self._gpu.initialized.add(self._id)
        self._gpu.log.append(("set_current", self._id))

    @property
    def device_id(self) -> int:
        return self._id

    @property
    def name(self) -> str:
        return f"Emulated GPU {self._id}"

    @property
    def compute_capability(self):
        return ComputeCapability(*self._gpu.capability)

    @property
    def properties(self):
        return FakeProperties(self._gpu)

    @property
    def default_stream(self):
        return self._gpu.legacy

    def create_stream(self, obj=None, options=None):
        self._check_initialized()
        if options is not None and not isinstance(options, real_core.StreamOptions):
            raise TypeError(f"options must be a cuda.core StreamOptions, not {type(options).__name__}")
        return self._gpu.new_stream(self._id)

    def allocate(self, size, *, stream):
        self._check_initialized()
        self._gpu.check_stream(stream, self._id, "allocate")
        return self._gpu.allocate(int(size), self._id, stream)

    def sync(self):
        self._check_initialized()
        if self._gpu.current != self._id:  # tritensor makes a device current before it waits for it
            raise CudaError(f"sync of cuda:{self._id} while cuda:{self._gpu.current} is current")
        self._gpu.log.append(("device_sync", self._id))


mirrors(real_core.Device)(FakeDevice)


class FakeGpu:
    """`count` fake devices, their memory, streams and a clock (ms) that timing events read."""

    def __init__(self, count: int = 2, capability: tuple[int, int] = (9, 0), l2_cache_size: int = 1 << 20):
        self.count = count
        self.capability = capability
        self.l2_cache_size = l2_cache_size
        self.memory: dict[int, bytearray] = {}
        self._bases: list[int] = []
        self._next = DEVICE_BASE
        self.devices: dict[int, FakeDevice] = {}
        self.initialized: set[int] = set()
        self.current: int | None = None
        self.log: list[tuple] = []
        self.clock = 0.0
        self.fail_elapsed = False
        self._next_stream = 0x5000
        self.legacy = FakeStream(self, LEGACY_HANDLE, None)
        self.streams = {LEGACY_HANDLE: self.legacy}
        self.Device = type("Device", (FakeDevice,), {"_gpu": self})
        self.triton = types.SimpleNamespace(get_current_device=self._triton_current_device,
                                            get_current_stream=lambda index: 0)

    # ------------------------------------------------------------ the seams
    def core(self):
        """Stands in for the cuda.core module: the fake Device, the real option classes."""
        return types.SimpleNamespace(Device=self.Device, EventOptions=real_core.EventOptions,
                                     StreamOptions=real_core.StreamOptions)

    def cu(self):
        """Stands in for cuda.bindings.driver."""
        return types.SimpleNamespace(cuInit=self.cuInit, cuDeviceGetCount=self.cuDeviceGetCount,
                                     cuMemcpyHtoDAsync=self.cuMemcpyHtoDAsync,
                                     cuMemcpyDtoHAsync=self.cuMemcpyDtoHAsync, CUresult=CUresult,
                                     CUstream=real_cu.CUstream)

    def triton_driver(self):
        return self.triton

    def _triton_current_device(self):
        return 0 if self.current is None else self.current

    # ------------------------------------------------------------ memory
    def allocate(self, size: int, device_id: int, stream: FakeStream) -> FakeBuffer:
        address = self._next
        self._next += (size + 2 * ALIGN - 1) // ALIGN * ALIGN  # a gap after each: overruns hit no allocation
        self.memory[address] = bytearray(size)
        bisect.insort(self._bases, address)
        self.log.append(("allocate", address, stream._handle, device_id))
        return FakeBuffer(self, address, size, device_id, stream)

    def free(self, address: int) -> None:
        del self.memory[address]
        self._bases.remove(address)

    def resolve(self, address: int, nbytes: int) -> tuple[bytearray, int]:
        """(allocation, offset) holding [address, address + nbytes); raises for anything else."""
        i = bisect.bisect_right(self._bases, address) - 1
        if i >= 0:
            base = self._bases[i]
            mem = self.memory[base]
            if address + nbytes <= base + len(mem):
                return mem, address - base
        raise CudaError(f"CUDA_ERROR_INVALID_VALUE: {nbytes} bytes at {address:#x} are not in a live allocation")

    def is_device_address(self, address: int) -> bool:
        return DEVICE_BASE <= address < self._next

    def new_stream(self, device_id: int) -> FakeStream:
        self._next_stream += 0x10
        stream = self.streams[self._next_stream] = FakeStream(self, self._next_stream, device_id)
        return stream

    def check_stream(self, stream, device_id: int, what: str) -> None:
        """Work for `device_id` on the legacy stream lands on the current context's null stream: refuse a
        mismatch (the multi-GPU bug an uncached current device causes)."""
        if not isinstance(stream, FakeStream) or stream._closed:
            raise TypeError(f"{what}: stream must be an open cuda.core Stream, not {stream!r}")
        if stream._device_id is None and self.current != device_id:
            raise CudaError(f"{what} for cuda:{device_id} on the legacy default stream while cuda:{self.current} "
                            "is current")
        if stream._device_id is not None and stream._device_id != device_id:
            raise CudaError(f"{what} for cuda:{device_id} on a stream of cuda:{stream._device_id}")

    def _stream_of(self, handle) -> FakeStream:
        stream = self.streams.get(int(handle))
        if stream is None:
            raise CudaError(f"CUDA_ERROR_INVALID_HANDLE: no stream {int(handle):#x}")
        return stream

    # ------------------------------------------------------------ cuda.bindings.driver
    @mirrors_function(real_cu.cuInit)
    def cuInit(self, Flags):  # noqa: N802, N803 - the driver API's names
        if self.count == 0:
            return (CUresult.CUDA_ERROR_NO_DEVICE,)
        return (CUresult.CUDA_SUCCESS,)

    @mirrors_function(real_cu.cuDeviceGetCount)
    def cuDeviceGetCount(self):  # noqa: N802
        return (CUresult.CUDA_SUCCESS, self.count)

    @mirrors_function(real_cu.cuMemcpyHtoDAsync)
    def cuMemcpyHtoDAsync(self, dstDevice, srcHost, ByteCount, hStream):  # noqa: N802, N803
        self._stream_of(hStream)
        if self.is_device_address(int(srcHost)):
            raise AssertionError(f"a device address ({int(srcHost):#x}) was passed as host memory")
        try:
            mem, offset = self.resolve(int(dstDevice), ByteCount)
        except CudaError:
            return (CUresult.CUDA_ERROR_INVALID_VALUE,)
        mem[offset:offset + ByteCount] = ctypes.string_at(int(srcHost), ByteCount)
        self.log.append(("htod", int(dstDevice), ByteCount, int(hStream)))
        return (CUresult.CUDA_SUCCESS,)

    @mirrors_function(real_cu.cuMemcpyDtoHAsync)
    def cuMemcpyDtoHAsync(self, dstHost, srcDevice, ByteCount, hStream):  # noqa: N802, N803
        self._stream_of(hStream)
        if self.is_device_address(int(dstHost)):
            raise AssertionError(f"a device address ({int(dstHost):#x}) was passed as host memory")
        try:
            mem, offset = self.resolve(int(srcDevice), ByteCount)
        except CudaError:
            return (CUresult.CUDA_ERROR_INVALID_VALUE,)
        ctypes.memmove(int(dstHost), bytes(mem[offset:offset + ByteCount]), ByteCount)
        self.log.append(("dtoh", int(srcDevice), ByteCount, int(hStream)))
        return (CUresult.CUDA_SUCCESS,)

    # ------------------------------------------------------------ for tests
    def entries(self, kind: str) -> list[tuple]:
        """The log entries of one kind ("allocate", "free", "record", "wait", "set_current", ...)."""
        return [e for e in self.log if e[0] == kind]
