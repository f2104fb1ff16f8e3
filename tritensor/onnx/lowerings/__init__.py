"""How each op lowers to ONNX: one table, keyed by the op's public name, collected from this package's modules.

Each module (one per op family, mirroring tritensor/ops and nn.functional) declares `LOWERINGS`: op name ->
`lower(g, a, node) -> list[str]`, where `g` is the GraphContext, `a` the call's arguments by parameter name
(defaults applied) and `node` the recorded call; it returns the ONNX names of `node.outputs`, in order. A name
is a `tt.*` function or Tensor method ("view", "__rsub__"), or "F.<name>" for an nn.functional function whose
signature differs from the op of the same name (lookup tries "F.<name>" first, then "<name>"). A name two
modules declare is an ImportError, so every op has exactly one lowering, or none: then the export fails
naming it.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

__all__ = ["LOWERINGS", "lookup"]


def _collect() -> dict[str, Callable]:
    table: dict[str, Callable] = {}
    owners: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name, fn in module.LOWERINGS.items():
            if name in owners:
                raise ImportError(f"the ONNX lowering of '{name}' is defined by both {owners[name]} and "
                                  f"{module.__name__}")
            owners[name] = module.__name__
            table[name] = fn
    return table


LOWERINGS: dict[str, Callable] = _collect()


def lookup(op: str) -> Callable | None:
    """The lowering of a recorded op name ("F.softmax" falls back to "softmax"), or None."""
    found = LOWERINGS.get(op)
    if found is None and op.startswith("F."):
        found = LOWERINGS.get(op[2:])
    return found
