"""tt.save / tt.load: checkpoints (state_dicts of modules and optimizers) as safetensors files.

Tensors are stored as the file's tensors (safetensors format: a JSON header, then raw little-endian
data; bfloat16 through ml_dtypes). Everything else — nested dicts (any JSON-able keys, including the
integer keys of an optimizer's state), lists, tuples, numbers, strings, None, dtypes and devices — is
described by a JSON document in the header's `__metadata__`, which names each tensor by key.
Loading parses JSON and copies bytes: nothing is unpickled and no code from the file ever runs.
A plain safetensors file (no tritensor metadata) loads as a {name: tensor} dict.

Whole modules (`tt.save(model, f)`, as torch.save(model, f)) are written the same way: each module's class by
name, its parameters, buffers, submodules and plain-data attributes (`tritensor.module_checkpoint`). tt.load
rebuilds one only from classes the caller allows (`tt.serialization.safe_globals`, or weights_only=False to
trust the classes the file names), and never unpickles anything.

tt.load also reads PyTorch's zip checkpoints (what torch.save writes since PyTorch 1.6) with torch.load's
weights_only semantics: a restricted unpickler accepts tensors, parameters, dtypes, devices, OrderedDict and
plain containers, plus the classes allow-listed with `tt.serialization.add_safe_globals`; anything else is
refused before it can run (`tritensor.torch_checkpoint`). tt.save always writes safetensors, whatever the
file name: `tt.save(obj, "model.pt")` writes a safetensors file, which torch.load cannot read (PyTorch's
`safetensors.torch.load_file` reads plain ones).

Writes are atomic: a temporary file in the target's directory, fsync, then os.replace.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from . import dtypes as D
from . import module_checkpoint, torch_checkpoint
from .device import device as _device_cls
from .tensor import Tensor

FORMAT = "tritensor"
VERSION = "1"
_STRUCTURE_KEY = "tritensor.structure"
_MAX_HEADER = 100 * 1024 * 1024  # the safetensors format's own limit

# safetensors dtype codes -> NumPy dtypes (bf16 from ml_dtypes, as tritensor's bfloat16 is)
_SAFETENSORS_DTYPES = {
    "F64": np.dtype(np.float64), "F32": np.dtype(np.float32), "F16": np.dtype(np.float16), "BF16": D.bfloat16.np,
    "I64": np.dtype(np.int64), "I32": np.dtype(np.int32), "I16": np.dtype(np.int16), "I8": np.dtype(np.int8),
    "U8": np.dtype(np.uint8), "BOOL": np.dtype(np.bool_),
}

PathOrFile = str | os.PathLike | IO[bytes]


# ---------------------------------------------------------------------------------------------- save
class _Encoder:
    """Walks the object: tensors and arrays go to `tensors` (named by their path), the rest to JSON."""

    def __init__(self) -> None:
        self.tensors: dict[str, np.ndarray] = {}
        self._names: dict[int, str] = {}  # id(tensor) -> name: one stored copy per tensor object
        self._keep: list = []  # keeps encoded objects alive so ids stay unique during the walk
        self._modules = module_checkpoint.ModuleEncoder(self.encode)

    def _name(self, path: list[str]) -> str:
        base = ".".join(path) or "tensor"
        name, n = base, 1
        while name in self.tensors:
            n += 1
            name = f"{base}#{n}"
        return name

    def _store(self, obj, array: np.ndarray, path: list[str]) -> str:
        found = self._names.get(id(obj))
        if found is not None:
            return found
        name = self._name(path)
        # (not np.ascontiguousarray: it turns a 0-d array into a 1-d one)
        self.tensors[name] = array if array.flags.c_contiguous else array.copy(order="C")
        self._names[id(obj)] = name
        self._keep.append(obj)
        return name

    def encode(self, obj: Any, path: list[str]) -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"float": repr(obj)}
        if isinstance(obj, Tensor):
            array = obj.detach().cpu().numpy()
            entry = {"tensor": self._store(obj, array, path)}
            if obj.requires_grad:
                entry["requires_grad"] = True
            if obj.device.type != "cpu":
                entry["device"] = str(obj.device)
            return entry
        if isinstance(obj, (np.ndarray, np.generic)):
            array = np.asarray(obj)
            if array.dtype not in _SAFETENSORS_DTYPES.values():
                raise TypeError(f"tt.save: NumPy dtype {array.dtype} at {'.'.join(path) or '<root>'} can't be stored")
            entry = {"ndarray": self._store(obj, array, path)}
            if isinstance(obj, np.generic):
                entry["scalar"] = True
            return entry
        if isinstance(obj, D.dtype):
            return {"dtype": obj.name}
        if isinstance(obj, _device_cls):
            return {"device": str(obj)}
        if isinstance(obj, dict):
            items = [[self._key(k, path), self.encode(v, [*path, str(k)])] for k, v in obj.items()]
            return {"ordered_dict" if isinstance(obj, OrderedDict) else "dict": items}
        if isinstance(obj, tuple):
            return {"tuple": [self.encode(v, [*path, str(i)]) for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, [*path, str(i)]) for i, v in enumerate(obj)]
        return self._other(obj, path)

    def _other(self, obj: Any, path: list[str]) -> Any:
        """A whole nn.Module (`tritensor.module_checkpoint`); TypeError for anything else."""
        if module_checkpoint.is_module(obj):
            return self._modules.encode(obj, path)
        raise TypeError(f"tt.save stores tensors, NumPy arrays, numbers, strings, None, dtypes, devices and "
                        f"dicts/lists/tuples of them; found {type(obj).__module__}.{type(obj).__qualname__} at "
                        f"{'.'.join(path) or '<root>'}")

    def _key(self, key: Any, path: list[str]) -> Any:
        if key is None or isinstance(key, (bool, int, str)):
            return key
        if isinstance(key, float):
            return self.encode(key, path)
        if isinstance(key, tuple) and all(k is None or isinstance(k, (bool, int, float, str)) for k in key):
            return {"tuple": [self._key(k, path) for k in key]}
        raise TypeError(f"tt.save: dict key {key!r} at {'.'.join(path) or '<root>'} is not a string, number, None "
                        "or a tuple of them")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def save(obj: Any, f: PathOrFile) -> None:
    """Write `obj` (e.g. {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}) to `f`,
    a path (written atomically) or a binary file object.

    The file is always safetensors, whatever its name: `tt.save(obj, "model.pt")` writes safetensors too,
    never a pickle (torch.load cannot read it; tt.load reads both it and torch.save's zip checkpoints).

    `obj` may be (or hold) a whole nn.Module: its class is stored by qualified name with its parameters (tied
    ones once), buffers (non-persistent ones too), submodules and attributes; an attribute that is not plain
    data (a lambda, an open file, an arbitrary object) raises TypeError naming its path."""
    from safetensors.numpy import save as st_save

    encoder = _Encoder()
    structure = encoder.encode(obj, [])
    metadata = {"format": FORMAT, "version": VERSION, _STRUCTURE_KEY: json.dumps(structure, allow_nan=False)}
    data = st_save(encoder.tensors, metadata=metadata)
    if hasattr(f, "write"):
        f.write(data)
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


# ---------------------------------------------------------------------------------------------- load
def _read(f: PathOrFile) -> tuple[bytes, str]:
    if hasattr(f, "read"):
        return f.read(), getattr(f, "name", "<file object>")
    path = os.fspath(f)
    with open(path, "rb") as fh:
        return fh.read(), path


def _header(data: bytes, where: str) -> dict:
    def bad(why: str) -> ValueError:
        return ValueError(f"{where} is not a safetensors file ({why}); tt.load reads safetensors files and "
                          "PyTorch's zip checkpoints, and never unpickles arbitrary objects (legacy non-zip "
                          "torch.save files can't be read)")

    if len(data) < 8:
        raise bad("too short")
    n = int.from_bytes(data[:8], "little")
    if n > _MAX_HEADER or 8 + n > len(data):
        raise bad("bad header length")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise bad("header is not a JSON object")
    return header


def _resolve_location(map_location, saved: str) -> Callable[[Tensor], Tensor]:
    """How a tensor saved on `saved` is placed, as torch.load's map_location decides."""
    target = saved
    if map_location is None:
        pass
    elif isinstance(map_location, (str, _device_cls)):
        target = str(map_location)
    elif isinstance(map_location, dict):
        target = str(map_location.get(saved, saved))
    elif callable(map_location):
        return lambda t: map_location(t, saved)
    else:
        raise TypeError(f"map_location should be None, a string, a device, a dict or a callable; got "
                        f"{type(map_location).__name__}")
    device = _device_cls(target)
    if device.type == "cuda":
        from . import cuda

        if not cuda.is_available():
            raise RuntimeError("Attempting to deserialize object on a CUDA device but tt.cuda.is_available() is "
                               "False. If you are running on a CPU-only machine, please use tt.load with "
                               "map_location='cpu' to map your tensors to the CPU.")
    return lambda t: t if device.type == "cpu" else t.to(device)


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray], map_location, weights_only: bool = True) -> None:
        self.arrays = arrays
        self.map_location = map_location
        self._modules = module_checkpoint.ModuleDecoder(self.decode, weights_only)
        self._made: dict[tuple[str, str], Any] = {}

    def _array(self, name: Any) -> np.ndarray:
        if not isinstance(name, str) or name not in self.arrays:
            raise ValueError(f"tt.load: the structure names a tensor {name!r} the file does not hold")
        return self.arrays[name]

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict) or len(node) == 0:
            raise ValueError(f"tt.load: unexpected node {node!r} in the structure")
        if "tensor" in node:
            return self._tensor(node)
        if len(node) > 2 or not node.keys() <= {"ndarray", "scalar", "float", "dtype", "device", "dict",
                                                 "ordered_dict", "tuple", "module", "global"}:
            raise ValueError(f"tt.load: unknown entry {sorted(node)} in the structure")
        if "ndarray" in node:
            array = self._array(node["ndarray"]).copy()
            return array[()] if node.get("scalar") else array
        (tag, value), = node.items()
        if tag == "module":
            return self._modules.module(value)
        if tag == "global":
            return self._modules.global_(value)
        if tag == "float":
            if value not in ("inf", "-inf", "nan"):
                raise ValueError(f"tt.load: bad float {value!r}")
            return float(value)
        if tag == "dtype":
            if not isinstance(value, str) or value not in D._NAMES:
                raise ValueError(f"tt.load: unknown dtype {value!r}")
            return D._NAMES[value]
        if tag == "device":
            return _device_cls(value)
        if tag == "tuple":
            return tuple(self.decode(v) for v in self._list(value))
        pairs = [(self._hashable(k), self.decode(v)) for k, v in (self._pair(p) for p in self._list(value))]
        return OrderedDict(pairs) if tag == "ordered_dict" else dict(pairs)

    @staticmethod
    def _list(value: Any) -> list:
        if not isinstance(value, list):
            raise ValueError(f"tt.load: expected a list in the structure, found {type(value).__name__}")
        return value

    @staticmethod
    def _pair(p: Any) -> tuple:
        if not (isinstance(p, list) and len(p) == 2):
            raise ValueError(f"tt.load: a dict item must be [key, value], found {p!r}")
        return p[0], p[1]

    def _hashable(self, key: Any) -> Any:
        value = self.decode(key)
        if isinstance(value, (list, dict)):
            raise ValueError(f"tt.load: unhashable dict key {key!r}")
        return value

    def _tensor(self, node: dict) -> Tensor:
        from .creation import from_numpy

        if not node.keys() <= {"tensor", "requires_grad", "device"}:
            raise ValueError(f"tt.load: unknown tensor fields {sorted(node)}")
        name = node["tensor"]
        saved = node.get("device", "cpu")
        requires_grad = bool(node.get("requires_grad", False))
        key = (name, saved, requires_grad)
        t = self._made.get(key)
        if t is None:
            t = from_numpy(self._array(name).copy())
            t = _resolve_location(self.map_location, str(saved))(t)
            if requires_grad:
                t = t.detach().requires_grad_(True)
            self._made[key] = t
        return t


