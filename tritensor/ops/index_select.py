"""index_select, index_add and take over kernels/index_select.py.

index_select is paired with its adjoint (an index_add into zeros), take with a put-accumulate into
zeros: the backward of one is the forward of the other, so backward is one fused kernel and is itself
differentiable. Out-of-range indices raise PyTorch's cpu error on both devices (ops/index_core.py: on
cuda through the device error word, without a host round trip).
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import index_select as K
from ..kernels.strided import collapse
from ..tensor import Tensor, wrap_dim
from .copy import _contiguous_copy
from .dispatch import check_same_device
from .index_core import (
    Bounds,
    acc_scratch,
    after_launch,
    check_host,
    device_check,
    dim_bounds,
    host,
    inplace_method,
    on_cpu,
    type_name,
)

_OUT_OF_RANGE = "index out of range in self"


def _check_vector_index(x: Tensor, dim: int, index: Tensor, op: str, dtypes=(D.int64, D.int32)) -> int:
    if index.dtype not in dtypes:
        raise RuntimeError(f"{op}(): Expected dtype int32 or int64 for index")
    if index.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector")
    check_same_device(x, index)
    return wrap_dim(dim, x.ndim)


def _selected_shape(shape: tuple, dim: int, n: int) -> tuple:
    return shape[:dim] + (n,) + shape[dim + 1:] if shape else ()


def _select_bounds(x: Tensor, dim: int) -> list:
    """PyTorch's cpu index_select: the dim-1 fast path (and an empty input) raise RuntimeError, the
    general path IndexError; 0-d and 1-d inputs count elements."""
    if x.ndim > 1 and (dim == 1 or x.numel() == 0):
        n = x._shape[dim]
        return [Bounds(n, False, RuntimeError, f"INDICES element is out of DATA bounds, id={{index}} axis_dim={n}")]
    return [Bounds(x._shape[dim] if x.ndim > 1 else x.numel(), False, IndexError, _OUT_OF_RANGE)]


class IndexSelect(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Tensor) -> Tensor:
        ctx.shape, ctx.dim = x._shape, dim
        ctx.save_for_backward(index)
        shape = _selected_shape(x._shape, dim, index.numel())
        if on_cpu(x):
            check_host([host(index)], _select_bounds(x, dim))
            return Tensor._wrap(K.index_select_ref(host(x), host(index), dim).reshape(shape))
        out = Tensor._empty(shape, x.dtype, x.device)
        K.index_select(out._dev(), x._dev(), index._dev(), dim, device_check(x.device, _select_bounds(x, dim)))
        after_launch(x.device)
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        return IndexSelectBackward.apply(grad, ctx.shape, ctx.dim, index), None, None


class IndexSelectBackward(Function):
    """zeros(shape).index_add(dim, index, grad): the adjoint of IndexSelect (its indices are checked)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, grad: Tensor, shape: tuple, dim: int, index: Tensor) -> Tensor:
        ctx.dim, ctx.index = dim, index
        if on_cpu(grad):
            return Tensor._wrap(K.index_select_backward_ref(host(grad), shape, host(index), dim)[0])
        out = Tensor._empty(shape, grad.dtype, grad.device)
        K.index_select_backward(out._dev(), grad._dev(), index._dev(), dim, acc_scratch(out))
        return out

    @staticmethod
    def backward(ctx, grad):
        return IndexSelect.apply(grad, ctx.dim, ctx.index), None, None, None


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:  # noqa: A002
    """The slices of `input` along `dim` at the positions `index` (a 1-D integer tensor)."""
    d = _check_vector_index(input, dim, index, "index_select")
    if input.ndim == 0 and index.numel() != 1:
        raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got {index.numel()} value(s)")
    if input.ndim > 1 and input.numel() == 0 and index.numel() and input._shape[d] == 0:
        raise RuntimeError("index_select(): self indexing axis dim should be positive")
    return IndexSelect.apply(input, d, index)


def _add_bounds(x: Tensor, dim: int, index: Tensor, alpha) -> list | None:
    """PyTorch's cpu index_add: none for an empty input of 2+ dims (nothing is checked); RuntimeError where
    it runs as scatter_add (first or last dim, alpha 1, int64 index), else IndexError."""
    if x.ndim <= 1:
        return [Bounds(x.numel(), False, IndexError, _OUT_OF_RANGE)]
    if x.numel() == 0:
        return None
    if dim in (0, x.ndim - 1) and alpha == 1 and index.dtype is D.int64:
        return [dim_bounds(RuntimeError, x._shape[dim], dim)]
    return [Bounds(x._shape[dim], False, IndexError, _OUT_OF_RANGE)]


