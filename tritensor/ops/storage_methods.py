"""The storage side of the Tensor API: untyped_storage(), storage(), is_set_to(), set_(), share_memory_(),
is_shared(), with PyTorch's semantics and errors.

`set_` re-points a tensor at other memory (a tensor's, an UntypedStorage's or a TypedStorage's, or new empty
memory): an in-place operation on the tensor's metadata, so it bumps the tensor's version and refuses a leaf that
requires grad. The version counter lives on the Storage here (PyTorch keeps one per tensor and its views), so
after `a.set_(b)` a and b share one counter; it is raised above both old values, so a saved `a` still fails
its check in backward.
"""

from __future__ import annotations

import operator

from .. import dtypes as D
from ..kernels.device_array import contiguous_strides
from ..storage import Storage
from ..tensor import Tensor
from ..untyped_storage import TypedStorage, UntypedStorage, _warn_typed_storage_removal, register_user
from .copy import check_inplace

__all__: list[str] = []

# PyTorch prints the tensor's dtype in these messages through caffe2::TypeMeta (C++ type names, as GCC spells them).
_TYPEMETA = {"float16": "c10::Half", "bfloat16": "c10::BFloat16", "float32": "float", "float64": "double",
             "bool": "bool", "uint8": "unsigned char", "int8": "signed char", "int16": "short int",
             "int32": "int", "int64": "long int"}

_SET_USAGE = (" * ()\n * (torch.Storage source)\n * (torch.Storage source, int storage_offset, tuple of ints size, "
              "tuple of ints stride)\n * (Tensor source)\n * (Tensor source, int storage_offset, tuple of ints size, "
              "tuple of ints stride)")


def untyped_storage(self: Tensor) -> UntypedStorage:
    """The UntypedStorage (all the bytes) this tensor is a view of; views of one tensor share it.

    >>> x = tt.zeros(4)
    >>> x[1:].untyped_storage() is x.untyped_storage(), x.untyped_storage().nbytes()
    (True, 16)
    """
    st = self._get_storage()
    register_user(st, self)
    return UntypedStorage._wrap(st, self.device)


def storage(self: Tensor) -> TypedStorage:
    """The TypedStorage (elements of this tensor's dtype) under this tensor. Deprecated, as in PyTorch: warns
    once; prefer `untyped_storage()`."""
    _warn_typed_storage_removal(stacklevel=2)
    return TypedStorage(wrap_storage=untyped_storage(self), dtype=self.dtype, _internal=True)


def is_set_to(self: Tensor, tensor: Tensor) -> bool:
    """True if both tensors view the same storage with the same offset, sizes and strides."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"is_set_to(): argument 'tensor' (position 1) must be Tensor, not {type(tensor).__name__}")
    return (self._get_storage() is tensor._get_storage() and self._offset == tensor._offset
            and self._shape == tensor._shape and self.stride() == tensor.stride())


def _invalid(args: tuple) -> TypeError:
    got = ", ".join(type(a).__name__ for a in args)
    return TypeError(f"set_() received an invalid combination of arguments - got ({got}), but expected one of:\n"
                     + _SET_USAGE)


def _int_tuple(values, args: tuple) -> tuple:
    try:
        if isinstance(values, (list, tuple)):
            return tuple(operator.index(v) for v in values)
        return (operator.index(values),)
    except TypeError:
        raise _invalid(args) from None


def _source(self: Tensor, source, args: tuple) -> tuple:
    """(Storage, its device, the source tensor or None) of a set_ source, after PyTorch's dtype checks."""
    if isinstance(source, Tensor):
        if source.dtype is not self.dtype:
            raise RuntimeError(f"Could not set tensor of type {_TYPEMETA[source.dtype.name]} to a tensor of type "
                               f"{_TYPEMETA[self.dtype.name]}")
        return source._get_storage(), source.device, source
    if isinstance(source, TypedStorage):
        if source.dtype is not self.dtype:
            raise RuntimeError(f"Expected a Storage of type {_TYPEMETA[self.dtype.name]} or an UntypedStorage, but "
                               f"got type {D.scalar_type_name(source.dtype)} for argument 1 'storage'")
        source = source._untyped_storage
    if isinstance(source, UntypedStorage):
        return source._storage, source.device, None
    raise _invalid(args)


