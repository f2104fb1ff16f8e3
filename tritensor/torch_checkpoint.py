"""Reading PyTorch's zip checkpoints (torch.save since 1.6) with weights_only semantics: no code from the file runs.

The archive holds `<top>/data.pkl` (a protocol-2 pickle of the saved object), `<top>/data/<key>` (the raw
bytes of one storage each), `<top>/version` and optionally `<top>/byteorder`. In the pickle a tensor is
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])`, its
storage a persistent id `("storage", torch.FloatStorage, key, location, numel)`.

The unpickler resolves globals from a fixed table (the rebuild functions, storage classes, dtypes,
torch.device, torch.Size, OrderedDict, set/frozenset/bytes) plus `tt.serialization`'s allow-list, and
never imports anything; any other global raises pickle.UnpicklingError naming it. Tensors come out of
the pickle as inert placeholders (no attributes to set, no item assignment) and become tritensor Tensors
afterwards: every tensor of one storage is a view of the one NumPy buffer read from the zip.
"""

from __future__ import annotations

import io
import pickle
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from . import dtypes as D
from . import serialization
from .device import CPU
from .device import device as _device_cls
from .storage import Storage
from .tensor import Tensor

Place = Callable[[Tensor, str], Tensor]  # (cpu tensor, saved location) -> the tensor where map_location puts it

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def is_zip(data: bytes) -> bool:
    """Whether `data` starts like a zip archive (what torch.save writes since PyTorch 1.6)."""
    return data[:4] in ZIP_MAGIC


class _StorageType:
    """What GLOBAL torch.FloatStorage (or another storage class) resolves to: a name and its dtype."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str, dtype: D.dtype | None) -> None:
        self.name, self.dtype = name, dtype


class _Marker:
    """An allowed global with no behaviour of its own (torch.Tensor, torch.nn.Parameter)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class _StorageRef:
    """One storage of the archive: its elements as a 1-D NumPy array and its saved location."""

    __slots__ = ("key", "array", "location", "storage")

    def __init__(self, key: str, array: np.ndarray, location: str) -> None:
        self.key, self.array, self.location = key, array, location
        self.storage: Storage | None = None


class _TensorRef:
    """A tensor as the pickle describes it; inert, so no later opcode can alter it."""

    __slots__ = ("ref", "dtype", "offset", "size", "stride", "requires_grad")

    def __init__(self, ref: _StorageRef, dtype: D.dtype, offset: int, size: tuple, stride: tuple,
                 requires_grad: bool) -> None:
        for name, value in zip(self.__slots__, (ref, dtype, offset, size, stride, requires_grad)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise pickle.UnpicklingError("a checkpoint may not set attributes on a tensor")

    def __setstate__(self, state: Any) -> None:
        raise pickle.UnpicklingError("a checkpoint may not set state on a tensor (BUILD)")


_STORAGE_DTYPES = {
    "FloatStorage": D.float32, "DoubleStorage": D.float64, "HalfStorage": D.float16, "BFloat16Storage": D.bfloat16,
    "LongStorage": D.int64, "IntStorage": D.int32, "ShortStorage": D.int16, "CharStorage": D.int8,
    "ByteStorage": D.uint8, "BoolStorage": D.bool,
}
_UNSUPPORTED_STORAGES = ("ComplexFloatStorage", "ComplexDoubleStorage", "QInt8Storage", "QUInt8Storage",
                         "QInt32Storage", "QUInt4x2Storage", "QUInt2x4Storage")
_DTYPE_ALIASES = {"float": D.float32, "double": D.float64, "half": D.float16, "long": D.int64, "int": D.int32,
                  "short": D.int16}


def _check_ints(what: str, values: Any) -> tuple:
    if not isinstance(values, (tuple, list)) or not all(type(v) is int and v >= 0 for v in values):
        raise pickle.UnpicklingError(f"tensor {what} must be a tuple of non-negative ints, got {values!r}")
    return tuple(values)


def _tensor_ref(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any,
                dtype: D.dtype | None = None) -> _TensorRef:
    if not isinstance(storage, _StorageRef):
        raise pickle.UnpicklingError(f"a tensor's storage must be a storage of the archive, got "
                                     f"{type(storage).__name__}")
    size, stride = _check_ints("size", size), _check_ints("stride", stride)
    if len(size) != len(stride) or type(offset) is not int or offset < 0 or not isinstance(requires_grad, bool):
        raise pickle.UnpicklingError(f"bad tensor metadata: offset {offset!r}, size {size}, stride {stride}, "
                                     f"requires_grad {requires_grad!r}")
    array = storage.array
    if dtype is not None and dtype.np != array.dtype:  # _rebuild_tensor_v3: an untyped (byte) storage + a dtype
        if array.nbytes % dtype.itemsize:
            raise ValueError(f"storage {storage.key!r} of {array.nbytes} bytes is not a whole number of {dtype}")
        storage.array = array = array.view(dtype.np)
    dtype = D.from_numpy_dtype(array.dtype)
    if 0 in size:
        needed = offset
    else:
        needed = offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
    if needed > array.size:
        raise ValueError(f"storage {storage.key!r} of {array.nbytes} bytes cannot hold a {dtype.name} tensor of size "
                         f"{size}, stride {stride} and storage offset {offset} (needs {needed * dtype.itemsize} bytes)")
    return _TensorRef(storage, dtype, offset, size, stride, requires_grad)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    return _tensor_ref(storage, storage_offset, size, stride, requires_grad)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None):
    if not isinstance(dtype, D.dtype):
        raise pickle.UnpicklingError(f"_rebuild_tensor_v3 needs a dtype, got {dtype!r}")
    return _tensor_ref(storage, storage_offset, size, stride, requires_grad, dtype)


