"""The regularised incomplete gamma functions: P(a, x) = gamma(a, x) / Gamma(a) (torch.igamma,
torch.special.gammainc) and Q(a, x) = 1 - P(a, x) (torch.igammac, torch.special.gammaincc).

The math is `@triton.jit` scalar code as in kernels/special_gamma.py, run by a kernel of its own (one or two
elements per thread, see `igamma_kernel`), beside its launch wrappers and the SciPy references. It works in
the compute dtype (fp32 for fp16/bf16/fp32, fp64 for fp64). Each lane picks one of three expansions, on the
same split as PyTorch's (Cephes') igam/igamc, so that neither P nor Q is ever a difference of two nearly
equal numbers:

- the series P = x^a e^-x / Gamma(a + 1) * sum_n x^n / ((a + 1) ... (a + n)), for x <= max(a, 1) or so;
- the continued fraction Q = x^a e^-x / Gamma(a) / (x + 1 - a - 1 (1 - a) / (x + 3 - a - 2 (2 - a) / ...)),
  evaluated by the modified Lentz method, for x > 1.1 and x >= a;
- for x <= 1.1 and small a, Q = -expm1(a log x - lgamma(1 + a)) - x^a / Gamma(a) sum_{n>=1} (-x)^n / (n! (a + n)),
  with lgamma(1 + a) from its Taylor series at 0 (the zeta(k) - 1 form, Abramowitz & Stegun 6.1.33).

The prefactor x^a e^-x / Gamma(a) is exp(a log x - x - lgamma(a)) away from x ~ a; near it that difference
cancels (a log x and lgamma(a) are both ~ a log a), so it is rewritten with lgamma's own Lanczos form as
sqrt(t / 2 pi) / A(a) * exp(a log1pmx(d) - 6.5 d), t = a + 6.5, d = (x - t) / t, log1pmx(d) = log(1 + d) - d.

The loops run while any lane of the block has not converged (at most MAX_TERMS rounds, a guard). Near x ~ a
they need O(sqrt(a)) rounds, so orders above TEMME_A take Temme's uniform asymptotic expansion (DLMF 8.12) to
two terms instead, c0 and c1 from their Taylor series near x = a. PyTorch (and SciPy) switch to it from a > 20,
but only within |x - a| < 4.5 sqrt(a) for large a, and their 2000-term series beyond that has not converged for
a ~ 1e8 (P(6.8e8, 6.8e8 - 6 sqrt(6.8e8)) is 1.19e-9; SciPy, so this op on cpu, gives 4.5e-10).

Edge values are PyTorch's (its chain of tests, in order): a < 0 or x < 0 -> NaN; a == 0 -> P = 1 (Q = 0) for
x > 0, NaN otherwise; x == 0 -> P = 0 (Q = 1); a == inf -> NaN for x == inf, else P = 0 (Q = 1);
x == inf -> P = 1 (Q = 0); any other NaN -> NaN. (So P(NaN, 0) = 0 as in PyTorch, where SciPy gives NaN.)
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl
from scipy import special as scipy_special

from . import tuning
from .device_array import DeviceArray
from .exponential import _expm1_math, _log1p_math
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .special_erf import erfc_math
from .special_gamma import lgamma_math
from .strided import cast_to, compute_type, launch_slices, strided_offsets
from .tuning import Cost, Tunable, next_pow2

MAX_TERMS = tl.constexpr(4000)  # rounds of a series or fraction: a <= TEMME_A needs under 2000 in fp64
TEMME_A = tl.constexpr(50000.0)  # orders above it take Temme's expansion, whose error falls as a^-2


# ================================================================ Triton math
@triton.jit
def _eps(v):
    """The convergence threshold for v's dtype: half an ulp of 1."""
    if v.dtype == tl.float64:
        eps = 1.1102230246251565e-16
    else:
        eps = 5.960464477539063e-08
    return eps


@triton.jit
def _going(live, rounds):
    """Whether a loop goes on: some lane of the block has not converged, and it has run under MAX_TERMS rounds."""
    return (tl.max(live.to(tl.int32)) > 0) & (rounds < MAX_TERMS)


