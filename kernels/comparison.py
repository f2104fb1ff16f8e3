"""Comparison, logical, bitwise and selection ops on the elementwise map kernel.

eq/ne/lt/le/gt/ge, logical_and/or/xor/not, bitwise_and/or/xor/not and the shifts, where, clamp
(clip), isnan/isinf/isfinite, nan_to_num and isclose. Each op's scalar math is a `@triton.jit`
function run by `elementwise.launch_map`, beside its launch wrapper and NumPy reference. One op
needs more than the map kernel's three inputs and two outputs: clamp's backward with tensor bounds
(grad, x, min, max -> three gradients) has its own small kernel, `clamp_backward_kernel`.

Conventions (the Tensor layer's contract, as in kernels/binary.py):
- Inputs arrive broadcast-viewed to the output shape and cast to a common compute dtype; 16-bit
  floats are compared/computed in fp32 (exact for comparisons). Predicates write `out` as given
  (bool for PyTorch's result; another dtype gets 0/1).
- Scalar operands may be Python numbers instead of DeviceArrays for: the second operand of the
  comparisons, of bitwise_and/or/xor and of the shifts; either value of where; clamp's bounds (both
  numbers or both arrays, as PyTorch's overloads); nan_to_num's replacements; isclose's tolerances.
  A number is rounded to the compute dtype as PyTorch does (`binary.encode_scalar`: fp64 travels as
  its bit pattern, so it stays exact) and decoded in the kernel by `scalar_param`. A scalar on the
  left of a comparison is the Tensor layer's to swap (2 < x is x > 2); a 0-stride DeviceArray works
  everywhere a tensor does.
- Bools reach an OP as 0/1 int32 values (compiled and interpreted alike); every OP here allows for it.

`OPS` maps each op name to a `binary.BinaryOp` (forward, backward or None, forward_ref, backward_ref
or None); the per-op docstrings give each wrapper's signature.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import triton
import triton.language as tl

from tritensor import dtypes

from .binary import BinaryOp, _opmath, encode_scalar, map_spec, scalar_param
from .device_array import DeviceArray
from .elementwise import BLOCK, NUM_WARPS, launch_map
from .launch_spec import KernelSpec
from .strided import cast_to, compute_type, launch_slices, strided_offsets

Operand = DeviceArray | bool | int | float


def _is_array(x) -> bool:
    return isinstance(x, DeviceArray)


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


def _binary_or_scalar(tensor_op, scalar_op, out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    if _is_array(b):
        launch_map(tensor_op, [out], [a, b])
    else:
        launch_map(scalar_op, [out], [a], encode_scalar(b, a.dtype))


def eq(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    """out = a == b; b a DeviceArray or a Python number (rounded to a's dtype, as PyTorch)."""
    _binary_or_scalar(_eq, _eq_scalar, out, a, b)


def ne(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    """out = a != b (true where either is NaN)."""
    _binary_or_scalar(_ne, _ne_scalar, out, a, b)


def lt(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    _binary_or_scalar(_lt, _lt_scalar, out, a, b)


def le(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    _binary_or_scalar(_le, _le_scalar, out, a, b)


def gt(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    _binary_or_scalar(_gt, _gt_scalar, out, a, b)


def ge(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    _binary_or_scalar(_ge, _ge_scalar, out, a, b)


def _scalar_ref(a: np.ndarray, b) -> np.ndarray:
    """A Python-number operand as PyTorch sees it: cast to a's dtype."""
    return b if isinstance(b, np.ndarray) else np.asarray(b).astype(np.asarray(a).dtype)


def eq_ref(a: np.ndarray, b) -> np.ndarray:
    return np.equal(*_opmath(a, _scalar_ref(a, b)))


def ne_ref(a: np.ndarray, b) -> np.ndarray:
    return np.not_equal(*_opmath(a, _scalar_ref(a, b)))


def lt_ref(a: np.ndarray, b) -> np.ndarray:
    return np.less(*_opmath(a, _scalar_ref(a, b)))


def le_ref(a: np.ndarray, b) -> np.ndarray:
    return np.less_equal(*_opmath(a, _scalar_ref(a, b)))


def gt_ref(a: np.ndarray, b) -> np.ndarray:
    return np.greater(*_opmath(a, _scalar_ref(a, b)))


def ge_ref(a: np.ndarray, b) -> np.ndarray:
    return np.greater_equal(*_opmath(a, _scalar_ref(a, b)))


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
    _binary_or_scalar(_bitwise_and, _bitwise_and_scalar, out, a, b)


def bitwise_or(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    _check_integral("bitwise_or", a)
    _binary_or_scalar(_bitwise_or, _bitwise_or_scalar, out, a, b)


def bitwise_xor(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    _check_integral("bitwise_xor", a)
    _binary_or_scalar(_bitwise_xor, _bitwise_xor_scalar, out, a, b)


def bitwise_not(out: DeviceArray, x: DeviceArray) -> None:
    """out = ~x (bool: logical not)."""
    _check_integral("bitwise_not", x)
    # Bools reach an OP as 0/1 integers, where ~ would give -2/-1 (both true).
    launch_map(_logical_not if x.dtype is dtypes.bool else _bitwise_not, [out], [x])


def bitwise_left_shift(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    """out = a << b for integer dtypes, wrapping; shifts < 0 or >= the bit width give 0 (PyTorch)."""
    _check_integral("bitwise_left_shift", a, allow_bool=False)
    _binary_or_scalar(_shift_left, _shift_left_scalar, out, a, b)


def bitwise_right_shift(out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    """out = a >> b for integer dtypes, arithmetic for signed; out-of-range shifts fill with the sign."""
    _check_integral("bitwise_right_shift", a, allow_bool=False)
    _binary_or_scalar(_shift_right, _shift_right_scalar, out, a, b)


def bitwise_and_ref(a: np.ndarray, b) -> np.ndarray:
    return np.bitwise_and(a, _scalar_ref(a, b))


def bitwise_or_ref(a: np.ndarray, b) -> np.ndarray:
    return np.bitwise_or(a, _scalar_ref(a, b))


def bitwise_xor_ref(a: np.ndarray, b) -> np.ndarray:
    return np.bitwise_xor(a, _scalar_ref(a, b))


def bitwise_not_ref(x: np.ndarray) -> np.ndarray:
    return np.invert(x)


def bitwise_left_shift_ref(a: np.ndarray, b) -> np.ndarray:
    a, b = np.broadcast_arrays(a, _scalar_ref(a, b))
    bits = a.dtype.itemsize * 8
    bad = (b < 0) | (b >= bits)
    unsigned = a.view(np.dtype(f"u{a.dtype.itemsize}"))
    return np.where(bad, 0, np.left_shift(unsigned, np.where(bad, 0, b).astype(unsigned.dtype))).astype(
        unsigned.dtype).view(a.dtype)


def bitwise_right_shift_ref(a: np.ndarray, b) -> np.ndarray:
    a, b = np.broadcast_arrays(a, _scalar_ref(a, b))
    bits = a.dtype.itemsize * 8
    if np.issubdtype(a.dtype, np.signedinteger):
        bad = (b < 0) | (b >= bits - 1)
        return np.right_shift(a, np.where(bad, bits - 1, b).astype(a.dtype))
    bad = b >= bits
    return np.where(bad, 0, np.right_shift(a, np.where(bad, 0, b).astype(a.dtype))).astype(a.dtype)


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
    if _is_array(a) and _is_array(b):
        launch_map(_where, [out], [cond, a, b])
    elif _is_array(b):
        launch_map(_where_scalar_a, [out], [cond, b], encode_scalar(a, out.dtype))
    elif _is_array(a):
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


# ================================================================ clamp
@triton.jit
def _clamp_math(x, lo, hi, HAS_LO: tl.constexpr, HAS_HI: tl.constexpr):
    # min(max(x, lo), hi): lo > hi gives hi, as PyTorch; a NaN in x or in a bound gives NaN.
    r = x
    if HAS_LO:
        r = tl.where(r < lo, lo, r)
        r = tl.where(lo != lo, lo, r)
    if HAS_HI:
        r = tl.where(r > hi, hi, r)
        r = tl.where(hi != hi, hi, r)
    return r


@triton.jit
def _clamp(x, lo, hi, p0, p1):
    return _clamp_math(x, lo, hi, True, True)


@triton.jit
def _clamp_min(x, lo, p0, p1):
    return _clamp_math(x, lo, x, True, False)


@triton.jit
def _clamp_max(x, hi, p0, p1):
    return _clamp_math(x, x, hi, False, True)


@triton.jit
def _clamp_scalar(x, lo, hi):
    return _clamp_math(x, scalar_param(lo, x), scalar_param(hi, x), True, True)


@triton.jit
def _clamp_min_scalar(x, lo, p1):
    return _clamp_math(x, scalar_param(lo, x), x, True, False)


@triton.jit
def _clamp_max_scalar(x, hi, p1):
    return _clamp_math(x, x, scalar_param(hi, x), False, True)


@triton.jit
def _copy(x, p0, p1):
    return x


@triton.jit
def _clamp_scalar_backward(grad, x, lo, hi):
    # PyTorch: the gradient passes where min <= x <= max, bounds included.
    return tl.where((x >= scalar_param(lo, x)) & (x <= scalar_param(hi, x)), grad, tl.zeros_like(grad))


@triton.jit
def _clamp_min_scalar_backward(grad, x, lo, p1):
    return tl.where(x >= scalar_param(lo, x), grad, tl.zeros_like(grad))


@triton.jit
def _clamp_max_scalar_backward(grad, x, hi, p1):
    return tl.where(x <= scalar_param(hi, x), grad, tl.zeros_like(grad))


@triton.jit
def clamp_backward_kernel(
    gx_ptr, gmin_ptr, gmax_ptr,  # gradient outputs for x, min, max (one not NEEDed aliases another)
    g_ptr, x_ptr, min_ptr, max_ptr,  # upstream grad, x and the bounds (an absent bound aliases x_ptr)
    numel,  # elements in this launch
    size1, size2, size3,  # launch shape (size0 implied by numel)
    gxs0, gxs1, gxs2, gxs3,  # grad-x strides
    gns0, gns1, gns2, gns3,  # grad-min strides
    gms0, gms1, gms2, gms3,  # grad-max strides
    gs0, gs1, gs2, gs3,  # grad strides
    xs0, xs1, xs2, xs3,  # x strides
    ns0, ns1, ns2, ns3,  # min strides
    ms0, ms1, ms2, ms3,  # max strides
    HAS_MIN: tl.constexpr,  # min is a tensor (not None)
    HAS_MAX: tl.constexpr,  # max is a tensor (not None)
    NEED_X: tl.constexpr,  # write grad-x
    NEED_MIN: tl.constexpr,  # write grad-min (needs HAS_MIN)
    NEED_MAX: tl.constexpr,  # write grad-max (needs HAS_MAX)
    BLOCK: tl.constexpr,  # elements per program
):
    # clamp's backward with tensor bounds: four inputs and up to three outputs, more than the map
    # kernel's 3 -> 2, so one pass of its own. PyTorch's clamp_backward_min_max conventions:
    # x gets the gradient where min <= x <= max; min where x < min < max; max where x > max or max < min.
    idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < numel
    g = compute_type(tl.load(g_ptr + strided_offsets(idx, size1, size2, size3, gs0, gs1, gs2, gs3),
                             mask=mask))
    x = compute_type(tl.load(x_ptr + strided_offsets(idx, size1, size2, size3, xs0, xs1, xs2, xs3),
                             mask=mask))
    zero = tl.zeros_like(g)
    if HAS_MIN:
        lo = compute_type(tl.load(min_ptr + strided_offsets(idx, size1, size2, size3, ns0, ns1, ns2, ns3),
                                  mask=mask))
    if HAS_MAX:
        hi = compute_type(tl.load(max_ptr + strided_offsets(idx, size1, size2, size3, ms0, ms1, ms2, ms3),
                                  mask=mask))
    if HAS_MIN:
        if HAS_MAX:
            x_passes = (x >= lo) & (x <= hi)
            min_takes = (x < lo) & (lo < hi)
            max_takes = (x > hi) | (hi < lo)
        else:
            x_passes = x >= lo
            min_takes = x < lo
    else:
        x_passes = x <= hi
        max_takes = x > hi
    if NEED_X:
        tl.store(gx_ptr + strided_offsets(idx, size1, size2, size3, gxs0, gxs1, gxs2, gxs3),
                 cast_to(tl.where(x_passes, g, zero), gx_ptr.dtype.element_ty), mask=mask)
    if NEED_MIN:
        tl.store(gmin_ptr + strided_offsets(idx, size1, size2, size3, gns0, gns1, gns2, gns3),
                 cast_to(tl.where(min_takes, g, zero), gmin_ptr.dtype.element_ty), mask=mask)
    if NEED_MAX:
        tl.store(gmax_ptr + strided_offsets(idx, size1, size2, size3, gms0, gms1, gms2, gms3),
                 cast_to(tl.where(max_takes, g, zero), gmax_ptr.dtype.element_ty), mask=mask)


def _bounds_kind(lo, hi) -> str:
    if (lo is None or _is_array(lo)) and (hi is None or _is_array(hi)):
        return "tensor" if lo is not None or hi is not None else "none"
    if not _is_array(lo) and not _is_array(hi):
        return "scalar"
    raise TypeError("clamp: pass min and max both as DeviceArrays or both as Python numbers "
                    "(PyTorch's overloads do not mix them)")


def clamp(out: DeviceArray, x: DeviceArray, min: Operand | None = None,  # noqa: A002 - PyTorch's names
          max: Operand | None = None) -> None:  # noqa: A002
    """out = min(max(x, min), max) for every dtype but bool.

    min and max: both DeviceArrays (x's dtype) or both Python numbers (rounded to x's dtype), either
    may be None (both None copies x). min > max gives max; NaN in x or a bound gives NaN.
    """
    kind = _bounds_kind(min, max)
    if kind == "none":
        launch_map(_copy, [out], [x])
    elif kind == "tensor":
        if min is not None and max is not None:
            launch_map(_clamp, [out], [x, min, max])
        elif min is not None:
            launch_map(_clamp_min, [out], [x, min])
        else:
            launch_map(_clamp_max, [out], [x, max])
    elif min is not None and max is not None:
        launch_map(_clamp_scalar, [out], [x], encode_scalar(min, x.dtype), encode_scalar(max, x.dtype))
    elif min is not None:
        launch_map(_clamp_min_scalar, [out], [x], encode_scalar(min, x.dtype))
    else:
        launch_map(_clamp_max_scalar, [out], [x], encode_scalar(max, x.dtype))


def clamp_backward(grad_x: DeviceArray | None, grad_min: DeviceArray | None, grad_max: DeviceArray | None,
                   grad: DeviceArray, x: DeviceArray, min: Operand | None = None,  # noqa: A002
                   max: Operand | None = None) -> None:  # noqa: A002
    """Gradients of clamp, as PyTorch (floats): x gets grad where min <= x <= max (bounds included);
    a tensor min gets it where x < min < max, a tensor max where x > max or max < min.

    Scalar bounds have no gradient (grad_min/grad_max None); any output may be None.
    """
    kind = _bounds_kind(min, max)
    if kind == "none":
        if grad_x is not None:
            launch_map(_copy, [grad_x], [grad])
        return
    if kind == "scalar":
        if grad_min is not None or grad_max is not None:
            raise ValueError("clamp_backward: a Python-number bound has no gradient")
        if grad_x is None:
            return
        if min is not None and max is not None:
            launch_map(_clamp_scalar_backward, [grad_x], [grad, x], encode_scalar(min, x.dtype),
                       encode_scalar(max, x.dtype))
        elif min is not None:
            launch_map(_clamp_min_scalar_backward, [grad_x], [grad, x], encode_scalar(min, x.dtype))
        else:
            launch_map(_clamp_max_scalar_backward, [grad_x], [grad, x], encode_scalar(max, x.dtype))
        return
    need = (grad_x is not None, grad_min is not None and min is not None,
            grad_max is not None and max is not None)
    if not any(need):
        return
    outs = [grad_x, grad_min, grad_max]
    first = next(o for o, n in zip(outs, need) if n)
    outs = [o if n else first for o, n in zip(outs, need)]
    arrays = outs + [grad, x, min if min is not None else x, max if max is not None else x]
    for shape4, strides4, offsets in launch_slices(grad.shape, arrays):
        views = [a.view_as(shape4, s, off) for a, s, off in zip(arrays, strides4, offsets)]
        numel = shape4[0] * shape4[1] * shape4[2] * shape4[3]
        clamp_backward_kernel[(triton.cdiv(numel, BLOCK),)](
            *views, numel, shape4[1], shape4[2], shape4[3], *[s for v in views for s in v.strides],
            HAS_MIN=min is not None, HAS_MAX=max is not None, NEED_X=need[0], NEED_MIN=need[1],
            NEED_MAX=need[2], BLOCK=BLOCK, num_warps=NUM_WARPS,
        )


def clamp_ref(x: np.ndarray, min=None, max=None) -> np.ndarray:  # noqa: A002
    (r,) = _opmath(x)
    dt = np.asarray(x).dtype
    for bound, pick in ((min, np.maximum), (max, np.minimum)):
        if bound is not None:
            b = _opmath(_scalar_ref(x, bound))[0]
            # np.maximum/minimum propagate a NaN from either side, like PyTorch's clamp.
            r = pick(r, b)
    return np.asarray(r).astype(dt)


def clamp_backward_ref(grad: np.ndarray, x: np.ndarray, min=None,  # noqa: A002
                       max=None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:  # noqa: A002
    g, x32 = np.broadcast_arrays(*_opmath(grad, x))
    lo = None if min is None else _opmath(_scalar_ref(x, min))[0]
    hi = None if max is None else _opmath(_scalar_ref(x, max))[0]
    zero = np.zeros((), grad.dtype)
    ok = np.ones(g.shape, bool)
    if lo is not None:
        ok &= x32 >= lo
    if hi is not None:
        ok &= x32 <= hi
    grad_x = np.where(ok, grad, zero)
    grad_min = grad_max = None
    if isinstance(min, np.ndarray):
        takes = (x32 < lo) & (lo < hi) if hi is not None else x32 < lo
        grad_min = np.where(takes, grad, zero)
    if isinstance(max, np.ndarray):
        takes = (x32 > hi) | (hi < lo) if lo is not None else x32 > hi
        grad_max = np.where(takes, grad, zero)
    return grad_x, grad_min, grad_max


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
        launch_map(_copy, [out], [x])
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


def _is_float_np(x) -> bool:
    return np.asarray(x).dtype.kind == "f" or np.asarray(x).dtype == ml_dtypes.bfloat16


def isnan_ref(x: np.ndarray) -> np.ndarray:
    return np.isnan(x) if _is_float_np(x) else np.zeros(np.shape(x), bool)


def isinf_ref(x: np.ndarray) -> np.ndarray:
    return np.isinf(x) if _is_float_np(x) else np.zeros(np.shape(x), bool)


def isfinite_ref(x: np.ndarray) -> np.ndarray:
    return np.isfinite(x) if _is_float_np(x) else np.ones(np.shape(x), bool)


def nan_to_num_ref(x: np.ndarray, nan: float = 0.0, posinf: float | None = None,
                   neginf: float | None = None) -> np.ndarray:
    if not _is_float_np(x):
        return np.array(x, copy=True)
    info = ml_dtypes.finfo(x.dtype)
    with np.errstate(over="ignore"):
        vals = [np.array(v).astype(x.dtype) for v in (nan, info.max if posinf is None else posinf,
                                                      info.min if neginf is None else neginf)]
    r = np.where(np.isnan(x), vals[0], x)
    r = np.where(x == np.inf, vals[1], r)
    return np.where(x == -np.inf, vals[2], r).astype(x.dtype)


def nan_to_num_backward_ref(grad: np.ndarray, x: np.ndarray) -> tuple[np.ndarray]:
    g, x32 = _opmath(grad, x)
    with np.errstate(invalid="ignore"):
        return ((g * np.isfinite(x32).astype(g.dtype)).astype(grad.dtype),)


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
    actual = tl.abs(_round_to(a - b, ROUND))
    close = (a == b) | ((actual != float("inf")) & (actual <= allowed))
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
        if _is_float_np(a):
            (a32, b32), dt = _opmath(a, b), a.dtype
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
# forward(out, *inputs, **params) and forward_ref(*inputs, **params) as the wrappers above. Backward,
# for the differentiable three only: where_backward(grad_a, grad_b, grad, cond),
# clamp_backward(grad_x, grad_min, grad_max, grad, x, min=, max=), nan_to_num_backward(grad_x, grad, x);
# their refs return (grad_a, grad_b), (grad_x, grad_min | None, grad_max | None), (grad_x,).
OPS: dict[str, BinaryOp] = {
    **{name: BinaryOp(globals()[name], None, globals()[f"{name}_ref"], None)
       for name in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
                    "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
                    "bitwise_left_shift", "bitwise_right_shift", "isnan", "isinf", "isfinite", "isclose")},
    "where": BinaryOp(where, where_backward, where_ref, where_backward_ref),
    "clamp": BinaryOp(clamp, clamp_backward, clamp_ref, clamp_backward_ref),
    "clip": BinaryOp(clamp, clamp_backward, clamp_ref, clamp_backward_ref),
    "nan_to_num": BinaryOp(nan_to_num, nan_to_num_backward, nan_to_num_ref, nan_to_num_backward_ref),
}


# ================================================================ AOT / tuning declarations
def _clamp_backward_signature(dtype: str) -> dict[str, str]:
    sig = {f"{n}_ptr": f"*{dtype}" for n in ("gx", "gmin", "gmax", "g", "x", "min", "max")}
    sig.update(numel="i32", size1="i32", size2="i32", size3="i32")
    for operand in ("gx", "gn", "gm", "g", "x", "n", "m"):
        sig.update({f"{operand}s{d}": "i32" for d in range(4)})
    return sig


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
    (_where, 3, 1, "fp32", "fp32", ["u1", "fp32", "fp32"], None),
    (_where, 3, 1, "bf16", "fp32", ["u1", "bf16", "bf16"], None),
    (_where_scalar_a, 2, 1, "fp64", "i64", ["u1", "fp64"], None),
    (_where_scalar_b, 2, 1, "i32", "i32", ["u1", "i32"], None),
    (_where_scalars, 2, 1, "fp16", "fp32", ["u1", "fp16"], None),
    (_where_backward, 2, 2, "fp32", "fp32", ["fp32", "u1"], None),
    (_where_grad_a, 2, 1, "fp16", "fp32", ["fp16", "u1"], None),
    (_where_grad_b, 2, 1, "fp64", "fp32", ["fp64", "u1"], None),
    (_clamp, 3, 1, "fp32", "fp32", None, None), (_clamp, 3, 1, "i32", "fp32", None, None),
    (_clamp_min, 2, 1, "bf16", "fp32", None, None), (_clamp_max, 2, 1, "fp64", "fp32", None, None),
    (_clamp_scalar, 1, 1, "fp32", "fp32", None, None), (_clamp_scalar, 1, 1, "fp64", "i64", None, None),
    (_clamp_min_scalar, 1, 1, "u8", "i32", None, None), (_clamp_max_scalar, 1, 1, "fp16", "fp32", None, None),
    (_clamp_scalar_backward, 2, 1, "fp32", "fp32", None, None),
    (_clamp_min_scalar_backward, 2, 1, "fp64", "i64", None, None),
    (_clamp_max_scalar_backward, 2, 1, "bf16", "fp32", None, None), (_copy, 1, 1, "fp32", "fp32", None, None),
    (_isnan, 1, 1, "fp32", "fp32", None, "u1"), (_isnan, 1, 1, "i32", "fp32", None, "u1"),
    (_isinf, 1, 1, "fp16", "fp32", None, "u1"), (_isinf, 1, 1, "i64", "fp32", None, "u1"),
    (_isfinite, 1, 1, "fp64", "fp32", None, "u1"), (_isfinite, 1, 1, "u8", "fp32", None, "u1"),
    (_nan_to_num_symmetric, 1, 1, "fp32", "fp32", None, None),
    (_nan_to_num_symmetric, 1, 1, "fp64", "i64", None, None),
    (_nan_to_num_zero, 1, 1, "bf16", "fp32", None, None),
    (_nan_to_num_keep_neginf, 1, 1, "fp16", "fp32", None, None),
    (_replace_neginf, 2, 1, "fp32", "fp32", None, None),
    (_nan_to_num_backward, 2, 1, "fp32", "fp32", None, None),
    (_isclose, 2, 1, "fp32", "fp32", None, "u1"), (_isclose, 2, 1, "fp64", "i64", None, "u1"),
    (_isclose, 2, 1, "i32", "fp32", None, "u1"), (_isclose, 2, 1, "u8", "fp32", None, "u1"),
    (_isclose, 2, 1, "u1", "fp32", None, "u1"), (_isclose_equal_nan, 2, 1, "fp32", "fp32", None, "u1"),
    (_isclose_fp16, 2, 1, "fp16", "fp32", None, "u1"),
    (_isclose_fp16_equal_nan, 2, 1, "fp16", "fp32", None, "u1"),
    (_isclose_bf16, 2, 1, "bf16", "fp32", None, "u1"),
    (_isclose_bf16_equal_nan, 2, 1, "bf16", "fp32", None, "u1"),
]

# OPs whose p1 is a second scalar of the same kind as p0.
_TWO_SCALARS = {_where_scalars, _clamp_scalar, _clamp_scalar_backward, _nan_to_num_symmetric,
                _nan_to_num_zero, _nan_to_num_keep_neginf, _isclose, _isclose_equal_nan, _isclose_fp16,
                _isclose_fp16_equal_nan, _isclose_bf16, _isclose_bf16_equal_nan}

SPECS = [
    map_spec("comparison", op, dtype, n_in, n_out, out_dtype=out, p0=p0,
             p1=p0 if op in _TWO_SCALARS else "fp32", in_dtypes=ins)
    for op, n_in, n_out, dtype, p0, ins, out in _SPEC_OPS
] + [
    map_spec("comparison", _clamp_scalar, "i32", 1, 1, p0="i32", p1=1),  # clamp(x, 0, 1) on a GPU
] + [
    KernelSpec(f"comparison.clamp_backward[{dtype}:{flags}]", clamp_backward_kernel,
               _clamp_backward_signature(dtype),
               dict(HAS_MIN="min" in flags, HAS_MAX="max" in flags, NEED_X=True, NEED_MIN="min" in flags,
                    NEED_MAX="max" in flags),
               [dict(BLOCK=BLOCK, num_warps=NUM_WARPS)])
    for dtype, flags in (("fp32", "min,max"), ("bf16", "min,max"), ("fp64", "min"), ("fp16", "max"))
]
