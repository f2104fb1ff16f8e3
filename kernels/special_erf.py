"""Error-function relatives on the elementwise map kernel: erfc, erfinv, ndtr, ndtri, log_ndtr, forward and
backward.

Same layout as kernels/special.py. fp32 computes in fp32 and fp64 in fp64, from these pieces:

- erfcx(x) = exp(x^2) erfc(x) for x >= 1/2: a polynomial in u, an affine map of t = (x - 4)/(x + 4), which
  sends [1/2, inf] onto [-1, 1] (Schonfelder's variable); erfcx(x) (1 + 2x) is smooth there. The
  coefficients are a Chebyshev least-squares fit made for this module (degree 20 for fp64, about 1e-15;
  degree 11 for fp32, about 2e-7).
- erfc(x) = 1 - erf(x) below 1/2, exp(-x^2) erfcx(x) above, with x^2 split exactly so exp loses nothing.
- erfinv(x): Giles' single-precision approximation ("Approximating the erfinv function", GPU Computing
  Gems, 2011) as the first guess, refined by Halley steps on erf (|x| <= 1/2) or on erfc(y) = 1 - |x|
  (1 - |x| is exact there), so the tails keep full relative precision; where Giles' range ends (fp64
  tails) the first guess is the asymptotic y = sqrt(L - log(sqrt(pi) y)), L = -log q. Both cases run
  one Halley pipeline (`_erfinv_core`), which keeps fp64's register use within the map kernel's budget.
- ndtr(x) = erfc(-x/sqrt 2)/2; log_ndtr as PyTorch (log(erfcx(-x/sqrt 2)/2) - x^2/2 below -1, log1p of
  -erfc(x/sqrt 2)/2 above); ndtri(p) from erfinv near 1/2 and erfcinv in the tails.
"""

from __future__ import annotations

import math

import numpy as np
import triton
import triton.language as tl
from scipy import special as scipy_special

from .device_array import DeviceArray
from .elementwise import launch_map
from .exponential import _log1p_math
from .unary import UnaryOp, backward_ref, build_specs, family_math, family_ops, forward_ref, host_fn

_SQRT1_2 = 0.7071067811865476


# ================================================================ Triton math shared by the family
@triton.jit
def erfcx_math(x):
    """exp(x^2) erfc(x) for x >= 1/2 (inf gives 0)."""
    t = 1.0 - 8.0 / (x + 4.0)  # (x - 4) / (x + 4), without inf / inf
    u = (t + 0.7777777777777778) * 1.125 - 1.0
    if x.dtype.is_fp64():
        p = -2.01687758773149e-09
        p = p * u + 3.0399094170432917e-09
        p = p * u + 2.4580828429612667e-08
        p = p * u - 6.355947826496221e-08
        p = p * u - 1.456886790036056e-07
        p = p * u + 8.50678001347323e-07
        p = p * u - 3.8611115845745076e-07
        p = p * u - 7.462931559055864e-06
        p = p * u + 2.5874766399104624e-05
        p = p * u - 7.209446099253848e-06
        p = p * u - 0.0002739414132117912
        p = p * u + 0.0014194219189259463
        p = p * u - 0.004529246997270307
        p = p * u + 0.010905934813553543
        p = p * u - 0.02094783331771999
        p = p * u + 0.032184545607883086
        p = p * u - 0.03722459956385399
        p = p * u + 0.023265926756261733
        p = p * u + 0.025079168438470273
        p = p * u - 0.11926270752256797
        p = p * u + 1.2177510150637554
    else:
        p = -2.6511076635148467e-05
        p = p * u - 0.0001995226603082239
        p = p * u + 0.001441610919523027
        p = p * u - 0.0046116051549122605
        p = p * u + 0.010893180807948355
        p = p * u - 0.02090550445832749
        p = p * u + 0.032188170159960706
        p = p * u - 0.03723446576320144
        p = p * u + 0.02326548148503869
        p = p * u + 0.025080010924300147
        p = p * u - 0.11926269181608709
        p = p * u + 1.2177510033946293
    return p / (1.0 + 2.0 * x)


@triton.jit
def _exp_neg_square(x):
    """exp(-x^2) with x^2 split as hi^2 + (x - hi)(x + hi), hi = x rounded down to 1/16: hi^2 is exact,
    so the error of exp's argument no longer grows with x^2."""
    hi = tl.floor(x * 16.0) * 0.0625
    return tl.exp(-hi * hi) * tl.exp(-(x - hi) * (x + hi))


@triton.jit
def erfc_math(x):
    """1 - erf(x) with full relative precision in the right tail."""
    big = x >= 0.5
    xb = tl.where(big, x, 0.5)
    tail = _exp_neg_square(tl.where(xb == float("inf"), 0.0, xb)) * erfcx_math(xb)
    tail = tl.where(xb == float("inf"), 0.0, tail)
    return tl.where(big, tail, 1.0 - tl.erf(tl.where(big, 0.0, x)))


