"""Binary arithmetic ops registered over kernels/binary.py: div (true_divide, divide), floor_divide,
remainder and fmod, with their operators (/, //, %). sub, the family's other kernel, is registered by
ops/elementwise.py.

Operands are promoted as PyTorch does (dispatch.operands; true division takes integers to the default
float dtype) and broadcast by the kernels. Each op's `backward` is written with tensor ops, so
create_graph=True gives second derivatives; `backward_fused` runs the kernel family's fused backward
(both input gradients in one pass) when no graph is requested.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.grad_mode import state
from ..creation import zeros
from ..kernels import binary as K
from ..kernels.quiet_numpy import quiet
from ..tensor import Tensor
from . import complex as _complex
from .elementwise import cpu_float_pair, cpu_float_scalar, mul, neg, scalar_operand
from .map_ops import (
    BinaryFunction,
    cast_keep_grad,
    check_operand,
    finish,
    in_place_method,
    not_implemented,
    operator_method,
    promote,
)


def _check_divisor(b: Tensor) -> None:
    """PyTorch's CPU backend refuses integer division by zero (its CUDA backend leaves it undefined)."""
    if b.device.type == "cpu" and not b.dtype.is_floating_point and b.numel() and not b._host().all():
        raise RuntimeError("ZeroDivisionError")


# ================================================================ Functions
class Div(BinaryFunction):
    op = K.OPS["div"]
    saves = ("a_for_b", "b")

    @staticmethod
    def saves_inputs(params: tuple) -> bool:
        return params[0] is None  # with a rounding mode the gradients are zeros: nothing to save

    @staticmethod
    def grads(ctx, grad, a, b, need_a, need_b):
        if ctx.params[0] is not None:
            return _zero_grads(ctx)
        ga = div(grad, b) if need_a else None
        gb = mul(neg(grad), div(div(a, b), b)) if need_b else None
        return ga, gb

    def backward_fused(self, grad):
        if self.params[0] is not None:  # nothing was saved: the gradients are zeros
            return (*_zero_grads(self), None)
        return BinaryFunction.backward_fused(self, grad)


def _zero_grads(ctx) -> tuple:
    """The gradients of a piecewise-constant op (div with a rounding mode): zeros, as PyTorch."""
    need = ctx.needs_input_grad[:2]
    grad_dtype, device = ctx.out_meta
    return tuple(zeros(s, dtype=grad_dtype, device=device) if n else None for s, n in zip(ctx.shapes, need))


class Remainder(BinaryFunction):
    op = K.OPS["remainder"]
    saves = ("a_for_b", "b_for_b")

    @staticmethod
    def grads(ctx, grad, a, b, need_a, need_b):
        return grad, (mul(neg(grad), div(a, b, rounding_mode="floor")) if need_b else None)


class Fmod(BinaryFunction):
    op = K.OPS["fmod"]
    saves = ("a_for_b", "b_for_b")

    @staticmethod
    def grads(ctx, grad, a, b, need_a, need_b):
        return grad, (mul(neg(grad), div(a, b, rounding_mode="trunc")) if need_b else None)


# ================================================================ public functions
_ROUNDING_MODES = (None, "trunc", "floor")
# PyTorch's kernel names in its dtype errors.
_DIV_KERNELS = {"trunc": "div_trunc", "floor": "div_floor"}


def _int_division(kernel: str, a: Tensor, b: Tensor, dtype: D.dtype) -> None:
    """Checks shared by the integer-capable divisions: no bool; no integer zero divisor on cpu."""
    if dtype is D.bool:
        raise not_implemented(kernel, a.device, dtype)
    _check_divisor(b)


def div(input, other, *, rounding_mode: str | None = None, out: Tensor | None = None) -> Tensor:
    """input / other: true division (integers give the default float dtype) or, with rounding_mode
    'trunc' / 'floor', rounded toward zero / -inf in the promoted dtype."""
    if rounding_mode is None and out is None:  # the everyday case: NumPy directly, and the node apply would make
        if cpu_float_scalar(input, other):
            result = Tensor._fresh(quiet(np.true_divide, input._np, other), input.dtype)
            if state.enabled and input._requires_grad:
                node = Div.record(Div._scalar_node(input, 1), input, scalar_operand(other, input), (None,))
                return node._link_result(result)
            return result
        if cpu_float_pair(input, other):
            result = Tensor._fresh(quiet(np.true_divide, input._np, other._np), input.dtype)
            if state.enabled and (input._requires_grad or other._requires_grad):
                return Div.record(Div._pair_node(input, other, 1), input, other, (None,))._link_result(result)
            return result
    if rounding_mode not in _ROUNDING_MODES:
        raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                           f"'{rounding_mode}'")
    if rounding_mode is None and (_complex.is_complex_operand(input) or _complex.is_complex_operand(other)):
        return finish(_complex.div(input, other), out)  # real ops on the parts (Triton has no complex type)
    check_operand("div", "input", input)
    check_operand("div", "other", other)
    a, b, dtype = promote(input, other)
    if rounding_mode is None:
        if not dtype.is_floating_point:
            dtype = D.get_default_dtype()
            a, b = cast_keep_grad(a, dtype), cast_keep_grad(b, dtype)
    else:
        _int_division(_DIV_KERNELS[rounding_mode], a, b, dtype)
    return finish(Div.apply(a, b, rounding_mode), out)


def true_divide(dividend, divisor, *, out: Tensor | None = None) -> Tensor:
    """Alias of `tt.div` without `rounding_mode`: true division, integers promoted to float."""
    return div(dividend, divisor, out=out)


def floor_divide(input, other, *, out: Tensor | None = None) -> Tensor:
    """input // other, rounded toward -inf (Python's //); gradient zero."""
    return div(input, other, rounding_mode="floor", out=out)


def _mod(cls, name: str, input, other, out: Tensor | None) -> Tensor:
    check_operand(name, "input", input)
    check_operand(name, "other", other)
    a, b, dtype = promote(input, other)
    _int_division(name, a, b, dtype)
    return finish(cls.apply(a, b), out)


def remainder(input, other, *, out: Tensor | None = None) -> Tensor:
    """Python's %: input - other * floor(input / other), the sign of other."""
    return _mod(Remainder, "remainder", input, other, out)


def fmod(input, other, *, out: Tensor | None = None) -> Tensor:
    """C's fmod: the remainder with the sign of input."""
    return _mod(Fmod, "fmod", input, other, out)


divide = div


# ================================================================ methods and operators
__all__ = ["div", "divide", "true_divide", "floor_divide", "remainder", "fmod"]

METHODS: dict = {
    **{name: globals()[name] for name in __all__},
    **{f"{name}_": in_place_method(globals()[name]) for name in __all__},
    "__truediv__": operator_method(div), "__rtruediv__": operator_method(div, True),
    "__itruediv__": in_place_method(div),
    "__floordiv__": operator_method(floor_divide), "__rfloordiv__": operator_method(floor_divide, True),
    "__ifloordiv__": in_place_method(floor_divide),
    "__mod__": operator_method(remainder), "__rmod__": operator_method(remainder, True),
    "__imod__": in_place_method(remainder),
}
