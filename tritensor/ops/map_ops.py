"""What the op modules over the map-kernel families share (no op of its own; mirrors kernels/map_ops.py).

binary, pow, maximum, atan2, lerp, comparison, logical, where, clamp and nonfinite build on:
- operand checks and PyTorch's promotion that keeps autograd links through the casts (`promote`,
  `cast_keep_grad`), PyTorch's error messages (`not_implemented`, `type_error`);
- `fused_grads`, an op's fused backward (NumPy reference on cpu, one kernel pass on cuda);
- `BinaryFunction`, the autograd Function of an op on two same-dtype tensors broadcast by the kernel;
- `operator_method` / `in_place_method`, the Tensor operators and `x.op_(...)` forms.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..autograd.grad_mode import state
from ..kernels.map_ops import BinaryOp
from ..tensor import Tensor
from .copy import to_copy
from .dispatch import broadcast_shapes, cast, expanded, operands, run_elementwise, sum_to
from .elementwise import _into, inplace


# ================================================================ operands, promotion and errors
def not_implemented(kernel: str, device, dtype: D.dtype, suffix: bool = True) -> RuntimeError:
    """PyTorch's dispatch error: `"div_floor_cpu" not implemented for 'Bool'`."""
    name = f"{kernel}_{device.type}" if suffix else kernel
    return RuntimeError(f"\"{name}\" not implemented for '{D.scalar_type_name(dtype)}'")


def type_error(op: str, arg: str, value, expected: str = "Tensor") -> TypeError:
    return TypeError(f"{op}(): argument '{arg}' must be {expected}, not {type(value).__name__}")


def is_number(value) -> bool:
    return isinstance(value, (bool, int, float)) and not isinstance(value, Tensor)


def check_operand(op: str, name: str, value, numbers: bool = True) -> None:
    """A Tensor (or, with `numbers`, a Python number) or PyTorch's TypeError."""
    if type(value) is Tensor or (numbers and is_number(value)):
        return
    raise type_error(op, name, value, "Tensor or Number" if numbers else "Tensor")


def cast_keep_grad(t: Tensor, dtype: D.dtype) -> Tensor:
    """dispatch.cast, but through the differentiable conversion when t takes part in autograd (so a
    promoted operand still passes its gradient back, converted to its own dtype)."""
    if t.dtype is dtype:
        return t
    if state.enabled and t._requires_grad:
        return to_copy(t, dtype, t.device)
    return cast(t, dtype)


def check_shapes(*tensors) -> None:
    """Raise PyTorch's broadcast error up front (the cpu references would raise NumPy's ValueError)."""
    shapes = [t._shape for t in tensors if type(t) is Tensor]
    if any(s != shapes[0] for s in shapes[1:]):
        broadcast_shapes(*shapes)


def promote(a, b) -> tuple:
    """dispatch.operands (PyTorch promotion of two tensors / a tensor and a number), keeping autograd
    links through the casts."""
    check_shapes(a, b)
    x, y, dtype = operands(a, b)
    if state.enabled:
        if type(a) is Tensor and x is not a and a._requires_grad:
            x = to_copy(a, dtype, a.device)
        if type(b) is Tensor and y is not b and b._requires_grad:
            y = to_copy(b, dtype, b.device)
    return x, y, dtype


def tensor_pair(op: str, input, other, float_only: bool = False) -> tuple[Tensor, Tensor]:
    """Two tensors promoted to one dtype (the default float dtype for integers when `float_only`)."""
    check_operand(op, "input", input, numbers=False)
    check_operand(op, "other", other, numbers=False)
    a, b, dtype = promote(input, other)
    if float_only and not dtype.is_floating_point:
        dtype = D.get_default_dtype()
        a, b = cast_keep_grad(a, dtype), cast_keep_grad(b, dtype)
    return a, b


def finish(result: Tensor, out: Tensor | None) -> Tensor:
    """The result, or written into `out=` when one was given."""
    return result if out is None else _into(out, result)


# ================================================================ operands of a kernel and its reference
def host_value(v, dtype: D.dtype):
    """A where/clamp operand for a NumPy reference: a tensor's array, or a number rounded to dtype (as the
    kernel's encode_scalar does; out-of-range integers wrap, as dispatch.scalar_tensor)."""
    if type(v) is Tensor:
        return v._host()
    if v is None:
        return None
    return np.array(v, dtype=np.float64 if isinstance(v, float) else np.int64).astype(dtype.np)


def kernel_value(v, shape: tuple):
    """A kernel operand: a tensor broadcast-viewed to `shape`, a number (or None) as it is."""
    return expanded(v, shape) if type(v) is Tensor else v


def shape_of(*operands_) -> tuple:
    """The broadcast shape of the tensor operands (numbers and None take no part)."""
    return broadcast_shapes(*(t._shape for t in operands_ if type(t) is Tensor))


