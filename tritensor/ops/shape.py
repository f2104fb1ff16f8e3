"""cat/stack, split/chunk, repeat/tile/repeat_interleave, movedim, flip, roll, tril/triu and pad over
kernels/shape.py (flip, roll, pad and tril/triu kernels) and kernels/elementwise.copy (plain copies).

split, chunk and movedim are views; repeat and tile are an expand followed by a copy; the rest
are ops whose backward is the same family run the other way (flip by flip, roll by the opposite
roll, pad by the cropping pad or the border-accumulating pad backward kernel), so backward stays
differentiable.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import elementwise as KE
from ..kernels import shape as K
from ..kernels.strided import collapse
from ..tensor import Tensor, wrap_dim
from . import multi_view as MV
from . import views as V
from .copy import _contiguous_copy, clone
from .dispatch import check_same_device
from .elementwise import _into, inplace
from .index_select import index_select


def _h(t: Tensor) -> np.ndarray:
    return t._np if t._np is not None else t._host()


def _cpu(t: Tensor) -> bool:
    return t.device.type == "cpu"


def _int_tuple(values) -> tuple:
    if isinstance(values, (int, np.integer)):
        return (int(values),)
    return tuple(int(v) for v in values)


def _dims_arg(dims: tuple) -> tuple:
    """Varargs dims (x.flip(0, 1)) or one sequence (x.flip((0, 1)))."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        return tuple(dims[0])
    return tuple(dims)


def _narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """x.narrow(dim, start, length) as a differentiable view (a full basic key: one entry per dim)."""
    key = (slice(None),) * dim + (slice(start, start + length),) + (slice(None),) * (x.ndim - dim - 1)
    return V.Slice.apply(x, key)


def _wrap_dims(dims, ndim: int) -> tuple:
    dims = tuple(wrap_dim(d, ndim) for d in _int_tuple(dims))
    for d in dims:
        if dims.count(d) > 1:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return dims


# ================================================================ cat / stack
class Cat(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, dim: int, dtype: D.dtype, *tensors: Tensor) -> Tensor:
        kept = [t for t in tensors if not _skipped(t)]
        ctx.dim = dim
        ctx.parts = [(None if _skipped(t) else t._shape[dim], t.dtype) for t in tensors]
        if not kept:
            return Tensor._empty((0,), dtype, tensors[0].device)
        if _cpu(kept[0]):
            return Tensor._wrap(np.concatenate([_h(t).astype(dtype.np, copy=False) for t in kept], axis=dim))
        shape = list(kept[0]._shape)
        shape[dim] = sum(t._shape[dim] for t in kept)
        out = Tensor._empty(tuple(shape), dtype, kept[0].device)
        od = out._dev()
        start = 0
        for t in kept:
            KE.copy(od.view_as(t._shape, od.strides, od.offset + start * od.strides[dim]), t._dev())
            start += t._shape[dim]
        return out

    @staticmethod
    def backward(ctx, grad):
        grads = []
        start = 0
        for need, (n, dtype) in zip(ctx.needs_input_grad[2:], ctx.parts):
            if n is None:
                grads.append(None)
                continue
            if need:
                g = _narrow(grad, ctx.dim, start, n)
                grads.append(g.to(dtype) if g.dtype is not dtype else g)
            else:
                grads.append(None)
            start += n
        return (None, None, *grads)


def _skipped(t: Tensor) -> bool:
    # PyTorch's legacy rule: 1-d empty tensors are ignored whatever the other inputs' shapes.
    return t.ndim == 1 and t._shape[0] == 0


def _tensor_list(tensors, op: str) -> list:
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}(): argument 'tensors' must be tuple of Tensors, not Tensor")
    tensors = list(tensors)
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    return tensors


