"""Binary arithmetic ops (div, pow, maximum, ...) registered over kernels/binary.py.

Operands are promoted as PyTorch does (dispatch.operands; true division and atan2 take integers to
the default float dtype) and broadcast by the kernels. Each op's `backward` is written with tensor
ops, so create_graph=True gives second derivatives; `backward_fused` runs the kernel family's fused
backward (both input gradients in one pass) when no graph is requested.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..autograd.grad_mode import state
from ..creation import zeros
from ..kernels import binary as K
from ..tensor import Tensor
from .comparison import (
    cast_keep_grad,
    check_shapes,
    eq,
    fused_grads,
    ge,
    gt,
    is_number,
    logical_and,
    lt,
    not_implemented,
    promote,
    where,
)
from .dispatch import broadcast_shapes, check_same_device, expanded, run_elementwise, sum_to
from .elementwise import _into, inplace, mul, neg, sub


def _finish(result: Tensor, out: Tensor | None) -> Tensor:
    return result if out is None else _into(out, result)


def _check_operand(op: str, name: str, value, numbers: bool = True) -> None:
    if type(value) is Tensor or (numbers and is_number(value)):
        return
    expected = "Tensor or Number" if numbers else "Tensor"
    raise TypeError(f"{op}(): argument '{name}' must be {expected}, not {type(value).__name__}")


def _check_divisor(b: Tensor) -> None:
    """PyTorch's CPU backend refuses integer division by zero (its CUDA backend leaves it undefined)."""
    if b.device.type == "cpu" and not b.dtype.is_floating_point and b.numel() and not b._host().all():
        raise RuntimeError("ZeroDivisionError")


def _reduce(grad: Tensor | None, shape: tuple) -> Tensor | None:
    return None if grad is None else sum_to(grad, shape)


# ================================================================ ops on two same-dtype tensors
class _Binary(Function):
    """out = op(a, b, *params) for two tensors of one dtype, broadcast by the kernel.

    A subclass names its kernels.binary entry (`op`), which inputs its backward reads (`saves`: 'a' / 'b'
    always, 'a_for_b' / 'b_for_b' only when b's gradient is needed; saving no more than that keeps PyTorch's
    in-place rules) and its tensor-op gradients (`grads`).
    """

    differentiable_forward = False
    op: K.BinaryOp
    saves = ("a", "b")

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, *params) -> Tensor:
        cls = type(ctx)
        ctx.params = params
        ctx.shapes = (a._shape, b._shape)
        ctx.out_meta = (a.dtype, a.device)
        need = ctx.needs_input_grad
        if need and not (cls is Div and params[0] is not None):
            keep_a = "a" in cls.saves or ("a_for_b" in cls.saves and need[1])
            keep_b = "b" in cls.saves or ("b_for_b" in cls.saves and need[1])
            ctx.save_for_backward(a if keep_a else None, b if keep_b else None)
        return run_elementwise(cls.op.forward_ref, cls.op.forward, [a, b], a.dtype, *params)

    @staticmethod
    def grads(ctx, grad: Tensor, a: Tensor, b: Tensor, need_a: bool, need_b: bool) -> tuple:
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors or (None, None)
        need_a, need_b = ctx.needs_input_grad[:2]
        ga, gb = type(ctx).grads(ctx, grad, a, b, need_a, need_b)
        return (_reduce(ga if need_a else None, ctx.shapes[0]), _reduce(gb if need_b else None, ctx.shapes[1]),
                *([None] * len(ctx.params)))

    def backward_fused(self, grad):
        a, b = self.saved_tensors
        need = tuple(self.needs_input_grad[:2])
        # An input the requested gradients don't read was not saved; grad (same shape) stands in for it.
        ga, gb = fused_grads(type(self).op, need, grad, [grad if a is None else a, grad if b is None else b],
                             *self.params)
        return (_reduce(ga, self.shapes[0]), _reduce(gb, self.shapes[1]), *([None] * len(self.params)))


class Div(_Binary):
    op = K.OPS["div"]
    saves = ("a_for_b", "b")

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
        return _Binary.backward_fused(self, grad)


def _zero_grads(ctx) -> tuple:
    """The gradients of a piecewise-constant op (div with a rounding mode): zeros, as PyTorch."""
    need = ctx.needs_input_grad[:2]
    grad_dtype, device = ctx.out_meta
    return tuple(zeros(s, dtype=grad_dtype, device=device) if n else None for s, n in zip(ctx.shapes, need))


class Remainder(_Binary):
    op = K.OPS["remainder"]
    saves = ("a_for_b", "b_for_b")

    @staticmethod
    def grads(ctx, grad, a, b, need_a, need_b):
        return grad, (mul(neg(grad), div(a, b, rounding_mode="floor")) if need_b else None)


class Fmod(_Binary):
    op = K.OPS["fmod"]
    saves = ("a_for_b", "b_for_b")

    @staticmethod
    def grads(ctx, grad, a, b, need_a, need_b):
        return grad, (mul(neg(grad), div(a, b, rounding_mode="trunc")) if need_b else None)


