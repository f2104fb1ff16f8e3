"""Elementwise maximum and minimum, forward and backward, on the elementwise map kernel.

Same conventions as kernels/binary.py (read its docstring): inputs broadcast-viewed to the output
shape and cast to the compute dtype, 16-bit floats computed in fp32 and rounded once, backward
wrappers taking None for a gradient that is not needed (neither computed nor stored). Every dtype is
accepted (bool: or / and); NaN propagates; a tie splits the gradient in halves, as PyTorch.

`OPS` maps "maximum" and "minimum" to their `map_ops.BinaryOp`.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from .device_array import DeviceArray
from .elementwise import launch_map
from .map_ops import BinaryOp, launch_grads, map_spec, opmath


# ================================================================ maximum, minimum
@triton.jit
def _maximum(a, b, p0, p1):
    # NaN propagates (integers: never taken). Bools reach OPs as 0/1 integers, so this is `or`.
    r = tl.where(a > b, a, b)
    return tl.where(a != a, a, tl.where(b != b, b, r))


@triton.jit
def _minimum(a, b, p0, p1):
    r = tl.where(a < b, a, b)
    return tl.where(a != a, a, tl.where(b != b, b, r))


@triton.jit
def _max_grads(grad, a, b):
    # PyTorch: ties split the gradient in halves; with a NaN neither side is "less", both get grad.
    shared = tl.where(a == b, grad * 0.5, grad)
    return tl.where(a < b, 0.0, shared), tl.where(a > b, 0.0, shared)


@triton.jit
def _maximum_backward(grad, a, b, p0, p1):
    return _max_grads(grad, a, b)


@triton.jit
def _maximum_grad_a(grad, a, b, p0, p1):
    return _max_grads(grad, a, b)[0]


@triton.jit
def _maximum_grad_b(grad, a, b, p0, p1):
    return _max_grads(grad, a, b)[1]


@triton.jit
def _minimum_backward(grad, a, b, p0, p1):
    return _max_grads(grad, b, a)


@triton.jit
def _minimum_grad_a(grad, a, b, p0, p1):
    return _max_grads(grad, b, a)[0]


@triton.jit
def _minimum_grad_b(grad, a, b, p0, p1):
    return _max_grads(grad, b, a)[1]


def maximum(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:
    """Elementwise max, NaN-propagating; every dtype (bool: or)."""
    launch_map(_maximum, [out], [a, b])


def minimum(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:
    """Elementwise min, NaN-propagating; every dtype (bool: and)."""
    launch_map(_minimum, [out], [a, b])


def maximum_backward(grad_a: DeviceArray | None, grad_b: DeviceArray | None, grad: DeviceArray,
                     a: DeviceArray, b: DeviceArray) -> None:
    launch_grads((_maximum_backward, _maximum_grad_a, _maximum_grad_b), (grad_a, grad_b), [grad, a, b])


def minimum_backward(grad_a: DeviceArray | None, grad_b: DeviceArray | None, grad: DeviceArray,
                     a: DeviceArray, b: DeviceArray) -> None:
    launch_grads((_minimum_backward, _minimum_grad_a, _minimum_grad_b), (grad_a, grad_b), [grad, a, b])


def maximum_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum(a, b)


def minimum_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.minimum(a, b)


def _max_grads_np(g, a, b):
    shared = np.where(a == b, g * 0.5, g)
    return np.where(a < b, 0, shared), np.where(a > b, 0, shared)


def maximum_backward_ref(grad: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ga, gb = _max_grads_np(*np.broadcast_arrays(*opmath(grad, a, b)))
    return ga.astype(grad.dtype), gb.astype(grad.dtype)


def minimum_backward_ref(grad: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g, a32, b32 = np.broadcast_arrays(*opmath(grad, a, b))
    ga, gb = _max_grads_np(g, b32, a32)
    return ga.astype(grad.dtype), gb.astype(grad.dtype)


# ================================================================ registry
OPS: dict[str, BinaryOp] = {
    "maximum": BinaryOp(maximum, maximum_backward, maximum_ref, maximum_backward_ref),
    "minimum": BinaryOp(minimum, minimum_backward, minimum_ref, minimum_backward_ref),
}


# ================================================================ AOT / tuning declarations
# (OP, inputs, outputs, dtype): every OP once, plus the dtypes that take another code path.
_SPEC_OPS = [
    (_maximum, 2, 1, "fp32"), (_maximum, 2, 1, "i1"), (_minimum, 2, 1, "i64"),
    (_maximum_backward, 3, 2, "fp16"), (_minimum_backward, 3, 2, "fp32"),
]
SPECS = [map_spec("maximum", op, dtype, n_in, n_out) for op, n_in, n_out, dtype in _SPEC_OPS]
