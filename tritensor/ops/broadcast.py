"""Broadcasting and device agreement: the shape rules every op shares (below dispatch and copies)."""

from __future__ import annotations

from ..kernels.device_array import DeviceArray
from ..tensor import Tensor


def check_same_device(*tensors: Tensor) -> None:
    first = tensors[0].device
    for t in tensors[1:]:
        if t.device is not first and t.device != first:
            raise RuntimeError("Expected all tensors to be on the same device, but found at least two devices, "
                               f"{first} and {t.device}!")


def broadcast_shapes(*shapes: tuple) -> tuple:
    ndim = max(len(s) for s in shapes)
    out = [1] * ndim
    for s in shapes:
        for i, n in enumerate(s, ndim - len(s)):
            if n != 1:
                if out[i] != 1 and out[i] != n:
                    raise RuntimeError(
                        f"The size of tensor a ({out[i]}) must match the size of tensor b ({n}) at "
                        f"non-singleton dimension {i}")
                out[i] = n
    return tuple(out)


def expanded(t: Tensor, shape: tuple) -> DeviceArray:
    """t's DeviceArray viewed at the broadcast `shape` (stride 0 along broadcast dims); a complex t's float
    view keeps its trailing (real, imag) dim."""
    d = t._dev()
    if t.dtype.is_complex:
        shape = tuple(shape) + (2,)
    if d.shape == shape:
        return d
    lead = len(shape) - len(d.shape)
    strides = (0,) * lead + tuple(0 if n == 1 and m != 1 else st
                                  for n, m, st in zip(d.shape, shape[lead:], d.strides))
    return d.view_as(shape, strides)


def sum_to(grad: Tensor, shape: tuple) -> Tensor:
    """Sum a broadcast gradient back to an input's shape (the inverse of broadcasting)."""
    if grad._shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and grad._shape[i + lead] != 1)
    out = grad.sum(dims, keepdim=True) if dims else grad
    return out.reshape(shape) if out._shape != shape else out
