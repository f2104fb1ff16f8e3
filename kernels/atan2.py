"""atan2, forward and backward, on the elementwise map kernel.

Same conventions as kernels/binary.py (read its docstring): inputs broadcast-viewed to the output
shape and cast to the compute dtype, 16-bit floats computed in fp32 and rounded once, backward
wrappers taking None for a gradient that is not needed (neither computed nor stored). Floats only
(the Tensor layer promotes integers to the default float dtype); C99's signed zeros and infinities,
from an atan on [0, 1] (Cephes) and the octant.

`OPS` maps "atan2" to its `map_ops.BinaryOp`.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from .device_array import DeviceArray
from .elementwise import launch_map
from .ieee_math import div_ieee
from .map_ops import BinaryOp, check_float, launch_grads, map_spec, opmath, result_dtype, signbit


# ================================================================ Triton math
@triton.jit
def _atan_unit(r):
    """atan on [0, 1] (Cephes atan.c / atanf.c), reduced through pi/4 + atan((r - 1) / (r + 1))."""
    zero = tl.zeros_like(r)  # keeps the constants below in r's type
    if r.dtype.is_fp64():
        mid = r > 0.66
        t = tl.where(mid, (r - 1.0) / (r + 1.0), r)
        z = t * t
        p = ((((-8.750608600031904122785e-1 * z - 1.615753718733365076637e1) * z
               - 7.500855792314704667340e1) * z - 1.228866684490136173410e2) * z - 6.485021904942025371773e1)
        q = ((((z + 2.485846490142306297962e1) * z + 1.650270098316988542046e2) * z
              + 4.328810604912902668951e2) * z + 4.853903996359136964868e2) * z + 1.945506571482613964425e2
        tail = (t * (z * p / q) + t) + tl.where(mid, zero + 3.061616997868383e-17, zero)
        return tl.where(mid, zero + 0.7853981633974483, zero) + tail
    else:
        mid = r > 0.4142135623730950
        t = tl.where(mid, tl.div_rn(r - 1.0, r + 1.0), r)
        z = t * t
        tail = (((8.05374449538e-2 * z - 1.38776856032e-1) * z + 1.99777106478e-1) * z
                - 3.33329491539e-1) * z * t + t
        return tl.where(mid, zero + 0.7853981633974483, zero) + tail


@triton.jit
def _atan2_math(y, x):
    """atan2 with C99's signed zeros and infinities: atan of min/max on [0, 1], then the octant."""
    ax = tl.abs(x)
    ay = tl.abs(y)
    zero = tl.zeros_like(ax)
    hi = tl.maximum(ax, ay)
    r = div_ieee(tl.minimum(ax, ay), tl.where(hi == 0, zero + 1.0, hi))
    r = tl.where((ax == float("inf")) & (ay == float("inf")), zero + 1.0, r)
    t = _atan_unit(r)
    t = tl.where(ay > ax, (zero + 1.5707963267948966) - t, t)
    t = tl.where(signbit(x), (zero + 3.141592653589793) - t, t)
    t = tl.where(signbit(y), -t, t)
    return tl.where((x != x) | (y != y), x + y, t)


# ================================================================ atan2
@triton.jit
def _atan2(a, b, p0, p1):
    return _atan2_math(a, b)


@triton.jit
def _atan2_grads(grad, a, b):
    # PyTorch: 1 / (a^2 + b^2) shared by both; NaN at (0, 0), as PyTorch.
    recip = div_ieee(tl.zeros_like(a) + 1.0, a * a + b * b)
    return grad * b * recip, grad * -a * recip


@triton.jit
def _atan2_backward(grad, a, b, p0, p1):
    return _atan2_grads(grad, a, b)


@triton.jit
def _atan2_grad_a(grad, a, b, p0, p1):
    return _atan2_grads(grad, a, b)[0]


@triton.jit
def _atan2_grad_b(grad, a, b, p0, p1):
    return _atan2_grads(grad, a, b)[1]


def atan2(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:
    """out = atan2(a, b) (a is y, b is x) with C99's zeros/infinities; floats only."""
    check_float("atan2", a, b)
    launch_map(_atan2, [out], [a, b])


def atan2_backward(grad_a: DeviceArray | None, grad_b: DeviceArray | None, grad: DeviceArray, a: DeviceArray,
                   b: DeviceArray) -> None:
    """grad_a = grad * b / (a^2 + b^2), grad_b = -grad * a / (a^2 + b^2)."""
    launch_grads((_atan2_backward, _atan2_grad_a, _atan2_grad_b), (grad_a, grad_b), [grad, a, b])


def atan2_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dt = result_dtype(a, b)
    return np.arctan2(*opmath(a, b)).astype(dt)


def atan2_backward_ref(grad: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g, a32, b32 = np.broadcast_arrays(*opmath(grad, a, b))
    with np.errstate(all="ignore"):
        recip = 1 / (a32 * a32 + b32 * b32)
        return (g * b32 * recip).astype(grad.dtype), (g * -a32 * recip).astype(grad.dtype)


# ================================================================ registry
OPS: dict[str, BinaryOp] = {"atan2": BinaryOp(atan2, atan2_backward, atan2_ref, atan2_backward_ref)}


# ================================================================ AOT / tuning declarations
# (OP, inputs, outputs, dtype): every OP once, plus the dtypes that take another code path.
_SPEC_OPS = [(_atan2, 2, 1, "fp32"), (_atan2, 2, 1, "fp64"), (_atan2_backward, 3, 2, "fp32")]
SPECS = [map_spec("atan2", op, dtype, n_in, n_out) for op, n_in, n_out, dtype in _SPEC_OPS]
