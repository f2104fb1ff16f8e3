"""where (select by a condition), forward and backward, on the elementwise map kernel.

The conventions every family on the map kernel follows are in kernels/map_ops.py.

The condition is bool (or uint8); either value may be a DeviceArray of out's dtype or a Python number.

`OPS` maps "where" to its `map_ops.BinaryOp`: where(out, cond, a, b) / where_backward(grad_a, grad_b,
grad, cond), whose reference returns (grad_a, grad_b).
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from .device_array import DeviceArray
from .elementwise import launch_map
from .map_ops import BinaryOp, Operand, encode_scalar, is_array, map_specs, scalar_param


# ================================================================ where
@triton.jit
def _where(c, a, b, p0, p1):
    return tl.where(c != 0, a, b)


@triton.jit
def _where_scalar_a(c, b, pa, p1):
    return tl.where(c != 0, scalar_param(pa, b), b)


@triton.jit
def _where_scalar_b(c, a, pb, p1):
    return tl.where(c != 0, a, scalar_param(pb, a))


@triton.jit
def _where_scalars(c, out, pa, pb):
    # `out` is read only for its dtype: both values are scalars.
    return tl.where(c != 0, scalar_param(pa, out), scalar_param(pb, out))


@triton.jit
def _where_backward(grad, c, p0, p1):
    zero = tl.zeros_like(grad)
    return tl.where(c != 0, grad, zero), tl.where(c != 0, zero, grad)


@triton.jit
def _where_grad_a(grad, c, p0, p1):
    return tl.where(c != 0, grad, tl.zeros_like(grad))


@triton.jit
def _where_grad_b(grad, c, p0, p1):
    return tl.where(c != 0, tl.zeros_like(grad), grad)


def where(out: DeviceArray, cond: DeviceArray, a: Operand, b: Operand) -> None:
    """out = a where cond else b; cond bool (or uint8); a and b DeviceArrays of out's dtype or Python
    numbers (rounded to out's dtype)."""
    if is_array(a) and is_array(b):
        launch_map(_where, [out], [cond, a, b])
    elif is_array(b):
        launch_map(_where_scalar_a, [out], [cond, b], encode_scalar(a, out.dtype))
    elif is_array(a):
        launch_map(_where_scalar_b, [out], [cond, a], encode_scalar(b, out.dtype))
    else:
        launch_map(_where_scalars, [out], [cond, out], encode_scalar(a, out.dtype),
                   encode_scalar(b, out.dtype))


def where_backward(grad_a: DeviceArray | None, grad_b: DeviceArray | None, grad: DeviceArray,
                   cond: DeviceArray) -> None:
    """grad_a = grad where cond else 0, grad_b = the rest, in one pass (either may be None)."""
    if grad_a is not None and grad_b is not None:
        launch_map(_where_backward, [grad_a, grad_b], [grad, cond])
    elif grad_a is not None:
        launch_map(_where_grad_a, [grad_a], [grad, cond])
    elif grad_b is not None:
        launch_map(_where_grad_b, [grad_b], [grad, cond])


def where_ref(cond: np.ndarray, a, b) -> np.ndarray:
    return np.where(cond, a, b)


def where_backward_ref(grad: np.ndarray, cond: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g, c = np.broadcast_arrays(grad, cond)
    zero = np.zeros((), grad.dtype)
    return np.where(c, g, zero), np.where(c, zero, g)


# ================================================================ registry
OPS: dict[str, BinaryOp] = {"where": BinaryOp(where, where_backward, where_ref, where_backward_ref)}


# ================================================================ AOT / tuning declarations
# (OP, inputs, outputs, dtype, p0 type, input dtypes, output dtype): every OP once, plus the dtypes
# that take another code path. Bool is "u1", as the launcher names a bool DeviceArray.
_SPEC_OPS = [
    (_where, 3, 1, "fp32", "fp32", ["u1", "fp32", "fp32"], None),
    (_where, 3, 1, "bf16", "fp32", ["u1", "bf16", "bf16"], None),
    (_where_scalar_a, 2, 1, "fp64", "i64", ["u1", "fp64"], None),
    (_where_scalar_b, 2, 1, "i32", "i32", ["u1", "i32"], None),
    (_where_scalars, 2, 1, "fp16", "fp32", ["u1", "fp16"], None),
    (_where_backward, 2, 2, "fp32", "fp32", ["fp32", "u1"], None),
    (_where_grad_a, 2, 1, "fp16", "fp32", ["fp16", "u1"], None),
    (_where_grad_b, 2, 1, "fp64", "fp32", ["fp64", "u1"], None),
]
SPECS = map_specs("where", _SPEC_OPS, {_where_scalars})
