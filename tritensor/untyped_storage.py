"""tt.UntypedStorage and tt.TypedStorage: PyTorch's storage objects over the memory a tensor and its views share.

A tensor's memory is a `Storage` (storage.py: host NumPy memory for cpu and for cuda under Triton's interpreter,
or a cuda.core allocation). `t.untyped_storage()` wraps the whole of it as bytes, not only the view's elements.
One Storage has one UntypedStorage object while that object is alive, so two views of one tensor give the same
object (PyTorch keeps one Python object per storage too); their `data_ptr()` is equal either way.
`TypedStorage` (`t.storage()`, deprecated in PyTorch) reads the same bytes as elements of one dtype.

`resize_` and `share_memory_` give a Storage new memory. Tensors hold a NumPy view of their memory: those that
reached the storage through the storage API (`untyped_storage()`, `storage()`, `set_`, `share_memory_`) are
registered here and drop that view, so they see the new memory; an older view that never did keeps the old one.

Shared memory is an anonymous `MAP_SHARED` mapping (`mmap.mmap(-1, n)`): a process forked afterwards sees the same
pages, and it goes with the last array over it, so nothing is named and nothing can leak. (DataLoader workers
use named POSIX segments instead, data/shared_batches.py: they start before the memory exists.)
"""

from __future__ import annotations

import mmap
import warnings
import weakref
from collections.abc import Sequence

import numpy as np

from . import device_errors
from . import dtypes as _dt
from .device import CPU
from .device import device as _device_cls
from .storage import Storage, canonical_device

__all__ = ["TypedStorage", "UntypedStorage"]

_wrappers: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # id(Storage) -> its live UntypedStorage
# Storage -> {id(tensor): tensor} of the tensors registered on it (a WeakSet would compare tensors with ==)
_users: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_slices: weakref.WeakSet = weakref.WeakSet()  # storages that alias bytes of another one (s[i:j]): never resizable


def register_user(storage: Storage, tensor) -> None:
    """Remember that `tensor` views `storage`, so it sees new memory after a resize_ or share_memory_."""
    users = _users.get(storage)
    if users is None:
        users = _users[storage] = weakref.WeakValueDictionary()
    users[id(tensor)] = tensor


def _replace_memory(st: Storage, host: np.ndarray | None = None, device_storage=None) -> None:
    """Give `st` new memory; the registered tensors over it rebuild their NumPy view from it."""
    st.host, st.device_storage = host, device_storage
    st.nbytes = host.nbytes if host is not None else device_storage.nbytes
    st._kernel_storage = None  # the HostStorage/DeviceStorage a launch reads is made again from the new memory
    st.recount()  # tt.cuda's memory statistics follow the new size
    for t in list(_users.get(st, {}).values()):
        if t._storage is st:
            t.stride()  # a fresh result's strides are computed lazily, and _host() rebuilds from them
            t._np = None


def _in_shared_memory(arr: np.ndarray) -> bool:
    """True when the array's memory is a mapping (shared memory), following NumPy's chain of bases."""
    obj = arr
    while obj is not None:
        if isinstance(obj, mmap.mmap):
            return True
        obj = obj.obj if isinstance(obj, memoryview) else getattr(obj, "base", None)
    return False


def _typename(value) -> str:
    return type(value).__name__


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer))


def _alloc_check(nbytes: int) -> None:
    if nbytes < 0:
        raise RuntimeError(f"alloc_cpu() seems to have been called with negative number: {nbytes % 2 ** 64}")


def _byte(value) -> int:
    """A Python int as the byte PyTorch stores (C's uint8_t conversion: modulo 256)."""
    return int(value) & 0xFF


def _new_storage(nbytes: int, device: _device_cls) -> Storage:
    _alloc_check(nbytes)
    return Storage.allocate(nbytes, np.uint8, device)


def _from_host(arr: np.ndarray, device: _device_cls) -> Storage:
    """A new Storage on `device` holding a copy of a host array's bytes."""
    flat = np.ascontiguousarray(arr).reshape(-1)
    if device.type == "cpu":
        return Storage(host=flat.copy())
    st = Storage.allocate(flat.nbytes, np.uint8, device)
    st.copy_from_host(0, flat)
    return st


