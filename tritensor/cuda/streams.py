"""Streams, as torch.cuda's: `Stream`, the `stream(s)` context, `current_stream`, `default_stream`,
`set_stream` and `synchronize`.

On a GPU a Stream wraps a cuda.core stream and tritensor's launches, allocations and copies go to the
current one. Under Triton's interpreter every launch runs to completion on the host, so streams exist
(for code written for a GPU) but order nothing: waits are no-ops and queries are True.
"""

from __future__ import annotations

from ..device import device as _device_cls
from ..device import interpreting
from . import devices, driver
from .devices import _index
from .events import Event


class Stream:
    """A CUDA stream on a device (default: the current one), as torch.cuda.Stream.

    `with tt.cuda.stream(s):` makes it current for tritensor's launches. `priority`: lower numbers run first
    (0, the default, is the lowest priority), as CUDA's.
    """

    def __init__(self, device=None, priority: int = 0, _stream=None):
        self.device_index = _index(device)
        driver.require(self.device_index)
        self.priority = priority
        self._stream = _stream if _stream is not None else (
            None if interpreting() else driver.create_stream(self.device_index, priority))

    @property
    def device(self) -> _device_cls:
        """The stream's device."""
        return _device_cls("cuda", self.device_index)

    @property
    def cuda_stream(self) -> int:
        """The stream's CUstream handle as an int (0 under the interpreter, as PyTorch's default stream)."""
        return 0 if self._stream is None else int(self._stream.handle)

    def query(self) -> bool:
        """True when all work queued on this stream has finished (always under the interpreter)."""
        if self._stream is None:
            return True
        driver.ensure_current(self.device_index)
        return driver.stream_query(self._stream)

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

    def wait_event(self, event) -> None:
        """Make all future work queued on this stream wait for `event` (a tt.cuda.Event) to complete."""
        event.wait(self)

    def record_event(self, event: Event | None = None) -> Event:
        """Record `event` (a new tt.cuda.Event when None) on this stream and return it."""
        if event is None:
            event = Event()
        event.record(self)
        return event

    def __eq__(self, other) -> bool:
        if not isinstance(other, Stream):
            return NotImplemented
        if self._stream is None or other._stream is None:  # interpreter streams have no handle to compare
            return self is other
        return self.device_index == other.device_index and self.cuda_stream == other.cuda_stream

    def __hash__(self) -> int:
        if self._stream is None:
            return hash(id(self))
        return hash((self.device_index, self.cuda_stream))

    def __repr__(self) -> str:
        handle = None if self._stream is None else int(self._stream.handle)
        return f"<tritensor.cuda.Stream device=cuda:{self.device_index} cuda_stream={handle}>"


# The Stream wrappers of each device's default stream and current stream. Each is checked against the driver's
# own state before use (`_stream is native`), so a stale wrapper (another driver behind the seams in tests)
# is replaced instead of handed out.
_default: dict[int, Stream] = {}
_current: dict[int, Stream] = {}


def default_stream(device=None) -> Stream:
    """The default stream of `device` (the current device by default)."""
    index = _index(device)
    driver.require(index)
    native = None if interpreting() else driver.default_stream(index)
    stream = _default.get(index)
    if stream is None or stream._stream is not native:
        stream = _default[index] = Stream(index, _stream=native)
    return stream


def current_stream(device=None) -> Stream:
    """The current Stream of `device` (the current device by default): its default stream until one is
    selected with `tt.cuda.stream(s)` or `set_stream`."""
    index = _index(device)
    driver.require(index)
    stream = _current.get(index)
    native = None if interpreting() else driver.current_stream(index)
    if stream is None or stream._stream is not native:
        default = default_stream(index)
        stream = _current[index] = default if default._stream is native else Stream(index, _stream=native)
    return stream


class StreamContext:
    """Context manager selecting a stream (and its device) for its block, as torch.cuda.StreamContext;
    `tt.cuda.stream(s)` returns one. None selects nothing."""

    def __init__(self, stream: Stream | None):
        self.stream = stream
        self.src_prev_stream = None
        self.dst_prev_stream = None
        self.prev_device = -1

    def __enter__(self) -> Stream | None:
        s = self.stream
        if s is None:
            return None
        self.src_prev_stream = current_stream()
        if s.device_index != self.src_prev_stream.device_index:  # the stream's device becomes current too
            self.dst_prev_stream = current_stream(s.device_index)
        self.prev_device = devices.current_device()
        set_stream(s)
        return s

    def __exit__(self, *exc) -> bool:
        if self.stream is None:
            return False
        if self.dst_prev_stream is not None:
            _set(self.dst_prev_stream)
        _set(self.src_prev_stream)
        devices._exchange(self.prev_device)
        return False


def stream(stream: Stream | None) -> StreamContext:
    """`with tt.cuda.stream(s):` makes `s` the current stream (and its device the current device) for the
    block; None changes nothing."""
    return StreamContext(stream)


def set_stream(stream: Stream) -> None:
    """Make `stream` the current stream of its device, and its device the current device (prefer the
    `tt.cuda.stream(s)` context manager). None is a no-op."""
    if stream is None:
        return
    devices._exchange(stream.device_index)
    _set(stream)


def _set(s: Stream) -> None:
    _current[s.device_index] = s
    if s._stream is not None:
        driver.set_stream(s.device_index, s._stream)


def synchronize(device=None) -> None:
    """Wait for all work on the device's streams (the current device by default; a no-op under the
    interpreter, which is synchronous)."""
    index = _index(device)
    driver.require(index)
    if interpreting():
        return
    driver.synchronize(index)
