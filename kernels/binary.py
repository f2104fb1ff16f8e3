"""Binary arithmetic ops, forward and backward, on the elementwise map kernel.

sub, div (true / 'trunc' / 'floor'), floor_divide, remainder, fmod, pow (tensor ** tensor,
tensor ** scalar, scalar ** tensor), maximum, minimum, atan2 and lerp. Every op is a
`@triton.jit` scalar-math function run by `elementwise.launch_map`; beside it sit the launch
wrapper, its fused backward (both input gradients in one pass) and the NumPy references.

Conventions (the Tensor layer's contract):
- Inputs arrive broadcast-viewed to the output shape and cast to the op's compute dtype (the
  result dtype, except where noted); 16-bit floats are computed in fp32 (PyTorch's opmath) and
  rounded once on store.
- Scalars: a tensor operand that PyTorch also accepts as a Python number is passed either as a
  0-stride DeviceArray or, where a wrapper says so (sub's alpha, pow_scalar's exponent, rpow's
  base, lerp's weight), as a Python number. Numbers travel as the map kernel's p0/p1 encoded by
  `encode_scalar` (fp32 for 16/32-bit floats, the exact bit pattern for fp64, the integer for
  integer dtypes) and are decoded in the kernel by `scalar_param`, so fp64 scalars stay exact.
- Backward wrappers take `None` for a gradient that is not needed (a scalar operand, or an input
  that does not require grad); that output is then neither computed nor stored.
- Integer division (div 'trunc'/'floor', floor_divide, remainder, fmod) by zero is undefined here,
  as on PyTorch's CUDA backend (PyTorch's CPU backend raises): the Tensor layer checks if it must.

`OPS` maps each op name to a `BinaryOp` (forward, backward, forward_ref, backward_ref); see its
docstring for the calling conventions, which per-op docstrings refine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import ml_dtypes
import numpy as np
import triton
import triton.language as tl

from tritensor import dtypes

from .device_array import DeviceArray
from .elementwise import BLOCK, NUM_WARPS, launch_map, map_kernel
from .ieee_math import div_ieee, sqrt_ieee
from .launch_spec import KernelSpec


class BinaryOp(NamedTuple):
    """One registrable op (also used by kernels/comparison.py).

    forward(out, *inputs, **params): writes op(*inputs) into out. Here: (out, a, b); lerp
        (out, start, end, weight); pow_scalar (out, x, exponent) and rpow (out, x, base) with a
        Python number for the scalar.
    backward(*grad_outputs, grad, *inputs, **params) or None (not differentiable): one gradient
        output per input, each may be None (not computed). Here: (grad_a, grad_b, grad, a, b); lerp
        (grad_start, grad_end, grad_weight, grad, start, end, weight); pow_scalar and rpow
        (grad_x, grad, x, scalar).
    forward_ref(*inputs, **params) -> ndarray, and backward_ref(grad, *inputs, **params) -> a tuple
        with one gradient per input (None for a scalar), in the broadcast output shape (the Tensor
        layer sums them back to the input shapes).
    """

    forward: Callable
    backward: Callable | None
    forward_ref: Callable
    backward_ref: Callable | None


# ================================================================ scalars as kernel parameters
def encode_scalar(value, dtype: dtypes.dtype, opmath: bool = False) -> int | float:
    """A Python number as a map-kernel parameter for an op computing in `dtype`.

    The launcher passes a Python float as fp32, so fp64 values go as their int64 bit pattern and
    `scalar_param` bit-casts them back. 16/32-bit floats are rounded to `dtype` (PyTorch casts a
    scalar operand to the tensor's dtype) or, with `opmath`, to fp32 (alpha, weights, exponents are
    kept in the compute precision). Integer dtypes take integral values only (the Tensor layer
    promotes `int_tensor op 0.5` to float first).
    """
    if dtype.is_floating_point:
        if dtype is dtypes.float64:
            return int(np.float64(value).view(np.int64))
        with np.errstate(over="ignore"):
            return float(np.array(value, dtype=np.float32 if opmath else dtype.np))
    if dtype is dtypes.bool:
        return int(bool(value))
    if not float(value).is_integer():
        raise ValueError(f"a non-integral scalar {value} can't be an operand of an {dtype} op; "
                         "cast the tensor to a floating dtype first")
    return int(value)


@triton.jit
def scalar_param(p, x):
    """The scalar `encode_scalar` put in p, in x's compute type (bit-cast back for fp64)."""
    if x.dtype.is_fp64():
        return tl.cast(p, tl.int64).to(tl.float64, bitcast=True)
    else:
        return tl.cast(p, x.dtype)


