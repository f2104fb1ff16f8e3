"""Comparisons, logical/bitwise ops, where, clamp, isnan, ... over kernels/comparison.py.

Predicates return bool tensors and record no autograd history. A Python-number operand of a
comparison, bitwise op, where or clamp travels to the kernel as a number (no 0-d tensor is made) once
type promotion has cast the tensor side. where, clamp and nan_to_num are differentiable; their
backward is written with tensor ops (second derivatives) and has a fused kernel/reference pass.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..autograd.grad_mode import state
from ..kernels import comparison as K
from ..tensor import Tensor
from .copy import to_copy
from .dispatch import broadcast_shapes, cast, check_same_device, expanded, operands, run_elementwise, sum_to
from .elementwise import _into, inplace, mul

# PyTorch's ScalarType names, as its "not implemented for 'X'" errors print them.


def not_implemented(kernel: str, device, dtype: D.dtype, suffix: bool = True) -> RuntimeError:
    """PyTorch's dispatch error: `"div_floor_cpu" not implemented for 'Bool'`."""
    name = f"{kernel}_{device.type}" if suffix else kernel
    return RuntimeError(f"\"{name}\" not implemented for '{D.scalar_type_name(dtype)}'")


def is_number(value) -> bool:
    return isinstance(value, (bool, int, float)) and not isinstance(value, Tensor)


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


def _finish(result: Tensor, out: Tensor | None) -> Tensor:
    return result if out is None else _into(out, result)


def _type_error(op: str, arg: str, value, expected: str = "Tensor") -> TypeError:
    return TypeError(f"{op}(): argument '{arg}' must be {expected}, not {type(value).__name__}")


def all_true(t: Tensor) -> bool:
    """A bool tensor's all() as a Python bool (on the device when the `all` reduction is registered)."""
    reduce_all = getattr(Tensor, "all", None)
    if reduce_all is not None:
        return bool(reduce_all(t))
    return bool(np.all(t._to_host_array()))


# ================================================================ comparisons
_SWAPPED = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}


def _compare(name: str, input, other, out: Tensor | None) -> Tensor:
    if type(input) is not Tensor:
        if type(other) is Tensor and is_number(input):
            return _compare(_SWAPPED[name], other, input, out)  # 2 < x is x > 2
        raise _type_error(name, "input", input)
    kernel, ref = getattr(K, name), getattr(K, f"{name}_ref")
    if type(other) is Tensor:
        check_shapes(input, other)
        a, b, _ = operands(input, other)
        result = run_elementwise(ref, kernel, [a, b], D.bool)
    elif is_number(other):
        a = cast(input, D.result_type(input, other))
        result = run_elementwise(ref, kernel, [a], D.bool, other)
    else:
        raise _type_error(name, "other", other, "Tensor or Number")
    return _finish(result, out)


def eq(input, other, *, out: Tensor | None = None) -> Tensor:
    """input == other elementwise (bool); other a tensor or a number."""
    return _compare("eq", input, other, out)


def ne(input, other, *, out: Tensor | None = None) -> Tensor:
    return _compare("ne", input, other, out)


def lt(input, other, *, out: Tensor | None = None) -> Tensor:
    return _compare("lt", input, other, out)


def le(input, other, *, out: Tensor | None = None) -> Tensor:
    return _compare("le", input, other, out)


def gt(input, other, *, out: Tensor | None = None) -> Tensor:
    return _compare("gt", input, other, out)


def ge(input, other, *, out: Tensor | None = None) -> Tensor:
    return _compare("ge", input, other, out)


# ================================================================ logical
def _tensors(op: str, input, other) -> tuple[Tensor, Tensor]:
    if type(input) is not Tensor:
        raise _type_error(op, "input", input)
    if type(other) is not Tensor:
        raise _type_error(op, "other", other)
    check_shapes(input, other)
    a, b, _ = operands(input, other)
    return a, b


