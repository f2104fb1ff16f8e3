"""masked_fill, masked_select, masked_scatter and nonzero/argwhere over kernels/masked.py.

The data-dependent ops (masked_select, nonzero) count the mask on the device first and read the count
back to allocate their result, as PyTorch does. Each differentiable op is paired with its adjoint op
(masked_select with a masked_scatter into zeros): backward is one fused kernel and is itself
differentiable. Empty masks and zero-size dims give empty results without a data launch.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import masked as K
from ..tensor import Tensor
from . import views as V
from .copy import _contiguous_copy
from .dispatch import broadcast_shapes, check_same_device, sum_to
from .index_core import collapsible, host, host_values, inplace_method, on_cpu, type_name, value_arg, value_like
from .shape import pad


class MaskedFill(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, value: Tensor | None, mask: Tensor, scalar) -> Tensor:
        ctx.shapes = (x._shape, None if value is None else value._shape)
        ctx.mask = mask
        shape = broadcast_shapes(x._shape, mask._shape)
        if on_cpu(x):
            filled = K.masked_fill_ref(host(x), host(mask), scalar if value is None else host(value))
            return Tensor._wrap(np.asarray(filled, dtype=x.dtype.np))
        out = Tensor._empty(shape, x.dtype, x.device)
        K.masked_fill(out._dev(), x._dev(), mask._dev(), scalar if value is None else value._dev())
        return out

    @staticmethod
    def backward(ctx, grad):
        x_shape, v_shape = ctx.shapes
        need_x, need_v = ctx.needs_input_grad[:2]
        grad_x = sum_to(MaskedFill.apply(grad, None, ctx.mask, 0), x_shape) if need_x else None
        grad_v = sum_to(MaskedKeep.apply(grad, ctx.mask), v_shape) if need_v else None
        return grad_x, grad_v, None, None

    def backward_fused(self, grad):
        """Both gradients in one kernel pass (NumPy on cpu), then reduced to the inputs' shapes."""
        x_shape, v_shape = self.shapes
        need_x, need_v = self.needs_input_grad[:2]
        if on_cpu(grad):
            gx, gv = (Tensor._wrap(np.asarray(g, dtype=grad.dtype.np))
                      for g in K.masked_fill_backward_ref(host(grad), host(self.mask)))
        else:
            gx = Tensor._empty(grad._shape, grad.dtype, grad.device) if need_x else None
            gv = Tensor._empty(grad._shape, grad.dtype, grad.device) if need_v else None
            K.masked_fill_backward(gx._dev() if need_x else None, gv._dev() if need_v else None, grad._dev(),
                                   self.mask._dev())
        return (sum_to(gx, x_shape) if need_x else None, sum_to(gv, v_shape) if need_v else None, None, None)


class MaskedKeep(Function):
    """where(mask, x, 0): the fill value's gradient; its own adjoint."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, mask: Tensor) -> Tensor:
        ctx.shape, ctx.mask = x._shape, mask
        if on_cpu(x):
            return Tensor._wrap(np.asarray(K.masked_fill_backward_ref(host(x), host(mask))[1], dtype=x.dtype.np))
        out = Tensor._empty(broadcast_shapes(x._shape, mask._shape), x.dtype, x.device)
        K.masked_fill_backward(None, out._dev(), x._dev(), mask._dev())
        return out

    @staticmethod
    def backward(ctx, grad):
        return sum_to(MaskedKeep.apply(grad, ctx.mask), ctx.shape), None


def _check_mask(mask: Tensor, op: str) -> None:
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}(): argument 'mask' must be Tensor, not {type(mask).__name__}")
    if mask.dtype is not D.bool:
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype {mask.dtype.name}")


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:  # noqa: A002
    """A copy of `input` with `value` where `mask` (bool, broadcastable) is True."""
    _check_mask(mask, "masked_fill_")
    check_same_device(input, mask)
    value_t, scalar = value_arg(value, "masked_fill_")
    if value_t is not None and value_t.device != input.device and not value_t._requires_grad:
        value_t, scalar = None, value_t.item()  # a cpu 0-d value is a scalar, as in PyTorch
    return MaskedFill.apply(input, value_like(value_t, input), mask, scalar)


def _mask_scan(mask: Tensor) -> tuple[Tensor, int]:
    """(block offsets, number of True elements) of a mask collapsible to 4 dims (cuda)."""
    scratch = Tensor._empty((K.compact_scratch_numel(mask.numel()),), D.int64, mask.device)
    K.mask_scan(scratch._dev(), mask._dev())
    last = V.make_view(scratch, (1,), (1,), scratch._offset + scratch._shape[0] - 1)
    return scratch, int(host_values(last)[0])


def _broadcast_mask(mask: Tensor, shape: tuple) -> Tensor:
    """mask at `shape`, in a layout the mask kernels accept (a contiguous copy when it must be)."""
    m = V.expand(mask, shape) if mask._shape != shape else mask
    return m if m.is_contiguous() else _contiguous_copy(m)


class MaskedSelect(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, mask: Tensor) -> Tensor:
        shape = broadcast_shapes(x._shape, mask._shape)
        ctx.shape = x._shape
        if on_cpu(x):
            ctx.mask, ctx.scratch = V.expand(mask, shape), None
            return Tensor._wrap(K.masked_select_ref(host(x), host(mask)))
        m = _broadcast_mask(mask, shape)
        xb = V.expand(x, shape) if x._shape != shape else x
        if not collapsible(shape, m, xb):
            xb = _contiguous_copy(xb)
        scratch, count = _mask_scan(m)
        ctx.mask, ctx.scratch = m, scratch
        out = Tensor._empty((count,), x.dtype, x.device)
        K.masked_select(out._dev(), xb._dev(), m._dev(), scratch._dev())
        return out

    @staticmethod
    def backward(ctx, grad):
        return sum_to(MaskedSelectBackward.apply(grad, ctx.mask, ctx.scratch), ctx.shape), None


class MaskedSelectBackward(Function):
    """zeros(mask.shape).masked_scatter(mask, grad): the adjoint of MaskedSelect."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, grad: Tensor, mask: Tensor, scratch: Tensor | None) -> Tensor:
        ctx.mask = mask
        if on_cpu(grad):
            return Tensor._wrap(K.masked_select_backward_ref(host(grad), host(mask))[0])
        out = Tensor._empty(mask._shape, grad.dtype, grad.device)
        g = grad if grad.is_contiguous() else _contiguous_copy(grad)
        K.masked_select_backward(out._dev(), g._dev(), mask._dev(), scratch._dev())
        return out

    @staticmethod
    def backward(ctx, grad):
        return MaskedSelect.apply(grad, ctx.mask), None, None


