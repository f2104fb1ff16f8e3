"""gather, scatter, index_select/index_add/index_fill/index_put, masked ops, take, nonzero, one_hot and
advanced indexing (x[idx], x[mask], x[idx] = v) over kernels/indexing.py.

Every index is checked on the host before a kernel runs (the kernels silently drop out-of-range
indices). Each differentiable op is paired with its adjoint op (gather with a scatter-add into zeros,
x[idx] with an accumulating index_put into zeros, ...): the backward of one is the forward of the
other, so backward is one fused kernel and is itself differentiable.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import elementwise as KE
from ..kernels import indexing as K
from ..kernels.strided import MAX_DIMS, collapse
from ..tensor import Tensor, wrap_dim
from . import views as V
from .copy import _contiguous_copy, check_inplace, update_base, write_into
from .dispatch import broadcast_shapes, check_same_device, sum_to


# ================================================================ helpers
def _h(t: Tensor) -> np.ndarray:
    return t._np if t._np is not None else t._host()


def _cpu(t: Tensor) -> bool:
    return t.device.type == "cpu"


def _name(dtype: D.dtype) -> str:
    return {"float16": "Half", "bfloat16": "BFloat16", "float32": "Float", "float64": "Double", "uint8": "Byte",
            "int8": "Char", "int16": "Short", "int32": "Int", "int64": "Long", "bool": "Bool"}[dtype.name]


def _acc(target: Tensor):
    """Scratch the accumulating kernels add into: fp32 for 16-bit floats (no bf16 atomics, and fp16 sums
    lose less), int32 for small ints and bool; None where the target takes atomics directly."""
    dtype = D.float32 if target.dtype in (D.float16, D.bfloat16) else K.accumulate_dtype(target.dtype)
    return None if dtype is None else Tensor._empty(target._shape, dtype, target.device)._dev()


def _host_values(t: Tensor) -> np.ndarray:
    return t._to_host_array()


def _check_bounds(index: Tensor, size: int, dim: int, allow_negative: bool) -> None:
    """Raise IndexError naming the first index outside [0, size) (or [-size, size))."""
    if index.numel() == 0:
        return
    a = _host_values(index)
    low = -size if allow_negative else 0
    bad = (a < low) | (a >= size)
    if bad.any():
        raise IndexError(f"index {int(a.reshape(-1)[np.argmax(bad.reshape(-1))])} is out of bounds for dimension "
                         f"{dim} with size {size}")


def _collapsible(shape: tuple, *tensors: Tensor) -> bool:
    return len(collapse(shape, [t.stride() for t in tensors])[0]) <= MAX_DIMS


def _same_ndim(index: Tensor, other: Tensor, what: str) -> None:
    if max(index.ndim, 1) != max(other.ndim, 1):
        raise RuntimeError(f"Index tensor must have the same number of dimensions as {what} tensor")


def _value_arg(value, what: str):
    """(tensor or None, scalar) for a fill value given as a Python number or a 0-d tensor."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"{what} only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
        return value, 0
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, (bool, int, float)):
        raise TypeError(f"{what}(): argument 'value' must be Number or Tensor, not {type(value).__name__}")
    return None, value


def _fill(region: Tensor, value) -> None:
    if _cpu(region):
        region._host()[...] = value
    else:
        KE.fill(region._dev(), value)
    region._bump_version()


def _assign(region: Tensor, src) -> None:
    if isinstance(src, Tensor):
        write_into(region, src)
    else:
        _fill(region, src)


def _index_put_into(target: Tensor, indices: tuple, src, accumulate: bool) -> None:
    """target[indices] = src (or +=): in place, through target's strides."""
    if _cpu(target):
        arr = target._host()
        vals = _h(src) if isinstance(src, Tensor) else src
        np.copyto(arr, K.index_put_ref(arr, [None if i is None else _h(i) for i in indices], vals, accumulate),
                  casting="unsafe")
    else:
        acc = _acc(target) if accumulate else None
        K.index_put(target._dev(), target._dev(), [None if i is None else i._dev() for i in indices],
                    src._dev() if isinstance(src, Tensor) else src, accumulate, acc)
    target._bump_version()


# ================================================================ gather / scatter along a dim
class Gather(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Tensor) -> Tensor:
        ctx.shape, ctx.dim = x._shape, dim
        ctx.save_for_backward(index)
        if _cpu(x):
            return Tensor._wrap(np.asarray(K.gather_ref(_h(x), _h(index), dim)).reshape(index._shape))
        out = Tensor._empty(index._shape, x.dtype, x.device)
        K.gather(out._dev(), x._dev(), index._dev(), dim)
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        return GatherBackward.apply(grad, ctx.shape, ctx.dim, index), None, None


