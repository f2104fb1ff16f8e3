"""sort, argsort, msort, topk over kernels/sort.py.

The kernels sort each row of an (M, R) view (the sorted dim moved last) in registers, stably, with
PyTorch's NaN placement, for R <= MAX_SORT_R. Longer rows on cuda raise NotImplementedError; cpu
always runs the NumPy reference. The backward of the values is a scatter of the gradient to the
returned indices (a fused kernel; with create_graph, `tt.scatter`).
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..creation import zeros
from ..kernels import sort as K
from ..tensor import Tensor, wrap_dim
from .copy import _contiguous_copy
from .reduction import public_op, return_type, rows_output, rows_view

sort_return, topk_return = return_type("sort"), return_type("topk")


def _check_row(name: str, x: Tensor, d: int) -> None:
    if x.device.type != "cpu" and x.ndim and x._shape[d] > K.MAX_SORT_R:
        raise NotImplementedError(f"{name}: the cuda sort kernel sorts a row in registers, so rows are limited to "
                                  f"{K.MAX_SORT_R} elements; got {x._shape[d]} along dim {d}. Sort on the cpu "
                                  "(x.cpu()) for longer rows.")


def _sorted(x: Tensor, d: int, k: int, descending: bool, with_values: bool) -> tuple:
    """(values or None, int64 indices) of the first k of each row along d, sorted; contiguous."""
    shape = x._shape[:d] + (k,) + x._shape[d + 1:] if x.ndim else ()
    if x.device.type == "cpu":
        a = x._host().reshape(-1) if x.ndim == 0 else x._host()
        if k == a.shape[d]:
            values, indices = K.sort_ref(a, d, descending)
        else:
            values, indices = K.topk_ref(a, k, d, descending)
        v = Tensor._wrap(values.reshape(shape)) if with_values else None
        return v, Tensor._wrap(indices.reshape(shape))
    dims = (d,) if x.ndim else ()
    _, rows, _ = rows_view(x, dims)
    indices, irows = rows_output(shape, D.int64, x.device, dims)
    values, vrows = rows_output(shape, x.dtype, x.device, dims) if with_values else (None, None)
    if with_values:
        K.topk(vrows, irows, rows, k, largest=descending)
    else:
        K.argsort(irows, rows, descending)
    fix = [t if t is None or t.is_contiguous() else _contiguous_copy(t) for t in (values, indices)]
    return fix[0], fix[1]


class Sort(Function):
    """sort and topk: (values, indices); the values' gradient is scattered to the indices."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, d: int, k: int, descending: bool) -> tuple[Tensor, Tensor]:
        ctx.d, ctx.shape = d, x._shape
        values, indices = _sorted(x, d, k, descending, True)
        ctx.mark_non_differentiable(indices)
        ctx.save_for_backward(indices)
        return values, indices

    @staticmethod
    def backward(ctx, grad, grad_indices=None):
        (indices,) = ctx.saved_tensors
        if not ctx.shape:
            return grad.reshape(()), None, None, None
        base = zeros(ctx.shape, dtype=grad.dtype, device=grad.device)
        return public_op("scatter")(base, ctx.d, indices.detach(), grad), None, None, None

    def backward_fused(self, grad, grad_indices=None):
        (indices,) = self.saved_tensors
        d, shape = self.d, self.shape
        if not shape:
            return grad.reshape(()).clone(), None, None, None
        if grad.device.type == "cpu":
            like = np.empty(shape, grad.dtype.np)
            return Tensor._wrap(K.sort_backward_ref(grad._host(), like, indices._host(), d)[0]), None, None, None
        dims = (d,)
        gx, gx_rows = rows_output(shape, grad.dtype, grad.device, dims)
        K.sort_backward(gx_rows, rows_view(grad, dims)[1], rows_view(indices, dims)[1])
        return gx, None, None, None


def _dim(x: Tensor, dim: int) -> int:
    d = wrap_dim(dim, x.ndim)
    return d if x.ndim else 0  # a 0-d tensor accepts dim 0 / -1 and sorts as one 1-element row


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """Sorted values and int64 indices along dim (always stable; NaN sorts as the largest value)."""
    d = _dim(input, dim)
    _check_row("sort", input, d)
    values, indices = Sort.apply(input, d, input._shape[d] if input.ndim else 1, bool(descending))
    return sort_return(values, indices)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort `input` along `dim` (ascending unless `descending`)."""
    d = _dim(input, dim)
    _check_row("argsort", input, d)
    return _sorted(input.detach(), d, input._shape[d] if input.ndim else 1, bool(descending), False)[1]


def msort(input: Tensor) -> Tensor:
    """`input` sorted along dim 0 (the values of `tt.sort(input, 0)`)."""
    return sort(input, 0).values


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    """The k largest (smallest) values along dim and their int64 indices, largest first (always sorted;
    ties go to the lower index)."""
    d = _dim(input, dim)
    n = input._shape[d] if input.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    _check_row("topk", input, d)
    values, indices = Sort.apply(input, d, int(k), bool(largest))
    return topk_return(values, indices)


__all__ = ["sort", "argsort", "msort", "topk"]
METHODS = {"sort": sort, "argsort": argsort, "msort": msort, "topk": topk}
