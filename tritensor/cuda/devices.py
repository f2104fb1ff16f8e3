"""The current cuda device, as torch.cuda's: `set_device`, `current_device`, the `device` and `device_of`
context managers, plus availability and lazy initialisation.

The current device is per thread, as CUDA's (a new thread starts on device 0). It is what `"cuda"` without
an index means when a tensor is created, and the default of every `device=None` argument of tt.cuda.
Kernels still launch on their operands' device (`driver.ensure_current`), whatever the current device is.
"""

from __future__ import annotations

import threading

from ..device import device as _device_cls
from ..device import interpreting
from . import driver


class _ThreadState(threading.local):
    index = 0  # the thread's current device, set by set_device (a class default: reading it never raises)


_tls = _ThreadState()
_initialized = False  # init() ran, or a cuda Storage was allocated (see memory.device_stats)


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
    """The index of the calling thread's current cuda device (0 until `set_device` selects another)."""
    return _tls.index


def _index(device, optional: bool = True) -> int:
    """PyTorch's `_get_device_index`: an int, a `tt.device`, a string or a `tt.cuda.device`; None (and a cuda
    device without an index) means the current device when `optional`."""
    if device is None:
        if optional:
            return current_device()
        raise ValueError(f"Expected a torch.device with a specified index or an integer, but got:{device}")
    if isinstance(device, int) and not isinstance(device, bool):
        return device
    if isinstance(device, _DeviceContext):
        return device.idx
    d = _device_cls(device)
    if d.type != "cuda":
        raise ValueError(f"Expected a cuda device, but got: {d}")
    if d.index is None:
        if optional:
            return current_device()
        raise ValueError(f"Expected a torch.device with a specified index or an integer, but got:{d}")
    return d.index


def set_device(device) -> None:
    """Select the current cuda device (an int, "cuda:1", `tt.device("cuda", 1)`); a negative index is a no-op.

    Raises RuntimeError ("CUDA error: invalid device ordinal N ...") for an index past `device_count()`, and
    when no GPU (nor the interpreter) is present. Prefer the `tt.cuda.device(d)` context manager.
    """
    index = _index(device)
    if index < 0:
        return
    driver.require(index)
    if not interpreting():
        driver.ensure_current(index)  # as cudaSetDevice: the device's context becomes current now
    _tls.index = index


def _exchange(index: int) -> int:
    """Make `index` current (negative: no change); return the previous current device (-1 when unchanged)."""
    if index < 0:
        return -1
    previous = current_device()
    if index != previous:
        set_device(index)
    return previous


class _DeviceContext:
    """Context manager that makes a cuda device current for its block (shared by `device` and `device_of`)."""

    def __init__(self, idx: int):
        self.idx = idx
        self.prev_idx = -1

    def __enter__(self):
        self.prev_idx = _exchange(self.idx)

    def __exit__(self, *exc) -> bool:
        _exchange(self.prev_idx)
        return False


class device(_DeviceContext):  # noqa: N801 - PyTorch's name
    """Context manager that changes the current cuda device, as torch.cuda.device.

    `with tt.cuda.device(1):` makes cuda:1 current for the block (`"cuda"` means cuda:1 there) and restores
    the previous device afterwards. None, or a negative index, changes nothing.
    """

    def __init__(self, device):
        super().__init__(_index(device, optional=True) if device is not None else -1)


class device_of(_DeviceContext):  # noqa: N801 - PyTorch's name
    """Context manager that makes the device of a tensor (or storage) current; a no-op for a cpu one."""

    def __init__(self, obj):
        d = getattr(obj, "device", None)
        idx = -1
        if d is not None and getattr(d, "type", None) == "cuda":
            idx = 0 if d.index is None else d.index
        super().__init__(idx)


def is_initialized() -> bool:
    """Whether cuda state has been initialised: by `init()` or by the first cuda tensor."""
    return _initialized


def init() -> None:
    """Initialise cuda state now (it otherwise happens on first use). Raises RuntimeError without a GPU, unless
    Triton's interpreter stands in for one."""
    global _initialized
    driver.require(current_device())
    if not interpreting():
        driver.ensure_current(current_device())
    _initialized = True


def _mark_initialized() -> None:
    global _initialized
    _initialized = True