def fused_grads(op, need: tuple, grad: Tensor, inputs: list, *params) -> list:
    """An op's fused backward for the gradients flagged in `need` (the others are None and not computed):
    its NumPy reference on cpu, its kernel (one pass) on cuda. Results have grad's (the broadcast output's)
    shape. Inputs are tensors (broadcast to grad's shape on cuda), numbers or None, as the op's backward
    takes them."""
    if grad.device.type == "cpu":
        result = op.backward_ref(grad._host(), *(v._host() if type(v) is Tensor else v for v in inputs), *params)
        grads = []
        for r, n in zip(result, need):
            r = None if not n or r is None else np.asarray(r, dtype=grad.dtype.np)
            grads.append(None if r is None else Tensor._wrap(r if r.flags.writeable else r.copy()))
        return grads
    shape = grad._shape
    outs = [Tensor._empty(shape, grad.dtype, grad.device) if n else None for n in need]
    op.backward(*(None if o is None else o._dev() for o in outs), grad._dev(),
                *(kernel_value(v, shape) for v in inputs), *params)
    return outs


def reduce_to(grad: Tensor | None, shape: tuple) -> Tensor | None:
    """A broadcast gradient summed back to an input's shape (None stays None)."""
    return None if grad is None else sum_to(grad, shape)


# ================================================================ ops on two same-dtype tensors
class BinaryFunction(Function):
    """out = op(a, b, *params) for two tensors of one dtype, broadcast by the kernel.

    A subclass names its kernels' BinaryOp (`op`), which inputs its backward reads (`saves`: 'a' / 'b'
    always, 'a_for_b' / 'b_for_b' only when b's gradient is needed; saving no more than that keeps PyTorch's
    in-place rules) and its tensor-op gradients (`grads`).
    """

    differentiable_forward = False
    op: BinaryOp
    saves = ("a", "b")

    @staticmethod
    def saves_inputs(params: tuple) -> bool:
        """Whether the backward reads the inputs at all for these parameters (div with a rounding mode: no)."""
        return True

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, *params) -> Tensor:
        type(ctx).record(ctx, a, b, params)
        return run_elementwise(type(ctx).op.forward_ref, type(ctx).op.forward, [a, b], a.dtype, *params)

    @classmethod
    def record(cls, ctx, a: Tensor, b: Tensor, params: tuple) -> Function:
        """What the node keeps for backward (also for an op's hot path, which computes its result itself);
        returns ctx."""
        ctx.params = params
        ctx.shapes = (a._shape, b._shape)
        ctx.out_meta = (a.dtype, a.device)
        need = ctx.needs_input_grad
        if need and cls.saves_inputs(params):
            keep_a = "a" in cls.saves or ("a_for_b" in cls.saves and need[1])
            keep_b = "b" in cls.saves or ("b_for_b" in cls.saves and need[1])
            ctx.save_for_backward(a if keep_a else None, b if keep_b else None)
        return ctx

    @staticmethod
    def grads(ctx, grad: Tensor, a: Tensor, b: Tensor, need_a: bool, need_b: bool) -> tuple:
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors or (None, None)
        need_a, need_b = ctx.needs_input_grad[:2]
        ga, gb = type(ctx).grads(ctx, grad, a, b, need_a, need_b)
        return (reduce_to(ga if need_a else None, ctx.shapes[0]), reduce_to(gb if need_b else None, ctx.shapes[1]),
                *([None] * len(ctx.params)))

    def backward_fused(self, grad):
        a, b = self.saved_tensors
        need = tuple(self.needs_input_grad[:2])
        # An input the requested gradients don't read was not saved; grad (same shape) stands in for it.
        ga, gb = fused_grads(type(self).op, need, grad, [grad if a is None else a, grad if b is None else b],
                             *self.params)
        return (reduce_to(ga, self.shapes[0]), reduce_to(gb, self.shapes[1]), *([None] * len(self.params)))


# ================================================================ methods and operators
def operator_method(fn, reflected: bool = False):
    """A Python operator: NotImplemented for operands that are neither tensors nor numbers (so `x == None`
    falls back to identity and `x < None` raises Python's TypeError)."""
    def method(self, other):
        if type(other) is not Tensor and not is_number(other):
            return NotImplemented
        return fn(other, self) if reflected else fn(self, other)

    method.__name__ = fn.__name__
    method.__doc__ = (f"Reflected operator: `tt.{fn.__name__}(other, self)`." if reflected
                      else f"The Python operator for `tt.{fn.__name__}(self, other)`.")
    return method


def in_place_method(fn):
    """x.op_(...): the result written into x. When x takes part in autograd, the op reads a copy of the
    value being overwritten (what its backward saved would otherwise change under it)."""
    def method(self, *args, **kwargs):
        src = self.clone() if state.enabled and self._requires_grad else self
        return inplace(lambda _, *a, **k: fn(src, *a, **k), self, *args, **kwargs)

    method.__name__ = f"{fn.__name__}_"
    method.__doc__ = f"In-place `tt.{fn.__name__}`: the result is written into self."
    return method
