"""Activation functions, forward and backward, on the elementwise map kernel.

Same layout and contract as `unary` (read its docstring): `@triton.jit` forward `_<op>(x, p0, p1)`
and backward `_<op>_backward(grad, saved, p0, p1)` math run by `elementwise.launch_map`, launch
wrappers `<op>(out, x, **params)` / `<op>_backward(grad_x, grad, saved, **params)`, NumPy references
`<op>_ref(x, **params)` / `<op>_backward_ref(grad, saved, **params) -> (grad_x,)`, and `OPS`, a dict
name -> `unary.UnaryOp` with the PyTorch defaults of each op's keyword parameters. relu's and silu's NumPy
references live in kernels/activations_ref.py (re-exported here).

Every backward saves the input except relu's, which saves the output (as PyTorch's does). relu keeps
integer dtypes; the others take fp16/bf16/fp32/fp64 (16-bit floats computed in fp32). Gradients at
the kinks follow PyTorch: relu'(0) = 0, leaky_relu'(0) = negative_slope, elu'(0) = alpha,
hardtanh' = 0 at either bound, hardsigmoid' = 0 at +-3, hardswish'(-3) = 0 and hardswish'(3) = 1.

Scalar parameters reach the kernel as launch_map's fp32 p0/p1. A one-parameter op (elu's alpha,
leaky_relu's slope) passes its parameter split as hi + lo so that fp64 kernels get it back to about
48 bits; softplus (beta, threshold) and hardtanh (min_val, max_val) need both slots, so fp64 kernels
see those parameters rounded to fp32 (exact for the usual values: 1, 20, +-1, 0, 6, halves...).
"""

from __future__ import annotations

import math

import numpy as np
import triton
import triton.language as tl

from . import host_threads
from .activations_ref import _threaded, relu_backward_ref, relu_ref, silu_backward_ref, silu_ref  # noqa: F401
from .device_array import DeviceArray
from .elementwise import launch_map, runs_map
from .exponential import _expm1_math, _log1p_math
from .special import _sigmoid_math, _sigmoid_pair, np_erf, np_sigmoid
from .unary import UnaryOp, _opmath, backward_ref, build_specs, forward_ref

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
GELU_TANH_BETA = 0.7978845608028654  # sqrt(2 / pi)
GELU_TANH_KAPPA = 0.044715


def _split(value: float) -> tuple[float, float]:
    """value as hi + lo, both exact in fp32 to ~48 bits together (launch_map's p0/p1 are fp32)."""
    hi = float(np.float32(value))
    return hi, float(value) - hi


@triton.jit
def _param(x, hi, lo):
    """A p0/p1 parameter split by `_split`, in x's compute type: fp64 adds the low part back."""
    if x.dtype.is_fp64():
        return (tl.zeros_like(x) + hi) + lo
    else:
        return hi


# ================================================================ Triton math
@triton.jit
def _relu(x, p0, p1):
    # where(x < 0) rather than maximum: NaN passes through as in PyTorch, and ints keep their type.
    return tl.where(x < 0, tl.zeros_like(x), x)


@triton.jit
def _relu_backward(grad, out, p0, p1):
    return tl.where(out <= 0, tl.zeros_like(grad), grad)


@triton.jit
def _gelu(x, p0, p1):
    return 0.5 * x * (1.0 + tl.erf(x * 0.7071067811865476))


@triton.jit
def _gelu_backward(grad, x, p0, p1):
    cdf = 0.5 * (1.0 + tl.erf(x * 0.7071067811865476))
    xc = _clamp_huge(x)  # x * x would overflow fp32 past 1.8e19, where the pdf is 0 anyway
    pdf = tl.exp(-0.5 * (xc * xc)) * 0.3989422804014327  # 1 / sqrt(2 pi)
    return grad * (cdf + x * pdf)


@triton.jit
def _clamp_huge(x):
    # Past |x| = 1e12 the sigmoid/pdf factors below are exactly 0 or 1, and x^3 stays finite in fp32.
    return tl.where(x > 1e12, 1e12, tl.where(x < -1e12, -1e12, x))