@triton.jit
def _lanczos_sum(z):
    """A(z) of Gamma(z) = sqrt(2 pi) t^(z - 1/2) e^-t A(z), t = z + 6.5: lgamma_math's g = 7 Lanczos sum."""
    # z + (k - 1), not (z - 1) + k: for tiny z the latter rounds z away (the first term is ~ 676.5 / z).
    a = 0.99999999999980993 + 676.5203681218851 / z
    a += -1259.1392167224028 / (z + 1.0)
    a += 771.32342877765313 / (z + 2.0)
    a += -176.61502916214059 / (z + 3.0)
    a += 12.507343278686905 / (z + 4.0)
    a += -0.13857109526572012 / (z + 5.0)
    a += 9.9843695780195716e-6 / (z + 6.0)
    a += 1.5056327351493116e-7 / (z + 7.0)
    return a


@triton.jit
def _log1pmx(d, ratio):
    """log(1 + d) - d for d > -1, where ratio = 1 + d as computed from its own operands (x / t). For |d| < 1/2 by
    log(1 + d) = 2 atanh(s), s = d / (2 + d): then log1pmx = -d s + 2 s^3 (1/3 + s^2/5 + ...), no cancellation,
    s^2 < 1/9 per term; beyond, log(ratio) - d (log1p(d) would add d's rounding, large relative to 1 + d near -1)."""
    small = tl.abs(d) < 0.5
    ds = tl.where(small, d, 0.0)
    s = ds / (2.0 + ds)
    s2 = s * s
    acc = tl.zeros_like(d)
    for k in range(17, 0, -1):  # Horner over 1/(2k + 1), innermost first: 1/9^17 < fp64's half ulp
        acc = acc * s2 + 1.0 / (2.0 * k + 1.0)
    series = -ds * s + 2.0 * s * s2 * acc
    return tl.where(small, series, tl.log(ratio) - d)


@triton.jit
def _prefactor(a, x):
    """x^a e^-x / Gamma(a) for a, x > 0 and finite."""
    direct = tl.exp(a * tl.log(x) - x - lgamma_math(a))
    t = a + 6.5
    d = (x - t) / t
    near = tl.sqrt(t * 0.15915494309189535) / _lanczos_sum(a) * tl.exp(a * _log1pmx(d, x / t) - 6.5 * d)
    # The Lanczos form keeps a log x and lgamma(a) from cancelling; below a = 1 far from x nothing cancels, and
    # A(a) ~ 676.5 / a would overflow for the tiniest a.
    return tl.where((tl.abs(x - a) > 0.4 * a) & (a < 1.0), direct, near)


@triton.jit
def _lgamma1p(a):
    """lgamma(1 + a) for -1/2 <= a <= 3/2, accurate to relative eps near 0 and 1 (where it vanishes):
    -log1p(b) + (1 - euler_gamma) b + sum_k (-1)^k (zeta(k) - 1) / k b^k with b = a, or b = a - 1 plus log(a)."""
    up = a > 0.5
    b = tl.where(up, a - 1.0, a)
    p = 1.3304764374244491e-10
    p = p * -b + 2.7595228851242334e-10
    p = p * -b + 5.731367241678862e-10
    p = p * -b + 1.1921401405860912e-09
    p = p * -b + 2.4836745438024785e-09
    p = p * -b + 5.183475041970047e-09
    p = p * -b + 1.0838659214896955e-08
    p = p * -b + 2.2711094608943164e-08
    p = p * -b + 4.769810169363981e-08
    p = p * -b + 1.00432248239681e-07
    p = p * -b + 2.1207184805554667e-07
    p = p * -b + 4.492469198764566e-07
    p = p * -b + 9.55141213040742e-07
    p = p * -b + 2.039215753801366e-06
    p = p * -b + 4.374866789907487e-06
    p = p * -b + 9.439488275268395e-06
    p = p * -b + 2.0507212775670694e-05
    p = p * -b + 4.492623673813314e-05
    p = p * -b + 9.945751278180853e-05
    p = p * -b + 0.00022315475845357936
    p = p * -b + 0.0005096695247430425
    p = p * -b + 0.001192753911703261
    p = p * -b + 0.0028905103307415234
    p = p * -b + 0.007385551028673986
    p = p * -b + 0.020580808427784546
    p = p * -b + 0.0673523010531981
    p = p * -b + 0.3224670334241132
    base = b * (0.42278433509846713 + b * p) - _log1p_math(b)
    return tl.where(up, tl.log(tl.where(up, a, 1.0)) + base, base)


