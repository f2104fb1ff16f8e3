"""The gamma family of special functions on the elementwise map kernel: lgamma (gammaln), digamma (psi),
polygamma(n, x) and the Hurwitz zeta function zeta(s, q), forward and backward.

Same layout as kernels/special.py: `@triton.jit` scalar math run by `elementwise.launch_map`, launch
wrappers and NumPy/SciPy references. The math works in the dtype it is given (fp32, or fp64 for fp64
operands; the map kernel computes fp16/bf16 in fp32) and is written from the textbook formulas:

- lgamma: the Lanczos approximation (g = 7, nine terms) for x >= 1/2, the reflection formula
  lgamma(x) = log(pi / |sin(pi x)|) - lgamma(1 - x) below; sin(pi x) after reducing x mod 2.
- digamma: the reflection psi(x) = psi(1 - x) - pi cot(pi x) for x < 1/2, the recurrence
  psi(x) = psi(x + 1) - 1/x up to x >= 10, then the asymptotic series in 1/x^2 (Bernoulli numbers).
- zeta(s, q): direct terms (q + k)^-s up to q + N >= 10, then Euler-Maclaurin with twelve Bernoulli
  corrections; a negative non-integer q (integer s) first sums the terms that bring it above 0.
- polygamma(n, x) = (-1)^(n+1) n! zeta(n + 1, x) for n >= 1, digamma for n = 0.
zeta's gradient in q (-s zeta(s + 1, q)) is tensor ops over the forward kernel (ops/special_binary.py).

Edge values follow PyTorch (Cephes): lgamma(non-positive integer) = inf, digamma(+-0) = -+inf,
digamma(negative integer) = NaN, zeta(1, q) = inf, zeta(s < 1, q) = NaN, zeta(s, non-positive integer q)
= inf, zeta(non-integer s, q < 0) = NaN.
"""

from __future__ import annotations

import math

import numpy as np
import triton
import triton.language as tl
from scipy import special as scipy_special

from .device_array import DeviceArray
from .elementwise import MAP_SHIPPED, MAP_SPACE, _map_signature, launch_map, map_kernel, runs_map
from .launch_spec import KernelSpec
from .unary import UnaryOp, backward_ref, forward_ref

_PI = 3.141592653589793


# ================================================================ Triton math shared by the family
@triton.jit
def _reduce_half(x):
    """(t, flip): x = 2k + s exactly with s in [-1, 1), folded to t in [-1/2, 1/2] with sin(pi x) = sin(pi t)
    and cos(pi x) = flip * cos(pi t) (flip = -1 where the fold went through +-1)."""
    s = x - 2.0 * tl.floor(0.5 * x + 0.5)  # [-1, 1), exact (small |x| is left untouched)
    t = tl.where(s > 0.5, 1.0 - s, tl.where(s < -0.5, -1.0 - s, s))
    return t, tl.where((s > 0.5) | (s < -0.5), -1.0, 1.0)


@triton.jit
def _sinpi_poly(t):
    """sin(pi t) for |t| <= 1/2: the Taylor polynomial to t^21 (below 1e-17 there). A polynomial, not tl.sin:
    libdevice's sin carries a large-argument path that costs the map kernel registers it does not have."""
    z = t * t
    p = 5.392664662608125e-10
    p = p * z + -2.2948428997269856e-08
    p = p * z + 7.952054001475508e-07
    p = p * z + -2.1915353447830204e-05
    p = p * z + 0.00046630280576761234
    p = p * z + -0.007370430945714348
    p = p * z + 0.08214588661112819
    p = p * z + -0.5992645293207919
    p = p * z + 2.550164039877345
    p = p * z + -5.167712780049969
    p = p * z + 3.141592653589793
    return p * t


@triton.jit
def _cospi_poly(t):
    """cos(pi t) for |t| <= 1/2: the Taylor polynomial to t^20."""
    z = t * t
    p = 3.6047307974624982e-09
    p = p * z + -1.387895246221376e-07
    p = p * z + 4.303069587032944e-06
    p = p * z + -0.00010463810492484565
    p = p * z + 0.001929574309403922
    p = p * z + -0.02580689139001405
    p = p * z + 0.23533063035889312
    p = p * z + -1.3352627688545893
    p = p * z + 4.058712126416768
    p = p * z + -4.934802200544679
    p = p * z + 1.0
    return p


@triton.jit
def _sinpi(x):
    """sin(pi x) with x reduced mod 2 first (exact), so integers give exactly 0 at any magnitude."""
    t, _ = _reduce_half(x)
    return _sinpi_poly(t)


