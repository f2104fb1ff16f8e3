"""Whole modules in tt.save / tt.load (`tt.save(model, f)`), without pickle.

A module is written as a JSON node of the tt.save structure (`tritensor.io`):

    {"module": {"id": 0, "class": "pkg.mod:Qualname", "training": true,
                "parameters": [[name, tensor-node | null], ...], "buffers": [[name, tensor-node | null], ...],
                "non_persistent": [buffer names], "modules": [[name, module-node | null], ...],
                "attributes": [[name, value-node], ...]}}

Its tensors are the file's tensors (one stored copy per tensor object, so tied weights come back as one
object); a module met twice is written once and referenced as {"module": {"ref": id}}. The attributes other
than those four registries must be plain data: numbers, strings, bool, None, tuples, lists, dicts with str (or
int) keys, tt.dtype, tt.device, tensors and modules; a module-level function or class is stored by name
({"global": "pkg.mod:qualname"}, e.g. TransformerEncoderLayer's `activation`, ResNet's `_norm_layer`).
Anything else (a lambda, a bound method, an open file, an arbitrary object) is refused at save time, naming
the attribute's path.

Loading rebuilds a module only from a class the caller allows, as torch.load's weights_only does: one in
`tt.serialization`'s safe globals, or, with `weights_only=False` ("trust the classes this file names"), one
that importlib finds under the stored name. Either way the class must subclass tritensor's nn.Module, and a
global stored as an attribute must be allow-listed, or (weights_only=False) a Module subclass or one of
tritensor's own functions; nothing else is resolved and nothing from the file is ever called. The module is
made as pickle would make it, without pickle: `cls.__new__(cls)`, `Module.__init__` for the base state, then
the class's `__setstate__` with the stored state (Module's marks the parameters as nn.Parameter).

This module sits below `tritensor.io` and never imports `tritensor.nn`: modules are recognised duck-typed
(an object whose `__dict__` holds `_parameters`, `_buffers` and `_modules` dicts) and nn.Module is found in
`sys.modules` (a class subclassing it has imported it).
"""

from __future__ import annotations

import importlib
import io as _io
import pickle
import sys
import types
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from . import dtypes as D
from . import serialization
from .device import device as _device_cls
from .tensor import Tensor

_REGISTRIES = ("_parameters", "_buffers", "_modules")
_STRUCTURAL = frozenset({"training", *_REGISTRIES, "_non_persistent_buffers_set"})
_NODE_KEYS = frozenset({"id", "class", "training", "parameters", "buffers", "non_persistent", "modules",
                        "attributes"})
_MODULE_BASE = ("tritensor.nn.modules.module", "Module")

Encode = Callable[[Any, list[str]], Any]
Decode = Callable[[Any], Any]


def is_module(obj: Any) -> bool:
    """Whether `obj` is an nn.Module, duck-typed: its `__dict__` holds `_parameters`, `_buffers`, `_modules` dicts."""
    d = getattr(obj, "__dict__", None)
    return not isinstance(obj, type) and isinstance(d, dict) and all(isinstance(d.get(k), dict) for k in _REGISTRIES)


def _module_base() -> type | None:
    """tritensor's nn.Module if it is imported (it is whenever a subclass of it exists), else None."""
    found = getattr(sys.modules.get(_MODULE_BASE[0]), _MODULE_BASE[1], None)
    return found if isinstance(found, type) else None


def _is_module_class(obj: Any) -> bool:
    base = _module_base()
    return isinstance(obj, type) and base is not None and issubclass(obj, base)


def _global_name(obj: Any) -> str | None:
    """"module:qualname" if `obj` is found again under that name (a module-level function or class), else None.

    A function wrapped with functools.wraps names the wrapped function's module; the module that defines the
    wrapper (its `__globals__`) is tried after it, then the imported modules, shortest name first (tt.relu,
    an autocast wrapper, is found as "tritensor:relu")."""
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(qualname, str) or "<" in qualname:
        return None
    modules = [getattr(obj, "__module__", None), getattr(obj, "__globals__", {}).get("__name__")]
    for module in modules:
        if not isinstance(module, str):
            continue
        found: Any = sys.modules.get(module)
        for part in qualname.split("."):
            found = getattr(found, part, None)
        if found is obj:
            return f"{module}:{qualname}"
    if "." not in qualname:
        for module in sorted((m for m in list(sys.modules) if isinstance(m, str)), key=lambda m: (len(m), m)):
            if getattr(sys.modules.get(module), qualname, None) is obj:
                return f"{module}:{qualname}"
    return None