def _rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    if not isinstance(data, _TensorRef) or not isinstance(requires_grad, bool):
        raise pickle.UnpicklingError(f"_rebuild_parameter expects a tensor and a bool, got {type(data).__name__}")
    return _TensorRef(data.ref, data.dtype, data.offset, data.size, data.stride, requires_grad)


_REBUILDERS = (_rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter)


def _rebuild_from_type_v2(func, new_type, args, state):
    """A tensor pickled through Tensor.__reduce_ex__'s subclass path: only plain tensors and parameters."""
    if func not in _REBUILDERS or not isinstance(new_type, _Marker) or not isinstance(args, tuple):
        raise pickle.UnpicklingError(f"_rebuild_from_type_v2 of {getattr(new_type, 'name', new_type)!r} is not "
                                     "supported")
    if state:
        raise pickle.UnpicklingError(f"a {new_type.name} with Python attributes ({sorted(state)}) is not supported")
    return func(*args)


def _device(*args):
    try:
        return _device_cls(*args)
    except (RuntimeError, TypeError) as exc:
        raise pickle.UnpicklingError(f"torch.device{args!r}: {exc}") from None


def _codecs_encode(text, encoding="utf-8"):
    # Protocol 2 writes bytes as _codecs.encode(text, "latin1"): allowed for those two codecs only.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise pickle.UnpicklingError(f"_codecs.encode with {encoding!r} is not allowed")
    return text.encode(encoding)


def _allowed() -> dict[str, Any]:
    table: dict[str, Any] = {
        "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2, "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
        "torch._utils._rebuild_parameter": _rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
        "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
        "torch.Tensor": _Marker("torch.Tensor"), "torch.nn.parameter.Parameter": _Marker("torch.nn.Parameter"),
        "torch.device": _device, "torch.Size": lambda *a: tuple(*a), "collections.OrderedDict": OrderedDict,
        "builtins.set": set, "builtins.frozenset": frozenset, "builtins.bytes": bytes, "builtins.bytearray": bytearray,
        "builtins.complex": complex, "_codecs.encode": _codecs_encode,
    }
    for name, dtype in _STORAGE_DTYPES.items():
        table[f"torch.{name}"] = _StorageType(f"torch.{name}", dtype)
    for name in _UNSUPPORTED_STORAGES:
        table[f"torch.{name}"] = _StorageType(f"torch.{name}", None)
    for name in ("torch.UntypedStorage", "torch.storage.UntypedStorage"):
        table[name] = _StorageType(name, D.uint8)
    for name, dtype in {**D._NAMES, **_DTYPE_ALIASES}.items():
        table[f"torch.{name}"] = dtype
    return table


_ALLOWED = _allowed()


class _WeightsUnpickler(pickle.Unpickler):
    """pickle.Unpickler that resolves globals from the allow-lists only and storages from the archive."""

    def __init__(self, file: io.BytesIO, read_storage: Callable[[str, D.dtype, int], np.ndarray]) -> None:
        super().__init__(file, encoding="utf-8")
        self._read_storage = read_storage
        self._storages: dict[str, _StorageRef] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "__builtin__":  # protocol 2 names Python 2's module (what fix_imports would map)
            module = "builtins"
        full = f"{module}.{name}"
        if full in _ALLOWED:
            return _ALLOWED[full]
        found, obj = serialization._lookup(full)
        if found:
            return obj
        raise pickle.UnpicklingError(
            f"Weights only load failed. Unsupported global: GLOBAL {full} was not an allowed global by default. "
            f"Use `tt.serialization.add_safe_globals([{name}])` or the `tt.serialization.safe_globals([{name}])` "
            "context manager to allow-list it, only if you trust this class/function.")

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] in ("storage", b"storage")):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}: expected ('storage', type, key, "
                                         "location, numel)")
        _, storage_type, key, location, numel = pid
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"persistent id names {storage_type!r}, which is not a storage type")
        if storage_type.dtype is None:
            raise ValueError(f"storage type {storage_type.name} has no tritensor dtype")
        if not (isinstance(key, str) and isinstance(location, str) and type(numel) is int and numel >= 0):
            raise pickle.UnpicklingError(f"bad storage id {pid!r}")
        ref = self._storages.get(key)
        if ref is None:
            array = self._read_storage(key, storage_type.dtype, numel)
            ref = self._storages[key] = _StorageRef(key, array, location)
        return ref