def masked_select(input: Tensor, mask: Tensor) -> Tensor:  # noqa: A002
    """The elements of `input` where `mask` (bool, broadcastable) is True, as a 1-D tensor."""
    _check_mask(mask, "masked_select")
    check_same_device(input, mask)
    return MaskedSelect.apply(input, mask)


class MaskedScatter(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, source: Tensor, mask: Tensor) -> Tensor:
        ctx.source_shape = source._shape
        if on_cpu(x):
            m = V.expand(mask, x._shape)
            count = int(np.count_nonzero(host(m)))
            if source.numel() < count:
                raise RuntimeError("masked_scatter: expected source to have at least as many elements as ones in mask "
                                   f"({count}), got {source.numel()}")
            ctx.mask, ctx.count = m, count
            return Tensor._wrap(K.masked_scatter_ref(host(x), host(mask), host(source)))
        m = _broadcast_mask(mask, x._shape)
        scratch, count = _mask_scan(m)
        if source.numel() < count:
            raise RuntimeError("masked_scatter: expected source to have at least as many elements as ones in mask "
                               f"({count}), got {source.numel()}")
        ctx.mask, ctx.count = m, count
        src = source if source.is_contiguous() else _contiguous_copy(source)
        out = Tensor._empty(x._shape, x.dtype, x.device)
        K.masked_scatter(out._dev(), x._dev(), m._dev(), src._dev(), scratch._dev())
        return out

    @staticmethod
    def backward(ctx, grad):
        need_x, need_src = ctx.needs_input_grad[:2]
        grad_x = MaskedFill.apply(grad, None, ctx.mask, 0) if need_x else None
        grad_src = None
        if need_src:
            n = 1
            for s in ctx.source_shape:
                n *= s
            grad_src = pad(MaskedSelect.apply(grad, ctx.mask), [0, n - ctx.count]).reshape(ctx.source_shape)
        return grad_x, grad_src, None


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:  # noqa: A002
    """A copy of `input` with the elements of `source`, in order, written where `mask` is True."""
    _check_mask(mask, "masked_scatter_")
    check_same_device(input, mask, source)
    if source.dtype is not input.dtype:
        raise RuntimeError(f"masked_scatter_: expected self and source to have same dtypes but got "
                           f"{type_name(input.dtype)} and {type_name(source.dtype)}")
    if broadcast_shapes(input._shape, mask._shape) != input._shape:
        raise RuntimeError(f"masked_scatter_: mask of shape {list(mask._shape)} does not broadcast to self of shape "
                           f"{list(input._shape)}")
    return MaskedScatter.apply(input, source, mask)


# ================================================================ nonzero / argwhere
def nonzero_coords(x: Tensor) -> Tensor:
    """(count, ndim) int64 coordinates of x's nonzero elements, row-major."""
    if x.ndim == 0:  # (1, 0) or (0, 0): counted as a 1-element vector
        return Tensor._empty((nonzero_coords(x.reshape(1))._shape[0], 0), D.int64, x.device)
    if on_cpu(x):
        return Tensor._wrap(K.nonzero_ref(host(x)))
    m = x if collapsible(x._shape, x) else _contiguous_copy(x)
    scratch, count = _mask_scan(m)
    out = Tensor._empty((count, x.ndim), D.int64, x.device)
    K.nonzero(out._dev(), m._dev(), scratch._dev())
    return out


def nonzero(input: Tensor, *, as_tuple: bool = False):  # noqa: A002
    """Indices of the nonzero elements: (n, ndim) int64, or one 1-d tensor per dim with as_tuple."""
    coords = nonzero_coords(input.detach())
    if not as_tuple:
        return coords
    if input.ndim == 0:
        return (nonzero_coords(input.detach().reshape(1))[:, 0],)
    return tuple(coords[:, d] for d in range(input.ndim))


def argwhere(input: Tensor) -> Tensor:  # noqa: A002
    """The indices of the nonzero elements, one row per element: shape (n, input.ndim)."""
    return nonzero(input)


def _nonzero_method(self: Tensor, *, as_tuple: bool = False):
    """Indices of the nonzero elements: shape (n, ndim), or a tuple of 1-D tensors with `as_tuple`."""
    return nonzero(self, as_tuple=as_tuple)


__all__ = ["argwhere", "masked_fill", "masked_scatter", "masked_select", "nonzero"]

METHODS: dict = {
    "masked_fill": masked_fill, "masked_fill_": inplace_method(masked_fill),
    "masked_select": masked_select, "masked_scatter": masked_scatter, "masked_scatter_": inplace_method(masked_scatter),
    "nonzero": _nonzero_method, "argwhere": argwhere,
}