@triton.jit
def _cospi(x):
    """cos(pi x), reduced as _sinpi."""
    t, flip = _reduce_half(x)
    return flip * _cospi_poly(t)


@triton.jit
def _lgamma_lanczos(z):
    """lgamma(z) for z >= 1/2: Lanczos' approximation with g = 7 and nine coefficients."""
    zm1 = z - 1.0
    a = 0.99999999999980993 + 676.5203681218851 / (zm1 + 1.0)
    a += -1259.1392167224028 / (zm1 + 2.0)
    a += 771.32342877765313 / (zm1 + 3.0)
    a += -176.61502916214059 / (zm1 + 4.0)
    a += 12.507343278686905 / (zm1 + 5.0)
    a += -0.13857109526572012 / (zm1 + 6.0)
    a += 9.9843695780195716e-6 / (zm1 + 7.0)
    a += 1.5056327351493116e-7 / (zm1 + 8.0)
    t = zm1 + 7.5
    # (z - 1/2) log t - t, split as (z - 1/2)(log t - 1) - 7 so that neither half overflows early.
    return 0.91893853320467274 + (zm1 + 0.5) * (tl.log(t) - 1.0) - 7.0 + tl.log(a)


@triton.jit
def lgamma_math(x):
    """log|Gamma(x)|: Lanczos for x >= 1/2, the reflection formula below; inf at poles and +-inf."""
    small = x < 0.5
    z = tl.where(small, 1.0 - x, x)
    lg = _lgamma_lanczos(tl.where(z == float("inf"), 1.0, z))
    s = tl.abs(_sinpi(tl.where(small, x, 0.5)))
    refl = tl.log(3.141592653589793 / tl.where(s == 0.0, 1.0, s)) - lg
    y = tl.where(small, tl.where(s == 0.0, float("inf"), refl), lg)
    return tl.where(tl.abs(x) == float("inf"), float("inf"), y)


@triton.jit
def digamma_math(x):
    """psi(x): reflection below 1/2, recurrence up to 10, then the asymptotic series."""
    small = x < 0.5
    z = tl.where(small, 1.0 - x, x)
    z = tl.where(z == float("inf"), 1e30, z)  # +-inf inputs are set below
    acc = tl.zeros_like(z)
    for _ in range(10):  # a runtime loop: unrolled, it holds more values than the flat kernel's 128 registers
        low = z < 10.0
        acc += tl.where(low, 1.0 / z, 0.0)
        z = tl.where(low, z + 1.0, z)
    w = 1.0 / (z * z)
    series = w * (0.083333333333333333 - w * (0.0083333333333333333 - w * (0.003968253968253968 - w * (
        0.0041666666666666667 - w * (0.0075757575757575758 - w * (0.021092796092796093 - w * 0.083333333333333333))))))
    psi = tl.log(z) - 0.5 / z - series - acc
    s = _sinpi(tl.where(small, x, 0.5))
    refl = psi - 3.141592653589793 * _cospi(tl.where(small, x, 0.5)) / tl.where(s == 0.0, 1.0, s)
    y = tl.where(small, refl, psi)
    y = tl.where(small & (s == 0.0), float("nan"), y)  # negative integers: a pole of either sign
    zero = tl.where(1.0 / tl.where(x == 0.0, x, 1.0) < 0.0, float("inf"), -float("inf"))
    y = tl.where(x == 0.0, zero, y)  # psi(+0) = -inf, psi(-0) = +inf, as PyTorch
    y = tl.where(x == float("inf"), float("inf"), y)
    return tl.where(x == -float("inf"), float("nan"), y)


@triton.jit
def _pow_neg(b, s, odd):
    """b^-s for b != 0 (s an integer where b < 0; `odd` says whether it is odd)."""
    m = tl.exp(-s * tl.log(tl.abs(b)))
    return tl.where((b < 0.0) & odd, -m, m)


