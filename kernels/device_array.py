"""The raw buffer every Triton launch wrapper takes: a strided view of one storage.

Triton's launcher needs `data_ptr()` and a `dtype` whose `str()` ends in a Triton type name.
Triton's interpreter additionally treats arguments like torch tensors (`untyped_storage()`,
`storage_offset()`, `new_empty()`, `set_()`, ...). `DeviceArray` provides exactly that surface, so
the same wrapper launches on a GPU (storage is device memory) and in the interpreter (storage is a
host NumPy buffer), and kernels never see a Tensor.
"""

from __future__ import annotations

import ctypes

import numpy as np

_addressof, _from_buffer = ctypes.addressof, ctypes.c_char.from_buffer


class HostStorage:
    """Host memory (a 1-D NumPy array) standing in for device memory under TRITON_INTERPRET=1."""

    __slots__ = ("array", "_ptr")

    def __init__(self, array: np.ndarray):
        self.array = array
        try:
            # The buffer's address through ctypes: a fifth of what building __array_interface__'s dict costs, and
            # every cuda allocation under the interpreter pays it. Only a writable, C-contiguous, non-empty
            # buffer can be exported so: the others ask NumPy.
            self._ptr = _addressof(_from_buffer(array))
        except (TypeError, ValueError, BufferError):
            self._ptr = array.__array_interface__["data"][0]

    def data_ptr(self) -> int:
        return self._ptr

    @property
    def nbytes(self) -> int:
        return self.array.nbytes

    # The interpreter copies each argument's storage to the host and back; it already is there.
    def cpu(self) -> HostStorage:
        return self

    def copy_(self, other: HostStorage) -> None:
        if other is not self:
            np.copyto(self.array.view(np.uint8), other.array.view(np.uint8))


class DeviceArray:
    """shape/strides/offset in elements over `storage` (anything with `data_ptr()`)."""

    __slots__ = ("storage", "offset", "shape", "strides", "dtype")

    def __init__(self, storage, offset: int, shape: tuple, strides: tuple, dtype):
        self.storage = storage
        self.offset = offset
        # Tensors pass tuples (every operand of every launch): a class test is cheaper than the tuple() call.
        self.shape = shape if shape.__class__ is tuple else tuple(shape)
        self.strides = strides if strides.__class__ is tuple else tuple(strides)
        self.dtype = dtype

    # -- what Triton's launcher reads
    def data_ptr(self) -> int:
        return self.storage.data_ptr() + self.offset * self.dtype.itemsize

    # -- the torch-like surface Triton's interpreter reads
    def untyped_storage(self):
        return self.storage

    def storage_offset(self) -> int:
        return self.offset

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def stride(self, dim: int | None = None):
        return self.strides if dim is None else self.strides[dim]

    def new_empty(self, *size, device=None) -> DeviceArray:
        return DeviceArray(None, 0, (), (), self.dtype)

    def set_(self, storage, offset: int, size, stride) -> DeviceArray:
        self.storage, self.offset, self.shape, self.strides = storage, offset, tuple(size), tuple(stride)
        return self

    # -- conveniences for launch wrappers
    @property
    def ndim(self) -> int:
        return len(self.shape)

    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def is_contiguous(self) -> bool:
        return self.strides == contiguous_strides(self.shape) or self.numel() <= 1

    def view_as(self, shape: tuple, strides: tuple, offset: int | None = None) -> DeviceArray:
        """Another view of the same storage (used to broadcast, transpose or flatten operands)."""
        offset = self.offset if offset is None else offset
        return DeviceArray(self.storage, offset, shape, strides, self.dtype)

    def __repr__(self) -> str:
        return (f"DeviceArray(shape={self.shape}, strides={self.strides}, offset={self.offset}, "
                f"dtype={self.dtype})")


class InterleavedArray(DeviceArray):
    """A complex tensor's DeviceArray: its interleaved (real, imag) float view, shape + (2,), strides + (1,)
    (Triton has no complex type). A view taken with the complex tensor's own shape (one dim fewer than the
    strides given, as a wrapper that reads `tensor.shape` passes) keeps the trailing (real, imag) dim."""

    __slots__ = ()

    def view_as(self, shape: tuple, strides: tuple, offset: int | None = None) -> DeviceArray:
        shape, strides = tuple(shape), tuple(strides)
        if len(shape) == len(strides) - 1 and strides[-1] == 1:
            shape += (2,)
        offset = self.offset if offset is None else offset
        cls = InterleavedArray if shape[-1:] == (2,) and strides[-1:] == (1,) else DeviceArray
        return cls(self.storage, offset, shape, strides, self.dtype)


_new = object.__new__


def device_array(storage, offset: int, shape: tuple, strides: tuple, dtype) -> DeviceArray:
    """DeviceArray(storage, offset, shape, strides, dtype) for a caller whose shape and strides are tuples already
    (a Tensor's `_dev`, for every operand of every launch): the slots set directly, without __init__'s call."""
    d = _new(DeviceArray)
    d.storage = storage
    d.offset = offset
    d.shape = shape
    d.strides = strides
    d.dtype = dtype
    return d


def contiguous_strides(shape: tuple) -> tuple:
    strides = []
    acc = 1
    for s in reversed(shape):
        strides.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(strides))


_LAYOUTS: dict = {}  # shape -> (contiguous strides, element count): a device allocation's geometry, one dict read
_LAYOUTS_MAX = 4096


def contiguous_layout(shape: tuple) -> tuple[tuple, int]:
    """(contiguous_strides(shape), number of elements) of a tuple shape, remembered per shape: a new device
    tensor's geometry without per-call arithmetic (a model allocates the same few shapes every step)."""
    found = _LAYOUTS.get(shape)
    if found is None:
        numel = 1
        for n in shape:
            numel *= n
        if len(_LAYOUTS) >= _LAYOUTS_MAX:
            _LAYOUTS.clear()
        found = _LAYOUTS[shape] = (contiguous_strides(shape), numel)
    return found


def host_array(a: np.ndarray, dtype) -> DeviceArray:
    """Wrap a host NumPy array (any strides, non-negative) as an interpreter-launchable DeviceArray."""
    itemsize = a.itemsize
    if any(s < 0 or s % itemsize for s in a.strides):
        raise ValueError("host_array needs non-negative strides that are multiples of the item size")
    strides = tuple(s // itemsize for s in a.strides)
    span = 1 + sum((n - 1) * s for n, s in zip(a.shape, strides)) if a.size else 0
    flat = np.lib.stride_tricks.as_strided(a, shape=(span,), strides=(itemsize,)) if span else a.reshape(-1)
    return DeviceArray(HostStorage(flat), 0, a.shape, strides, dtype)