@triton.jit
def _lower_series(a, x, live):
    """sum_n x^n / ((a + 1) ... (a + n)) on the lanes in `live` (1 elsewhere)."""
    eps = _eps(a)
    r = a
    term = tl.zeros_like(a) + 1.0
    total = term
    rounds = tl.full([], 0, tl.int32)
    while _going(live, rounds):
        r += 1.0
        term = tl.where(live, term * (x / r), 0.0)
        total += term
        rounds += 1
        live = live & (term > eps * total)
    return total


@triton.jit
def _upper_fraction(a, x, live):
    """1 / (x + 1 - a - 1 (1 - a) / (x + 3 - a - ...)) by the modified Lentz method, on the lanes in `live`."""
    eps = _eps(a)
    tiny = 1e-30  # Lentz's guard against a zero denominator (a normal number in fp32 too)
    b = x + 1.0 - a
    c = tl.zeros_like(a) + 1.0 / tiny
    d = 1.0 / tl.where(tl.abs(b) < tiny, tiny, b)
    h = d
    i = tl.zeros_like(a)
    rounds = tl.full([], 0, tl.int32)
    while _going(live, rounds):
        rounds += 1
        i += 1.0
        an = i * (a - i)
        b += 2.0
        d = an * d + b
        d = 1.0 / tl.where(tl.abs(d) < tiny, tiny, d)
        c = b + an / c
        c = tl.where(tl.abs(c) < tiny, tiny, c)
        delta = tl.where(live, c * d, 1.0)
        h *= delta
        live = live & (tl.abs(delta - 1.0) > eps)
    return h


@triton.jit
def _upper_small(a, x, live):
    """Q for small x and a (x <= 1.1, a <= 1.21): -expm1(a log x - lgamma(1 + a)) - x^a / Gamma(a) * S,
    S = sum_{n>=1} (-x)^n / (n! (a + n)), on the lanes in `live`."""
    eps = _eps(a)
    fac = tl.zeros_like(a) + 1.0
    total = tl.zeros_like(a)
    n = tl.zeros_like(a)
    rounds = tl.full([], 0, tl.int32)
    while _going(live, rounds):
        rounds += 1
        n += 1.0
        fac *= -x / n
        term = tl.where(live, fac / (a + n), 0.0)
        total += term
        live = live & (tl.abs(term) > eps * tl.abs(total))
    logx = tl.log(x)
    head = -_expm1_math(a * logx - _lgamma1p(tl.where(a <= 1.5, a, 1.0)))
    return head - tl.exp(a * logx - lgamma_math(a)) * total


@triton.jit
def _temme_c0(eta):
    """c0(eta) = 1/(lambda - 1) - 1/eta of Temme's expansion, by its Taylor series (|eta| < 0.3: below 1e-16)."""
    p = -4.382036018453353e-09
    p = p * eta + 1.0261809784240309e-08
    p = p * eta + 6.707853543401498e-09
    p = p * eta + -1.7665952736826078e-07
    p = p * eta + 8.296711340953087e-07
    p = p * eta + -1.85406221071516e-06
    p = p * eta + -2.185448510679992e-06
    p = p * eta + 3.919263178522438e-05
    p = p * eta + -0.0001787551440329218
    p = p * eta + 0.0003527336860670194
    p = p * eta + 0.0011574074074074073
    p = p * eta + -0.014814814814814815
    p = p * eta + 0.08333333333333333
    return p * eta + -0.3333333333333333


