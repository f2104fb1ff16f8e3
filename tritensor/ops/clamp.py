"""clamp (clip, clamp_min, clamp_max) registered over kernels/clamp.py.

Bounds are both tensors (broadcast) or both Python numbers, either may be None; PyTorch's type promotion;
NaN in input or a bound gives NaN; min > max gives max. Differentiable in input and tensor bounds: the
backward is written with tensor ops (second derivatives) and has a fused kernel/reference pass.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..autograd.grad_mode import state
from ..kernels import clamp as K
from ..tensor import Tensor
from .comparison import ge, gt, le, lt
from .dispatch import check_same_device, expanded, sum_to
from .elementwise import inplace
from .logical import logical_and, logical_or
from .map_ops import (
    cast_keep_grad,
    check_shapes,
    finish,
    fused_grads,
    host_value,
    is_number,
    kernel_value,
    not_implemented,
    shape_of,
    type_error,
)
from .where import where

_PLAIN = (int, float, type(None))  # bounds that keep a float tensor's dtype (bool and complex take the long way)


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
            r = K.clamp_ref(x._host(), host_value(lo, x.dtype), host_value(hi, x.dtype))
            return Tensor._wrap(np.asarray(r).astype(x.dtype.np, copy=False))
        shape = shape_of(x, lo, hi)
        out = Tensor._empty(shape, x.dtype, x.device)
        K.clamp(out._dev(), expanded(x, shape), kernel_value(lo, shape), kernel_value(hi, shape))
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
    if out is None and type(input) is Tensor and type(min) in _PLAIN and type(max) in _PLAIN \
            and input.dtype.is_floating_point and input.device.type == "cpu" and (min is not None or max is not None) \
            and not (state.enabled and input._requires_grad):
        # The hot path (an activation's clamp, no graph): what Clamp's forward computes for a float tensor and
        # number bounds (their dtype is the tensor's), without the checks and layers such a call passes.
        dtype = input.dtype
        r = K.clamp_ref(input._host(), host_value(min, dtype), host_value(max, dtype))
        return Tensor._wrap(np.asarray(r).astype(dtype.np, copy=False))
    if type(input) is not Tensor:
        raise type_error("clamp", "input", input)
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
    return finish(Clamp.apply(x, lo, hi), out)


def clamp_min(input: Tensor, min) -> Tensor:  # noqa: A002
    """Clamp below only: `max(input, min)` elementwise (torch.clamp_min)."""
    return clamp(input, min, None)


def clamp_max(input: Tensor, max) -> Tensor:  # noqa: A002
    """Clamp above only: `min(input, max)` elementwise (torch.clamp_max)."""
    return clamp(input, None, max)


clip = clamp


def _clamp_in_place(self: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    # clamp saves its input for backward: differentiate through a copy of the value being overwritten.
    """In-place clamp (`x.clamp_(min, max)`, alias `clip_`); the old value is kept for autograd."""
    src = self.clone() if state.enabled and self._requires_grad else self
    return inplace(lambda _, *a: clamp(src, *a), self, min, max)


def _clamp_min_in_place(self: Tensor, min) -> Tensor:  # noqa: A002
    """In-place clamp_min."""
    return _clamp_in_place(self, min, None)


def _clamp_max_in_place(self: Tensor, max) -> Tensor:  # noqa: A002
    """In-place clamp_max."""
    return _clamp_in_place(self, None, max)


__all__ = ["clamp", "clip", "clamp_min", "clamp_max"]

METHODS: dict = {
    **{name: globals()[name] for name in __all__},
    "clamp_": _clamp_in_place, "clip_": _clamp_in_place,
    "clamp_min_": _clamp_min_in_place, "clamp_max_": _clamp_max_in_place,
}