class GatherBackward(Function):
    """zeros(shape).scatter_add(dim, index, grad): the adjoint of Gather."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, grad: Tensor, shape: tuple, dim: int, index: Tensor) -> Tensor:
        ctx.dim, ctx.index = dim, index
        if _cpu(grad):
            return Tensor._wrap(K.gather_backward_ref(_h(grad), shape, _h(index), dim)[0])
        out = Tensor._empty(shape, grad.dtype, grad.device)
        K.gather_backward(out._dev(), grad._dev(), index._dev(), dim, _acc(out))
        return out

    @staticmethod
    def backward(ctx, grad):
        return Gather.apply(grad, ctx.dim, ctx.index), None, None, None


def _check_dim_index(x: Tensor, dim: int, index: Tensor, op: str, src: Tensor | None = None) -> int:
    if index.dtype is not D.int64:
        raise RuntimeError(f"{op}(): Expected dtype int64 for index")
    check_same_device(x, index)
    d = wrap_dim(dim, x.ndim)
    _same_ndim(index, x, "self" if src is not None or op != "gather" else "input")
    if src is not None:
        _same_ndim(index, src, "src")
    ishape = index._shape or (1,)
    xshape = x._shape or (1,)
    sshape = (src._shape or (1,)) if src is not None else None
    for i, n in enumerate(ishape):
        if (i != d and n > xshape[i]) or (sshape is not None and n > sshape[i]):
            if src is None:
                raise RuntimeError(f"Size does not match at dimension {i} expected index {list(index._shape)} to be "
                                   f"smaller than self {list(x._shape)} apart from dimension {d}")
            raise RuntimeError(f"Expected index {list(index._shape)} to be smaller than self {list(x._shape)} apart "
                               f"from dimension {d} and to be smaller size than src {list(src._shape)}")
    _check_bounds(index, xshape[d], d, allow_negative=False)
    return d


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:  # noqa: A002
    d = _check_dim_index(input, dim, index, "gather")
    return Gather.apply(input, d, index)


def _pad_to(g: Tensor, shape: tuple) -> Tensor:
    """g zero-padded at the end of each dim up to `shape` (src larger than index gets zero grads)."""
    if g._shape == shape:
        return g
    from .shape import pad

    pads = []
    for n, m in zip(reversed(shape), reversed(g._shape)):
        pads += [0, n - m]
    return pad(g, pads)


class Scatter(Function):
    """x.scatter(dim, index, src or value, reduce=None / "add" / "multiply")."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, src: Tensor | None, dim: int, index: Tensor, value, reduce: str | None) -> Tensor:
        ctx.dim, ctx.reduce = dim, reduce
        ctx.src_shape = None if src is None else src._shape
        ctx.save_for_backward(index)
        if _cpu(x):
            out = K.scatter_ref(_h(x), _h(index), value if src is None else _h(src), dim, reduce)
            return Tensor._wrap(np.asarray(out))
        out = Tensor._empty(x._shape, x.dtype, x.device)
        K.scatter(out._dev(), x._dev(), index._dev(), value if src is None else src._dev(), dim, reduce,
                  _acc(out) if reduce == "add" else None)
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        if ctx.reduce == "multiply":
            raise NotImplementedError("the derivative of scatter with reduce='multiply' is not implemented")
        need_x, need_src = ctx.needs_input_grad[:2]
        grad_x = grad_src = None
        if need_x:
            grad_x = grad if ctx.reduce == "add" else Scatter.apply(grad, None, ctx.dim, index, 0, None)
        if need_src:
            grad_src = _pad_to(Gather.apply(grad, ctx.dim, index), ctx.src_shape)
        return grad_x, grad_src, None, None, None, None


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None,  # noqa: A002
            reduce: str | None = None) -> Tensor:
    """torch.scatter: src is a tensor (or a Python number, like `value`)."""
    if src is None and value is None:
        raise TypeError("scatter() missing required argument 'src' or 'value'")
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src
    if reduce not in (None, "add", "multiply"):
        raise RuntimeError("reduce argument must be either add or multiply.")
    if src is not None:
        if src.dtype is not input.dtype:
            raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
        check_same_device(input, src)
    elif isinstance(value, Tensor):
        value = value.item()
    d = _check_dim_index(input, dim, index, "scatter", src if src is not None else index)
    return Scatter.apply(input, src, d, index, value, reduce)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:  # noqa: A002
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add(): argument 'src' must be Tensor, not {type(src).__name__}")
    if src.dtype is not input.dtype:
        raise RuntimeError("scatter_add(): Expected self.dtype to be equal to src.dtype")
    check_same_device(input, src)
    d = _check_dim_index(input, dim, index, "scatter_add", src)
    return Scatter.apply(input, src, d, index, 0, "add")