@triton.jit
def _temme_c1(eta):
    """c1(eta) = 1/eta^3 - 1/mu^3 - 1/mu^2 - 1/(12 mu) (mu = lambda - 1) by its Taylor series, |eta| < 0.3."""
    p = -1.6120900894563446e-06
    p = p * eta + 7.64916091608111e-06
    p = p * eta + -1.8098550334489977e-05
    p = p * eta + -4.018775720164609e-07
    p = p * eta + 0.00020576131687242798
    p = p * eta + -0.0009902263374485596
    p = p * eta + 0.0026455026455026454
    p = p * eta + -0.003472222222222222
    return p * eta + -0.001851851851851852


@triton.jit
def _temme(a, x, UPPER: tl.constexpr):
    """P or Q for large a by Temme's uniform expansion (DLMF 8.12): with lambda = x / a, mu = lambda - 1 and
    eta = sign(mu) sqrt(-2 log1pmx(mu)), Q = erfc(eta sqrt(a/2)) / 2 + e^(-a eta^2 / 2) / sqrt(2 pi a) (c0 + c1 / a)
    and P = erfc(-eta sqrt(a/2)) / 2 - the same term: the smaller of the two directly (erfc of a non-negative
    argument, +- the series), the other as 1 minus it. The terms left out are O(a^-2) relative to the series,
    about 1e-14 of the result for a > TEMME_A."""
    mu = (x - a) / a
    lpm = _log1pmx(mu, x / a)
    eta = tl.sqrt(tl.maximum(-2.0 * lpm, 0.0))
    eta = tl.where(mu < 0.0, -eta, eta)
    near = tl.abs(eta) < 0.3
    inv_mu = 1.0 / tl.where(near, 1.0, mu)
    inv_eta = 1.0 / tl.where(near, 1.0, eta)
    c0 = tl.where(near, _temme_c0(eta), inv_mu - inv_eta)
    c1 = tl.where(near, _temme_c1(eta), inv_eta * inv_eta * inv_eta - inv_mu * inv_mu * (inv_mu + 1.0 + mu / 12.0))
    r = (c0 + c1 / a) / tl.sqrt(6.283185307179586 * a)
    upper_small = eta >= 0.0  # Q is the smaller one
    small = 0.5 * erfc_math(tl.abs(eta) * tl.sqrt(0.5 * a)) + tl.exp(a * lpm) * tl.where(upper_small, r, -r)
    if UPPER:
        y = tl.where(upper_small, small, 1.0 - small)
    else:
        y = tl.where(upper_small, 1.0 - small, small)
    return y


@triton.jit
def igamma_math(a, x, UPPER: tl.constexpr):
    """P(a, x) (UPPER False) or Q(a, x) (UPPER True) with PyTorch's edge values."""
    inf = float("inf")
    ok = (a > 0.0) & (x > 0.0) & (a < inf) & (x < inf)  # False for NaN lanes as well
    av = tl.where(ok, a, 1.0)
    xv = tl.where(ok, x, 1.0)
    # Which expansion gives Q without cancellation (PyTorch's igamc split); P uses Q's only where x > max(a, 1).
    q_frac = (xv > 1.1) & (xv >= av)
    q_small = (xv <= 1.1) & tl.where(xv <= 0.5, -0.4 / tl.log(tl.where(xv <= 0.5, xv, 0.5)) >= av, 1.1 * xv >= av)
    if UPPER:
        via_q = q_frac | q_small
    else:
        via_q = (xv > 1.0) & (xv > av)
    big = av > TEMME_A  # the loops would need O(sqrt(a)) rounds near x ~ a: Temme's expansion instead
    use_frac = ok & via_q & q_frac & ~big
    use_small = ok & via_q & ~q_frac & ~big
    use_series = ok & ~via_q & ~big
    fac = _prefactor(av, xv)
    # x^a e^-x / Gamma(a + 1) directly below a = 1: fac / a would lose a subnormal a (lgamma(a) overflows fp32).
    lead = tl.where(av < 1.0, tl.exp(av * tl.log(xv) - xv - _lgamma1p(tl.minimum(av, 1.0))), fac / av)
    series = _lower_series(av, tl.where(use_series, xv, 0.0), use_series) * lead
    frac = _upper_fraction(av, tl.where(use_frac, xv, av + 2.0), use_frac) * fac
    small = _upper_small(tl.where(use_small, av, 0.5), tl.where(use_small, xv, 0.5), use_small)
    q = tl.where(use_frac, frac, small)
    if UPPER:
        y = tl.where(use_series, 1.0 - series, q)
    else:
        y = tl.where(use_series, series, 1.0 - q)
    y = tl.where(big, _temme(av, xv, UPPER), y)
    y = tl.where(ok, y, float("nan"))
    # PyTorch's chain of edge tests, applied last-first so that the earlier ones win. P's value at x = 0 (also
    # at a = inf) is 0 and at x = inf (also at a = 0) is 1; Q's the other way round.
    if UPPER:
        at_zero = 1.0
    else:
        at_zero = 0.0
    at_inf = 1.0 - at_zero
    y = tl.where(x == inf, at_inf, y)
    y = tl.where(a == inf, tl.where(x == inf, float("nan"), at_zero), y)
    y = tl.where(x == 0.0, at_zero, y)
    y = tl.where(a == 0.0, tl.where(x > 0.0, at_inf, float("nan")), y)
    return tl.where((x < 0.0) | (a < 0.0), float("nan"), y)


