"""addcmul and addcdiv: input + value * tensor1 * tensor2 (or / tensor2) in one fused pass.

Optimizers (Adam's second moment, RMSprop, Adagrad) and hand-written update rules call these on every
parameter; unfused they cost three memory round trips (a product, a scale, an add). Each op is a
`@triton.jit` scalar-math function run by `elementwise.launch_map` over three strided operands
(broadcasting is a zero stride), beside its fused backward and the NumPy references.

Conventions (the Tensor layer's contract, as in kernels/map_ops.py):
- input, tensor1 and tensor2 arrive broadcast-viewed to the output shape and cast to the result dtype
  (PyTorch promotes the three tensors; `value` does not take part in promotion).
- 16-bit floats are computed in fp32 (PyTorch's opmath) and rounded once on store; `value` travels as
  `map_ops.encode_scalar(value, dtype, opmath=True)` (fp32, or the exact fp64 bit pattern, or the integer).
- PyTorch's CUDA grouping: input + value * (tensor1 * tensor2) and input + value * (tensor1 / tensor2).
- addcmul takes every dtype but bool; addcdiv floats only (PyTorch refuses integer addcdiv; the Tensor
  layer raises its message). An integer `value` is truncated toward zero for integer dtypes, as
  PyTorch's Scalar conversion does.
- Backward wrappers take None for a gradient that is not needed; input's gradient is `grad` itself
  (the Tensor layer sums it back to input's shape), so no kernel computes it.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl  # noqa: F401 - Triton's interpreter finds triton.language through the jit functions' module

from .device_array import DeviceArray
from .elementwise import launch_map
from .ieee_math import div_ieee
from .map_ops import check_float, encode_scalar, launch_grads, map_spec, opmath, scalar_param


def encode_value(value, dtype) -> int | float:
    """`value` as the map kernel's parameter: truncated to an integer for integer dtypes (PyTorch's
    Scalar.to<int64_t>), the compute precision's float otherwise."""
    if not dtype.is_floating_point:
        value = int(value)
    return encode_scalar(value, dtype, opmath=True)


# ================================================================ Triton math
@triton.jit
def _addcmul(x, t1, t2, value, p1):
    return x + scalar_param(value, x) * (t1 * t2)


@triton.jit
def _addcdiv(x, t1, t2, value, p1):
    return x + scalar_param(value, x) * div_ieee(t1, t2)


@triton.jit
def _addcmul_backward(grad, t1, t2, value, p1):
    v = scalar_param(value, grad)
    return grad * (t2 * v), grad * (t1 * v)


@triton.jit
def _addcmul_grad_one(grad, other, value, p1):
    # The gradient of one factor is grad times the other factor, scaled.
    return grad * (other * scalar_param(value, grad))


@triton.jit
def _addcdiv_grad_t1_math(grad, t2, v):
    return grad * div_ieee(v, t2)


@triton.jit
def _addcdiv_grad_t2_math(grad, t1, t2, v):
    return -grad * div_ieee(v * t1, t2 * t2)


@triton.jit
def _addcdiv_backward(grad, t1, t2, value, p1):
    v = scalar_param(value, grad)
    return _addcdiv_grad_t1_math(grad, t2, v), _addcdiv_grad_t2_math(grad, t1, t2, v)


@triton.jit
def _addcdiv_grad_t1(grad, t1, t2, value, p1):
    return _addcdiv_grad_t1_math(grad, t2, scalar_param(value, grad))


@triton.jit
def _addcdiv_grad_t2(grad, t1, t2, value, p1):
    return _addcdiv_grad_t2_math(grad, t1, t2, scalar_param(value, grad))


# ================================================================ launch wrappers
def _check_not_bool(op: str, *arrays: DeviceArray) -> None:
    for a in arrays:
        if a.dtype.name == "bool":
            raise TypeError(f"{op} does not take bool operands")


def addcmul(out: DeviceArray, input: DeviceArray, tensor1: DeviceArray, tensor2: DeviceArray,  # noqa: A002
            value=1) -> None:
    """out = input + value * (tensor1 * tensor2): any dtype but bool, integers wrap as in PyTorch."""
    _check_not_bool("addcmul", input, tensor1, tensor2)
    launch_map(_addcmul, [out], [input, tensor1, tensor2], encode_value(value, input.dtype))


def addcdiv(out: DeviceArray, input: DeviceArray, tensor1: DeviceArray, tensor2: DeviceArray,  # noqa: A002
            value=1) -> None:
    """out = input + value * (tensor1 / tensor2), a correctly rounded division; floats only."""
    check_float("addcdiv", input, tensor1, tensor2)
    launch_map(_addcdiv, [out], [input, tensor1, tensor2], encode_value(value, input.dtype))


