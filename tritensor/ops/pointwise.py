"""addcmul and addcdiv (and their in-place forms) over the fused kernels of kernels/pointwise.py.

The three tensors are promoted together as PyTorch's ternary ops do (`value` takes no part) and broadcast
by the kernel. `backward` is written with tensor ops, so create_graph=True gives second derivatives;
`backward_fused` computes both factors' gradients in one kernel pass when no graph is requested.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import pointwise as K
from ..kernels.map_ops import BinaryOp
from ..tensor import Tensor
from .binary import div
from .dispatch import check_same_device, run_elementwise, sum_to
from .elementwise import _into, inplace, mul, neg
from .map_ops import cast_keep_grad, check_shapes, fused_grads, is_number, not_implemented

_OPS = {
    "addcmul": BinaryOp(K.addcmul, K.addcmul_backward, K.addcmul_ref, K.addcmul_backward_ref),
    "addcdiv": BinaryOp(K.addcdiv, K.addcdiv_backward, K.addcdiv_ref, K.addcdiv_backward_ref),
}

_INTEGER_ADDCDIV = (
    "Integer division with addcdiv is no longer supported, and in a future  release addcdiv will perform a true "
    "division of tensor1 and tensor2. The historic addcdiv behavior can be implemented as (input + value * "
    "torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer inputs and as (input + value * tensor1 / tensor2) "
    "for float inputs. The future addcdiv behavior is just the latter implementation: (input + value * tensor1 / "
    "tensor2), for all dtypes.")

# C++'s names for the integer types, as PyTorch's Scalar conversion error prints them.
_C_TYPES = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int", "int64": "int64_t"}


class _Pointwise(Function):
    """out = input + value * op(tensor1, tensor2); a subclass names its kernel family entry and its
    tensor-op gradients of tensor1 and tensor2."""

    differentiable_forward = False
    family: str

    @staticmethod
    def forward(ctx, input: Tensor, tensor1: Tensor, tensor2: Tensor, value) -> Tensor:  # noqa: A002
        cls = type(ctx)
        ctx.value = value
        ctx.shapes = (input._shape, tensor1._shape, tensor2._shape)
        need = ctx.needs_input_grad
        if need:
            # Each factor is read only for a factor's gradient (addcdiv's tensor2 for both).
            keep1 = need[2]
            keep2 = need[1] or (need[2] and cls is Addcdiv)
            ctx.save_for_backward(tensor1 if keep1 else None, tensor2 if keep2 else None)
        op = _OPS[cls.family]
        return run_elementwise(op.forward_ref, op.forward, [input, tensor1, tensor2], input.dtype, value)

    @staticmethod
    def grads(ctx, grad: Tensor, tensor1: Tensor, tensor2: Tensor, need1: bool, need2: bool) -> tuple:
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        t1, t2 = ctx.saved_tensors
        need = ctx.needs_input_grad[:3]
        g1, g2 = type(ctx).grads(ctx, grad, t1, t2, need[1], need[2])
        return (sum_to(grad, ctx.shapes[0]) if need[0] else None,
                sum_to(g1, ctx.shapes[1]) if need[1] else None,
                sum_to(g2, ctx.shapes[2]) if need[2] else None, None)

    def backward_fused(self, grad):
        t1, t2 = self.saved_tensors
        need = tuple(self.needs_input_grad[:3])
        g1 = g2 = None
        if need[1] or need[2]:
            # A factor no requested gradient reads was not saved; grad (same dtype) stands in for it.
            g1, g2 = fused_grads(_OPS[type(self).family], need[1:], grad,
                                 [grad if t1 is None else t1, grad if t2 is None else t2], self.value)
        return (sum_to(grad, self.shapes[0]) if need[0] else None,
                None if g1 is None else sum_to(g1, self.shapes[1]),
                None if g2 is None else sum_to(g2, self.shapes[2]), None)


class Addcmul(_Pointwise):
    family = "addcmul"

    @staticmethod
    def grads(ctx, grad, tensor1, tensor2, need1, need2):
        v = ctx.value
        return (mul(grad, mul(tensor2, v)) if need1 else None, mul(grad, mul(tensor1, v)) if need2 else None)


class Addcdiv(_Pointwise):
    family = "addcdiv"

    @staticmethod
    def grads(ctx, grad, tensor1, tensor2, need1, need2):
        v = ctx.value
        g1 = mul(grad, div(v, tensor2)) if need1 else None
        g2 = mul(neg(grad), div(mul(tensor1, v), mul(tensor2, tensor2))) if need2 else None
        return g1, g2


# ================================================================ argument checks
def _check_tensors(op: str, input, tensor1, tensor2) -> None:  # noqa: A002
    for position, (name, t) in enumerate((("input", input), ("tensor1", tensor1), ("tensor2", tensor2)), 1):
        if type(t) is not Tensor:
            raise TypeError(f"{op}(): argument '{name}' (position {position}) must be Tensor, not "
                            f"{type(t).__name__}")
    check_same_device(input, tensor1, tensor2)
    check_shapes(input, tensor1, tensor2)


def _scalar_value(op: str, value, dtype: D.dtype):
    """value as a Python number (a one-element tensor is read out, as PyTorch's Scalar arguments are),
    refused when it does not fit an integer result dtype (PyTorch's checked conversion)."""
    if type(value) is Tensor:
        if value.numel() != 1:
            raise RuntimeError(f"a Tensor with {value.numel()} elements cannot be converted to Scalar")
        value = value.item()
    elif isinstance(value, np.generic):
        value = value.item()
    if not is_number(value):
        raise TypeError(f"{op}(): argument 'value' must be Number, not {type(value).__name__}")
    if not dtype.is_floating_point and dtype is not D.bool:
        info = np.iinfo(dtype.np)
        if not info.min <= int(value) <= info.max:
            raise RuntimeError(f"value cannot be converted to type {_C_TYPES[dtype.name]} without overflow")
    return value


def _promoted(op: str, input: Tensor, tensor1: Tensor, tensor2: Tensor) -> tuple:  # noqa: A002
    dtype = D.result_type(input, tensor1, tensor2)
    if dtype is D.bool:
        kernel = f"{op}_cpu_out" if input.device.type == "cpu" else f"{op}_cuda"
        raise not_implemented(kernel, input.device, dtype, suffix=False)
    return tuple(cast_keep_grad(t, dtype) for t in (input, tensor1, tensor2)) + (dtype,)


def _run(cls, op: str, input, tensor1, tensor2, value, out: Tensor | None) -> Tensor:  # noqa: A002
    x, a, b, dtype = _promoted(op, input, tensor1, tensor2)
    result = cls.apply(x, a, b, _scalar_value(op, value, dtype))
    return result if out is None else _into(out, result)


# ================================================================ public functions
def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """input + value * tensor1 * tensor2, broadcast; the three tensors promoted together (value does not
    change the dtype; for integer results it is truncated to an integer)."""
    _check_tensors("addcmul", input, tensor1, tensor2)
    return _run(Addcmul, "addcmul", input, tensor1, tensor2, value, out)


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """input + value * tensor1 / tensor2 (true division), broadcast. Two integer (or bool) divisor operands
    raise, as in PyTorch."""
    _check_tensors("addcdiv", input, tensor1, tensor2)
    if not tensor1.dtype.is_floating_point and not tensor2.dtype.is_floating_point:
        raise RuntimeError(_INTEGER_ADDCDIV)
    return _run(Addcdiv, "addcdiv", input, tensor1, tensor2, value, out)


def _addcmul_(self: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """In-place `self += value * tensor1 * tensor2`."""
    return inplace(addcmul, self, tensor1, tensor2, value=value)


def _addcdiv_(self: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """In-place `self += value * tensor1 / tensor2`."""
    return inplace(addcdiv, self, tensor1, tensor2, value=value)


__all__ = ["addcmul", "addcdiv"]

METHODS: dict = {"addcmul": addcmul, "addcdiv": addcdiv, "addcmul_": _addcmul_, "addcdiv_": _addcdiv_}
