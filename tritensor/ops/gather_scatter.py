"""gather, scatter, scatter_add and one_hot over kernels/gather_scatter.py.

gather is paired with its adjoint (a scatter-add into zeros) and scatter's gradients are a scatter of
zeros and a gather: the backward of one is the forward of the other, so backward is one fused kernel
and is itself differentiable. Out-of-range indices raise PyTorch's RuntimeError on both devices
(ops/index_core.py: on cuda through the device error word, without a host round trip).
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import gather_scatter as K
from ..tensor import Tensor, wrap_dim
from .dispatch import check_same_device
from .index_core import (
    acc_scratch,
    after_launch,
    check_host,
    device_check,
    dim_bounds,
    host,
    host_values,
    inplace_method,
    on_cpu,
)
from .shape import pad


def _bounds(x: Tensor, dim: int) -> list:
    """gather/scatter: indices in [0, x.size(dim)); PyTorch's cpu kernel raises RuntimeError."""
    return [dim_bounds(RuntimeError, (x._shape or (1,))[dim], dim)]


def _check_cpu_index(x: Tensor, dim: int, index: np.ndarray) -> None:
    """check_host's error for an index outside [0, x.size(dim)), after one pass when all are inside: an int64
    read as uint64 puts the negatives above every size, so its max alone says whether any is out."""
    if index.size and index.dtype == np.int64 and int(index.view(np.uint64).max()) < (x._shape or (1,))[dim]:
        return
    check_host([index], _bounds(x, dim))


class Gather(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Tensor) -> Tensor:
        ctx.shape, ctx.dim = x._shape, dim
        ctx.save_for_backward(index)
        if on_cpu(x):
            _check_cpu_index(x, dim, host(index))
            return Tensor._wrap(np.asarray(K.gather_ref(host(x), host(index), dim)).reshape(index._shape))
        out = Tensor._empty(index._shape, x.dtype, x.device)
        K.gather(out._dev(), x._dev(), index._dev(), dim, device_check(x.device, _bounds(x, dim)))
        after_launch(x.device)
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        return GatherBackward.apply(grad, ctx.shape, ctx.dim, index), None, None


class GatherBackward(Function):
    """zeros(shape).scatter_add(dim, index, grad): the adjoint of Gather (its indices are checked)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, grad: Tensor, shape: tuple, dim: int, index: Tensor) -> Tensor:
        ctx.dim, ctx.index = dim, index
        if on_cpu(grad):
            return Tensor._wrap(K.gather_backward_ref(host(grad), shape, host(index), dim)[0])
        out = Tensor._empty(shape, grad.dtype, grad.device)
        K.gather_backward(out._dev(), grad._dev(), index._dev(), dim, acc_scratch(out))
        return out

    @staticmethod
    def backward(ctx, grad):
        return Gather.apply(grad, ctx.dim, ctx.index), None, None, None


def _same_ndim(index: Tensor, other: Tensor, what: str) -> None:
    if max(index.ndim, 1) != max(other.ndim, 1):
        raise RuntimeError(f"Index tensor must have the same number of dimensions as {what} tensor")


def _check_dim_index(x: Tensor, dim: int, index: Tensor, op: str, src: Tensor | None = None) -> int:
    """PyTorch's shape and dtype checks of gather/scatter (the index values are checked by the kernels)."""
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
    return d


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:  # noqa: A002
    """Values of `input` along `dim` at `index`: `out[i][j] = input[index[i][j]][j]` for dim 0.

    `sparse_grad` is accepted for PyTorch compatibility; the gradient is dense.

    Example:
        >>> tt.gather(tt.tensor([[1, 2], [3, 4]]), 1, tt.tensor([[0, 0], [1, 0]]))
        tensor([[1, 1],
                [4, 3]])
    """
    d = _check_dim_index(input, dim, index, "gather")
    return Gather.apply(input, d, index)


def _pad_to(g: Tensor, shape: tuple) -> Tensor:
    """g zero-padded at the end of each dim up to `shape` (src larger than index gets zero grads)."""
    if g._shape == shape:
        return g
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
        if on_cpu(x):
            _check_cpu_index(x, dim, host(index))
            out = K.scatter_ref(host(x), host(index), value if src is None else host(src), dim, reduce)
            return Tensor._wrap(np.asarray(out))
        out = Tensor._empty(x._shape, x.dtype, x.device)
        K.scatter(out._dev(), x._dev(), index._dev(), value if src is None else src._dev(), dim, reduce,
                  acc_scratch(out) if reduce == "add" else None, device_check(x.device, _bounds(x, dim)))
        after_launch(x.device)
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
    """A copy of `input` with `src` added at `index` along `dim` (duplicates accumulate)."""
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add(): argument 'src' must be Tensor, not {type(src).__name__}")
    if src.dtype is not input.dtype:
        raise RuntimeError("scatter_add(): Expected self.dtype to be equal to src.dtype")
    check_same_device(input, src)
    d = _check_dim_index(input, dim, index, "scatter_add", src)
    return Scatter.apply(input, src, d, index, 0, "add")


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """F.one_hot: int64 index tensor -> index.shape + (num_classes,) int64; -1 infers max + 1."""
    if tensor.dtype is not D.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    values = host_values(tensor)
    if num_classes == -1:
        if values.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(values.max()) + 1
    if values.size:
        if values.min() < 0:
            raise RuntimeError("Class values must be non-negative.")
        if values.max() >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    if on_cpu(tensor):
        return Tensor._wrap(K.one_hot_ref(host(tensor), num_classes))
    out = Tensor._empty(tensor._shape + (num_classes,), D.int64, tensor.device)
    K.one_hot(out._dev(), tensor._dev(), num_classes)
    return out


def _scatter_method(self: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce=None) -> Tensor:
    """A copy of self with `src` (or `value`) written at `index` along `dim` (`reduce` as PyTorch)."""
    return scatter(self, dim, index, src, value=value, reduce=reduce)


__all__ = ["gather", "one_hot", "scatter", "scatter_add"]

METHODS: dict = {
    "gather": gather, "scatter": _scatter_method, "scatter_": inplace_method(_scatter_method),
    "scatter_add": scatter_add, "scatter_add_": inplace_method(scatter_add),
}
