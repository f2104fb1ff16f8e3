"""Advanced indexing: x[i0, i1] (aten::index) and x[i0, i1] = v / index_put (aten::index_put).

Up to four integer index arrays, one per indexed dim (None: a full slice), broadcast together; negative
indices wrap like PyTorch. Both ops are the shared index kernels of index_core.py over the indexing
result's shape. Boolean masks are turned into index arrays by the Tensor layer (masked.nonzero).
Pass an `IndexCheck` with one code per index array to have out-of-range indices reported
(index_core.py).
"""

from __future__ import annotations

import numpy as np

from . import elementwise
from .device_array import DeviceArray
from .index_core import (
    MAX_INDICES,
    IndexCheck,
    begin_accumulate,
    broadcast_strides,
    broadcast_to,
    end_accumulate,
    fp_math,
    launch_gather,
    launch_scatter,
    same_array,
)


def _index_layout(x_shape: tuple, index_shapes: list) -> tuple:
    """(result shape, dims indexed, broadcast index shape, result positions of x's other dims).

    PyTorch/NumPy rule: when the indexed dims are adjacent, the broadcast index dims replace them
    in place; otherwise they go first.
    """
    if len(index_shapes) > len(x_shape):
        raise IndexError(f"too many indices for tensor of dimension {len(x_shape)}")
    index_shapes = list(index_shapes) + [None] * (len(x_shape) - len(index_shapes))
    dims = [d for d, s in enumerate(index_shapes) if s is not None]
    if not dims:
        raise ValueError("advanced indexing needs at least one index tensor")
    b_shape = tuple(np.broadcast_shapes(*(tuple(index_shapes[d]) for d in dims)))
    rest = [d for d in range(len(x_shape)) if index_shapes[d] is None]
    if dims == list(range(dims[0], dims[-1] + 1)):
        before = [d for d in rest if d < dims[0]]
        after = [d for d in rest if d > dims[-1]]
    else:
        before, after = [], rest
    shape = tuple(x_shape[d] for d in before) + b_shape + tuple(x_shape[d] for d in after)
    return shape, dims, b_shape, before, after


def index_result_shape(x_shape: tuple, index_shapes: list) -> tuple:
    """Shape of x[indices]: index_shapes[d] is the shape of the index tensor for dim d, or None."""
    return _index_layout(tuple(x_shape), index_shapes)[0]


def _index_views(target: DeviceArray, indices: list):
    """(target base view, index views, dim strides, dim sizes), all over the indexing result's shape."""
    shape, dims, b_shape, before, after = _index_layout(target.shape, [None if t is None else t.shape
                                                                      for t in indices])
    if len(dims) > MAX_INDICES:
        raise NotImplementedError(f"at most {MAX_INDICES} index tensors per indexing op")
    if any(indices[d].dtype.is_floating_point or indices[d].dtype.name in ("bool", "uint8") for d in dims):
        raise TypeError("index arrays must be integers (turn boolean masks into indices with nonzero first)")
    base = target.view_as(shape, tuple(target.strides[d] for d in before) + (0,) * len(b_shape)
                          + tuple(target.strides[d] for d in after))
    views = []
    for d in dims:
        t = indices[d]
        strides = (0,) * len(before) + broadcast_strides(t, b_shape) + (0,) * len(after)
        views.append(t.view_as(shape, strides))
    return base, views, [target.strides[d] for d in dims], [target.shape[d] for d in dims]


def index(out: DeviceArray, x: DeviceArray, indices: list, check: IndexCheck | None = None) -> None:
    """out = x[indices] (aten::index): indices[d] is an integer index array for dim d or None (a full
    slice); the index arrays broadcast together; negative indices wrap. out's shape is
    index_result_shape(x.shape, [t.shape or None, ...]). At most 4 index arrays; `check` holds one code
    per index array, in dim order.
    """
    base, views, dim_strides, dim_sizes = _index_views(x, indices)
    if base.shape != out.shape:
        raise ValueError(f"out has shape {out.shape}, x[indices] has {base.shape}")
    launch_gather(out, base, views, dim_strides, dim_sizes, wrap=True, check=check)