@triton.jit
def _giles(x, w):
    """Giles' fp32 erfinv(x) from w = -log((1 - x)(1 + x))."""
    lo = w - 2.5
    p = 2.81022636e-08
    p = 3.43273939e-07 + p * lo
    p = -3.5233877e-06 + p * lo
    p = -4.39150654e-06 + p * lo
    p = 0.00021858087 + p * lo
    p = -0.00125372503 + p * lo
    p = -0.00417768164 + p * lo
    p = 0.246640727 + p * lo
    p = 1.50140941 + p * lo
    hi = tl.sqrt(tl.where(w < 5.0, 5.0, w)) - 3.0
    q = -0.000200214257
    q = 0.000100950558 + q * hi
    q = 0.00134934322 + q * hi
    q = -0.00367342844 + q * hi
    q = 0.00573950773 + q * hi
    q = -0.0076224613 + q * hi
    q = 0.00943887047 + q * hi
    q = 1.00167406 + q * hi
    q = 2.83297682 + q * hi
    return tl.where(w < 5.0, p, q) * x


@triton.jit
def _erfinv_core(x, q, small):
    """erfinv(x) where `small` (|x| <= 1/2), else erfcinv(q) = erfinv(1 - q) for 0 < q <= 1/2.

    One pipeline for both, so that fp64 keeps few values live: the first guess is Giles' (or, past
    Giles' range, the asymptotic y = sqrt(L - log(sqrt(pi) y)), L = -log q), then Halley steps
    y -= t / (1 + y t), t = f / f', on f = erf(y) - x or f = erfc(y) - q (f' = +-2/sqrt(pi) e^-y^2).
    """
    w = tl.where(small, -tl.log((1.0 - x) * (1.0 + x)), -tl.log(q * (2.0 - q)))
    big_l = -tl.log(q)
    y0 = tl.sqrt(big_l)
    y0 = tl.sqrt(big_l - tl.log(1.7724538509055160 * y0))
    y0 = tl.sqrt(big_l - tl.log(1.7724538509055160 * y0))
    # Giles' fit covers fp32's x = 1 - q, so w < 16; beyond it (fp64 tails) the asymptotic guess.
    giles = _giles(tl.where(small, x, 1.0 - q), tl.where(w < 16.0, w, 1.0))
    y = tl.where(small | (w < 16.0), giles, y0)
    target = tl.where(small, x, q)
    steps: tl.constexpr = 3 if x.dtype.is_fp64() else 2
    for _ in range(steps):  # a runtime loop: unrolled, fp64 would hold too many values live
        e = tl.erf(y)
        ex = _exp_neg_square(y)  # serves erfc's tail (where y >= 1/2) and the derivative alike
        erfc_y = tl.where(y >= 0.5, ex * erfcx_math(tl.where(y >= 0.5, y, 0.5)), 1.0 - e)
        t = (tl.where(small, e, erfc_y) - target) / (1.1283791670955126 * ex)
        t = tl.where(small, t, -t)  # erfc' = -erf'
        y = y - t / (1.0 + y * t)
    return y


@triton.jit
def erfinv_math(x):
    """erfinv(x); +-inf at +-1, NaN outside [-1, 1]."""
    a = tl.abs(x)
    small = a <= 0.5
    q = 1.0 - tl.where(small | (a >= 1.0), 0.75, a)  # exact for a in [1/2, 1]
    y = _erfinv_core(tl.where(small, x, 0.0), q, small)
    y = tl.where(small | (x >= 0.0), y, -y)
    y = tl.where(a == 1.0, x * float("inf"), y)
    return tl.where(a > 1.0, float("nan"), y)


@triton.jit
def ndtr_math(x):
    return 0.5 * erfc_math(-x * 0.7071067811865476)


@triton.jit
def log_ndtr_math(x):
    """log(ndtr(x)): through erfcx below -1 (no underflow), log1p(-erfc(x / sqrt 2) / 2) above."""
    low = x < -1.0
    z = -tl.where(low, x, -1.0) * 0.7071067811865476
    lo = tl.log(0.5 * erfcx_math(tl.where(z == float("inf"), 1.0, z))) - 0.5 * x * x
    lo = tl.where(x == -float("inf"), -float("inf"), lo)
    hi = _log1p_math(-0.5 * erfc_math(tl.where(low, 0.0, x) * 0.7071067811865476))
    return tl.where(low, lo, hi)


@triton.jit
def ndtri_math(p):
    """The standard normal quantile: sqrt 2 erfinv(2p - 1) near 1/2, -+sqrt 2 erfcinv of the smaller tail
    (2p or 2(1 - p), both exact) outside [1/4, 3/4]."""
    mid = (p >= 0.25) & (p <= 0.75)
    lower = p < 0.5
    q = tl.where(lower, 2.0 * p, 2.0 * (1.0 - p))
    q = tl.where(mid | (q <= 0.0) | (q != q), 0.5, q)
    y = 1.4142135623730951 * _erfinv_core(tl.where(mid, 2.0 * p - 1.0, 0.0), q, mid)
    y = tl.where(mid | ~lower, y, -y)
    y = tl.where(p == 0.0, -float("inf"), tl.where(p == 1.0, float("inf"), y))
    y = tl.where((p < 0.0) | (p > 1.0), float("nan"), y)
    return tl.where(p != p, p, y)


