"""Powers, forward and backward, on the elementwise map kernel: pow (tensor ** tensor), pow_scalar
(tensor ** number) and rpow (number ** tensor).

Same conventions as kernels/binary.py (read its docstring): inputs broadcast-viewed and cast to the
compute dtype, 16-bit floats computed in fp32, a scalar exponent or base passed as a Python number
(`map_ops.encode_scalar`), backward wrappers taking None for a gradient not needed. Floats use C's
pow with its special cases; integers pow by squaring, wrapping like PyTorch.

`OPS` maps "pow", "pow_scalar" and "rpow" to their `map_ops.BinaryOp`.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from .device_array import DeviceArray
from .elementwise import launch_map
from .ieee_math import div_ieee, sqrt_ieee
from .map_ops import BinaryOp, encode_scalar, launch_grads, map_spec, opmath, result_dtype, scalar_param, signbit
from .quiet_numpy import quiet_call


# ================================================================ Triton math of the powers
@triton.jit
def _pow_float(a, b):
    """C pow for fp32/fp64: |a|**b = exp2(b * log2|a|) in fp64 (fp32 results come out correctly
    rounded; fp64 keeps ~|b log2 a| ulp), then the sign of odd integer powers and C99's special cases."""
    a64 = a.to(tl.float64)
    b64 = b.to(tl.float64)
    mag = tl.exp2(b64 * tl.log2(tl.abs(a64)))
    is_int = tl.floor(b64) == b64  # true for +-inf too: they are even
    odd = is_int & (tl.floor(b64 * 0.5) != b64 * 0.5)
    r = tl.where(signbit(a64) & odd, -mag, mag)
    r = tl.where((a64 < 0) & (a64 > float("-inf")) & ~is_int, float("nan"), r)
    one = tl.zeros_like(r) + 1.0
    r = tl.where((tl.abs(a64) == 1) & (tl.abs(b64) == float("inf")), one, r)
    r = tl.where((b64 == 0) | (a64 == 1), one, r)
    return r.to(a.dtype)


@triton.jit
def _pow_int(a, b):
    """Integer pow by squaring (wrapping like PyTorch); negative exponents give 1, +-1 or 0 as PyTorch."""
    e = tl.where(b < 0, 0, b)
    result = tl.full(a.shape, 1, a.dtype)
    base = a
    while tl.max(e, axis=None) > 0:
        result = tl.where((e & 1) != 0, result * base, result)
        base = base * base
        e = e >> 1
    if a.dtype.is_int_unsigned():
        return result
    else:
        neg_one_power = tl.where((b & 1) != 0, -1, 1).to(a.dtype)
        negative = tl.where(a == 1, 1, tl.where(a == -1, neg_one_power, 0)).to(a.dtype)
        return tl.where(b < 0, negative, result)


@triton.jit
def _pow_any(a, b):
    if a.dtype.is_floating():
        return _pow_float(a, b)
    else:
        return _pow_int(a, b)


# ================================================================ NumPy helpers for the references
def _pow_np(a, b):
    a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
    if np.issubdtype(a.dtype, np.floating):
        with np.errstate(all="ignore"):
            return np.power(a, b)
    with np.errstate(all="ignore"):
        r = np.power(a, np.where(b < 0, 0, b).astype(b.dtype))
    neg = np.where(a == 1, 1, np.where(a == -1, np.where(b % 2 != 0, -1, 1), 0))
    return np.where(b < 0, neg, r).astype(a.dtype)


# ================================================================ pow, pow_scalar, rpow
@triton.jit
def _pow(a, b, p0, p1):
    return _pow_any(a, b)


@triton.jit
def _pow_scalar(x, exponent, p1):
    return _pow_any(x, tl.zeros_like(x) + scalar_param(exponent, x))


@triton.jit
def _square(x, p0, p1):
    return x * x


@triton.jit
def _cube(x, p0, p1):
    return x * x * x


@triton.jit
def _reciprocal(x, p0, p1):
    return div_ieee(tl.zeros_like(x) + 1.0, x)


@triton.jit
def _reciprocal_square(x, p0, p1):
    return div_ieee(tl.zeros_like(x) + 1.0, x * x)


@triton.jit
def _sqrt(x, p0, p1):
    return sqrt_ieee(x)


