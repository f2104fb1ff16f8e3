"""Unary math ops, forward and backward, on the elementwise map kernel.

Every op is a pair of `@triton.jit` scalar-math functions run by `elementwise.launch_map`: the
forward `_<op>(x, p0, p1) -> y` and the backward `_<op>_backward(grad, saved, p0, p1) -> grad_x`,
where `saved` is the op's input x or its output y, whichever makes the gradient cheaper (exp, tanh,
sigmoid... reuse y; see `UnaryOp.saves`). Beside them sit the launch wrappers
`<op>(out, x)` / `<op>_backward(grad_x, grad, saved)` and the NumPy references
`<op>_ref(x)` / `<op>_backward_ref(grad, saved) -> (grad_x,)`.

`OPS` maps each op name to a `UnaryOp` (forward, backward, forward_ref, backward_ref, saves,
keeps_int, params) so the Tensor layer can register the whole family in one loop.

Dtypes: fp16/bf16/fp32/fp64 for every op; 16-bit floats are computed in fp32 (PyTorch's opmath)
and rounded once on store. Integer inputs (not bool) are accepted, and keep their dtype, by the
ops with `keeps_int` (abs, sign, square, floor, ceil, round, trunc); every other op expects the
Tensor layer to cast integers to the default float dtype first. Backward is floating only.

Only tl.exp/exp2/log/log2/sqrt/rsqrt/sin/cos/erf/floor/ceil exist on both the interpreter and the
GPU, so expm1, log1p, tan, the inverse and hyperbolic functions are built here from those in forms
that stay accurate in fp32 and fp64 (Kahan's expm1/log1p, Cephes' atan) and stable for large |x|.
On NVIDIA GPUs fp32 tl.exp/exp2/rsqrt lower to hardware approximations (a few ulp; exp's error grows
with |x|); sqrt and reciprocal, being the op itself, use the IEEE forms (sqrt_rn, div_rn).
`SPECS` covers every op's forward and backward in fp32 (plus fp64 where the math branches on dtype);
`FULL_SPECS` every op in every dtype, for a thorough ahead-of-time compile check.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import triton
import triton.language as tl

from .device_array import DeviceArray
from .elementwise import BLOCK, NUM_WARPS, _map_signature, launch_map, map_kernel
from .ieee_math import div_ieee, sqrt_ieee
from .launch_spec import KernelSpec


class UnaryOp(NamedTuple):
    """One registrable unary op: `forward(out, x, **params)`, `backward(grad_x, grad, saved, **params)`."""

    forward: Callable  # launch wrapper: forward(out, x, **params)
    backward: Callable  # launch wrapper: backward(grad_x, grad, saved, **params)
    forward_ref: Callable  # NumPy: forward_ref(x, **params) -> y
    backward_ref: Callable  # NumPy: backward_ref(grad, saved, **params) -> (grad_x,)
    saves: str  # "input" or "output": what `saved` is (zero-gradient ops ignore it)
    keeps_int: bool = False  # integer inputs keep their dtype (otherwise cast to float before the op)
    params: dict = {}  # keyword parameters and their PyTorch defaults


# ================================================================ Triton math shared by the family
@triton.jit
def _expm1_math(x):
    """exp(x) - 1 without cancellation near 0 (Kahan): (u - 1) * x / log(u) with u = exp(x).

    The ratio cancels the rounding error of u itself, so only log's accuracy matters (an approximate
    exp, as fp32 tl.exp is on GPUs, does no harm).
    """
    u = tl.exp(x)
    um1 = u - 1.0
    r = um1 * (x / tl.where(um1 == 0, 1.0, tl.log(u)))  # x / log(u) first: um1 * x may overflow
    r = tl.where(um1 == 0, x, r)
    r = tl.where(um1 == -1.0, um1, r)  # exp underflowed: the answer is -1
    return tl.where(u == float("inf"), u, r)


@triton.jit
def _log1p_math(x):
    """log(1 + x) without cancellation near 0 (Kahan): log(u) * x / (u - 1) with u = 1 + x."""
    u = 1.0 + x
    d = u - 1.0
    r = tl.log(u) * (x / tl.where(d == 0, 1.0, d))  # x / d is the rounding correction, close to 1
    r = tl.where(d == 0, x, r)
    return tl.where(u == float("inf"), u, r)


@triton.jit
def _sigmoid_pair(x):
    """(sigmoid(x), sigmoid(-x)), both from exp(-|x|) <= 1: no overflow, no 1 - s cancellation."""
    e = tl.exp(-tl.abs(x))
    r = 1.0 / (1.0 + e)
    q = e * r
    return tl.where(x >= 0, r, q), tl.where(x >= 0, q, r)


@triton.jit
def _sigmoid_math(x):
    s, _ = _sigmoid_pair(x)
    return s


@triton.jit
def _tanh_math(x):
    """tanh through expm1(-2|x|): accurate near 0, exactly +-1 once exp underflows, NaN-propagating."""
    em1 = _expm1_math(-2.0 * tl.abs(x))
    t = -em1 / (2.0 + em1)
    return tl.where(x < 0, -t, t)


@triton.jit
def _atan_f64(a):
    """atan for 0 <= a (Cephes atan.c): reduce to |t| <= 0.66, then t + t^3 P(t^2) / Q(t^2)."""
    big = a > 2.414213562373095  # tan(3 pi / 8): atan(a) = pi/2 + atan(-1/a)
    mid = a > 0.66  # atan(a) = pi/4 + atan((a - 1) / (a + 1))
    zero = tl.zeros_like(a)  # keeps the constants below in fp64 (a scalar-only where would be fp32)
    t = tl.where(big, -1.0 / tl.where(big, a, 1.0), tl.where(mid, (a - 1.0) / (a + 1.0), a))
    base = tl.where(big, zero + 1.5707963267948966, tl.where(mid, zero + 0.7853981633974483, zero))
    more = tl.where(big, zero + 6.123233995736766e-17, tl.where(mid, zero + 3.061616997868383e-17, zero))
    z = t * t
    p = -8.750608600031904122785e-1 * z - 1.615753718733365076637e1
    p = (p * z - 7.500855792314704667340e1) * z - 1.228866684490136173410e2
    p = p * z - 6.485021904942025371773e1
    q = (z + 2.485846490142306297962e1) * z + 1.650270098316988542046e2
    q = (q * z + 4.328810604912902668951e2) * z + 4.853903996359136964868e2
    q = q * z + 1.945506571482613964425e2
    return base + ((t * (z * p / q) + t) + more)


@triton.jit
def _atan_f32(a):
    """atan for 0 <= a (Cephes atanf.c): reduce to |t| <= tan(pi/8), then a degree-9 odd polynomial."""
    big = a > 2.414213562373095
    mid = a > 0.4142135623730950
    t = tl.where(big, -1.0 / tl.where(big, a, 1.0), tl.where(mid, (a - 1.0) / (a + 1.0), a))
    base = tl.where(big, 1.5707963267948966, tl.where(mid, 0.7853981633974483, 0.0))
    z = t * t
    return base + ((((8.05374449538e-2 * z - 1.38776856032e-1) * z + 1.99777106478e-1) * z
                    - 3.33329491539e-1) * z * t + t)


@triton.jit
def _atan_abs(a):
    if a.dtype.is_fp64():
        return _atan_f64(a)
    else:
        return _atan_f32(a)


@triton.jit
def _atan_math(x):
    y = _atan_abs(tl.abs(x))
    return tl.where(x < 0, -y, y)


@triton.jit
def _zero_backward(grad, saved, p0, p1):
    # Piecewise-constant ops: PyTorch's gradient is zeros_like(grad), so even an inf/NaN grad gives 0.
    return tl.zeros_like(grad)


# ================================================================ forward / backward math per op
@triton.jit
def _abs(x, p0, p1):
    return tl.abs(x)


@triton.jit
def _abs_backward(grad, x, p0, p1):
    # grad * sign(x): abs'(0) = 0 as in PyTorch.
    return tl.where(x > 0, grad, tl.where(x < 0, -grad, tl.zeros_like(grad)))


@triton.jit
def _sign(x, p0, p1):
    # (0 < x) - (x < 0), PyTorch's formula: sign(NaN) = 0, and unsigned inputs never go negative.
    return (x > 0).to(x.dtype) - (x < 0).to(x.dtype)


@triton.jit
def _exp(x, p0, p1):
    return tl.exp(x)


@triton.jit
def _exp_backward(grad, out, p0, p1):
    return grad * out


@triton.jit
def _exp2(x, p0, p1):
    return tl.exp2(x)


@triton.jit
def _exp2_backward(grad, out, p0, p1):
    return grad * out * 0.6931471805599453


@triton.jit
def _expm1(x, p0, p1):
    return _expm1_math(x)


@triton.jit
def _expm1_backward(grad, out, p0, p1):
    return grad * (out + 1.0)


@triton.jit
def _log(x, p0, p1):
    return tl.log(x)


@triton.jit
def _log_backward(grad, x, p0, p1):
    return grad / x


@triton.jit
def _log2(x, p0, p1):
    return tl.log2(x)


@triton.jit
def _log2_backward(grad, x, p0, p1):
    return grad / (x * 0.6931471805599453)


@triton.jit
def _log10(x, p0, p1):
    return tl.log(x) * 0.4342944819032518


@triton.jit
def _log10_backward(grad, x, p0, p1):
    return grad / (x * 2.302585092994046)


@triton.jit
def _log1p(x, p0, p1):
    return _log1p_math(x)


@triton.jit
def _log1p_backward(grad, x, p0, p1):
    return grad / (x + 1.0)


@triton.jit
def _sqrt(x, p0, p1):
    return sqrt_ieee(x)


@triton.jit
def _sqrt_backward(grad, out, p0, p1):
    return grad / (2.0 * out)


@triton.jit
def _rsqrt(x, p0, p1):
    # fp64 through IEEE sqrt and division: the GPU's rsqrt.approx.f64 is not double accurate.
    if x.dtype.is_fp64():
        return 1.0 / tl.sqrt(x)
    else:
        return tl.rsqrt(x)


@triton.jit
def _rsqrt_backward(grad, out, p0, p1):
    return -0.5 * grad * (out * out * out)


@triton.jit
def _square(x, p0, p1):
    return x * x


@triton.jit
def _square_backward(grad, x, p0, p1):
    return grad * (2.0 * x)


@triton.jit
def _reciprocal(x, p0, p1):
    return div_ieee(1.0, x)


@triton.jit
def _reciprocal_backward(grad, out, p0, p1):
    return -grad * (out * out)


@triton.jit
def _sin(x, p0, p1):
    return tl.sin(x)


@triton.jit
def _sin_backward(grad, x, p0, p1):
    return grad * tl.cos(x)


@triton.jit
def _cos(x, p0, p1):
    return tl.cos(x)


@triton.jit
def _cos_backward(grad, x, p0, p1):
    return -grad * tl.sin(x)


@triton.jit
def _tan(x, p0, p1):
    return tl.sin(x) / tl.cos(x)


@triton.jit
def _tan_backward(grad, out, p0, p1):
    return grad * (1.0 + out * out)


@triton.jit
def _asin(x, p0, p1):
    # asin(x) = atan(x / sqrt(1 - x^2)); (1 - x)(1 + x) keeps 1 - x^2 accurate near |x| = 1, and
    # |x| = 1 gives atan(+-inf) = +-pi/2, |x| > 1 a NaN from the sqrt.
    return _atan_math(x / tl.sqrt((1.0 - x) * (1.0 + x)))


@triton.jit
def _asin_backward(grad, x, p0, p1):
    return grad / tl.sqrt((1.0 - x) * (1.0 + x))


@triton.jit
def _acos(x, p0, p1):
    # acos(x) = 2 atan(sqrt((1 - x) / (1 + x))): no cancellation at either end, acos(-1) = 2 atan(inf).
    return 2.0 * _atan_abs(tl.sqrt((1.0 - x) / (1.0 + x)))


@triton.jit
def _acos_backward(grad, x, p0, p1):
    return -grad / tl.sqrt((1.0 - x) * (1.0 + x))


@triton.jit
def _atan(x, p0, p1):
    return _atan_math(x)


@triton.jit
def _atan_backward(grad, x, p0, p1):
    return grad / (1.0 + x * x)


@triton.jit
def _sinh_math(x):
    a = tl.abs(x)
    em1 = _expm1_math(a)
    small = 0.5 * (em1 + em1 / (em1 + 1.0))  # e^a - e^-a through expm1: exact near 0
    h = tl.exp(0.5 * a)
    big = (0.5 * h) * h  # e^a / 2 without overflowing before the result does; e^-a is below an ulp
    s = tl.where(a > 20.0, big, small)
    return tl.where(x < 0, -s, s)


@triton.jit
def _cosh_math(x):
    a = tl.abs(x)
    e = tl.exp(a)
    h = tl.exp(0.5 * a)
    return tl.where(a > 20.0, (0.5 * h) * h, 0.5 * (e + 1.0 / e))


@triton.jit
def _sinh(x, p0, p1):
    return _sinh_math(x)


@triton.jit
def _sinh_backward(grad, x, p0, p1):
    return grad * _cosh_math(x)


@triton.jit
def _cosh(x, p0, p1):
    return _cosh_math(x)


@triton.jit
def _cosh_backward(grad, x, p0, p1):
    return grad * _sinh_math(x)


@triton.jit
def _tanh(x, p0, p1):
    return _tanh_math(x)


@triton.jit
def _tanh_backward(grad, out, p0, p1):
    return grad * (1.0 - out * out)


@triton.jit
def _sigmoid(x, p0, p1):
    return _sigmoid_math(x)


@triton.jit
def _sigmoid_backward(grad, out, p0, p1):
    return grad * (out * (1.0 - out))


@triton.jit
def _erf(x, p0, p1):
    return tl.erf(x)


@triton.jit
def _erf_backward(grad, x, p0, p1):
    return grad * (1.1283791670955126 * tl.exp(-(x * x)))  # 2 / sqrt(pi)


@triton.jit
def _floor(x, p0, p1):
    if x.dtype.is_int():
        return x
    else:
        return tl.floor(x)


@triton.jit
def _ceil(x, p0, p1):
    if x.dtype.is_int():
        return x
    else:
        return tl.ceil(x)


@triton.jit
def _round(x, p0, p1):
    # Half to even from floor: x - floor(x) is exact, and floor(r / 2) tells whether r is odd.
    if x.dtype.is_int():
        return x
    else:
        r = tl.floor(x)
        d = x - r
        odd = r - 2.0 * tl.floor(0.5 * r) != 0.0
        y = tl.where((d > 0.5) | ((d == 0.5) & odd), r + 1.0, r)
        return tl.where(y == 0.0, x * 0.0, y)  # round(-0.4) is -0.0, like nearbyint


@triton.jit
def _trunc(x, p0, p1):
    if x.dtype.is_int():
        return x
    else:
        return tl.where(x < 0, tl.ceil(x), tl.floor(x))


# ================================================================ launch wrappers
# Forward: out = op(x), x already cast to the op's dtype and viewed to out's shape (any strides).
# Backward: grad_x = grad * op'(.), from the saved input x or the saved output `out` as named.
def abs(out: DeviceArray, x: DeviceArray) -> None:  # noqa: A001 - the op's name
    launch_map(_abs, [out], [x])


def abs_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_abs_backward, [grad_x], [grad, x])


def sign(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_sign, [out], [x])


def sign_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    """grad_x = 0 (x is not read)."""
    launch_map(_zero_backward, [grad_x], [grad, x])


def exp(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_exp, [out], [x])


def exp_backward(grad_x: DeviceArray, grad: DeviceArray, out: DeviceArray) -> None:
    launch_map(_exp_backward, [grad_x], [grad, out])


def exp2(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_exp2, [out], [x])


def exp2_backward(grad_x: DeviceArray, grad: DeviceArray, out: DeviceArray) -> None:
    launch_map(_exp2_backward, [grad_x], [grad, out])


def expm1(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_expm1, [out], [x])


def expm1_backward(grad_x: DeviceArray, grad: DeviceArray, out: DeviceArray) -> None:
    launch_map(_expm1_backward, [grad_x], [grad, out])


def log(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_log, [out], [x])


def log_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_log_backward, [grad_x], [grad, x])


def log2(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_log2, [out], [x])


def log2_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_log2_backward, [grad_x], [grad, x])


def log10(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_log10, [out], [x])


def log10_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_log10_backward, [grad_x], [grad, x])


def log1p(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_log1p, [out], [x])


def log1p_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_log1p_backward, [grad_x], [grad, x])


def sqrt(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_sqrt, [out], [x])


def sqrt_backward(grad_x: DeviceArray, grad: DeviceArray, out: DeviceArray) -> None:
    launch_map(_sqrt_backward, [grad_x], [grad, out])


def rsqrt(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_rsqrt, [out], [x])


def rsqrt_backward(grad_x: DeviceArray, grad: DeviceArray, out: DeviceArray) -> None:
    launch_map(_rsqrt_backward, [grad_x], [grad, out])


def square(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_square, [out], [x])


def square_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_square_backward, [grad_x], [grad, x])


def reciprocal(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_reciprocal, [out], [x])


def reciprocal_backward(grad_x: DeviceArray, grad: DeviceArray, out: DeviceArray) -> None:
    launch_map(_reciprocal_backward, [grad_x], [grad, out])


def sin(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_sin, [out], [x])


def sin_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_sin_backward, [grad_x], [grad, x])


def cos(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_cos, [out], [x])


def cos_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_cos_backward, [grad_x], [grad, x])


def tan(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_tan, [out], [x])


def tan_backward(grad_x: DeviceArray, grad: DeviceArray, out: DeviceArray) -> None:
    launch_map(_tan_backward, [grad_x], [grad, out])


def asin(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_asin, [out], [x])


def asin_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_asin_backward, [grad_x], [grad, x])


def acos(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_acos, [out], [x])


def acos_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_acos_backward, [grad_x], [grad, x])


def atan(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_atan, [out], [x])


def atan_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_atan_backward, [grad_x], [grad, x])


def sinh(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_sinh, [out], [x])


def sinh_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_sinh_backward, [grad_x], [grad, x])


def cosh(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_cosh, [out], [x])


def cosh_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_cosh_backward, [grad_x], [grad, x])


def tanh(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_tanh, [out], [x])


def tanh_backward(grad_x: DeviceArray, grad: DeviceArray, out: DeviceArray) -> None:
    launch_map(_tanh_backward, [grad_x], [grad, out])


def sigmoid(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_sigmoid, [out], [x])


def sigmoid_backward(grad_x: DeviceArray, grad: DeviceArray, out: DeviceArray) -> None:
    launch_map(_sigmoid_backward, [grad_x], [grad, out])


def erf(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_erf, [out], [x])


def erf_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_erf_backward, [grad_x], [grad, x])


def floor(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_floor, [out], [x])


def ceil(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_ceil, [out], [x])


def round(out: DeviceArray, x: DeviceArray) -> None:  # noqa: A001 - the op's name
    """Half to even (torch.round with decimals=0)."""
    launch_map(_round, [out], [x])


def trunc(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_trunc, [out], [x])


floor_backward = ceil_backward = round_backward = trunc_backward = sign_backward


# ================================================================ NumPy references
def _opmath(a: np.ndarray) -> np.ndarray:
    """PyTorch computes 16-bit floats (fp16, bf16) in fp32; every other dtype in itself."""
    a = np.asarray(a)
    return a.astype(np.float32) if a.dtype.itemsize == 2 and a.dtype.kind not in "biu" else a


def _forward_ref(fn: Callable, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    with np.errstate(all="ignore"):
        return np.asarray(fn(_opmath(x))).astype(x.dtype, copy=False)


def _backward_ref(fn: Callable, grad: np.ndarray, saved: np.ndarray) -> tuple[np.ndarray]:
    grad = np.asarray(grad)
    with np.errstate(all="ignore"):
        return (np.asarray(fn(_opmath(grad), _opmath(saved))).astype(grad.dtype, copy=False),)


_erf_object = np.frompyfunc(math.erf, 1, 1)


def np_erf(a: np.ndarray) -> np.ndarray:
    """erf for fp32/fp64 arrays (NumPy has none): math.erf per element, rounded to a's dtype."""
    return np.asarray(_erf_object(np.asarray(a, np.float64)), np.float64).astype(a.dtype)


