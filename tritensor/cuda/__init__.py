"""tt.cuda: device queries, synchronisation and streams.

With a GPU, `cuda` tensors live in device memory (cuda.core) and kernels are launched by Triton.
Without one but with TRITON_INTERPRET=1, `cuda` tensors live in host memory and the same Triton
kernels are run by Triton's interpreter. With neither, creating a `cuda` tensor raises.
"""

from __future__ import annotations

from .. import random as _random
from ..device import device as device_cls
from ..device import interpreting
from . import driver


def is_available() -> bool:
    """True when a GPU is present, or when Triton's interpreter stands in for one."""
    return driver.device_count() > 0 or interpreting()


def device_count() -> int:
    """The number of usable cuda devices: the GPUs present, or 1 under Triton's interpreter, else 0."""
    if driver.device_count() > 0:
        return driver.device_count()
    return 1 if interpreting() else 0


def uses_interpreter() -> bool:
    """True when `cuda` tensors are host memory driven by Triton's interpreter."""
    return interpreting()


def current_device() -> int:
    """The index of the current cuda device: always 0 (tritensor has no `set_device`)."""
    return 0


def synchronize(device=None) -> None:
    """Wait for all work on the device's streams (a no-op under the interpreter, which is synchronous)."""
    if interpreting():
        return
    index = 0 if device is None else _index(device)
    driver.require(index)
    driver.synchronize(index)


def get_device_name(device=None) -> str:
    """The GPU's name, or 'Triton interpreter (host memory)' under the interpreter."""
    if interpreting():
        return "Triton interpreter (host memory)"
    index = 0 if device is None else _index(device)
    driver.require(index)
    return driver.name(index)


def get_device_capability(device=None) -> tuple[int, int]:
    """The GPU's compute capability (major, minor), e.g. (9, 0) on an H100; (0, 0) under the interpreter."""
    if interpreting():
        return (0, 0)
    index = 0 if device is None else _index(device)
    driver.require(index)
    return driver.capability(index)


class Stream:
    """A CUDA stream; `with tt.cuda.stream(s):` makes it current for tritensor's launches."""

    def __init__(self, device=None, _stream=None):
        self.device_index = 0 if device is None else _index(device)
        driver.require(self.device_index)
        self._stream = _stream if _stream is not None else (
            None if interpreting() else driver.create_stream(self.device_index))

    def synchronize(self) -> None:
        """Waits until all work queued on this stream has finished (no-op under the interpreter)."""
        if self._stream is not None:
            driver.ensure_current(self.device_index)  # a default stream is the current context's
            self._stream.sync()

    def wait_stream(self, stream: Stream) -> None:
        """Make all future work queued on this stream wait for the work queued on `stream` so far
        (a no-op under the interpreter, which runs each launch to completion)."""
        if self._stream is not None and stream._stream is not None and stream is not self:
            driver.wait_stream(self._stream, self.device_index, stream._stream, stream.device_index)

    def __repr__(self) -> str:
        handle = None if self._stream is None else int(self._stream.handle)
        return f"<tritensor.cuda.Stream device=cuda:{self.device_index} cuda_stream={handle}>"


_current: dict[int, Stream] = {}


def current_stream(device=None) -> Stream:
    """The current Stream of `device` (cuda:0 by default): the default stream until one is selected."""
    index = 0 if device is None else _index(device)
    driver.require(index)
    stream = _current.get(index)
    if stream is None:
        native = None if interpreting() else driver.current_stream(index)
        stream = _current[index] = Stream(index, _stream=native)
    return stream


class stream:  # noqa: N801 - PyTorch's name
    """Context manager selecting the current stream."""

    def __init__(self, s: Stream | None):
        self.s = s
        self.prev = None

    def __enter__(self):
        if self.s is None:
            return None
        self.prev = current_stream(self.s.device_index)
        _set(self.s)
        return self.s

    def __exit__(self, *exc):
        if self.s is not None:
            _set(self.prev)


def set_stream(stream: Stream) -> None:
    """Make `stream` the current stream of its device (prefer the `tt.cuda.stream(s)` context manager)."""
    if stream is not None:
        _set(stream)


def _set(s: Stream) -> None:
    _current[s.device_index] = s
    if s._stream is not None:
        driver.set_stream(s.device_index, s._stream)


def _index(device) -> int:
    if isinstance(device, int):
        return device
    d = device_cls(device)
    return 0 if d.index is None else d.index


# Random numbers for cuda tensors are drawn on the host by the default generator and copied, so that a seed
# gives the same values on cpu and cuda: seeding "the cuda generator" seeds that one generator.
def manual_seed(seed: int) -> None:
    """Seed the generator cuda random tensors are drawn from (tritensor's default generator)."""
    _random.manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    """Seed the generator of every cuda device (they all draw from tritensor's default generator)."""
    _random.manual_seed(seed)


def seed() -> None:
    """Seed the cuda generator with a non-deterministic random number."""
    _random.seed()


def seed_all() -> None:
    """Seed every cuda device's generator with a non-deterministic random number."""
    _random.seed()


def initial_seed() -> int:
    """The seed the cuda generator was last seeded with."""
    return _random.initial_seed()
