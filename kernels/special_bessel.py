"""Bessel functions on the elementwise map kernel: the modified i0, i0e, i1, i1e (with backward) and
bessel_j0, bessel_j1, bessel_y0, bessel_y1 (forward only, as PyTorch).

Same layout as kernels/special.py; fp32 computes in fp32 and fp64 in fp64, with these textbook methods:

- I0, I1: the power series sum (x^2/4)^k / (k! (k + nu)!) (positive terms, no cancellation) up to |x| = 20,
  the asymptotic expansion e^x / sqrt(2 pi x) sum_k (-1)^k a_k(nu) / x^k above (its smallest term is
  about e^-2x, below 1e-17 there). The exponentially scaled forms multiply by e^-|x| or drop e^x.
- J0, J1, Y0, Y1 up to x = 25: Miller's backward recurrence J_(k-1) = (2k/x) J_k - J_(k+1) from k = 64,
  normalised by 1 = J_0 + 2 sum J_2k, rescaled whenever it grows past 1e10; Y0 from Neumann's series
  Y0 = (2/pi)(log(x/2) + gamma) J0 - (4/pi) sum (-1)^k J_2k / k, Y1 = -Y0' written in the same J_k. Below
  x = 1e-3 the leading terms of the power series. Above 25, Hankel's asymptotic expansion (P, Q), whose
  sin and cos of x come from one Cody-Waite reduction in fp64 (`_sincos_f64`).
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl
from scipy import special as scipy_special

from . import tuning
from .device_array import DeviceArray
from .elementwise import launch_map, runs_map
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .tuning import Cost, Tunable, next_pow2
from .unary import UnaryOp, backward_ref, build_specs, family_math, forward_ref

_EULER_GAMMA = 0.5772156649015329


# ================================================================ modified Bessel functions
@triton.jit
def _i_series(a, NU: tl.constexpr):
    """sum_k (a^2/4)^k / (k! (k + NU)!) for 0 <= a <= 20 (times (a/2)^NU by the caller).

    The loops in this module are runtime loops, not unrolled: an unrolled one lets the scheduler
    interleave steps and keep more fp64 values live than the map kernel's registers hold.
    """
    y = 0.25 * a * a
    term = tl.zeros_like(a) + 1.0
    acc = term
    kf = tl.full([], 0.0, a.dtype)  # a scalar: one register, not one per element
    for _ in range(36):
        kf += 1.0
        term = term * y / (kf * (kf + NU))
        acc += term
    return acc


@triton.jit
def _i_asymptotic(a, NU: tl.constexpr):
    """sum_k (-1)^k a_k(NU) / a^k, a_k = prod_j (4 NU^2 - (2j - 1)^2) / (k! 8^k), for a > 20."""
    term = tl.zeros_like(a) + 1.0
    acc = term
    r = 0.125 / a
    kf = tl.full([], 0.0, a.dtype)
    for _ in range(30):
        kf += 1.0
        odd = 2.0 * kf - 1.0
        term = term * (-(4 * NU * NU - odd * odd) / kf) * r
        acc += term
    return acc


@triton.jit
def bessel_i_math(x, NU: tl.constexpr, SCALED: tl.constexpr):
    """I_NU(x) (NU = 0 or 1), or e^-|x| I_NU(x) when SCALED."""
    a = tl.abs(x)
    big = a > 20.0
    s = _i_series(tl.where(big, 0.0, a), NU)
    if NU == 1:
        s = s * (0.5 * a)
    ab = tl.where(big, a, 21.0)
    ab = tl.where(ab == float("inf"), 1e300, ab)
    tail = _i_asymptotic(ab, NU)
    if SCALED:
        lo = s * tl.exp(-a)
        hi = tail / tl.sqrt(6.283185307179586 * ab)
    else:
        lo = s
        hi = tail * tl.exp(ab - 0.5 * tl.log(6.283185307179586 * ab))
        hi = tl.where(a == float("inf"), float("inf"), hi)
    y = tl.where(big, hi, lo)
    if NU == 1:
        y = tl.where(x < 0.0, -y, y)
    return y


# ================================================================ Bessel functions of the first and second kind
@triton.jit
def _jy_recurrence(x, NU: tl.constexpr, SECOND: tl.constexpr):
    """J_NU or (SECOND) Y_NU for 1e-3 <= x <= 25 by Miller's recurrence and Neumann's series.

    Two steps per iteration, from k = 64 down: an even k = 2m adds J_2m to the normalisation and
    (-1)^m J_2m / m to Y0's sum; an odd k = 2m - 1 adds J_(2m-1) with its two coefficients in Y1's sum.
    """
    jp1 = tl.zeros_like(x)
    j = tl.zeros_like(x) + 1e-30
    norm = tl.zeros_like(x)
    ysum = tl.zeros_like(x)
    y1sum = tl.zeros_like(x)
    two_over_x = 2.0 / x
    mf = tl.full([], 33.0, x.dtype)  # m + 1; scalars, one register each
    sgn = tl.full([], -1.0, x.dtype)  # (-1)^(m + 1)
    for _ in range(32):
        mf -= 1.0
        sgn = -sgn  # (-1)^m
        # k = 2m: j holds J_2m (each function accumulates only the sums it reads: fewer live registers)
        norm += 2.0 * j
        if SECOND and NU == 0:
            ysum += (sgn / mf) * j
        jm1 = (2.0 * mf * two_over_x) * j - jp1
        jp1 = j
        j = jm1
        # k = 2m - 1: j holds J_(2m-1), in Y1's sum with (-1)^m/m + (-1)^m/(m-1) (the second for m >= 2)
        if SECOND and NU == 1:
            c = sgn / mf + tl.where(mf >= 2.0, sgn / tl.maximum(mf - 1.0, 1.0), 0.0 * sgn)
            y1sum += c * j
        jm1 = ((2.0 * mf - 1.0) * two_over_x) * j - jp1
        jp1 = j
        j = jm1
        scale = tl.where(tl.abs(j) > 1e10, 1e-10, 1.0)
        j *= scale
        jp1 *= scale
        norm *= scale
        if SECOND and NU == 0:
            ysum *= scale
        if SECOND and NU == 1:
            y1sum *= scale
    norm += j
    j0 = j / norm
    j1 = jp1 / norm
    lg = tl.log(0.5 * x) + 0.5772156649015329
    if SECOND and NU == 0:
        result = 0.6366197723675814 * (lg * j0 - 2.0 * ysum / norm)
    elif SECOND:
        result = 0.6366197723675814 * (lg * j1 - j0 / x + y1sum / norm)
    elif NU == 0:
        result = j0
    else:
        result = j1
    return result


@triton.jit
def _jy_small(x):
    """(J0, J1, Y0, Y1) for 0 < x < 1e-3: the leading terms of the power series."""
    y = 0.25 * x * x
    j0 = 1.0 - y + 0.25 * y * y
    j1 = 0.5 * x * (1.0 - 0.5 * y + y * y / 12.0)
    lg = tl.log(0.5 * x) + 0.5772156649015329
    y0 = 0.6366197723675814 * (lg * j0 + y - 0.375 * y * y)
    y1 = -0.6366197723675814 / x + 0.6366197723675814 * (tl.log(0.5 * x) * j1) \
        - 0.15915494309189535 * x * ((1.0 - 2.0 * 0.5772156649015329) - (1.25 - 0.5772156649015329) * y)
    return j0, j1, y0, y1


@triton.jit
def _sincos_f64(x):
    """(sin x, cos x) for fp64 from one reduction, x = n pi/2 + r (Cody-Waite: pi/2 in three parts of which
    the first two hold 33 bits, so n P1 and n P2 are exact for n < 2^20), and Taylor polynomials on
    |r| <= pi/4. libdevice's sin and cos together would take about 180 registers of the map kernel's
    budget; this takes a few. fp32 inputs use it too, in fp64."""
    n = tl.floor(x * 0.6366197723675814 + 0.5)
    r = ((x - n * 1.5707963267341256) - n * 6.077100506303966e-11) - n * 2.0222662487959506e-21
    z = r * r
    sp = 2.8114572543455206e-15
    sp = sp * z + -7.647163731819816e-13
    sp = sp * z + 1.6059043836821613e-10
    sp = sp * z + -2.505210838544172e-08
    sp = sp * z + 2.7557319223985893e-06
    sp = sp * z + -0.0001984126984126984
    sp = sp * z + 0.008333333333333333
    sp = sp * z + -0.16666666666666666
    sp = sp * z + 1.0
    sp = sp * r
    cp = -1.5619206968586225e-16
    cp = cp * z + 4.779477332387385e-14
    cp = cp * z + -1.1470745597729725e-11
    cp = cp * z + 2.08767569878681e-09
    cp = cp * z + -2.755731922398589e-07
    cp = cp * z + 2.48015873015873e-05
    cp = cp * z + -0.001388888888888889
    cp = cp * z + 0.041666666666666664
    cp = cp * z + -0.5
    cp = cp * z + 1.0
    quadrant = n - 4.0 * tl.floor(0.25 * n)
    sin_x = tl.where(quadrant == 0.0, sp, tl.where(quadrant == 1.0, cp, tl.where(quadrant == 2.0, -sp, -cp)))
    cos_x = tl.where(quadrant == 0.0, cp, tl.where(quadrant == 1.0, -sp, tl.where(quadrant == 2.0, -cp, sp)))
    return sin_x, cos_x


@triton.jit
def _jy_hankel(x, NU: tl.constexpr):
    """(J_NU, Y_NU) for x > 25 from Hankel's expansion: sqrt(2/(pi x)) (P cos chi - Q sin chi), ..."""
    p = tl.zeros_like(x) + 1.0
    q = tl.zeros_like(x)
    term = tl.zeros_like(x) + 1.0
    r = 0.125 / x
    kf = tl.full([], 0.0, x.dtype)
    sgn = tl.full([], 1.0, x.dtype)  # (-1)^(kk - 1) for the pair k = 2kk - 1 (into Q), 2kk (into P)
    for _ in range(12):
        kf += 1.0
        odd = 2.0 * kf - 1.0
        term = term * ((4 * NU * NU - odd * odd) / kf) * r
        q += sgn * term
        kf += 1.0
        odd = 2.0 * kf - 1.0
        term = term * ((4 * NU * NU - odd * odd) / kf) * r
        sgn = -sgn
        p += sgn * term
    if x.dtype.is_fp64():
        s, c = _sincos_f64(x)
    else:  # the same reduction in fp64: libdevice's sinf and cosf together overflow the flat kernel's registers
        s, c = _sincos_f64(x.to(tl.float64))
        s = s.to(tl.float32)
        c = c.to(tl.float32)
    if NU == 0:  # chi = x - pi/4
        cchi = (c + s) * 0.7071067811865476
        schi = (s - c) * 0.7071067811865476
    else:  # chi = x - 3 pi/4
        cchi = (s - c) * 0.7071067811865476
        schi = -(s + c) * 0.7071067811865476
    amp = tl.sqrt(0.6366197723675814 / x)
    return amp * (p * cchi - q * schi), amp * (p * schi + q * cchi)


