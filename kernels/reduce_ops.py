"""What the row-reduction families (reduction, statistics, extrema) share; no kernels of its own.

`ReduceOp` is the registry entry each family's `OPS` maps an op name to; the helpers serve the NumPy
references: forward (x, axis tuple, keepdims, ...) -> np.ndarray, computed in the accumulation precision
PyTorch uses and cast back to the result dtype; backward (grad, x, ..., axis, keepdims) -> (grad_x,).
The kernels themselves and every specialisation's KernelSpec are in kernels/reduction.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ReduceOp:
    """One reduction: launch wrappers and NumPy references (see each function's docstring).

    `saves` names what the backward takes after (grad_x, grad): "x", "result", "indices", "correction"
    or "p" (the latter two passed by keyword). `result` says the output dtype rule.
    """

    forward: object
    ref: object
    result: str  # "same" (x's dtype), "int64", "bool", "int64 for ints/bool else same", "float"
    backward: object = None
    backward_ref: object = None
    saves: tuple = ()
    params: tuple = field(default=())  # keyword parameters of forward (correction, p)


def float_acc(x: np.ndarray) -> tuple[np.ndarray, np.dtype]:
    """x in fp32 (fp64 stays fp64) and the dtype to cast results back to."""
    out = x.dtype if x.dtype.kind == "f" or x.dtype.name == "bfloat16" else np.dtype(np.float32)
    return x.astype(np.float64 if x.dtype == np.float64 else np.float32), out


def axis_tuple(axis) -> tuple:
    return (axis,) if isinstance(axis, int) else tuple(axis)


def expand_reduced(r: np.ndarray, x: np.ndarray, axis, keepdims: bool) -> np.ndarray:
    """A reduced array (result or grad) broadcast back against x."""
    r = np.asarray(r)
    if not keepdims:
        r = np.expand_dims(r, tuple(a % x.ndim for a in axis_tuple(axis)))
    return np.broadcast_to(r, x.shape)


def float_like(x: np.ndarray, *arrays):
    dt = np.float64 if x.dtype == np.float64 else np.float32
    return [np.asarray(a).astype(dt) for a in arrays]
