"""Shape composites: diagonal (a strided view) and diag/diag_embed/diagflat, block_diag, cartesian_prod,
meshgrid, broadcast_tensors/broadcast_shapes, atleast_1d/2d/3d, column_stack, tensor_split/hsplit/vsplit/dsplit,
take_along_dim, select, adjoint and rot90.

Everything here is written with existing views and ops (reshape, expand, transpose, flip, pad, cat, gather),
so it runs on cpu and cuda alike and gets its gradient from them. The one new Function pair is the diagonal
view and its transpose (zeros with the diagonal written), each the other's backward, so double backward works.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..creation import zeros
from ..tensor import Size, Tensor, wrap_dim
from . import views as V
from .broadcast import broadcast_shapes as _broadcast_shape
from .broadcast import check_same_device
from .copy import write_into
from .gather_scatter import gather
from .shape import _atleast, _narrow, cat, flip, hstack, pad, stack


# ================================================================ diagonal (a view) and its embedding
def _diag_geometry(shape: tuple, stride: tuple, base: int, offset: int, d1: int, d2: int) -> tuple:
    """(shape, stride, storage offset) of the `offset`-th diagonal of dims d1, d2, appended as the last dim."""
    n1, n2 = shape[d1], shape[d2]
    size = max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
    start = base
    if size:  # an empty diagonal keeps the base offset, which may be past the end for an out-of-range offset
        start += offset * stride[d2] if offset >= 0 else -offset * stride[d1]
    keep = [d for d in range(len(shape)) if d not in (d1, d2)]
    return (tuple(shape[d] for d in keep) + (size,), tuple(stride[d] for d in keep) + (stride[d1] + stride[d2],),
            start)


class Diagonal(Function):
    """The diagonal view; backward embeds the gradient into zeros of the input's shape."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, offset: int, d1: int, d2: int) -> Tensor:
        ctx.args = (x._shape, offset, d1, d2)
        return V.make_view(x, *_diag_geometry(x._shape, x.stride(), x._offset, offset, d1, d2))

    @staticmethod
    def backward(ctx, grad):
        return DiagEmbed.apply(grad, *ctx.args), None, None, None


class DiagEmbed(Function):
    """Zeros of `shape` with `x` written on the diagonal of dims d1, d2 (diagonal's transpose)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, shape: tuple, offset: int, d1: int, d2: int) -> Tensor:
        ctx.args = (offset, d1, d2)
        out = zeros(shape, dtype=x.dtype, device=x.device)
        write_into(V.make_view(out, *_diag_geometry(shape, out.stride(), out._offset, offset, d1, d2)), x)
        return out

    @staticmethod
    def backward(ctx, grad):
        return Diagonal.apply(grad, *ctx.args), None, None, None, None


def _diag_dims(ndim: int, dim1: int, dim2: int) -> tuple[int, int]:
    d1, d2 = wrap_dim(dim1, ndim), wrap_dim(dim2, ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    """The `offset`-th diagonal of dims `dim1`, `dim2` as a view (the diagonal becomes the last dim).

    Example:
        >>> tt.arange(9).reshape(3, 3).diagonal(1)
        tensor([1, 5])
    """
    d1, d2 = _diag_dims(input.ndim, dim1, dim2)
    return Diagonal.apply(input, int(offset), d1, d2)


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: A002
    """A tensor whose diagonals (of dims `dim1`, `dim2`) are filled by the last dim of `input`, zeros elsewhere."""
    ndim = input.ndim + 1
    d1, d2 = _diag_dims(ndim, dim1, dim2)
    n = input._shape[-1] + abs(int(offset)) if input.ndim else 0
    rest = iter(input._shape[:-1])
    shape = tuple(n if d in (d1, d2) else next(rest) for d in range(ndim))
    return DiagEmbed.apply(input, shape, int(offset), d1, d2)


def diag(input: Tensor, diagonal: int = 0, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """A 1-D input as the `diagonal`-th diagonal of a square matrix; a 2-D input's `diagonal`-th diagonal (a copy)."""
    if input.ndim == 1:
        result = diag_embed(input, diagonal, 0, 1)
    elif input.ndim == 2:
        result = Diagonal.apply(input, int(diagonal), 0, 1).clone()
    else:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")
    return result if out is None else _into(out, result)


