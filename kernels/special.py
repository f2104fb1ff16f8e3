"""Special functions, forward and backward, on the elementwise map kernel: sigmoid (expit), erf, sinc,
entr; logit(x, eps) and the binary xlogy, xlog1py (forward kernels; their backward is tensor ops).

Every op is a pair of `@triton.jit` scalar-math functions run by `elementwise.launch_map`: the
forward `_<op>(x, p0, p1) -> y` and the backward `_<op>_backward(grad, saved, p0, p1) -> grad_x`,
where `saved` is the op's input x or its output y, whichever makes the gradient cheaper (see
`unary.UnaryOp.saves`). Beside them sit the launch wrappers `<op>(out, x)` /
`<op>_backward(grad_x, grad, saved)` and the NumPy references `<op>_ref(x)` /
`<op>_backward_ref(grad, saved) -> (grad_x,)`. `OPS` maps each op name to a `unary.UnaryOp`.

Dtypes: fp16/bf16/fp32/fp64 (16-bit floats computed in fp32); the Tensor layer casts integers to the
default float dtype first. sigmoid is computed from exp(-|x|) (no overflow, no 1 - s cancellation);
`_sigmoid_pair`, `np_sigmoid` and `np_erf` also serve activations. sin(pi x) is taken after reducing x
mod 2 (kernels/special_gamma.py's `_sinpi`), so sinc vanishes exactly at the integers.
"""

from __future__ import annotations

import math

import numpy as np
import triton
import triton.language as tl
from scipy import special as scipy_special

from .device_array import DeviceArray
from .elementwise import MAP_SHIPPED, MAP_SPACE, _map_signature, launch_map, map_kernel
from .exponential import _log1p_math
from .launch_spec import KernelSpec
from .special_gamma import _cospi, _sinpi
from .unary import UnaryOp, backward_ref, build_specs, family_math, family_ops, forward_ref, host_fn


# ================================================================ Triton math shared with activations
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


# ================================================================ forward / backward math per op
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
def _sinc(x, p0, p1):
    xs = tl.where(x == 0.0, 1.0, x)
    y = _sinpi(xs) / (3.141592653589793 * xs)
    y = tl.where(tl.abs(x) == float("inf"), 0.0, y)
    return tl.where(x == 0.0, 1.0, y)


@triton.jit
def _sinc_backward(grad, x, p0, p1):
    # (pi x cos(pi x) - sin(pi x)) / (pi x^2), 0 at x = 0 (PyTorch's formula)
    xs = tl.where(x == 0.0, 1.0, x)
    px = 3.141592653589793 * xs
    d = (px * _cospi(xs) - _sinpi(xs)) / (px * xs)
    return tl.where(x == 0.0, 0.0, grad * d)


@triton.jit
def _entr(x, p0, p1):
    # -x log x; 0 at 0, -inf below 0, NaN stays NaN.
    pos = x > 0.0
    y = -x * tl.log(tl.where(pos, x, 1.0))
    y = tl.where(x == 0.0, 0.0, tl.where(x < 0.0, -float("inf"), y))
    return tl.where(x != x, x, y)


@triton.jit
def _entr_backward(grad, x, p0, p1):
    return grad * -(1.0 + tl.log(x))


@triton.jit
def _logit(x, eps, p0, p1):
    # eps < 0 means None: no clamping (PyTorch then gives NaN outside [0, 1] and +-inf at 1 and 0).
    z = tl.where(eps >= 0.0, tl.minimum(tl.maximum(x, eps), 1.0 - eps), x)
    z = tl.where(x != x, x, z)
    return tl.log(z / (1.0 - z))


@triton.jit
def _logit_backward(grad, x, eps, p0, p1):
    # grad / (x (1 - x)), and 0 outside [eps, 1 - eps] when eps is given.
    d = grad / (x * (1.0 - x))
    outside = (eps >= 0.0) & ((x < eps) | (x > 1.0 - eps))
    return tl.where(outside, 0.0, d)


@triton.jit
def _xlogy(x, y, p0, p1):
    # x log y, 0 where x == 0 unless y is NaN.
    r = x * tl.log(tl.where(x == 0.0, 1.0, y))
    return tl.where(y != y, y, tl.where(x == 0.0, 0.0, r))


@triton.jit
def _xlog1py(x, y, p0, p1):
    r = x * _log1p_math(tl.where(x == 0.0, 0.0, y))
    return tl.where(y != y, y, tl.where(x == 0.0, 0.0, r))


# ================================================================ launch wrappers
# Forward: out = op(x), x already cast to the op's dtype and viewed to out's shape (any strides).
# Backward: grad_x = grad * op'(.), from the saved input x or the saved output `out` as named.
def sigmoid(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_sigmoid, [out], [x])


def sigmoid_backward(grad_x: DeviceArray, grad: DeviceArray, out: DeviceArray) -> None:
    launch_map(_sigmoid_backward, [grad_x], [grad, out])


