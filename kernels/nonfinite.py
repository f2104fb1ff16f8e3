"""isnan, isinf, isfinite and nan_to_num on the elementwise map kernel.

The conventions every family on the map kernel follows are in kernels/map_ops.py.

The predicates take every dtype (integers and bools are finite) and write `out` as given. nan_to_num
replaces NaN, +inf and -inf by Python numbers (defaults: 0, the dtype's max, its lowest) and copies
integer and bool inputs; it is differentiable (grad * isfinite(x)).

`OPS` maps each op name to a `map_ops.BinaryOp`; nan_to_num_backward(grad_x, grad, x) and its reference,
which returns (grad_x,), are its backward.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import triton
import triton.language as tl

from .device_array import DeviceArray
from .elementwise import launch_map
from .map_ops import BinaryOp, copy_op, encode_scalar, is_float_np, map_specs, opmath, scalar_param


# ================================================================ isnan, isinf, isfinite, nan_to_num
@triton.jit
def _isnan(x, p0, p1):
    return x != x


@triton.jit
def _isinf(x, p0, p1):
    if x.dtype.is_floating():
        return tl.abs(x) == float("inf")
    else:
        return x != x


@triton.jit
def _isfinite_math(x):
    if x.dtype.is_floating():
        return (x == x) & (tl.abs(x) != float("inf"))
    else:
        return x == x


@triton.jit
def _isfinite(x, p0, p1):
    return _isfinite_math(x)


@triton.jit
def _nan_to_num_math(x, nan, posinf, neginf):
    r = tl.where(x != x, nan, x)
    r = tl.where(x == float("inf"), posinf, r)
    return tl.where(x == float("-inf"), neginf, r)


@triton.jit
def _nan_to_num_symmetric(x, nan, posinf):
    # The default (and common) case: neginf == -posinf, so two parameters carry all three values.
    pos = scalar_param(posinf, x)
    return _nan_to_num_math(x, scalar_param(nan, x), pos, -pos)


@triton.jit
def _nan_to_num_zero(x, posinf, neginf):
    return _nan_to_num_math(x, tl.zeros_like(x), scalar_param(posinf, x), scalar_param(neginf, x))


@triton.jit
def _nan_to_num_keep_neginf(x, nan, posinf):
    return _nan_to_num_math(x, scalar_param(nan, x), scalar_param(posinf, x), x)


@triton.jit
def _replace_neginf(y, x, neginf, p1):
    return tl.where(x == float("-inf"), scalar_param(neginf, y), y)


@triton.jit
def _nan_to_num_backward(grad, x, p0, p1):
    # PyTorch: grad * isfinite(x), a product (an inf/NaN grad at a non-finite x gives NaN).
    return grad * _isfinite_math(x).to(grad.dtype)


def isnan(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_isnan, [out], [x])


def isinf(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_isinf, [out], [x])


def isfinite(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_isfinite, [out], [x])


def nan_to_num(out: DeviceArray, x: DeviceArray, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> None:
    """Replace NaN, +inf, -inf (defaults: 0, the dtype's max, the dtype's lowest); integer and bool
    dtypes are copied.

    One pass when nan == 0 or neginf == -posinf (the defaults), otherwise a second pass writes -inf's
    replacement (the map kernel carries two scalars).
    """
    if not x.dtype.is_floating_point:
        launch_map(copy_op, [out], [x])
        return
    info = ml_dtypes.finfo(x.dtype.np)
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    enc = lambda v: encode_scalar(v, x.dtype)  # noqa: E731
    with np.errstate(over="ignore"):
        symmetric = float(np.array(neginf).astype(x.dtype.np)) == -float(np.array(posinf).astype(x.dtype.np))
    if symmetric:
        launch_map(_nan_to_num_symmetric, [out], [x], enc(nan), enc(posinf))
    elif nan == 0:
        launch_map(_nan_to_num_zero, [out], [x], enc(posinf), enc(neginf))
    else:
        launch_map(_nan_to_num_keep_neginf, [out], [x], enc(nan), enc(posinf))
        launch_map(_replace_neginf, [out], [out, x], enc(neginf))


def nan_to_num_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    """grad_x = grad * isfinite(x)."""
    launch_map(_nan_to_num_backward, [grad_x], [grad, x])


def isnan_ref(x: np.ndarray) -> np.ndarray:
    return np.isnan(x) if is_float_np(x) else np.zeros(np.shape(x), bool)


def isinf_ref(x: np.ndarray) -> np.ndarray:
    return np.isinf(x) if is_float_np(x) else np.zeros(np.shape(x), bool)


def isfinite_ref(x: np.ndarray) -> np.ndarray:
    return np.isfinite(x) if is_float_np(x) else np.ones(np.shape(x), bool)


def nan_to_num_ref(x: np.ndarray, nan: float = 0.0, posinf: float | None = None,
                   neginf: float | None = None) -> np.ndarray:
    if not is_float_np(x):
        return np.array(x, copy=True)
    info = ml_dtypes.finfo(x.dtype)
    with np.errstate(over="ignore"):
        vals = [np.array(v).astype(x.dtype) for v in (nan, info.max if posinf is None else posinf,
                                                      info.min if neginf is None else neginf)]
    r = np.where(np.isnan(x), vals[0], x)
    r = np.where(x == np.inf, vals[1], r)
    return np.where(x == -np.inf, vals[2], r).astype(x.dtype)


def nan_to_num_backward_ref(grad: np.ndarray, x: np.ndarray) -> tuple[np.ndarray]:
    g, x32 = opmath(grad, x)
    with np.errstate(invalid="ignore"):
        return ((g * np.isfinite(x32).astype(g.dtype)).astype(grad.dtype),)


# ================================================================ registry
OPS: dict[str, BinaryOp] = {
    **{name: BinaryOp(globals()[name], None, globals()[f"{name}_ref"], None)
       for name in ("isnan", "isinf", "isfinite")},
    "nan_to_num": BinaryOp(nan_to_num, nan_to_num_backward, nan_to_num_ref, nan_to_num_backward_ref),
}


# ================================================================ AOT / tuning declarations
# (OP, inputs, outputs, dtype, p0 type, input dtypes, output dtype): every OP once, plus the dtypes
# that take another code path. Bool is "u1", as the launcher names a bool DeviceArray.
_SPEC_OPS = [
    (_isnan, 1, 1, "fp32", "fp32", None, "u1"), (_isnan, 1, 1, "i32", "fp32", None, "u1"),
    (_isinf, 1, 1, "fp16", "fp32", None, "u1"), (_isinf, 1, 1, "i64", "fp32", None, "u1"),
    (_isfinite, 1, 1, "fp64", "fp32", None, "u1"), (_isfinite, 1, 1, "u8", "fp32", None, "u1"),
    (_nan_to_num_symmetric, 1, 1, "fp32", "fp32", None, None),
    (_nan_to_num_symmetric, 1, 1, "fp64", "i64", None, None),
    (_nan_to_num_zero, 1, 1, "bf16", "fp32", None, None),
    (_nan_to_num_keep_neginf, 1, 1, "fp16", "fp32", None, None),
    (_replace_neginf, 2, 1, "fp32", "fp32", None, None),
    (_nan_to_num_backward, 2, 1, "fp32", "fp32", None, None),
]
# OPs whose p1 is a second scalar of the same kind as p0.
_TWO_SCALARS = {_nan_to_num_symmetric, _nan_to_num_zero, _nan_to_num_keep_neginf}
SPECS = map_specs("nonfinite", _SPEC_OPS, _TWO_SCALARS)