@triton.jit
def _rsqrt(x, p0, p1):
    return div_ieee(tl.zeros_like(x) + 1.0, sqrt_ieee(x))


@triton.jit
def _rpow(x, base, p1):
    return _pow_any(tl.zeros_like(x) + scalar_param(base, x), x)


@triton.jit
def _pow_grad_base_math(grad, a, b):
    # PyTorch: where(b == 0, 0, grad * b * a ** (b - 1)): the base gradient at a == 0 is 0 for b > 1,
    # grad for b == 1, inf for 0 < b < 1.
    return tl.where(b == 0, 0.0, grad * (b * _pow_float(a, b - 1)))


@triton.jit
def _pow_grad_exp_math(grad, a, b):
    # PyTorch: grad * where((a == 0) & (b >= 0), 0, a ** b * log(a)).
    return grad * tl.where((a == 0) & (b >= 0), 0.0, _pow_float(a, b) * tl.log(a))


@triton.jit
def _pow_backward(grad, a, b, p0, p1):
    return _pow_grad_base_math(grad, a, b), _pow_grad_exp_math(grad, a, b)


@triton.jit
def _pow_grad_a(grad, a, b, p0, p1):
    return _pow_grad_base_math(grad, a, b)


@triton.jit
def _pow_grad_b(grad, a, b, p0, p1):
    return _pow_grad_exp_math(grad, a, b)


@triton.jit
def _pow_scalar_backward(grad, x, exponent, p1):
    return _pow_grad_base_math(grad, x, tl.zeros_like(x) + scalar_param(exponent, x))


@triton.jit
def _rpow_backward(grad, x, base, p1):
    return _pow_grad_exp_math(grad, tl.zeros_like(x) + scalar_param(base, x), x)


# Exponents PyTorch computes without pow (and so exactly, or correctly rounded).
_POW_SPECIAL = {2: _square, 3: _cube, 0.5: _sqrt, -0.5: _rsqrt, -1: _reciprocal, -2: _reciprocal_square}


def pow(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:  # noqa: A001 - the op's name
    """out = a ** b elementwise: C pow for floats; integer pow (wrapping) for integer dtypes, where a
    negative exponent gives 1 for a == 1, +-1 for a == -1 and 0 otherwise (PyTorch)."""
    launch_map(_pow, [out], [a, b])


def pow_scalar(out: DeviceArray, x: DeviceArray, exponent) -> None:
    """out = x ** exponent for a Python number exponent (integral for integer x).

    Like PyTorch, exponents 2, 3, -1, -2, 0.5 and -0.5 of float tensors avoid pow.
    """
    if x.dtype.is_floating_point and exponent in _POW_SPECIAL and not isinstance(exponent, bool):
        launch_map(_POW_SPECIAL[exponent], [out], [x])
    else:
        launch_map(_pow_scalar, [out], [x], encode_scalar(exponent, x.dtype, opmath=True))


def rpow(out: DeviceArray, x: DeviceArray, base) -> None:
    """out = base ** x for a Python number base (torch.pow(Scalar self, Tensor exponent))."""
    launch_map(_rpow, [out], [x], encode_scalar(base, x.dtype, opmath=True))


def pow_backward(grad_a: DeviceArray | None, grad_b: DeviceArray | None, grad: DeviceArray, a: DeviceArray,
                 b: DeviceArray) -> None:
    """grad_a = grad * b * a ** (b - 1) (0 where b == 0), grad_b = grad * a ** b * log(a) (0 where
    a == 0 and b >= 0), as PyTorch; floats only."""
    launch_grads((_pow_backward, _pow_grad_a, _pow_grad_b), (grad_a, grad_b), [grad, a, b])


def pow_scalar_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, exponent) -> None:
    launch_map(_pow_scalar_backward, [grad_x], [grad, x], encode_scalar(exponent, x.dtype, opmath=True))


def rpow_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, base) -> None:
    launch_map(_rpow_backward, [grad_x], [grad, x], encode_scalar(base, x.dtype, opmath=True))


def pow_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dt = result_dtype(a, b)
    return _pow_np(*opmath(a, b)).astype(dt)


# Exponents whose kernel formula (x x, sqrt(x), 1 / x: PyTorch's) is correctly rounded, as is pow here: the same
# bits in a cheap ufunc. 3, -2, -0.5 round twice in the kernels (x x x...): their reference stays pow.
_POW_SPECIAL_NP = {2: np.square, 0.5: np.sqrt, -1: np.reciprocal}