@triton.jit
def _gelu_tanh(x, p0, p1):
    # 0.5 x (1 + tanh(u)) = x sigmoid(2u): the same function without 1 + tanh's cancellation for x < 0.
    xc = _clamp_huge(x)
    u = 0.7978845608028654 * (xc + 0.044715 * (xc * xc * xc))
    return x * _sigmoid_math(2.0 * u)


@triton.jit
def _gelu_tanh_backward(grad, x, p0, p1):
    # Not clamped like the forward: PyTorch's 0 * inf for |x| past ~1e19 in fp32 is a NaN, kept.
    u = 0.7978845608028654 * (x + 0.044715 * (x * x * x))
    s, one_minus_s = _sigmoid_pair(2.0 * u)
    du = 0.7978845608028654 * (1.0 + 0.134145 * (x * x))  # 3 * kappa = 0.134145
    return grad * (s + x * (2.0 * s * one_minus_s) * du)


@triton.jit
def _silu(x, p0, p1):
    return x * _sigmoid_math(x)


@triton.jit
def _silu_backward(grad, x, p0, p1):
    s, one_minus_s = _sigmoid_pair(x)
    return grad * (s * (1.0 + x * one_minus_s))


@triton.jit
def _softplus(x, beta, threshold):
    # log1p(exp(z)) = max(z, 0) + log1p(exp(-|z|)): never overflows, whatever the threshold.
    z = x * beta
    sp = (tl.where(z > 0, z, 0.0) + _log1p_math(tl.exp(-tl.abs(z)))) / beta
    return tl.where(z > threshold, x, sp)


@triton.jit
def _softplus_backward(grad, x, beta, threshold):
    z = x * beta
    return tl.where(z > threshold, grad, grad * _sigmoid_math(z))


@triton.jit
def _elu(x, alpha_hi, alpha_lo):
    alpha = _param(x, alpha_hi, alpha_lo)
    neg = tl.where(x > 0, 0.0, x)  # the x > 0 lanes' exp is discarded (and may overflow): they take expm1(0)
    return tl.where(x > 0, x, alpha * _expm1_math(neg))


@triton.jit
def _elu_backward(grad, x, alpha_hi, alpha_lo):
    alpha = _param(x, alpha_hi, alpha_lo)
    neg = tl.where(x <= 0, x, 0.0)  # as in _elu: no exp of the discarded x > 0 lanes
    return tl.where(x <= 0, grad * (alpha * tl.exp(neg)), grad)


@triton.jit
def _selu(x, p0, p1):
    # exp of the x > 0 lanes would be discarded (and may overflow): those lanes take expm1(0).
    neg = tl.where(x > 0, 0.0, x)
    return tl.where(x > 0, 1.0507009873554805 * x, 1.7580993408473766 * _expm1_math(neg))  # scale * alpha


@triton.jit
def _selu_backward(grad, x, p0, p1):
    neg = tl.where(x <= 0, x, 0.0)  # as in _selu: no exp of the discarded x > 0 lanes
    return tl.where(x <= 0, grad * (1.7580993408473766 * tl.exp(neg)), grad * 1.0507009873554805)


@triton.jit
def _leaky_relu(x, slope_hi, slope_lo):
    return tl.where(x > 0, x, x * _param(x, slope_hi, slope_lo))


@triton.jit
def _leaky_relu_backward(grad, x, slope_hi, slope_lo):
    return tl.where(x > 0, grad, grad * _param(x, slope_hi, slope_lo))


@triton.jit
def _hardtanh(x, min_val, max_val):
    # min(max(x, min_val), max_val) with NaN passing through, as torch.clamp.
    y = tl.where(x < min_val, min_val, x)
    return tl.where(y > max_val, max_val, y)


@triton.jit
def _hardtanh_backward(grad, x, min_val, max_val):
    return tl.where((x <= min_val) | (x >= max_val), tl.zeros_like(grad), grad)


@triton.jit
def _relu6_of(t):
    # min(max(t, 0), 6), NaN-propagating.
    t = tl.where(t < 0, 0.0, t)
    return tl.where(t > 6.0, 6.0, t)