class Pow(_Binary):
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
    # The unary family registers log; looked up at call time so that module loads in any order.
    from . import unary

    return unary.log(x)


class Maximum(_Binary):
    op = K.OPS["maximum"]

    @staticmethod
    def grads(ctx, grad, a, b, need_a, need_b):
        return _max_grads(grad, a, b)


class Minimum(_Binary):
    op = K.OPS["minimum"]

    @staticmethod
    def grads(ctx, grad, a, b, need_a, need_b):
        # min(a, b) takes a where max(b, a) would take b: the same masks with the comparisons swapped.
        return _max_grads(grad, b, a)


def _max_grads(grad: Tensor, a: Tensor, b: Tensor) -> tuple:
    # PyTorch: ties split the gradient in halves; with a NaN neither side is smaller, both get grad.
    shared = where(eq(a, b), mul(grad, 0.5), grad)
    return where(lt(a, b), 0.0, shared), where(gt(a, b), 0.0, shared)


class Atan2(_Binary):
    op = K.OPS["atan2"]

    @staticmethod
    def grads(ctx, grad, a, b, need_a, need_b):
        recip = div(1.0, mul(a, a) + mul(b, b))
        ga = mul(mul(grad, b), recip) if need_a else None
        gb = mul(mul(grad, neg(a)), recip) if need_b else None
        return ga, gb


# ================================================================ pow with a number on one side
class _PowNumber(Function):
    """x ** number (PowScalar) or number ** x (RPow): one tensor, the number a kernel parameter."""

    differentiable_forward = False
    op: K.BinaryOp

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


# ================================================================ lerp
class Lerp(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, start: Tensor, end: Tensor, weight) -> Tensor:
        ctx.shapes = (start._shape, end._shape, weight._shape if type(weight) is Tensor else None)
        ctx.weight = None if type(weight) is Tensor else weight
        if ctx.needs_input_grad:
            ctx.save_for_backward(start, end, weight if type(weight) is Tensor else None)
        if start.device.type == "cpu":
            w = weight._host() if type(weight) is Tensor else weight
            return Tensor._wrap(np.asarray(K.lerp_ref(start._host(), end._host(), w)))
        shape = broadcast_shapes(*(t._shape for t in (start, end, weight) if type(t) is Tensor))
        out = Tensor._empty(shape, start.dtype, start.device)
        w = expanded(weight, shape) if type(weight) is Tensor else weight
        K.lerp(out._dev(), expanded(start, shape), expanded(end, shape), w)
        return out

    def _inputs(self) -> tuple:
        start, end, weight = self.saved_tensors
        return start, end, weight if weight is not None else self.weight

    @staticmethod
    def backward(ctx, grad):
        start, end, weight = ctx._inputs()
        need_s, need_e, need_w = ctx.needs_input_grad[:3]
        gs = _reduce(mul(grad, 1 - weight), ctx.shapes[0]) if need_s else None
        ge_ = _reduce(mul(grad, weight), ctx.shapes[1]) if need_e else None
        gw = _reduce(mul(grad, end - start), ctx.shapes[2]) if need_w else None
        return gs, ge_, gw

    def backward_fused(self, grad):
        grads = fused_grads(K.OPS["lerp"], tuple(self.needs_input_grad[:3]), grad, list(self._inputs()))
        return tuple(_reduce(g, s) for g, s in zip(grads, self.shapes))


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
    if rounding_mode not in _ROUNDING_MODES:
        raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                           f"'{rounding_mode}'")
    _check_operand("div", "input", input)
    _check_operand("div", "other", other)
    a, b, dtype = promote(input, other)
    if rounding_mode is None:
        if not dtype.is_floating_point:
            dtype = D.get_default_dtype()
            a, b = cast_keep_grad(a, dtype), cast_keep_grad(b, dtype)
    else:
        _int_division(_DIV_KERNELS[rounding_mode], a, b, dtype)
    return _finish(Div.apply(a, b, rounding_mode), out)


def true_divide(dividend, divisor, *, out: Tensor | None = None) -> Tensor:
    return div(dividend, divisor, out=out)


def floor_divide(input, other, *, out: Tensor | None = None) -> Tensor:
    """input // other, rounded toward -inf (Python's //); gradient zero."""
    return div(input, other, rounding_mode="floor", out=out)


def _mod(cls, name: str, input, other, out: Tensor | None) -> Tensor:
    _check_operand(name, "input", input)
    _check_operand(name, "other", other)
    a, b, dtype = promote(input, other)
    _int_division(name, a, b, dtype)
    return _finish(cls.apply(a, b), out)


def remainder(input, other, *, out: Tensor | None = None) -> Tensor:
    """Python's %: input - other * floor(input / other), the sign of other."""
    return _mod(Remainder, "remainder", input, other, out)


def fmod(input, other, *, out: Tensor | None = None) -> Tensor:
    """C's fmod: the remainder with the sign of input."""
    return _mod(Fmod, "fmod", input, other, out)