def erf(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_erf, [out], [x])


def erf_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_erf_backward, [grad_x], [grad, x])


def sinc(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_sinc, [out], [x])


def sinc_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_sinc_backward, [grad_x], [grad, x])


def entr(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_entr, [out], [x])


def entr_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_entr_backward, [grad_x], [grad, x])


def logit(out: DeviceArray, x: DeviceArray, eps: DeviceArray) -> None:
    """out = logit(x) with x clamped to [eps, 1 - eps] where eps >= 0 (eps broadcast, in x's dtype)."""
    launch_map(_logit, [out], [x, eps])


def logit_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, eps: DeviceArray) -> None:
    launch_map(_logit_backward, [grad_x], [grad, x, eps])


def xlogy(out: DeviceArray, x: DeviceArray, y: DeviceArray) -> None:
    launch_map(_xlogy, [out], [x, y])


def xlog1py(out: DeviceArray, x: DeviceArray, y: DeviceArray) -> None:
    launch_map(_xlog1py, [out], [x, y])


# ================================================================ NumPy references
def np_erf(a: np.ndarray) -> np.ndarray:
    """erf for fp32/fp64 arrays (NumPy has none): SciPy's vectorised erf in float64, rounded to a's dtype (exact
    GELU's cpu path runs this on every activation, so a per-element Python call would dominate a training step)."""
    return scipy_special.erf(np.asarray(a, np.float64)).astype(a.dtype, copy=False)


def _sigmoid_parts(a: np.ndarray, e: np.ndarray | None = None, r: np.ndarray | None = None) -> tuple:
    """(e, r) = (exp(-|a|), 1 / (1 + e)), each in a fresh buffer of a's shape and float dtype, or in the given ones
    (a block's scratch: silu's references)."""
    e = np.abs(a, out=np.empty_like(a) if e is None else e)
    np.negative(e, out=e)  # (np.copysign(a, -1) is one pass but has no SIMD loop: 2x abs and negative)
    np.exp(e, out=e)
    r = np.add(e, 1, out=np.empty_like(e) if r is None else r)
    return e, np.divide(1, r, out=r)


def _other_side(e: np.ndarray, r: np.ndarray, s: np.ndarray) -> np.ndarray:
    """sigmoid(-a) from _sigmoid_parts' e, r and s = sigmoid(a), in r's buffer (e's overwritten). Per element
    {s, sigmoid(-a)} is {r, e r} bit for bit, so sigmoid(-a) = r ^ (e r) ^ s in the bits: three passes in e and r's
    buffers instead of a side's four in a fourth buffer (a fourth MiB freed per call is what makes glibc hand the
    heap's top back to the kernel, and each call then page-faults it in again)."""
    u = f"u{s.dtype.itemsize}"
    q = np.multiply(e, r, out=e).view(u)
    t = np.bitwise_xor(r.view(u), q, out=r.view(u))
    return np.bitwise_xor(t, s.view(u), out=t).view(s.dtype)


def _sigmoid_side(a: np.ndarray, e: np.ndarray, r: np.ndarray, sign: float,
                  out: np.ndarray | None = None) -> np.ndarray:
    """where(sign a >= 0, r, e r) (sign = 1: sigmoid(a); -1: sigmoid(-a)) as max(e, f) r, f = min(sign a K, 1),
    without np.where (a branch per element on a random mask: ~10x a ufunc pass). f is 1 where sign a >= 1 / K
    (r * 1 = r exactly), negative where sign a < 0 (max gives e: e r), and where 0 <= sign a < 1 / K, e = exp(-|a|)
    is exactly 1 (K = 2^15 for fp16, far beyond half an ulp below 1) so max(e, f) = 1 too. A NaN stays the NaN of
    e * r, operands in that order (x86 keeps the first NaN): the same bits as the select, NaN payloads included.
    (np.sign would make f in one pass, but has no SIMD loop: 3x these two.)"""
    f = np.multiply(a, sign * _SIDE_SCALE[a.dtype.itemsize], out=np.empty_like(r) if out is None else out)
    np.clip(f, -np.inf, 1, out=f)
    np.maximum(e, f, out=f)
    return np.multiply(f, r, out=f)


_SIDE_SCALE = {2: 2.0 ** 15, 4: 2.0 ** 40, 8: 2.0 ** 80}  # by itemsize: fp16, fp32, fp64
# Up to this many elements the select itself (np.where's branches, and ints' float64, bfloat16) costs less than the
# extra NumPy calls of the passes above (the same bits).
_SMALL = 256


