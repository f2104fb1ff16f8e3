"""Comparisons on the elementwise map kernel: eq/ne/lt/le/gt/ge and isclose.

The conventions every family on the map kernel follows are in kernels/map_ops.py.

Predicates write `out` as given (bool for PyTorch's result; another dtype gets 0/1). The second
operand of eq...ge may be a Python number (a scalar on the left is the Tensor layer's to swap:
2 < x is x > 2); isclose takes its tolerances as numbers.

`OPS` maps each op name to a `map_ops.BinaryOp` (forward, None, forward_ref, None): predicates are not
differentiable.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from tritensor import dtypes

from .device_array import DeviceArray
from .elementwise import launch_map
from .map_ops import (
    BinaryOp,
    Operand,
    encode_scalar,
    is_float_np,
    launch_tensor_or_scalar,
    map_specs,
    opmath,
    scalar_param,
    scalar_ref,
)


# ================================================================ comparisons
@triton.jit
def _eq(a, b, p0, p1):
    return a == b


@triton.jit
def _ne(a, b, p0, p1):
    return a != b


@triton.jit
def _lt(a, b, p0, p1):
    return a < b


@triton.jit
def _le(a, b, p0, p1):
    return a <= b


@triton.jit
def _gt(a, b, p0, p1):
    return a > b


@triton.jit
def _ge(a, b, p0, p1):
    return a >= b


@triton.jit
def _eq_scalar(a, b, p1):
    return a == scalar_param(b, a)


@triton.jit
def _ne_scalar(a, b, p1):
    return a != scalar_param(b, a)


@triton.jit
def _lt_scalar(a, b, p1):
    return a < scalar_param(b, a)


@triton.jit
def _le_scalar(a, b, p1):
    return a <= scalar_param(b, a)


@triton.jit
def _gt_scalar(a, b, p1):
    return a > scalar_param(b, a)


@triton.jit
def _ge_scalar(a, b, p1):
    return a >= scalar_param(b, a)


def eq(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    """out = a == b; b a DeviceArray or a Python number (rounded to a's dtype, as PyTorch)."""
    launch_tensor_or_scalar(_eq, _eq_scalar, out, a, b)


def ne(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    """out = a != b (true where either is NaN)."""
    launch_tensor_or_scalar(_ne, _ne_scalar, out, a, b)


def lt(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    launch_tensor_or_scalar(_lt, _lt_scalar, out, a, b)


def le(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    launch_tensor_or_scalar(_le, _le_scalar, out, a, b)


def gt(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    launch_tensor_or_scalar(_gt, _gt_scalar, out, a, b)


def ge(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    launch_tensor_or_scalar(_ge, _ge_scalar, out, a, b)


def eq_ref(a: np.ndarray, b) -> np.ndarray:
    return np.equal(*opmath(a, scalar_ref(a, b)))


def ne_ref(a: np.ndarray, b) -> np.ndarray:
    return np.not_equal(*opmath(a, scalar_ref(a, b)))


def lt_ref(a: np.ndarray, b) -> np.ndarray:
    return np.less(*opmath(a, scalar_ref(a, b)))


def le_ref(a: np.ndarray, b) -> np.ndarray:
    return np.less_equal(*opmath(a, scalar_ref(a, b)))


def gt_ref(a: np.ndarray, b) -> np.ndarray:
    return np.greater(*opmath(a, scalar_ref(a, b)))


def ge_ref(a: np.ndarray, b) -> np.ndarray:
    return np.greater_equal(*opmath(a, scalar_ref(a, b)))


# ================================================================ isclose
@triton.jit
def _round_to(x, ROUND: tl.constexpr):
    # Rounds an fp32 intermediate to the tensor's 16-bit dtype: PyTorch rounds after every op. bf16
    # rounds to nearest-even on the bits (the interpreter's fp32 -> bf16 cast truncates).
    if ROUND == 1:
        return x.to(tl.float16).to(tl.float32)
    elif ROUND == 2:
        bits = x.to(tl.int32, bitcast=True)
        bits = (bits + (0x7FFF + ((bits >> 16) & 1))) & -65536
        return tl.where(x != x, x, bits.to(tl.float32, bitcast=True))
    else:
        return x


@triton.jit
def _isclose_float(a, b, rtol, atol, EQUAL_NAN: tl.constexpr, ROUND: tl.constexpr):
    # PyTorch: a == b, or isfinite(|a - b|) and |a - b| <= atol + |rtol * b| in the tensor's dtype.
    allowed = _round_to(scalar_param(atol, a) + tl.abs(_round_to(scalar_param(rtol, a) * b, ROUND)), ROUND)
    # Equal operands are close whatever |a - b| says: they subtract as 0, so inf - inf is never taken.
    equal = a == b
    actual = tl.abs(_round_to(tl.where(equal, 0.0, a) - tl.where(equal, 0.0, b), ROUND))
    close = equal | ((actual != float("inf")) & (actual <= allowed))
    if EQUAL_NAN:
        return close | ((a != a) & (b != b))
    else:
        return close


@triton.jit
def _isclose_int(a, b, rtol, atol):
    # Integers: |a - b| in the integer dtype (wrapping, as PyTorch), the tolerance in fp32 (the
    # default dtype a Python-float rtol promotes to).
    bf = b.to(tl.float32)
    allowed = scalar_param(atol, bf) + tl.abs(scalar_param(rtol, bf) * bf)
    if a.dtype.is_int_signed():
        actual = tl.abs(a - b)
    else:
        actual = a - b
    return (a == b) | (actual.to(tl.float32) <= allowed)


@triton.jit
def _isclose_math(a, b, rtol, atol, EQUAL_NAN: tl.constexpr, ROUND: tl.constexpr):
    # Bools reach an OP as 0/1 integers: the integer path equals PyTorch's (fp32) one on them.
    if a.dtype.is_floating():
        return _isclose_float(a, b, rtol, atol, EQUAL_NAN, ROUND)
    else:
        return _isclose_int(a, b, rtol, atol)


@triton.jit
def _isclose(a, b, rtol, atol):
    return _isclose_math(a, b, rtol, atol, False, 0)


@triton.jit
def _isclose_equal_nan(a, b, rtol, atol):
    return _isclose_math(a, b, rtol, atol, True, 0)


@triton.jit
def _isclose_fp16(a, b, rtol, atol):
    return _isclose_math(a, b, rtol, atol, False, 1)


@triton.jit
def _isclose_fp16_equal_nan(a, b, rtol, atol):
    return _isclose_math(a, b, rtol, atol, True, 1)


@triton.jit
def _isclose_bf16(a, b, rtol, atol):
    return _isclose_math(a, b, rtol, atol, False, 2)


@triton.jit
def _isclose_bf16_equal_nan(a, b, rtol, atol):
    return _isclose_math(a, b, rtol, atol, True, 2)


_ISCLOSE_OPS = {
    (dtypes.float16, False): _isclose_fp16, (dtypes.float16, True): _isclose_fp16_equal_nan,
    (dtypes.bfloat16, False): _isclose_bf16, (dtypes.bfloat16, True): _isclose_bf16_equal_nan,
}


def isclose(out: DeviceArray, a: DeviceArray, b: DeviceArray, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> None:
    """out = |a - b| <= atol + rtol * |b| (or a == b), as torch.isclose, every dtype.

    Floats compute in their own dtype (16-bit ones rounded after each step, as PyTorch); integer
    and bool inputs compare against an fp32 tolerance (PyTorch's default dtype).
    """
    if rtol < 0 or atol < 0:
        raise ValueError(f"rtol and atol must be non-negative, got rtol={rtol} atol={atol}")
    op = _ISCLOSE_OPS.get((a.dtype, bool(equal_nan)), _isclose_equal_nan if equal_nan else _isclose)
    tol_dtype = a.dtype if a.dtype.is_floating_point else dtypes.float32
    launch_map(op, [out], [a, b], encode_scalar(rtol, tol_dtype, opmath=True),
               encode_scalar(atol, tol_dtype, opmath=True))


def isclose_ref(a: np.ndarray, b: np.ndarray, rtol: float = 1e-05, atol: float = 1e-08,
                equal_nan: bool = False) -> np.ndarray:
    a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
    close = a == b
    if a.dtype == np.bool_:
        a, b = a.astype(np.float32), b.astype(np.float32)
    with np.errstate(all="ignore"):
        if is_float_np(a):
            (a32, b32), dt = opmath(a, b), a.dtype
            rnd = lambda v: v.astype(dt).astype(a32.dtype)  # noqa: E731
            rt, at = (np.asarray(t, dtype=a32.dtype) for t in (rtol, atol))
            allowed = rnd(at + np.abs(rnd(rt * b32)))
            actual = np.abs(rnd(a32 - b32))
            close = close | (np.isfinite(actual) & (actual <= allowed))
            if equal_nan:
                close = close | (np.isnan(a32) & np.isnan(b32))
        else:
            bf = b.astype(np.float32)
            allowed = np.float32(atol) + np.abs(np.float32(rtol) * bf)
            diff = a - b
            actual = np.abs(diff) if np.issubdtype(a.dtype, np.signedinteger) else diff
            close = close | (actual.astype(np.float32) <= allowed)
    return close


# ================================================================ registry
OPS: dict[str, BinaryOp] = {name: BinaryOp(globals()[name], None, globals()[f"{name}_ref"], None)
                            for name in ("eq", "ne", "lt", "le", "gt", "ge", "isclose")}


# ================================================================ AOT / tuning declarations
# (OP, inputs, outputs, dtype, p0 type, input dtypes, output dtype): every OP once, plus the dtypes
# that take another code path. Bool is "u1", as the launcher names a bool DeviceArray.
_SPEC_OPS = [
    (_eq, 2, 1, "fp32", "fp32", None, "u1"), (_ne, 2, 1, "bf16", "fp32", None, "u1"),
    (_lt, 2, 1, "i64", "fp32", None, "u1"), (_le, 2, 1, "u8", "fp32", None, "u1"),
    (_gt, 2, 1, "fp16", "fp32", None, "u1"), (_ge, 2, 1, "fp64", "fp32", None, "u1"),
    (_eq_scalar, 1, 1, "fp64", "i64", None, "u1"), (_eq_scalar, 1, 1, "i32", 1, None, "u1"),
    (_ne_scalar, 1, 1, "u1", "i32", None, "u1"), (_lt_scalar, 1, 1, "fp16", "fp32", None, "u1"),
    (_le_scalar, 1, 1, "i64", "i64", None, "u1"), (_gt_scalar, 1, 1, "fp32", "fp32", None, "u1"),
    (_ge_scalar, 1, 1, "fp64", 1, None, "u1"),
    (_isclose, 2, 1, "fp32", "fp32", None, "u1"), (_isclose, 2, 1, "fp64", "i64", None, "u1"),
    (_isclose, 2, 1, "i32", "fp32", None, "u1"), (_isclose, 2, 1, "u8", "fp32", None, "u1"),
    (_isclose, 2, 1, "u1", "fp32", None, "u1"), (_isclose_equal_nan, 2, 1, "fp32", "fp32", None, "u1"),
    (_isclose_fp16, 2, 1, "fp16", "fp32", None, "u1"),
    (_isclose_fp16_equal_nan, 2, 1, "fp16", "fp32", None, "u1"),
    (_isclose_bf16, 2, 1, "bf16", "fp32", None, "u1"),
    (_isclose_bf16_equal_nan, 2, 1, "bf16", "fp32", None, "u1"),
]
# isclose's OPs take rtol and atol as p0 and p1.
_TWO_SCALARS = {_isclose, _isclose_equal_nan, _isclose_fp16, _isclose_fp16_equal_nan, _isclose_bf16,
                _isclose_bf16_equal_nan}
SPECS = map_specs("comparison", _SPEC_OPS, _TWO_SCALARS)
