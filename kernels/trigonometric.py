"""Trigonometric and hyperbolic functions, forward and backward, on the elementwise map kernel: sin,
cos, tan, asin, acos, atan, sinh, cosh, tanh.

Every op is a pair of `@triton.jit` scalar-math functions run by `elementwise.launch_map`: the
forward `_<op>(x, p0, p1) -> y` and the backward `_<op>_backward(grad, saved, p0, p1) -> grad_x`,
where `saved` is the op's input x or its output y, whichever makes the gradient cheaper (see
`unary.UnaryOp.saves`). Beside them sit the launch wrappers `<op>(out, x)` /
`<op>_backward(grad_x, grad, saved)` and the NumPy references `<op>_ref(x)` /
`<op>_backward_ref(grad, saved) -> (grad_x,)`. `OPS` maps each op name to a `unary.UnaryOp`.

Dtypes: fp16/bf16/fp32/fp64 (16-bit floats computed in fp32); the Tensor layer casts integers to the
default float dtype first. Only tl.sin/cos/sqrt/exp/log exist on both the interpreter and the GPU, so
tan, the inverse and the hyperbolic functions are built here from those in forms that stay accurate
in fp32 and fp64 (Cephes' atan; expm1 for sinh and tanh) and stable for large |x|.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from .device_array import DeviceArray
from .elementwise import launch_map
from .exponential import _expm1_math
from .unary import UnaryOp, backward_ref, build_specs, family_math, family_ops, forward_ref, host_fn


# ================================================================ Triton math of the family
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
    a_mid = tl.where(big, 1.0, a)  # big lanes skip the mid branch: (inf - 1) / (inf + 1) would be NaN
    t = tl.where(big, -1.0 / tl.where(big, a, 1.0), tl.where(mid, (a_mid - 1.0) / (a_mid + 1.0), a))
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
    a_mid = tl.where(big, 1.0, a)  # big lanes skip the mid branch: (inf - 1) / (inf + 1) would be NaN
    t = tl.where(big, -1.0 / tl.where(big, a, 1.0), tl.where(mid, (a_mid - 1.0) / (a_mid + 1.0), a))
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


# ================================================================ forward / backward math per op
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
def _over_root(a, d):
    # a / d where d = 0 is a * inf (the same +-inf, or NaN for a = 0) without dividing by 0: the map
    # kernel's masked lanes read x = 1, where 1 - x^2 is 0.
    zero = d == 0
    # Only the d = 0 lanes multiply by inf: a = 0 elsewhere (asin(0)) would make a discarded NaN.
    return tl.where(zero, tl.where(zero, a, 1.0) * float("inf"), a / tl.where(zero, 1.0, d))


@triton.jit
def _asin(x, p0, p1):
    # asin(x) = atan(x / sqrt(1 - x^2)); (1 - x)(1 + x) keeps 1 - x^2 accurate near |x| = 1, and
    # |x| = 1 gives atan(+-inf) = +-pi/2, |x| > 1 a NaN from the sqrt.
    return _atan_math(_over_root(x, tl.sqrt((1.0 - x) * (1.0 + x))))


@triton.jit
def _asin_backward(grad, x, p0, p1):
    return _over_root(grad, tl.sqrt((1.0 - x) * (1.0 + x)))


@triton.jit
def _acos(x, p0, p1):
    # acos(x) = 2 atan(sqrt((1 - x) / (1 + x))): no cancellation at either end, acos(-1) = 2 atan(inf).
    return 2.0 * _atan_abs(tl.sqrt(_over_root(1.0 - x, 1.0 + x)))


@triton.jit
def _acos_backward(grad, x, p0, p1):
    return _over_root(-grad, tl.sqrt((1.0 - x) * (1.0 + x)))


@triton.jit
def _atan(x, p0, p1):
    return _atan_math(x)


@triton.jit
def _atan_backward(grad, x, p0, p1):
    return grad / (1.0 + x * x)


@triton.jit
def _sinh_math(x):
    a = tl.abs(x)
    # Each branch computes on operands it keeps: expm1(a) of the big lanes would be discarded (and may
    # overflow), so they take a = 0 there; the small lanes' h is exp(<= 10), which cannot overflow.
    em1 = _expm1_math(tl.where(a > 20.0, 0.0, a))
    small = 0.5 * (em1 + em1 / (em1 + 1.0))  # e^a - e^-a through expm1: exact near 0
    h = tl.exp(0.5 * a)
    big = (0.5 * h) * h  # e^a / 2 without overflowing before the result does; e^-a is below an ulp
    s = tl.where(a > 20.0, big, small)
    return tl.where(x < 0, -s, s)


@triton.jit
def _cosh_math(x):
    a = tl.abs(x)
    e = tl.exp(tl.where(a > 20.0, 0.0, a))  # discarded for a > 20 (where it may overflow): exp(0) there
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


# ================================================================ launch wrappers
# Forward: out = op(x), x already cast to the op's dtype and viewed to out's shape (any strides).
# Backward: grad_x = grad * op'(.), from the saved input x or the saved output `out` as named.
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


# ================================================================ NumPy references
@host_fn(np.sin)
def sin_ref(x):
    return forward_ref(np.sin, x)


def sin_backward_ref(grad, x):
    return backward_ref(lambda g, a: g * np.cos(a), grad, x)


@host_fn(np.cos)
def cos_ref(x):
    return forward_ref(np.cos, x)


def cos_backward_ref(grad, x):
    return backward_ref(lambda g, a: -g * np.sin(a), grad, x)


@host_fn(np.tan)
def tan_ref(x):
    return forward_ref(np.tan, x)


def tan_backward_ref(grad, out):
    return backward_ref(lambda g, y: g * (1 + y * y), grad, out)


@host_fn(np.arcsin)
def asin_ref(x):
    return forward_ref(np.arcsin, x)


def asin_backward_ref(grad, x):
    return backward_ref(lambda g, a: g / np.sqrt((1 - a) * (1 + a)), grad, x)


@host_fn(np.arccos)
def acos_ref(x):
    return forward_ref(np.arccos, x)


def acos_backward_ref(grad, x):
    return backward_ref(lambda g, a: -g / np.sqrt((1 - a) * (1 + a)), grad, x)


@host_fn(np.arctan)
def atan_ref(x):
    return forward_ref(np.arctan, x)


def atan_backward_ref(grad, x):
    return backward_ref(lambda g, a: g / (1 + a * a), grad, x)


@host_fn(np.sinh)
def sinh_ref(x):
    return forward_ref(np.sinh, x)


def sinh_backward_ref(grad, x):
    return backward_ref(lambda g, a: g * np.cosh(a), grad, x)


@host_fn(np.cosh)
def cosh_ref(x):
    return forward_ref(np.cosh, x)


def cosh_backward_ref(grad, x):
    return backward_ref(lambda g, a: g * np.sinh(a), grad, x)


@host_fn(np.tanh)
def tanh_ref(x):
    return forward_ref(np.tanh, x)


def tanh_backward_ref(grad, out):
    return backward_ref(lambda g, y: g * (1 - y * y), grad, out)


# ================================================================ registry
# name -> (saves, keeps_int); wrappers and references are found by name in this module.
_TABLE = {
    "sin": ("input", False), "cos": ("input", False), "tan": ("output", False), "asin": ("input", False),
    "acos": ("input", False), "atan": ("input", False), "sinh": ("input", False), "cosh": ("input", False),
    "tanh": ("output", False),
}

OPS: dict[str, UnaryOp] = family_ops(globals(), _TABLE)
# The Triton math of each op, for SPECS (and for callers fusing them elsewhere): name -> (fwd, bwd).
MATH = family_math(globals(), _TABLE)
_FP64_BRANCHES = ["asin", "acos", "atan"]  # dtype-dependent Triton math
SPECS = build_specs("trigonometric", MATH, [], _FP64_BRANCHES)
FULL_SPECS = build_specs("trigonometric", MATH, [], _FP64_BRANCHES, full=True)  # every op x every dtype