def _allow_listed(name: str) -> tuple[bool, Any]:
    """(found, object): an allow-listed object stored under `name` ("module:qualname")."""
    found, obj = serialization._lookup(name.replace(":", "."))
    if found:
        return found, obj
    for entry in serialization.get_safe_globals():
        obj = entry[0] if isinstance(entry, tuple) else entry
        if _global_name(obj) == name:
            return True, obj
    return False, None


def _describe(value: Any) -> str:
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.LambdaType)):
        return "a function"
    if isinstance(value, types.MethodType):
        return "a bound method"
    if isinstance(value, _io.IOBase):
        return "an open file"
    return f"a {type(value).__module__}.{type(value).__qualname__} object"


class ModuleEncoder:
    """Writes modules as JSON nodes; `encode(value, path)` is tt.save's encoder, used for tensors and plain leaves."""

    def __init__(self, encode: Encode) -> None:
        self._encode = encode
        self._ids: dict[int, int] = {}
        self._keep: list = []  # the modules walked, alive so their ids stay unique
        self._root_is_module = False

    def _where(self, path: list[str]) -> str:
        return ".".join(["model", *path] if self._root_is_module else path) or "<root>"

    def encode(self, module: Any, path: list[str]) -> dict:
        """The node of `module` (found at `path` of the saved object)."""
        if not self._ids and not path:
            self._root_is_module = True
        n = self._ids.get(id(module))
        if n is not None:
            return {"module": {"ref": n}}
        n = self._ids[id(module)] = len(self._ids)
        self._keep.append(module)
        cls = type(module)
        if "<" in cls.__qualname__:
            raise TypeError(f"tt.save: {self._where(path)} is a {cls.__qualname__}, a class defined inside a "
                            "function, which tt.load could not find by name; define it at module level or save "
                            "its state_dict() instead")
        d = module.__dict__

        def items(registry: str) -> list:
            return [[k, None if v is None else self._encode(v, [*path, k])] for k, v in d[registry].items()]

        return {"module": {
            "id": n, "class": f"{cls.__module__}:{cls.__qualname__}", "training": bool(d.get("training", True)),
            "parameters": items("_parameters"), "buffers": items("_buffers"),
            "non_persistent": sorted(d.get("_non_persistent_buffers_set", ())), "modules": items("_modules"),
            "attributes": [[k, self._value(v, [*path, k])] for k, v in d.items() if k not in _STRUCTURAL]}}

    def _value(self, value: Any, path: list[str]) -> Any:
        """An attribute's node: plain data, tensors, modules, or a function/class by name; TypeError otherwise."""
        if value is None or isinstance(value, (bool, int, float, str, Tensor, np.ndarray, np.generic, D.dtype,
                                               _device_cls)) or is_module(value):
            return self._encode(value, path)
        if type(value) is list:
            return [self._value(v, [*path, str(i)]) for i, v in enumerate(value)]
        if type(value) is tuple:
            return {"tuple": [self._value(v, [*path, str(i)]) for i, v in enumerate(value)]}
        if type(value) in (dict, OrderedDict):
            for k in value:
                if not isinstance(k, (str, int)) or isinstance(k, bool):
                    raise TypeError(f"tt.save: {self._where(path)} is a dict with key {k!r}; a module's dict "
                                    "attributes need str (or int) keys")
            items = [[k, self._value(v, [*path, str(k)])] for k, v in value.items()]
            return {"ordered_dict" if type(value) is OrderedDict else "dict": items}
        name = _global_name(value) if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)) \
            else None
        if name is not None:
            return {"global": name}
        raise TypeError(f"tt.save: {self._where(path)} is {_describe(value)}, not plain data; a module is saved as its "
                        "class name, parameters, buffers, submodules and attributes holding numbers, strings, bool, "
                        "None, tuples, lists, dicts with str keys, tt.dtype, tt.device, tensors or module-level "
                        "functions and classes (by name). Delete the attribute before saving, or save "
                        "model.state_dict() instead")


def _refused(name: str, what: str) -> pickle.UnpicklingError:
    short = name.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
    return pickle.UnpicklingError(
        f"Weights only load failed. Unsupported global: GLOBAL {name.replace(':', '.')} ({what}) was not an allowed "
        f"global by default. Use `tt.serialization.add_safe_globals([{short}])` or the "
        f"`tt.serialization.safe_globals([{short}])` context manager to allow-list it, or "
        "tt.load(..., weights_only=False) if you trust the classes this file names.")