def np_sigmoid(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sigmoid(a), sigmoid(-a)) in a's dtype, from exp(-|a|) so nothing overflows."""
    e = np.exp(-np.abs(a))
    r = 1 / (1 + e)
    return np.where(a >= 0, r, e * r), np.where(a >= 0, e * r, r)


def _zero_backward_ref(grad: np.ndarray, saved: np.ndarray) -> tuple[np.ndarray]:
    grad = np.asarray(grad)
    return (np.zeros(np.broadcast_shapes(grad.shape, np.shape(saved)), grad.dtype),)


def _sign_np(a):
    return (a > 0).astype(a.dtype) - (a < 0).astype(a.dtype)  # sign(NaN) = 0, like PyTorch


def _round_np(a):
    return a if a.dtype.kind in "biu" else np.rint(a)  # rint: half to even


def _int_identity(fn):
    return lambda a: a if a.dtype.kind in "biu" else fn(a)


def abs_ref(x):  # noqa: A001
    return _forward_ref(np.abs, x)


def abs_backward_ref(grad, x):
    return _backward_ref(lambda g, a: g * _sign_np(a), grad, x)


def sign_ref(x):
    return _forward_ref(_sign_np, x)


def exp_ref(x):
    return _forward_ref(np.exp, x)


def exp_backward_ref(grad, out):
    return _backward_ref(lambda g, y: g * y, grad, out)


