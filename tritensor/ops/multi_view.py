"""unbind / split / split_with_sizes (and chunk) as one autograd node with several view outputs.

PyTorch records `x.unbind(d)`, `x.split(n, d)` and `x.split([sizes], d)` as one node (UnbindBackward0,
SplitBackward0, SplitWithSizesBackward0) whose outputs are views of the input. Its backward writes each
output's gradient into its slice of one buffer of the input's shape, so `q, k, v = qkv.split(C, -1)` costs one
buffer in backward, not three zero-padded full-size gradients summed. Outputs that got no gradient leave zeros.

Outputs made while grad mode is on are marked MULTI_OUTPUT_NODE (view_meta.py): they, and views of them, cannot
be modified in place while autograd records (ops/copy.py check_inplace raises PyTorch's error).
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..creation import zeros
from ..grad_state import state
from ..storage import Storage
from ..tensor import Tensor, wrap_dim
from ..view_meta import multi_output
from .copy import write_into


def _bounds(n: int, sizes: tuple | None) -> list:
    """(start, length) of each piece along the split dim; length None for unbind's selected indices."""
    if sizes is None:
        return [(i, None) for i in range(n)]
    out, start = [], 0
    for s in sizes:
        out.append((start, s))
        start += s
    return out


def _geometries(shape: tuple, stride: tuple, offset: int, dim: int, sizes: tuple | None) -> list:
    """(shape, stride, offset) of each output over memory laid out as (shape, stride, offset)."""
    step = stride[dim]
    if sizes is None:  # unbind: the dim goes away
        out_shape, out_stride = shape[:dim] + shape[dim + 1:], stride[:dim] + stride[dim + 1:]
        return [(out_shape, out_stride, offset + i * step) for i in range(shape[dim])]
    head, tail = shape[:dim], shape[dim + 1:]
    return [(head + (n,) + tail, stride, offset + start * step) for start, n in _bounds(shape[dim], sizes)]


def _keys(ndim: int, dim: int, n: int, sizes: tuple | None) -> list:
    """NumPy basic keys that select each output (the same memory as its geometry)."""
    lead = (slice(None),) * dim
    # unbind's key ends with Ellipsis: of a 1-d array NumPy then gives a 0-d view, not a scalar copy.
    return [lead + ((start, Ellipsis) if length is None else (slice(start, start + length),))
            for start, length in _bounds(n, sizes)]


class _MultiView(Function):
    """Base of the three nodes: forward(x, dim, sizes) -> the views (sizes None: unbind's selection)."""

    differentiable_forward = False
    _materialize_grads = False  # a missing output gradient is a zero slice of the buffer, never a zeros tensor
    _state_in_saved = True  # ctx holds ints and tuples of ints only: nothing to free

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, sizes: tuple | None) -> tuple:
        ctx.dim, ctx.sizes, ctx.in_shape, ctx.in_stride = dim, sizes, x._shape, x.stride()
        geometries = _geometries(x._shape, ctx.in_stride, x._offset, dim, sizes)
        outs = tuple([x._view(*g) for g in geometries])
        if x._np is not None:
            # NumPy's own views of the same memory, as the single-view ops keep (ops/views.py View.forward).
            for out, key in zip(outs, _keys(x.ndim, dim, x._shape[dim], sizes)):
                out._np = x._np[key]
        if state.enabled:  # (made while not recording, _view marked them already)
            for out in outs:
                multi_output(out)
        return outs

    @staticmethod
    def backward(ctx, *grads):
        for g in grads:
            if g is not None:
                return Gather.apply(ctx, *grads), None, None
        return None, None, None  # hooks may leave no gradient at all: nothing reaches the input


class Unbind(_MultiView):
    """x.unbind(dim): one view per index of dim, the dim removed (grad_fn UnbindBackward0)."""


class Split(_MultiView):
    """x.split(size, dim) and x.chunk(n, dim): pieces of equal size, the last possibly smaller (SplitBackward0)."""


class SplitWithSizes(_MultiView):
    """x.split([sizes], dim): pieces of the given sizes (SplitWithSizesBackward0)."""


def _dense_order(shape: tuple, stride: tuple) -> list | None:
    """The dims from outermost to innermost when (shape, stride) covers its memory exactly once (a permutation of
    a contiguous layout), else None."""
    order = sorted(range(len(shape)), key=stride.__getitem__, reverse=True)  # stable: ties keep their order
    expected = 1
    last = len(shape)
    in_order = True  # the dims of size > 1 in their own order: contiguous (size-1 dims may have any stride)
    for d in reversed(order):
        if shape[d] != 1:
            if stride[d] != expected:
                return None
            expected *= shape[d]
            in_order = in_order and d < last
            last = d
    return list(range(len(shape))) if in_order else order