@triton.jit
def zeta_math(s, q):
    """Hurwitz zeta sum_k (q + k)^-s: direct terms up to q + N >= 10, then Euler-Maclaurin."""
    odd = (s - 2.0 * tl.floor(0.5 * s)) == 1.0
    q_int = q == tl.floor(q)
    s_int = s == tl.floor(s)
    ok = (s > 1.0) & ~((q <= 0.0) & q_int) & ~((q < 0.0) & ~s_int)
    a = tl.where(ok, q, 1.0)  # lanes outside the domain compute on q = 1 and are replaced below
    a = tl.where(a == float("inf"), 1e30, a)
    acc = tl.zeros_like(a)
    # A negative q first walks up to [0, 1): as many terms as the most negative lane needs.
    steps = tl.where(a < 0.0, tl.ceil(-a), 0.0)
    for k in range(0, tl.max(steps).to(tl.int32)):
        live = steps > k
        acc += tl.where(live, _pow_neg(tl.where(live, a, 1.0), s, odd), 0.0)
        a = tl.where(live, a + 1.0, a)
    for _ in range(10):
        acc += _pow_neg(a, s, odd)
        a += 1.0
    w = a  # >= 10
    wi = 1.0 / w
    ws = tl.exp(-s * tl.log(w))  # w^-s
    acc += ws * w / (s - 1.0) + 0.5 * ws
    # Bernoulli corrections B_2j/(2j)! * s(s+1)...(s+2j-2) w^(-s-2j+1)
    fac = s * ws * wi
    w2 = wi * wi
    acc += 0.083333333333333333 * fac
    fac *= (s + 1.0) * (s + 2.0) * w2
    acc += -0.0013888888888888889 * fac
    fac *= (s + 3.0) * (s + 4.0) * w2
    acc += 3.3068783068783069e-05 * fac
    fac *= (s + 5.0) * (s + 6.0) * w2
    acc += -8.2671957671957672e-07 * fac
    fac *= (s + 7.0) * (s + 8.0) * w2
    acc += 2.0876756987868099e-08 * fac
    fac *= (s + 9.0) * (s + 10.0) * w2
    acc += -5.2841901386874932e-10 * fac
    fac *= (s + 11.0) * (s + 12.0) * w2
    acc += 1.3382536530684679e-11 * fac
    fac *= (s + 13.0) * (s + 14.0) * w2
    acc += -3.3896802963225827e-13 * fac
    fac *= (s + 15.0) * (s + 16.0) * w2
    acc += 8.5860620562778452e-15 * fac
    fac *= (s + 17.0) * (s + 18.0) * w2
    acc += -2.1748686985580618e-16 * fac
    fac *= (s + 19.0) * (s + 20.0) * w2
    acc += 5.5090028283602295e-18 * fac
    fac *= (s + 21.0) * (s + 22.0) * w2
    acc += -1.3954464685812523e-19 * fac
    y = tl.where(ok, acc, float("nan"))
    y = tl.where((s == 1.0) | ((q <= 0.0) & q_int & (s > 1.0)), float("inf"), y)
    return tl.where(q == float("inf"), 0.0, y)


@triton.jit
def polygamma_math(x, n):
    """psi^(n)(x) = (-1)^(n+1) n! zeta(n + 1, x) for n >= 1 (n a runtime scalar), digamma for n = 0."""
    if n == 0.0:  # a runtime branch on the scalar n: only one of the two expansions runs
        y = digamma_math(x)
    else:
        fact = tl.zeros_like(x) + 1.0
        for i in range(2, tl.cast(n, tl.int32) + 1):
            fact *= i
        sign = tl.where((n - 2.0 * tl.floor(0.5 * n)) == 1.0, 1.0, -1.0)
        y = sign * fact * zeta_math(tl.zeros_like(x) + (n + 1.0), x)
    return y


# ================================================================ forward / backward math per op
@triton.jit
def _lgamma(x, p0, p1):
    return lgamma_math(x)


@triton.jit
def _lgamma_backward(grad, x, p0, p1):
    return grad * digamma_math(x)


@triton.jit
def _digamma(x, p0, p1):
    return digamma_math(x)


@triton.jit
def _digamma_backward(grad, x, p0, p1):
    return grad * zeta_math(tl.zeros_like(x) + 2.0, x)  # psi'(x) = zeta(2, x)


@triton.jit
def _polygamma(x, n, p1):
    return polygamma_math(x, n)


@triton.jit
def _polygamma_backward(grad, x, n, p1):
    return grad * polygamma_math(x, n + 1.0)


@triton.jit
def _zeta(s, q, p0, p1):
    return zeta_math(s, q)


# ================================================================ launch wrappers
# Forward: out = op(x); backward: grad_x = grad * op'(x); operands already broadcast to out's shape.
@runs_map(_lgamma)
def lgamma(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_lgamma, [out], [x])


def lgamma_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_lgamma_backward, [grad_x], [grad, x])


@runs_map(_digamma)
def digamma(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_digamma, [out], [x])