def cat(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Concatenate along an existing dim; dtypes promote; 1-d empty tensors are skipped like in PyTorch."""
    tensors = _tensor_list(tensors, "cat")
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    check_same_device(*tensors)
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = D.promote_types(dtype, t.dtype)
    kept = [(i, t) for i, t in enumerate(tensors) if not _skipped(t)]
    d = wrap_dim(dim, kept[0][1].ndim if kept else 1)
    if kept:
        ref = kept[0][1]
        for i, t in kept[1:]:
            if t.ndim != ref.ndim:
                raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.ndim} and {t.ndim}")
            for k in range(ref.ndim):
                if k != d and t._shape[k] != ref._shape[k]:
                    raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected size "
                                       f"{ref._shape[k]} but got size {t._shape[k]} for tensor number {i} in the "
                                       "list.")
    result = Cat.apply(d, dtype, *tensors)
    if out is not None:
        return _into(out, result)
    return result


def concat(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Alias of `tt.cat`: join tensors along an existing `dim`."""
    return cat(tensors, dim, out=out)


def concatenate(tensors, axis: int = 0, *, out=None) -> Tensor:
    """Alias of `tt.cat` with NumPy's `axis` name."""
    return cat(tensors, axis, out=out)


def stack(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Join equal-shaped tensors along a new dim."""
    tensors = _tensor_list(tensors, "stack")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, t in enumerate(tensors[1:], 1):
        if t._shape != tensors[0]._shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(tensors[0]._shape)} at "
                               f"entry 0 and {list(t._shape)} at entry {i}")
    d = wrap_dim(dim, tensors[0].ndim + 1)
    return cat([V.unsqueeze(t, d) for t in tensors], d, out=out)


def _atleast(t: Tensor, n: int) -> Tensor:
    """atleast_1d/2d/3d: vectors become rows (1, n), and (1, n, 1) in 3-d; matrices gain a last dim."""
    if t.ndim >= n:
        return t
    if t.ndim == 0:
        return V.reshape(t, (1,) * n)
    if t.ndim == 1:
        return V.reshape(t, (1, t._shape[0]) + ((1,) if n == 3 else ()))
    return V.unsqueeze(t, -1)


def hstack(tensors, *, out=None) -> Tensor:
    """Stack tensors horizontally: along dim 1, or dim 0 for 1-D tensors."""
    tensors = [_atleast(t, 1) for t in _tensor_list(tensors, "hstack")]
    return cat(tensors, 0 if tensors and tensors[0].ndim == 1 else 1, out=out)


def vstack(tensors, *, out=None) -> Tensor:
    """Stack tensors vertically: along dim 0 after `atleast_2d`; alias `row_stack`."""
    return cat([_atleast(t, 2) for t in _tensor_list(tensors, "vstack")], 0, out=out)


def dstack(tensors, *, out=None) -> Tensor:
    """Stack tensors depth-wise: along dim 2 after `atleast_3d`."""
    return cat([_atleast(t, 3) for t in _tensor_list(tensors, "dstack")], 2, out=out)


row_stack = vstack


# ================================================================ split / chunk (views)
def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Views of `tensor` along dim: equal pieces of split_size (the last may be smaller) or given sizes.

    One autograd node for all the pieces (SplitBackward0, or SplitWithSizesBackward0 for sizes), whose backward
    writes their gradients into one buffer (ops/multi_view.py)."""
    if isinstance(split_size_or_sections, (int, np.integer)):
        return MV.split_equal(tensor, int(split_size_or_sections), dim)
    return MV.split_with_sizes(tensor, split_size_or_sections, dim)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:  # noqa: A002
    """At most `chunks` views of (nearly) equal size along dim (one SplitBackward0 node)."""
    return MV.chunk_views(input, chunks, dim)


def movedim(input: Tensor, source, destination) -> Tensor:  # noqa: A002
    """Move dims `source` to positions `destination` (a permuted view)."""
    src, dst = _int_tuple(source), _int_tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} dims) should contain "
                           f"the same number of dims as destination ({list(dst)} dims)")
    nd = input.ndim
    src = tuple(wrap_dim(s, nd) for s in src)
    dst = tuple(wrap_dim(s, nd) for s in dst)
    if len(set(src)) != len(src):
        raise RuntimeError(f"movedim: repeated dim in `source` ({list(source)})")
    if len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in `destination` ({list(destination)})")
    order = [-1] * nd
    for s, t in zip(src, dst):
        order[t] = s
    rest = iter(d for d in range(nd) if d not in src)
    order = [next(rest) if o == -1 else o for o in order]
    return V.permute(input, tuple(order))


moveaxis = movedim


# ================================================================ repeat / tile / repeat_interleave
def repeat(input: Tensor, *sizes) -> Tensor:  # noqa: A002
    """Tensor.repeat: tile the tensor `sizes[d]` times along each dim (new leading dims allowed); a copy."""
    sizes = _int_tuple(_dims_arg(sizes))
    if len(sizes) < input.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(sizes)}: {list(sizes)}")
    shape = (1,) * (len(sizes) - input.ndim) + input._shape
    interleaved, expanded, final = [], [], []
    for r, s in zip(sizes, shape):
        interleaved += [1, s]
        expanded += [r, s]
        final.append(r * s)
    x = V.reshape(input, tuple(interleaved)) if interleaved else input
    result = V.reshape(V.expand(x, tuple(expanded)), tuple(final))
    if result._get_storage() is input._get_storage():
        result = clone(result)  # repeat never aliases its input
    return result


def tile(input: Tensor, dims) -> Tensor:  # noqa: A002
    """Repeat `input` `dims` times per dimension (leading 1s are added to the shorter of the two)."""
    dims = _int_tuple(dims)
    return repeat(input, (1,) * (input.ndim - len(dims)) + dims)