def addcmul_backward(grad_tensor1: DeviceArray | None, grad_tensor2: DeviceArray | None, grad: DeviceArray,
                     tensor1: DeviceArray, tensor2: DeviceArray, value=1) -> None:
    """grad_tensor1 = grad * (tensor2 * value) and grad_tensor2 = grad * (tensor1 * value), in one pass
    when both are asked for; a factor whose own gradient is not needed may be passed but is not read."""
    p = encode_value(value, grad.dtype)
    if grad_tensor1 is not None and grad_tensor2 is not None:
        launch_map(_addcmul_backward, [grad_tensor1, grad_tensor2], [grad, tensor1, tensor2], p)
    elif grad_tensor1 is not None:
        launch_map(_addcmul_grad_one, [grad_tensor1], [grad, tensor2], p)
    elif grad_tensor2 is not None:
        launch_map(_addcmul_grad_one, [grad_tensor2], [grad, tensor1], p)


def addcdiv_backward(grad_tensor1: DeviceArray | None, grad_tensor2: DeviceArray | None, grad: DeviceArray,
                     tensor1: DeviceArray, tensor2: DeviceArray, value=1) -> None:
    """grad_tensor1 = grad * (value / tensor2), grad_tensor2 = -grad * (value * tensor1 / tensor2**2)."""
    check_float("addcdiv_backward", grad, tensor1, tensor2)
    launch_grads((_addcdiv_backward, _addcdiv_grad_t1, _addcdiv_grad_t2), (grad_tensor1, grad_tensor2),
                  [grad, tensor1, tensor2], encode_value(value, grad.dtype))


# ================================================================ NumPy references
def _value(value, dtype: np.dtype):
    """value in the compute precision: fp32 for 16/32-bit floats, exact for fp64, an integer otherwise."""
    if np.issubdtype(dtype, np.floating):
        return np.asarray(value, dtype=np.float64 if dtype == np.float64 else np.float32)
    return np.asarray(int(value)).astype(dtype)


def addcmul_ref(input: np.ndarray, tensor1: np.ndarray, tensor2: np.ndarray, value=1) -> np.ndarray:  # noqa: A002
    dt = np.result_type(input, tensor1, tensor2)
    x, a, b = opmath(input, tensor1, tensor2)
    with np.errstate(over="ignore", invalid="ignore"):
        return (x + _value(value, x.dtype) * (a * b)).astype(dt)


def addcdiv_ref(input: np.ndarray, tensor1: np.ndarray, tensor2: np.ndarray, value=1) -> np.ndarray:  # noqa: A002
    dt = np.result_type(input, tensor1, tensor2)
    x, a, b = opmath(input, tensor1, tensor2)
    with np.errstate(all="ignore"):
        return (x + _value(value, x.dtype) * (a / b)).astype(dt)


def addcmul_backward_ref(grad: np.ndarray, tensor1: np.ndarray, tensor2: np.ndarray,
                         value=1) -> tuple[np.ndarray, np.ndarray]:
    """(grad_tensor1, grad_tensor2) in the broadcast shape."""
    g, a, b = opmath(grad, tensor1, tensor2)
    v = _value(value, g.dtype)
    shape = np.broadcast_shapes(g.shape, a.shape, b.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        return (np.broadcast_to(g * (b * v), shape).astype(grad.dtype),
                np.broadcast_to(g * (a * v), shape).astype(grad.dtype))


def addcdiv_backward_ref(grad: np.ndarray, tensor1: np.ndarray, tensor2: np.ndarray,
                         value=1) -> tuple[np.ndarray, np.ndarray]:
    g, a, b = opmath(grad, tensor1, tensor2)
    v = _value(value, g.dtype)
    shape = np.broadcast_shapes(g.shape, a.shape, b.shape)
    with np.errstate(all="ignore"):
        return (np.broadcast_to(g * (v / b), shape).astype(grad.dtype),
                np.broadcast_to(-g * ((v * a) / (b * b)), shape).astype(grad.dtype))


# ================================================================ AOT / tuning declarations
# (OP, inputs, outputs, dtype, p0 type): every OP, the dtypes that take another code path, and value=1
# (the launcher specializes an integer 1 as a constexpr).
_SPEC_OPS = [
    (_addcmul, 3, 1, "fp32", "fp32"), (_addcmul, 3, 1, "bf16", "fp32"), (_addcmul, 3, 1, "fp16", "fp32"),
    (_addcmul, 3, 1, "fp64", "i64"), (_addcmul, 3, 1, "i64", "i32"), (_addcmul, 3, 1, "i32", 1),
    (_addcmul, 3, 1, "u8", "i32"),
    (_addcdiv, 3, 1, "fp32", "fp32"), (_addcdiv, 3, 1, "bf16", "fp32"), (_addcdiv, 3, 1, "fp64", "i64"),
    (_addcmul_backward, 3, 2, "fp32", "fp32"), (_addcmul_backward, 3, 2, "bf16", "fp32"),
    (_addcmul_grad_one, 2, 1, "fp64", "i64"), (_addcmul_grad_one, 2, 1, "fp16", "fp32"),
    (_addcdiv_backward, 3, 2, "fp32", "fp32"), (_addcdiv_backward, 3, 2, "fp16", "fp32"),
    (_addcdiv_grad_t1, 3, 1, "fp64", "i64"), (_addcdiv_grad_t2, 3, 1, "fp32", "fp32"),
]
SPECS = [map_spec("pointwise", op, dtype, n_in, n_out, p0=p0) for op, n_in, n_out, dtype, p0 in _SPEC_OPS]