@triton.jit
def _hardsigmoid(x, p0, p1):
    return _relu6_of(x + 3.0) / 6.0


@triton.jit
def _hardsigmoid_backward(grad, x, p0, p1):
    return tl.where((x > -3.0) & (x < 3.0), grad * 0.16666666666666666, tl.zeros_like(grad))


@triton.jit
def _hardswish(x, p0, p1):
    return x * _relu6_of(x + 3.0) / 6.0


@triton.jit
def _hardswish_backward(grad, x, p0, p1):
    inner = tl.where(x < 3.0, grad * (x / 3.0 + 0.5), grad)
    return tl.where(x <= -3.0, tl.zeros_like(grad), inner)


@triton.jit
def _mish_parts(x):
    """(tanh(softplus(x)), 1 - that, sigmoid(x)), all from e = exp(x) with no cancellation.

    tanh(log(1 + e)) = n / (n + 2) with n = e (e + 2); above x = 40 the result is 1 to fp64's
    precision, so e is capped there to keep n finite in fp32.
    """
    e = tl.exp(tl.where(x > 40.0, 40.0, x))
    n = e * (e + 2.0)
    t = n / (n + 2.0)
    one_minus_t = tl.where(x > 40.0, 0.0, 2.0 / (n + 2.0))
    return t, one_minus_t, e / (1.0 + e)


@triton.jit
def _mish(x, p0, p1):
    t, _, _ = _mish_parts(x)
    return x * t


@triton.jit
def _mish_backward(grad, x, p0, p1):
    t, one_minus_t, s = _mish_parts(x)
    return grad * (t + x * s * (one_minus_t * (1.0 + t)))


@triton.jit
def _logsigmoid(x, p0, p1):
    # -softplus(-x) = min(x, 0) - log1p(exp(-|x|)).
    return tl.where(x < 0, x, 0.0) - _log1p_math(tl.exp(-tl.abs(x)))


@triton.jit
def _logsigmoid_backward(grad, x, p0, p1):
    _, s_neg = _sigmoid_pair(x)  # d/dx log(sigmoid(x)) = sigmoid(-x)
    return grad * s_neg


# ================================================================ launch wrappers
@runs_map(_relu)
def relu(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_relu, [out], [x])


def relu_backward(grad_x: DeviceArray, grad: DeviceArray, out: DeviceArray) -> None:
    """grad_x = grad where out > 0, else 0 (from the saved output)."""
    launch_map(_relu_backward, [grad_x], [grad, out])


def _gelu_fns(approximate: str):
    if approximate == "none":
        return _gelu, _gelu_backward
    if approximate == "tanh":
        return _gelu_tanh, _gelu_tanh_backward
    raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")


def gelu(out: DeviceArray, x: DeviceArray, approximate: str = "none") -> None:
    launch_map(_gelu_fns(approximate)[0], [out], [x])


def gelu_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, approximate: str = "none") -> None:
    launch_map(_gelu_fns(approximate)[1], [grad_x], [grad, x])


@runs_map(_silu)
def silu(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_silu, [out], [x])


def silu_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_silu_backward, [grad_x], [grad, x])


def softplus(out: DeviceArray, x: DeviceArray, beta: float = 1.0, threshold: float = 20.0) -> None:
    """log1p(exp(beta x)) / beta, and x where beta x > threshold."""
    launch_map(_softplus, [out], [x], float(beta), float(threshold))


def softplus_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, beta: float = 1.0,
                      threshold: float = 20.0) -> None:
    launch_map(_softplus_backward, [grad_x], [grad, x], float(beta), float(threshold))


def elu(out: DeviceArray, x: DeviceArray, alpha: float = 1.0) -> None:
    launch_map(_elu, [out], [x], *_split(alpha))


def elu_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, alpha: float = 1.0) -> None:
    launch_map(_elu_backward, [grad_x], [grad, x], *_split(alpha))


@runs_map(_selu)
def selu(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_selu, [out], [x])


def selu_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_selu_backward, [grad_x], [grad, x])


def leaky_relu(out: DeviceArray, x: DeviceArray, negative_slope: float = 0.01) -> None:
    launch_map(_leaky_relu, [out], [x], *_split(negative_slope))


