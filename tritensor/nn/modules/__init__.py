"""tritensor.nn.modules: the layer classes, laid out as torch.nn.modules (module, container, linear, ...).

Each module of this package lists its layer classes in `__all__`; this package collects them, so adding a
family of layers means adding its module. A name declared by two modules is an ImportError.
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
        for name in getattr(module, "__all__", ()):
            if name in names:
                raise ImportError(f"nn.{name} is defined by both {names[name]} and {module.__name__}")
            names[name] = module.__name__
            globals()[name] = getattr(module, name)
    return sorted(names)


__all__ = _collect()
