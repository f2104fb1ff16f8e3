"""DataLoader(pin_memory=True): the batch's cpu tensors copied into page-locked host memory, so that
`.to("cuda", non_blocking=True)` can be an asynchronous DMA copy (PyTorch's pin_memory).

With a CUDA GPU the memory comes from cuMemHostAlloc (tritensor.cuda.driver), as for `Tensor.pin_memory()`, and
the driver keeps a pinned batch alive until an asynchronous copy from it has finished. Without one (including under
TRITON_INTERPRET=1, where `cuda` tensors are host memory already) pinning is a documented no-op: the batches are
returned unchanged, and `.to("cuda", non_blocking=True)` copies synchronously.
"""

from __future__ import annotations

import collections.abc
import copy
from typing import Any

from ..creation import from_numpy
from ..cuda import driver
from ..device import interpreting
from ..tensor import Tensor


def pinning_available() -> bool:
    """True when a real CUDA GPU is present (the only case in which pinning does anything)."""
    return not interpreting() and driver.device_count() > 0


def pin_tensor(t: Tensor) -> Tensor:
    """A copy of a cpu tensor in page-locked memory (other tensors, and everything without a GPU: `t` itself)."""
    if t.device.type != "cpu" or not pinning_available():
        return t
    src = t.detach().numpy()
    if src.size and driver.is_pinned(src.ctypes.data):
        return t
    pinned = from_numpy(driver.pinned_copy(src))
    if t.requires_grad:
        pinned.requires_grad_()
    return pinned


def pin_memory(data: Any) -> Any:
    """Pin every cpu tensor in a batch (tensors, mappings, namedtuples, sequences; objects with a
    `pin_memory()` method are asked to pin themselves), keeping the batch's structure as PyTorch does."""
    if isinstance(data, Tensor):
        return pin_tensor(data)
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update({k: pin_memory(v) for k, v in data.items()})
                return clone
            return type(data)({k: pin_memory(v) for k, v in data.items()})
        except TypeError:  # the mapping type cannot be rebuilt from a dict
            return {k: pin_memory(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(pin_memory(sample) for sample in data))
    if isinstance(data, tuple):
        return [pin_memory(sample) for sample in data]  # a list, as PyTorch returns
    if isinstance(data, collections.abc.Sequence):
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, item in enumerate(data):
                    clone[i] = pin_memory(item)
                return clone
            return type(data)([pin_memory(sample) for sample in data])
        except TypeError:
            return [pin_memory(sample) for sample in data]
    if hasattr(data, "pin_memory"):
        return data.pin_memory()
    return data