def index_backward(grad_x: DeviceArray, grad: DeviceArray, indices: list,
                   acc: DeviceArray | None = None) -> None:
    """grad_x (x's shape, overwritten) = zeros.index_put(indices, grad, accumulate=True)."""
    dst = begin_accumulate(grad_x, acc, zero=True)
    base, views, dim_strides, dim_sizes = _index_views(dst, indices)
    launch_scatter(base, grad, views, dim_strides, dim_sizes, wrap=True, accumulate=True)
    end_accumulate(grad_x, dst)


def index_put(out: DeviceArray, x: DeviceArray, indices: list, values, accumulate: bool = False,
              acc: DeviceArray | None = None, check: IndexCheck | None = None) -> None:
    """out = x.index_put(indices, values, accumulate) (pass out=x for index_put_ / x[indices] = values).

    values: a DeviceArray broadcastable to x[indices]'s shape, or a Python scalar. Without accumulate
    a repeated index keeps one of its values; with it they sum (atomics; see accumulate_dtype/acc).
    """
    if not same_array(out, x):
        elementwise.copy(out, x)
    dst = begin_accumulate(out, acc, zero=False) if accumulate else out
    base, views, dim_strides, dim_sizes = _index_views(dst, indices)
    if isinstance(values, DeviceArray):
        values = broadcast_to(values, base.shape)
    launch_scatter(base, values, views, dim_strides, dim_sizes, wrap=True, accumulate=accumulate, check=check)
    if accumulate:
        end_accumulate(out, dst)


def index_put_backward(grad_x: DeviceArray | None, grad_values: DeviceArray | None, grad: DeviceArray,
                       indices: list, accumulate: bool = False) -> None:
    """grad_x = grad, with the indexed positions zeroed unless accumulate; grad_values = grad[indices]
    (x[indices]'s shape: the Tensor layer sums it to values' shape)."""
    if grad_x is not None:
        if accumulate:
            elementwise.copy(grad_x, grad)
        else:
            index_put(grad_x, grad, indices, 0)
    if grad_values is not None:
        index(grad_values, grad, indices)


# ================================================================ NumPy references
def _index_key(indices: list) -> tuple:
    return tuple(slice(None) if t is None else t for t in indices)


def index_ref(x: np.ndarray, indices: list) -> np.ndarray:
    return x[_index_key(indices)]


def index_backward_ref(grad: np.ndarray, x_shape: tuple, indices: list) -> tuple:
    return (index_put_ref(np.zeros(x_shape, grad.dtype), indices, grad, accumulate=True),)


def index_put_ref(x: np.ndarray, indices: list, values, accumulate: bool = False) -> np.ndarray:
    key = _index_key(indices)
    if not accumulate:
        out = x.copy()
        out[key] = values
        return out
    acc = fp_math(x).copy()
    values = np.broadcast_to(np.asarray(values).astype(acc.dtype), x[key].shape)
    np.add.at(acc, key, values)
    return acc.astype(x.dtype)


def index_put_backward_ref(grad: np.ndarray, indices: list, accumulate: bool = False) -> tuple:
    grad_x = grad.copy() if accumulate else index_put_ref(grad, indices, 0)
    return grad_x, index_ref(grad, indices)


OPS = {
    # name: (forward wrapper, backward wrapper or None, forward ref, backward ref or None)
    "index": (index, index_backward, index_ref, index_backward_ref),
    "index_put": (index_put, index_put_backward, index_put_ref, index_put_backward_ref),
}

SPECS: list = []  # the kernels are index_core's

__all__ = ["index", "index_backward", "index_put", "index_put_backward", "index_result_shape"]
