"""How nn.functional and nn.modules gather their modules' public names into one namespace."""

from __future__ import annotations

import importlib
import pkgutil


def collect_public(package: str, path: list[str], namespace: dict, label: str, wrap=None) -> list[str]:
    """Import every public module of `package` (found on `path`), put each name of its `__all__` into
    `namespace` and return them sorted; a name two modules declare is an ImportError naming both.

    wrap: `wrap(name, obj)` replaces each object, in `namespace` and in its module (nn.functional applies
    autocast this way, as ops/api.py does for `tt.*`)."""
    owners: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules(path), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        for name in getattr(module, "__all__", ()):
            if name in owners:
                raise ImportError(f"{label}.{name} is defined by both {owners[name]} and {module.__name__}")
            owners[name] = module.__name__
            obj = getattr(module, name)
            if wrap is not None:
                obj = wrap(name, obj)
                setattr(module, name, obj)
            namespace[name] = obj
    return sorted(owners)