# ================================================================ forward / backward math per op
@triton.jit
def _erfc(x, p0, p1):
    return erfc_math(x)


@triton.jit
def _erfc_backward(grad, x, p0, p1):
    return grad * (-1.1283791670955126 * tl.exp(-(x * x)))


@triton.jit
def _erfinv(x, p0, p1):
    return erfinv_math(x)


@triton.jit
def _erfinv_backward(grad, out, p0, p1):
    return grad * (0.88622692545275801 * tl.exp(out * out))  # sqrt(pi) / 2


@triton.jit
def _ndtr(x, p0, p1):
    return ndtr_math(x)


@triton.jit
def _ndtr_backward(grad, x, p0, p1):
    return grad * (0.3989422804014327 * tl.exp(-0.5 * x * x))


@triton.jit
def _ndtri(x, p0, p1):
    return ndtri_math(x)


@triton.jit
def _ndtri_backward(grad, out, p0, p1):
    return grad * (2.5066282746310002 * tl.exp(0.5 * out * out))


@triton.jit
def _log_ndtr(x, p0, p1):
    return log_ndtr_math(x)


@triton.jit
def _log_ndtr_backward(grad, x, p0, p1):
    # pdf(x) / ndtr(x) = exp(-(log_ndtr(x) + x^2/2)) / sqrt(2 pi), PyTorch's formula from the recomputed output.
    return grad * (0.3989422804014327 * tl.exp(-(log_ndtr_math(x) + 0.5 * x * x)))


# ================================================================ launch wrappers
def erfc(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_erfc, [out], [x])


def erfc_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_erfc_backward, [grad_x], [grad, x])


def erfinv(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_erfinv, [out], [x])


def erfinv_backward(grad_x: DeviceArray, grad: DeviceArray, out: DeviceArray) -> None:
    launch_map(_erfinv_backward, [grad_x], [grad, out])


def ndtr(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_ndtr, [out], [x])


def ndtr_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_ndtr_backward, [grad_x], [grad, x])


def ndtri(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_ndtri, [out], [x])


def ndtri_backward(grad_x: DeviceArray, grad: DeviceArray, out: DeviceArray) -> None:
    launch_map(_ndtri_backward, [grad_x], [grad, out])


def log_ndtr(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_log_ndtr, [out], [x])


def log_ndtr_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_log_ndtr_backward, [grad_x], [grad, x])


# ================================================================ NumPy/SciPy references
@host_fn(scipy_special.erfc)
def erfc_ref(x):
    return forward_ref(scipy_special.erfc, x)


def erfc_backward_ref(grad, x):
    return backward_ref(lambda g, a: g * (-2 / math.sqrt(math.pi) * np.exp(-(a * a))), grad, x)


@host_fn(scipy_special.erfinv)
def erfinv_ref(x):
    return forward_ref(scipy_special.erfinv, x)


def erfinv_backward_ref(grad, out):
    return backward_ref(lambda g, y: g * (math.sqrt(math.pi) / 2 * np.exp(y * y)), grad, out)


@host_fn(scipy_special.ndtr)
def ndtr_ref(x):
    return forward_ref(scipy_special.ndtr, x)


def ndtr_backward_ref(grad, x):
    return backward_ref(lambda g, a: g * (np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)), grad, x)


@host_fn(scipy_special.ndtri)
def ndtri_ref(x):
    return forward_ref(scipy_special.ndtri, x)


def ndtri_backward_ref(grad, out):
    return backward_ref(lambda g, y: g * (math.sqrt(2 * math.pi) * np.exp(0.5 * y * y)), grad, out)


@host_fn(scipy_special.log_ndtr)
def log_ndtr_ref(x):
    return forward_ref(scipy_special.log_ndtr, x)


def log_ndtr_backward_ref(grad, x):
    return backward_ref(lambda g, a: g * (np.exp(-(scipy_special.log_ndtr(a) + 0.5 * a * a)) / math.sqrt(2 * math.pi)),
                        grad, x)


# ================================================================ registry
# name -> (saves, keeps_int); wrappers and references are found by name in this module.
_TABLE = {"erfc": ("input", False), "erfinv": ("output", False), "ndtr": ("input", False),
          "ndtri": ("output", False), "log_ndtr": ("input", False)}

OPS: dict[str, UnaryOp] = family_ops(globals(), _TABLE)
MATH = family_math(globals(), _TABLE)
SPECS = build_specs("special_erf", MATH, [], list(_TABLE))  # every op branches on fp64
FULL_SPECS = build_specs("special_erf", MATH, [], list(_TABLE), full=True)