def pow(input, exponent, *, out: Tensor | None = None) -> Tensor:  # noqa: A001 - PyTorch's name
    """input ** exponent: tensor ** tensor, tensor ** number or number ** tensor."""
    if type(input) is Tensor and is_number(exponent):
        dtype = D.result_type(input, exponent)
        if dtype is D.bool:
            raise not_implemented("pow", input.device, dtype, suffix=False)
        if not dtype.is_floating_point and exponent < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        return _finish(PowScalar.apply(cast_keep_grad(input, dtype), exponent), out)
    if is_number(input) and type(exponent) is Tensor:
        dtype = D.result_type(input, exponent)
        if dtype is D.bool:
            raise not_implemented("pow", exponent.device, dtype, suffix=False)
        return _finish(RPow.apply(cast_keep_grad(exponent, dtype), input), out)
    _check_operand("pow", "input", input, numbers=False)
    _check_operand("pow", "exponent", exponent)
    a, b, dtype = promote(input, exponent)
    if dtype is D.bool:
        raise not_implemented("pow", a.device, dtype, suffix=False)
    return _finish(Pow.apply(a, b), out)


def _tensor_pair(op: str, input, other, float_only: bool = False) -> tuple[Tensor, Tensor]:
    _check_operand(op, "input", input, numbers=False)
    _check_operand(op, "other", other, numbers=False)
    a, b, dtype = promote(input, other)
    if float_only and not dtype.is_floating_point:
        dtype = D.get_default_dtype()
        a, b = cast_keep_grad(a, dtype), cast_keep_grad(b, dtype)
    return a, b


def maximum(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Elementwise max (NaN propagates); the gradient of a tie is split in halves."""
    return _finish(Maximum.apply(*_tensor_pair("maximum", input, other)), out)


def minimum(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    return _finish(Minimum.apply(*_tensor_pair("minimum", input, other)), out)


def atan2(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """atan2(input, other): the angle of (other, input), integers promoted to the default float dtype."""
    return _finish(Atan2.apply(*_tensor_pair("atan2", input, other, float_only=True)), out)


def lerp(input: Tensor, end: Tensor, weight, *, out: Tensor | None = None) -> Tensor:
    """input + weight * (end - input); weight a tensor or a number. No type promotion, as PyTorch."""
    _check_operand("lerp", "input", input, numbers=False)
    _check_operand("lerp", "end", end, numbers=False)
    _check_operand("lerp", "weight", weight)
    for name, t in (("end", end), ("weight", weight)):
        if type(t) is Tensor and t.dtype is not input.dtype:
            raise RuntimeError(f"expected dtype {input.dtype} for `{name}` but got dtype {t.dtype}")
    if not input.dtype.is_floating_point:
        kernel = "lerp_kernel_tensor" if type(weight) is Tensor else "lerp_kernel_scalar"
        raise RuntimeError(f"\"{kernel}\" not implemented for '{D.scalar_type_name(input.dtype)}'")
    check_same_device(input, end, *([weight] if type(weight) is Tensor else []))
    check_shapes(input, end, weight)
    return _finish(Lerp.apply(input, end, weight), out)


divide = div
arctan2 = atan2


# ================================================================ methods and operators
def _operator(fn, reflected: bool = False):
    """A Python operator: NotImplemented for operands that are neither tensors nor numbers."""
    def method(self, other):
        if type(other) is not Tensor and not is_number(other):
            return NotImplemented
        return fn(other, self) if reflected else fn(self, other)

    method.__name__ = fn.__name__
    return method


def _in_place(fn):
    """x.op_(...): the result written into x. When x takes part in autograd, the op reads a copy of the
    value being overwritten (what its backward saved would otherwise change under it)."""
    def method(self, *args, **kwargs):
        src = self.clone() if state.enabled and self._requires_grad else self
        return inplace(lambda _, *a, **k: fn(src, *a, **k), self, *args, **kwargs)

    method.__name__ = f"{fn.__name__}_"
    return method


def _pow_operator(self: Tensor, other, modulo=None):
    if modulo is not None or (type(other) is not Tensor and not is_number(other)):
        return NotImplemented
    return pow(self, other)


__all__ = ["div", "divide", "true_divide", "floor_divide", "remainder", "fmod", "pow", "maximum", "minimum",
           "atan2", "arctan2", "lerp"]

METHODS: dict = {
    **{name: globals()[name] for name in __all__},
    **{f"{name}_": _in_place(globals()[name]) for name in (
        "div", "divide", "true_divide", "floor_divide", "remainder", "fmod", "pow", "atan2", "arctan2", "lerp")},
    "__truediv__": _operator(div), "__rtruediv__": _operator(div, True), "__itruediv__": _in_place(div),
    "__floordiv__": _operator(floor_divide), "__rfloordiv__": _operator(floor_divide, True),
    "__ifloordiv__": _in_place(floor_divide),
    "__mod__": _operator(remainder), "__rmod__": _operator(remainder, True), "__imod__": _in_place(remainder),
    "__pow__": _pow_operator, "__rpow__": _operator(pow, True), "__ipow__": _in_place(pow),
}