def exp2_ref(x):
    return _forward_ref(np.exp2, x)


def exp2_backward_ref(grad, out):
    return _backward_ref(lambda g, y: g * y * math.log(2.0), grad, out)


def expm1_ref(x):
    return _forward_ref(np.expm1, x)


def expm1_backward_ref(grad, out):
    return _backward_ref(lambda g, y: g * (y + 1), grad, out)


def log_ref(x):
    return _forward_ref(np.log, x)


def log_backward_ref(grad, x):
    return _backward_ref(lambda g, a: g / a, grad, x)


def log2_ref(x):
    return _forward_ref(np.log2, x)


def log2_backward_ref(grad, x):
    return _backward_ref(lambda g, a: g / (a * math.log(2.0)), grad, x)


def log10_ref(x):
    return _forward_ref(np.log10, x)


def log10_backward_ref(grad, x):
    return _backward_ref(lambda g, a: g / (a * math.log(10.0)), grad, x)


def log1p_ref(x):
    return _forward_ref(np.log1p, x)


def log1p_backward_ref(grad, x):
    return _backward_ref(lambda g, a: g / (a + 1), grad, x)


def sqrt_ref(x):
    return _forward_ref(np.sqrt, x)


def sqrt_backward_ref(grad, out):
    return _backward_ref(lambda g, y: g / (2 * y), grad, out)