class UntypedStorage:
    """A contiguous block of bytes on one device, as torch.UntypedStorage: the memory under a tensor and its views.

    `UntypedStorage()`, `UntypedStorage(nbytes)` (uninitialised) or `UntypedStorage(sequence of ints)`, on
    `device` (default cpu); `t.untyped_storage()` gives the one under a tensor. Indexing reads and writes bytes.

    >>> s = tt.UntypedStorage([1, 2, 3])
    >>> s.nbytes(), s[1], s.tolist()
    (3, 2, [1, 2, 3])
    """

    __slots__ = ("_storage", "_device", "__weakref__")
    is_sparse = False

    def __init__(self, *args, device=None) -> None:
        dev = CPU if device is None else canonical_device(device)
        if len(args) > 1 or (args and isinstance(args[0], bool)):
            got = ", ".join(_typename(a) for a in args)
            raise TypeError(f"torch.UntypedStorage() received an invalid combination of arguments - got ({got}), but "
                            "expected one of:\n * (*, int allocator, torch.device device)\n * (int size, *, int "
                            "allocator, torch.device device)\n * (object sequence, *, int allocator, torch.device "
                            "device)")
        if not args:
            st = _new_storage(0, dev)
        elif _is_int(args[0]):
            st = _new_storage(int(args[0]), dev)
        else:
            st = _from_host(_sequence_bytes(args[0]), dev)
        self._storage, self._device = st, dev
        _wrappers[id(st)] = self

    @classmethod
    def _wrap(cls, storage: Storage, device: _device_cls) -> UntypedStorage:
        """The UntypedStorage of a Storage (the live one if there is one: one object per storage)."""
        found = _wrappers.get(id(storage))
        if found is not None and found._storage is storage:
            return found
        obj = object.__new__(cls)
        obj._storage, obj._device = storage, device
        _wrappers[id(storage)] = obj
        return obj

    @property
    def device(self) -> _device_cls:
        """The device the bytes live on."""
        return self._device

    @property
    def is_cuda(self) -> bool:
        """True if the storage lives on a cuda device."""
        return self._device.type == "cuda"

    def get_device(self) -> int:
        """The cuda device index, or -1 for a cpu storage."""
        return -1 if self._device.type == "cpu" else self._device.index

    def nbytes(self) -> int:
        """The size in bytes."""
        return self._storage.nbytes

    def size(self) -> int:
        """The size in bytes (an UntypedStorage's elements are bytes): same as `nbytes()`."""
        return self._storage.nbytes

    def __len__(self) -> int:
        return self._storage.nbytes

    def element_size(self) -> int:
        """1: the elements of an UntypedStorage are bytes."""
        return 1

    def data_ptr(self) -> int:
        """The address of the first byte (a host address for cpu and interpreter storages)."""
        return self._storage.data_ptr()

    def untyped(self) -> UntypedStorage:
        """This storage itself (a TypedStorage's `untyped()` gives its UntypedStorage)."""
        return self

    def resizable(self) -> bool:
        """True if `resize_` may change the size: not for shared memory, nor for a slice of another storage."""
        st = self._storage
        if st in _slices:
            return False
        return st.host is None or not _in_shared_memory(st.host)

    def is_shared(self) -> bool:
        """True if the bytes are in shared memory (after `share_memory_()`); always True for cuda storages."""
        if self._device.type == "cuda":
            return True
        return _in_shared_memory(self._storage.host)

    def is_pinned(self, device="cuda") -> bool:
        """True if this cpu storage is page-locked (pinned) host memory (never under Triton's interpreter)."""
        return self._device.type == "cpu" and self._storage.is_pinned()

    def _bytes(self) -> np.ndarray:
        """All the bytes as a host uint8 array: a view of host memory, a copy of GPU memory."""
        st = self._storage
        if st.host is not None:
            return st.host.view(np.uint8)
        device_errors.raise_if_flagged(self._device)
        return st.to_host(np.uint8, st.nbytes)

    def tolist(self) -> list[int]:
        """The bytes as a list of ints."""
        return self._bytes().tolist()

    def __iter__(self):
        return iter(self.tolist())

    def __getitem__(self, index):
        n = self._storage.nbytes
        if _is_int(index) and not isinstance(index, bool):
            i = int(index) + n if index < 0 else int(index)
            if not 0 <= i < n:
                raise IndexError(f"index {i} out of range for storage of size {n}")
            return int(self._bytes()[i])
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step != 1:
                raise RuntimeError(f"Trying to slice with a step of {step}, but only a step of 1 is supported")
            if self._storage.host is None:
                raise NotImplementedError("slicing an UntypedStorage in GPU memory is not supported; slice a tensor "
                                          "over it instead")
            part = Storage(host=self._storage.host.view(np.uint8)[start:max(start, stop)])
            _slices.add(part)
            return UntypedStorage._wrap(part, self._device)
        raise TypeError(f"can't index a torch.UntypedStorage with {_typename(index)}")

    def __setitem__(self, index, value) -> None:
        if not _is_int(value):
            raise RuntimeError(f"can only set storage content with a int types, but got {_typename(value)} instead")
        n = self._storage.nbytes
        if _is_int(index) and not isinstance(index, bool):
            if not 0 <= index < n:
                raise RuntimeError("out of bounds")
            start, stop = int(index), int(index) + 1
        elif isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step != 1:
                raise RuntimeError(f"Trying to slice with a step of {step}, but only a step of 1 is supported")
        else:
            raise RuntimeError(f"can't index a torch.UntypedStorage with {_typename(index)}")
        if stop > start:
            self._storage.copy_from_host(start, np.full(stop - start, _byte(value), np.uint8))

    def fill_(self, value: int) -> UntypedStorage:
        """Sets every byte to `value` (an int, taken modulo 256) and returns self."""
        if not _is_int(value):
            raise RuntimeError(f"fill_ expects int, but got {_typename(value)}")
        st = self._storage
        if st.host is not None:
            st.host.view(np.uint8)[...] = _byte(value)
        elif st.nbytes:
            st.copy_from_host(0, np.full(st.nbytes, _byte(value), np.uint8))
        return self

    def copy_(self, src, non_blocking: bool | None = None) -> UntypedStorage:
        """Copies the bytes of `src` (a storage of the same size in bytes, on any device) into this one."""
        if isinstance(src, TypedStorage):
            src = src._untyped_storage
        if not isinstance(src, UntypedStorage):
            raise TypeError(f"copy_(): argument 'src' (position 1) must be Storage, not {_typename(src)}")
        if self.nbytes() != src.nbytes():
            raise RuntimeError(f"size does not match, self was {self.nbytes()} bytes but src was {src.nbytes()} "
                               "bytes")
        if self.nbytes():
            data = src._bytes()
            if self._storage.host is not None:
                np.copyto(self._storage.host.view(np.uint8), data)  # NumPy handles overlapping memory
            else:
                self._storage.copy_from_host(0, data, non_blocking=bool(non_blocking))
        return self

    def new(self) -> UntypedStorage:
        """A new empty storage on the same device."""
        return UntypedStorage(device=self._device)

    def clone(self) -> UntypedStorage:
        """A copy of this storage (new memory on the same device)."""
        return UntypedStorage(self.nbytes(), device=self._device).copy_(self)

    def __copy__(self) -> UntypedStorage:
        return self.clone()

    def __deepcopy__(self, memo) -> UntypedStorage:
        found = memo.get(id(self))
        if found is None:
            found = memo[id(self)] = self.clone()
        return found

    def __reduce__(self):
        return (_rebuild_untyped, (self._bytes().copy(), str(self._device)))

    def to(self, *, device, non_blocking: bool = False) -> UntypedStorage:
        """This storage on `device`: itself if it is there already, else a copy."""
        dev = canonical_device(device)
        if dev == self._device:
            return self
        return UntypedStorage(self.nbytes(), device=dev).copy_(self, non_blocking)

    def cpu(self) -> UntypedStorage:
        """A cpu copy of this storage, or the storage itself if it is on the cpu."""
        return self.to(device=CPU)

    def cuda(self, device=None, non_blocking: bool = False) -> UntypedStorage:
        """A copy in cuda memory (device index `device`, default the current one), or self if it is there."""
        return self.to(device=_device_cls("cuda", device) if device is not None else "cuda",
                       non_blocking=non_blocking)

    def resize_(self, size: int) -> UntypedStorage:
        """Resizes to `size` bytes, keeping the first min(old, new) bytes (the rest is uninitialised).

        The tensors over this storage see the new memory (see the module notes); their version counter is
        bumped. Shared memory and slices of another storage are not resizable (RuntimeError).
        """
        if not _is_int(size) or isinstance(size, bool):
            raise RuntimeError(f"resize_ expects an int, but got {_typename(size)}")
        if not self.resizable():
            raise RuntimeError("Trying to resize storage that is not resizable")
        size = int(size)
        _alloc_check(size)
        st = self._storage
        keep = min(size, st.nbytes)
        if st.host is not None:
            new = np.empty(size, np.uint8)
            new[:keep] = st.host.view(np.uint8)[:keep]
            _replace_memory(st, host=new)
        else:
            prefix = self._bytes()[:keep]
            fresh = Storage.allocate(size, np.uint8, self._device)
            fresh.copy_from_host(0, prefix)
            _replace_memory(st, device_storage=fresh.device_storage)
        st.version += 1
        return self

    def share_memory_(self) -> UntypedStorage:
        """Moves the bytes into shared memory (kept), where a process forked later sees the same pages; returns
        self. A no-op for cuda storages and for a storage already shared. Shared storages are not resizable."""
        st = self._storage
        if self._device.type == "cuda" or self.is_shared():
            return self
        mapping = mmap.mmap(-1, max(st.nbytes, 1))  # anonymous MAP_SHARED; mmap refuses 0 bytes
        shared = np.frombuffer(mapping, np.uint8)[:st.nbytes]
        shared[...] = st.host.view(np.uint8)
        _replace_memory(st, host=shared)
        return self

    def __repr__(self) -> str:
        values = "\n ".join(str(v) for v in self.tolist())
        return f" {values}\n[tritensor.UntypedStorage(device={self._device}) of size {len(self)}]"


