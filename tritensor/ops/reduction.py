"""The foundation's reduction: sum over dims (int, tuple or all) with keepdim and dtype."""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import reduction as K
from ..kernels.strided import collapse
from ..tensor import Tensor, wrap_dim
from .copy import _contiguous_copy


def normalize_dims(dim, ndim: int) -> tuple:
    """dim=None -> all dims; int or sequence -> sorted, wrapped, checked for repeats."""
    if dim is None or dim == ():
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    dims = tuple(wrap_dim(d, ndim) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {dims} appears multiple times in the list of dims")
    return tuple(sorted(dims))


def rows_view(x: Tensor, dims: tuple) -> tuple[Tensor, object, tuple]:
    """x as an (M, R) DeviceArray with the reduced `dims` last (copying only if a group won't collapse).

    Returns (the tensor actually viewed, the (M, R) DeviceArray, the kept shape).
    """
    kept = tuple(d for d in range(x.ndim) if d not in dims)
    order = kept + dims
    shape = tuple(x._shape[d] for d in order)
    strides = tuple(x.stride()[d] for d in order)
    kept_shape = shape[: len(kept)]
    M = int(np.prod(kept_shape, dtype=np.int64))
    R = int(np.prod(shape[len(kept):], dtype=np.int64))
    km, (ks,) = collapse(kept_shape, [strides[: len(kept)]])
    rm, (rs,) = collapse(shape[len(kept):], [strides[len(kept):]])
    if len(km) <= 1 and len(rm) <= 1:
        d = x._dev()
        return x, d.view_as((M, R), (ks[0] if km else 0, rs[0] if rm else 0)), kept_shape
    c = _contiguous_copy(x.permute(order))
    return c, c._dev().view_as((M, R), (R, 1)), kept_shape


def sum_dtype(x_dtype: D.dtype, dtype: D.dtype | None) -> D.dtype:
    if dtype is not None:
        return dtype
    return D.int64 if not x_dtype.is_floating_point else x_dtype


class Sum(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple, keepdim: bool, dtype: D.dtype) -> Tensor:
        ctx.shape, ctx.dims, ctx.keepdim = x._shape, dims, keepdim
        if x.device.type == "cpu":
            acc = np.float32 if dtype in (D.float16, D.bfloat16) else dtype.np
            r = K.sum_ref(x._host(), dims, keepdim, acc)
            return Tensor._wrap(np.asarray(r).astype(dtype.np, copy=False))
        src, rows, kept_shape = rows_view(x, dims)
        out = Tensor._empty(kept_shape, dtype, x.device)
        K.sum(out._dev().view_as((rows.shape[0],), (1,)), rows)
        if keepdim:
            out = out.reshape(tuple(1 if d in dims else n for d, n in enumerate(x._shape)))
        return out

    @staticmethod
    def backward(ctx, grad):
        if not ctx.keepdim:
            grad = grad.reshape(tuple(1 if d in ctx.dims else n for d, n in enumerate(ctx.shape)))
        return grad.expand(ctx.shape), None, None, None


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype: D.dtype | None = None) -> Tensor:  # noqa: A001
    dims = normalize_dims(dim, input.ndim)
    return Sum.apply(input, dims, keepdim, sum_dtype(input.dtype, dtype))

__all__ = ["sum"]