def rsqrt_ref(x):
    return _forward_ref(lambda a: 1 / np.sqrt(a), x)


def rsqrt_backward_ref(grad, out):
    return _backward_ref(lambda g, y: -0.5 * g * (y * y * y), grad, out)


def square_ref(x):
    return _forward_ref(np.square, x)


def square_backward_ref(grad, x):
    return _backward_ref(lambda g, a: g * (2 * a), grad, x)


def reciprocal_ref(x):
    return _forward_ref(np.reciprocal, x)


def reciprocal_backward_ref(grad, out):
    return _backward_ref(lambda g, y: -g * (y * y), grad, out)


def sin_ref(x):
    return _forward_ref(np.sin, x)


def sin_backward_ref(grad, x):
    return _backward_ref(lambda g, a: g * np.cos(a), grad, x)


def cos_ref(x):
    return _forward_ref(np.cos, x)


def cos_backward_ref(grad, x):
    return _backward_ref(lambda g, a: -g * np.sin(a), grad, x)


def tan_ref(x):
    return _forward_ref(np.tan, x)


def tan_backward_ref(grad, out):
    return _backward_ref(lambda g, y: g * (1 + y * y), grad, out)


def asin_ref(x):
    return _forward_ref(np.arcsin, x)


def asin_backward_ref(grad, x):
    return _backward_ref(lambda g, a: g / np.sqrt((1 - a) * (1 + a)), grad, x)