# ================================================================ index_select / index_add / index_fill
def _check_vector_index(x: Tensor, dim: int, index: Tensor, op: str, dtypes=(D.int64, D.int32)) -> int:
    if index.dtype not in dtypes:
        raise RuntimeError(f"{op}(): Expected dtype int32 or int64 for index")
    if index.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector")
    check_same_device(x, index)
    d = wrap_dim(dim, x.ndim)
    _check_bounds(index, x._shape[d] if x.ndim else 1, d, allow_negative=False)
    return d


def _selected_shape(shape: tuple, dim: int, n: int) -> tuple:
    return shape[:dim] + (n,) + shape[dim + 1:] if shape else ()


class IndexSelect(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Tensor) -> Tensor:
        ctx.shape, ctx.dim = x._shape, dim
        ctx.save_for_backward(index)
        shape = _selected_shape(x._shape, dim, index.numel())
        if _cpu(x):
            return Tensor._wrap(K.index_select_ref(_h(x), _h(index), dim).reshape(shape))
        out = Tensor._empty(shape, x.dtype, x.device)
        K.index_select(out._dev(), x._dev(), index._dev(), dim)
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        return IndexSelectBackward.apply(grad, ctx.shape, ctx.dim, index), None, None


class IndexSelectBackward(Function):
    """zeros(shape).index_add(dim, index, grad): the adjoint of IndexSelect."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, grad: Tensor, shape: tuple, dim: int, index: Tensor) -> Tensor:
        ctx.dim, ctx.index = dim, index
        if _cpu(grad):
            return Tensor._wrap(K.index_select_backward_ref(_h(grad), shape, _h(index), dim)[0])
        out = Tensor._empty(shape, grad.dtype, grad.device)
        K.index_select_backward(out._dev(), grad._dev(), index._dev(), dim, _acc(out))
        return out

    @staticmethod
    def backward(ctx, grad):
        return IndexSelect.apply(grad, ctx.dim, ctx.index), None, None, None


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:  # noqa: A002
    d = _check_vector_index(input, dim, index, "index_select")
    return IndexSelect.apply(input, d, index)


class IndexAdd(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, source: Tensor, dim: int, index: Tensor, alpha) -> Tensor:
        ctx.dim, ctx.alpha = dim, alpha
        ctx.save_for_backward(index)
        if _cpu(x):
            return Tensor._wrap(np.asarray(K.index_add_ref(_h(x), _h(index), _h(source), dim, alpha)))
        out = Tensor._empty(x._shape, x.dtype, x.device)
        K.index_add(out._dev(), x._dev(), index._dev(), source._dev(), dim, alpha, _acc(out))
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        grad_source = None
        if ctx.needs_input_grad[1]:
            grad_source = IndexSelect.apply(grad, ctx.dim, index)
            if ctx.alpha != 1:
                grad_source = grad_source * ctx.alpha
        return grad, grad_source, None, None, None


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:  # noqa: A002
    if index.dtype not in (D.int64, D.int32):
        raise RuntimeError("index_add_(): Expected dtype int32/int64 for index")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"index_add_(): self ({_name(input.dtype)}) and source ({_name(source.dtype)}) must have "
                           "the same scalar type")
    check_same_device(input, source)
    d = wrap_dim(dim, input.ndim)
    if source.ndim and max(source.ndim, 1) != max(input.ndim, 1):
        raise IndexError("index_add_(): Source/destination tensor must have same slice shapes. Destination slice "
                         f"shape: {list(input._shape)} at dimension {d} and source slice shape: "
                         f"{list(source._shape)} at dimension {d}.")
    n = (source._shape or (1,))[d]
    if index.ndim > 1 or index.numel() != n:
        raise RuntimeError(f"index_add_(): Number of indices ({index.numel()}) should be equal to source.size(dim) "
                           f"({n})")
    if source.ndim and _selected_shape(input._shape, d, n) != source._shape:
        raise RuntimeError("index_add_(): Source/destination tensor must have same slice shapes. Destination slice "
                           f"shape: {list(input._shape)} at dimension {d} and source slice shape: "
                           f"{list(source._shape)} at dimension {d}.")
    _check_vector_index(input, d, index, "index_add_")
    if alpha != 1 and not input.dtype.is_floating_point and isinstance(alpha, float):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")
    return IndexAdd.apply(input, source.reshape(_selected_shape(input._shape, d, n)), d, index, alpha)


def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:  # noqa: A002
    if index.dtype is not D.int64:
        raise RuntimeError("index_fill_(): Expected dtype int64 for index.")
    value_t, scalar = _value_arg(value, "index_fill_")
    d = wrap_dim(dim, input.ndim)
    if index.ndim > 1:
        raise IndexError("index_fill_(): Index is supposed to be a vector")
    if input.ndim == 0:  # a 0-d tensor indexes like a 1-element vector
        return index_fill(input.reshape(1), 0, index, value).reshape(())
    key = (slice(None),) * d + (index,)
    _, indices = _parse_key(input, key)
    return IndexPut.apply(input, _value_like(value_t, input), tuple(indices), False, scalar)


def _value_like(value: Tensor | None, x: Tensor) -> Tensor | None:
    if value is None:
        return None
    if value.device != x.device:
        value = value.to(x.device)
    return value.to(x.dtype) if value.dtype is not x.dtype else value


# ================================================================ masked_fill / masked_select / masked_scatter
class MaskedFill(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, value: Tensor | None, mask: Tensor, scalar) -> Tensor:
        ctx.shapes = (x._shape, None if value is None else value._shape)
        ctx.mask = mask
        shape = broadcast_shapes(x._shape, mask._shape)
        if _cpu(x):
            return Tensor._wrap(np.asarray(K.masked_fill_ref(_h(x), _h(mask), scalar if value is None else _h(value)),
                                           dtype=x.dtype.np))
        out = Tensor._empty(shape, x.dtype, x.device)
        K.masked_fill(out._dev(), x._dev(), mask._dev(), scalar if value is None else value._dev())
        return out

    @staticmethod
    def backward(ctx, grad):
        x_shape, v_shape = ctx.shapes
        need_x, need_v = ctx.needs_input_grad[:2]
        grad_x = sum_to(MaskedFill.apply(grad, None, ctx.mask, 0), x_shape) if need_x else None
        grad_v = sum_to(MaskedKeep.apply(grad, ctx.mask), v_shape) if need_v else None
        return grad_x, grad_v, None, None

    def backward_fused(self, grad):
        """Both gradients in one kernel pass (NumPy on cpu), then reduced to the inputs' shapes."""
        x_shape, v_shape = self.shapes
        need_x, need_v = self.needs_input_grad[:2]
        if _cpu(grad):
            gx, gv = (Tensor._wrap(np.asarray(g, dtype=grad.dtype.np))
                      for g in K.masked_fill_backward_ref(_h(grad), _h(self.mask)))
        else:
            gx = Tensor._empty(grad._shape, grad.dtype, grad.device) if need_x else None
            gv = Tensor._empty(grad._shape, grad.dtype, grad.device) if need_v else None
            K.masked_fill_backward(gx._dev() if need_x else None, gv._dev() if need_v else None, grad._dev(),
                                   self.mask._dev())
        return (sum_to(gx, x_shape) if need_x else None, sum_to(gv, v_shape) if need_v else None, None, None)