def repeat_interleave(input: Tensor, repeats, dim: int | None = None, *,  # noqa: A002
                      output_size: int | None = None) -> Tensor:
    """Repeat each element `repeats` times (an int, or a tensor with one count per element along dim)."""
    x = input
    if dim is None:
        x, d = V.flatten(input), 0
    else:
        d = wrap_dim(dim, input.ndim)
    if isinstance(repeats, Tensor):
        if repeats.numel() == 1 and repeats.ndim <= 1:
            repeats = int(repeats.item())
        else:
            counts = repeats._to_host_array().astype(np.int64).reshape(-1)
            if repeats.ndim != 1:
                raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
            if counts.size != x._shape[d]:
                raise RuntimeError("repeats must have the same size as input along dim")
            if (counts < 0).any():
                raise RuntimeError("repeats can not be negative")
            index = Tensor._wrap(np.repeat(np.arange(counts.size, dtype=np.int64), counts)).to(x.device)
            return index_select(x, d, index)
    if repeats < 0:
        raise RuntimeError("repeats can not be negative")
    if x.ndim == 0:
        x, d = V.reshape(x, (1,)), 0
    shape = x._shape
    y = V.expand(V.unsqueeze(x, d + 1), shape[:d + 1] + (repeats,) + shape[d + 1:])
    return V.reshape(y, shape[:d] + (shape[d] * repeats,) + shape[d + 1:])


# ================================================================ flip / roll
class Flip(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple) -> Tensor:
        ctx.dims = dims
        if _cpu(x):
            return Tensor._wrap(K.flip_ref(_h(x), dims))
        out = Tensor._empty(x._shape, x.dtype, x.device)
        K.flip(out._dev(), x._dev(), dims)
        return out

    @staticmethod
    def backward(ctx, grad):
        return Flip.apply(grad, ctx.dims), None


def flip(input: Tensor, *dims) -> Tensor:  # noqa: A002
    """Reverse the order of elements along `dims` (a copy, as in PyTorch)."""
    return Flip.apply(input, _wrap_dims(_dims_arg(dims), input.ndim) if input.ndim else ())


def fliplr(input: Tensor) -> Tensor:  # noqa: A002
    """Reverse the order of columns (dim 1); `input` must be at least 2-D."""
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


def flipud(input: Tensor) -> Tensor:  # noqa: A002
    """Reverse the order of rows (dim 0); `input` must be at least 1-D."""
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


class Roll(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, shifts: tuple, dims: tuple | None) -> Tensor:
        ctx.shifts, ctx.dims = shifts, dims
        if _cpu(x):
            return Tensor._wrap(np.ascontiguousarray(K.roll_ref(_h(x), list(shifts) if dims else shifts[0],
                                                                list(dims) if dims else None)))
        src = x
        if dims is None and len(collapse(x._shape, [x.stride()])[0]) > 1:
            src = _contiguous_copy(x)  # the flattened roll reads x as one dim
        out = Tensor._empty(x._shape, x.dtype, x.device)
        K.roll(out._dev(), src._dev(), list(shifts), None if dims is None else list(dims))
        return out

    @staticmethod
    def backward(ctx, grad):
        return Roll.apply(grad, tuple(-s for s in ctx.shifts), ctx.dims), None, None


def roll(input: Tensor, shifts, dims=None) -> Tensor:  # noqa: A002
    """Shift elements circularly along dims (the flattened tensor when dims is None)."""
    shifts = _int_tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        # the flattened tensor rolled along its one dim (a complex tensor's kernel view is its interleaved floats,
        # which a flat roll of the raw buffer would split)
        return roll(input.reshape(-1), shifts, 0).reshape(input._shape)
    dims = _int_tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    return Roll.apply(input, shifts, tuple(wrap_dim(d, input.ndim) for d in dims))


# ================================================================ tril / triu
class Tri(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, diagonal: int, upper: bool) -> Tensor:
        ctx.diagonal, ctx.upper = diagonal, upper
        if _cpu(x):
            ref = K.triu_ref if upper else K.tril_ref
            return Tensor._wrap(np.asarray(ref(_h(x), diagonal), dtype=x.dtype.np))
        out = Tensor._empty(x._shape, x.dtype, x.device)
        (K.triu if upper else K.tril)(out._dev(), x._dev(), diagonal)
        return out

    @staticmethod
    def backward(ctx, grad):
        return Tri.apply(grad, ctx.diagonal, ctx.upper), None, None


def _tri(input: Tensor, diagonal: int, upper: bool) -> Tensor:
    if input.ndim < 2:
        raise RuntimeError(f"{'triu' if upper else 'tril'}: input tensor must have at least 2 dimensions")
    return Tri.apply(input, int(diagonal), upper)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """Zero the elements above the `diagonal`-th diagonal of the last two dims."""
    return _tri(input, diagonal, False)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """Zero the elements below the `diagonal`-th diagonal of the last two dims."""
    return _tri(input, diagonal, True)


