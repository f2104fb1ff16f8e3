"""tritensor.nn.functional: PyTorch's torch.nn.functional.

One module per area (activation, loss, normalization, ...); each lists its public functions in `__all__`
and this package collects them all, so adding an area means adding its module. A name declared by two
modules is an ImportError. Every function is an op of tritensor.ops under its PyTorch name, or the thin
Python layer PyTorch itself keeps in torch.nn.functional (argument checks, deprecated flags, warnings).
"""

from __future__ import annotations

import importlib
import pkgutil


def _collect() -> list[str]:
    names: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name in module.__all__:
            if name in names:
                raise ImportError(f"nn.functional.{name} is defined by both {names[name]} and {module.__name__}")
            names[name] = module.__name__
            globals()[name] = getattr(module, name)
    return sorted(names)


__all__ = _collect()