def pow_scalar_ref(x: np.ndarray, exponent) -> np.ndarray:
    (x32,) = opmath(x)
    if x32.dtype.kind == "f":  # (the cast too without FP warnings: an fp16 result may overflow there)
        if exponent in _POW_SPECIAL_NP and not isinstance(exponent, bool):
            return quiet_call(_rounded, _POW_SPECIAL_NP[exponent], x.dtype, x32)
        return quiet_call(_rounded, np.power, x.dtype, x32, np.asarray(exponent, dtype=x32.dtype))
    return _pow_np(x32, np.asarray(exponent, dtype=x32.dtype)).astype(x.dtype, copy=False)


def _rounded(fn, dtype, *args) -> np.ndarray:
    return np.asarray(fn(*args)).astype(dtype, copy=False)


def rpow_ref(x: np.ndarray, base) -> np.ndarray:
    (x32,) = opmath(x)
    return _pow_np(np.asarray(base, dtype=x32.dtype), x32).astype(x.dtype)


def _pow_grad_base_np(g, a, b):
    """where(b == 0, 0, g (b a^(b - 1))); a scalar b: no np.where, and b = 2's a^1 is a itself (pow(a, 1) = a)."""
    if b.ndim:
        return np.where(b == 0, 0, g * (b * np.power(a, b - 1)))
    if b == 0:
        return np.zeros(np.broadcast_shapes(np.shape(g), np.shape(a)), np.result_type(g, a))
    return g * (b * (a if b == 2 else np.power(a, b - 1)))


def _pow_grads_np(g, a, b):
    with np.errstate(all="ignore"):
        ga = _pow_grad_base_np(g, a, b)
        gb = g * np.where((a == 0) & (b >= 0), 0, np.power(a, b) * np.log(a))
    return ga, gb


def pow_backward_ref(grad: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ga, gb = _pow_grads_np(*np.broadcast_arrays(*opmath(grad, a, b)))
    return ga.astype(grad.dtype), gb.astype(grad.dtype)


def pow_scalar_backward_ref(grad: np.ndarray, x: np.ndarray, exponent) -> tuple[np.ndarray]:
    g, x32 = opmath(grad, x)
    return (quiet_call(_rounded, _pow_grad_base_np, grad.dtype, g, x32, np.asarray(exponent, dtype=x32.dtype)),)


def rpow_backward_ref(grad: np.ndarray, x: np.ndarray, base) -> tuple[np.ndarray]:
    g, x32 = opmath(grad, x)
    return (_pow_grads_np(g, np.asarray(base, dtype=x32.dtype), x32)[1].astype(grad.dtype),)


# ================================================================ registry
OPS: dict[str, BinaryOp] = {
    "pow": BinaryOp(pow, pow_backward, pow_ref, pow_backward_ref),
    "pow_scalar": BinaryOp(pow_scalar, pow_scalar_backward, pow_scalar_ref, pow_scalar_backward_ref),
    "rpow": BinaryOp(rpow, rpow_backward, rpow_ref, rpow_backward_ref),
}


# ================================================================ AOT / tuning declarations
# (OP, inputs, outputs, dtype, p0 type): every OP once, plus the dtypes that take another code path.
_SPEC_OPS = [
    (_pow, 2, 1, "fp32", "fp32"), (_pow, 2, 1, "fp64", "fp32"), (_pow, 2, 1, "i32", "fp32"),
    (_pow, 2, 1, "u8", "fp32"), (_pow_scalar, 1, 1, "fp16", "fp32"), (_pow_scalar, 1, 1, "fp64", "i64"),
    (_pow_scalar, 1, 1, "i64", "i32"), (_rsqrt, 1, 1, "fp32", "fp32"), (_rpow, 1, 1, "fp32", "fp32"),
    (_pow_backward, 3, 2, "fp32", "fp32"), (_pow_backward, 3, 2, "fp64", "fp32"),
    (_pow_scalar_backward, 2, 1, "bf16", "fp32"), (_rpow_backward, 2, 1, "fp64", "i64"),
    (_pow_scalar, 1, 1, "i32", 1),
]
SPECS = [map_spec("pow", op, dtype, n_in, n_out, p0=p0) for op, n_in, n_out, dtype, p0 in _SPEC_OPS]