@triton.jit
def bessel_jy_math(x, NU: tl.constexpr, SECOND: tl.constexpr):
    """J_NU(x) or (SECOND) Y_NU(x), NU = 0 or 1: J even/odd in x, Y NaN for x < 0 and -inf at 0."""
    a = tl.abs(x)
    mid = a <= 25.0
    small = a < 1e-3
    am = tl.where(mid & ~small, a, 1.0)
    rec = _jy_recurrence(am, NU, SECOND)
    sj0, sj1, sy0, sy1 = _jy_small(tl.where(small & (a > 0.0), a, 1e-4))
    ah = tl.where(mid, 26.0, tl.where(a == float("inf"), 1e300, a))
    hj, hy = _jy_hankel(ah, NU)
    if NU == 0:
        mj = tl.where(small, sj0, rec)
        my = tl.where(small, sy0, rec)
    else:
        mj = tl.where(small, sj1, rec)
        my = tl.where(small, sy1, rec)
    if SECOND:
        y = tl.where(mid, my, hy)
        y = tl.where(a == 0.0, -float("inf"), y)
        y = tl.where(x < 0.0, float("nan"), y)
    else:
        y = tl.where(mid, mj, hj)
        if NU == 0:
            y = tl.where(a == 0.0, 1.0, y)
        else:
            y = tl.where(a == 0.0, 0.0, y)
            y = tl.where(x < 0.0, -y, y)
    y = tl.where(a == float("inf"), 0.0, y)
    return tl.where(x != x, x, y)