def load(f: PathOrFile, map_location=None, *, weights_only: bool = True, mmap: bool | None = None) -> Any:
    """Read what tt.save wrote, a plain safetensors file ({name: tensor}), or a PyTorch zip checkpoint.

    map_location: None (each tensor back on the device it was saved from), a device or string (all tensors
    there), a dict {saved: new} of device names, or fn(tensor, saved) -> tensor.
    weights_only: a file holding whole modules is rebuilt only from classes in `tt.serialization`'s safe
    globals (anything else raises pickle.UnpicklingError naming the class); weights_only=False also imports the
    nn.Module subclasses the file names. Nothing is unpickled either way. A torch.save zip checkpoint is read
    with weights_only semantics (only state-dict contents and `tt.serialization`'s allow-list; anything else
    raises pickle.UnpicklingError naming it); weights_only=False is refused for it, since tritensor never
    unpickles arbitrary objects. Tensors of one saved storage share memory as they did when saved.
    """
    import safetensors

    data, where = _read(f)
    if torch_checkpoint.is_zip(data):
        return torch_checkpoint.load_zip(data, where, lambda t, saved: _resolve_location(map_location, saved)(t),
                                         weights_only=weights_only)
    header = _header(data, where)
    try:
        entries = safetensors.deserialize(data)
    except Exception as exc:  # the Rust parser's SafetensorError: corrupt offsets, dtypes, sizes
        raise ValueError(f"{where} is not a valid safetensors file: {exc}") from None
    arrays: dict[str, np.ndarray] = {}
    for name, info in entries:
        dtype = _SAFETENSORS_DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{where}: tensor {name!r} has dtype {info['dtype']}, which tritensor has no dtype for")
        arrays[name] = np.frombuffer(info["data"], dtype).reshape(info["shape"])
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise ValueError(f"{where}: __metadata__ is not a JSON object")
    decoder = _Decoder(arrays, map_location, weights_only)
    if metadata.get("format") != FORMAT or _STRUCTURE_KEY not in metadata:
        return {name: decoder._tensor({"tensor": name}) for name in arrays}  # a plain safetensors file
    if metadata.get("version") != VERSION:
        raise ValueError(f"{where}: written by tt.save format version {metadata.get('version')!r}; this tritensor "
                         f"reads version {VERSION}")
    try:
        structure = json.loads(metadata[_STRUCTURE_KEY])
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: the tritensor structure is not JSON: {exc}") from None
    return decoder.decode(structure)