def leaky_relu_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray,
                        negative_slope: float = 0.01) -> None:
    launch_map(_leaky_relu_backward, [grad_x], [grad, x], *_split(negative_slope))


def hardtanh(out: DeviceArray, x: DeviceArray, min_val: float = -1.0, max_val: float = 1.0) -> None:
    launch_map(_hardtanh, [out], [x], float(min_val), float(max_val))


def hardtanh_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, min_val: float = -1.0,
                      max_val: float = 1.0) -> None:
    launch_map(_hardtanh_backward, [grad_x], [grad, x], float(min_val), float(max_val))


@runs_map(_hardsigmoid)
def hardsigmoid(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_hardsigmoid, [out], [x])


def hardsigmoid_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_hardsigmoid_backward, [grad_x], [grad, x])


@runs_map(_hardswish)
def hardswish(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_hardswish, [out], [x])


def hardswish_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_hardswish_backward, [grad_x], [grad, x])


@runs_map(_mish)
def mish(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_mish, [out], [x])


def mish_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_mish_backward, [grad_x], [grad, x])


@runs_map(_logsigmoid)
def logsigmoid(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_logsigmoid, [out], [x])


def logsigmoid_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_logsigmoid_backward, [grad_x], [grad, x])


# ================================================================ NumPy references
def _softplus_np(z):
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _relu6_np(t):
    return np.minimum(np.maximum(t, 0), 6)  # np.maximum/minimum propagate NaN


def _gelu_tanh_2u(a):
    return 2 * GELU_TANH_BETA * (a + GELU_TANH_KAPPA * (a * a * a))


# Exact GELU's cdf, Phi(x) = erfc(-x / sqrt 2) / 2, in fp32 without SciPy's erf (an fp64 call per element, ~4x the
# time of the whole GELU below): erfc's Chebyshev fit t exp(-z^2 + P(t)), t = 1 / (1 + z / 2) (Numerical Recipes'
# erfcc, fractional error < 1.2e-7 for every z >= 0), on |x| and reflected, so the tail keeps its relative
# accuracy. Run on blocks of _BLOCK elements: the dozen in-place passes of one block stay in the L2 cache.
_ERFC_P = [np.float32(c) for c in (-1.26551223 - math.log(2), 1.00002368, 0.37409196, 0.09678418, -0.18628806,
                                   0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277)]
_BLOCK = 1 << 16
_F32 = {name: np.float32(v) for name, v in
        (("sqrt_half", math.sqrt(0.5)), ("half", 0.5), ("one", 1.0), ("inv_sqrt_2pi", 1 / math.sqrt(2 * math.pi)))}


def _cdf_block(x, cdf, pdf=None):
    """cdf[:] = Phi(x) (and pdf[:] = exp(-x^2 / 2) / sqrt(2 pi)) for one fp32 block (cdf is scratch meanwhile)."""
    t = np.abs(x)  # z = |x| / sqrt 2;  t = 1 / (1 + z / 2)
    t *= _F32["sqrt_half"] * _F32["half"]
    t += _F32["one"]
    np.reciprocal(t, out=t)
    p = t * _ERFC_P[9]
    for c in _ERFC_P[8:0:-1]:
        p += c
        p *= t
    p += _ERFC_P[0]
    z2 = np.multiply(x, x, out=cdf)  # z^2 = x^2 / 2, one rounding; inf past ~1.8e19: exp gives the limits 0, 1
    z2 *= _F32["half"]
    p -= z2
    if pdf is not None:
        np.negative(z2, out=pdf)
        np.exp(pdf, out=pdf)
        pdf *= _F32["inv_sqrt_2pi"]
    np.exp(p, out=p)
    p *= t  # Phi(-|x|)
    np.subtract(_F32["one"], p, out=cdf)
    np.copyto(cdf, p, where=x < 0)  # NaN compares false and stays NaN through 1 - p