# ================================================================ Triton math shared by the family
@triton.jit
def _signbit(x):
    """The sign bit of an fp32/fp64 value (tells -0.0 from +0.0, unlike x < 0)."""
    if x.dtype.is_fp64():
        return x.to(tl.int64, bitcast=True) < 0
    else:
        return x.to(tl.int32, bitcast=True) < 0


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
    x = tl.where(_signbit(a), -x, x)
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
    fl = tl.where(div == 0, tl.where(_signbit(a) != _signbit(b), -zero, zero), fl)
    return tl.where(b == 0, div_ieee(a, b), fl)


@triton.jit
def _floor_div_int(a, b):
    q = a // b  # Triton's integer // truncates, like C
    r = a % b
    return tl.where((r != 0) & ((r < 0) != (b < 0)), q - 1, q)


@triton.jit
def _pow_float(a, b):
    """C pow for fp32/fp64: |a|**b = exp2(b * log2|a|) in fp64 (fp32 results come out correctly
    rounded; fp64 keeps ~|b log2 a| ulp), then the sign of odd integer powers and C99's special cases."""
    a64 = a.to(tl.float64)
    b64 = b.to(tl.float64)
    mag = tl.exp2(b64 * tl.log2(tl.abs(a64)))
    is_int = tl.floor(b64) == b64  # true for +-inf too: they are even
    odd = is_int & (tl.floor(b64 * 0.5) != b64 * 0.5)
    r = tl.where(_signbit(a64) & odd, -mag, mag)
    r = tl.where((a64 < 0) & (a64 > float("-inf")) & ~is_int, float("nan"), r)
    one = tl.zeros_like(r) + 1.0
    r = tl.where((tl.abs(a64) == 1) & (tl.abs(b64) == float("inf")), one, r)
    r = tl.where((b64 == 0) | (a64 == 1), one, r)
    return r.to(a.dtype)


@triton.jit
def _pow_int(a, b):
    """Integer pow by squaring (wrapping like PyTorch); negative exponents give 1, +-1 or 0 as PyTorch."""
    e = tl.where(b < 0, 0, b)
    result = tl.full(a.shape, 1, a.dtype)
    base = a
    while tl.max(e, axis=None) > 0:
        result = tl.where((e & 1) != 0, result * base, result)
        base = base * base
        e = e >> 1
    if a.dtype.is_int_unsigned():
        return result
    else:
        neg_one_power = tl.where((b & 1) != 0, -1, 1).to(a.dtype)
        negative = tl.where(a == 1, 1, tl.where(a == -1, neg_one_power, 0)).to(a.dtype)
        return tl.where(b < 0, negative, result)


@triton.jit
def _pow_any(a, b):
    if a.dtype.is_floating():
        return _pow_float(a, b)
    else:
        return _pow_int(a, b)


@triton.jit
def _atan_unit(r):
    """atan on [0, 1] (Cephes atan.c / atanf.c), reduced through pi/4 + atan((r - 1) / (r + 1))."""
    zero = tl.zeros_like(r)  # keeps the constants below in r's type
    if r.dtype.is_fp64():
        mid = r > 0.66
        t = tl.where(mid, (r - 1.0) / (r + 1.0), r)
        z = t * t
        p = ((((-8.750608600031904122785e-1 * z - 1.615753718733365076637e1) * z
               - 7.500855792314704667340e1) * z - 1.228866684490136173410e2) * z - 6.485021904942025371773e1)
        q = ((((z + 2.485846490142306297962e1) * z + 1.650270098316988542046e2) * z
              + 4.328810604912902668951e2) * z + 4.853903996359136964868e2) * z + 1.945506571482613964425e2
        tail = (t * (z * p / q) + t) + tl.where(mid, zero + 3.061616997868383e-17, zero)
        return tl.where(mid, zero + 0.7853981633974483, zero) + tail
    else:
        mid = r > 0.4142135623730950
        t = tl.where(mid, tl.div_rn(r - 1.0, r + 1.0), r)
        z = t * t
        tail = (((8.05374449538e-2 * z - 1.38776856032e-1) * z + 1.99777106478e-1) * z
                - 3.33329491539e-1) * z * t + t
        return tl.where(mid, zero + 0.7853981633974483, zero) + tail


@triton.jit
def _atan2_math(y, x):
    """atan2 with C99's signed zeros and infinities: atan of min/max on [0, 1], then the octant."""
    ax = tl.abs(x)
    ay = tl.abs(y)
    zero = tl.zeros_like(ax)
    hi = tl.maximum(ax, ay)
    r = div_ieee(tl.minimum(ax, ay), tl.where(hi == 0, zero + 1.0, hi))
    r = tl.where((ax == float("inf")) & (ay == float("inf")), zero + 1.0, r)
    t = _atan_unit(r)
    t = tl.where(ay > ax, (zero + 1.5707963267948966) - t, t)
    t = tl.where(_signbit(x), (zero + 3.141592653589793) - t, t)
    t = tl.where(_signbit(y), -t, t)
    return tl.where((x != x) | (y != y), x + y, t)


