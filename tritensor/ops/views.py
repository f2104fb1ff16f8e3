"""Views: new shape/stride/offset over the same storage, never a copy (reshape copies only if it must).

Each view is an autograd Function whose backward maps the gradient back to the input's layout.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from .. import dtypes as D
from ..autograd.function import _NOT_TENSOR, Function, _edge_of
from ..creation import zeros
from ..grad_state import state
from ..kernels.device_array import contiguous_layout, contiguous_strides
from ..tensor import Tensor, wrap_dim
from .broadcast import sum_to
from .copy import clone, write_into
from .multi_view import unbind as multi_unbind


def make_view(x: Tensor, shape: tuple, stride: tuple, offset: int) -> Tensor:
    """A view of x's memory with the given geometry (no autograd: the view Functions record that)."""
    return x._view(shape, stride, offset)


def view_strides(shape: tuple, stride: tuple, new_shape: tuple) -> tuple | None:
    """Strides that let `new_shape` view memory laid out as (shape, stride), or None if none exist.

    Like PyTorch's computeStride: each run of new dims must fit inside a run of old dims that is
    contiguous with itself.
    """
    if stride == contiguous_layout(shape)[0]:
        # One contiguous run (a gradient, a contiguous activation): the walk below would give exactly these
        # strides (size-1 dims included), looked up instead of computed.
        return contiguous_layout(new_shape)[0]
    numel = 1
    for s in shape:
        numel *= s
    if numel == 0 or not shape:
        return contiguous_strides(new_shape)
    new_stride = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    chunk_base_stride = stride[-1] if stride else 1
    tensor_numel = 1
    view_numel = 1
    for tensor_d in range(len(shape) - 1, -1, -1):
        tensor_numel *= shape[tensor_d]
        if tensor_d == 0 or (shape[tensor_d - 1] != 1 and stride[tensor_d - 1] != tensor_numel * chunk_base_stride):
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                new_stride[view_d] = view_numel * chunk_base_stride
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if tensor_d > 0:
                chunk_base_stride = stride[tensor_d - 1]
                tensor_numel = 1
                view_numel = 1
    if view_d != -1:
        return None
    return tuple(new_stride)


def infer_shape(shape, numel: int) -> tuple:
    """The shape a view/reshape asks for (sizes, or one tuple/list of them), its one -1 inferred from `numel`."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(map(int, shape))
    known = math.prod(shape)
    if known == numel and min(shape, default=0) >= 0:
        return shape  # the usual calls: every size given and right, or one -1 to fill in
    if 0 < -known and numel % -known == 0 and min(shape) == -1 and shape.count(-1) == 1:
        return tuple([numel // -known if s == -1 else s for s in shape])
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


# needs_input_grad of a view op's node: (x, then its non-tensor geometry arguments).
_NEEDS_X = ((True, False), (True, False, False))


def _view_node(cls: type, x: Tensor, n_params: int) -> Function:
    """The node `apply` records for view op `cls` on (x requiring grad, n_params non-tensors): the same
    needs_input_grad and edges, without apply's generic passes over the arguments (a small model's step makes
    dozens of views, and its backward as many again)."""
    node = cls()
    node.needs_input_grad = _NEEDS_X[n_params - 1]
    node._edges = (_edge_of(x), _NOT_TENSOR) if n_params == 1 else (_edge_of(x), _NOT_TENSOR, _NOT_TENSOR)
    return node


def _reshaped(x: Tensor, shape: tuple, stride: tuple) -> Tensor:
    """The view of x with (shape, stride) at x's offset, no autograd."""
    v = x._view(shape, stride, x._offset)
    if x._np is not None:
        # NumPy's own view of the same memory, now: cheaper than the one _host() would build from the
        # storage later. Where NumPy would copy instead (it owns the copy: no base), _host() builds it.
        a = x._np.reshape(shape)
        if a.base is not None:
            v._np = a
    return v


