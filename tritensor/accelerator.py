"""tt.accelerator: PyTorch's device-agnostic accelerator API (torch.accelerator, PyTorch 2.6+).

tritensor's one accelerator is `cuda`: a GPU, or Triton's interpreter standing in for one (TRITON_INTERPRET=1).
Scripts written as

    device = tt.accelerator.current_accelerator() if tt.accelerator.is_available() else tt.device("cpu")

run on either. Everything here delegates to tt.cuda.
"""

from __future__ import annotations

import warnings

from . import cuda
from .device import device as _device

__all__ = ["current_accelerator", "current_device_idx", "current_device_index", "current_stream", "device_count",
           "device_index", "is_available", "set_device_idx", "set_device_index", "set_stream", "synchronize"]

_CUDA = _device("cuda")


def device_count() -> int:
    """The number of accelerator devices (0 without one)."""
    return cuda.device_count() if cuda.is_available() else 0


def is_available() -> bool:
    """True when a GPU is present, or when Triton's interpreter stands in for one."""
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> _device | None:
    """tt.device("cuda") when an accelerator is available, else None. (PyTorch returns its build's
    accelerator even without a device unless check_available; tritensor has no build-time accelerator, so
    both forms check.) The device carries no index: see current_device_index."""
    return _CUDA if cuda.is_available() else None


def _require() -> None:
    if not cuda.is_available():
        raise RuntimeError("No accelerator is available: tt.accelerator needs a GPU, or TRITON_INTERPRET=1 to run "
                           "the Triton kernels in Triton's interpreter")


def _index(device, optional: bool) -> int:
    """PyTorch's _get_device_index: an int, a device or a string; None is the current device when optional."""
    if device is None:
        if not optional:
            raise ValueError(f"Expected a torch.device with a specified index or an integer, but got:{device}")
        return current_device_index()
    if isinstance(device, int) and not isinstance(device, bool):
        return device
    d = _device(device)
    if d.type != "cuda":
        raise ValueError(f"{d.type} doesn't match the current accelerator cuda.")
    return current_device_index() if d.index is None else d.index


def current_device_index() -> int:
    """The index of the current accelerator device."""
    _require()
    return cuda.current_device()


def set_device_index(device, /) -> None:
    """Select the current device (tt.cuda.set_device); a negative index is a no-op, as in PyTorch."""
    index = _index(device, optional=False)
    if index < 0:
        return
    _require()
    cuda.set_device(index)


def current_stream(device=None, /) -> cuda.Stream:
    """The current stream of the given (default: current) device."""
    return cuda.current_stream(_index(device, optional=True))


def set_stream(stream: cuda.Stream) -> None:
    """Make `stream` current on its device."""
    cuda.set_stream(stream)


def synchronize(device=None, /) -> None:
    """Wait for every kernel launched on the device (default: the current one) to finish; a no-op without an
    accelerator."""
    if not cuda.is_available():
        return
    cuda.synchronize(_index(device, optional=True))


class device_index:  # noqa: N801 - PyTorch's name
    """Context manager selecting a device index for its block (None: no change)."""

    def __init__(self, device: int | None, /) -> None:
        self.idx = device
        self.prev_idx = -1

    def __enter__(self) -> None:
        if self.idx is not None:
            self.prev_idx = current_device_index()
            set_device_index(self.idx)

    def __exit__(self, *exc_info: object) -> None:
        if self.idx is not None:
            set_device_index(self.prev_idx)


def current_device_idx() -> int:
    """Deprecated alias of current_device_index."""
    warnings.warn("Use `current_device_index` instead.", FutureWarning, stacklevel=2)
    return current_device_index()


def set_device_idx(device, /) -> None:
    """Deprecated alias of set_device_index."""
    warnings.warn("Use `set_device_index` instead.", FutureWarning, stacklevel=2)
    set_device_index(device)