def acos_ref(x):
    return _forward_ref(np.arccos, x)


def acos_backward_ref(grad, x):
    return _backward_ref(lambda g, a: -g / np.sqrt((1 - a) * (1 + a)), grad, x)


def atan_ref(x):
    return _forward_ref(np.arctan, x)


def atan_backward_ref(grad, x):
    return _backward_ref(lambda g, a: g / (1 + a * a), grad, x)


def sinh_ref(x):
    return _forward_ref(np.sinh, x)


def sinh_backward_ref(grad, x):
    return _backward_ref(lambda g, a: g * np.cosh(a), grad, x)


def cosh_ref(x):
    return _forward_ref(np.cosh, x)


def cosh_backward_ref(grad, x):
    return _backward_ref(lambda g, a: g * np.sinh(a), grad, x)


def tanh_ref(x):
    return _forward_ref(np.tanh, x)


def tanh_backward_ref(grad, out):
    return _backward_ref(lambda g, y: g * (1 - y * y), grad, out)


def sigmoid_ref(x):
    return _forward_ref(lambda a: np_sigmoid(a)[0], x)


def sigmoid_backward_ref(grad, out):
    return _backward_ref(lambda g, y: g * (y * (1 - y)), grad, out)


def erf_ref(x):
    return _forward_ref(np_erf, x)