def _geometry(self: Tensor, source, storage_offset, size, stride, args: tuple) -> tuple:
    """(Storage, device, offset, sizes, strides or None for contiguous) that set_ makes this tensor view."""
    if source is None:
        if args[1:]:
            raise _invalid(args)
        return Storage.allocate(0, self.dtype.np, self.device), self.device, 0, (0,), None
    st, dev, tensor = _source(self, source, args)
    if size is None:
        if storage_offset != 0 or stride is not None:
            raise _invalid(args)
        if tensor is not None:
            return st, dev, tensor._offset, tensor._shape, tensor.stride()
        return st, dev, 0, (st.nbytes // self.dtype.itemsize,), None
    try:
        offset = operator.index(storage_offset)
    except TypeError:
        raise _invalid(args) from None
    return st, dev, offset, _int_tuple(size, args), None if stride is None else _int_tuple(stride, args)


def _required_bytes(offset: int, size: tuple, stride: tuple, itemsize: int) -> int:
    """Bytes of storage that `size`/`stride` at `offset` need (0 for an empty tensor, which fits anywhere)."""
    if any(s == 0 for s in size):
        return 0
    return itemsize * (offset + 1 + sum((n - 1) * s for n, s in zip(size, stride)))


def _check_bounds(self: Tensor, st: Storage, dev, offset: int, size: tuple, stride, strides: tuple) -> bool:
    """PyTorch's checkSetStorage; True when the storage must grow to hold the new geometry (PyTorch's set_
    resizes a resizable storage when the sizes or strides change, and checks bounds when they do not)."""
    if stride is not None and len(stride) != len(size):
        raise RuntimeError(f"unequal size length ({len(size)}) and stride length ({len(stride)})")
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    negative = [s for s in size if s < 0]
    if negative:
        raise RuntimeError(f"Trying to create tensor with negative dimension {negative[0]}: {list(size)}")
    if any(s < 0 for s in strides):
        raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, got strides: "
                           f"{list(strides)}")
    needed = _required_bytes(offset, size, strides, self.dtype.itemsize)
    unchanged = self._shape == size and (stride is None or self.stride() == stride)
    if unchanged and needed > st.nbytes:
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride or ())}, storage offset "
                           f"{offset}, and itemsize {self.dtype.itemsize} requiring a storage size of {needed} are "
                           f"out of bounds for storage of size {st.nbytes}")
    if st is not self._get_storage() and dev != self.device:
        raise RuntimeError(f'Attempted to set the storage of a tensor on device "{self.device}" to a storage on '
                           f'different device "{dev}".  This is no longer allowed; the devices must match.')
    grow = needed > st.nbytes
    if grow and not UntypedStorage._wrap(st, dev).resizable():
        raise RuntimeError("Trying to resize storage that is not resizable")
    return grow


def set_(self: Tensor, source=None, storage_offset: int = 0, size=None, stride=None) -> Tensor:
    """Makes this tensor view other memory, in place, and returns it.

    `set_()`: new empty memory (size [0]). `set_(tensor)`: the same storage, offset, sizes and strides as
    `tensor` (its dtype must match). `set_(storage)`: all of an UntypedStorage (or a TypedStorage of this dtype)
    as a 1-D tensor. `set_(storage, storage_offset, size, stride=None)`: that geometry over it (contiguous
    without `stride`); a tensor may stand in for its storage. Writes through either tensor show in the other.

    As PyTorch, when the sizes or strides change and the storage is too small, a resizable storage grows; with
    unchanged sizes and strides an out-of-bounds geometry raises. Bumps the version counter; a leaf that
    requires grad is refused while grad mode is on.
    """
    args = (source, storage_offset, size, stride)[:_given(source, storage_offset, size, stride)]
    st, dev, offset, size, stride = _geometry(self, source, storage_offset, size, stride, args)
    check_inplace(self)
    strides = contiguous_strides(size) if stride is None else stride
    grow = _check_bounds(self, st, dev, offset, size, stride, strides)
    old_version = self._version
    if grow:
        UntypedStorage._wrap(st, dev).resize_(_required_bytes(offset, size, strides, self.dtype.itemsize))
    self._storage, self._np = st, None
    self._shape, self._stride, self._offset = tuple(size), tuple(strides), offset
    self._base = None  # no longer a view of its old base
    st.version = max(st.version, old_version) + 1
    register_user(st, self)
    if isinstance(source, Tensor):
        register_user(st, source)
    return self


def _given(source, storage_offset, size, stride) -> int:
    """How many of set_'s arguments the call gave (for the invalid-combination message)."""
    if stride is not None:
        return 4
    if size is not None:
        return 3
    if storage_offset != 0:
        return 2
    return 0 if source is None else 1


def share_memory_(self: Tensor) -> Tensor:
    """Moves this cpu tensor's storage into shared memory (values kept) and returns self: a process forked
    afterwards writes into the same memory. A no-op for cuda tensors and for storages shared already."""
    if self.device.type == "cpu":
        st = self._get_storage()
        register_user(st, self)
        UntypedStorage._wrap(st, self.device).share_memory_()
    return self


def is_shared(self: Tensor) -> bool:
    """True if this tensor's storage is in shared memory (after `share_memory_()`); always True on cuda."""
    return UntypedStorage._wrap(self._get_storage(), self.device).is_shared()


METHODS: dict = {
    "untyped_storage": untyped_storage, "storage": storage, "is_set_to": is_set_to, "set_": set_,
    "share_memory_": share_memory_, "is_shared": is_shared,
}