def diagflat(input: Tensor, offset: int = 0) -> Tensor:  # noqa: A002
    """The flattened input as the `offset`-th diagonal of a square matrix."""
    return diag_embed(V.reshape(input, (-1,)), offset, 0, 1)


def _into(out: Tensor, result: Tensor) -> Tensor:
    if out._shape != result._shape:
        raise RuntimeError(f"out has shape {list(out._shape)} but the result has shape {list(result._shape)}")
    write_into(out, result)
    return out


# ================================================================ block_diag, cartesian_prod, meshgrid
def block_diag(*tensors: Tensor) -> Tensor:
    """The block-diagonal matrix of the inputs (0-D is 1x1, 1-D a single row); dtypes promote."""
    if not tensors:
        return zeros((1, 0), device="cpu")  # not a factory in PyTorch: the default device does not apply
    for i, t in enumerate(tensors):
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t.ndim} dimensions")
        if t.device != tensors[0].device:
            raise RuntimeError(f"torch.block_diag: input tensors must all be on the same device. Input 0 is on "
                               f"device {tensors[0].device} and input {i} is on device {t.device}")
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = D.promote_types(dtype, t.dtype)
    blocks = [V.reshape(t, (1, 1)) if t.ndim == 0 else V.reshape(t, (1, -1)) if t.ndim == 1 else t for t in tensors]
    width = sum(b._shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        b = b if b.dtype is dtype else b.to(dtype)
        # Each block padded with zero columns to the full width; the rows are then stacked.
        rows.append(pad(b, (left, width - left - b._shape[1])))
        left += b._shape[1]
    return cat(rows, 0)


def meshgrid(*tensors: Tensor, indexing: str | None = None) -> tuple:
    """Coordinate grids of 0-D/1-D inputs: views of each input expanded over all of them ("ij" or "xy").

    Without `indexing` the grids are "ij" and, as in PyTorch, a UserWarning says the argument will be required.
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
                      UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t}")
        if t.dtype is not tensors[0].dtype:
            raise RuntimeError("torch.meshgrid: Expected all tensors in the tensor list to have the same dtype.")
        if t.device != tensors[0].device:
            raise RuntimeError("torch.meshgrid: Expected all tensors in the tensor list to have the same device.")
    order = list(tensors)
    swap = indexing == "xy" and len(order) >= 2
    if swap:  # "xy" is "ij" over the first two inputs exchanged, its first two grids exchanged back
        order[0], order[1] = order[1], order[0]
    shape = tuple(t.numel() for t in order)
    grids = []
    for i, t in enumerate(order):
        view = (1,) * i + (-1,) + (1,) * (len(order) - i - 1)
        grids.append(V.expand(V.reshape(t, view), shape))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """The cartesian product of 1-D inputs: one row per combination (itertools.product order)."""
    for t in tensors:
        if t.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t._shape)}")
    if len(tensors) == 1:
        return tensors[0]
    return stack([V.reshape(g, (-1,)) for g in meshgrid(*tensors, indexing="ij")], 1)


# ================================================================ broadcasting
def broadcast_shapes(*shapes) -> tuple:
    """The shape that tensors of the given shapes (ints or sequences of ints) broadcast to."""
    result: list = []
    for shape in shapes:
        if isinstance(shape, (int, np.integer)):
            shape = (int(shape),)
        if not isinstance(shape, (tuple, list)):
            raise RuntimeError(f"Input shapes should be of type ints, a tuple of ints, or a list of ints, got {shape}")
        if len(shape) > len(result):
            result = [1] * (len(shape) - len(result)) + result
        for i in range(-1, -1 - len(shape), -1):
            n = int(shape[i])
            if n < 0:
                raise RuntimeError(f"Trying to create tensor with negative dimension ({n}): ({n})")
            if n == 1 or n == result[i]:
                continue
            if result[i] != 1:
                raise RuntimeError("Shape mismatch: objects cannot be broadcast to a single shape")
            result[i] = n
    return Size(result)


def broadcast_tensors(*tensors: Tensor) -> tuple:
    """Views of the inputs expanded to their common broadcast shape."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        return ()
    shape = _broadcast_shape(*(t._shape for t in tensors))
    return tuple(V.expand(t, shape) for t in tensors)


# ================================================================ atleast_nd, column_stack
def _atleast_nd(tensors: tuple, n: int):
    if len(tensors) == 1 and isinstance(tensors[0], Tensor):
        return _atleast(tensors[0], n)
    items = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    return tuple(_atleast(t, n) for t in items)


def atleast_1d(*tensors):
    """The input viewed with at least 1 dim (a tuple for several inputs or a sequence)."""
    return _atleast_nd(tensors, 1)


def atleast_2d(*tensors):
    """The input viewed with at least 2 dims: a vector becomes a row (1, n); a tuple for several inputs."""
    return _atleast_nd(tensors, 2)


def atleast_3d(*tensors):
    """The input viewed with at least 3 dims: (n,) -> (1, n, 1), (m, n) -> (m, n, 1); a tuple for several."""
    return _atleast_nd(tensors, 3)


def column_stack(tensors, *, out: Tensor | None = None) -> Tensor:
    """Stack tensors as columns: 0-D and 1-D inputs become (n, 1) columns, then `hstack`."""
    if isinstance(tensors, Tensor):
        raise TypeError("column_stack(): argument 'tensors' must be tuple of Tensors, not Tensor")
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("column_stack expects a non-empty TensorList")
    return hstack([V.reshape(t, (t.numel(), 1)) if t.ndim <= 1 else t for t in tensors], out=out)


# ================================================================ tensor_split and friends (views)
def _split_points(indices_or_sections) -> tuple[int | None, tuple | None]:
    """(sections, None) or (None, indices) from an int, a sequence or a 0-D/1-D long tensor."""
    if isinstance(indices_or_sections, Tensor):
        t = indices_or_sections
        if t.device.type != "cpu":
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be on cpu, but it's on "
                               f"{t.device}")
        if t.dtype is not D.int64:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to have dtype of long, but got "
                               f"{D.scalar_type_name(t.dtype)}")
        if t.ndim > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor, but got a tensor with {t.ndim} dims")
        return (int(t.item()), None) if t.ndim == 0 else (None, tuple(int(v) for v in t.tolist()))
    if isinstance(indices_or_sections, (int, np.integer)):
        return int(indices_or_sections), None
    return None, tuple(int(v) for v in indices_or_sections)