class View(Function):
    differentiable_forward = False
    _state_in_saved = True  # ctx holds in_shape only: nothing for _free to walk

    @classmethod
    def apply(cls, x: Tensor, shape: tuple, stride: tuple) -> Tensor:
        """Function.apply for a view: the same result and node, recorded directly."""
        v = _reshaped(x, shape, stride)
        if state.enabled and type(x) is Tensor and x._requires_grad:
            node = _view_node(cls, x, 2)
            node.in_shape = x._shape
            node._link_result(v)
        return v

    @staticmethod
    def forward(ctx, x: Tensor, shape: tuple, stride: tuple) -> Tensor:
        ctx.in_shape = x._shape
        return _reshaped(x, shape, stride)

    @staticmethod
    def backward(ctx, grad):
        # A view of the same shape (a reshape to the shape it had) passes its gradient on as it is.
        return (grad if grad._shape == ctx.in_shape else grad.reshape(ctx.in_shape)), None, None

    def backward_fused(self, grad):
        """`backward` without a graph: reshape's steps for a shape known to be valid (no shape parsing, no Tensor
        method's op hook; a small model's step runs dozens of these)."""
        shape = self.in_shape
        return (grad if grad._shape == shape else _reshape_to(grad, shape)), None, None


def view(x: Tensor, *shape) -> Tensor:
    """A view with a new shape (one size may be -1) over the same memory; raises if the strides do not allow it."""
    if len(shape) == 1 and hasattr(shape[0], "itemsize") and hasattr(shape[0], "is_floating_point"):
        raise NotImplementedError("view(dtype) is not supported; use .to(dtype)")
    shape = infer_shape(shape, x.numel())
    stride = contiguous_layout(shape)[0] if x._stride is None else view_strides(x._shape, x._stride, shape)
    if stride is None:
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one dimension "
                           "spans across two contiguous subspaces). Use .reshape(...) instead.")
    return View.apply(x, shape, stride)


def reshape(x: Tensor, *shape) -> Tensor:
    """`x` with a new shape (one size may be -1): a view when the strides allow it, else a copy.

    Example:
        >>> tt.arange(6).reshape(2, -1).shape
        tritensor.Size([2, 3])
    """
    shape = infer_shape(shape, x.numel())
    if shape == x._shape:
        return View.apply(x, shape, x.stride())
    return _reshape_to(x, shape)


def _reshape_to(x: Tensor, shape: tuple) -> Tensor:
    """reshape to a valid `shape` other than x's: a view when the strides allow it, else a view of a copy."""
    # A fresh op result (no strides made yet) is contiguous: any shape views it contiguously.
    stride = contiguous_layout(shape)[0] if x._stride is None else view_strides(x._shape, x._stride, shape)
    if stride is None:
        c = clone(x)
        return View.apply(c, shape, contiguous_strides(shape))
    return View.apply(x, shape, stride)


def _permuted(x: Tensor, dims: tuple) -> Tensor:
    """The view of x with its dims reordered as `dims`, no autograd."""
    shape, st = x._shape, x.stride()
    v = x._view(tuple([shape[d] for d in dims]), tuple([st[d] for d in dims]), x._offset)
    if x._np is not None:
        v._np = x._np.transpose(dims)  # NumPy's view of the same memory (see _reshaped)
    return v


class Permute(Function):
    differentiable_forward = False
    _state_in_saved = True  # ctx holds dims only

    @classmethod
    def apply(cls, x: Tensor, dims: tuple) -> Tensor:
        """Function.apply for a permutation: the same result and node, recorded directly (see View.apply)."""
        v = _permuted(x, dims)
        if state.enabled and type(x) is Tensor and x._requires_grad:
            node = _view_node(cls, x, 1)
            node.dims = dims
            node._link_result(v)
        return v

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple) -> Tensor:
        ctx.dims = dims
        return _permuted(x, dims)

    @staticmethod
    def backward(ctx, grad):
        return grad.permute(_inverse(ctx.dims)), None

    def backward_fused(self, grad):
        """`backward` without a graph: the inverse permutation applied as the op itself (its dims are valid by
        construction, so permute's checks and the method's op hook are skipped)."""
        return Permute.apply(grad, _inverse(self.dims)), None


def _inverse(dims: tuple) -> tuple:
    """The permutation that undoes `dims`."""
    inverse = [0] * len(dims)
    for i, d in enumerate(dims):
        inverse[d] = i
    return tuple(inverse)


