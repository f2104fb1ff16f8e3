"""Logical and bitwise ops on the elementwise map kernel: logical_and/or/xor/not, bitwise_and/or/xor/not
and the shifts bitwise_left_shift / bitwise_right_shift.

The conventions every family on the map kernel follows are in kernels/map_ops.py.

Logical ops take any dtypes and write bool (NaN is true). Bitwise ops take integer and bool dtypes
(the shifts integers only); the second operand of bitwise_and/or/xor and of the shifts may be a
Python int/bool. Shifts by a negative amount or by >= the bit width follow PyTorch.

`OPS` maps each op name to a `map_ops.BinaryOp` (forward, None, forward_ref, None).
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from tritensor import dtypes

from .device_array import DeviceArray
from .elementwise import launch_map
from .map_ops import BinaryOp, Operand, launch_tensor_or_scalar, map_specs, scalar_param, scalar_ref


# ================================================================ logical
@triton.jit
def _logical_and(a, b, p0, p1):
    return (a != 0) & (b != 0)


@triton.jit
def _logical_or(a, b, p0, p1):
    return (a != 0) | (b != 0)


@triton.jit
def _logical_xor(a, b, p0, p1):
    return (a != 0) ^ (b != 0)


@triton.jit
def _logical_not(x, p0, p1):
    return x == 0


def logical_and(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:
    """out = (a != 0) & (b != 0) for any dtypes (NaN is true)."""
    launch_map(_logical_and, [out], [a, b])


def logical_or(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:
    launch_map(_logical_or, [out], [a, b])


def logical_xor(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:
    launch_map(_logical_xor, [out], [a, b])


def logical_not(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_logical_not, [out], [x])


def logical_and_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.logical_and(a, b)


def logical_or_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.logical_or(a, b)


def logical_xor_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.logical_xor(a, b)


def logical_not_ref(x: np.ndarray) -> np.ndarray:
    return np.logical_not(x)


# ================================================================ bitwise
@triton.jit
def _bitwise_and(a, b, p0, p1):
    return a & b


@triton.jit
def _bitwise_or(a, b, p0, p1):
    return a | b


@triton.jit
def _bitwise_xor(a, b, p0, p1):
    return a ^ b


@triton.jit
def _bitwise_and_scalar(a, b, p1):
    return a & scalar_param(b, a)


@triton.jit
def _bitwise_or_scalar(a, b, p1):
    return a | scalar_param(b, a)


@triton.jit
def _bitwise_xor_scalar(a, b, p1):
    return a ^ scalar_param(b, a)


@triton.jit
def _bitwise_not(x, p0, p1):
    return ~x


@triton.jit
def _shift_left_math(a, b):
    # PyTorch: a shift by a negative amount or by >= the bit width gives 0 (LLVM's shl would be poison).
    bits: tl.constexpr = a.dtype.primitive_bitwidth
    bad = (b < 0) | (b >= bits)
    return tl.where(bad, 0, a << tl.where(bad, 0, b).to(a.dtype))


@triton.jit
def _shift_right_math(a, b):
    # PyTorch: out-of-range shifts fill with the sign (0 for unsigned); signed >> is arithmetic.
    bits: tl.constexpr = a.dtype.primitive_bitwidth
    if a.dtype.is_int_signed():
        bad = (b < 0) | (b >= bits - 1)
        return a >> tl.where(bad, bits - 1, b).to(a.dtype)
    else:
        bad = (b < 0) | (b >= bits)
        return tl.where(bad, 0, a >> tl.where(bad, 0, b).to(a.dtype))


@triton.jit
def _shift_left(a, b, p0, p1):
    return _shift_left_math(a, b)


@triton.jit
def _shift_right(a, b, p0, p1):
    return _shift_right_math(a, b)


@triton.jit
def _shift_left_scalar(a, b, p1):
    return _shift_left_math(a, tl.zeros_like(a) + scalar_param(b, a))


@triton.jit
def _shift_right_scalar(a, b, p1):
    return _shift_right_math(a, tl.zeros_like(a) + scalar_param(b, a))


def _check_integral(op: str, *arrays: DeviceArray, allow_bool: bool = True) -> None:
    for a in arrays:
        if a.dtype.is_floating_point or (a.dtype is dtypes.bool and not allow_bool):
            raise TypeError(f"{op} is not implemented for {a.dtype}")


def bitwise_and(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    """out = a & b for integer and bool dtypes; b a DeviceArray or a Python int/bool."""
    _check_integral("bitwise_and", a)
    launch_tensor_or_scalar(_bitwise_and, _bitwise_and_scalar, out, a, b)


def bitwise_or(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    _check_integral("bitwise_or", a)
    launch_tensor_or_scalar(_bitwise_or, _bitwise_or_scalar, out, a, b)


def bitwise_xor(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    _check_integral("bitwise_xor", a)
    launch_tensor_or_scalar(_bitwise_xor, _bitwise_xor_scalar, out, a, b)


def bitwise_not(out: DeviceArray, x: DeviceArray) -> None:
    """out = ~x (bool: logical not)."""
    _check_integral("bitwise_not", x)
    # Bools reach an OP as 0/1 integers, where ~ would give -2/-1 (both true).
    launch_map(_logical_not if x.dtype is dtypes.bool else _bitwise_not, [out], [x])


def bitwise_left_shift(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    """out = a << b for integer dtypes, wrapping; shifts < 0 or >= the bit width give 0 (PyTorch)."""
    _check_integral("bitwise_left_shift", a, allow_bool=False)
    launch_tensor_or_scalar(_shift_left, _shift_left_scalar, out, a, b)


def bitwise_right_shift(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    """out = a >> b for integer dtypes, arithmetic for signed; out-of-range shifts fill with the sign."""
    _check_integral("bitwise_right_shift", a, allow_bool=False)
    launch_tensor_or_scalar(_shift_right, _shift_right_scalar, out, a, b)


def bitwise_and_ref(a: np.ndarray, b) -> np.ndarray:
    return np.bitwise_and(a, scalar_ref(a, b))


def bitwise_or_ref(a: np.ndarray, b) -> np.ndarray:
    return np.bitwise_or(a, scalar_ref(a, b))


def bitwise_xor_ref(a: np.ndarray, b) -> np.ndarray:
    return np.bitwise_xor(a, scalar_ref(a, b))


def bitwise_not_ref(x: np.ndarray) -> np.ndarray:
    return np.invert(x)


def bitwise_left_shift_ref(a: np.ndarray, b) -> np.ndarray:
    a, b = np.broadcast_arrays(a, scalar_ref(a, b))
    bits = a.dtype.itemsize * 8
    bad = (b < 0) | (b >= bits)
    unsigned = a.view(np.dtype(f"u{a.dtype.itemsize}"))
    return np.where(bad, 0, np.left_shift(unsigned, np.where(bad, 0, b).astype(unsigned.dtype))).astype(
        unsigned.dtype).view(a.dtype)


def bitwise_right_shift_ref(a: np.ndarray, b) -> np.ndarray:
    a, b = np.broadcast_arrays(a, scalar_ref(a, b))
    bits = a.dtype.itemsize * 8
    if np.issubdtype(a.dtype, np.signedinteger):
        bad = (b < 0) | (b >= bits - 1)
        return np.right_shift(a, np.where(bad, bits - 1, b).astype(a.dtype))
    bad = b >= bits
    return np.where(bad, 0, np.right_shift(a, np.where(bad, 0, b).astype(a.dtype))).astype(a.dtype)


# ================================================================ registry
OPS: dict[str, BinaryOp] = {
    name: BinaryOp(globals()[name], None, globals()[f"{name}_ref"], None)
    for name in ("logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or",
                 "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift")
}


# ================================================================ AOT / tuning declarations
# (OP, inputs, outputs, dtype, p0 type, input dtypes, output dtype): every OP once, plus the dtypes
# that take another code path. Bool is "u1", as the launcher names a bool DeviceArray.
_SPEC_OPS = [
    (_logical_and, 2, 1, "fp32", "fp32", None, "u1"), (_logical_or, 2, 1, "u1", "fp32", None, "u1"),
    (_logical_xor, 2, 1, "i32", "fp32", None, "u1"), (_logical_not, 1, 1, "bf16", "fp32", None, "u1"),
    (_bitwise_and, 2, 1, "i32", "fp32", None, None), (_bitwise_or, 2, 1, "u1", "fp32", None, None),
    (_bitwise_xor, 2, 1, "i64", "fp32", None, None), (_bitwise_not, 1, 1, "u8", "fp32", None, None),
    (_bitwise_not, 1, 1, "u1", "fp32", None, None), (_bitwise_and_scalar, 1, 1, "i16", "i32", None, None),
    (_bitwise_or_scalar, 1, 1, "i64", "i64", None, None),
    (_bitwise_xor_scalar, 1, 1, "u1", "i32", None, None),
    (_shift_left, 2, 1, "i8", "fp32", None, None), (_shift_left, 2, 1, "u8", "fp32", None, None),
    (_shift_right, 2, 1, "i64", "fp32", None, None), (_shift_right, 2, 1, "u8", "fp32", None, None),
    (_shift_left_scalar, 1, 1, "i32", "i32", None, None), (_shift_right_scalar, 1, 1, "i32", 1, None, None),
]
SPECS = map_specs("logical", _SPEC_OPS)
