"""Tensor indexing beyond views: x[idx], x[mask], x[idx] = v, index_put and index_fill over
kernels/advanced_index.py.

A key is parsed (`_parse_key`) into its basic part (ints, slices, None, ...: a view, ops/views.py) and its
advanced part (integer index tensors; bool masks become index tensors through masked.nonzero_coords).
x[indices] is paired with its adjoint (an accumulating index_put into zeros), so backward is one fused
kernel and is itself differentiable. Out-of-range indices raise PyTorch's IndexError on both devices
(ops/index_core.py: on cuda through the device error word, without a host round trip); empty index
tensors, empty masks and zero-size dims select nothing and launch nothing.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..creation import tensor as make_tensor
from ..kernels import advanced_index as K
from ..kernels import elementwise as KE
from ..tensor import Tensor, wrap_dim
from . import views as V
from .copy import _contiguous_copy, check_inplace, clone, update_base, write_into
from .dispatch import broadcast_shapes, sum_to
from .index_core import (
    acc_scratch,
    after_launch,
    check_host,
    device_check,
    dim_bounds,
    host,
    inplace_method,
    on_cpu,
    type_name,
    value_arg,
    value_like,
)
from .masked import nonzero_coords


# ================================================================ kernels on tensors
def _adv_bounds(shape: tuple, indices: tuple) -> list:
    """PyTorch's error for each index tensor: it names the index tensor's position among the index tensors
    (not the dim it indexes), as aten::index's cpu kernel does."""
    present = [d for d, i in enumerate(indices) if i is not None]
    return [dim_bounds(IndexError, shape[d], k, wrap=True) for k, d in enumerate(present)]


def _host_indices(indices: tuple) -> list:
    return [None if i is None else host(i) for i in indices]


def _fill(region: Tensor, value) -> None:
    if on_cpu(region):
        region._host()[...] = value
    else:
        KE.fill(region._dev(), value)
    region._bump_version()


def _assign(region: Tensor, src) -> None:
    if isinstance(src, Tensor):
        write_into(region, src)
    else:
        _fill(region, src)


def _index_put_into(target: Tensor, indices: tuple, src, accumulate: bool, bounds: list | None = None,
                    check: bool = True) -> None:
    """target[indices] = src (or +=): in place, through target's strides. bounds: the index errors
    (default: advanced indexing's); check=False for indices already checked (backward)."""
    if check and bounds is None:
        bounds = _adv_bounds(target._shape, indices)
    if on_cpu(target):
        if check:
            check_host([host(i) for i in indices if i is not None], bounds)
        arr = target._host()
        vals = host(src) if isinstance(src, Tensor) else src
        np.copyto(arr, K.index_put_ref(arr, _host_indices(indices), vals, accumulate), casting="unsafe")
        target._bump_version()
        return
    acc = acc_scratch(target) if accumulate else None
    K.index_put(target._dev(), target._dev(), [None if i is None else i._dev() for i in indices],
                src._dev() if isinstance(src, Tensor) else src, accumulate, acc,
                device_check(target.device, bounds) if check else None)
    target._bump_version()
    if check:
        after_launch(target.device)


class Index(Function):
    """x[indices] (aten::index): indices[d] is an integer tensor for dim d or None (a full slice)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, indices: tuple) -> Tensor:
        ctx.shape, ctx.indices = x._shape, indices
        bounds = _adv_bounds(x._shape, indices)
        if on_cpu(x):
            check_host([host(i) for i in indices if i is not None], bounds)
            return Tensor._wrap(np.asarray(K.index_ref(host(x), _host_indices(indices))))
        shape = K.index_result_shape(x._shape, [None if i is None else i._shape for i in indices])
        out = Tensor._empty(shape, x.dtype, x.device)
        K.index(out._dev(), x._dev(), [None if i is None else i._dev() for i in indices],
                device_check(x.device, bounds))
        after_launch(x.device)
        return out

    @staticmethod
    def backward(ctx, grad):
        return IndexBackward.apply(grad, ctx.shape, ctx.indices), None


class IndexBackward(Function):
    """zeros(shape).index_put(indices, grad, accumulate=True): the adjoint of Index (its indices are checked)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, grad: Tensor, shape: tuple, indices: tuple) -> Tensor:
        ctx.indices = indices
        if on_cpu(grad):
            return Tensor._wrap(K.index_backward_ref(host(grad), shape, _host_indices(indices))[0])
        out = Tensor._empty(shape, grad.dtype, grad.device)
        K.index_backward(out._dev(), grad._dev(), [None if i is None else i._dev() for i in indices],
                         acc_scratch(out))
        return out

    @staticmethod
    def backward(ctx, grad):
        return Index.apply(grad, ctx.indices), None, None