def _gelu_cdf(a: np.ndarray, derivative: bool = False):
    """Phi(a) (derivative: Phi(a) + a pdf(a)) in a's dtype by SciPy's erf (the fp64 path)."""
    cdf = 0.5 * (1 + np_erf(a * math.sqrt(0.5)))
    return cdf + a * (np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)) if derivative else cdf


def _gelu_f32(a: np.ndarray, want_y: bool, want_d: bool, g: np.ndarray | None = None) -> tuple:
    """(y = a Phi(a), d = Phi(a) + a pdf(a), times g when given: the backward), each None unless wanted, by the fp32
    fit, block by block, the elements split over host_threads."""
    a = np.asarray(a, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
    y, d = (np.empty_like(a) if want else None for want in (want_y, want_d))
    flat, fy, fd, fg = (None if t is None else t.reshape(-1) for t in (a, y, d, g))

    def part(lo: int, hi: int) -> None:
        scratch = np.empty(min(_BLOCK, hi - lo), np.float32) if fy is None else None
        for i in range(lo, hi, _BLOCK):
            j = min(i + _BLOCK, hi)
            xb, cb, db = flat[i:j], scratch[:j - i] if fy is None else fy[i:j], None if fd is None else fd[i:j]
            _cdf_block(xb, cb, db)
            if db is not None:  # (a pdf) + cdf, then times g
                np.add(np.multiply(db, xb, out=db), cb, out=db)
                if fg is not None:
                    db *= fg[i:j]
            if fy is not None:
                cb *= xb

    with np.errstate(over="ignore", invalid="ignore"):
        host_threads.for_elements(part, flat.size)
    return y, d


def gelu_ref(x, approximate: str = "none"):
    _gelu_fns(approximate)
    if approximate == "tanh":
        return _threaded(lambda a: a * np_sigmoid(_gelu_tanh_2u(a))[0], x)
    return forward_ref(lambda a: a * _gelu_cdf(a) if a.dtype != np.float32 else _gelu_f32(a, True, False)[0], x)


def gelu_derivative_ref(x, approximate: str = "none"):
    """(gelu_ref(x), d/dx = Phi + x pdf from the same passes (fp32 exact form, else None)) for gelu_backward_ref."""
    if approximate != "none" or _opmath(np.asarray(x)).dtype != np.float32:  # (gelu_ref checks approximate)
        return gelu_ref(x, approximate), None
    y, d = _gelu_f32(_opmath(np.asarray(x)), True, True)
    return y.astype(x.dtype, copy=False), d


def gelu_backward_ref(grad, x, approximate: str = "none", derivative: np.ndarray | None = None):
    _gelu_fns(approximate)
    if derivative is not None and np.shape(grad) == derivative.shape:  # kept: becomes the gradient (pass it once)
        fg, fd = _opmath(np.asarray(grad, order="C")).reshape(-1), derivative.reshape(-1)
        with np.errstate(all="ignore"):
            host_threads.for_elements(lambda lo, hi: np.multiply(fd[lo:hi], fg[lo:hi], out=fd[lo:hi]), fd.size)
        return (derivative.astype(np.asarray(grad).dtype, copy=False),)

    def tanh_form(g, a):
        s, one_minus_s = np_sigmoid(_gelu_tanh_2u(a))
        return g * (s + a * (2 * s * one_minus_s) * (GELU_TANH_BETA * (1 + 3 * GELU_TANH_KAPPA * a * a)))

    def erf_form(g, a):
        if a.dtype != np.float32:
            return g * _gelu_cdf(a, derivative=True)
        same = np.shape(g) == a.shape
        d = _gelu_f32(a, False, True, np.asarray(g, order="C") if same else None)[1]
        return d if same else g * d

    return _threaded(tanh_form, grad, x) if approximate == "tanh" else backward_ref(erf_form, grad, x)


def softplus_ref(x, beta: float = 1.0, threshold: float = 20.0):
    return forward_ref(lambda a: np.where(a * beta > threshold, a, _softplus_np(a * beta) / beta), x)


def softplus_backward_ref(grad, x, beta: float = 1.0, threshold: float = 20.0):
    return backward_ref(lambda g, a: np.where(a * beta > threshold, g, g * np_sigmoid(a * beta)[0]), grad, x)


def elu_ref(x, alpha: float = 1.0):
    return forward_ref(lambda a: np.where(a > 0, a, alpha * np.expm1(a)), x)


def elu_backward_ref(grad, x, alpha: float = 1.0):
    return backward_ref(lambda g, a: np.where(a <= 0, g * (alpha * np.exp(a)), g), grad, x)


def selu_ref(x):
    return forward_ref(lambda a: np.where(a > 0, SELU_SCALE * a, SELU_SCALE * SELU_ALPHA * np.expm1(a)), x)


def selu_backward_ref(grad, x):
    return backward_ref(
        lambda g, a: np.where(a <= 0, g * (SELU_SCALE * SELU_ALPHA * np.exp(a)), g * SELU_SCALE), grad, x)


def leaky_relu_ref(x, negative_slope: float = 0.01):
    return forward_ref(lambda a: np.where(a > 0, a, a * negative_slope), x)


def leaky_relu_backward_ref(grad, x, negative_slope: float = 0.01):
    return backward_ref(lambda g, a: np.where(a > 0, g, g * negative_slope), grad, x)


def hardtanh_ref(x, min_val: float = -1.0, max_val: float = 1.0):
    def fn(a):
        y = np.where(a < min_val, min_val, a)
        return np.where(y > max_val, max_val, y)
    return forward_ref(fn, x)


def hardtanh_backward_ref(grad, x, min_val: float = -1.0, max_val: float = 1.0):
    return backward_ref(lambda g, a: np.where((a <= min_val) | (a >= max_val), 0, g), grad, x)


def hardsigmoid_ref(x):
    return forward_ref(lambda a: _relu6_np(a + 3) / 6, x)


def hardsigmoid_backward_ref(grad, x):
    return backward_ref(lambda g, a: np.where((a > -3) & (a < 3), g * (1 / 6), 0), grad, x)


def hardswish_ref(x):
    return forward_ref(lambda a: a * _relu6_np(a + 3) / 6, x)


def hardswish_backward_ref(grad, x):
    return backward_ref(lambda g, a: np.where(a <= -3, 0, np.where(a < 3, g * (a / 3 + 0.5), g)), grad, x)


def mish_ref(x):
    return forward_ref(lambda a: a * np.tanh(_softplus_np(a)), x)


def mish_backward_ref(grad, x):
    def fn(g, a):
        t = np.tanh(_softplus_np(a))
        return g * (t + a * np_sigmoid(a)[0] * (1 - t * t))
    return backward_ref(fn, grad, x)


def logsigmoid_ref(x):
    return forward_ref(lambda a: np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a))), x)


