"""index_select / index_add along a dim with a 1-d index, and take (x read flattened).

All three are the shared index kernels of index_core.py: the 1-d index is viewed over the launch shape
moving only along `dim` (for take, over its own shape against x flattened). index_select and index_add
reject negative indices; take wraps them like PyTorch. Pass an `IndexCheck` to have out-of-range
indices reported (index_core.py).
"""

from __future__ import annotations

import numpy as np

from . import elementwise
from .device_array import DeviceArray
from .index_core import (
    IndexCheck,
    atleast_1d,
    begin_accumulate,
    check_indices,
    dim_base,
    end_accumulate,
    flat_view,
    fp_math,
    launch_gather,
    launch_scatter,
    normalize_dim,
    same_array,
)


def _along_dim(index: DeviceArray, shape: tuple, dim: int) -> DeviceArray:
    """A 1-d index viewed over `shape`, moving only along `dim`."""
    index = atleast_1d(index)
    if index.ndim != 1 or index.shape[0] != shape[dim]:
        raise ValueError(f"index {index.shape} must be 1-d with {shape[dim]} elements")
    strides = [0] * len(shape)
    strides[dim] = index.strides[0]
    return index.view_as(tuple(shape), tuple(strides))


def index_select(out: DeviceArray, x: DeviceArray, index: DeviceArray, dim: int,
                 check: IndexCheck | None = None) -> None:
    """out = x.index_select(dim, index): index is 1-d (or 0-d); out is x's shape with dim -> len(index).

    With `check`, the indices are validated even when out is empty (x empty off `dim`), as PyTorch does.
    """
    x, out = atleast_1d(x), atleast_1d(out)
    dim = normalize_dim(dim, x.ndim)
    if out.numel() == 0 and check is not None:
        check_indices(index, x.shape[dim], False, check)
    launch_gather(out, dim_base(x, out, dim), [_along_dim(index, out.shape, dim)], [x.strides[dim]],
                  [x.shape[dim]], wrap=False, check=check)


def index_select_backward(grad_x: DeviceArray, grad: DeviceArray, index: DeviceArray, dim: int,
                          acc: DeviceArray | None = None) -> None:
    """grad_x (x's shape, overwritten) = zeros.index_add(dim, index, grad)."""
    _index_add_into(grad_x, index, grad, dim, 1, acc, zero=True, check=None)


def _index_add_into(target: DeviceArray, index: DeviceArray, source, dim: int, alpha, acc, zero: bool,
                    check: IndexCheck | None) -> None:
    target, source = atleast_1d(target), atleast_1d(source)
    acc = None if acc is None else atleast_1d(acc)
    dim = normalize_dim(dim, target.ndim)
    dst = begin_accumulate(target, acc, zero)
    launch_scatter(dim_base(dst, source, dim), source, [_along_dim(index, source.shape, dim)],
                   [dst.strides[dim]], [dst.shape[dim]], wrap=False, accumulate=True, alpha=alpha, check=check)
    end_accumulate(target, dst)


def index_add(out: DeviceArray, x: DeviceArray, index: DeviceArray, source: DeviceArray, dim: int,
              alpha=1, acc: DeviceArray | None = None, check: IndexCheck | None = None) -> None:
    """out = x.index_add(dim, index, source, alpha): out[..., index[j], ...] += alpha * source[..., j, ...].

    Pass out=x for index_add_. Duplicate indices sum (atomics; see accumulate_dtype/acc).
    """
    if not same_array(out, x):
        elementwise.copy(out, x)
    _index_add_into(out, index, source, dim, alpha, acc, zero=False, check=check)


def index_add_backward(grad_x: DeviceArray | None, grad_source: DeviceArray | None, grad: DeviceArray,
                       index: DeviceArray, dim: int, alpha=1) -> None:
    """grad_x = grad; grad_source = alpha * grad.index_select(dim, index)."""
    if grad_x is not None:
        elementwise.copy(grad_x, grad)
    if grad_source is not None:
        index_select(grad_source, grad, index, dim)
        if alpha != 1:
            elementwise.scale(grad_source, grad_source, alpha)


def take(out: DeviceArray, x: DeviceArray, index: DeviceArray, check: IndexCheck | None = None) -> None:
    """out = x.take(index): x read as flattened (row-major); negative indices wrap. out has index's shape.

    x must collapse to one dim (any contiguous array does); otherwise pass a contiguous copy.
    """
    flat = flat_view(x, "take's input")
    launch_gather(out, flat.view_as(index.shape, (0,) * index.ndim), [index], [flat.strides[0]],
                  [flat.shape[0]], wrap=True, check=check)


def take_backward(grad_x: DeviceArray, grad: DeviceArray, index: DeviceArray,
                  acc: DeviceArray | None = None) -> None:
    """grad_x (x's shape, overwritten, must collapse to one dim) = zeros with grad added at index."""
    dst = begin_accumulate(grad_x, acc, zero=True)
    flat = flat_view(dst, "take's grad_x")
    launch_scatter(flat.view_as(index.shape, (0,) * index.ndim), grad, [index], [flat.strides[0]],
                   [flat.shape[0]], wrap=True, accumulate=True)
    end_accumulate(grad_x, dst)


# ================================================================ NumPy references
def index_select_ref(x: np.ndarray, index: np.ndarray, dim: int) -> np.ndarray:
    x = np.atleast_1d(x)
    return np.take(x, np.atleast_1d(index), axis=dim % x.ndim)


def index_select_backward_ref(grad: np.ndarray, x_shape: tuple, index: np.ndarray, dim: int) -> tuple:
    return (index_add_ref(np.zeros(x_shape, grad.dtype), index, grad, dim),)


def index_add_ref(x: np.ndarray, index: np.ndarray, source: np.ndarray, dim: int, alpha=1) -> np.ndarray:
    out = np.atleast_1d(x)
    dim %= out.ndim
    acc = fp_math(out).copy()
    # np.add.at with a slice+array key adds each source slice in index order, like PyTorch's CPU loop.
    moved = np.moveaxis(acc, dim, 0)
    scaled = (np.atleast_1d(source).astype(acc.dtype) * alpha).astype(acc.dtype)
    np.add.at(moved, np.atleast_1d(index), np.moveaxis(scaled, dim, 0))
    return acc.astype(out.dtype).reshape(np.shape(x))


def index_add_backward_ref(grad: np.ndarray, index: np.ndarray, dim: int, alpha=1) -> tuple:
    return grad.copy(), (index_select_ref(grad, index, dim) * alpha).astype(grad.dtype)


def take_ref(x: np.ndarray, index: np.ndarray) -> np.ndarray:
    return np.asarray(x).reshape(-1)[index]


def take_backward_ref(grad: np.ndarray, x_shape: tuple, index: np.ndarray) -> tuple:
    acc = fp_math(np.zeros(int(np.prod(x_shape)), grad.dtype))
    np.add.at(acc, index, grad.astype(acc.dtype))
    return (acc.astype(grad.dtype).reshape(x_shape),)


OPS = {
    # name: (forward wrapper, backward wrapper or None, forward ref, backward ref or None)
    "index_select": (index_select, index_select_backward, index_select_ref, index_select_backward_ref),
    "index_add": (index_add, index_add_backward, index_add_ref, index_add_backward_ref),
    "take": (take, take_backward, take_ref, take_backward_ref),
}

SPECS: list = []  # the kernels are index_core's

__all__ = ["index_add", "index_add_backward", "index_select", "index_select_backward", "take", "take_backward"]
