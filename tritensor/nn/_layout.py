"""Row views for the fused nn kernels: a tensor as (M0, M1, R) with one dim last, without moving data.

Dims before `dim` collapse into M0 and dims after it into M1, each to a single stride; the kernels
address row m as (m // M1, m % M1). Every contiguous tensor (and most views) collapses this way for
any `dim`, so softmax over dim 1 of an (N, C, L) tensor reads and writes it in place; a layout that
does not collapse is copied to contiguous first.
"""

from __future__ import annotations

from ..kernels.device_array import DeviceArray
from ..kernels.strided import collapse
from ..ops.copy import _contiguous_copy
from ..tensor import Tensor


def _prod(shape: tuple) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _group(shape: tuple, strides: tuple) -> tuple[int, int] | None:
    """(size, stride) of dims collapsed to one, or None when they don't collapse."""
    cshape, (cstrides,) = collapse(shape, [strides])
    if len(cshape) > 1:
        return None
    return _prod(shape), (cstrides[0] if cshape else 0)


def try_rows3(t: Tensor, dim: int) -> DeviceArray | None:
    shape, strides = t._shape, t.stride()
    pre = _group(shape[:dim], strides[:dim])
    post = _group(shape[dim + 1:], strides[dim + 1:])
    if pre is None or post is None:
        return None
    return t._dev().view_as((pre[0], post[0], shape[dim]), (pre[1], post[1], strides[dim]))


def rows3(t: Tensor, dim: int) -> tuple[Tensor, DeviceArray]:
    """(the tensor viewed, its (M0, M1, R) DeviceArray) with `dim` as R; copies only if the layout needs it."""
    view = try_rows3(t, dim)
    if view is None:
        t = _contiguous_copy(t)
        view = try_rows3(t, dim)
    return t, view


def rows2(t: Tensor, split: int) -> tuple[Tensor, DeviceArray]:
    """t as (M0, M1): dims before `split` collapse to M0, the rest to M1 (copying only if needed)."""
    for _ in range(2):
        pre = _group(t._shape[:split], t.stride()[:split])
        post = _group(t._shape[split:], t.stride()[split:])
        if pre is not None and post is not None:
            return t, t._dev().view_as((pre[0], post[0]), (pre[1], post[1]))
        t = _contiguous_copy(t)
    raise AssertionError("a contiguous tensor always collapses")