def logsigmoid_backward_ref(grad, x):
    return backward_ref(lambda g, a: g * np_sigmoid(a)[1], grad, x)


# ================================================================ registry
_PARAMS = {
    "gelu": {"approximate": "none"}, "softplus": {"beta": 1.0, "threshold": 20.0}, "elu": {"alpha": 1.0},
    "leaky_relu": {"negative_slope": 0.01}, "hardtanh": {"min_val": -1.0, "max_val": 1.0},
}
_NAMES = ["relu", "gelu", "silu", "softplus", "elu", "selu", "leaky_relu", "hardtanh", "hardsigmoid",
          "hardswish", "mish", "logsigmoid"]

OPS: dict[str, UnaryOp] = {
    name: UnaryOp(globals()[name], globals()[f"{name}_backward"], globals()[f"{name}_ref"],
                  globals()[f"{name}_backward_ref"], "output" if name == "relu" else "input",
                  keeps_int=name == "relu", params=_PARAMS.get(name, {}))
    for name in _NAMES
}

# name -> (forward, backward) Triton math; gelu's tanh form is listed as "gelu_tanh".
MATH = {name: (globals()[f"_{name}"], globals()[f"_{name}_backward"]) for name in _NAMES + ["gelu_tanh"]}

SPECS = build_specs("activations", MATH, ["relu"], ["elu", "leaky_relu"])
FULL_SPECS = build_specs("activations", MATH, ["relu"], ["elu", "leaky_relu"], full=True)
