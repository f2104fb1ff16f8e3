"""The foundation's elementwise ops: add, sub (add with alpha=-1), mul, neg, and their in-place forms."""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..device import CPU
from ..grad_state import state
from ..kernels import elementwise as K
from ..kernels.quiet_numpy import quiet
from ..tensor import Tensor
from . import complex as _complex
from .autocast import autocast_op, checks_hook_itself, op_hook
from .copy import check_inplace, rebase_history, write_into
from .dispatch import broadcast_shapes, expanded, launch_declared, operands, same_cuda, sum_to


def same_cpu(a, b) -> bool:
    """Two plain cpu tensors of one dtype and shape (at least 1-d), both fresh op results (C-contiguous,
    `_stride` not yet made): a model's everyday operands on cpu. Nothing to promote, broadcast or cast, and the
    ufunc's result is a C-contiguous array too (a 0-d ufunc result would be a NumPy scalar), so the ops below run
    NumPy directly (an op that records a graph still gets its node)."""
    return type(a) is Tensor and type(b) is Tensor and a.device is CPU and b.device is CPU and a.dtype is b.dtype \
        and a._shape == b._shape and a._stride is None and b._stride is None and a._np is not None \
        and b._np is not None and a._shape != ()


# Python scalars the scalar hot paths take: a float, or an int that float64 holds exactly (so NumPy's weak-scalar
# conversion to the tensor's dtype rounds it as scalar_tensor does: once).
_EXACT_INT = 1 << 53
_FLOAT32_64 = (D.float32, D.float64)


def cpu_float_scalar(t, value) -> bool:
    """`t op value` for a plain fresh float32/float64 cpu tensor (at least 1-d) and a Python float or int: the
    result keeps t's dtype and NumPy's weak-scalar ufunc computes exactly what the general path does (the scalar
    rounded to t's dtype once), so the ops below call NumPy directly. Half types are left to the general path."""
    kind = type(value)
    return (kind is float or (kind is int and -_EXACT_INT <= value <= _EXACT_INT)) and type(t) is Tensor \
        and t._np is not None and t.device is CPU and t._stride is None and t.dtype in _FLOAT32_64 \
        and t._shape != ()


def scalar_operand(value, like: Tensor) -> Tensor:
    """The 0-d tensor the general path makes of a `cpu_float_scalar` value (what a recording node saves)."""
    return Tensor._fresh(np.array(value, like.dtype.np), like.dtype)


def cpu_float_pair(a, b) -> bool:
    """`same_cpu` operands of float32 or float64 (for ops that would promote integers or compute half types in
    float32)."""
    return same_cpu(a, b) and a.dtype in _FLOAT32_64


def _cuda_pair(kernel, a: Tensor, b: Tensor) -> Tensor:
    """kernel(out, a, b) for `dispatch.same_cuda` operands, into a new contiguous tensor: `_binary`'s cuda
    branch for operands it would neither broadcast nor cast. `kernel` declares its map op (`K.runs_map`): a
    launch made before runs again by its plan, without the DeviceArrays."""
    out = Tensor._empty(a._shape, a.dtype, a.device)
    if not launch_declared(kernel.map_op, out, a, b):
        kernel(out._dev(), a._dev(), b._dev())
    return out


def _binary(ref, kernel, a: Tensor, b: Tensor, dtype: D.dtype, *params) -> Tensor:
    """Run a binary op on one-dtype operands: NumPy on cpu, the Triton kernel on cuda."""
    if a.device.type == "cpu":
        if a._shape != b._shape:
            broadcast_shapes(a._shape, b._shape)  # PyTorch's error, not NumPy's
        x = a._np if a._np is not None else a._host()
        y = b._np if b._np is not None else b._host()
        out = Tensor._wrap(ref(x, y, *params))
        return out if out.dtype is dtype else Tensor._wrap(out._np.astype(dtype.np))
    if not params and dtype is a.dtype and same_cuda(a, b):
        return _cuda_pair(kernel, a, b)
    shape = a._shape if a._shape == b._shape else broadcast_shapes(a._shape, b._shape)
    out = Tensor._empty(shape, dtype, a.device)
    kernel(out._dev(), expanded(a, shape), expanded(b, shape), *params)
    return out


