"""The public functional API (`tt.add`, `tt.sum`, ...) and every Tensor method, bound in one place.

Each module of this package is one op family. It lists its public functions in `__all__` and the Tensor
methods, operators and properties it declares in `METHODS` (name -> function taking the tensor first, or a
`property`). Importing this module imports every op module of the package and binds all of them; a name
declared twice is an error, so one op has exactly one registration. Binding is also where autocast applies:
every op function is bound wrapped (ops/autocast.py) here, and only here (the wrapper casts the ops
autocast_policy names, and lets the export tracer of tritensor.onnx see each call): the op modules keep the
plain functions for their own composites, and the layers above call ops through this module's names.
A module may also list `NAMESPACES` ({"linalg": ["solve", ...]}): functions bound, wrapped the same way, into
a namespace of their own (`tt.linalg.solve`, `tt.fft.rfft`, `tt.special.erfinv`, `tt.sparse.mm`); the thin
modules tritensor/linalg.py, fft.py, special.py, sparse.py read them with `namespace(name)`.
Adding an op family means adding its module to this package: nothing else needs editing. Shared helpers
(dispatch, broadcast, map_ops, index_core) are modules that declare neither, so binding them adds nothing.
"""

from __future__ import annotations

import importlib
import pkgutil

from .. import creation
from ..autograd import tensor_methods as autograd_methods
from ..tensor import Tensor
from .autocast import autocast_op


def _op_modules() -> list:
    package = importlib.import_module(__package__)
    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name != "api")
    return [importlib.import_module(f"{__package__}.{name}") for name in names]


def _autocast_wrappers(modules: list) -> dict[int, object]:
    """id(fn) -> its autocast/trace wrapper, for every function bound: one wrapper per function, so
    an alias (tt.arcsin of tt.asin, Tensor.__pow__ of pow) is the same object as the op and casts as it does."""
    wrappers: dict[int, object] = {}
    for module in modules:
        named = [(name, getattr(module, name)) for name in getattr(module, "__all__", ())]
        named += [(name, fn) for name, fn in getattr(module, "METHODS", {}).items() if not isinstance(fn, property)]
        for name, fn in named:
            if module is autograd_methods and name.startswith("_") and not name.startswith("__"):
                continue  # the engine's own per-op helpers (_edge, _grad_node): not ops, nothing to cast or see
            if id(fn) not in wrappers:
                wrapped = autocast_op(name, fn)
                if wrapped is not fn:
                    wrappers[id(fn)] = wrapped
    return wrappers


def _bind(modules: list) -> list[str]:
    """Bind every module's METHODS onto Tensor and return the public names; duplicates raise."""
    public: dict[str, str] = {}
    methods: dict[str, str] = {}
    wrappers = _autocast_wrappers(modules)
    for module in modules:
        for name in getattr(module, "__all__", ()):
            fn = getattr(module, name)
            if name in public:  # a re-export of the same op (which may already be bound wrapped)
                bound = globals()[name]
                if fn is not bound and fn is not getattr(bound, "__wrapped__", None):
                    raise ImportError(f"tt.{name} is defined by both {public[name]} and {module.__name__}")
                fn = bound
            else:
                public[name] = module.__name__
                fn = wrappers.get(id(fn), fn)
            globals()[name] = fn
        for name, fn in getattr(module, "METHODS", {}).items():
            if name in methods:
                raise ImportError(f"Tensor.{name} is declared by both {methods[name]} and {module.__name__}")
            methods[name] = module.__name__
            setattr(Tensor, name, wrappers.get(id(fn), fn))
    return list(public)


# The layers below ops declare Tensor methods too (creation: tt.Tensor(...), new_zeros; autograd: backward, ...).
# tt.zeros_like(x) & co. are bound wrapped (they read a tensor, so export traces them: the constant follows x's
# shape); tritensor/__init__.py imports the other creation functions plainly.
__all__: list[str] = [name for name in _bind([creation, autograd_methods, *_op_modules()])
                      if name not in creation.__all__ or name.endswith("_like")]


def _namespaces(modules: list) -> dict[str, dict[str, object]]:
    """namespace -> {name: wrapped function} from every module's NAMESPACES; a name declared twice raises."""
    spaces: dict[str, dict[str, object]] = {}
    for module in modules:
        for space, names in getattr(module, "NAMESPACES", {}).items():
            bound = spaces.setdefault(space, {})
            for name in names:
                if name in bound:
                    raise ImportError(f"tt.{space}.{name} is defined twice (again by {module.__name__})")
                fn = getattr(module, name)
                # The same function public as tt.X too (tt.det, tt.linalg.det) is the one object bound there.
                top = globals().get(name)
                bound[name] = top if top is not None and getattr(top, "__wrapped__", None) is fn \
                    else autocast_op(name, fn, namespace=space)
    return spaces


_NAMESPACES = _namespaces(_op_modules())


def namespace(name: str) -> dict[str, object]:
    """The functions of the namespace `name` (`tt.linalg`, `tt.fft`, ...), as bound: {public name: function}."""
    return dict(_NAMESPACES.get(name, {}))
