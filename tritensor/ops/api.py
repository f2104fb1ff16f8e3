"""The public functional API (`tt.add`, `tt.sum`, ...) and Tensor methods, gathered from the op modules.

Each op module lists its public functions in `__all__` and the Tensor methods it adds in `METHODS`
(method name -> function taking the tensor first); adding an op family means adding its module here.
"""

import importlib

from ..tensor import Tensor

MODULES = ["copy", "elementwise", "reduction", "views", "unary", "activations", "binary", "comparison", "scan",
           "sort", "indexing", "shape", "matmul"]

__all__: list[str] = []
for _name in MODULES:
    _module = importlib.import_module(f".{_name}", __package__)
    for _fn in getattr(_module, "__all__", ()):
        globals()[_fn] = getattr(_module, _fn)
        __all__.append(_fn)
    for _method, _fn in getattr(_module, "METHODS", {}).items():
        setattr(Tensor, _method, _fn)