def _sequence_bytes(sequence) -> np.ndarray:
    if not isinstance(sequence, (Sequence, np.ndarray)):
        raise TypeError(f"torch.UntypedStorage(): Expected a sequence type, but got {_typename(sequence)}")
    bad = [item for item in sequence if not _is_int(item)]
    if bad:
        raise RuntimeError(f"torch.UntypedStorage(): tried to construct a storage from a sequence "
                           f"({_typename(sequence)}), but one of the items was of type {_typename(bad[0])} instead "
                           "of int")
    return np.array([_byte(v) for v in sequence], np.uint8)


def _rebuild_untyped(data: np.ndarray, device: str) -> UntypedStorage:
    out = UntypedStorage(data.nbytes, device=device)
    out._storage.copy_from_host(0, data)
    return out


# ---------------------------------------------------------------------- TypedStorage
def _warn_typed_storage_removal(stacklevel: int = 2) -> None:
    """PyTorch's one-time deprecation warning for TypedStorage (pointed at the caller's caller)."""
    if not _warn_typed_storage_removal.__dict__.get("has_warned", False):
        warnings.warn("TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be the "
                      "only storage class. This should only matter to you if you are using storages directly.  To "
                      "access UntypedStorage directly, use tensor.untyped_storage() instead of tensor.storage()",
                      UserWarning, stacklevel=stacklevel + 1)
        _warn_typed_storage_removal.__dict__["has_warned"] = True


