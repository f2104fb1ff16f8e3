"""Binary arithmetic ops, forward and backward, on the elementwise map kernel: sub, div (true /
'trunc' / 'floor'), floor_divide, remainder and fmod.

Every op is a `@triton.jit` scalar-math function run by `elementwise.launch_map`; beside it sit the
launch wrapper, its fused backward (both input gradients in one pass) and the NumPy references. The
other binary families (pow, maximum/minimum, atan2, lerp) follow the same conventions in their own
modules; what they share (BinaryOp, scalar parameters, opmath) is in kernels/map_ops.py.

Conventions (the Tensor layer's contract):
- Inputs arrive broadcast-viewed to the output shape and cast to the op's compute dtype (the
  result dtype, except where noted); 16-bit floats are computed in fp32 (PyTorch's opmath) and
  rounded once on store.
- Scalars: a tensor operand that PyTorch also accepts as a Python number is passed either as a
  0-stride DeviceArray or, where a wrapper says so (sub's alpha, pow_scalar's exponent, rpow's
  base, lerp's weight), as a Python number, encoded by `map_ops.encode_scalar` and decoded in the
  kernel by `map_ops.scalar_param`, so fp64 scalars stay exact.
- Backward wrappers take `None` for a gradient that is not needed (a scalar operand, or an input
  that does not require grad); that output is then neither computed nor stored.
- Integer division (div 'trunc'/'floor', floor_divide, remainder, fmod) by zero is undefined here,
  as on PyTorch's CUDA backend (PyTorch's CPU backend raises): the Tensor layer checks if it must.

`OPS` maps each op name to a `map_ops.BinaryOp` (forward, backward, forward_ref, backward_ref); see
its docstring for the calling conventions, which per-op docstrings refine.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from .device_array import DeviceArray
from .elementwise import launch_map, runs_map
from .ieee_math import div_ieee
from .map_ops import (
    BinaryOp,
    check_float,
    encode_scalar,
    launch_grads,
    map_spec,
    opmath,
    result_dtype,
    scalar_param,
    signbit,
)


# ================================================================ Triton math of the divisions
@triton.jit
def _trunc(x):
    return tl.where(x < 0, tl.ceil(x), tl.floor(x))


@triton.jit
def _exponent(x):
    """floor(log2(x)) for finite x > 0, exact for subnormals too (their mantissa converts exactly)."""
    if x.dtype.is_fp64():
        bits = x.to(tl.int64, bitcast=True)
        sub = (bits & 0xFFFFFFFFFFFFF).to(tl.float64).to(tl.int64, bitcast=True)
        return tl.where((bits >> 52) == 0, (sub >> 52) - 1023 - 1022 - 52, (bits >> 52) - 1023)
    else:
        bits = x.to(tl.int32, bitcast=True)
        sub = (bits & 0x7FFFFF).to(tl.float32).to(tl.int32, bitcast=True)
        return tl.where((bits >> 23) == 0, (sub >> 23) - 127 - 126 - 23, (bits >> 23) - 127)


@triton.jit
def _ldexp(y, k):
    """y * 2**k, exactly, for 0 <= k < 3 * max exponent (three power-of-two factors built from bits)."""
    if y.dtype.is_fp64():
        k1 = tl.minimum(k, 1023)
        k2 = tl.minimum(k - k1, 1023)
        k3 = k - k1 - k2
        return (y * ((k1 + 1023) << 52).to(tl.float64, bitcast=True)
                * ((k2 + 1023) << 52).to(tl.float64, bitcast=True)
                * ((k3 + 1023) << 52).to(tl.float64, bitcast=True))
    else:
        k1 = tl.minimum(k, 127)
        k2 = tl.minimum(k - k1, 127)
        k3 = k - k1 - k2
        return (y * ((k1 + 127) << 23).to(tl.float32, bitcast=True)
                * ((k2 + 127) << 23).to(tl.float32, bitcast=True)
                * ((k3 + 127) << 23).to(tl.float32, bitcast=True))


@triton.jit
def _fmod_float(a, b):
    """C fmod, exact. Triton's float `%` is a - trunc(a / b) * b, wrong once |a / b| is large.

    Long division by y * 2**k: each step takes at most 2**(QBITS+1) multiples off, so the quotient
    digit q is an exact float, fma(-q, ys, x) is exact, and a q one too big (a / ys rounded up to an
    integer) leaves -ys < r < 0, fixed by adding ys back. Usual operands need one step; the loop
    runs while any lane is still >= |b| (at most ~14 steps in fp32, ~45 in fp64).
    """
    x = tl.abs(a)
    y = tl.abs(b)
    special = (x != x) | (y != y) | (x == float("inf")) | (y == 0)
    x = tl.where(special, 0.0, x)
    if a.dtype.is_fp64():
        qbits = 48
    else:
        qbits = 20
    active = x >= y
    while tl.max(active.to(tl.int32), axis=None) > 0:
        ys = _ldexp(y, tl.maximum(_exponent(x) - _exponent(y) - qbits, 0))
        q = tl.floor(div_ieee(x, ys))
        r = tl.fma(-q, ys, x)
        r = tl.where(r < 0, r + ys, r)
        x = tl.where(active, r, x)
        active = x >= y
    x = tl.where(signbit(a), -x, x)
    return tl.where(special, float("nan"), x)


@triton.jit
def _floor_div_float(a, b):
    """PyTorch's div_floor_floating (= Python's float //): from the exact fmod, never from floor(a / b)."""
    mod = _fmod_float(a, b)
    div = div_ieee(a - mod, b)
    div = tl.where((mod != 0) & ((b < 0) != (mod < 0)), div - 1, div)
    fl = tl.floor(div)
    fl = tl.where(div - fl > 0.5, fl + 1, fl)
    zero = tl.zeros_like(div)
    fl = tl.where(div == 0, tl.where(signbit(a) != signbit(b), -zero, zero), fl)
    return tl.where(b == 0, div_ieee(a, b), fl)