# ================================================================ forward / backward math per op
@triton.jit
def _i0(x, p0, p1):
    return bessel_i_math(x, 0, False)


@triton.jit
def _i0_backward(grad, x, p0, p1):
    return grad * bessel_i_math(x, 1, False)


@triton.jit
def _i0e(x, p0, p1):
    return bessel_i_math(x, 0, True)


@triton.jit
def _i0e_backward(grad, x, p0, p1):
    # d/dx e^-|x| I0(x) = i1e(x) - sgn(x) i0e(x)
    sgn = (x > 0.0).to(x.dtype) - (x < 0.0).to(x.dtype)
    return grad * (bessel_i_math(x, 1, True) - sgn * bessel_i_math(x, 0, True))


@triton.jit
def _i1(x, p0, p1):
    return bessel_i_math(x, 1, False)


@triton.jit
def _i1_backward(grad, x, p0, p1):
    # I1' = I0 - I1 / x, 1/2 at 0 (PyTorch's formula)
    xs = tl.where(x == 0.0, 1.0, x)
    d = bessel_i_math(x, 0, False) - bessel_i_math(x, 1, False) / xs
    return grad * tl.where(x == 0.0, 0.5, d)


@triton.jit
def _i1e(x, p0, p1):
    return bessel_i_math(x, 1, True)