def _reset_warn_typed_storage_removal() -> None:
    """Let the next TypedStorage use warn again (PyTorch's helper of the same name, for tests)."""
    _warn_typed_storage_removal.__dict__["has_warned"] = False


_INIT_USAGE = ("TypedStorage.__init__ received an invalid combination of arguments. Expected one of:\n"
               " * (*, torch.device device, torch.dtype dtype)\n"
               " * (int size, *, torch.device device, torch.dtype dtype)\n"
               " * (Sequence data, *, torch.device device, torch.dtype dtype)\n"
               " * (*, UntypedStorage wrap_storage, torch.dtype dtype)")


def _wrapped(args: tuple, device, dtype, wrap_storage) -> UntypedStorage:
    """TypedStorage(wrap_storage=..., dtype=...): PyTorch's checks, in its order."""
    if args:
        raise RuntimeError(_INIT_USAGE + "\nNo positional arguments should be given when using 'wrap_storage'")
    if dtype is None:
        raise RuntimeError(_INIT_USAGE + "\nArgument 'dtype' must be specified")
    if not isinstance(dtype, _dt.dtype):
        raise TypeError(_INIT_USAGE + f"\nArgument 'dtype' must be torch.dtype, not {type(dtype)}")
    if device is not None:
        raise RuntimeError(_INIT_USAGE + "\nArgument 'device' should not be specified when 'wrap_storage' is given")
    if not isinstance(wrap_storage, UntypedStorage):
        raise TypeError(_INIT_USAGE + f"\nArgument 'wrap_storage' must be UntypedStorage, but got {type(wrap_storage)}")
    return wrap_storage