@triton.jit
def _floor_div_int(a, b):
    q = a // b  # Triton's integer // truncates, like C
    r = a % b
    return tl.where((r != 0) & ((r < 0) != (b < 0)), q - 1, q)


# ================================================================ NumPy helpers for the references
def _fmod_np(a, b):
    with np.errstate(all="ignore"):
        return np.fmod(a, b)


def _floor_div_np(a, b):
    """PyTorch's div_floor_floating / integer floor division, vectorised."""
    a, b = np.broadcast_arrays(a, b)
    with np.errstate(all="ignore"):
        if not np.issubdtype(a.dtype, np.floating):
            return np.floor_divide(a, b)
        mod = np.fmod(a, b)
        div = (a - mod) / b
        div = np.where((mod != 0) & ((b < 0) != (mod < 0)), div - 1, div)
        fl = np.floor(div)
        fl = np.where(div - fl > 0.5, fl + 1, fl)
        fl = np.where(div == 0, np.copysign(np.zeros_like(div), a / b), fl)
        return np.where(b == 0, a / b, fl).astype(a.dtype)


def _trunc_div_np(a, b):
    a, b = np.broadcast_arrays(a, b)
    with np.errstate(all="ignore"):
        if np.issubdtype(a.dtype, np.floating):
            return np.trunc(a / b)
        q = np.floor_divide(a, b)
        return np.where((np.remainder(a, b) != 0) & ((a < 0) != (b < 0)), q + 1, q).astype(a.dtype)


# ================================================================ sub
@triton.jit
def _sub(a, b, alpha, p1):
    return a - b * scalar_param(alpha, a)


@triton.jit
def _sub_no_alpha(a, b, p0, p1):
    return a - b


@triton.jit
def _sub_backward(grad, alpha, p1):
    return grad, -(grad * scalar_param(alpha, grad))


@triton.jit
def _sub_grad_a(grad, p0, p1):
    return grad


@triton.jit
def _sub_grad_b(grad, alpha, p1):
    return -(grad * scalar_param(alpha, grad))