def _buffer(node: _MultiView, dtype, device, fill: bool) -> Tensor:
    """The input gradient's buffer, zeroed only when some output has no gradient (`fill`). It is laid out as the
    input when that is dense: a permuted input's gradient permuted back is then contiguous, and a reshape after
    it a view rather than a copy (GPT's `q, k, v = qkv.view(B, T, 3, H, D).permute(2, 0, 3, 1, 4)`)."""
    shape = node.in_shape
    order = _dense_order(shape, node.in_stride)
    if order is None or order == sorted(order):  # not dense, or contiguous
        if device.type == "cpu":
            return Tensor._fresh((np.zeros if fill else np.empty)(shape, dtype.np), dtype, device)
        return zeros(shape, dtype=dtype, device=device) if fill else Tensor._empty(shape, dtype, device)
    permuted = tuple([shape[d] for d in order])
    inverse = [0] * len(order)
    for i, d in enumerate(order):
        inverse[d] = i
    if device.type == "cpu":
        arr = (np.zeros if fill else np.empty)(permuted, dtype.np).transpose(inverse)
        buf = Tensor._make(Storage(host=arr.base.reshape(-1)), shape, tuple([s // arr.itemsize for s in arr.strides]),
                           0, dtype, device)
        buf._np = arr
        return buf
    flat = zeros(permuted, dtype=dtype, device=device) if fill else Tensor._empty(permuted, dtype, device)
    stride = flat.stride()
    return Tensor._make(flat._get_storage(), shape, tuple([stride[i] for i in inverse]), 0, dtype, device)


class Gather(Function):
    """A multi-view node's backward: each output gradient written into its slice of one input-shaped buffer.

    Recorded only under create_graph; its own backward is the multi-view op again on the incoming gradient."""

    differentiable_forward = False
    _state_in_saved = True

    def name(self) -> str:
        """PyTorch's node for this backward: unbind's is a stack, split's a cat."""
        return "StackBackward0" if type(self.node) is Unbind else "CatBackward0"

    @staticmethod
    def forward(ctx, node: _MultiView, *grads) -> Tensor:
        ctx.node = node
        present = [g for g in grads if g is not None]
        first = present[0]
        buf = _buffer(node, first.dtype, first.device, len(present) != len(grads))
        dim, sizes = node.dim, node.sizes
        if buf._np is not None:
            arr = buf._np
            for g, key in zip(grads, _keys(len(node.in_shape), dim, node.in_shape[dim], sizes)):
                if g is not None:
                    arr[key] = g._np if g._np is not None else g._host()
            return buf
        for g, geometry in zip(grads, _geometries(buf._shape, buf.stride(), buf._offset, dim, sizes)):
            if g is not None:
                write_into(buf._view(*geometry), g)
        return buf

    @staticmethod
    def backward(ctx, grad):
        node = ctx.node
        views = type(node).apply(grad, node.dim, node.sizes)
        return (None,) + tuple([v if need else None for v, need in zip(views, ctx.needs_input_grad[1:])])


def unbind(x: Tensor, dim: int = 0) -> tuple:
    """The slices of `x` along `dim` as a tuple of views, the dim removed (one UnbindBackward0 node)."""
    if not x._shape:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = wrap_dim(dim, x.ndim)
    if x._shape[d] == 0:
        return ()
    return Unbind.apply(x, d, None)


def split_equal(x: Tensor, split_size: int, dim: int = 0) -> tuple:
    """Views of `x` along `dim` of `split_size` each, the last possibly smaller (one SplitBackward0 node)."""
    if not x._shape:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = wrap_dim(dim, x.ndim)
    n = x._shape[d]
    if split_size < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={split_size}")
    if split_size == 0 and n != 0:
        raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
    pieces = max((n + split_size - 1) // split_size, 1) if split_size else 1
    last = n - (pieces - 1) * split_size
    return Split.apply(x, d, (split_size,) * (pieces - 1) + (last,))


def split_with_sizes(input: Tensor, split_sizes, dim: int = 0) -> tuple:  # noqa: A002
    """Views of `input` along `dim` of the given sizes, which must sum to its size (one SplitWithSizesBackward0
    node)."""
    if not input._shape:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = wrap_dim(dim, input.ndim)
    n = input._shape[d]
    sizes = tuple([int(s) for s in split_sizes])
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative entries, but got "
                           f"split_sizes={list(sizes)}")
    if sum(sizes) != n:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                           f"dimension {d}), but got split_sizes={list(sizes)}")
    return SplitWithSizes.apply(input, d, sizes)


def chunk_views(x: Tensor, chunks: int, dim: int = 0) -> tuple:
    """x.chunk(chunks, dim): split into pieces of ceil(size / chunks); `chunks` empty pieces of an empty dim."""
    if not x._shape:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = wrap_dim(dim, x.ndim)
    n = x._shape[d]
    if n == 0:  # as PyTorch: split would give one piece; chunk keeps the number asked for
        return SplitWithSizes.apply(x, d, (0,) * chunks)
    return split_equal(x, (n + chunks - 1) // chunks, d)


__all__ = ["split_with_sizes"]
METHODS: dict = {"split_with_sizes": split_with_sizes}