def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple:  # noqa: A002
    """Views of `input` along `dim`: `sections` nearly equal parts (the first ones one longer), or the parts
    between the given indices (slice semantics: out-of-range indices clamp)."""
    if input.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    d = wrap_dim(dim, input.ndim)
    n = input._shape[d]
    sections, indices = _split_points(indices_or_sections)
    if sections is not None:
        if sections <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
        small, extra = divmod(n, sections)
        sizes = [small + 1] * extra + [small] * (sections - extra)
        bounds, start = [], 0
        for s in sizes:
            bounds.append((start, start + s))
            start += s
    else:
        edges = (0, *indices, n)
        bounds = [slice(a, b).indices(n)[:2] for a, b in zip(edges[:-1], edges[1:])]
    return tuple(_narrow(input, d, a, max(0, b - a)) for a, b in bounds)


def _directional_split(name: str, input: Tensor, indices_or_sections, min_dims: int, dim: int) -> tuple:  # noqa: A002
    if input.ndim < min_dims:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dims} dimension, but got a tensor with "
                           f"{input.ndim} dimensions!")
    if isinstance(indices_or_sections, (int, np.integer)):
        size = input._shape[dim]
        if indices_or_sections == 0 or size % indices_or_sections:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size of the dimension "
                               f"{size} is not divisible by the split_size {indices_or_sections}!")
    return tensor_split(input, indices_or_sections, dim)


def hsplit(input: Tensor, indices_or_sections) -> tuple:  # noqa: A002
    """`tensor_split` along dim 1 (dim 0 for 1-D input); an int must divide the dim exactly."""
    return _directional_split("hsplit", input, indices_or_sections, 1, 1 if input.ndim > 1 else 0)


def vsplit(input: Tensor, indices_or_sections) -> tuple:  # noqa: A002
    """`tensor_split` along dim 0 of an input of at least 2 dims; an int must divide the dim exactly."""
    return _directional_split("vsplit", input, indices_or_sections, 2, 0)