@triton.jit
def _i1e_backward(grad, x, p0, p1):
    # i1e' = i0e - i1e (sgn(x) + 1/x), 1/2 at 0
    xs = tl.where(x == 0.0, 1.0, x)
    sgn = (x > 0.0).to(x.dtype) - (x < 0.0).to(x.dtype)
    d = bessel_i_math(x, 0, True) - bessel_i_math(x, 1, True) * (sgn + 1.0 / xs)
    return grad * tl.where(x == 0.0, 0.5, d)


@triton.jit
def _bessel_j0(x, p0, p1):
    return bessel_jy_math(x, 0, False)


@triton.jit
def _bessel_j1(x, p0, p1):
    return bessel_jy_math(x, 1, False)


@triton.jit
def _bessel_y0(x, p0, p1):
    return bessel_jy_math(x, 0, True)


@triton.jit
def _bessel_y1(x, p0, p1):
    return bessel_jy_math(x, 1, True)


# ================================================================ launch wrappers
@runs_map(_i0)
def i0(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_i0, [out], [x])


def i0_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_i0_backward, [grad_x], [grad, x])


@runs_map(_i0e)
def i0e(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_i0e, [out], [x])


def i0e_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_i0e_backward, [grad_x], [grad, x])


@runs_map(_i1)
def i1(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_i1, [out], [x])


def i1_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_i1_backward, [grad_x], [grad, x])


@runs_map(_i1e)
def i1e(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_i1e, [out], [x])


def i1e_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_i1e_backward, [grad_x], [grad, x])


# Bessel J/Y run on their own light kernel, not the shared map kernel: their sin/cos argument reduction and two
# rational approximations keep ~4x the live values of an ordinary map op, and at the map kernel's 8 elements per
# thread Y1 spills (136-284 B in fp64; even at two, fp32 Y1 spills 8 B on sm_90). One element per thread (BLOCK 128,
# 4 warps) spills nothing; these ops are bound by their ~150 flops per element, not by memory width, so 32/64-bit
# accesses cost nothing measurable.
@fast_jit
def bessel_jy_kernel(
    out_ptr,  # *T: contiguous output, numel elements
    x_ptr,  # *T: contiguous input, numel elements
    numel,  # i32: elements
    OP: tl.constexpr,  # the J/Y math (x, p0, p1) -> y
    BLOCK: tl.constexpr,  # elements per program
):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < numel
    x = tl.load(x_ptr + offs, mask=mask, other=1.0)
    if x.dtype != tl.float64:  # fp16/bf16 compute in fp32, as the map kernel does
        x = x.to(tl.float32)
    tl.store(out_ptr + offs, OP(x, 0.0, 0.0).to(out_ptr.dtype.element_ty), mask=mask)


# Left to itself ptxas holds fp64 Y0 to 80 registers and spills 8 B (unaligned, sm_90); the cap lets it take more.
_JY_MAXNREG = 128


def _jy_space(key: tuple, space: str) -> list[dict]:
    return [dict(BLOCK=128, num_warps=4, maxnreg=_JY_MAXNREG), dict(BLOCK=256, num_warps=8, maxnreg=_JY_MAXNREG),
            dict(BLOCK=64, num_warps=2, maxnreg=_JY_MAXNREG)]


JY_TUNING = Tunable("special_bessel.jy", space=_jy_space, heuristic=lambda key: _jy_space(key, "")[0],
                    cost=lambda numel, itemsize: Cost(2.0 * numel * itemsize, 150.0 * numel))