class Add(Function):
    differentiable_forward = False
    shapes = None  # (a's shape, b's shape); None: both are the result's (add's hot path sets nothing)
    alpha = 1

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, alpha) -> Tensor:
        ctx.shapes = (a._shape, b._shape)
        ctx.alpha = alpha
        return _binary(K.add_ref, K.add, a, b, a.dtype, alpha)

    @staticmethod
    def backward(ctx, grad):
        need_a, need_b = ctx.needs_input_grad[:2]
        if ctx.shapes is None:  # the hot path's node: same shapes, alpha 1
            return (grad if need_a else None), (grad if need_b else None), None
        shape_a, shape_b = ctx.shapes
        grad_a = sum_to(grad, shape_a) if need_a else None
        grad_b = None
        if need_b:
            grad_b = sum_to(grad if ctx.alpha == 1 else grad * ctx.alpha, shape_b)
        return grad_a, grad_b, None

    def _free(self) -> None:
        """Nothing to free: the node keeps two shapes and alpha, no tensors (and a second backward works)."""


class Sub(Add):
    """a - alpha * b: Add with the sign folded into alpha, named as PyTorch names its node."""


class Mul(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Tensor:
        if ctx.needs_input_grad:
            Mul.save_operands(ctx, a, b)
        return _binary(K.mul_ref, K.mul, a, b, a.dtype)

    @staticmethod
    def save_operands(ctx, a: Tensor, b: Tensor) -> Function:
        """What a recording node saves (also for the hot paths, which compute the product themselves); returns
        ctx."""
        need = ctx.needs_input_grad
        # Each operand is needed only for the other's gradient: x = a * 2; x.mul_(3) must still work.
        ctx.save_for_backward(a if need[1] else None, b if need[0] else None)
        ctx.shapes = (a._shape, b._shape)
        return ctx

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        shape_a, shape_b = ctx.shapes
        grad_a = sum_to(grad * b, shape_a) if b is not None else None
        grad_b = sum_to(grad * a, shape_b) if a is not None else None
        return grad_a, grad_b

    def backward_fused(self, grad):
        """Both gradients in one kernel pass on cuda (NumPy on cpu), then reduced over broadcast dims."""
        a, b = self.saved_tensors
        if a is None or b is None:
            return Mul.backward(self, grad)
        if grad.device.type == "cpu":
            ga, gb = K.mul_backward_ref(grad._host(), a._host(), b._host())
            ga, gb = Tensor._wrap(ga), Tensor._wrap(gb)
        else:
            shape = grad._shape
            ga = Tensor._empty(shape, grad.dtype, grad.device)
            gb = Tensor._empty(shape, grad.dtype, grad.device)
            K.mul_backward(ga._dev(), gb._dev(), grad._dev(), expanded(a, shape), expanded(b, shape))
        return sum_to(ga, a._shape), sum_to(gb, b._shape)


class Neg(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        if x.dtype is D.bool:
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
                               "to invert a mask, use the `~` or `logical_not()` operator instead.")
        if x.device.type == "cpu":
            return Tensor._wrap(K.neg_ref(x._host()))
        out = Tensor._empty(x._shape, x.dtype, x.device)
        K.neg(out._dev(), x._dev())
        return out

    @staticmethod
    def backward(ctx, grad):
        return -grad


@checks_hook_itself("add")
def add(input, other, *, alpha=1, out=None) -> Tensor:
    """`input + alpha * other` elementwise, with broadcasting and type promotion.

    Example:
        >>> tt.add(tt.tensor([1.0, 2.0]), tt.tensor([10.0, 20.0]), alpha=2)
        tensor([21., 42.])
    """
    if alpha == 1 and out is None and op_hook.trace is None:
        if same_cpu(input, other):
            result = Tensor._fresh(quiet(np.add, input._np, other._np), input.dtype)
        elif same_cuda(input, other):
            result = _cuda_pair(K.add, input, other)
        elif cpu_float_scalar(input, other):
            result = Tensor._fresh(quiet(np.add, input._np, other), input.dtype)
            if state.enabled and input._requires_grad:
                return Add._scalar_node(input, 1)._link_result(result)  # the class defaults hold: b needs no grad
            return result
        else:
            return _add(input, other)
        if state.enabled and (input._requires_grad or other._requires_grad):
            return Add._pair_node(input, other, 1)._link_result(result)  # Add's class defaults: same shapes, alpha 1
        return result
    return _add(input, other, **_keywords(alpha, out))


def _add_general(input, other, *, alpha=1, out=None) -> Tensor:
    a, b, dtype = operands(input, other)
    if alpha != 1 and not dtype.is_floating_point and isinstance(alpha, float):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")
    if dtype is D.bool and alpha != 1:
        raise RuntimeError("Boolean alpha only supported for Boolean results.")
    result = Add.apply(a, b, alpha)
    return result if out is None else _into(out, result)


@checks_hook_itself("sub")
def sub(input, other, *, alpha=1, out=None) -> Tensor:
    """`input - alpha * other` elementwise; alias `subtract`."""
    if alpha == 1 and out is None and op_hook.trace is None and same_cpu(input, other) \
            and input.dtype is not D.bool:
        result = Tensor._fresh(quiet(np.subtract, input._np, other._np), input.dtype)
        if state.enabled and (input._requires_grad or other._requires_grad):
            node = Sub._pair_node(input, other, 1)
            node.shapes, node.alpha = (input._shape, other._shape), -1  # what Sub.apply(input, other, -1) records
            return node._link_result(result)
        return result
    if alpha == 1 and out is None and op_hook.trace is None and cpu_float_scalar(input, other):
        result = Tensor._fresh(quiet(np.subtract, input._np, other), input.dtype)
        if state.enabled and input._requires_grad:
            return Sub._scalar_node(input, 1)._link_result(result)  # Add's class defaults hold: b needs no grad
        return result
    if alpha == 1 and out is None and op_hook.trace is None and same_cuda(input, other) and input.dtype is not D.bool \
            and not (state.enabled and (input._requires_grad or other._requires_grad)):
        return _cuda_pair(K.add_minus, input, other)
    return _sub(input, other, **_keywords(alpha, out))


def _sub_general(input, other, *, alpha=1, out=None) -> Tensor:
    a, b, dtype = operands(input, other)
    if dtype is D.bool:
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying "
                           "to invert a mask, use the `~` or `logical_not()` operator instead.")
    result = Sub.apply(a, b, -alpha)
    return result if out is None else _into(out, result)