# ================================================================ the kernel and its launch
@fast_jit
def igamma_kernel(
    out_ptr, a_ptr, x_ptr,  # P or Q out, the orders a, the limits x (a and x broadcast to out's shape)
    numel,  # elements in this launch
    size1, size2, size3,  # launch shape (size0 implied by numel)
    os0, os1, os2, os3,  # out strides
    as0, as1, as2, as3,  # a strides
    xs0, xs1, xs2, xs3,  # x strides
    UPPER: tl.constexpr,  # Q(a, x) instead of P(a, x)
    BLOCK: tl.constexpr,  # elements per program
):
    # Not the shared map kernel: its 8-16 elements per thread cannot hold the three expansions' state in
    # registers (every shipped build spilled). One or two elements per thread can, and a small block also
    # means fewer lanes wait on the slowest one, as each loop runs until all of the block has converged.
    idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < numel
    # Masked lanes read a = x = 1, which converge at once.
    a = compute_type(tl.load(a_ptr + strided_offsets(idx, size1, size2, size3, as0, as1, as2, as3),
                             mask=mask, other=1.0))
    x = compute_type(tl.load(x_ptr + strided_offsets(idx, size1, size2, size3, xs0, xs1, xs2, xs3),
                             mask=mask, other=1.0))
    y = igamma_math(a, x, UPPER)
    tl.store(out_ptr + strided_offsets(idx, size1, size2, size3, os0, os1, os2, os3),
             cast_to(y, out_ptr.dtype.element_ty), mask=mask)


def _igamma_cost(numel: int, itemsizes: int) -> Cost:
    # Data-dependent: ~50 rounds of ~10 flops is typical away from x ~ a (more near it, for large a).
    return Cost(float(numel) * itemsizes, float(numel) * 500)


IGAMMA_TUNING = Tunable(
    "special_igamma.igamma",
    space=[dict(BLOCK=128, num_warps=4), dict(BLOCK=64, num_warps=2), dict(BLOCK=256, num_warps=8),
           dict(BLOCK=256, num_warps=4)],
    heuristic=lambda key: dict(BLOCK=128, num_warps=4),
    cost=_igamma_cost,
    specs="special_igamma.",
)