# ================================================================ NumPy helpers for the references
_HALF = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))


def _opmath(*arrays):
    """The arrays in PyTorch's compute precision: 16-bit floats through fp32."""
    out = [np.asarray(a) for a in arrays]
    return [a.astype(np.float32) if a.dtype in _HALF else a for a in out]


def _result_dtype(*arrays) -> np.dtype:
    return np.result_type(*[np.asarray(a) for a in arrays])


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


def _pow_np(a, b):
    a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
    if np.issubdtype(a.dtype, np.floating):
        with np.errstate(all="ignore"):
            return np.power(a, b)
    with np.errstate(all="ignore"):
        r = np.power(a, np.where(b < 0, 0, b).astype(b.dtype))
    neg = np.where(a == 1, 1, np.where(a == -1, np.where(b % 2 != 0, -1, 1), 0))
    return np.where(b < 0, neg, r).astype(a.dtype)


def _is_float(x) -> bool:
    return np.issubdtype(np.asarray(x).dtype, np.floating)


def _check_float(op: str, *arrays: DeviceArray) -> None:
    for a in arrays:
        if not a.dtype.is_floating_point:
            raise TypeError(f"{op} expects floating-point operands (got {a.dtype}); cast them first")


def _launch_grads(ops: tuple, grads: tuple, ins: list, p0=0.0, p1=0.0) -> None:
    """Run the (both, first only, second only) backward OP that fits the gradients asked for."""
    both, first, second = ops
    ga, gb = grads
    if ga is not None and gb is not None:
        launch_map(both, [ga, gb], ins, p0, p1)
    elif ga is not None:
        launch_map(first, [ga], ins, p0, p1)
    elif gb is not None:
        launch_map(second, [gb], ins, p0, p1)


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


def sub(out: DeviceArray, a: DeviceArray, b: DeviceArray, alpha=1) -> None:
    """out = a - alpha * b (any dtype but bool; alpha a Python number, integral for integer dtypes)."""
    if alpha == 1:
        launch_map(_sub_no_alpha, [out], [a, b])
    else:
        launch_map(_sub, [out], [a, b], encode_scalar(alpha, a.dtype, opmath=True))


def sub_backward(grad_a: DeviceArray | None, grad_b: DeviceArray | None, grad: DeviceArray,
                 a: DeviceArray | None = None, b: DeviceArray | None = None, alpha=1) -> None:
    """grad_a = grad, grad_b = -alpha * grad (a and b are not read)."""
    _launch_grads((_sub_backward, _sub_grad_a, _sub_grad_b), (grad_a, grad_b), [grad],
                  encode_scalar(alpha, grad.dtype, opmath=True))


def sub_ref(a: np.ndarray, b: np.ndarray, alpha=1) -> np.ndarray:
    dt = _result_dtype(a, b)
    a32, b32 = _opmath(a, b)
    with np.errstate(over="ignore"):
        return (a32 - b32 * np.asarray(alpha, dtype=a32.dtype)).astype(dt)


def sub_backward_ref(grad: np.ndarray, a=None, b=None, alpha=1) -> tuple[np.ndarray, np.ndarray]:
    (g,) = _opmath(grad)
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
        _check_float("div", a, b)
    launch_map(_DIV_OPS[rounding_mode], [out], [a, b])


