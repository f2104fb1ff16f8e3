"""Exponentials and logarithms, forward and backward, on the elementwise map kernel: exp, exp2,
expm1, log, log2, log10, log1p.

Every op is a pair of `@triton.jit` scalar-math functions run by `elementwise.launch_map`: the
forward `_<op>(x, p0, p1) -> y` and the backward `_<op>_backward(grad, saved, p0, p1) -> grad_x`,
where `saved` is the op's input x or its output y, whichever makes the gradient cheaper (see
`unary.UnaryOp.saves`). Beside them sit the launch wrappers `<op>(out, x)` /
`<op>_backward(grad_x, grad, saved)` and the NumPy references `<op>_ref(x)` /
`<op>_backward_ref(grad, saved) -> (grad_x,)`. `OPS` maps each op name to a `unary.UnaryOp`.

Dtypes: fp16/bf16/fp32/fp64 (16-bit floats computed in fp32); the Tensor layer casts integers to the
default float dtype first. expm1 and log1p are built from tl.exp/tl.log in Kahan's forms (accurate
near 0 in fp32 and fp64); `_expm1_math` and `_log1p_math` also serve trigonometric (sinh, tanh) and
activations. On NVIDIA GPUs fp32 tl.exp/exp2 lower to hardware approximations (a few ulp).
"""

from __future__ import annotations

import math

import numpy as np
import triton
import triton.language as tl

from .device_array import DeviceArray
from .elementwise import launch_map
from .unary import UnaryOp, backward_ref, build_specs, family_math, family_ops, forward_ref, host_fn


# ================================================================ Triton math shared with other families
@triton.jit
def _expm1_math(x):
    """exp(x) - 1 without cancellation near 0 (Kahan): (u - 1) * x / log(u) with u = exp(x).

    The ratio cancels the rounding error of u itself, so only log's accuracy matters (an approximate
    exp, as fp32 tl.exp is on GPUs, does no harm).
    """
    u = tl.exp(x)
    um1 = u - 1.0
    # Settled lanes (exp rounded to 1, underflowed to 0: -1, overflowed: inf) take log(e) = 1, not log(1) = 0,
    # log(0) or log(inf) (then inf * 0): the ratio is discarded there.
    settled = (um1 == 0) | (um1 == -1.0) | (um1 == float("inf"))
    r = um1 * (x / tl.log(tl.where(settled, 2.718281828459045, u)))  # x / log(u) first: um1 * x may overflow
    return tl.where(um1 == 0, x, tl.where(settled, um1, r))


@triton.jit
def _log1p_math(x):
    """log(1 + x) without cancellation near 0 (Kahan): log(u) * x / (u - 1) with u = 1 + x."""
    u = 1.0 + x
    d = u - 1.0
    r = tl.log(u) * (x / tl.where(d == 0, 1.0, d))  # x / d is the rounding correction, close to 1
    r = tl.where(d == 0, x, r)
    return tl.where(u == float("inf"), u, r)


# ================================================================ forward / backward math per op
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


# ================================================================ launch wrappers
# Forward: out = op(x), x already cast to the op's dtype and viewed to out's shape (any strides).
# Backward: grad_x = grad * op'(.), from the saved input x or the saved output `out` as named.
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


# ================================================================ NumPy references
@host_fn(np.exp)
def exp_ref(x):
    return forward_ref(np.exp, x)


def exp_backward_ref(grad, out):
    return backward_ref(lambda g, y: g * y, grad, out)


@host_fn(np.exp2)
def exp2_ref(x):
    return forward_ref(np.exp2, x)


def exp2_backward_ref(grad, out):
    return backward_ref(lambda g, y: g * y * math.log(2.0), grad, out)


@host_fn(np.expm1)
def expm1_ref(x):
    return forward_ref(np.expm1, x)


def expm1_backward_ref(grad, out):
    return backward_ref(lambda g, y: g * (y + 1), grad, out)


@host_fn(np.log)
def log_ref(x):
    return forward_ref(np.log, x)


def log_backward_ref(grad, x):
    return backward_ref(lambda g, a: g / a, grad, x)


@host_fn(np.log2)
def log2_ref(x):
    return forward_ref(np.log2, x)


def log2_backward_ref(grad, x):
    return backward_ref(lambda g, a: g / (a * math.log(2.0)), grad, x)


@host_fn(np.log10)
def log10_ref(x):
    return forward_ref(np.log10, x)


def log10_backward_ref(grad, x):
    return backward_ref(lambda g, a: g / (a * math.log(10.0)), grad, x)


@host_fn(np.log1p)
def log1p_ref(x):
    return forward_ref(np.log1p, x)


def log1p_backward_ref(grad, x):
    return backward_ref(lambda g, a: g / (a + 1), grad, x)


# ================================================================ registry
# name -> (saves, keeps_int); wrappers and references are found by name in this module.
_TABLE = {
    "exp": ("output", False), "exp2": ("output", False), "expm1": ("output", False), "log": ("input", False),
    "log2": ("input", False), "log10": ("input", False), "log1p": ("input", False),
}

OPS: dict[str, UnaryOp] = family_ops(globals(), _TABLE)
# The Triton math of each op, for SPECS (and for callers fusing them elsewhere): name -> (fwd, bwd).
MATH = family_math(globals(), _TABLE)
_FP64_BRANCHES = []  # dtype-dependent Triton math
SPECS = build_specs("exponential", MATH, [], _FP64_BRANCHES)
FULL_SPECS = build_specs("exponential", MATH, [], _FP64_BRANCHES, full=True)  # every op x every dtype