def dsplit(input: Tensor, indices_or_sections) -> tuple:  # noqa: A002
    """`tensor_split` along dim 2 of an input of at least 3 dims; an int must divide the dim exactly."""
    return _directional_split("dsplit", input, indices_or_sections, 3, 2)


# ================================================================ indexing-like
def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None, *,  # noqa: A002
                   out: Tensor | None = None) -> Tensor:
    """Values of `input` at `indices` along `dim` (input and indices broadcast over the other dims);
    without `dim`, indices into the flattened input."""
    if indices.dtype is not D.int64:
        raise RuntimeError("torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{D.scalar_type_name(indices.dtype)}")
    check_same_device(input, indices)
    if dim is None:
        result = gather(V.reshape(input, (-1,)), 0, V.reshape(indices, (-1,)))
    else:
        if input.ndim != indices.ndim:
            raise RuntimeError("torch.take_along_dim(): input and indices should have the same number of dimensions, "
                               f"but got {input.ndim} dimensions for input, and {indices.ndim} dimensions for indices")
        d = wrap_dim(dim, input.ndim)
        # Broadcast every dim but `dim`: input keeps its own length there, indices theirs.
        shape = list(_broadcast_shape(_with(input._shape, d, 1), _with(indices._shape, d, 1)))
        x = V.expand(input, tuple(_with(tuple(shape), d, input._shape[d])))
        idx = V.expand(indices, tuple(_with(tuple(shape), d, indices._shape[d])))
        result = gather(x, d, idx)
    return result if out is None else _into(out, result)


def _with(shape: tuple, d: int, n: int) -> tuple:
    return shape[:d] + (n,) + shape[d + 1:]


def select(input: Tensor, dim: int, index) -> Tensor:  # noqa: A002
    """The slice at `index` of `dim`, that dim removed (a view)."""
    if input.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, input.ndim)
    i = int(index)
    n = input._shape[d]
    if not -n <= i < n:
        raise IndexError(f"select(): index {i} out of range for tensor of size {list(input._shape)} at "
                         f"dimension {d}")
    return V.basic_index(input, (slice(None),) * d + (i + n if i < 0 else i,))


def adjoint(input: Tensor) -> Tensor:  # noqa: A002
    """The conjugate transpose of the last two dims, a view (0-D input is returned as is)."""
    if input.ndim == 1:
        raise RuntimeError("tensor.adjoint() is only supported on matrices or batches of matrices. Got 1-D tensor.")
    if input.ndim == 0:
        return input
    result = V.transpose(input, -2, -1)
    return result.conj() if input.dtype.is_complex else result


def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:  # noqa: A002
    """Rotate by 90 degrees `k` times in the plane of `dims`, from the first dim's direction towards the second."""
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = dims
    if d0 == d1 or abs(d0 - d1) == input.ndim:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    if not -input.ndim <= d0 < input.ndim:
        raise RuntimeError(f"Rotation dim0 out of range, dim0 = {d0}")
    if not -input.ndim <= d1 < input.ndim:
        raise RuntimeError(f"Rotation dim1 out of range, dim1 = {d1}")
    k = k % 4
    if k == 1:
        return V.transpose(flip(input, d1), d0, d1)
    if k == 2:
        return flip(input, d0, d1)
    if k == 3:
        return V.transpose(flip(input, d0), d0, d1)
    return input.clone()


# tt.row_stack is already ops/shape.py's alias of vstack, so it is not declared here.
__all__ = ["adjoint", "atleast_1d", "atleast_2d", "atleast_3d", "block_diag", "broadcast_shapes",
           "broadcast_tensors", "cartesian_prod", "column_stack", "diag", "diag_embed", "diagflat", "diagonal",
           "dsplit", "hsplit", "meshgrid", "rot90", "select", "take_along_dim", "tensor_split", "vsplit"]


METHODS: dict = {
    "adjoint": adjoint, "diag": diag, "diag_embed": diag_embed, "diagflat": diagflat, "diagonal": diagonal,
    "dsplit": dsplit, "hsplit": hsplit, "vsplit": vsplit, "rot90": rot90, "select": select,
    "take_along_dim": take_along_dim, "tensor_split": tensor_split,
}