def erf_backward_ref(grad, x):
    return _backward_ref(lambda g, a: g * (2 / math.sqrt(math.pi) * np.exp(-(a * a))), grad, x)


def floor_ref(x):
    return _forward_ref(_int_identity(np.floor), x)


def ceil_ref(x):
    return _forward_ref(_int_identity(np.ceil), x)


def round_ref(x):  # noqa: A001
    return _forward_ref(_round_np, x)


def trunc_ref(x):
    return _forward_ref(_int_identity(np.trunc), x)


sign_backward_ref = floor_backward_ref = ceil_backward_ref = round_backward_ref = trunc_backward_ref = \
    _zero_backward_ref


# ================================================================ registry
# name -> (saves, keeps_int); wrappers and references are found by name in this module.
_TABLE = {
    "abs": ("input", True), "sign": ("input", True), "exp": ("output", False), "exp2": ("output", False),
    "expm1": ("output", False), "log": ("input", False), "log2": ("input", False),
    "log10": ("input", False), "log1p": ("input", False), "sqrt": ("output", False),
    "rsqrt": ("output", False), "square": ("input", True), "reciprocal": ("output", False),
    "sin": ("input", False), "cos": ("input", False), "tan": ("output", False), "asin": ("input", False),
    "acos": ("input", False), "atan": ("input", False), "sinh": ("input", False), "cosh": ("input", False),
    "tanh": ("output", False), "sigmoid": ("output", False), "erf": ("input", False),
    "floor": ("input", True), "ceil": ("input", True), "round": ("input", True), "trunc": ("input", True),
}