def digamma_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_digamma_backward, [grad_x], [grad, x])


def polygamma(out: DeviceArray, x: DeviceArray, n: int = 0) -> None:
    """out = polygamma(n, x), n >= 0."""
    launch_map(_polygamma, [out], [x], float(n))


def polygamma_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, n: int = 0) -> None:
    """grad_x = grad * polygamma(n + 1, x)."""
    launch_map(_polygamma_backward, [grad_x], [grad, x], float(n))


def zeta(out: DeviceArray, s: DeviceArray, q: DeviceArray) -> None:
    """out = zeta(s, q) (Hurwitz), s and q broadcast to out's shape."""
    launch_map(_zeta, [out], [s, q])


# ================================================================ NumPy/SciPy references
def _np_digamma(a: np.ndarray) -> np.ndarray:
    # SciPy gives psi(-0) = -inf too; PyTorch's copysign(inf, -x) gives +inf there.
    y = scipy_special.psi(a)
    return np.where((a == 0) & np.signbit(a), np.inf, y)


def _np_polygamma(n: int, a: np.ndarray) -> np.ndarray:
    if n == 0:
        return _np_digamma(a)
    return (-1.0) ** (n + 1) * math.factorial(n) * _np_zeta(np.float64(n + 1), a)


def _np_zeta(s: np.ndarray, q: np.ndarray) -> np.ndarray:
    s, q = np.broadcast_arrays(np.asarray(s, np.float64), np.asarray(q, np.float64))
    y = np.asarray(scipy_special.zeta(s, q), np.float64)
    # SciPy returns NaN for negative q; Cephes (PyTorch) sums the terms for integer s.
    neg = (q < 0) & (q != np.floor(q)) & (s == np.floor(s)) & (s > 1)
    if neg.any():
        qn, sn = q[neg], s[neg]
        steps = np.ceil(-qn)
        extra = np.zeros_like(qn)
        for k in range(int(steps.max())):
            live = steps > k
            extra += np.where(live, np.power(qn + k, -sn), 0.0)
        y[neg] = extra + scipy_special.zeta(sn, qn + steps)
    return y


def lgamma_ref(x):
    return forward_ref(scipy_special.gammaln, x)


def lgamma_backward_ref(grad, x):
    return backward_ref(lambda g, a: g * _np_digamma(a), grad, x)


def digamma_ref(x):
    return forward_ref(_np_digamma, x)


def digamma_backward_ref(grad, x):
    return backward_ref(lambda g, a: g * _np_polygamma(1, a), grad, x)


def polygamma_ref(x, n: int = 0):
    return forward_ref(lambda a: _np_polygamma(n, a), x)


def polygamma_backward_ref(grad, x, n: int = 0):
    return backward_ref(lambda g, a: g * _np_polygamma(n + 1, a), grad, x)


def zeta_ref(s, q):
    s, q = np.asarray(s), np.asarray(q)
    with np.errstate(all="ignore"):
        return _np_zeta(s, q).astype(np.result_type(s, q), copy=False)


# ================================================================ registry and specs
OPS: dict[str, UnaryOp] = {
    "lgamma": UnaryOp(lgamma, lgamma_backward, lgamma_ref, lgamma_backward_ref, "input"),
    "digamma": UnaryOp(digamma, digamma_backward, digamma_ref, digamma_backward_ref, "input"),
    "polygamma": UnaryOp(polygamma, polygamma_backward, polygamma_ref, polygamma_backward_ref, "input",
                         params={"n": 0}),
}

_MATH = [("lgamma", _lgamma, 1), ("lgamma_backward", _lgamma_backward, 2), ("digamma", _digamma, 1),
         ("digamma_backward", _digamma_backward, 2), ("polygamma", _polygamma, 1),
         ("polygamma_backward", _polygamma_backward, 2), ("zeta", _zeta, 2)]


def _specs(dtypes) -> list[KernelSpec]:
    # No math here branches on the dtype: SPECS compile fp32, FULL_SPECS every dtype (the unary convention).
    return [KernelSpec(f"special_gamma.{name}[{dtype}]", map_kernel, _map_signature(dtype, n_in, 1),
                       dict(OP=fn, N_IN=n_in, N_OUT=1), MAP_SHIPPED, MAP_SPACE)
            for name, fn, n_in in _MATH for dtype in dtypes]


SPECS = _specs(("fp32",))
FULL_SPECS = _specs(("fp16", "bf16", "fp32", "fp64"))