class ModuleDecoder:
    """Rebuilds module and global nodes; `decode(node)` is tt.load's decoder (tensors, plain data)."""

    def __init__(self, decode: Decode, weights_only: bool) -> None:
        self._decode = decode
        self._weights_only = weights_only
        self._made: dict[int, Any] = {}

    def _resolve(self, name: Any, what: str) -> Any:
        """The object stored as "module:qualname": from the allow-list, or imported when weights_only=False."""
        if not isinstance(name, str) or name.count(":") != 1 or not all(name.split(":")):
            raise ValueError(f"tt.load: bad {what} name {name!r} in the structure (expected 'module:qualname')")
        module, qualname = name.split(":")
        found, obj = _allow_listed(name)
        if found:
            return obj
        if self._weights_only:
            raise _refused(name, what)
        try:
            obj = importlib.import_module(module)
            for part in qualname.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise pickle.UnpicklingError(f"tt.load: can't find {what} {name}: {exc}") from None
        if _global_name(obj) != name:
            raise pickle.UnpicklingError(f"tt.load: {name} is not a module-level class or function of that name")
        return obj

    def global_(self, name: Any) -> Any:
        """A function or class stored by name as a module attribute."""
        obj = self._resolve(name, "attribute")
        if self._weights_only or _allow_listed(name)[0]:
            return obj
        if _is_module_class(obj) or (isinstance(obj, types.FunctionType) and name.split(".")[0] == "tritensor"):
            return obj
        raise _refused(name, "not a Module subclass or a tritensor function")

    def module(self, node: Any) -> Any:
        """The module a {"module": node} entry describes, rebuilt from its allowed class."""
        if not isinstance(node, dict):
            raise ValueError(f"tt.load: a module entry must be an object, found {node!r}")
        if node.keys() == {"ref"}:
            if node["ref"] not in self._made or isinstance(node["ref"], bool):
                raise ValueError(f"tt.load: reference to unknown module {node['ref']!r}")
            return self._made[node["ref"]]
        if not node.keys() == _NODE_KEYS or type(node["id"]) is not int or node["id"] in self._made:
            raise ValueError(f"tt.load: bad module entry with fields {sorted(node)}")
        cls = self._resolve(node["class"], "class")
        if not _is_module_class(cls):
            raise pickle.UnpicklingError(f"tt.load: {node['class']} is not a subclass of tritensor.nn.Module; tt.load "
                                         "rebuilds modules only from Module subclasses and calls nothing else")
        obj = cls.__new__(cls)
        _module_base().__init__(obj)
        self._made[node["id"]] = obj
        state = dict(obj.__dict__)
        state.update(training=bool(node["training"]),
                     _parameters=self._registry(node["parameters"], "parameter", Tensor),
                     _buffers=self._registry(node["buffers"], "buffer", Tensor),
                     _non_persistent_buffers_set={str(n) for n in self._list(node["non_persistent"])},
                     _modules=self._registry(node["modules"], "submodule", None))
        for name, value in self._pairs(node["attributes"]):
            if name.startswith("__") or name in _STRUCTURAL:
                raise ValueError(f"tt.load: a module may not set attribute {name!r}")
            state[name] = self._decode(value)
        obj.__setstate__(state)
        return obj

    def _registry(self, items: Any, kind: str, want: type | None) -> OrderedDict:
        out: OrderedDict = OrderedDict()
        for name, value in self._pairs(items):
            v = None if value is None else self._decode(value)
            if v is not None and not (isinstance(v, want) if want is not None else is_module(v)):
                raise ValueError(f"tt.load: {kind} {name!r} is a {type(v).__name__}")
            out[name] = v
        return out

    @staticmethod
    def _list(value: Any) -> list:
        if not isinstance(value, list):
            raise ValueError(f"tt.load: expected a list in a module entry, found {type(value).__name__}")
        return value

    def _pairs(self, value: Any) -> list[tuple[str, Any]]:
        pairs = self._list(value)
        if not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and "." not in p[0] for p in pairs):
            raise ValueError("tt.load: a module's entries must be [name, value] pairs with dot-free str names")
        return [(p[0], p[1]) for p in pairs]