def permute(x: Tensor, *dims) -> Tensor:
    """A view with the dims reordered as `dims`."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    if len(dims) != x.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
                           f"length of the desired ordering of dimensions i.e. input.dim() = {x.ndim} is not equal "
                           f"to len(dims) = {len(dims)}")
    dims = tuple(wrap_dim(d, x.ndim) for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return Permute.apply(x, dims)


_SWAP_2D = (1, 0)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """A view with `dim0` and `dim1` swapped; aliases `swapaxes`, `swapdims`."""
    n = len(x._shape)
    if n == 0:
        return x
    d0, d1 = wrap_dim(dim0, n), wrap_dim(dim1, n)
    if n == 2 and d0 != d1:
        return Permute.apply(x, _SWAP_2D)
    dims = list(range(n))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(x, tuple(dims))


def t(x: Tensor) -> Tensor:
    """The transpose of a tensor of at most 2 dims (a view; 0-D and 1-D are returned as they are)."""
    n = len(x._shape)
    if n > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {n}D")
    return Permute.apply(x, _SWAP_2D) if n == 2 else x


class Expand(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, shape: tuple) -> Tensor:
        ctx.in_shape = x._shape
        lead = len(shape) - x.ndim
        st = x.stride()
        stride = (0,) * lead + tuple(0 if n == 1 and m != 1 else s for n, m, s in zip(x._shape, shape[lead:], st))
        return make_view(x, shape, stride, x._offset)

    @staticmethod
    def backward(ctx, grad):
        return sum_to(grad, ctx.in_shape), None


def expand(x: Tensor, *sizes) -> Tensor:
    """A view with singleton dims broadcast to `sizes` (-1 keeps a size); no copy.

    Example:
        >>> tt.tensor([[1], [2]]).expand(2, 3)
        tensor([[1, 1, 1],
                [2, 2, 2]])
    """
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    if len(sizes) < x.ndim:
        raise RuntimeError(f"expand(torch.FloatTensor{{{list(x._shape)}}}, size={list(sizes)}): the number of "
                           f"sizes provided ({len(sizes)}) must be greater or equal to the number of dimensions in "
                           f"the tensor ({x.ndim})")
    lead = len(sizes) - x.ndim
    shape = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"The expanded size of the tensor ({s}) isn't allowed in a leading, "
                                   "non-existing dimension")
            shape.append(s)
            continue
        n = x._shape[i - lead]
        if s == -1:
            s = n
        if n != s and n != 1:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size ({n}) at "
                               f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                               f"{list(x._shape)}")
        shape.append(s)
    shape = tuple(shape)
    if shape == x._shape:
        return x
    return Expand.apply(x, shape)


def squeeze(x: Tensor, dim=None) -> Tensor:
    """A view without the size-1 dims (only `dim`, an int or a tuple, when given)."""
    if dim is None:
        dims = {i for i, n in enumerate(x._shape) if n == 1}
    else:
        dims = {wrap_dim(d, x.ndim) for d in ((dim,) if isinstance(dim, int) else dim)}
        dims = {d for d in dims if x.ndim and x._shape[d] == 1}
    shape = tuple(n for i, n in enumerate(x._shape) if i not in dims)
    stride = tuple(s for i, s in enumerate(x.stride()) if i not in dims)
    return View.apply(x, shape, stride)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """A view with a size-1 dim inserted at `dim`."""
    d = wrap_dim(dim, x.ndim + 1)
    shape = x._shape[:d] + (1,) + x._shape[d:]
    st = x.stride()
    inner = st[d] * x._shape[d] if d < x.ndim else 1
    return View.apply(x, shape, st[:d] + (inner,) + st[d:])


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """The dims `start_dim`..`end_dim` merged into one: a view when possible, else a copy."""
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = wrap_dim(start_dim, x.ndim), wrap_dim(end_dim, x.ndim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    n = 1
    for d in range(s, e + 1):
        n *= x._shape[d]
    return reshape(x, x._shape[:s] + (n,) + x._shape[e + 1:])


def unflatten(x: Tensor, dim: int, sizes) -> Tensor:
    """A view with `dim` split into `sizes` (one may be -1)."""
    d = wrap_dim(dim, x.ndim)
    sizes = infer_shape(tuple(sizes), x._shape[d])
    return view(x, x._shape[:d] + sizes + x._shape[d + 1:])


# The full slice basic_index adds for each dim a key leaves out (after its last entry, or for `...`): PyTorch's
# indexing applies no op there, so Slice.name skips it. A `:` the user wrote is another slice object.
_IMPLICIT = slice(None)


class Slice(Function):
    """A sub-view chosen by a basic index key; backward writes grad into zeros through the same key."""

    differentiable_forward = False

    def name(self) -> str:
        """PyTorch's node for x[key]: that of the last view op its indexing applies, one per entry (select for an
        int, slice, unsqueeze for None; a key of several entries skips a slice over a whole dim, `:` or `0:n`),
        or AliasBackward0 when none applies (x[...], x[:, :])."""
        key, shape = self.key, self.in_shape
        several = sum(k is not _IMPLICIT for k in key) > 1
        last, d = "Alias", 0
        for k in key:
            if k is None:
                last = "Unsqueeze"
                continue
            if type(k) is not slice:
                last = "Select"
            elif k is not _IMPLICIT and not (several and k.start in (None, 0) and k.step in (None, 1)
                                             and (k.stop is None or k.stop >= shape[d])):
                last = "Slice"
            d += 1
        return last + "Backward0"

    @staticmethod
    def forward(ctx, x: Tensor, key: tuple) -> Tensor:
        ctx.in_shape, ctx.key = x._shape, key
        v = make_view(x, *_index_geometry(x, key))
        if x._np is not None:
            # NumPy's basic indexing: the same view (see View.forward). An int for every dim would give NumPy's
            # scalar, a copy: a trailing Ellipsis makes it a 0-d view.
            v._np = x._np[key] if v._shape else x._np[key + (Ellipsis,)]
        return v

    @staticmethod
    def backward(ctx, grad):
        return SliceBackward.apply(grad, ctx.in_shape, ctx.key), None

    def backward_fused(self, grad):
        """`backward` without a graph; on cpu for float32/float64, NumPy's zeros written through the same basic
        key (the same values as SliceBackward's zeros and copy, without its generic fill and copy ops)."""
        dtype = grad.dtype
        if grad.device.type != "cpu" or (dtype is not D.float32 and dtype is not D.float64):
            return type(self).backward(self, grad)
        out = np.zeros(self.in_shape, dtype.np)
        out[self.key] = grad._np if grad._np is not None else grad._host()
        return Tensor._fresh(out, dtype), None


class SliceBackward(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, grad: Tensor, in_shape: tuple, key: tuple) -> Tensor:
        ctx.key = key
        out = zeros(in_shape, dtype=grad.dtype, device=grad.device)
        write_into(make_view(out, *_index_geometry(out, key)), grad)
        return out

    @staticmethod
    def backward(ctx, grad):
        return Slice.apply(grad, ctx.key), None, None


class AsStrided(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, size: tuple, stride: tuple, offset: int) -> Tensor:
        ctx.save_for_backward(x)
        ctx.geometry = (size, stride, offset - x._offset)
        return make_view(x, size, stride, offset)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        if not x.is_contiguous():
            raise RuntimeError("as_strided backward is implemented for contiguous inputs only")
        size, stride, rel = ctx.geometry
        flat = zeros((x.numel(),), dtype=grad.dtype, device=grad.device)
        if grad.device.type == "cpu":
            # Overlapping windows each add their share, as PyTorch's as_strided backward does.
            positions = rel + builtins.sum(np.indices(size)[d] * stride[d] for d in range(len(size)))
            np.add.at(flat._host(), np.asarray(positions).reshape(-1), grad._host().reshape(-1))
        else:
            write_into(make_view(flat, size, stride, rel), grad)  # non-overlapping windows only
        return flat.view(x._shape), None, None, None


def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """A view of `length` elements of `dim` starting at `start`."""
    d = wrap_dim(dim, x.ndim)
    n = x._shape[d]
    if start < 0:
        start += n
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise IndexError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    # The other dims' entries are _IMPLICIT: the node is PyTorch's SliceBackward0 even over the whole dim.
    return Slice.apply(x, (_IMPLICIT,) * d + (slice(start, start + length),) + (_IMPLICIT,) * (x.ndim - d - 1))


def as_strided(x: Tensor, size, stride, storage_offset: int | None = None) -> Tensor:
    """A view of `x`'s memory with the given `size`, `stride` and `storage_offset` (no copy, no checks)."""
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride):
        raise RuntimeError(f"mismatch in length of strides and shape: {len(size)} vs {len(stride)}")
    offset = x._offset if storage_offset is None else storage_offset
    if any(s < 0 for s in stride):
        raise RuntimeError("as_strided: Negative strides are not supported at the moment, got strides: "
                           f"{list(stride)}")
    if size and builtins.all(n > 0 for n in size):
        last = offset + builtins.sum((n - 1) * s for n, s in zip(size, stride))
        capacity = x._get_storage().nbytes // x.dtype.itemsize
        if last >= capacity:
            raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, "
                               f"requiring a storage size of {(last + 1) * x.dtype.itemsize} are out of bounds for "
                               f"storage of size {capacity * x.dtype.itemsize}")
    return AsStrided.apply(x, size, stride, offset)