class MaskOut(Function):
    """grad with the positions an assignment overwrote set to zero (its own adjoint).

    key: the basic part of the assignment's key (None: the whole tensor); indices: its advanced part.
    """

    differentiable_forward = False

    @staticmethod
    def forward(ctx, grad: Tensor, key: tuple | None, indices: tuple | None) -> Tensor:
        ctx.key, ctx.indices = key, indices
        out = _contiguous_copy(grad)
        region = out if key is None else V.make_view(out, *V._index_geometry(out, key))
        if indices is None:
            _fill(region, 0)
        else:
            _index_put_into(region, indices, 0, False, check=False)
        return out

    @staticmethod
    def backward(ctx, grad):
        return MaskOut.apply(grad, ctx.key, ctx.indices), None, None


def _value_grad(grad: Tensor, shape: tuple, dtype: D.dtype) -> Tensor:
    g = sum_to(grad, shape)
    return g.to(dtype) if g.dtype is not dtype else g


class IndexPut(Function):
    """x.index_put(indices, values, accumulate) out of place; values is a tensor or None (then `scalar`);
    bounds: the index errors when they are not advanced indexing's (index_fill)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, values: Tensor | None, indices: tuple, accumulate: bool, scalar,
                bounds: list | None = None) -> Tensor:
        ctx.indices, ctx.accumulate = indices, accumulate
        ctx.values_meta = None if values is None else (values._shape, values.dtype)
        out = _contiguous_copy(x)
        _index_put_into(out, indices, scalar if values is None else values, accumulate, bounds)
        return out

    @staticmethod
    def backward(ctx, grad):
        need_x, need_v = ctx.needs_input_grad[:2]
        grad_x = grad_v = None
        if need_x:
            grad_x = grad if ctx.accumulate else MaskOut.apply(grad, None, ctx.indices)
        if need_v:
            grad_v = _value_grad(Index.apply(grad, ctx.indices), *ctx.values_meta)
        return grad_x, grad_v, None, None, None, None


class SetItem(Function):
    """x[key] = value in x's memory; recorded as x's new grad_fn (PyTorch's rebase of history)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, value: Tensor | None, key: tuple, indices: tuple | None, scalar) -> Tensor:
        ctx.key, ctx.indices = key, indices
        ctx.values_meta = None if value is None else (value._shape, value.dtype)
        region = V.make_view(x, *V._index_geometry(x, key))
        src = scalar if value is None else value
        if indices is None:
            _assign(region, src)
        else:
            _index_put_into(region, indices, src, False)
        x._bump_version()
        return x

    @staticmethod
    def backward(ctx, grad):
        need_x, need_v = ctx.needs_input_grad[:2]
        grad_x = MaskOut.apply(grad, ctx.key, ctx.indices) if need_x else None
        grad_v = None
        if need_v:
            g = V.Slice.apply(grad, ctx.key)
            if ctx.indices is not None:
                g = Index.apply(g, ctx.indices)
            grad_v = _value_grad(g, *ctx.values_meta)
        return grad_x, grad_v, None, None, None


# ================================================================ parsing a key
_INDEX_TYPES = "tensors used as indices must be long, int, byte or bool tensors"


def _sequence_as_tuple(key: list) -> bool:
    """PyTorch (like old NumPy) reads a short list holding sequences, tensors, slices, None or ... as a tuple."""
    if len(key) >= 32:
        return False
    return any(isinstance(k, (Tensor, list, tuple, np.ndarray, slice)) or k is None or k is Ellipsis for k in key)


def _key_tuple(key) -> tuple:
    if isinstance(key, list) and _sequence_as_tuple(key):
        key = tuple(key)
    return key if isinstance(key, tuple) else (key,)


def _index_tensor(k, device) -> Tensor:
    arr = np.asarray(k.detach().cpu()._host() if isinstance(k, Tensor) else k)
    if arr.size == 0 and arr.dtype.kind not in "bu":
        arr = arr.astype(np.int64)
    if arr.dtype.kind == "i" or arr.dtype.kind == "u" and arr.dtype != np.uint8:
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "biu":
        raise IndexError(_INDEX_TYPES)
    return make_tensor(arr, device=device)


def _tensor_item(k: Tensor) -> tuple:
    """(item, dims consumed) of an index tensor: a mask consumes its dims, a 0-d mask is a bool."""
    if k.dtype in (D.bool, D.uint8):
        if k.ndim == 0:
            return bool(k.item()), 0
        return k, k.ndim
    if k.dtype.is_floating_point:
        raise IndexError(_INDEX_TYPES)
    return k, 1


def _key_item(k, device) -> tuple:
    """(item, dims of x it consumes) for one element of a key: ints, slices, None, ..., bools and index
    tensors (sequences and arrays become index tensors)."""
    if k is None or k is Ellipsis or isinstance(k, slice):
        return k, int(isinstance(k, slice))
    if isinstance(k, (bool, np.bool_)):
        return bool(k), 0
    if isinstance(k, (int, np.integer)):
        return int(k), 1
    if isinstance(k, range):  # a sequence of ints to PyTorch, as a list is
        k = list(k)
    if isinstance(k, (list, tuple, np.ndarray)):
        k = _index_tensor(k, device)
    elif not isinstance(k, Tensor):
        if hasattr(k, "__index__"):
            return k.__index__(), 1
        raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
                         f"valid indices (got {type(k).__name__})")
    return _tensor_item(k)


