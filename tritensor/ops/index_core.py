"""What the indexing op families (gather_scatter, index_select, masked, advanced_index) share: host
access, accumulation scratch, fill values, and out-of-range index errors.

An index-taking op states each index array's valid range and PyTorch's error for it as a `Bounds`. On the
cpu the op checks the index values itself (`check_host`) and raises PyTorch's error before touching
memory. On cuda nothing is read back: the op registers the errors (`device_check`, an `IndexCheck` for
the launch), the kernel reports an offending index into the device's error word, and
`device_errors.after_launch` raises at once under the interpreter, or the next synchronisation point does
on a GPU (tritensor/device_errors.py).
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

import numpy as np

from .. import device_errors
from .. import dtypes as D
from ..kernels.index_core import IndexCheck, accumulate_dtype
from ..kernels.strided import MAX_DIMS, collapse
from ..tensor import Tensor
from .elementwise import inplace


def host(t: Tensor) -> np.ndarray:
    """A host-backed tensor's NumPy view (cpu tensors; cuda under the interpreter)."""
    return t._np if t._np is not None else t._host()


def on_cpu(t: Tensor) -> bool:
    return t.device.type == "cpu"


def type_name(dtype: D.dtype) -> str:
    """PyTorch's scalar type name in error messages (Float, Long, ...)."""
    return {"float16": "Half", "bfloat16": "BFloat16", "float32": "Float", "float64": "Double", "uint8": "Byte",
            "int8": "Char", "int16": "Short", "int32": "Int", "int64": "Long", "bool": "Bool"}[dtype.name]


def acc_scratch(target: Tensor):
    """Scratch the accumulating kernels add into: fp32 for 16-bit floats (no bf16 atomics, and fp16 sums
    lose less), int32 for small ints and bool; None where the target takes atomics directly."""
    dtype = D.float32 if target.dtype in (D.float16, D.bfloat16) else accumulate_dtype(target.dtype)
    return None if dtype is None else Tensor._empty(target._shape, dtype, target.device)._dev()


def host_values(t: Tensor) -> np.ndarray:
    """t's values on the host (a synchronisation point for cuda tensors)."""
    return t._to_host_array()


def collapsible(shape: tuple, *tensors: Tensor) -> bool:
    return len(collapse(shape, [t.stride() for t in tensors])[0]) <= MAX_DIMS


def value_arg(value, what: str):
    """(tensor or None, scalar) for a fill value given as a Python number or a 0-d tensor."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"{what} only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
        return value, 0
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, (bool, int, float)):
        raise TypeError(f"{what}(): argument 'value' must be Number or Tensor, not {type(value).__name__}")
    return None, value


def value_like(value: Tensor | None, x: Tensor) -> Tensor | None:
    """A fill value tensor on x's device with x's dtype."""
    if value is None:
        return None
    if value.device != x.device:
        value = value.to(x.device)
    return value.to(x.dtype) if value.dtype is not x.dtype else value


def inplace_method(fn):
    """The Tensor method fn_ (x.op_(...)): the out-of-place op written back into x."""

    def method(self: Tensor, *args, **kwargs) -> Tensor:
        return inplace(fn, self, *args, **kwargs)

    method.__name__ = fn.__name__ + "_"
    method.__signature__ = inspect.signature(fn)  # what binds its arguments (the export tracer, help())
    method.__doc__ = f"In-place `{fn.__name__.strip('_').removesuffix('_method')}`: the result is written into self."
    return method


# ================================================================ out-of-range indices
class Bounds(NamedTuple):
    """One index array's valid range and the error PyTorch raises outside it."""

    size: int  # the valid range is [0, size), or [-size, size) when wrap
    wrap: bool  # negative indices count from the end
    exc_type: type  # IndexError or RuntimeError, as PyTorch's cpu kernel raises
    message: str  # PyTorch's message; "{index}" is replaced by the offending index


def check_host(indices: list, bounds: list) -> None:
    """Raise the error of the first out-of-range element (row-major over the broadcast index shape; the
    first index array out of range there), as PyTorch's cpu kernels do. indices: NumPy arrays."""
    arrays = np.broadcast_arrays(*indices) if len(indices) > 1 else [np.asarray(indices[0])]
    bad = [(a < (-b.size if b.wrap else 0)) | (a >= b.size) for a, b in zip(arrays, bounds)]
    any_bad = np.logical_or.reduce(bad) if len(bad) > 1 else bad[0]
    if not any_bad.any():
        return
    pos = int(np.argmax(any_bad.reshape(-1)))
    for a, m, b in zip(arrays, bad, bounds):
        if m.reshape(-1)[pos]:
            raise b.exc_type(b.message.format(index=int(a.reshape(-1)[pos])))


def device_check(device, bounds: list) -> IndexCheck:
    """Register the errors of a launch on `device` reading one index array per `bounds` entry; call
    `device_errors.after_launch(device)` once the launch is queued."""
    codes = tuple(device_errors.expect(device, b.exc_type, b.message) for b in bounds)
    return IndexCheck(device_errors.error_word(device), codes)


def dim_bounds(exc_type: type, size: int, dim: int, wrap: bool = False) -> Bounds:
    """PyTorch's "index {index} is out of bounds for dimension {dim} with size {size}" (gather, scatter,
    index_fill, advanced indexing)."""
    return Bounds(size, wrap, exc_type, f"index {{index}} is out of bounds for dimension {dim} with size {size}")


after_launch = device_errors.after_launch

__all__: list[str] = []
METHODS: dict = {}
