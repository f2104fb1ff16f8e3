"""where (select by a condition) registered over kernels/where.py.

where(condition, input, other) broadcasts its three operands; input and other are tensors or Python
numbers (a number travels to the kernel as a number), promoted as PyTorch does. Differentiable in input and
other: the backward is written with tensor ops (second derivatives) and has a fused kernel/reference pass.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import where as K
from ..tensor import Tensor
from .dispatch import check_same_device, expanded, sum_to
from .map_ops import (
    cast_keep_grad,
    check_shapes,
    finish,
    fused_grads,
    host_value,
    is_number,
    kernel_value,
    shape_of,
    type_error,
)


class Where(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, cond: Tensor, a, b, dtype: D.dtype) -> Tensor:
        ctx.shapes = tuple(v._shape if type(v) is Tensor else None for v in (a, b))
        ctx.save_for_backward(cond)
        if cond.device.type == "cpu":
            r = K.where_ref(cond._host(), host_value(a, dtype), host_value(b, dtype))
            return Tensor._wrap(np.asarray(r).astype(dtype.np, copy=False))
        shape = shape_of(cond, a, b)
        out = Tensor._empty(shape, dtype, cond.device)
        K.where(out._dev(), expanded(cond, shape), kernel_value(a, shape), kernel_value(b, shape))
        return out

    @staticmethod
    def backward(ctx, grad):
        (cond,) = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad[1:3]
        ga = sum_to(where(cond, grad, 0.0), ctx.shapes[0]) if need_a else None
        gb = sum_to(where(cond, 0.0, grad), ctx.shapes[1]) if need_b else None
        return None, ga, gb, None

    def backward_fused(self, grad):
        (cond,) = self.saved_tensors
        need_a, need_b = self.needs_input_grad[1:3]
        ga, gb = fused_grads(K.OPS["where"], (need_a, need_b), grad, [cond])
        return (None, sum_to(ga, self.shapes[0]) if need_a else None,
                sum_to(gb, self.shapes[1]) if need_b else None, None)


def where(condition: Tensor, input=None, other=None, *, out: Tensor | None = None) -> Tensor:
    """input where condition else other (broadcast; input/other tensors or numbers, PyTorch's promotion).

    where(condition) alone is nonzero(condition, as_tuple=True).
    """
    if input is None and other is None:
        from . import masked as indexing

        nonzero = getattr(indexing, "nonzero", None)
        if nonzero is None:
            raise NotImplementedError("where(condition) needs nonzero, which is not registered yet")
        return nonzero(condition, as_tuple=True)
    if type(condition) is not Tensor:
        raise type_error("where", "condition", condition)
    if condition.dtype is not D.bool:
        raise RuntimeError("where expected condition to be a boolean tensor, but got a tensor with dtype "
                           f"{D.scalar_type_name(condition.dtype)}")
    for name, v in (("input", input), ("other", other)):
        if type(v) is not Tensor and not is_number(v):
            raise type_error("where", name, v, "Tensor or Number")
    tensors = [v for v in (input, other) if type(v) is Tensor]
    if tensors:
        check_same_device(condition, *tensors)
    check_shapes(condition, *tensors)
    dtype = D.result_type(input, other)
    a = cast_keep_grad(input, dtype) if type(input) is Tensor else input
    b = cast_keep_grad(other, dtype) if type(other) is Tensor else other
    return finish(Where.apply(condition, a, b, dtype), out)


def _tensor_where(self: Tensor, condition: Tensor, other) -> Tensor:
    """`tt.where(condition, self, other)`: self where `condition`, else `other`."""
    return where(condition, self, other)


__all__ = ["where"]
METHODS: dict = {"where": _tensor_where}
