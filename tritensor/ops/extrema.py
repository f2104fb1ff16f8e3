"""Extrema over kernels/extrema.py: max/min (a value, or values and indices along a dim, or tt.maximum
with a tensor), amax/amin, argmax/argmin.

They run on rows as every reduction does (ops/reduction.py). amax/amin (and max()/min() without dim) split
the gradient evenly among ties; max/min along a dim send it whole to the returned index. Both gradients are
the fused kernel run on a gradient of ones times the expanded grad, so they have derivatives of every order.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import extrema as K
from ..tensor import Tensor, wrap_dim
from .reduction import (
    _check_nonempty,
    expand_grad,
    kernel_grad,
    meta,
    normalize_dims,
    ones_like_result,
    public_op,
    return_type,
    run_reduction,
)

_MAX_RETURN, _MIN_RETURN = return_type("max"), return_type("min")


class Amax(Function):
    """amax/amin (and max()/min() without dim): the gradient is split evenly among ties."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple, keepdim: bool, is_max: bool) -> Tensor:
        ctx.dims, ctx.keepdim, ctx.is_max = dims, keepdim, is_max
        ref = K.amax_ref if is_max else K.amin_ref
        kernel = K.amax if is_max else K.amin
        (out,) = run_reduction(x, dims, keepdim, (x.dtype,), lambda a: ref(a, dims, keepdim), kernel)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        weights = Amax._grad(ctx, ones_like_result(y._shape, grad.dtype, grad.device), x.detach(), y.detach())
        return expand_grad(grad, x._shape, ctx.dims, ctx.keepdim) * weights, None, None, None

    def backward_fused(self, grad):
        x, y = self.saved_tensors
        return Amax._grad(self, grad, x, y), None, None, None

    @staticmethod
    def _grad(ctx, grad: Tensor, x: Tensor, y: Tensor) -> Tensor:
        if x.device.type == "cpu":
            return Tensor._wrap(K.amax_backward_ref(grad._host(), x._host(), y._host(), ctx.dims, ctx.keepdim)[0])
        return kernel_grad(meta(x), ctx.dims, grad, K.amax_backward, rows=(x,), vecs=(y,))


class MaxDim(Function):
    """max/min along one dim: (values, int64 indices); the whole gradient goes to the index."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, d: int, keepdim: bool, is_max: bool) -> tuple[Tensor, Tensor]:
        ctx.dims, ctx.keepdim = (d,) if x.ndim else (), keepdim
        ref = K.max_ref if is_max else K.min_ref
        kernel = K.max if is_max else K.min
        values, indices = run_reduction(x, ctx.dims, keepdim, (x.dtype, D.int64),
                               lambda a: ref(a.reshape(-1) if a.ndim == 0 else a, d, keepdim), kernel)
        ctx.mark_non_differentiable(indices)
        ctx.save_for_backward(x, indices)
        return values, indices

    @staticmethod
    def backward(ctx, grad, grad_indices=None):
        x, indices = ctx.saved_tensors
        ones = ones_like_result(indices._shape, grad.dtype, grad.device)
        one_hot = MaxDim._grad(ctx, ones, x.detach(), indices.detach())
        return expand_grad(grad, x._shape, ctx.dims, ctx.keepdim) * one_hot, None, None, None

    def backward_fused(self, grad, grad_indices=None):
        x, indices = self.saved_tensors
        return MaxDim._grad(self, grad, x, indices), None, None, None

    @staticmethod
    def _grad(ctx, grad: Tensor, x: Tensor, indices: Tensor) -> Tensor:
        if x.device.type == "cpu":
            if x.ndim == 0:
                return Tensor._wrap(np.asarray(grad._host(), x.dtype.np).copy())
            return Tensor._wrap(K.max_backward_ref(grad._host(), x._host(), indices._host(), ctx.dims[0],
                                                   ctx.keepdim)[0])
        return kernel_grad(meta(x), ctx.dims, grad, K.max_backward, vecs=(indices,))


def _argext(name: str, x: Tensor, dim, keepdim: bool) -> Tensor:
    if x.dtype is D.bool:
        raise RuntimeError(f'"{name}_{x.device.type}" not implemented for \'Bool\'')
    is_max = name == "argmax"
    x = x.detach()
    if dim is None:
        _check_nonempty(name, x, (), False)
        flat = x.reshape(-1)
        dims, d = (0,), 0
    else:
        d = wrap_dim(dim, x.ndim)
        dims = (d,) if x.ndim else ()
        _check_nonempty(name, x, dims, True)
        flat = x
    ref = K.argmax_ref if is_max else K.argmin_ref
    kernel = K.argmax if is_max else K.argmin
    (out,) = run_reduction(flat, dims, keepdim and dim is not None, (D.int64,),
                  lambda a: ref(a.reshape(-1) if a.ndim == 0 else a, d, keepdim and dim is not None), kernel)
    if dim is None and keepdim:
        out = out.reshape((1,) * x.ndim)
    return out


# ================================================================ public API
def _extremum(name: str, input: Tensor, dim, keepdim: bool):
    if isinstance(dim, Tensor):
        return public_op("maximum" if name == "max" else "minimum")(input, dim)
    is_max = name == "max"
    if dim is None:
        _check_nonempty(name, input, (), False)
        return Amax.apply(input, tuple(range(input.ndim)), False, is_max)
    d = wrap_dim(dim, input.ndim)
    _check_nonempty(name, input, (d,) if input.ndim else (), True)
    values, indices = MaxDim.apply(input, d, keepdim, is_max)
    return (_MAX_RETURN if is_max else _MIN_RETURN)(values, indices)


def max(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """max(x) -> value; max(x, dim, keepdim) -> (values, indices); max(x, other) -> tt.maximum."""
    return _extremum("max", input, dim, keepdim)


def min(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """min(x) -> value; min(x, dim, keepdim) -> (values, indices); min(x, other) -> tt.minimum."""
    return _extremum("min", input, dim, keepdim)


def _amax(name: str, input: Tensor, dim, keepdim: bool) -> Tensor:
    dims = normalize_dims(dim, input.ndim)
    _check_nonempty(name, input, dims, dim is not None and dim != () and dim != [])
    return Amax.apply(input, dims, keepdim, name == "amax")


def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """The maximum over `dim` (all dims by default); unlike `max(dim)`, no indices and several dims at once."""
    return _amax("amax", input, dim, keepdim)


def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """The minimum over `dim` (all dims by default); unlike `min(dim)`, no indices and several dims at once."""
    return _amax("amin", input, dim, keepdim)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the maximum (of the flattened tensor when `dim` is None); the first one on ties."""
    return _argext("argmax", input, dim, keepdim)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the minimum (of the flattened tensor when `dim` is None); the first one on ties."""
    return _argext("argmin", input, dim, keepdim)


__all__ = ["max", "min", "amax", "amin", "argmax", "argmin"]
METHODS = {name: globals()[name] for name in __all__}