class MaskedKeep(Function):
    """where(mask, x, 0): the fill value's gradient; its own adjoint."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, mask: Tensor) -> Tensor:
        ctx.shape, ctx.mask = x._shape, mask
        if _cpu(x):
            return Tensor._wrap(np.asarray(K.masked_fill_backward_ref(_h(x), _h(mask))[1], dtype=x.dtype.np))
        out = Tensor._empty(broadcast_shapes(x._shape, mask._shape), x.dtype, x.device)
        K.masked_fill_backward(None, out._dev(), x._dev(), mask._dev())
        return out

    @staticmethod
    def backward(ctx, grad):
        return sum_to(MaskedKeep.apply(grad, ctx.mask), ctx.shape), None


def _check_mask(mask: Tensor, op: str) -> None:
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}(): argument 'mask' must be Tensor, not {type(mask).__name__}")
    if mask.dtype is not D.bool:
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype {mask.dtype.name}")


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:  # noqa: A002
    _check_mask(mask, "masked_fill_")
    check_same_device(input, mask)
    value_t, scalar = _value_arg(value, "masked_fill_")
    if value_t is not None and value_t.device != input.device and not value_t._requires_grad:
        value_t, scalar = None, value_t.item()  # a cpu 0-d value is a scalar, as in PyTorch
    return MaskedFill.apply(input, _value_like(value_t, input), mask, scalar)


def _mask_scan(mask: Tensor) -> tuple[Tensor, int]:
    """(block offsets, number of True elements) of a mask collapsible to 4 dims (cuda)."""
    scratch = Tensor._empty((K.compact_scratch_numel(mask.numel()),), D.int64, mask.device)
    K.mask_scan(scratch._dev(), mask._dev())
    last = V.make_view(scratch, (1,), (1,), scratch._offset + scratch._shape[0] - 1)
    return scratch, int(_host_values(last)[0])


def _broadcast_mask(mask: Tensor, shape: tuple) -> Tensor:
    """mask at `shape`, in a layout the mask kernels accept (a contiguous copy when it must be)."""
    m = V.expand(mask, shape) if mask._shape != shape else mask
    return m if m.is_contiguous() else _contiguous_copy(m)


class MaskedSelect(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, mask: Tensor) -> Tensor:
        shape = broadcast_shapes(x._shape, mask._shape)
        ctx.shape = x._shape
        if _cpu(x):
            ctx.mask, ctx.scratch = V.expand(mask, shape), None
            return Tensor._wrap(K.masked_select_ref(_h(x), _h(mask)))
        m = _broadcast_mask(mask, shape)
        xb = V.expand(x, shape) if x._shape != shape else x
        if not _collapsible(shape, m, xb):
            xb = _contiguous_copy(xb)
        scratch, count = _mask_scan(m)
        ctx.mask, ctx.scratch = m, scratch
        out = Tensor._empty((count,), x.dtype, x.device)
        K.masked_select(out._dev(), xb._dev(), m._dev(), scratch._dev())
        return out

    @staticmethod
    def backward(ctx, grad):
        return sum_to(MaskedSelectBackward.apply(grad, ctx.mask, ctx.scratch), ctx.shape), None


class MaskedSelectBackward(Function):
    """zeros(mask.shape).masked_scatter(mask, grad): the adjoint of MaskedSelect."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, grad: Tensor, mask: Tensor, scratch: Tensor | None) -> Tensor:
        ctx.mask = mask
        if _cpu(grad):
            return Tensor._wrap(K.masked_select_backward_ref(_h(grad), _h(mask))[0])
        out = Tensor._empty(mask._shape, grad.dtype, grad.device)
        g = grad if grad.is_contiguous() else _contiguous_copy(grad)
        K.masked_select_backward(out._dev(), g._dev(), mask._dev(), scratch._dev())
        return out

    @staticmethod
    def backward(ctx, grad):
        return MaskedSelect.apply(grad, ctx.mask), None, None