@checks_hook_itself("mul")
def mul(input, other, *, out=None) -> Tensor:
    """`input * other` elementwise, with broadcasting and type promotion; alias `multiply`."""
    if out is None and op_hook.trace is None and same_cpu(input, other) and not input.dtype.is_complex:
        result = Tensor._fresh(quiet(np.multiply, input._np, other._np), input.dtype)
        if state.enabled and (input._requires_grad or other._requires_grad):
            return Mul.save_operands(Mul._pair_node(input, other), input, other)._link_result(result)
        return result
    if out is None and op_hook.trace is None and cpu_float_scalar(input, other):
        result = Tensor._fresh(quiet(np.multiply, input._np, other), input.dtype)
        if state.enabled and input._requires_grad:
            node = Mul.save_operands(Mul._scalar_node(input), input, scalar_operand(other, input))
            return node._link_result(result)
        return result
    if out is None and op_hook.trace is None and same_cuda(input, other) \
            and not (state.enabled and (input._requires_grad or other._requires_grad)):
        return _cuda_pair(K.mul, input, other)
    return _mul(input, other, **_keywords(1, out))


def _mul_general(input, other, *, out=None) -> Tensor:
    if _complex.is_complex_operand(input) or _complex.is_complex_operand(other):
        result = _complex.mul(input, other)  # Triton has no complex type: real ops on the parts
        return result if out is None else _into(out, result)
    a, b, _ = operands(input, other)
    result = Mul.apply(a, b)
    return result if out is None else _into(out, result)