def _launch(out: DeviceArray, a: DeviceArray, x: DeviceArray, upper: bool) -> None:
    if out.numel() == 0:
        return
    arrays = [out, a, x]
    itemsizes = sum(v.dtype.itemsize for v in arrays)
    # An output sharing an input's storage would change under the tuner's repeated trials.
    repeatable = out.storage is not a.storage and out.storage is not x.storage
    for shape4, strides4, offsets in launch_slices(out.shape, arrays):
        views = [v.view_as(shape4, s, off) for v, s, off in zip(arrays, strides4, offsets)]
        numel = shape4[0] * shape4[1] * shape4[2] * shape4[3]

        def run(config, views=views, numel=numel, shape4=shape4):
            igamma_kernel[(triton.cdiv(numel, config["BLOCK"]),)](
                *views, numel, shape4[1], shape4[2], shape4[3], *[st for v in views for st in v.strides],
                UPPER=upper, **config,
            )

        key = ("igammac" if upper else "igamma", out.dtype.name, next_pow2(numel))  # names its spec's fields
        tuning.launch(IGAMMA_TUNING, key, dict(numel=numel, itemsizes=itemsizes), run, repeatable)


def igamma(out: DeviceArray, a: DeviceArray, x: DeviceArray) -> None:
    """out = P(a, x), a and x already in out's dtype and broadcast to its shape."""
    _launch(out, a, x, upper=False)


def igammac(out: DeviceArray, a: DeviceArray, x: DeviceArray) -> None:
    """out = Q(a, x) = 1 - P(a, x), operands as igamma's."""
    _launch(out, a, x, upper=True)


# ================================================================ SciPy references
def _edges(a: np.ndarray, x: np.ndarray, y: np.ndarray, upper: bool) -> np.ndarray:
    # SciPy returns NaN for any NaN operand first; PyTorch's chain of tests gives a value to some of them.
    at_zero = 1.0 if upper else 0.0  # the value at x = 0 and at a = inf; 1 - at_zero at x = inf and at a = 0
    y = np.where(x == np.inf, 1.0 - at_zero, y)
    y = np.where(a == np.inf, np.where(x == np.inf, np.nan, at_zero), y)
    y = np.where(x == 0, at_zero, y)
    y = np.where(a == 0, np.where(x > 0, 1.0 - at_zero, np.nan), y)
    return np.where((x < 0) | (a < 0), np.nan, y)


def _reference(fn, a, x, upper: bool) -> np.ndarray:
    a, x = np.asarray(a), np.asarray(x)
    dtype = np.result_type(a, x)
    a64, x64 = np.broadcast_arrays(a.astype(np.float64), x.astype(np.float64))
    with np.errstate(all="ignore"):
        y = _edges(a64, x64, np.asarray(fn(a64, x64), np.float64), upper)
    return y.astype(dtype, copy=False)


def igamma_ref(a, x) -> np.ndarray:
    """P(a, x) by SciPy (float64), with PyTorch's edge values, in the operands' dtype."""
    return _reference(scipy_special.gammainc, a, x, upper=False)


def igammac_ref(a, x) -> np.ndarray:
    """Q(a, x) by SciPy (float64), with PyTorch's edge values, in the operands' dtype."""
    return _reference(scipy_special.gammaincc, a, x, upper=True)


# ================================================================ specs
def _signature(dtype: str) -> dict[str, str]:
    sig = {f"{n}_ptr": f"*{dtype}" for n in ("out", "a", "x")}
    sig.update(numel="i32", size1="i32", size2="i32", size3="i32")
    for operand in ("o", "a", "x"):
        sig.update({f"{operand}s{d}": "i32" for d in range(4)})
    return sig


def _specs(dtypes) -> list[KernelSpec]:
    # Compute-bound (a data-dependent loop of tens to thousands of rounds per element, one or two elements per
    # thread): the loads are coalesced but no 128-bit access is possible or worth having, hence memory_bound=False.
    return [KernelSpec(f"special_igamma.{name}[{dtype}]", igamma_kernel, _signature(dtype), dict(UPPER=upper),
                       [IGAMMA_TUNING.heuristic(())], IGAMMA_TUNING.all_configs(), memory_bound=False)
            for name, upper in (("igamma", False), ("igammac", True)) for dtype in dtypes]


# The convergence threshold branches on the dtype: SPECS compile fp32 and fp64, FULL_SPECS every dtype.
SPECS = _specs(("fp32", "fp64"))
FULL_SPECS = _specs(("fp16", "bf16", "fp32", "fp64"))
