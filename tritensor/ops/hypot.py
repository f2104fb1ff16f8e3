"""tt.hypot and Tensor.hypot/hypot_: the registration of kernels/hypot.py (CONTRIBUTING.md's worked example)."""

from __future__ import annotations

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import hypot as K
from ..tensor import Tensor
from .copy import to_out
from .dispatch import operands, run_elementwise, sum_to
from .elementwise import inplace


class Hypot(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Tensor:
        out = run_elementwise(K.hypot_ref, K.hypot, [a, b], a.dtype)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        # d/da hypot(a, b) = a / hypot(a, b): 0/0 at the origin gives NaN, as PyTorch's formula does.
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        grad_a = sum_to(grad * a / out, a._shape) if need_a else None
        grad_b = sum_to(grad * b / out, b._shape) if need_b else None
        return grad_a, grad_b


def hypot(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """sqrt(input**2 + other**2) elementwise, broadcast; floating point tensors only (as PyTorch)."""
    for name, value in (("input", input), ("other", other)):
        if not isinstance(value, Tensor):
            raise TypeError(f"hypot(): argument '{name}' must be Tensor, not {type(value).__name__}")
    a, b, dtype = operands(input, other)
    if not dtype.is_floating_point:
        raise RuntimeError(f"\"hypot\" not implemented for '{D.scalar_type_name(dtype)}'")
    return to_out(Hypot.apply(a, b), out)


def _hypot_(self: Tensor, other: Tensor) -> Tensor:
    """In-place hypot."""
    return inplace(hypot, self, other)


__all__ = ["hypot"]
METHODS: dict = {"hypot": hypot, "hypot_": _hypot_}