def _keywords(alpha, out) -> dict:
    """The keywords a call gave other than their defaults: what the general path's tracer records (the
    profiler's input shapes list each argument)."""
    given = {} if alpha == 1 else {"alpha": alpha}
    if out is not None:
        given["out"] = out
    return given


# The general paths as bound (autocast, and the op hook of the profiler and the export tracer, see them); the
# public add/sub/mul test the hook themselves and are bound unwrapped.
_add = autocast_op("add", _add_general)
_sub = autocast_op("sub", _sub_general)
_mul = autocast_op("mul", _mul_general)


def neg(input: Tensor, *, out=None) -> Tensor:
    """`-input` elementwise; alias `negative`. Bool tensors raise, as in PyTorch."""
    result = Neg.apply(input)
    return result if out is None else _into(out, result)


def _into(out: Tensor, result: Tensor) -> Tensor:
    if out._shape != result._shape:
        raise RuntimeError(f"out has shape {list(out._shape)} but the result has shape {list(result._shape)}")
    write_into(out, result)
    return out


def inplace(op, self: Tensor, *args, **kwargs) -> Tensor:
    """self = op(self, *args) in self's memory, with autograd history moved onto self."""
    check_inplace(self, *args, *kwargs.values())  # an operand that requires grad counts, as in PyTorch
    result = op(self, *args, **kwargs)
    if result.dtype is not self.dtype and not D.can_cast(result.dtype, self.dtype):
        raise RuntimeError(f"result type {D.scalar_type_name(result.dtype)} can't be cast to the desired output "
                           f"type {D.scalar_type_name(self.dtype)}")
    if result._shape != self._shape:
        raise RuntimeError(f"output with shape {list(self._shape)} doesn't match the broadcast shape "
                           f"{list(result._shape)}")
    write_into(self, result)
    rebase_history(self, result)
    return self


negative = neg
subtract = sub
multiply = mul

__all__ = ["add", "sub", "mul", "neg", "negative", "subtract", "multiply"]


def _reflected(fn, commutative: bool = False):
    """The reflected operator `other <op> self`. For a commutative op (+, *) and a Python number it computes
    `self <op> other`, the same bits (IEEE addition and multiplication commute), through the op's scalar hot
    path."""
    def method(self: Tensor, other) -> Tensor:
        if commutative and (type(other) is float or type(other) is int):
            return fn(self, other)
        return fn(other, self)

    method.__name__ = f"__r{fn.__name__}__"
    method.__doc__ = f"Reflected operator: `tt.{fn.__name__}(other, self)`."
    return method


def _add_(self: Tensor, other, *, alpha=1) -> Tensor:
    """In-place `self += alpha * other`."""
    return inplace(add, self, other, alpha=alpha)


def _sub_(self: Tensor, other, *, alpha=1) -> Tensor:
    """In-place `self -= alpha * other`."""
    return inplace(sub, self, other, alpha=alpha)


def _mul_(self: Tensor, other) -> Tensor:
    """In-place `self *= other`."""
    return inplace(mul, self, other)


def _neg_(self: Tensor) -> Tensor:
    """In-place negation."""
    return inplace(neg, self)


METHODS: dict = {
    "add": add, "sub": sub, "mul": mul, "neg": neg, "subtract": sub, "multiply": mul, "negative": neg,
    "add_": _add_, "sub_": _sub_, "mul_": _mul_, "neg_": _neg_,
    "__add__": add, "__radd__": _reflected(add, commutative=True), "__iadd__": _add_,
    "__sub__": sub, "__rsub__": _reflected(sub), "__isub__": _sub_,
    "__mul__": mul, "__rmul__": _reflected(mul, commutative=True), "__imul__": _mul_,
    "__neg__": neg,
}