def _launch_jy(op, out: DeviceArray, x: DeviceArray) -> None:
    """out = op(x) elementwise; out and x are contiguous with the same shape (the op makes x contiguous)."""
    if not (out.is_contiguous() and x.is_contiguous()) or out.shape != x.shape:
        raise ValueError("bessel J/Y kernel: operands must be contiguous and of one shape")
    numel = out.numel()
    if numel == 0:
        return

    def run(cfg):
        bessel_jy_kernel[(triton.cdiv(numel, cfg["BLOCK"]),)](out, x, numel, OP=op, **cfg)

    key = (op.__name__, x.dtype.name, next_pow2(numel))
    tuning.launch(JY_TUNING, key, dict(numel=numel, itemsize=x.dtype.itemsize), run,
                  repeatable=out.storage is not x.storage)


def bessel_j0(out: DeviceArray, x: DeviceArray) -> None:
    _launch_jy(_bessel_j0, out, x)


def bessel_j1(out: DeviceArray, x: DeviceArray) -> None:
    _launch_jy(_bessel_j1, out, x)


def bessel_y0(out: DeviceArray, x: DeviceArray) -> None:
    _launch_jy(_bessel_y0, out, x)


def bessel_y1(out: DeviceArray, x: DeviceArray) -> None:
    _launch_jy(_bessel_y1, out, x)


# ================================================================ NumPy/SciPy references
def _grad_ref(fn):
    return lambda grad, x: backward_ref(fn, grad, x)


def _np_i1_grad(g, a):
    with np.errstate(all="ignore"):
        return g * np.where(a == 0, 0.5, scipy_special.i0(a) - scipy_special.i1(a) / a)


def _np_i1e_grad(g, a):
    with np.errstate(all="ignore"):
        d = scipy_special.i0e(a) - scipy_special.i1e(a) * (np.sign(a) + 1 / a)
        return g * np.where(a == 0, 0.5, d)


i0_ref = (lambda x: forward_ref(scipy_special.i0, x))
i0_backward_ref = _grad_ref(lambda g, a: g * scipy_special.i1(a))
i0e_ref = (lambda x: forward_ref(scipy_special.i0e, x))
i0e_backward_ref = _grad_ref(lambda g, a: g * (scipy_special.i1e(a) - np.sign(a) * scipy_special.i0e(a)))
i1_ref = (lambda x: forward_ref(scipy_special.i1, x))
i1_backward_ref = _grad_ref(_np_i1_grad)
i1e_ref = (lambda x: forward_ref(scipy_special.i1e, x))
i1e_backward_ref = _grad_ref(_np_i1e_grad)
bessel_j0_ref = (lambda x: forward_ref(scipy_special.j0, x))
bessel_j1_ref = (lambda x: forward_ref(scipy_special.j1, x))
bessel_y0_ref = (lambda x: forward_ref(scipy_special.y0, x))
bessel_y1_ref = (lambda x: forward_ref(scipy_special.y1, x))

# ================================================================ registry
OPS: dict[str, UnaryOp] = {
    name: UnaryOp(globals()[name], globals()[f"{name}_backward"], globals()[f"{name}_ref"],
                  globals()[f"{name}_backward_ref"], "input")
    for name in ("i0", "i0e", "i1", "i1e")
}
# Forward only: (wrapper, reference).
FORWARD_ONLY = {name: (globals()[name], globals()[f"{name}_ref"])
                for name in ("bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1")}
MATH = family_math(globals(), ["i0", "i0e", "i1", "i1e"])
MATH.update({name: (globals()[f"_{name}"], None) for name in FORWARD_ONLY})


def _jy_specs(full: bool) -> list[KernelSpec]:
    dtypes = ("fp16", "bf16", "fp32", "fp64") if full else ("fp32", "fp64")
    space = _jy_space((), "max")
    # memory_bound=False: ~150 flops per element and one element per thread (see bessel_jy_kernel): register
    # pressure, not access width, sets the block, and the accesses are scalar.
    return [KernelSpec(f"special_bessel.{name}[{dtype}]", bessel_jy_kernel,
                       {"out_ptr": f"*{dtype}", "x_ptr": f"*{dtype}", "numel": "i32"}, dict(OP=MATH[name][0]),
                       space[:1], space, memory_bound=False)
            for name in FORWARD_ONLY for dtype in dtypes]


def _specs(full: bool):
    # The I functions compile fp32 (FULL_SPECS every dtype) on the map kernel; J and Y on their own kernel.
    with_backward = {k: v for k, v in MATH.items() if v[1] is not None}
    return build_specs("special_bessel", with_backward, [], [], full) + _jy_specs(full)


SPECS = _specs(False)
FULL_SPECS = _specs(True)