def masked_select(input: Tensor, mask: Tensor) -> Tensor:  # noqa: A002
    _check_mask(mask, "masked_select")
    check_same_device(input, mask)
    return MaskedSelect.apply(input, mask)


class MaskedScatter(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, source: Tensor, mask: Tensor) -> Tensor:
        ctx.source_shape = source._shape
        if _cpu(x):
            m = V.expand(mask, x._shape)
            count = int(np.count_nonzero(_h(m)))
            if source.numel() < count:
                raise RuntimeError("masked_scatter: expected source to have at least as many elements as ones in mask "
                                   f"({count}), got {source.numel()}")
            ctx.mask, ctx.count = m, count
            return Tensor._wrap(K.masked_scatter_ref(_h(x), _h(mask), _h(source)))
        m = _broadcast_mask(mask, x._shape)
        scratch, count = _mask_scan(m)
        if source.numel() < count:
            raise RuntimeError("masked_scatter: expected source to have at least as many elements as ones in mask "
                               f"({count}), got {source.numel()}")
        ctx.mask, ctx.count = m, count
        src = source if source.is_contiguous() else _contiguous_copy(source)
        out = Tensor._empty(x._shape, x.dtype, x.device)
        K.masked_scatter(out._dev(), x._dev(), m._dev(), src._dev(), scratch._dev())
        return out

    @staticmethod
    def backward(ctx, grad):
        need_x, need_src = ctx.needs_input_grad[:2]
        grad_x = MaskedFill.apply(grad, None, ctx.mask, 0) if need_x else None
        grad_src = None
        if need_src:
            from .shape import pad

            n = 1
            for s in ctx.source_shape:
                n *= s
            grad_src = pad(MaskedSelect.apply(grad, ctx.mask), [0, n - ctx.count]).reshape(ctx.source_shape)
        return grad_x, grad_src, None


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:  # noqa: A002
    _check_mask(mask, "masked_scatter_")
    check_same_device(input, mask, source)
    if source.dtype is not input.dtype:
        raise RuntimeError(f"masked_scatter_: expected self and source to have same dtypes but got "
                           f"{_name(input.dtype)} and {_name(source.dtype)}")
    if broadcast_shapes(input._shape, mask._shape) != input._shape:
        raise RuntimeError(f"masked_scatter_: mask of shape {list(mask._shape)} does not broadcast to self of shape "
                           f"{list(input._shape)}")
    return MaskedScatter.apply(input, source, mask)