def logical_and(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    a, b = _tensors("logical_and", input, other)
    return _finish(run_elementwise(K.logical_and_ref, K.logical_and, [a, b], D.bool), out)


def logical_or(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    a, b = _tensors("logical_or", input, other)
    return _finish(run_elementwise(K.logical_or_ref, K.logical_or, [a, b], D.bool), out)


def logical_xor(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    a, b = _tensors("logical_xor", input, other)
    return _finish(run_elementwise(K.logical_xor_ref, K.logical_xor, [a, b], D.bool), out)


def logical_not(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    if type(input) is not Tensor:
        raise _type_error("logical_not", "input", input)
    return _finish(run_elementwise(K.logical_not_ref, K.logical_not, [input], D.bool), out)


# ================================================================ bitwise
# PyTorch's kernel names in its dtype errors.
_BITWISE_KERNEL = {"bitwise_and": "bitwise_and", "bitwise_or": "bitwise_or", "bitwise_xor": "bitwise_xor",
                   "bitwise_left_shift": "lshift", "bitwise_right_shift": "rshift"}


def _bitwise(name: str, input, other, out: Tensor | None) -> Tensor:
    kernel, ref = getattr(K, name), getattr(K, f"{name}_ref")
    shift = "shift" in name
    if not (type(input) is Tensor or (is_number(input) and type(other) is Tensor)):
        raise _type_error(name, "input", input)
    if not (type(other) is Tensor or is_number(other)):
        raise _type_error(name, "other", other, "Tensor or Number")
    check_shapes(input, other)
    dtype = D.result_type(input, other)
    if dtype.is_floating_point or (shift and dtype is D.bool):
        device = (input if type(input) is Tensor else other).device
        raise not_implemented(_BITWISE_KERNEL[name], device, dtype)
    if type(input) is Tensor and is_number(other):
        args, params = [cast(input, dtype)], (other,)
    else:
        a, b, dtype = operands(input, other)
        args, params = [a, b], ()
    return _finish(run_elementwise(ref, kernel, args, dtype, *params), out)


def bitwise_and(input, other, *, out: Tensor | None = None) -> Tensor:
    """input & other for integer and bool tensors (and Python ints/bools), with type promotion."""
    return _bitwise("bitwise_and", input, other, out)


def bitwise_or(input, other, *, out: Tensor | None = None) -> Tensor:
    return _bitwise("bitwise_or", input, other, out)


def bitwise_xor(input, other, *, out: Tensor | None = None) -> Tensor:
    return _bitwise("bitwise_xor", input, other, out)


def bitwise_left_shift(input, other, *, out: Tensor | None = None) -> Tensor:
    """input << other for integer tensors; shifts < 0 or >= the bit width give 0, as PyTorch."""
    return _bitwise("bitwise_left_shift", input, other, out)


def bitwise_right_shift(input, other, *, out: Tensor | None = None) -> Tensor:
    """input >> other for integer tensors (arithmetic for signed types)."""
    return _bitwise("bitwise_right_shift", input, other, out)


def bitwise_not(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    if type(input) is not Tensor:
        raise _type_error("bitwise_not", "input", input)
    if input.dtype.is_floating_point:
        raise not_implemented("bitwise_not", input.device, input.dtype)
    return _finish(run_elementwise(K.bitwise_not_ref, K.bitwise_not, [input], input.dtype), out)


# ================================================================ where
def _host_value(v, dtype: D.dtype):
    """A where/clamp operand for a NumPy reference: a tensor's array, or a number rounded to dtype (as the
    kernel's encode_scalar does; out-of-range integers wrap, as dispatch.scalar_tensor)."""
    if type(v) is Tensor:
        return v._host()
    if v is None:
        return None
    return np.array(v, dtype=np.float64 if isinstance(v, float) else np.int64).astype(dtype.np)


def _kernel_value(v, shape: tuple):
    return expanded(v, shape) if type(v) is Tensor else v


def _shape_of(*operands_) -> tuple:
    return broadcast_shapes(*(t._shape for t in operands_ if type(t) is Tensor))


class Where(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, cond: Tensor, a, b, dtype: D.dtype) -> Tensor:
        ctx.shapes = tuple(v._shape if type(v) is Tensor else None for v in (a, b))
        ctx.save_for_backward(cond)
        if cond.device.type == "cpu":
            r = K.where_ref(cond._host(), _host_value(a, dtype), _host_value(b, dtype))
            return Tensor._wrap(np.asarray(r).astype(dtype.np, copy=False))
        shape = _shape_of(cond, a, b)
        out = Tensor._empty(shape, dtype, cond.device)
        K.where(out._dev(), expanded(cond, shape), _kernel_value(a, shape), _kernel_value(b, shape))
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
                *(_kernel_value(v, shape) for v in inputs), *params)
    return outs


def where(condition: Tensor, input=None, other=None, *, out: Tensor | None = None) -> Tensor:
    """input where condition else other (broadcast; input/other tensors or numbers, PyTorch's promotion).

    where(condition) alone is nonzero(condition, as_tuple=True).
    """
    if input is None and other is None:
        from . import indexing

        nonzero = getattr(indexing, "nonzero", None)
        if nonzero is None:
            raise NotImplementedError("where(condition) needs nonzero, which is not registered yet")
        return nonzero(condition, as_tuple=True)
    if type(condition) is not Tensor:
        raise _type_error("where", "condition", condition)
    if condition.dtype is not D.bool:
        raise RuntimeError("where expected condition to be a boolean tensor, but got a tensor with dtype "
                           f"{D.scalar_type_name(condition.dtype)}")
    for name, v in (("input", input), ("other", other)):
        if type(v) is not Tensor and not is_number(v):
            raise _type_error("where", name, v, "Tensor or Number")
    tensors = [v for v in (input, other) if type(v) is Tensor]
    if tensors:
        check_same_device(condition, *tensors)
    check_shapes(condition, *tensors)
    dtype = D.result_type(input, other)
    a = cast_keep_grad(input, dtype) if type(input) is Tensor else input
    b = cast_keep_grad(other, dtype) if type(other) is Tensor else other
    return _finish(Where.apply(condition, a, b, dtype), out)


# ================================================================ clamp
class Clamp(Function):
    """clamp(x, lo, hi): bounds are tensors of x's dtype or None, or numbers or None (not mixed)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, lo, hi) -> Tensor:
        ctx.shapes = tuple(v._shape if type(v) is Tensor else None for v in (x, lo, hi))
        ctx.lo = None if type(lo) is Tensor else lo
        ctx.hi = None if type(hi) is Tensor else hi
        if ctx.needs_input_grad:
            ctx.save_for_backward(x, *(v if type(v) is Tensor else None for v in (lo, hi)))
        if x.device.type == "cpu":
            r = K.clamp_ref(x._host(), _host_value(lo, x.dtype), _host_value(hi, x.dtype))
            return Tensor._wrap(np.asarray(r).astype(x.dtype.np, copy=False))
        shape = _shape_of(x, lo, hi)
        out = Tensor._empty(shape, x.dtype, x.device)
        K.clamp(out._dev(), expanded(x, shape), _kernel_value(lo, shape), _kernel_value(hi, shape))
        return out

    def _bounds(self) -> tuple:
        x, lo, hi = self.saved_tensors
        return x, (lo if lo is not None else self.lo), (hi if hi is not None else self.hi)

    @staticmethod
    def backward(ctx, grad):
        x, lo, hi = ctx._bounds()
        need_x, need_lo, need_hi = ctx.needs_input_grad[:3]
        # PyTorch's clamp_backward(_min_max): x where lo <= x <= hi; a tensor lo where x < lo < hi; a tensor
        # hi where x > hi or hi < lo.
        passes = None
        for bound, compare in ((lo, ge), (hi, le)):
            if bound is not None:
                m = compare(x, bound)
                passes = m if passes is None else logical_and(passes, m)
        gx = sum_to(where(passes, grad, 0.0), ctx.shapes[0]) if need_x else None
        glo = ghi = None
        if need_lo:
            takes = lt(x, lo) if hi is None else logical_and(lt(x, lo), lt(lo, hi))
            glo = sum_to(where(takes, grad, 0.0), ctx.shapes[1])
        if need_hi:
            takes = gt(x, hi) if lo is None else logical_or(gt(x, hi), lt(hi, lo))
            ghi = sum_to(where(takes, grad, 0.0), ctx.shapes[2])
        return gx, glo, ghi

    def backward_fused(self, grad):
        x, lo, hi = self._bounds()
        need = tuple(self.needs_input_grad[:3])
        grads = fused_grads(K.OPS["clamp"], need, grad, [x, lo, hi])
        return tuple(sum_to(g, s) if g is not None else None for g, s in zip(grads, self.shapes))


def clamp(input: Tensor, min=None, max=None, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """min(max(input, min), max): bounds both tensors (broadcast) or both numbers, either may be None;
    PyTorch's type promotion; NaN in input or a bound gives NaN; min > max gives max."""
    if type(input) is not Tensor:
        raise _type_error("clamp", "input", input)
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    bounds = [v for v in (min, max) if v is not None]
    kinds = {type(v) is Tensor for v in bounds}
    if len(kinds) > 1 or not all(type(v) is Tensor or is_number(v) for v in bounds):
        raise TypeError("clamp(): min and max must be both Tensors (or None) or both numbers (or None), got "
                        f"{type(min).__name__} and {type(max).__name__}")
    tensors = [v for v in bounds if type(v) is Tensor]
    if tensors:
        check_same_device(input, *tensors)
    check_shapes(input, *tensors)
    dtype = D.result_type(input, *bounds)
    if dtype is D.bool:
        raise not_implemented("clamp", input.device, dtype)
    x = cast_keep_grad(input, dtype)
    lo, hi = (cast_keep_grad(v, dtype) if type(v) is Tensor else v for v in (min, max))
    return _finish(Clamp.apply(x, lo, hi), out)


def clamp_min(input: Tensor, min) -> Tensor:  # noqa: A002
    return clamp(input, min, None)


def clamp_max(input: Tensor, max) -> Tensor:  # noqa: A002
    return clamp(input, None, max)


# ================================================================ isnan, isinf, isfinite, nan_to_num
def _predicate(name: str, input: Tensor) -> Tensor:
    if type(input) is not Tensor:
        raise _type_error(name, "input", input)
    return run_elementwise(getattr(K, f"{name}_ref"), getattr(K, name), [input], D.bool)


def isnan(input: Tensor) -> Tensor:
    return _predicate("isnan", input)


def isinf(input: Tensor) -> Tensor:
    return _predicate("isinf", input)


def isfinite(input: Tensor) -> Tensor:
    return _predicate("isfinite", input)


def _is_signed_inf(input: Tensor, value: float, out: Tensor | None) -> Tensor:
    if type(input) is not Tensor:
        raise _type_error("isposinf" if value > 0 else "isneginf", "input", input)
    if input.dtype.is_floating_point:
        return eq(input, value, out=out)
    # Integers are never infinite: eq against an impossible value would still need a float cast.
    from ..creation import zeros

    return _finish(zeros(input._shape, dtype=D.bool, device=input.device), out)


def isposinf(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    return _is_signed_inf(input, math.inf, out)


def isneginf(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    return _is_signed_inf(input, -math.inf, out)


class NanToNum(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, nan, posinf, neginf) -> Tensor:
        if ctx.needs_input_grad:
            ctx.save_for_backward(x)
        return run_elementwise(K.nan_to_num_ref, K.nan_to_num, [x], x.dtype, nan, posinf, neginf)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        # A product, as PyTorch: an inf/NaN gradient at a non-finite x stays NaN.
        return mul(grad, isfinite(x)), None, None, None

    def backward_fused(self, grad):
        (x,) = self.saved_tensors
        (gx,) = fused_grads(K.OPS["nan_to_num"], (True,), grad, [x])
        return gx, None, None, None


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None, *,
               out: Tensor | None = None) -> Tensor:
    """NaN -> nan, +inf -> posinf (default: the dtype's max), -inf -> neginf (default: its lowest); integer
    and bool tensors are copied."""
    if type(input) is not Tensor:
        raise _type_error("nan_to_num", "input", input)
    return _finish(NanToNum.apply(input, nan, posinf, neginf), out)


# ================================================================ isclose, allclose, equal
def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol * |other| (or equal), elementwise and broadcast; same dtypes only."""
    if type(input) is not Tensor:
        raise _type_error("isclose", "input", input)
    if type(other) is not Tensor:
        raise _type_error("isclose", "other", other)
    if input.dtype is not other.dtype:
        raise RuntimeError(f"{D.scalar_type_name(input.dtype)} did not match "
                           f"{D.scalar_type_name(other.dtype)}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")
    check_same_device(input, other)
    check_shapes(input, other)
    return run_elementwise(K.isclose_ref, K.isclose, [input, other], D.bool, rtol, atol, bool(equal_nan))


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    return all_true(isclose(input, other, rtol, atol, equal_nan))


def equal(input: Tensor, other: Tensor) -> bool:
    """True when both tensors have the same shape and the same values (compared after promotion)."""
    if type(input) is not Tensor:
        raise _type_error("equal", "input", input)
    if type(other) is not Tensor:
        raise _type_error("equal", "other", other)
    if input.device != other.device:
        raise RuntimeError(f"Cannot compare two tensors on different devices. Got: {input.device} and "
                           f"{other.device}")
    if input._shape != other._shape:
        return False
    return all_true(eq(input, other))


# ================================================================ aliases, methods, operators
greater = gt
greater_equal = ge
less = lt
less_equal = le
not_equal = ne
clip = clamp


def _operator(fn, reflected: bool = False):
    """A Python operator: NotImplemented for operands that are neither tensors nor numbers (so `x == None`
    falls back to identity and `x < None` raises Python's TypeError)."""
    def method(self, other):
        if type(other) is not Tensor and not is_number(other):
            return NotImplemented
        return fn(other, self) if reflected else fn(self, other)

    method.__name__ = fn.__name__
    return method


def _in_place(fn):
    def method(self, *args, **kwargs):
        inplace(fn, self, *args, **kwargs)
        if self.grad_fn is not None and fn in _PREDICATES:
            # Overwritten by a non-differentiable 0/1 result: nothing flows back to the old value (as fill_).
            self.grad_fn = None
            self._requires_grad = False
        return self

    method.__name__ = f"{fn.__name__}_"
    return method


_PREDICATES = {eq, ne, lt, le, gt, ge, logical_and, logical_or, logical_xor, logical_not}


def _clamp_in_place(self: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    # clamp saves its input for backward: differentiate through a copy of the value being overwritten.
    src = self.clone() if state.enabled and self._requires_grad else self
    return inplace(lambda _, *a: clamp(src, *a), self, min, max)


def _nan_to_num_in_place(self: Tensor, nan: float = 0.0, posinf=None, neginf=None) -> Tensor:
    src = self.clone() if state.enabled and self._requires_grad else self
    return inplace(lambda _, *a: nan_to_num(src, *a), self, nan, posinf, neginf)


def _tensor_where(self: Tensor, condition: Tensor, other) -> Tensor:
    return where(condition, self, other)


__all__ = [
    "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal",
    "logical_and", "logical_or", "logical_xor", "logical_not",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift",
    "where", "clamp", "clip", "clamp_min", "clamp_max",
    "isnan", "isinf", "isfinite", "isposinf", "isneginf", "nan_to_num", "isclose", "allclose", "equal",
]

METHODS: dict = {
    **{name: globals()[name] for name in __all__ if name not in ("where", "equal", "allclose")},
    "equal": equal, "allclose": allclose, "where": _tensor_where,
    **{f"{name}_": _in_place(globals()[name]) for name in (
        "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal",
        "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor",
        "bitwise_not", "bitwise_left_shift", "bitwise_right_shift")},
    "clamp_": _clamp_in_place, "clip_": _clamp_in_place,
    "clamp_min_": lambda self, min: _clamp_in_place(self, min, None),  # noqa: A006
    "clamp_max_": lambda self, max: _clamp_in_place(self, None, max),  # noqa: A006
    "nan_to_num_": _nan_to_num_in_place,
    "__eq__": _operator(eq), "__ne__": _operator(ne), "__lt__": _operator(lt), "__le__": _operator(le),
    "__gt__": _operator(gt), "__ge__": _operator(ge),
    "__and__": _operator(bitwise_and), "__rand__": _operator(bitwise_and, True),
    "__or__": _operator(bitwise_or), "__ror__": _operator(bitwise_or, True),
    "__xor__": _operator(bitwise_xor), "__rxor__": _operator(bitwise_xor, True),
    "__lshift__": _operator(bitwise_left_shift), "__rlshift__": _operator(bitwise_left_shift, True),
    "__rshift__": _operator(bitwise_right_shift), "__rrshift__": _operator(bitwise_right_shift, True),
    "__iand__": _in_place(bitwise_and), "__ior__": _in_place(bitwise_or), "__ixor__": _in_place(bitwise_xor),
    "__ilshift__": _in_place(bitwise_left_shift), "__irshift__": _in_place(bitwise_right_shift),
    "__invert__": bitwise_not,
    # Assigning __eq__ after the class body leaves Tensor.__hash__ (id-based) in place; restated so that
    # tensors stay usable as dict keys and set members whatever order the modules load in.
    "__hash__": Tensor.__hash__,
}