def _allocated(args: tuple, device, dtype: _dt.dtype) -> UntypedStorage:
    """TypedStorage(), TypedStorage(size) or TypedStorage(sequence): a new UntypedStorage for them."""
    dev = CPU if device is None else canonical_device(device)
    if len(args) > 1:
        raise RuntimeError(_INIT_USAGE + "\nToo many positional arguments")
    if not args:
        return UntypedStorage(device=dev)
    if _is_int(args[0]):
        return UntypedStorage(int(args[0]) * dtype.itemsize, device=dev)
    if isinstance(args[0], Sequence):
        return UntypedStorage._wrap(_from_host(np.asarray(args[0], dtype=dtype.np), dev), dev)
    raise TypeError(_INIT_USAGE + f"\nArgument type not recognized: {type(args[0])}")


def _forward(name: str, doc: str, wrap: bool = False):
    """A TypedStorage method that warns (once) and returns what its UntypedStorage's method `name` returns (wrap:
    that storage wrapped in this dtype)."""
    def method(self, *args, **kwargs):
        _warn_typed_storage_removal()
        out = getattr(self._untyped_storage, name)(*args, **kwargs)
        return self._new_wrapped_storage(out) if wrap else out
    method.__name__, method.__qualname__ = name, f"TypedStorage.{name}"
    method.__doc__ = doc
    return method