# ================================================================ take / nonzero / one_hot
class Take(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, index: Tensor) -> Tensor:
        ctx.shape = x._shape
        ctx.save_for_backward(index)
        if _cpu(x):
            return Tensor._wrap(np.asarray(K.take_ref(_h(x), _h(index))))
        src = x if len(collapse(x._shape, [x.stride()])[0]) <= 1 else _contiguous_copy(x)
        out = Tensor._empty(index._shape, x.dtype, x.device)
        K.take(out._dev(), src._dev(), index._dev())
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        return TakeBackward.apply(grad, ctx.shape, index), None


class TakeBackward(Function):
    """zeros(shape).put_(index, grad, accumulate=True): the adjoint of Take."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, grad: Tensor, shape: tuple, index: Tensor) -> Tensor:
        ctx.index = index
        if _cpu(grad):
            return Tensor._wrap(K.take_backward_ref(_h(grad), shape, _h(index))[0])
        out = Tensor._empty(shape, grad.dtype, grad.device)
        K.take_backward(out._dev(), grad._dev(), index._dev(), _acc(out))
        return out

    @staticmethod
    def backward(ctx, grad):
        return Take.apply(grad, ctx.index), None, None


def take(input: Tensor, index: Tensor) -> Tensor:  # noqa: A002
    if index.dtype is not D.int64:
        raise RuntimeError(f"take(): Expected a long tensor for index, but found {_name(index.dtype)}")
    check_same_device(input, index)
    n = input.numel()
    if index.numel() and n == 0:
        raise IndexError("take(): tried to take from an empty tensor")
    _check_bounds(index, n, 0, allow_negative=True)
    return Take.apply(input, index)


def _nonzero(x: Tensor) -> Tensor:
    """(count, ndim) int64 coordinates of x's nonzero elements, row-major."""
    if x.ndim == 0:  # (1, 0) or (0, 0): counted as a 1-element vector
        return Tensor._empty((_nonzero(x.reshape(1))._shape[0], 0), D.int64, x.device)
    if _cpu(x):
        return Tensor._wrap(K.nonzero_ref(_h(x)))
    m = x if _collapsible(x._shape, x) else _contiguous_copy(x)
    scratch, count = _mask_scan(m)
    out = Tensor._empty((count, x.ndim), D.int64, x.device)
    K.nonzero(out._dev(), m._dev(), scratch._dev())
    return out


def nonzero(input: Tensor, *, as_tuple: bool = False):  # noqa: A002
    """Indices of the nonzero elements: (n, ndim) int64, or one 1-d tensor per dim with as_tuple."""
    coords = _nonzero(input.detach())
    if not as_tuple:
        return coords
    if input.ndim == 0:
        return (_nonzero(input.detach().reshape(1))[:, 0],)
    return tuple(coords[:, d] for d in range(input.ndim))


def argwhere(input: Tensor) -> Tensor:  # noqa: A002
    return nonzero(input)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """F.one_hot: int64 index tensor -> index.shape + (num_classes,) int64; -1 infers max + 1."""
    if tensor.dtype is not D.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    values = _host_values(tensor)
    if num_classes == -1:
        if values.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(values.max()) + 1
    if values.size:
        if values.min() < 0:
            raise RuntimeError("Class values must be non-negative.")
        if values.max() >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    if _cpu(tensor):
        return Tensor._wrap(K.one_hot_ref(_h(tensor), num_classes))
    out = Tensor._empty(tensor._shape + (num_classes,), D.int64, tensor.device)
    K.one_hot(out._dev(), tensor._dev(), num_classes)
    return out