@runs_map(_sub_no_alpha)  # alpha 1, its default: the only call the declaration covers
def sub(out: DeviceArray, a: DeviceArray, b: DeviceArray, alpha=1) -> None:
    """out = a - alpha * b (any dtype but bool; alpha a Python number, integral for integer dtypes)."""
    if alpha == 1:
        launch_map(_sub_no_alpha, [out], [a, b])
    else:
        launch_map(_sub, [out], [a, b], encode_scalar(alpha, a.dtype, opmath=True))


def sub_backward(grad_a: DeviceArray | None, grad_b: DeviceArray | None, grad: DeviceArray,
                 a: DeviceArray | None = None, b: DeviceArray | None = None, alpha=1) -> None:
    """grad_a = grad, grad_b = -alpha * grad (a and b are not read)."""
    launch_grads((_sub_backward, _sub_grad_a, _sub_grad_b), (grad_a, grad_b), [grad],
                  encode_scalar(alpha, grad.dtype, opmath=True))


def sub_ref(a: np.ndarray, b: np.ndarray, alpha=1) -> np.ndarray:
    dt = result_dtype(a, b)
    a32, b32 = opmath(a, b)
    with np.errstate(over="ignore"):
        return (a32 - b32 * np.asarray(alpha, dtype=a32.dtype)).astype(dt)


def sub_backward_ref(grad: np.ndarray, a=None, b=None, alpha=1) -> tuple[np.ndarray, np.ndarray]:
    (g,) = opmath(grad)
    return grad.copy(), (-(g * np.asarray(alpha, dtype=g.dtype))).astype(grad.dtype)


# ================================================================ div, floor_divide
@triton.jit
def _div_true(a, b, p0, p1):
    return div_ieee(a, b)


@triton.jit
def _div_trunc(a, b, p0, p1):
    if a.dtype.is_floating():
        return _trunc(div_ieee(a, b))
    else:
        return a // b


@triton.jit
def _div_floor(a, b, p0, p1):
    if a.dtype.is_floating():
        return _floor_div_float(a, b)
    else:
        return _floor_div_int(a, b)


@triton.jit
def _div_backward(grad, a, b, p0, p1):
    return div_ieee(grad, b), -grad * div_ieee(div_ieee(a, b), b)


@triton.jit
def _div_grad_a(grad, b, p0, p1):
    return div_ieee(grad, b)


@triton.jit
def _div_grad_b(grad, a, b, p0, p1):
    return -grad * div_ieee(div_ieee(a, b), b)


@triton.jit
def _zero_grad(grad, p0, p1):
    # Piecewise-constant ops: PyTorch's gradient is zeros_like(grad), even for an inf/NaN grad.
    return tl.zeros_like(grad)


@triton.jit
def _zero_grads(grad, p0, p1):
    return tl.zeros_like(grad), tl.zeros_like(grad)


_DIV_OPS = {None: _div_true, "trunc": _div_trunc, "floor": _div_floor}


def div(out: DeviceArray, a: DeviceArray, b: DeviceArray, rounding_mode: str | None = None) -> None:
    """out = a / b, rounded per rounding_mode (None, 'trunc', 'floor') as torch.div.

    True division takes floats only (the Tensor layer casts integers to the default float dtype
    first); 'trunc' and 'floor' take floats and integers and keep the dtype. 'floor' is Python's
    floor division (exact: computed from fmod, not floor(a / b)).
    """
    if rounding_mode not in _DIV_OPS:
        raise ValueError("div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found '{rounding_mode}'")
    if rounding_mode is None:
        check_float("div", a, b)
    launch_map(_DIV_OPS[rounding_mode], [out], [a, b])


