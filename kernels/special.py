"""Special functions, forward and backward, on the elementwise map kernel: sigmoid (expit) and erf.

Every op is a pair of `@triton.jit` scalar-math functions run by `elementwise.launch_map`: the
forward `_<op>(x, p0, p1) -> y` and the backward `_<op>_backward(grad, saved, p0, p1) -> grad_x`,
where `saved` is the op's input x or its output y, whichever makes the gradient cheaper (see
`unary.UnaryOp.saves`). Beside them sit the launch wrappers `<op>(out, x)` /
`<op>_backward(grad_x, grad, saved)` and the NumPy references `<op>_ref(x)` /
`<op>_backward_ref(grad, saved) -> (grad_x,)`. `OPS` maps each op name to a `unary.UnaryOp`.

Dtypes: fp16/bf16/fp32/fp64 (16-bit floats computed in fp32); the Tensor layer casts integers to the
default float dtype first. sigmoid is computed from exp(-|x|) (no overflow, no 1 - s cancellation);
`_sigmoid_pair`, `np_sigmoid` and `np_erf` also serve activations.
"""

from __future__ import annotations

import math

import numpy as np
import triton
import triton.language as tl
from scipy import special as scipy_special

from .device_array import DeviceArray
from .elementwise import launch_map
from .unary import UnaryOp, backward_ref, build_specs, family_math, family_ops, forward_ref


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


# ================================================================ NumPy references
def np_erf(a: np.ndarray) -> np.ndarray:
    """erf for fp32/fp64 arrays (NumPy has none): SciPy's vectorised erf in float64, rounded to a's dtype (exact
    GELU's cpu path runs this on every activation, so a per-element Python call would dominate a training step)."""
    return scipy_special.erf(np.asarray(a, np.float64)).astype(a.dtype, copy=False)


def np_sigmoid(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sigmoid(a), sigmoid(-a)) in a's dtype, from exp(-|a|) so nothing overflows."""
    e = np.exp(-np.abs(a))
    r = 1 / (1 + e)
    return np.where(a >= 0, r, e * r), np.where(a >= 0, e * r, r)


def sigmoid_ref(x):
    return forward_ref(lambda a: np_sigmoid(a)[0], x)


def sigmoid_backward_ref(grad, out):
    return backward_ref(lambda g, y: g * (y * (1 - y)), grad, out)


def erf_ref(x):
    return forward_ref(np_erf, x)


def erf_backward_ref(grad, x):
    return backward_ref(lambda g, a: g * (2 / math.sqrt(math.pi) * np.exp(-(a * a))), grad, x)


# ================================================================ registry
# name -> (saves, keeps_int); wrappers and references are found by name in this module.
_TABLE = {"sigmoid": ("output", False), "erf": ("input", False)}

OPS: dict[str, UnaryOp] = family_ops(globals(), _TABLE)
# The Triton math of each op, for SPECS (and for callers fusing them elsewhere): name -> (fwd, bwd).
MATH = family_math(globals(), _TABLE)
_FP64_BRANCHES = []  # dtype-dependent Triton math
SPECS = build_specs("special", MATH, [], _FP64_BRANCHES)
FULL_SPECS = build_specs("special", MATH, [], _FP64_BRANCHES, full=True)  # every op x every dtype