# ================================================================ advanced indexing
class Index(Function):
    """x[indices] (aten::index): indices[d] is an integer tensor for dim d or None (a full slice)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, indices: tuple) -> Tensor:
        ctx.shape, ctx.indices = x._shape, indices
        if _cpu(x):
            return Tensor._wrap(np.asarray(K.index_ref(_h(x), [None if i is None else _h(i) for i in indices])))
        shape = K.index_result_shape(x._shape, [None if i is None else i._shape for i in indices])
        out = Tensor._empty(shape, x.dtype, x.device)
        K.index(out._dev(), x._dev(), [None if i is None else i._dev() for i in indices])
        return out

    @staticmethod
    def backward(ctx, grad):
        return IndexBackward.apply(grad, ctx.shape, ctx.indices), None


class IndexBackward(Function):
    """zeros(shape).index_put(indices, grad, accumulate=True): the adjoint of Index."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, grad: Tensor, shape: tuple, indices: tuple) -> Tensor:
        ctx.indices = indices
        if _cpu(grad):
            return Tensor._wrap(K.index_backward_ref(_h(grad), shape, [None if i is None else _h(i)
                                                                        for i in indices])[0])
        out = Tensor._empty(shape, grad.dtype, grad.device)
        K.index_backward(out._dev(), grad._dev(), [None if i is None else i._dev() for i in indices], _acc(out))
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
            _index_put_into(region, indices, 0, False)
        return out

    @staticmethod
    def backward(ctx, grad):
        return MaskOut.apply(grad, ctx.key, ctx.indices), None, None


def _value_grad(grad: Tensor, shape: tuple, dtype: D.dtype) -> Tensor:
    g = sum_to(grad, shape)
    return g.to(dtype) if g.dtype is not dtype else g