@runs_map(_div_floor)
def floor_divide(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:
    """out = a // b with Python's (and torch.floor_divide's) rounding toward -inf."""
    launch_map(_div_floor, [out], [a, b])


def div_backward(grad_a: DeviceArray | None, grad_b: DeviceArray | None, grad: DeviceArray, a: DeviceArray,
                 b: DeviceArray, rounding_mode: str | None = None) -> None:
    """grad_a = grad / b, grad_b = -grad * (a / b) / b; zeros with a rounding mode (as PyTorch)."""
    if rounding_mode is not None:
        launch_grads((_zero_grads, _zero_grad, _zero_grad), (grad_a, grad_b), [grad])
    elif grad_b is None:
        if grad_a is not None:
            launch_map(_div_grad_a, [grad_a], [grad, b])
    else:
        launch_grads((_div_backward, None, _div_grad_b), (grad_a, grad_b), [grad, a, b])


def floor_divide_backward(grad_a: DeviceArray | None, grad_b: DeviceArray | None, grad: DeviceArray,
                          a: DeviceArray | None = None, b: DeviceArray | None = None) -> None:
    """Zeros (PyTorch's gradient of floor_divide)."""
    launch_grads((_zero_grads, _zero_grad, _zero_grad), (grad_a, grad_b), [grad])


def div_ref(a: np.ndarray, b: np.ndarray, rounding_mode: str | None = None) -> np.ndarray:
    dt = result_dtype(a, b)
    a32, b32 = opmath(a, b)
    with np.errstate(all="ignore"):
        if rounding_mode is None:
            r = a32 / b32
        elif rounding_mode == "trunc":
            r = _trunc_div_np(a32, b32)
        else:
            r = _floor_div_np(a32, b32)
    return np.asarray(r).astype(dt)


def floor_divide_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return div_ref(a, b, "floor")


def div_backward_ref(grad: np.ndarray, a: np.ndarray, b: np.ndarray,
                     rounding_mode: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    shape = np.broadcast_shapes(grad.shape, np.shape(a), np.shape(b))
    if rounding_mode is not None:
        return np.zeros(shape, grad.dtype), np.zeros(shape, grad.dtype)
    g, a32, b32 = opmath(grad, a, b)
    with np.errstate(all="ignore"):
        ga = np.broadcast_to(g / b32, shape)
        gb = np.broadcast_to(-g * ((a32 / b32) / b32), shape)
    return ga.astype(grad.dtype), gb.astype(grad.dtype)


def floor_divide_backward_ref(grad: np.ndarray, a: np.ndarray,
                              b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return div_backward_ref(grad, a, b, "floor")


# ================================================================ remainder, fmod
@triton.jit
def _remainder(a, b, p0, p1):
    if a.dtype.is_floating():
        mod = _fmod_float(a, b)
    else:
        mod = a % b  # C remainder: the sign of a
    return tl.where((mod != 0) & ((b < 0) != (mod < 0)), mod + b, mod)


@triton.jit
def _fmod(a, b, p0, p1):
    if a.dtype.is_floating():
        return _fmod_float(a, b)
    else:
        return a % b


@triton.jit
def _remainder_backward(grad, a, b, p0, p1):
    return grad, -grad * _floor_div_float(a, b)


@triton.jit
def _remainder_grad_b(grad, a, b, p0, p1):
    return -grad * _floor_div_float(a, b)


@triton.jit
def _fmod_backward(grad, a, b, p0, p1):
    return grad, -grad * _trunc(div_ieee(a, b))


@triton.jit
def _fmod_grad_b(grad, a, b, p0, p1):
    return -grad * _trunc(div_ieee(a, b))


@triton.jit
def _grad_a_identity(grad, a, b, p0, p1):
    return grad


@runs_map(_remainder)
def remainder(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:
    """torch.remainder: a - b * floor(a / b), the sign of b (Python's %); floats and integers."""
    launch_map(_remainder, [out], [a, b])


@runs_map(_fmod)
def fmod(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:
    """torch.fmod: C's fmod, the sign of a (exact for floats); floats and integers."""
    launch_map(_fmod, [out], [a, b])


def remainder_backward(grad_a: DeviceArray | None, grad_b: DeviceArray | None, grad: DeviceArray,
                       a: DeviceArray, b: DeviceArray) -> None:
    """grad_a = grad, grad_b = -grad * floor_divide(a, b) (PyTorch)."""
    launch_grads((_remainder_backward, _grad_a_identity, _remainder_grad_b), (grad_a, grad_b), [grad, a, b])


def fmod_backward(grad_a: DeviceArray | None, grad_b: DeviceArray | None, grad: DeviceArray,
                  a: DeviceArray, b: DeviceArray) -> None:
    """grad_a = grad, grad_b = -grad * trunc(a / b) (PyTorch)."""
    launch_grads((_fmod_backward, _grad_a_identity, _fmod_grad_b), (grad_a, grad_b), [grad, a, b])


def remainder_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dt = result_dtype(a, b)
    a32, b32 = np.broadcast_arrays(*opmath(a, b))
    with np.errstate(all="ignore"):
        mod = np.fmod(a32, b32)  # PyTorch keeps fmod's signed zero (NumPy's remainder takes b's)
        return np.where((mod != 0) & ((b32 < 0) != (mod < 0)), mod + b32, mod).astype(dt)


def fmod_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dt = result_dtype(a, b)
    return _fmod_np(*opmath(a, b)).astype(dt)


def remainder_backward_ref(grad: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g, a32, b32 = np.broadcast_arrays(*opmath(grad, a, b))
    return grad + np.zeros(g.shape, grad.dtype), (-g * _floor_div_np(a32, b32)).astype(grad.dtype)


def fmod_backward_ref(grad: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g, a32, b32 = np.broadcast_arrays(*opmath(grad, a, b))
    with np.errstate(all="ignore"):
        return grad + np.zeros(g.shape, grad.dtype), (-g * np.trunc(a32 / b32)).astype(grad.dtype)


# ================================================================ registry
OPS: dict[str, BinaryOp] = {
    "sub": BinaryOp(sub, sub_backward, sub_ref, sub_backward_ref),
    "div": BinaryOp(div, div_backward, div_ref, div_backward_ref),
    "floor_divide": BinaryOp(floor_divide, floor_divide_backward, floor_divide_ref,
                             floor_divide_backward_ref),
    "remainder": BinaryOp(remainder, remainder_backward, remainder_ref, remainder_backward_ref),
    "fmod": BinaryOp(fmod, fmod_backward, fmod_ref, fmod_backward_ref),
}


# ================================================================ AOT / tuning declarations
# (OP, inputs, outputs, dtype, p0 type): every OP once, plus the dtypes that take another code path.
_SPEC_OPS = [
    (_sub, 2, 1, "fp32", "fp32"), (_sub, 2, 1, "fp64", "i64"), (_sub, 2, 1, "i32", "i32"),
    (_sub_backward, 1, 2, "bf16", "fp32"), (_sub_grad_b, 1, 1, "fp64", "i64"),
    (_div_true, 2, 1, "fp32", "fp32"), (_div_trunc, 2, 1, "fp16", "fp32"), (_div_trunc, 2, 1, "i64", "fp32"),
    (_div_floor, 2, 1, "fp32", "fp32"), (_div_floor, 2, 1, "fp64", "fp32"), (_div_floor, 2, 1, "i32", "fp32"),
    (_div_floor, 2, 1, "u8", "fp32"), (_div_backward, 3, 2, "fp32", "fp32"),
    (_div_grad_a, 2, 1, "fp32", "fp32"), (_zero_grads, 1, 2, "fp32", "fp32"),
    (_remainder, 2, 1, "fp32", "fp32"), (_remainder, 2, 1, "bf16", "fp32"), (_remainder, 2, 1, "i64", "fp32"),
    (_fmod, 2, 1, "fp64", "fp32"), (_fmod, 2, 1, "i8", "fp32"),
    (_remainder_backward, 3, 2, "fp32", "fp32"), (_fmod_backward, 3, 2, "fp64", "fp32"),
    (_sub, 2, 1, "fp64", 1),
]
SPECS = [map_spec("binary", op, dtype, n_in, n_out, p0=p0) for op, n_in, n_out, dtype, p0 in _SPEC_OPS]