class TypedStorage:
    """Elements of one dtype over an UntypedStorage, as torch.TypedStorage (deprecated in PyTorch, as here:
    using it warns once). `t.storage()` gives the one under a tensor; `TypedStorage(size, dtype=, device=)`,
    `TypedStorage(sequence, dtype=, device=)` or `TypedStorage(wrap_storage=untyped, dtype=)` make one.

    >>> s = tt.TypedStorage([1.5, 2.5], dtype=tt.float32)
    >>> s.size(), s[1], s.nbytes()
    (2, 2.5, 8)
    """

    is_sparse = False

    def __init__(self, *args, device=None, dtype=None, wrap_storage=None, _internal: bool = False) -> None:
        if not _internal:
            _warn_typed_storage_removal()
        if wrap_storage is not None:
            self._untyped_storage = _wrapped(args, device, dtype, wrap_storage)
            self.dtype = dtype
            return
        if dtype is not None and not isinstance(dtype, _dt.dtype):
            raise TypeError(_INIT_USAGE + f"\nArgument 'dtype' must be torch.dtype, not {type(dtype)}")
        self.dtype = _dt.get_default_dtype() if dtype is None else dtype
        self._untyped_storage = _allocated(args, device, self.dtype)

    def _new_wrapped_storage(self, untyped: UntypedStorage) -> TypedStorage:
        return TypedStorage(wrap_storage=untyped, dtype=self.dtype, _internal=True)

    get_device = _forward("get_device", "The cuda device index, or -1 for a cpu storage.")
    untyped = _forward("untyped", "The UntypedStorage these elements are read from.")
    nbytes = _forward("nbytes", "The size in bytes of the underlying UntypedStorage.")
    data_ptr = _forward("data_ptr", "The address of the first element (that of the UntypedStorage).")
    resizable = _forward("resizable", "True if `resize_` may change the size (see UntypedStorage.resizable).")
    is_shared = _forward("is_shared", "True if the elements are in shared memory; always True for cuda storages.")
    is_pinned = _forward("is_pinned", "is_pinned(device='cuda'): True if this cpu storage is page-locked (pinned).")
    clone = _forward("clone", "A copy of this storage (new memory on the same device).", wrap=True)
    cpu = _forward("cpu", "A cpu copy of this storage (wrapping the same memory if it is on the cpu already).",
                   wrap=True)
    cuda = _forward("cuda", "cuda(device=None, non_blocking=False): a copy in cuda memory (the same memory if it is "
                            "there already).", wrap=True)
    to = _forward("to", "to(*, device, non_blocking=False): this storage on `device` (the same memory if it is "
                        "there already).", wrap=True)

    @property
    def device(self) -> _device_cls:
        """The device the elements live on."""
        _warn_typed_storage_removal()
        return self._untyped_storage.device

    @property
    def is_cuda(self) -> bool:
        """True if the storage lives on a cuda device."""
        _warn_typed_storage_removal()
        return self._untyped_storage.device.type == "cuda"

    def _size(self) -> int:
        return self._untyped_storage.nbytes() // self.dtype.itemsize

    def size(self) -> int:
        """The number of elements (whole elements of `dtype` that fit in the bytes)."""
        _warn_typed_storage_removal()
        return self._size()

    def __len__(self) -> int:
        _warn_typed_storage_removal()
        return self._size()

    def element_size(self) -> int:
        """The size of one element in bytes."""
        _warn_typed_storage_removal()
        return self.dtype.itemsize

    def _values(self) -> np.ndarray:
        """The elements as a host array of `dtype`: a view of host memory, a copy of GPU memory."""
        n = self._size() * self.dtype.itemsize
        return self._untyped_storage._bytes()[:n].view(self.dtype.np)

    def tolist(self) -> list:
        """The elements as a list of Python numbers."""
        _warn_typed_storage_removal()
        return self._values().tolist()

    def __iter__(self):
        _warn_typed_storage_removal()
        return iter(self._values().tolist())

    def _maybe_wrap_index(self, idx: int) -> int:
        if type(idx) is not int:
            raise TypeError(f"can't index a {type(self)} with {type(idx)}")
        n = self._size()
        if idx >= n or idx < -n:
            raise IndexError(f"index {idx} out of range for storage of size {n}")
        return idx % n

    def __getitem__(self, idx):
        _warn_typed_storage_removal()
        if isinstance(idx, slice):
            raise RuntimeError("slices are only supported in UntypedStorage.__getitem__")
        if not isinstance(idx, int):
            raise RuntimeError(f"can't index a {type(self)} with {type(idx)}")
        i = self._maybe_wrap_index(idx)
        st, isz = self._untyped_storage._storage, self.dtype.itemsize
        if st.host is not None:
            return st.host.view(np.uint8)[i * isz:(i + 1) * isz].view(self.dtype.np)[0].item()
        device_errors.raise_if_flagged(self._untyped_storage.device)
        return st.to_host(self.dtype.np, 1, i * isz)[0].item()

    def __setitem__(self, idx, value) -> None:
        _warn_typed_storage_removal()
        self._setitem(idx, value)

    def _setitem(self, idx, value) -> None:
        if not isinstance(idx, (int, slice)):
            raise RuntimeError(f"can't index a {type(self)} with {type(idx)}")
        if isinstance(value, (UntypedStorage, TypedStorage)):
            raise RuntimeError(f"cannot set item with value type {type(value)}")
        n = self._size()
        if isinstance(idx, int) and not -n <= idx < n:
            raise IndexError(f"index {idx} is out of bounds for dimension 0 with size {n}")
        st = self._untyped_storage._storage
        values = self._values()
        if st.host is None:
            values = values.copy()
        values[idx] = np.asarray(value).astype(self.dtype.np)
        if st.host is None:
            st.copy_from_host(0, values)

    def fill_(self, value) -> TypedStorage:
        """Sets every element to `value` and returns self."""
        _warn_typed_storage_removal()
        self._setitem(slice(0, self._size()), value)
        return self

    def copy_(self, source, non_blocking: bool | None = None) -> TypedStorage:
        """Copies the bytes of `source` (a storage of the same size in bytes) into this one."""
        _warn_typed_storage_removal()
        self._untyped_storage.copy_(source, non_blocking)
        return self

    def __copy__(self) -> TypedStorage:
        return self._new_wrapped_storage(self._untyped_storage.clone())

    def __deepcopy__(self, memo) -> TypedStorage:
        return self._new_wrapped_storage(self._untyped_storage.__deepcopy__(memo))

    def resize_(self, size: int) -> None:
        """Resizes to `size` elements, keeping the leading ones (see UntypedStorage.resize_)."""
        _warn_typed_storage_removal()
        self._untyped_storage.resize_(size * self.dtype.itemsize)

    def share_memory_(self) -> TypedStorage:
        """Moves the elements into shared memory (see UntypedStorage.share_memory_); returns self."""
        _warn_typed_storage_removal()
        self._untyped_storage.share_memory_()
        return self

    def __repr__(self) -> str:
        _warn_typed_storage_removal()
        values = "\n ".join(str(v) for v in self._values().tolist())
        return (f" {values}\n[tritensor.TypedStorage(dtype={self.dtype}, device={self._untyped_storage.device}) "
                f"of size {self._size()}]")

    __str__ = __repr__