def _key_items(x: Tensor, key) -> tuple[list, int]:
    """The key's items and the number of x's dims they consume (validated against x)."""
    items, consumed = [], 0
    for k in _key_tuple(key):
        item, n = _key_item(k, x.device)
        items.append(item)
        consumed += n
    if consumed > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
    if sum(1 for k in items if k is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    return items, consumed


def _expand_mask(x: Tensor, mask: Tensor, d: int, full: list, adv: list) -> int:
    """A bool mask over x's dims d.. as one index tensor per dim (its nonzero coordinates)."""
    for i, n in enumerate(mask._shape):
        if n != x._shape[d + i]:
            raise IndexError(f"The shape of the mask {list(mask._shape)} at index {i} does not match the shape of "
                             f"the indexed tensor {list(x._shape)} at index {d + i}")
    coords = nonzero_coords(mask.to(x.device))
    full += [slice(None)] * mask.ndim
    adv += [V.make_view(coords, (coords._shape[0],), (coords.stride()[0],), coords._offset + i)
            for i in range(mask.ndim)]
    return d + mask.ndim


def _expand_item(x: Tensor, k, d: int, ellipsis_dims: int, full: list, adv: list) -> int:
    """Append item k's basic part to `full` and its advanced part to `adv`; return the next dim of x."""
    if k is Ellipsis:
        full += [slice(None)] * ellipsis_dims
        adv += [None] * ellipsis_dims
        return d + ellipsis_dims
    if k is None or isinstance(k, bool):
        # x[True] adds a dim of size 1, x[False] one of size 0 (an empty index into that new dim).
        full.append(None)
        adv.append(None if k is None or k else Tensor._wrap(np.zeros((0,), np.int64)).to(x.device))
        return d
    if isinstance(k, int):
        full.append(k)
        return d + 1
    if isinstance(k, slice):
        full.append(k)
        adv.append(None)
        return d + 1
    if k.dtype in (D.bool, D.uint8):
        return _expand_mask(x, k, d, full, adv)
    full.append(slice(None))
    adv.append(k.to(x.device) if k.device != x.device else k)
    return d + 1


def _check_broadcast(adv: list) -> None:
    shapes = [a._shape for a in adv if a is not None]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise IndexError("shape mismatch: indexing tensors could not be broadcast together with shapes "
                         + ", ".join(str(list(s)) for s in shapes)) from None


def _parse_key(x: Tensor, key) -> tuple[tuple, tuple | None]:
    """(basic key over x's dims for views._index_geometry, advanced indices over the resulting view's dims or
    None). Ints select (removing their dim, as PyTorch does), slices/None/... are views; integer tensors
    index, bool tensors are turned into index tensors with nonzero. Index values are checked by the ops."""
    items, consumed = _key_items(x, key)
    full: list = []
    adv: list = []
    d = 0
    for k in items:
        d = _expand_item(x, k, d, x.ndim - consumed, full, adv)
    full += [slice(None)] * (x.ndim - d)
    adv += [None] * (x.ndim - d)
    if all(a is None for a in adv):
        return tuple(full), None
    _check_broadcast(adv)
    while adv and adv[-1] is None:
        adv.pop()
    return tuple(full), tuple(adv)


# ================================================================ x[key], x[key] = value, index_put, index_fill
def getitem(self: Tensor, key) -> Tensor:
    """x[key]: basic keys give views; integer/bool tensors and lists index (a copy) with autograd."""
    result = V.basic_index(self, key)
    if result is not None:
        return result
    mask = key[0] if isinstance(key, tuple) and len(key) == 1 else key
    if isinstance(mask, Tensor) and mask.dtype in (D.bool, D.uint8) and 1 <= mask.ndim <= self.ndim \
            and mask._shape == self._shape[:mask.ndim]:
        # x[mask] over the leading dims: one index into those dims flattened (any mask rank, one launch).
        flat = V.reshape(self, (mask.numel(),) + self._shape[mask.ndim:])
        rows = nonzero_coords(V.reshape(mask.to(self.device), (-1,)))
        return Index.apply(flat, (V.make_view(rows, (rows._shape[0],), (1,), rows._offset),))
    full, indices = _parse_key(self, key)
    view = V.basic_index(self, full)
    return view if indices is None else Index.apply(view, indices)


def _as_value(self: Tensor, value):
    """(tensor or None, scalar) for the right-hand side of an assignment."""
    if isinstance(value, Tensor):
        return (value.to(self.device) if value.device != self.device else value), 0
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float)):
        return None, value
    return make_tensor(value, dtype=self.dtype, device=self.device), 0