class _Archive:
    """The zip's entries under its one top folder; storages read once, into writable NumPy buffers."""

    def __init__(self, data: bytes, where: str) -> None:
        self.where = where
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            names = self.zip.namelist()
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
            raise ValueError(f"{where} is not a valid zip archive (truncated or corrupt?): {exc}") from None
        pickles = [n for n in names if n.count("/") == 1 and n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise ValueError(f"{where}: not a PyTorch checkpoint (expected one <name>/data.pkl in the zip, found "
                             f"{len(pickles)}); TorchScript archives (torch.jit.save) are not checkpoints")
        self.prefix = pickles[0][: -len("data.pkl")]
        order = self._text("byteorder", "little")
        if order not in ("little", "big"):
            raise ValueError(f"{where}: unknown byteorder {order!r}")
        self.big_endian = order == "big"

    def read(self, name: str) -> bytes:
        """One entry's bytes; a clear error for a missing or corrupt one."""
        try:
            return self.zip.read(self.prefix + name)
        except KeyError:
            raise ValueError(f"{self.where}: the checkpoint has no entry {self.prefix + name!r}") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise ValueError(f"{self.where}: entry {self.prefix + name!r} is corrupt: {exc}") from None

    def _text(self, name: str, default: str) -> str:
        if self.prefix + name not in self.zip.NameToInfo:
            return default
        return self.read(name).decode("ascii", "replace").strip()

    def storage(self, key: str, dtype: D.dtype, numel: int) -> np.ndarray:
        """Storage `key` as `numel` elements of `dtype`, checked against the entry's size."""
        data = self.read(f"data/{key}")
        nbytes = numel * dtype.itemsize
        if len(data) < nbytes:
            raise ValueError(f"{self.where}: storage {key!r} holds {len(data)} bytes; the pickle says {numel} "
                             f"elements of {dtype} ({nbytes} bytes)")
        array = np.frombuffer(bytearray(data[:nbytes]) if len(data) != nbytes else bytearray(data), dtype.np)
        if self.big_endian and dtype.itemsize > 1:
            array = array.view(f"u{dtype.itemsize}").byteswap().view(dtype.np)
        return array


def _materialise(obj: Any, place: Place, made: dict[int, Any]) -> Any:
    """`obj` with every _TensorRef replaced by its tritensor Tensor; containers are updated in place."""
    if isinstance(obj, _TensorRef):
        t = made.get(id(obj))
        if t is None:
            ref = obj.ref
            if ref.storage is None:
                ref.storage = Storage(host=ref.array)
            t = Tensor._make(ref.storage, obj.size, obj.stride, obj.offset, obj.dtype, CPU)
            t = place(t, ref.location)
            if obj.requires_grad:
                t = t.detach().requires_grad_(True)
            made[id(obj)] = t
        return t
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes, D.dtype, _device_cls)):
        return obj
    if id(obj) in made:
        return made[id(obj)]
    made[id(obj)] = obj  # containers: visited (cycles end here)
    if isinstance(obj, dict):
        items = [(_materialise(k, place, made), _materialise(v, place, made)) for k, v in obj.items()]
        obj.clear()
        obj.update(items)
    elif isinstance(obj, list):
        obj[:] = [_materialise(v, place, made) for v in obj]
    elif isinstance(obj, (tuple, set, frozenset)):
        new = type(obj)(_materialise(v, place, made) for v in obj) if type(obj) in (tuple, set, frozenset) else obj
        made[id(obj)] = new
        return new
    elif hasattr(obj, "__dict__"):  # an allow-listed class's instance
        for k, v in list(vars(obj).items()):
            vars(obj)[k] = _materialise(v, place, made)
    return obj


def load_zip(data: bytes, where: str, place: Place, *, weights_only: bool = True) -> Any:
    """Load a torch.save zip checkpoint held in `data` (read from `where`); `place` applies map_location.

    weights_only=False is refused: tritensor never unpickles arbitrary objects. Raises pickle.UnpicklingError
    for a global outside the allow-lists, ValueError for a corrupt archive or inconsistent storages.
    """
    if weights_only is False:
        raise ValueError(f"{where}: tt.load(weights_only=False) is not supported for PyTorch checkpoints: tritensor "
                         "never unpickles arbitrary objects. Load with weights_only=True (the default) and allow-list "
                         "trusted classes with tt.serialization.add_safe_globals")
    archive = _Archive(data, where)
    unpickler = _WeightsUnpickler(io.BytesIO(archive.read("data.pkl")), archive.storage)
    try:
        obj = unpickler.load()
    except (pickle.UnpicklingError, ValueError):
        raise
    except Exception as exc:  # malformed opcodes, a BUILD/append on an object that refuses it, bad arguments
        raise pickle.UnpicklingError(f"{where}: data.pkl is not a weights-only pickle: "
                                     f"{type(exc).__name__}: {exc}") from None
    return _materialise(obj, place, {})