OPS: dict[str, UnaryOp] = {
    name: UnaryOp(globals()[name], globals()[f"{name}_backward"], globals()[f"{name}_ref"],
                  globals()[f"{name}_backward_ref"], saves, keeps_int)
    for name, (saves, keeps_int) in _TABLE.items()
}

# The Triton math of each op, for SPECS (and for callers fusing them elsewhere): name -> (fwd, bwd).
MATH = {name: (globals()[f"_{name}"], globals()[f"_{name}_backward"]
               if f"_{name}_backward" in globals() else _zero_backward) for name in _TABLE}


def build_specs(module: str, math_fns: dict, int_ops: list[str], branchy: list[str],
                full: bool = False) -> list[KernelSpec]:
    """Map-kernel specs of a family: each op's forward and backward in fp32 (each OP is its own
    kernel), fp64 for the ops whose math branches on fp64, int32 for the integer-keeping forwards;
    `full` compiles every op in fp16, bf16, fp32 and fp64."""
    cfg = [dict(BLOCK=BLOCK, num_warps=NUM_WARPS)]
    specs = []
    for name, (fwd, bwd) in math_fns.items():
        dtypes = ("fp32", "fp64") if name in branchy else ("fp32",)
        if full:
            dtypes = ("fp16", "bf16", "fp32", "fp64")
        for dtype in dtypes:
            specs.append(KernelSpec(f"{module}.{name}[{dtype}]", map_kernel, _map_signature(dtype, 1, 1),
                                    dict(OP=fwd, N_IN=1, N_OUT=1), cfg))
            specs.append(KernelSpec(f"{module}.{name}_backward[{dtype}]", map_kernel,
                                    _map_signature(dtype, 2, 1), dict(OP=bwd, N_IN=2, N_OUT=1), cfg))
    for name in int_ops:
        for dtype in ("i8", "u8", "i16", "i32", "i64") if full else ("i32",):
            specs.append(KernelSpec(f"{module}.{name}[{dtype}]", map_kernel, _map_signature(dtype, 1, 1),
                                    dict(OP=math_fns[name][0], N_IN=1, N_OUT=1), cfg))
    return specs


_INT_OPS = [name for name, op in OPS.items() if op.keeps_int]
_FP64_BRANCHES = ["sqrt", "rsqrt", "reciprocal", "asin", "acos", "atan"]  # dtype-dependent Triton math
SPECS = build_specs("unary", MATH, _INT_OPS, _FP64_BRANCHES)
FULL_SPECS = build_specs("unary", MATH, _INT_OPS, _FP64_BRANCHES, full=True)  # every op x every dtype
