"""pow (tensor ** tensor, tensor ** number, number ** tensor) registered over kernels/pow.py, with the
operators ** and **=.

Operands are promoted as PyTorch does; a Python-number exponent or base is a kernel parameter (no 0-d
tensor is made). Each op's `backward` is written with tensor ops, so create_graph=True gives second
derivatives; `backward_fused` runs the kernel family's fused backward when no graph is requested.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..creation import zeros
from ..kernels import pow as K
from ..kernels.map_ops import BinaryOp
from ..tensor import Tensor
from .comparison import eq, ge
from .dispatch import run_elementwise
from .elementwise import mul, sub
from .logical import logical_and
from .map_ops import (
    BinaryFunction,
    cast_keep_grad,
    check_operand,
    finish,
    fused_grads,
    in_place_method,
    is_number,
    not_implemented,
    operator_method,
    promote,
)
from .where import where


class Pow(BinaryFunction):
    op = K.OPS["pow"]

    def name(self) -> str:
        return "PowBackward1"  # PyTorch's node names: 0 tensor ** number, 1 tensor ** tensor, 2 number ** tensor

    @staticmethod
    def grads(ctx, grad, a, b, need_a, need_b):
        ga = gb = None
        if need_a:  # b * a ** (b - 1), 0 where b == 0 (so 0 ** 0 has no infinite gradient)
            ga = where(eq(b, 0), 0.0, mul(grad, mul(b, pow(a, sub(b, 1)))))
        if need_b:  # a ** b * log(a), 0 where a == 0 and b >= 0
            special = logical_and(eq(a, 0), ge(b, 0))
            gb = mul(grad, where(special, 0.0, mul(pow(a, b), _log(a))))
        return ga, gb


def _log(x: Tensor) -> Tensor:
    # The exponential family registers log; looked up at call time so that module loads in any order.
    from . import exponential

    return exponential.log(x)


# ================================================================ pow with a number on one side
class _PowNumber(Function):
    """x ** number (PowScalar) or number ** x (RPow): one tensor, the number a kernel parameter."""

    differentiable_forward = False
    op: BinaryOp

    @staticmethod
    def forward(ctx, x: Tensor, number) -> Tensor:
        ctx.number = number
        if ctx.needs_input_grad:
            ctx.save_for_backward(x)
        op = type(ctx).op
        return run_elementwise(op.forward_ref, op.forward, [x], x.dtype, number)

    def backward_fused(self, grad):
        (x,) = self.saved_tensors
        (gx,) = fused_grads(type(self).op, (True,), grad, [x], self.number)
        return gx, None


class PowScalar(_PowNumber):
    op = K.OPS["pow_scalar"]

    def name(self) -> str:
        return "PowBackward0"

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        e = ctx.number
        if e == 0:
            return zeros(x._shape, dtype=grad.dtype, device=grad.device), None
        return mul(grad, mul(pow(x, e - 1), e)), None


class RPow(_PowNumber):
    op = K.OPS["rpow"]

    def name(self) -> str:
        return "PowBackward2"

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        base = ctx.number
        with np.errstate(all="ignore"):
            log_base = float(np.log(np.float64(base)))
        g = mul(pow(base, x), log_base)
        if base == 0:  # PyTorch: 0 where the exponent is >= 0 (0 ** x is flat there)
            g = where(ge(x, 0), 0.0, g)
        return mul(grad, g), None


# ================================================================ public function and operators
def pow(input, exponent, *, out: Tensor | None = None) -> Tensor:  # noqa: A001 - PyTorch's name
    """input ** exponent: tensor ** tensor, tensor ** number or number ** tensor."""
    if type(input) is Tensor and is_number(exponent):
        dtype = D.result_type(input, exponent)
        if dtype is D.bool:
            raise not_implemented("pow", input.device, dtype, suffix=False)
        if not dtype.is_floating_point and exponent < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        return finish(PowScalar.apply(cast_keep_grad(input, dtype), exponent), out)
    if is_number(input) and type(exponent) is Tensor:
        dtype = D.result_type(input, exponent)
        if dtype is D.bool:
            raise not_implemented("pow", exponent.device, dtype, suffix=False)
        return finish(RPow.apply(cast_keep_grad(exponent, dtype), input), out)
    check_operand("pow", "input", input, numbers=False)
    check_operand("pow", "exponent", exponent)
    a, b, dtype = promote(input, exponent)
    if dtype is D.bool:
        raise not_implemented("pow", a.device, dtype, suffix=False)
    return finish(Pow.apply(a, b), out)


def _pow_operator(self: Tensor, other, modulo=None):
    """`self ** other` (a tensor or a number); the three-argument `pow(x, y, mod)` is unsupported."""
    if modulo is not None or (type(other) is not Tensor and not is_number(other)):
        return NotImplemented
    return pow(self, other)


__all__ = ["pow"]

METHODS: dict = {
    "pow": pow, "pow_": in_place_method(pow),
    "__pow__": _pow_operator, "__rpow__": operator_method(pow, True), "__ipow__": in_place_method(pow),
}