def _fit_value(value: Tensor, shape: tuple) -> Tensor:
    """value broadcast-compatible with the assignment's target `shape` (leading size-1 dims dropped)."""
    v = value
    while v.ndim > len(shape) and v._shape[0] == 1:
        v = v.reshape(v._shape[1:])
    try:
        if broadcast_shapes(v._shape, shape) == tuple(shape):
            return v
    except RuntimeError:
        pass
    raise RuntimeError(f"shape mismatch: value tensor of shape {list(value._shape)} cannot be broadcast to indexing "
                       f"result of shape {list(shape)}")


def setitem(self: Tensor, key, value) -> None:
    """x[key] = value (a tensor, broadcast and cast to x's dtype, or a number); in place, with autograd."""
    full, indices = _parse_key(self, key)
    value_t, scalar = _as_value(self, value)
    region_shape = V._index_geometry(self, full)[0]
    if value_t is not None:
        target = region_shape if indices is None else K.index_result_shape(
            region_shape, [None if i is None else i._shape for i in indices])
        value_t = _fit_value(value_t, target)
    check_inplace(self, value_t)
    SetItem.apply(self, value_t, full, indices, scalar)
    update_base(self)


def index_put(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:  # noqa: A002
    """x.index_put(indices, values, accumulate): indices is a tuple of integer/bool tensors (None: a full dim)."""
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put(): argument 'indices' must be tuple of Tensors, not {type(indices).__name__}")
    key = tuple(slice(None) if i is None else i for i in indices)
    for i in key:
        if not isinstance(i, (Tensor, slice)):
            raise TypeError(f"index_put(): indices must be tensors, got {type(i).__name__}")
    _, adv = _parse_key(input, key)
    values_t, scalar = _as_value(input, values)
    if values_t is not None:
        if values_t.dtype is not input.dtype:
            raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                               f"{type_name(input.dtype)} for the destination and {type_name(values_t.dtype)} for "
                               "the source.")
        if adv is not None:
            shape = K.index_result_shape(input._shape, [None if i is None else i._shape for i in adv])
            values_t = _fit_value(values_t, shape)
    if adv is None:  # no index tensors: the whole tensor is assigned (or added to)
        if accumulate:
            return input + (scalar if values_t is None else values_t)
        out = clone(input)
        setitem(out, Ellipsis, scalar if values_t is None else values_t)
        return out
    return IndexPut.apply(input, values_t, adv, bool(accumulate), scalar)


def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:  # noqa: A002
    """x.index_fill(dim, index, value): negative indices count from the end, as in PyTorch."""
    if index.dtype is not D.int64:
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    value_t, scalar = value_arg(value, "index_fill_")
    d = wrap_dim(dim, input.ndim)
    if index.ndim > 1:
        raise IndexError("index_fill_(): Index is supposed to be a vector")
    if input.ndim == 0:  # a 0-d tensor indexes like a 1-element vector
        return index_fill(input.reshape(1), 0, index, value).reshape(())
    _, indices = _parse_key(input, (slice(None),) * d + (index,))
    bounds = [dim_bounds(IndexError, input._shape[d], d, wrap=True)]
    return IndexPut.apply(input, value_like(value_t, input), indices, False, scalar, bounds)


__all__ = ["index_fill", "index_put"]

METHODS: dict = {
    "__getitem__": getitem, "__setitem__": setitem,
    "index_fill": index_fill, "index_fill_": inplace_method(index_fill),
    "index_put": index_put, "index_put_": inplace_method(index_put),
}
