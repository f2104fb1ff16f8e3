"""Extrema of rows over a (M, R) strided view: amax/amin, max/min (values and indices), argmax/argmin,
and their backwards.

No kernels of their own: they run the generic kernels of kernels/reduction.py (read its docstring; its
SPECS lists their specialisations) with KIND "max"/"min": values compare in the input's own type, NaN is
the extreme, the index is the first occurrence; an empty row raises ValueError (no identity).
amax/amin's gradient is split evenly among ties, max/min's goes whole to the returned index. Launch
wrappers write into preallocated DeviceArrays: x is (M, R), results are (M,). `OPS` maps each op name to
its `reduce_ops.ReduceOp`.
"""

from __future__ import annotations

import numpy as np

from .device_array import DeviceArray
from .reduce_ops import ReduceOp, axis_tuple, expand_reduced, float_like
from .reduction import launch, launch_backward


# ================================================================ launch wrappers
# Forward: x is a 2-d (M, R) view, outputs (M,), scratch as `reduction.launch` takes it (the split path);
# backward: grad_x (M, R) in x's dtype, grad and result (M,).
def amax(out: DeviceArray, x: DeviceArray, scratch: DeviceArray | None = None) -> None:
    """out[m] = max_r x[m, r] (NaN if the row has one); raises ValueError for R == 0."""
    launch(out, None, x, "max", scratch=scratch)


def amin(out: DeviceArray, x: DeviceArray, scratch: DeviceArray | None = None) -> None:
    launch(out, None, x, "min", scratch=scratch)


def max(values: DeviceArray, indices: DeviceArray, x: DeviceArray, scratch: DeviceArray | None = None) -> None:  # noqa: A001
    """values[m], indices[m] (int64) = the row's max and its first index; NaN is the max."""
    launch(values, indices, x, "max", scratch=scratch)


def min(values: DeviceArray, indices: DeviceArray, x: DeviceArray, scratch: DeviceArray | None = None) -> None:  # noqa: A001
    launch(values, indices, x, "min", scratch=scratch)


def argmax(indices: DeviceArray, x: DeviceArray, scratch: DeviceArray | None = None) -> None:
    """indices[m] (int64) = first index of the row's max (of its first NaN if any)."""
    launch(None, indices, x, "max", scratch=scratch)


def argmin(indices: DeviceArray, x: DeviceArray, scratch: DeviceArray | None = None) -> None:
    launch(None, indices, x, "min", scratch=scratch)


def amax_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, result: DeviceArray) -> None:
    """grad split evenly among the entries equal to the result (among the NaNs if it is NaN)."""
    launch_backward(grad_x, grad, x, result, "extremum")


amin_backward = amax_backward


def max_backward(grad_x: DeviceArray, grad: DeviceArray, indices: DeviceArray) -> None:
    """max/min with dim: the whole grad goes to the returned index (int64 (M,))."""
    launch_backward(grad_x, grad, None, indices, "index")


min_backward = max_backward


# ================================================================ NumPy references
def amax_ref(x: np.ndarray, axis: tuple, keepdims: bool) -> np.ndarray:
    # NaN propagates, as in PyTorch; ml_dtypes' bfloat16 maximum flags it as "invalid" where float32 does not.
    with np.errstate(invalid="ignore"):
        return np.max(x, axis=axis_tuple(axis), keepdims=keepdims)


def amin_ref(x: np.ndarray, axis: tuple, keepdims: bool) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # NaN propagates silently (see amax_ref)
        return np.min(x, axis=axis_tuple(axis), keepdims=keepdims)


def argmax_ref(x: np.ndarray, axis: int, keepdims: bool) -> np.ndarray:
    """First index of the max; NaN counts as the max (NumPy and PyTorch agree)."""
    return np.argmax(x, axis=axis, keepdims=keepdims).astype(np.int64)


def argmin_ref(x: np.ndarray, axis: int, keepdims: bool) -> np.ndarray:
    return np.argmin(x, axis=axis, keepdims=keepdims).astype(np.int64)


def max_ref(x: np.ndarray, axis: int, keepdims: bool) -> tuple[np.ndarray, np.ndarray]:
    return amax_ref(x, axis, keepdims), argmax_ref(x, axis, keepdims)


def min_ref(x: np.ndarray, axis: int, keepdims: bool) -> tuple[np.ndarray, np.ndarray]:
    return amin_ref(x, axis, keepdims), argmin_ref(x, axis, keepdims)


def amax_backward_ref(grad: np.ndarray, x: np.ndarray, result: np.ndarray, axis: tuple,
                      keepdims: bool) -> tuple:
    xf, g, y = float_like(x, x, expand_reduced(grad, x, axis, keepdims), expand_reduced(result, x, axis, keepdims))
    hit = (xf == y) | (np.isnan(xf) & np.isnan(y))
    count = expand_reduced(np.sum(hit, axis=axis_tuple(axis), keepdims=True), x, axis, True)
    return (np.where(hit, g / np.maximum(count, 1), 0).astype(x.dtype),)


amin_backward_ref = amax_backward_ref


def max_backward_ref(grad: np.ndarray, x: np.ndarray, indices: np.ndarray, axis: int,
                     keepdims: bool) -> tuple:
    gx = np.zeros(x.shape, x.dtype)
    g = grad if keepdims else np.expand_dims(grad, axis)
    i = indices if keepdims else np.expand_dims(indices, axis)
    np.put_along_axis(gx, i, g.astype(x.dtype), axis=axis)
    return (gx,)


min_backward_ref = max_backward_ref


# ================================================================ registry
OPS: dict[str, ReduceOp] = {
    "amax": ReduceOp(amax, amax_ref, "same", amax_backward, amax_backward_ref, ("x", "result")),
    "amin": ReduceOp(amin, amin_ref, "same", amin_backward, amin_backward_ref, ("x", "result")),
    "max": ReduceOp(max, max_ref, "same + int64 indices", max_backward, max_backward_ref, ("indices",)),
    "min": ReduceOp(min, min_ref, "same + int64 indices", min_backward, min_backward_ref, ("indices",)),
    "argmax": ReduceOp(argmax, argmax_ref, "int64"),
    "argmin": ReduceOp(argmin, argmin_ref, "int64"),
}
