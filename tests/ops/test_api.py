"""The one registration mechanism: every ops module's __all__ and METHODS bound by ops/api.py, duplicates
refused, and no autograd Function sharing a class name with the public API."""

import importlib
import inspect
import pkgutil
import types

import pytest

import tritensor as tt
from tritensor.autograd.function import Function
from tritensor.ops import api


def _module(name: str, **attrs) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(module, key, value)
    return module


def test_a_method_declared_twice_is_an_import_error():
    first = _module("fake.first", METHODS={"_api_test_method": lambda self: 1})
    second = _module("fake.second", METHODS={"_api_test_method": lambda self: 2})
    try:
        with pytest.raises(ImportError, match="Tensor._api_test_method is declared by both fake.first and "
                                              "fake.second"):
            api._bind([first, second])
    finally:
        if hasattr(tt.Tensor, "_api_test_method"):
            delattr(tt.Tensor, "_api_test_method")


def test_a_public_name_defined_twice_is_an_import_error():
    first = _module("fake.first", __all__=["_api_test_fn"], _api_test_fn=lambda: 1)
    second = _module("fake.second", __all__=["_api_test_fn"], _api_test_fn=lambda: 2)
    try:
        with pytest.raises(ImportError, match="tt._api_test_fn is defined by both"):
            api._bind([first, second])
    finally:
        api.__dict__.pop("_api_test_fn", None)


def test_every_ops_module_is_bound():
    package = importlib.import_module("tritensor.ops")
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"tritensor.ops.{info.name}")
        for name in getattr(module, "__all__", ()):
            bound, fn = getattr(tt, name), getattr(module, name)
            # a function is bound wrapped (ops/autocast.py: autocast for a policy op, and the export tracer's hook)
            assert bound is fn or bound.__wrapped__ is fn and bound._op_name, f"tt.{name} is not {fn}"
        for name, fn in getattr(module, "METHODS", {}).items():
            bound = tt.Tensor.__dict__[name]
            wrapped = getattr(bound, "__wrapped__", None)
            assert bound is fn or wrapped is fn or isinstance(fn, (property, staticmethod)), name


def _public_classes() -> dict:
    found = {}
    for package in (tt, tt.nn, tt.optim, tt.data, tt.nn.functional, tt.autograd):
        for name in dir(package):
            obj = getattr(package, name, None)
            if inspect.isclass(obj):
                found.setdefault(name, obj)
    return found


def _subclasses(cls) -> set:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _subclasses(sub)
    return out


def test_no_autograd_function_shares_a_name_with_a_public_class():
    public = _public_classes()
    clashes = sorted(f.__name__ for f in _subclasses(Function)
                     if f.__module__.startswith("tritensor.") and f.__name__ in public
                     and public[f.__name__] is not f)
    assert clashes == []
