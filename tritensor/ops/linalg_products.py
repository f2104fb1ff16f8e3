"""tt.linalg.cross / vecdot / multi_dot: compositions of existing ops (narrow, mul, sum, cat, matmul), so they run on
cpu and cuda alike and are differentiable through those ops."""

from __future__ import annotations

from .. import dtypes as D
from ..tensor import Tensor
from . import linalg_common as C
from .dispatch import broadcast_shapes
from .reduction import torch_name, wrap_dim
from .shape import cat


@C.out_arg
def cross(input: Tensor, other: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """The cross product of 3-vectors along `dim` (default -1); the operands broadcast."""
    C.check_tensor("linalg_cross", input, "input")
    C.check_tensor("linalg_cross", other, "other")
    if input.ndim != other.ndim:
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions. Got {input.ndim} and "
                           f"{other.ndim}")
    d = wrap_dim(dim, input.ndim)
    if input._shape[d] != 3 or other._shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input._shape[d]} and "
                           f"{other._shape[d]}")
    shape = broadcast_shapes(input._shape, other._shape)
    a, b = input.expand(shape), other.expand(shape)
    if a.dtype is not b.dtype:
        dt = D.result_type(a, b)
        a, b = a.to(dt), b.to(dt)
    x = [a.narrow(d, i, 1) for i in range(3)]
    y = [b.narrow(d, i, 1) for i in range(3)]
    parts = [x[1] * y[2] - x[2] * y[1], x[2] * y[0] - x[0] * y[2], x[0] * y[1] - x[1] * y[0]]
    return cat(parts, d)


@C.out_arg
def vecdot(x: Tensor, y: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """sum(x * y) along `dim`, the operands broadcast (real dtypes: no conjugation)."""
    C.check_tensor("linalg_vecdot", x, "x")
    C.check_tensor("linalg_vecdot", y, "y")
    if x.dtype is not y.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
                           f"{torch_name(x.dtype)} and y of type {torch_name(y.dtype)} instead")
    return (x * y).sum(dim)


@C.out_arg
def multi_dot(tensors, *, out=None) -> Tensor:
    """The chained matrix product of `tensors` (the first may be 1-D, a row vector; the last 1-D, a column)."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    first, last = tensors[0], tensors[-1]
    if first.ndim not in (1, 2):
        raise RuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got {first.ndim}D")
    if last.ndim not in (1, 2):
        raise RuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got {last.ndim}D")
    for i, t in enumerate(tensors[1:-1], 1):
        if t.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
    mats = [first.unsqueeze(0) if first.ndim == 1 else first, *tensors[1:-1],
            last.unsqueeze(-1) if last.ndim == 1 else last]
    for i in range(len(mats) - 1):
        if mats[i]._shape[1] != mats[i + 1]._shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {list(tensors[i]._shape)} and "
                               f"{list(tensors[i + 1]._shape)} cannot be multiplied")
    result = mats[0]
    for m in mats[1:]:
        result = C.mm(result, m)
    if first.ndim == 1:
        result = result.squeeze(0)
    if last.ndim == 1:
        result = result.squeeze(-1)
    return result


__all__: list[str] = []
METHODS: dict = {}
NAMESPACES = {"linalg": ["cross", "vecdot", "multi_dot"]}