# ================================================================ pad
class Pad(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, pad: tuple, mode: str, value) -> Tensor:
        ctx.shape, ctx.pad, ctx.mode = x._shape, pad, mode
        if _cpu(x):
            return Tensor._wrap(K.pad_ref(_h(x), pad, mode, value))
        out = Tensor._empty(K.pad_shape(x._shape, pad), x.dtype, x.device)
        K.pad(out._dev(), x._dev(), pad, mode, value)
        return out

    @staticmethod
    def backward(ctx, grad):
        if ctx.mode == "constant":
            return Pad.apply(grad, tuple(-p for p in ctx.pad), "constant", 0), None, None, None
        return PadBackward.apply(grad, ctx.shape, ctx.pad, ctx.mode), None, None, None


class PadBackward(Function):
    """The gradient of reflect/replicate/circular padding: every border cell adds into the cell it copied."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, grad: Tensor, shape: tuple, pad: tuple, mode: str) -> Tensor:
        ctx.pad, ctx.mode = pad, mode
        if _cpu(grad):
            return Tensor._wrap(K.pad_backward_ref(_h(grad), shape, pad, mode)[0])
        out = Tensor._empty(shape, grad.dtype, grad.device)
        acc = None
        if grad.dtype in (D.float16, D.bfloat16):
            acc = Tensor._empty(shape, D.float32, grad.device)._dev()
        K.pad_backward(out._dev(), grad._dev(), pad, mode, acc)
        return out

    @staticmethod
    def backward(ctx, grad):
        return Pad.apply(grad, ctx.pad, ctx.mode, 0), None, None, None


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:  # noqa: A002
    """torch.nn.functional.pad: pad = (left, right) of the last dim, then of the one before, ...

    constant pads may be negative (crop); reflect/replicate/circular pad the last 1-3 dims of a batched
    (2-5 d) input, like PyTorch.
    """
    pads = _int_tuple(pad)
    if len(pads) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pads) // 2 > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pads)} and input of dimension {input.ndim}")
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    n_pad = len(pads) // 2
    if mode == "constant":
        for k in range(n_pad):
            d = input.ndim - 1 - k
            if input._shape[d] + pads[2 * k] + pads[2 * k + 1] < 0:
                raise RuntimeError(f"The input size {input._shape[d]}, plus negative padding {pads[2 * k]} and "
                                   f"{pads[2 * k + 1]} resulted in a negative output size, which is invalid. Check "
                                   f"dimension {d} of your input.")
        return Pad.apply(input, pads, mode, 0 if value is None else value)
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if not 1 <= n_pad <= 3 or input.ndim not in (n_pad + 1, n_pad + 2):
        raise NotImplementedError("Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now")
    for k in range(n_pad):
        d = input.ndim - 1 - k
        n, left, right = input._shape[d], pads[2 * k], pads[2 * k + 1]
        if n == 0:
            raise RuntimeError(f"{mode} padding expects a non-empty dimension {d} of input {list(input._shape)}")
        if mode == "reflect" and (left >= n or right >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({left}, {right}) at dimension {d} of input {list(input._shape)}")
        if mode == "circular" and (left > n or right > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if n + left + right < 0 or (mode != "replicate" and min(left, right) < -n):
            raise RuntimeError(f"Negative padding ({left}, {right}) is larger than dimension {d} of input "
                               f"{list(input._shape)}")
    return Pad.apply(input, pads, mode, 0)


# ================================================================ registration
def _inplace(fn):
    def method(self: Tensor, *args, **kwargs) -> Tensor:
        return inplace(fn, self, *args, **kwargs)

    method.__name__ = fn.__name__ + "_"
    method.__doc__ = f"In-place `tt.{fn.__name__}`: the result is written into self."
    return method


def _split_method(self: Tensor, split_size, dim: int = 0) -> tuple:
    """Split into chunks of `split_size` (an int, or a list of sizes) along `dim`; views of self."""
    return split(self, split_size, dim)


__all__ = ["cat", "chunk", "concat", "concatenate", "dstack", "flip", "fliplr", "flipud", "hstack", "moveaxis",
           "movedim", "pad", "repeat_interleave", "roll", "row_stack", "split", "stack", "tile", "tril", "triu",
           "vstack"]

METHODS: dict = {
    "split": _split_method, "chunk": chunk, "repeat": repeat, "tile": tile, "repeat_interleave": repeat_interleave,
    "movedim": movedim, "moveaxis": movedim, "flip": flip, "fliplr": fliplr, "flipud": flipud, "roll": roll,
    "tril": tril, "triu": triu, "tril_": _inplace(tril), "triu_": _inplace(triu),
}
