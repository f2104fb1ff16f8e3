"""lerp (linear interpolation), forward and backward, on the elementwise map kernel.

Same conventions as kernels/binary.py (read its docstring): inputs broadcast-viewed to the output
shape and cast to the compute dtype, 16-bit floats computed in fp32 and rounded once, backward
wrappers taking None for a gradient that is not needed (neither computed nor stored). Floats only.
The weight is a tensor or a Python number (`map_ops.encode_scalar`); PyTorch's two-sided form keeps
the result exact at weight 0 and 1.

`OPS` maps "lerp" to its `map_ops.BinaryOp`.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from .device_array import DeviceArray
from .elementwise import launch_map
from .map_ops import BinaryOp, check_float, encode_scalar, launch_grads, map_spec, opmath, result_dtype, scalar_param


# ================================================================ lerp
@triton.jit
def _lerp_math(s, e, w):
    # PyTorch's two-sided form: exact at w == 0 and w == 1.
    return tl.where(tl.abs(w) < 0.5, s + w * (e - s), e - (e - s) * (1 - w))


@triton.jit
def _lerp(s, e, w, p0, p1):
    return _lerp_math(s, e, w)


@triton.jit
def _lerp_scalar(s, e, weight, p1):
    return _lerp_math(s, e, scalar_param(weight, s))


@triton.jit
def _lerp_weight_grads(grad, w):
    return grad * (1 - w), grad * w


@triton.jit
def _lerp_backward(grad, w, p0, p1):
    return _lerp_weight_grads(grad, w)


@triton.jit
def _lerp_grad_start(grad, w, p0, p1):
    return _lerp_weight_grads(grad, w)[0]


@triton.jit
def _lerp_grad_end(grad, w, p0, p1):
    return _lerp_weight_grads(grad, w)[1]


@triton.jit
def _lerp_scalar_backward(grad, weight, p1):
    return _lerp_weight_grads(grad, scalar_param(weight, grad))


@triton.jit
def _lerp_scalar_grad_start(grad, weight, p1):
    return _lerp_weight_grads(grad, scalar_param(weight, grad))[0]


@triton.jit
def _lerp_scalar_grad_end(grad, weight, p1):
    return _lerp_weight_grads(grad, scalar_param(weight, grad))[1]


@triton.jit
def _lerp_grad_weight(grad, s, e, p0, p1):
    return grad * (e - s)


def lerp(out: DeviceArray, start: DeviceArray, end: DeviceArray, weight: DeviceArray | float) -> None:
    """out = start + weight * (end - start) (PyTorch's form); weight a DeviceArray or a Python number.

    Floats only.
    """
    check_float("lerp", start, end)
    if isinstance(weight, DeviceArray):
        launch_map(_lerp, [out], [start, end, weight])
    else:
        launch_map(_lerp_scalar, [out], [start, end], encode_scalar(weight, start.dtype, opmath=True))


def lerp_backward(grad_start: DeviceArray | None, grad_end: DeviceArray | None,
                  grad_weight: DeviceArray | None, grad: DeviceArray, start: DeviceArray, end: DeviceArray,
                  weight: DeviceArray | float) -> None:
    """grad_start = grad * (1 - w), grad_end = grad * w (one pass), grad_weight = grad * (end - start).

    grad_weight is a second pass (the map kernel writes two outputs); it must be None for a
    Python-number weight.
    """
    if isinstance(weight, DeviceArray):
        launch_grads((_lerp_backward, _lerp_grad_start, _lerp_grad_end), (grad_start, grad_end),
                      [grad, weight])
        if grad_weight is not None:
            launch_map(_lerp_grad_weight, [grad_weight], [grad, start, end])
    else:
        if grad_weight is not None:
            raise ValueError("lerp_backward: a Python-number weight has no gradient")
        launch_grads((_lerp_scalar_backward, _lerp_scalar_grad_start, _lerp_scalar_grad_end),
                      (grad_start, grad_end), [grad], encode_scalar(weight, grad.dtype, opmath=True))


def lerp_ref(start: np.ndarray, end: np.ndarray, weight) -> np.ndarray:
    """PyTorch's two-sided lerp: start + w * (end - start) where |w| < 0.5, else end - (end - start) * (1 - w)."""
    dt = result_dtype(start, end)
    s, e = opmath(start, end)
    if not isinstance(weight, np.ndarray):
        d = np.asarray(np.subtract(e, s))  # 0-d operands give a NumPy scalar: the in-place steps need an array
        # one weight picks one formula for every element: computed in place on e - s, never both sides
        w = np.asarray(weight, dtype=s.dtype)
        if np.abs(w) < 0.5:
            np.multiply(w, d, out=d)
            np.add(s, d, out=d)
        else:
            np.multiply(d, 1 - w, out=d)
            np.subtract(e, d, out=d)
        return d.astype(dt, copy=False)
    w = opmath(weight)[0]
    return np.where(np.abs(w) < 0.5, s + w * (e - s), e - (e - s) * (1 - w)).astype(dt)


def _fit(r: np.ndarray, shape: tuple, dt) -> np.ndarray:
    # r is a fresh buffer: reused when it already has the full shape and dtype
    return r.astype(dt, copy=False) if r.shape == shape else np.broadcast_to(r, shape).astype(dt)


def lerp_backward_ref(grad: np.ndarray, start: np.ndarray, end: np.ndarray,
                      weight) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(grad_start, grad_end, grad_weight or None) at the broadcast shape."""
    g, s, e = opmath(grad, start, end)
    w = opmath(weight)[0] if isinstance(weight, np.ndarray) else np.asarray(weight, dtype=g.dtype)
    shape = np.broadcast_shapes(g.shape, s.shape, e.shape, w.shape)
    gs = _fit(g * (1 - w), shape, grad.dtype)
    ge = _fit(g * w, shape, grad.dtype)
    gw = _fit(g * (e - s), shape, grad.dtype) if isinstance(weight, np.ndarray) else None
    return gs, ge, gw


# ================================================================ registry
OPS: dict[str, BinaryOp] = {"lerp": BinaryOp(lerp, lerp_backward, lerp_ref, lerp_backward_ref)}


# ================================================================ AOT / tuning declarations
# (OP, inputs, outputs, dtype, p0 type): every OP once, plus the dtypes that take another code path.
_SPEC_OPS = [
    (_lerp, 3, 1, "bf16", "fp32"), (_lerp_scalar, 2, 1, "fp64", "i64"),
    (_lerp_backward, 2, 2, "fp32", "fp32"), (_lerp_grad_weight, 3, 1, "fp32", "fp32"),
    (_lerp_scalar_backward, 1, 2, "fp16", "fp32"),
]
SPECS = [map_spec("lerp", op, dtype, n_in, n_out, p0=p0) for op, n_in, n_out, dtype, p0 in _SPEC_OPS]