class IndexPut(Function):
    """x.index_put(indices, values, accumulate) out of place; values is a tensor or None (then `scalar`)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, values: Tensor | None, indices: tuple, accumulate: bool, scalar) -> Tensor:
        ctx.indices, ctx.accumulate = indices, accumulate
        ctx.values_meta = None if values is None else (values._shape, values.dtype)
        out = _contiguous_copy(x)
        _index_put_into(out, indices, scalar if values is None else values, accumulate)
        return out

    @staticmethod
    def backward(ctx, grad):
        need_x, need_v = ctx.needs_input_grad[:2]
        grad_x = grad_v = None
        if need_x:
            grad_x = grad if ctx.accumulate else MaskOut.apply(grad, None, ctx.indices)
        if need_v:
            grad_v = _value_grad(Index.apply(grad, ctx.indices), *ctx.values_meta)
        return grad_x, grad_v, None, None, None


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


def _sequence_as_tuple(key: list) -> bool:
    """PyTorch (like old NumPy) reads a short list holding sequences, tensors, slices, None or ... as a tuple."""
    if len(key) >= 32:
        return False
    return any(isinstance(k, (Tensor, list, tuple, np.ndarray, slice)) or k is None or k is Ellipsis for k in key)


def _index_tensor(k, device) -> Tensor:
    from ..creation import tensor

    arr = np.asarray(k.detach().cpu()._host() if isinstance(k, Tensor) else k)
    if arr.size == 0 and arr.dtype.kind not in "bu":
        arr = arr.astype(np.int64)
    if arr.dtype.kind == "i" or arr.dtype.kind == "u" and arr.dtype != np.uint8:
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "biu":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return tensor(arr, device=device)


def _parse_key(x: Tensor, key) -> tuple[tuple, tuple | None]:
    """(basic key over x's dims for views._index_geometry, advanced indices over the resulting view's dims or
    None). Ints select (removing their dim, as PyTorch does), slices/None/... are views; integer tensors
    index, bool tensors are turned into index tensors with nonzero."""
    if isinstance(key, list) and _sequence_as_tuple(key):
        key = tuple(key)
    if not isinstance(key, tuple):
        key = (key,)
    items = []
    consumed = 0
    for k in key:
        if k is None or k is Ellipsis or isinstance(k, slice):
            consumed += isinstance(k, slice)
            items.append(k)
            continue
        if isinstance(k, (bool, np.bool_)):
            items.append(bool(k))
            continue
        if isinstance(k, (int, np.integer)):
            consumed += 1
            items.append(int(k))
            continue
        if not isinstance(k, Tensor):
            if isinstance(k, (list, tuple, np.ndarray)):
                k = _index_tensor(k, x.device)
            elif hasattr(k, "__index__"):
                consumed += 1
                items.append(k.__index__())
                continue
            else:
                raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
                                 f"valid indices (got {type(k).__name__})")
        if k.dtype in (D.bool, D.uint8):
            if k.ndim == 0:
                items.append(bool(k.item()))
                continue
            consumed += k.ndim
        elif k.dtype.is_floating_point:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        else:
            consumed += 1
        items.append(k)
    if consumed > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
    if sum(1 for k in items if k is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")

    full: list = []
    adv: list = []
    d = 0
    for k in items:
        if k is Ellipsis:
            n = x.ndim - consumed
            full += [slice(None)] * n
            adv += [None] * n
            d += n
        elif k is None:
            full.append(None)
            adv.append(None)
        elif isinstance(k, bool):
            # x[True] adds a dim of size 1, x[False] one of size 0 (an empty index into that new dim).
            full.append(None)
            adv.append(None if k else Tensor._wrap(np.zeros((0,), np.int64)).to(x.device))
        elif isinstance(k, int):
            full.append(k)
            d += 1
        elif isinstance(k, slice):
            full.append(k)
            adv.append(None)
            d += 1
        elif k.dtype in (D.bool, D.uint8):
            for i, n in enumerate(k._shape):
                if n != x._shape[d + i]:
                    raise IndexError(f"The shape of the mask {list(k._shape)} at index {i} does not match the shape of "
                                     f"the indexed tensor {list(x._shape)} at index {d + i}")
            coords = _nonzero(k.to(x.device))
            full += [slice(None)] * k.ndim
            adv += [V.make_view(coords, (coords._shape[0],), (coords.stride()[0],), coords._offset + i)
                    for i in range(k.ndim)]
            d += k.ndim
        else:
            full.append(slice(None))
            adv.append(k.to(x.device) if k.device != x.device else k)
            d += 1
    full += [slice(None)] * (x.ndim - d)
    adv += [None] * (x.ndim - d)
    if all(a is None for a in adv):
        return tuple(full), None
    view_shape = V._index_geometry(x, tuple(full))[0]
    shapes = [a._shape for a in adv if a is not None]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise IndexError("shape mismatch: indexing tensors could not be broadcast together with shapes "
                         + ", ".join(str(list(s)) for s in shapes)) from None
    for j, a in enumerate(adv):
        if a is not None and a.dtype not in (D.bool, D.uint8):
            _check_bounds(a, view_shape[j], j, allow_negative=True)
    while adv and adv[-1] is None:
        adv.pop()
    return tuple(full), tuple(adv)


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
        rows = _nonzero(V.reshape(mask.to(self.device), (-1,)))
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
    from ..creation import tensor

    return tensor(value, dtype=self.dtype, device=self.device), 0


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
    check_inplace(self)
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
                               f"{_name(input.dtype)} for the destination and {_name(values_t.dtype)} for the source.")
        if adv is not None:
            shape = K.index_result_shape(input._shape, [None if i is None else i._shape for i in adv])
            values_t = _fit_value(values_t, shape)
    if adv is None:  # no index tensors: the whole tensor is assigned (or added to)
        from .copy import clone

        if accumulate:
            return input + (scalar if values_t is None else values_t)
        out = clone(input)
        setitem(out, Ellipsis, scalar if values_t is None else values_t)
        return out
    return IndexPut.apply(input, values_t, adv, bool(accumulate), scalar)


# ================================================================ in-place forms and registration
def _inplace(fn):
    from .elementwise import inplace

    def method(self: Tensor, *args, **kwargs) -> Tensor:
        return inplace(fn, self, *args, **kwargs)

    method.__name__ = fn.__name__ + "_"
    return method


def _scatter_method(self: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce=None) -> Tensor:
    return scatter(self, dim, index, src, value=value, reduce=reduce)


def _index_add_method(self: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    return index_add(self, dim, index, source, alpha=alpha)


def _nonzero_method(self: Tensor, *, as_tuple: bool = False):
    return nonzero(self, as_tuple=as_tuple)


__all__ = ["argwhere", "gather", "index_add", "index_fill", "index_put", "index_select", "masked_fill",
           "masked_scatter", "masked_select", "nonzero", "one_hot", "scatter", "scatter_add", "take"]

METHODS: dict = {
    "__getitem__": getitem, "__setitem__": setitem,
    "gather": gather, "scatter": _scatter_method, "scatter_": _inplace(_scatter_method),
    "scatter_add": scatter_add, "scatter_add_": _inplace(scatter_add),
    "index_select": index_select, "index_add": _index_add_method, "index_add_": _inplace(_index_add_method),
    "index_fill": index_fill, "index_fill_": _inplace(index_fill),
    "index_put": index_put, "index_put_": _inplace(index_put),
    "masked_fill": masked_fill, "masked_fill_": _inplace(masked_fill),
    "masked_select": masked_select, "masked_scatter": masked_scatter, "masked_scatter_": _inplace(masked_scatter),
    "take": take, "nonzero": _nonzero_method, "argwhere": argwhere,
}