def np_sigmoid(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sigmoid(a), sigmoid(-a)) in a's dtype, from e = exp(-|a|) <= 1 so nothing overflows: where(a >= 0, r, e r)
    and where(a >= 0, e r, r), r = 1 / (1 + e). Run it with NumPy's FP warnings off (NaN inputs)."""
    if a.dtype.kind != "f" or a.dtype.itemsize not in _SIDE_SCALE or a.size <= _SMALL:  # ints, bfloat16, small
        e = np.exp(-np.abs(a))
        r = 1 / (1 + e)
        return np.where(a >= 0, r, e * r), np.where(a >= 0, e * r, r)
    e, r = _sigmoid_parts(a)
    s = _sigmoid_side(a, e, r, 1.0)
    return s, _other_side(e, r, s)


def np_sigmoid_one(a: np.ndarray) -> np.ndarray:
    """sigmoid(a) alone: the bits of np_sigmoid(a)[0] without the other side's passes."""
    if a.dtype.kind != "f" or a.dtype.itemsize not in _SIDE_SCALE or a.size <= _SMALL:
        e = np.exp(-np.abs(a))  # np_sigmoid's select, its first side alone
        r = 1 / (1 + e)
        return np.where(a >= 0, r, e * r)
    e, r = _sigmoid_parts(a)
    return _sigmoid_side(a, e, r, 1.0)


@host_fn(np_sigmoid_one)
def sigmoid_ref(x):
    return forward_ref(np_sigmoid_one, x)


def sigmoid_backward_ref(grad, out):
    def d(g, y):
        t = np.subtract(1, y, out=np.empty_like(y))
        np.multiply(y, t, out=t)  # y (1 - y), then g times it, the old operand order (NaN payloads)
        return np.multiply(g, t, out=t) if g.shape == t.shape and g.dtype == t.dtype else g * t
    return backward_ref(d, grad, out)


@host_fn(np_erf)
def erf_ref(x):
    return forward_ref(np_erf, x)


def erf_backward_ref(grad, x):
    return backward_ref(lambda g, a: g * (2 / math.sqrt(math.pi) * np.exp(-(a * a))), grad, x)


@host_fn(np.sinc)
def sinc_ref(x):
    return forward_ref(np.sinc, x)


def sinc_backward_ref(grad, x):
    def d(g, a):
        px = np.pi * a
        return np.where(a == 0, 0, g * (px * np.cos(px) - np.sin(px)) / (px * a))
    return backward_ref(d, grad, x)


@host_fn(scipy_special.entr)
def entr_ref(x):
    return forward_ref(scipy_special.entr, x)


def entr_backward_ref(grad, x):
    return backward_ref(lambda g, a: g * -(1 + np.log(a)), grad, x)


def logit_ref(x, eps):
    def f(a):
        e = np.asarray(eps, a.dtype)
        z = np.where(e >= 0, np.clip(a, e, 1 - e), a)
        return np.log(z / (1 - z))
    return forward_ref(f, x)


def logit_backward_ref(grad, x, eps):
    def d(g, a):
        e = np.asarray(eps, a.dtype)
        return np.where((e >= 0) & ((a < e) | (a > 1 - e)), 0, g / (a * (1 - a)))
    return backward_ref(d, grad, x)


def xlogy_ref(x, y):
    return forward_ref(lambda a: scipy_special.xlogy(a, np.asarray(y, a.dtype)), x)


def xlog1py_ref(x, y):
    return forward_ref(lambda a: scipy_special.xlog1py(a, np.asarray(y, a.dtype)), x)


# ================================================================ registry
# name -> (saves, keeps_int); wrappers and references are found by name in this module.
_TABLE = {"sigmoid": ("output", False), "erf": ("input", False)}
_SPECIAL_TABLE = {"sinc": ("input", False), "entr": ("input", False)}

OPS: dict[str, UnaryOp] = family_ops(globals(), _TABLE)
# torch.special's own unary ops (tt.sinc, tt.special.entr), kept apart from OPS, which the unary test suites sweep.
SPECIAL_OPS: dict[str, UnaryOp] = family_ops(globals(), _SPECIAL_TABLE)
# The Triton math of each op, for SPECS (and for callers fusing them elsewhere): name -> (fwd, bwd).
MATH = family_math(globals(), {**_TABLE, **_SPECIAL_TABLE})
_FP64_BRANCHES = []  # dtype-dependent Triton math
_BINARY = [("logit", _logit, 2), ("logit_backward", _logit_backward, 3), ("xlogy", _xlogy, 2),
           ("xlog1py", _xlog1py, 2)]


def _binary_specs(dtypes) -> list[KernelSpec]:
    return [KernelSpec(f"special.{name}[{dtype}]", map_kernel, _map_signature(dtype, n_in, 1),
                       dict(OP=fn, N_IN=n_in, N_OUT=1), MAP_SHIPPED, MAP_SPACE)
            for name, fn, n_in in _BINARY for dtype in dtypes]


SPECS = build_specs("special", MATH, [], _FP64_BRANCHES) + _binary_specs(("fp32",))
FULL_SPECS = build_specs("special", MATH, [], _FP64_BRANCHES, full=True) + _binary_specs(
    ("fp16", "bf16", "fp32", "fp64"))  # every op x every dtype