class IndexAdd(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, source: Tensor, dim: int, index: Tensor, alpha) -> Tensor:
        ctx.dim, ctx.alpha = dim, alpha
        ctx.save_for_backward(index)
        bounds = _add_bounds(x, dim, index, alpha)
        if on_cpu(x):
            if bounds is None:
                return Tensor._wrap(host(x).copy())
            check_host([host(index)], bounds)
            return Tensor._wrap(np.asarray(K.index_add_ref(host(x), host(index), host(source), dim, alpha)))
        out = Tensor._empty(x._shape, x.dtype, x.device)
        check = None if bounds is None else device_check(x.device, bounds)
        K.index_add(out._dev(), x._dev(), index._dev(), source._dev(), dim, alpha, acc_scratch(out), check)
        after_launch(x.device)
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        grad_source = None
        if ctx.needs_input_grad[1]:
            grad_source = IndexSelect.apply(grad, ctx.dim, index)
            if ctx.alpha != 1:
                grad_source = grad_source * ctx.alpha
        return grad, grad_source, None, None, None


def _slice_shape_error(x: Tensor, source: Tensor, d: int) -> IndexError:
    return IndexError("index_add_(): Source/destination tensor must have same slice shapes. Destination slice "
                      f"shape: {list(x._shape)} at dimension {d} and source slice shape: {list(source._shape)} at "
                      f"dimension {d}.")


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:  # noqa: A002
    """A copy of `input` with `alpha * source` added at the positions `index` along `dim`."""
    if index.dtype not in (D.int64, D.int32):
        raise RuntimeError("index_add_(): Expected dtype int32/int64 for index")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"index_add_(): self ({type_name(input.dtype)}) and source ({type_name(source.dtype)}) "
                           "must have the same scalar type")
    check_same_device(input, source)
    d = wrap_dim(dim, input.ndim)
    if source.ndim and max(source.ndim, 1) != max(input.ndim, 1):
        raise _slice_shape_error(input, source, d)
    n = (source._shape or (1,))[d]
    if index.ndim > 1 or index.numel() != n:
        raise RuntimeError(f"index_add_(): Number of indices ({index.numel()}) should be equal to source.size(dim) "
                           f"({n})")
    if source.ndim and _selected_shape(input._shape, d, n) != source._shape:
        raise RuntimeError(str(_slice_shape_error(input, source, d)))
    _check_vector_index(input, d, index, "index_add_")
    if alpha != 1 and not input.dtype.is_floating_point and isinstance(alpha, float):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")
    return IndexAdd.apply(input, source.reshape(_selected_shape(input._shape, d, n)), d, index, alpha)


def _take_bounds(x: Tensor) -> list:
    n = x.numel()
    return [Bounds(n, True, IndexError, f"out of range: tried to access index {{index}} on a tensor of {n} elements.")]


class Take(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, index: Tensor) -> Tensor:
        ctx.shape = x._shape
        ctx.save_for_backward(index)
        if on_cpu(x):
            check_host([host(index)], _take_bounds(x))
            return Tensor._wrap(np.asarray(K.take_ref(host(x), host(index))))
        src = x if len(collapse(x._shape, [x.stride()])[0]) <= 1 else _contiguous_copy(x)
        out = Tensor._empty(index._shape, x.dtype, x.device)
        K.take(out._dev(), src._dev(), index._dev(), device_check(x.device, _take_bounds(x)))
        after_launch(x.device)
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        return TakeBackward.apply(grad, ctx.shape, index), None


class TakeBackward(Function):
    """zeros(shape).put_(index, grad, accumulate=True): the adjoint of Take (its indices are checked)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, grad: Tensor, shape: tuple, index: Tensor) -> Tensor:
        ctx.index = index
        if on_cpu(grad):
            return Tensor._wrap(K.take_backward_ref(host(grad), shape, host(index))[0])
        out = Tensor._empty(shape, grad.dtype, grad.device)
        K.take_backward(out._dev(), grad._dev(), index._dev(), acc_scratch(out))
        return out

    @staticmethod
    def backward(ctx, grad):
        return Take.apply(grad, ctx.index), None, None


def take(input: Tensor, index: Tensor) -> Tensor:  # noqa: A002
    """The elements of `input`, viewed as 1-D, at `index`; the result has the shape of `index`."""
    if index.dtype is not D.int64:
        raise RuntimeError(f"take(): Expected a long tensor for index, but found {type_name(index.dtype)}")
    check_same_device(input, index)
    if index.numel() and input.numel() == 0:
        raise IndexError("take(): tried to take from an empty tensor")
    return Take.apply(input, index)


def _index_add_method(self: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """`x.index_add(dim, index, source, alpha=1)`: see `tt.index_add`."""
    return index_add(self, dim, index, source, alpha=alpha)


__all__ = ["index_add", "index_select", "take"]

METHODS: dict = {
    "index_select": index_select, "index_add": _index_add_method, "index_add_": inplace_method(_index_add_method),
    "take": take,
}