def basic_index(x: Tensor, key) -> Tensor | None:
    """x[key] for ints, slices (with steps, negative bounds), None and Ellipsis; None if key is advanced."""
    if type(key) is not tuple:
        key = (key,)
    n_real = ellipses = 0
    for k in key:
        if k is None:
            continue
        if k is Ellipsis:
            ellipses += 1
        elif type(k) is int or type(k) is slice or (isinstance(k, (int, slice)) and not isinstance(k, bool)):
            n_real += 1
        else:
            return None
    ndim = len(x._shape)
    if n_real > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    if ellipses > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if ellipses:
        at = key.index(Ellipsis)
        key = key[:at] + (_IMPLICIT,) * (ndim - n_real) + key[at + 1:]
    elif n_real < ndim:
        key = key + (_IMPLICIT,) * (ndim - n_real)
    return Slice.apply(x, key)  # its forward checks the bounds before anything is recorded


def _index_geometry(x: Tensor, key: tuple) -> tuple[tuple, tuple, int]:
    """(shape, stride, offset) of x[key] for a full basic key (one entry per dim, plus Nones)."""
    shape, stride = [], []
    offset = x._offset
    st = x.stride()
    d = 0
    for k in key:
        if k is None:
            shape.append(1)
            stride.append(0)
            continue
        n = x._shape[d]
        if isinstance(k, int):
            i = k + n if k < 0 else k
            if not 0 <= i < n:
                raise IndexError(f"index {k} is out of bounds for dimension {d} with size {n}")
            offset += i * st[d]
        else:
            if k.step is not None and k.step <= 0:
                raise ValueError("step must be greater than zero")
            start, stop, step = k.indices(n)
            length = builtins.max(0, (stop - start + step - 1) // step)
            shape.append(length)
            stride.append(st[d] * step)
            if length:
                offset += start * st[d]
        d += 1
    return tuple(shape), tuple(stride), offset


def unbind(x: Tensor, dim: int = 0) -> tuple:
    """The slices of `x` along `dim` as a tuple of views, the dim removed: one autograd node for all of them
    (UnbindBackward0), whose backward writes their gradients into one buffer (ops/multi_view.py)."""
    return multi_unbind(x, dim)


swapaxes = swapdims = transpose

__all__ = ["as_strided", "expand", "flatten", "narrow", "permute", "reshape", "squeeze", "t", "transpose",
           "unbind", "unflatten", "unsqueeze", "view", "swapaxes", "swapdims"]


def _view_as(self: Tensor, other: Tensor) -> Tensor:
    """`self.view(other.shape)`."""
    return view(self, other._shape)


def _reshape_as(self: Tensor, other: Tensor) -> Tensor:
    """`self.reshape(other.shape)`."""
    return reshape(self, other._shape)


def _expand_as(self: Tensor, other: Tensor) -> Tensor:
    """`self.expand(other.shape)`."""
    return expand(self, other._shape)


def _reversed_dims(self: Tensor) -> Tensor:
    """The tensor with its dims reversed (`.T`; `.H`, the conjugate transpose, is the same for real dtypes)."""
    return permute(self, tuple(reversed(range(self.ndim))))


def _last_two_swapped(self: Tensor) -> Tensor:
    """The last two dims swapped (`.mT`): a batch of transposed matrices."""
    return transpose(self, -2, -1)


METHODS: dict = {
    **{name: globals()[name] for name in __all__},
    "view_as": _view_as, "reshape_as": _reshape_as, "expand_as": _expand_as,
    "T": property(_reversed_dims), "H": property(_reversed_dims), "mT": property(_last_two_swapped),
}