def floor_divide(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:
    """out = a // b with Python's (and torch.floor_divide's) rounding toward -inf."""
    launch_map(_div_floor, [out], [a, b])


def div_backward(grad_a: DeviceArray | None, grad_b: DeviceArray | None, grad: DeviceArray, a: DeviceArray,
                 b: DeviceArray, rounding_mode: str | None = None) -> None:
    """grad_a = grad / b, grad_b = -grad * (a / b) / b; zeros with a rounding mode (as PyTorch)."""
    if rounding_mode is not None:
        _launch_grads((_zero_grads, _zero_grad, _zero_grad), (grad_a, grad_b), [grad])
    elif grad_b is None:
        if grad_a is not None:
            launch_map(_div_grad_a, [grad_a], [grad, b])
    else:
        _launch_grads((_div_backward, None, _div_grad_b), (grad_a, grad_b), [grad, a, b])


def floor_divide_backward(grad_a: DeviceArray | None, grad_b: DeviceArray | None, grad: DeviceArray,
                          a: DeviceArray | None = None, b: DeviceArray | None = None) -> None:
    """Zeros (PyTorch's gradient of floor_divide)."""
    _launch_grads((_zero_grads, _zero_grad, _zero_grad), (grad_a, grad_b), [grad])


def div_ref(a: np.ndarray, b: np.ndarray, rounding_mode: str | None = None) -> np.ndarray:
    dt = _result_dtype(a, b)
    a32, b32 = _opmath(a, b)
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
    g, a32, b32 = _opmath(grad, a, b)
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


def remainder(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:
    """torch.remainder: a - b * floor(a / b), the sign of b (Python's %); floats and integers."""
    launch_map(_remainder, [out], [a, b])


def fmod(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:
    """torch.fmod: C's fmod, the sign of a (exact for floats); floats and integers."""
    launch_map(_fmod, [out], [a, b])


def remainder_backward(grad_a: DeviceArray | None, grad_b: DeviceArray | None, grad: DeviceArray,
                       a: DeviceArray, b: DeviceArray) -> None:
    """grad_a = grad, grad_b = -grad * floor_divide(a, b) (PyTorch)."""
    _launch_grads((_remainder_backward, _grad_a_identity, _remainder_grad_b), (grad_a, grad_b), [grad, a, b])


def fmod_backward(grad_a: DeviceArray | None, grad_b: DeviceArray | None, grad: DeviceArray,
                  a: DeviceArray, b: DeviceArray) -> None:
    """grad_a = grad, grad_b = -grad * trunc(a / b) (PyTorch)."""
    _launch_grads((_fmod_backward, _grad_a_identity, _fmod_grad_b), (grad_a, grad_b), [grad, a, b])


def remainder_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dt = _result_dtype(a, b)
    a32, b32 = np.broadcast_arrays(*_opmath(a, b))
    with np.errstate(all="ignore"):
        mod = np.fmod(a32, b32)  # PyTorch keeps fmod's signed zero (NumPy's remainder takes b's)
        return np.where((mod != 0) & ((b32 < 0) != (mod < 0)), mod + b32, mod).astype(dt)


def fmod_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dt = _result_dtype(a, b)
    return _fmod_np(*_opmath(a, b)).astype(dt)


def remainder_backward_ref(grad: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g, a32, b32 = np.broadcast_arrays(*_opmath(grad, a, b))
    return grad + np.zeros(g.shape, grad.dtype), (-g * _floor_div_np(a32, b32)).astype(grad.dtype)


def fmod_backward_ref(grad: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g, a32, b32 = np.broadcast_arrays(*_opmath(grad, a, b))
    with np.errstate(all="ignore"):
        return grad + np.zeros(g.shape, grad.dtype), (-g * np.trunc(a32 / b32)).astype(grad.dtype)


# ================================================================ pow
@triton.jit
def _pow(a, b, p0, p1):
    return _pow_any(a, b)


@triton.jit
def _pow_scalar(x, exponent, p1):
    return _pow_any(x, tl.zeros_like(x) + scalar_param(exponent, x))


@triton.jit
def _square(x, p0, p1):
    return x * x


@triton.jit
def _cube(x, p0, p1):
    return x * x * x


@triton.jit
def _reciprocal(x, p0, p1):
    return div_ieee(tl.zeros_like(x) + 1.0, x)


@triton.jit
def _reciprocal_square(x, p0, p1):
    return div_ieee(tl.zeros_like(x) + 1.0, x * x)


@triton.jit
def _sqrt(x, p0, p1):
    return sqrt_ieee(x)


@triton.jit
def _rsqrt(x, p0, p1):
    return div_ieee(tl.zeros_like(x) + 1.0, sqrt_ieee(x))


@triton.jit
def _rpow(x, base, p1):
    return _pow_any(tl.zeros_like(x) + scalar_param(base, x), x)


@triton.jit
def _pow_grad_base_math(grad, a, b):
    # PyTorch: where(b == 0, 0, grad * b * a ** (b - 1)): the base gradient at a == 0 is 0 for b > 1,
    # grad for b == 1, inf for 0 < b < 1.
    return tl.where(b == 0, 0.0, grad * (b * _pow_float(a, b - 1)))


@triton.jit
def _pow_grad_exp_math(grad, a, b):
    # PyTorch: grad * where((a == 0) & (b >= 0), 0, a ** b * log(a)).
    return grad * tl.where((a == 0) & (b >= 0), 0.0, _pow_float(a, b) * tl.log(a))


@triton.jit
def _pow_backward(grad, a, b, p0, p1):
    return _pow_grad_base_math(grad, a, b), _pow_grad_exp_math(grad, a, b)


@triton.jit
def _pow_grad_a(grad, a, b, p0, p1):
    return _pow_grad_base_math(grad, a, b)


@triton.jit
def _pow_grad_b(grad, a, b, p0, p1):
    return _pow_grad_exp_math(grad, a, b)


@triton.jit
def _pow_scalar_backward(grad, x, exponent, p1):
    return _pow_grad_base_math(grad, x, tl.zeros_like(x) + scalar_param(exponent, x))


@triton.jit
def _rpow_backward(grad, x, base, p1):
    return _pow_grad_exp_math(grad, tl.zeros_like(x) + scalar_param(base, x), x)


# Exponents PyTorch computes without pow (and so exactly, or correctly rounded).
_POW_SPECIAL = {2: _square, 3: _cube, 0.5: _sqrt, -0.5: _rsqrt, -1: _reciprocal, -2: _reciprocal_square}


def pow(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:  # noqa: A001 - the op's name
    """out = a ** b elementwise: C pow for floats; integer pow (wrapping) for integer dtypes, where a
    negative exponent gives 1 for a == 1, +-1 for a == -1 and 0 otherwise (PyTorch)."""
    launch_map(_pow, [out], [a, b])


def pow_scalar(out: DeviceArray, x: DeviceArray, exponent) -> None:
    """out = x ** exponent for a Python number exponent (integral for integer x).

    Like PyTorch, exponents 2, 3, -1, -2, 0.5 and -0.5 of float tensors avoid pow.
    """
    if x.dtype.is_floating_point and exponent in _POW_SPECIAL and not isinstance(exponent, bool):
        launch_map(_POW_SPECIAL[exponent], [out], [x])
    else:
        launch_map(_pow_scalar, [out], [x], encode_scalar(exponent, x.dtype, opmath=True))


def rpow(out: DeviceArray, x: DeviceArray, base) -> None:
    """out = base ** x for a Python number base (torch.pow(Scalar self, Tensor exponent))."""
    launch_map(_rpow, [out], [x], encode_scalar(base, x.dtype, opmath=True))


def pow_backward(grad_a: DeviceArray | None, grad_b: DeviceArray | None, grad: DeviceArray, a: DeviceArray,
                 b: DeviceArray) -> None:
    """grad_a = grad * b * a ** (b - 1) (0 where b == 0), grad_b = grad * a ** b * log(a) (0 where
    a == 0 and b >= 0), as PyTorch; floats only."""
    _launch_grads((_pow_backward, _pow_grad_a, _pow_grad_b), (grad_a, grad_b), [grad, a, b])


def pow_scalar_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, exponent) -> None:
    launch_map(_pow_scalar_backward, [grad_x], [grad, x], encode_scalar(exponent, x.dtype, opmath=True))


def rpow_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, base) -> None:
    launch_map(_rpow_backward, [grad_x], [grad, x], encode_scalar(base, x.dtype, opmath=True))


def pow_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dt = _result_dtype(a, b)
    return _pow_np(*_opmath(a, b)).astype(dt)


def pow_scalar_ref(x: np.ndarray, exponent) -> np.ndarray:
    (x32,) = _opmath(x)
    return _pow_np(x32, np.asarray(exponent, dtype=x32.dtype)).astype(x.dtype)


def rpow_ref(x: np.ndarray, base) -> np.ndarray:
    (x32,) = _opmath(x)
    return _pow_np(np.asarray(base, dtype=x32.dtype), x32).astype(x.dtype)


def _pow_grads_np(g, a, b):
    with np.errstate(all="ignore"):
        ga = np.where(b == 0, 0, g * (b * np.power(a, b - 1)))
        gb = g * np.where((a == 0) & (b >= 0), 0, np.power(a, b) * np.log(a))
    return ga, gb


def pow_backward_ref(grad: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ga, gb = _pow_grads_np(*np.broadcast_arrays(*_opmath(grad, a, b)))
    return ga.astype(grad.dtype), gb.astype(grad.dtype)


def pow_scalar_backward_ref(grad: np.ndarray, x: np.ndarray, exponent) -> tuple[np.ndarray]:
    g, x32 = _opmath(grad, x)
    return (_pow_grads_np(g, x32, np.asarray(exponent, dtype=x32.dtype))[0].astype(grad.dtype),)


def rpow_backward_ref(grad: np.ndarray, x: np.ndarray, base) -> tuple[np.ndarray]:
    g, x32 = _opmath(grad, x)
    return (_pow_grads_np(g, np.asarray(base, dtype=x32.dtype), x32)[1].astype(grad.dtype),)


# ================================================================ maximum, minimum
@triton.jit
def _maximum(a, b, p0, p1):
    # NaN propagates (integers: never taken). Bools reach OPs as 0/1 integers, so this is `or`.
    r = tl.where(a > b, a, b)
    return tl.where(a != a, a, tl.where(b != b, b, r))


@triton.jit
def _minimum(a, b, p0, p1):
    r = tl.where(a < b, a, b)
    return tl.where(a != a, a, tl.where(b != b, b, r))


@triton.jit
def _max_grads(grad, a, b):
    # PyTorch: ties split the gradient in halves; with a NaN neither side is "less", both get grad.
    shared = tl.where(a == b, grad * 0.5, grad)
    return tl.where(a < b, 0.0, shared), tl.where(a > b, 0.0, shared)


@triton.jit
def _maximum_backward(grad, a, b, p0, p1):
    return _max_grads(grad, a, b)


@triton.jit
def _maximum_grad_a(grad, a, b, p0, p1):
    return _max_grads(grad, a, b)[0]


@triton.jit
def _maximum_grad_b(grad, a, b, p0, p1):
    return _max_grads(grad, a, b)[1]


@triton.jit
def _minimum_backward(grad, a, b, p0, p1):
    return _max_grads(grad, b, a)


@triton.jit
def _minimum_grad_a(grad, a, b, p0, p1):
    return _max_grads(grad, b, a)[0]


@triton.jit
def _minimum_grad_b(grad, a, b, p0, p1):
    return _max_grads(grad, b, a)[1]


def maximum(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:
    """Elementwise max, NaN-propagating; every dtype (bool: or)."""
    launch_map(_maximum, [out], [a, b])


def minimum(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:
    """Elementwise min, NaN-propagating; every dtype (bool: and)."""
    launch_map(_minimum, [out], [a, b])


def maximum_backward(grad_a: DeviceArray | None, grad_b: DeviceArray | None, grad: DeviceArray,
                     a: DeviceArray, b: DeviceArray) -> None:
    _launch_grads((_maximum_backward, _maximum_grad_a, _maximum_grad_b), (grad_a, grad_b), [grad, a, b])


def minimum_backward(grad_a: DeviceArray | None, grad_b: DeviceArray | None, grad: DeviceArray,
                     a: DeviceArray, b: DeviceArray) -> None:
    _launch_grads((_minimum_backward, _minimum_grad_a, _minimum_grad_b), (grad_a, grad_b), [grad, a, b])


def maximum_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum(a, b)


def minimum_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.minimum(a, b)


def _max_grads_np(g, a, b):
    shared = np.where(a == b, g * 0.5, g)
    return np.where(a < b, 0, shared), np.where(a > b, 0, shared)


def maximum_backward_ref(grad: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ga, gb = _max_grads_np(*np.broadcast_arrays(*_opmath(grad, a, b)))
    return ga.astype(grad.dtype), gb.astype(grad.dtype)


def minimum_backward_ref(grad: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g, a32, b32 = np.broadcast_arrays(*_opmath(grad, a, b))
    ga, gb = _max_grads_np(g, b32, a32)
    return ga.astype(grad.dtype), gb.astype(grad.dtype)


# ================================================================ atan2
@triton.jit
def _atan2(a, b, p0, p1):
    return _atan2_math(a, b)


@triton.jit
def _atan2_grads(grad, a, b):
    # PyTorch: 1 / (a^2 + b^2) shared by both; NaN at (0, 0), as PyTorch.
    recip = div_ieee(tl.zeros_like(a) + 1.0, a * a + b * b)
    return grad * b * recip, grad * -a * recip


@triton.jit
def _atan2_backward(grad, a, b, p0, p1):
    return _atan2_grads(grad, a, b)


@triton.jit
def _atan2_grad_a(grad, a, b, p0, p1):
    return _atan2_grads(grad, a, b)[0]


@triton.jit
def _atan2_grad_b(grad, a, b, p0, p1):
    return _atan2_grads(grad, a, b)[1]


def atan2(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:
    """out = atan2(a, b) (a is y, b is x) with C99's zeros/infinities; floats only."""
    _check_float("atan2", a, b)
    launch_map(_atan2, [out], [a, b])


def atan2_backward(grad_a: DeviceArray | None, grad_b: DeviceArray | None, grad: DeviceArray, a: DeviceArray,
                   b: DeviceArray) -> None:
    """grad_a = grad * b / (a^2 + b^2), grad_b = -grad * a / (a^2 + b^2)."""
    _launch_grads((_atan2_backward, _atan2_grad_a, _atan2_grad_b), (grad_a, grad_b), [grad, a, b])


def atan2_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dt = _result_dtype(a, b)
    return np.arctan2(*_opmath(a, b)).astype(dt)


def atan2_backward_ref(grad: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g, a32, b32 = np.broadcast_arrays(*_opmath(grad, a, b))
    with np.errstate(all="ignore"):
        recip = 1 / (a32 * a32 + b32 * b32)
        return (g * b32 * recip).astype(grad.dtype), (g * -a32 * recip).astype(grad.dtype)


# ================================================================ lerp
@triton.jit
def _lerp_math(s, e, w):
    # PyTorch's two-sided form: exact at w == 0 and w == 1.
    return tl.where(tl.abs(w) < 0.5, s + w * (e - s), e - (e - s) * (1 - w))


@triton.jit
def _lerp(s, e, w, p0, p1):
    return _lerp_math(s, e, w)


@triton.jit
def _lerp_scalar(s, e, weight, p1):
    return _lerp_math(s, e, scalar_param(weight, s))


@triton.jit
def _lerp_weight_grads(grad, w):
    return grad * (1 - w), grad * w


@triton.jit
def _lerp_backward(grad, w, p0, p1):
    return _lerp_weight_grads(grad, w)


@triton.jit
def _lerp_grad_start(grad, w, p0, p1):
    return _lerp_weight_grads(grad, w)[0]


@triton.jit
def _lerp_grad_end(grad, w, p0, p1):
    return _lerp_weight_grads(grad, w)[1]


@triton.jit
def _lerp_scalar_backward(grad, weight, p1):
    return _lerp_weight_grads(grad, scalar_param(weight, grad))


@triton.jit
def _lerp_scalar_grad_start(grad, weight, p1):
    return _lerp_weight_grads(grad, scalar_param(weight, grad))[0]


@triton.jit
def _lerp_scalar_grad_end(grad, weight, p1):
    return _lerp_weight_grads(grad, scalar_param(weight, grad))[1]


@triton.jit
def _lerp_grad_weight(grad, s, e, p0, p1):
    return grad * (e - s)


def lerp(out: DeviceArray, start: DeviceArray, end: DeviceArray, weight: DeviceArray | float) -> None:
    """out = start + weight * (end - start) (PyTorch's form); weight a DeviceArray or a Python number.

    Floats only.
    """
    _check_float("lerp", start, end)
    if isinstance(weight, DeviceArray):
        launch_map(_lerp, [out], [start, end, weight])
    else:
        launch_map(_lerp_scalar, [out], [start, end], encode_scalar(weight, start.dtype, opmath=True))


def lerp_backward(grad_start: DeviceArray | None, grad_end: DeviceArray | None,
                  grad_weight: DeviceArray | None, grad: DeviceArray, start: DeviceArray, end: DeviceArray,
                  weight: DeviceArray | float) -> None:
    """grad_start = grad * (1 - w), grad_end = grad * w (one pass), grad_weight = grad * (end - start).

    grad_weight is a second pass (the map kernel writes two outputs); it must be None for a
    Python-number weight.
    """
    if isinstance(weight, DeviceArray):
        _launch_grads((_lerp_backward, _lerp_grad_start, _lerp_grad_end), (grad_start, grad_end),
                      [grad, weight])
        if grad_weight is not None:
            launch_map(_lerp_grad_weight, [grad_weight], [grad, start, end])
    else:
        if grad_weight is not None:
            raise ValueError("lerp_backward: a Python-number weight has no gradient")
        _launch_grads((_lerp_scalar_backward, _lerp_scalar_grad_start, _lerp_scalar_grad_end),
                      (grad_start, grad_end), [grad], encode_scalar(weight, grad.dtype, opmath=True))


def lerp_ref(start: np.ndarray, end: np.ndarray, weight) -> np.ndarray:
    dt = _result_dtype(start, end)
    s, e = _opmath(start, end)
    w = _opmath(weight)[0] if isinstance(weight, np.ndarray) else np.asarray(weight, dtype=s.dtype)
    return np.where(np.abs(w) < 0.5, s + w * (e - s), e - (e - s) * (1 - w)).astype(dt)


def lerp_backward_ref(grad: np.ndarray, start: np.ndarray, end: np.ndarray,
                      weight) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    g, s, e = _opmath(grad, start, end)
    w = _opmath(weight)[0] if isinstance(weight, np.ndarray) else np.asarray(weight, dtype=g.dtype)
    shape = np.broadcast_shapes(g.shape, s.shape, e.shape, w.shape)
    gs = np.broadcast_to(g * (1 - w), shape).astype(grad.dtype)
    ge = np.broadcast_to(g * w, shape).astype(grad.dtype)
    gw = np.broadcast_to(g * (e - s), shape).astype(grad.dtype) if isinstance(weight, np.ndarray) else None
    return gs, ge, gw


# ================================================================ registry
OPS: dict[str, BinaryOp] = {
    "sub": BinaryOp(sub, sub_backward, sub_ref, sub_backward_ref),
    "div": BinaryOp(div, div_backward, div_ref, div_backward_ref),
    "floor_divide": BinaryOp(floor_divide, floor_divide_backward, floor_divide_ref,
                             floor_divide_backward_ref),
    "remainder": BinaryOp(remainder, remainder_backward, remainder_ref, remainder_backward_ref),
    "fmod": BinaryOp(fmod, fmod_backward, fmod_ref, fmod_backward_ref),
    "pow": BinaryOp(pow, pow_backward, pow_ref, pow_backward_ref),
    "pow_scalar": BinaryOp(pow_scalar, pow_scalar_backward, pow_scalar_ref, pow_scalar_backward_ref),
    "rpow": BinaryOp(rpow, rpow_backward, rpow_ref, rpow_backward_ref),
    "maximum": BinaryOp(maximum, maximum_backward, maximum_ref, maximum_backward_ref),
    "minimum": BinaryOp(minimum, minimum_backward, minimum_ref, minimum_backward_ref),
    "atan2": BinaryOp(atan2, atan2_backward, atan2_ref, atan2_backward_ref),
    "lerp": BinaryOp(lerp, lerp_backward, lerp_ref, lerp_backward_ref),
}


# ================================================================ AOT / tuning declarations
def map_signature(outs: list[str], ins: list[str], p0: str = "fp32", p1: str = "fp32") -> dict[str, str]:
    """map_kernel's signature with per-operand pointer types (unused slots repeat the first one)."""
    outs = outs + outs[:1] * (2 - len(outs))
    ins = ins + ins[:1] * (3 - len(ins))
    sig = {"out0_ptr": f"*{outs[0]}", "out1_ptr": f"*{outs[1]}", "in0_ptr": f"*{ins[0]}",
           "in1_ptr": f"*{ins[1]}", "in2_ptr": f"*{ins[2]}", "numel": "i32", "size1": "i32", "size2": "i32",
           "size3": "i32"}
    for operand in ("o0", "o1", "i0", "i1", "i2"):
        sig.update({f"{operand}s{d}": "i32" for d in range(4)})
    sig.update(p0=p0, p1=p1)
    return sig


def map_spec(module: str, op, dtype: str, n_in: int, n_out: int, out_dtype: str | None = None,
             p0: str | int = "fp32", p1: str | int = "fp32",
             in_dtypes: list[str] | None = None) -> KernelSpec:
    """A KernelSpec of map_kernel running `op` (the shipped config is elementwise's).

    p0/p1 name the Triton type the launcher gives the parameter ("fp32" for a Python float, "i32" /
    "i64" for an int, i.e. integer and fp64-bit scalars), or are an int constant: the launcher
    specializes an integer argument equal to 1 as a constexpr, so a scalar of 1 must compile too.
    """
    ins = in_dtypes or [dtype] * n_in
    params = {"p0": p0, "p1": p1}
    sig = map_signature([out_dtype or dtype] * n_out, ins, *(("i32" if isinstance(p, int) else p)
                                                            for p in params.values()))
    constexprs = dict(OP=op, N_IN=n_in, N_OUT=n_out)
    tags = ""
    for key, p in params.items():
        if isinstance(p, int):
            del sig[key]
            constexprs[key] = p
            tags += f":{key}={p}"
    name = f"{module}.map[{op.__name__.strip('_')}:{dtype}{tags}]"
    return KernelSpec(name, map_kernel, sig, constexprs, [dict(BLOCK=BLOCK, num_warps=NUM_WARPS)])


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
    (_pow, 2, 1, "fp32", "fp32"), (_pow, 2, 1, "fp64", "fp32"), (_pow, 2, 1, "i32", "fp32"),
    (_pow, 2, 1, "u8", "fp32"), (_pow_scalar, 1, 1, "fp16", "fp32"), (_pow_scalar, 1, 1, "fp64", "i64"),
    (_pow_scalar, 1, 1, "i64", "i32"), (_rsqrt, 1, 1, "fp32", "fp32"), (_rpow, 1, 1, "fp32", "fp32"),
    (_pow_backward, 3, 2, "fp32", "fp32"), (_pow_backward, 3, 2, "fp64", "fp32"),
    (_pow_scalar_backward, 2, 1, "bf16", "fp32"), (_rpow_backward, 2, 1, "fp64", "i64"),
    (_maximum, 2, 1, "fp32", "fp32"), (_maximum, 2, 1, "i1", "fp32"), (_minimum, 2, 1, "i64", "fp32"),
    (_maximum_backward, 3, 2, "fp16", "fp32"), (_minimum_backward, 3, 2, "fp32", "fp32"),
    (_atan2, 2, 1, "fp32", "fp32"), (_atan2, 2, 1, "fp64", "fp32"), (_atan2_backward, 3, 2, "fp32", "fp32"),
    (_lerp, 3, 1, "bf16", "fp32"), (_lerp_scalar, 2, 1, "fp64", "i64"),
    (_lerp_backward, 2, 2, "fp32", "fp32"), (_lerp_grad_weight, 3, 1, "fp32", "fp32"),
    (_lerp_scalar_backward, 1, 2, "fp16", "fp32"), (_pow_scalar, 1, 1, "i32", 1), (_sub, 2, 1, "fp64", 1),
]
SPECS = [map_spec("binary", op, dtype, n_in, n_out, p0=p0) for op, n_in, n_out, dtype, p0 in _SPEC_OPS]
