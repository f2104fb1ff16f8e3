"""Reductions over kernels/reduction.py: sum, mean, prod, all/any, count_nonzero; and the machinery every
reduction family (statistics: var/std, norm, logsumexp; extrema: max/min, amax/amin, argmax/argmin;
scan and sort) builds on.

Every op views its input as (M, R) with the reduced dims last (`rows_view`) and runs the NumPy
reference on cpu or the one generic Triton reduction kernel on cuda (`run_reduction`). Backwards come
twice: a fused kernel (`backward_fused`, used when no graph is requested, `kernel_grad`) and a tensor-op
formula (`backward`, so create_graph=True gives higher derivatives). Where a gradient is `grad * W` with W
constant almost everywhere (amax ties, max indices, norm 1/inf), W is the fused kernel run on a gradient
of ones.
"""

from __future__ import annotations

import collections
import math

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..autograd.grad_mode import state
from ..device import CPU
from ..kernels import reduction as K
from ..kernels import reduction_split as KS
from ..kernels.device_array import DeviceArray
from ..kernels.strided import collapse
from ..tensor import Tensor, wrap_dim
from . import complex as _complex
from .copy import _contiguous_copy, to_copy
from .dispatch import scalar_tensor


# ================================================================ dims and (M, R) layouts
def normalize_dims(dim, ndim: int) -> tuple:
    """dim=None or () -> all dims; int or sequence -> sorted, wrapped, checked for repeats.

    A 0-d tensor accepts dim 0 / -1 (PyTorch does) and reduces over nothing: ().
    """
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    if type(dim) is int and -ndim <= dim < ndim:  # the everyday case, in range: nothing to sort or repeat
        return (dim % ndim,)
    if isinstance(dim, (int, np.integer)):
        dim = (int(dim),)
    dims = tuple(wrap_dim(d, ndim) for d in dim)
    seen = set()
    for d in dims:
        if d in seen:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        seen.add(d)
    return () if ndim == 0 else tuple(sorted(dims))


def _rows_layout(shape: tuple, strides: tuple, dims: tuple) -> tuple | None:
    """((M, R), (stride_m, stride_r)) viewing (shape, strides) with `dims` last, or None if a group of
    dims (the kept ones, the reduced ones) does not collapse to a single strided dim."""
    kept = tuple(d for d in range(len(shape)) if d not in dims)
    kept_shape = tuple(shape[d] for d in kept)
    red_shape = tuple(shape[d] for d in dims)
    M = int(np.prod(kept_shape, dtype=np.int64))
    R = int(np.prod(red_shape, dtype=np.int64))
    km, (ks,) = collapse(kept_shape, [tuple(strides[d] for d in kept)])
    rm, (rs,) = collapse(red_shape, [tuple(strides[d] for d in dims)])
    if len(km) > 1 or len(rm) > 1:
        return None
    return (M, R), (ks[0] if km else 0, rs[0] if rm else 0)


def rows_view(x: Tensor, dims: tuple) -> tuple[Tensor, object, tuple]:
    """x as an (M, R) DeviceArray with the reduced `dims` last (copying only if a group won't collapse).

    Returns (the tensor actually viewed, the (M, R) DeviceArray, the kept shape).
    """
    kept_shape = tuple(n for d, n in enumerate(x._shape) if d not in dims)
    layout = _rows_layout(x._shape, x.stride(), dims)
    if layout is not None:
        return x, x._dev().view_as(*layout), kept_shape
    order = tuple(d for d in range(x.ndim) if d not in dims) + tuple(dims)
    c = _contiguous_copy(x.detach().permute(order))
    M = int(np.prod(kept_shape, dtype=np.int64))
    R = c.numel() // M if M else int(np.prod([x._shape[d] for d in dims], dtype=np.int64))
    return c, c._dev().view_as((M, R), (R, 1)), kept_shape


def rows_output(shape: tuple, dtype: D.dtype, device, dims: tuple) -> tuple[Tensor, DeviceArray]:
    """A new tensor of `shape` and its (M, R) DeviceArray with `dims` last, for a kernel to write.

    Contiguous when that layout collapses to (M, R); otherwise the memory is laid out with `dims`
    last and the tensor returned is a permuted (non-contiguous) view of it.
    """
    out = Tensor._empty(shape, dtype, device)
    layout = _rows_layout(shape, out.stride(), dims)
    if layout is not None:
        return out, out._dev().view_as(*layout)
    order = tuple(d for d in range(len(shape)) if d not in dims) + tuple(dims)
    buf = Tensor._empty(tuple(shape[d] for d in order), dtype, device)
    buf_strides = buf.stride()
    strides = [0] * len(shape)
    for i, d in enumerate(order):
        strides[d] = buf_strides[i]
    view = Tensor._make(buf._get_storage(), tuple(shape), tuple(strides), 0, dtype, device)
    M = int(np.prod([shape[d] for d in order[: len(order) - len(dims)]], dtype=np.int64))
    R = int(np.prod([shape[d] for d in dims], dtype=np.int64))
    return view, buf._dev().view_as((M, R), (R, 1))


def vector(t: Tensor) -> DeviceArray:
    """t (any shape, n elements, row-major order) as an (n,) DeviceArray; copies only if t's strides
    don't collapse (a broadcast scalar does: stride 0)."""
    n = t.numel()
    shape, (st,) = collapse(t._shape, [t.stride()])
    if len(shape) <= 1:
        return t._dev().view_as((n,), (st[0] if shape else 1,))
    return _contiguous_copy(t)._dev().view_as((n,), (1,))


def reduced_shape(shape: tuple, dims: tuple, keepdim: bool) -> tuple:
    if keepdim:
        return tuple(1 if d in dims else n for d, n in enumerate(shape))
    return tuple(n for d, n in enumerate(shape) if d not in dims)


def sum_dtype(x_dtype: D.dtype, dtype: D.dtype | None) -> D.dtype:
    if dtype is not None:
        return dtype
    return D.int64 if not x_dtype.is_floating_point else x_dtype


def return_type(name: str):
    """A named tuple like torch.return_types.<name>: (values, indices)."""
    cls = collections.namedtuple(name, ["values", "indices"])
    cls.__module__ = "tritensor.return_types"
    cls.__repr__ = lambda self: (f"tritensor.return_types.{name}(\nvalues={self.values!r},\n"
                                 f"indices={self.indices!r})")
    return cls


def public_op(name: str):
    """A public op of another family, looked up when a graph-building backward needs it."""
    from . import api

    fn = getattr(api, name, None)
    if fn is None:
        raise NotImplementedError(f"this backward with create_graph=True needs tt.{name}, which is not available")
    return fn


# ================================================================ running kernels / references
def run_reduction(x: Tensor, dims: tuple, keepdim: bool, dtypes: tuple, ref, launch) -> tuple:
    """One reduction on either device: `ref(np_x)` -> array or tuple of arrays (keepdims already
    applied) on cpu; `launch(*outs (M,), rows (M, R), scratch=...)` on cuda, where scratch is the int64
    buffer the split path needs when the rows cannot fill the GPU (None when they can). Returns one
    output per dtype."""
    shape = reduced_shape(x._shape, dims, keepdim)
    if x.device.type == "cpu":
        r = ref(x._host())
        r = r if isinstance(r, tuple) else (r,)
        return tuple(Tensor._wrap(np.asarray(a).astype(dt.np, copy=False).reshape(shape)) for a, dt in zip(r, dtypes))
    _, rows, _ = rows_view(x, dims)
    M = rows.shape[0]
    outs = tuple(Tensor._empty(shape, dt, x.device) for dt in dtypes)
    n = KS.scratch_numel(rows)  # the partials of the split path (stream-ordered memory, freed after the launch)
    scratch = Tensor._empty((n,), D.int64, x.device)._dev() if n else None
    launch(*(o._dev().view_as((M,), (1,)) for o in outs), rows, scratch=scratch)
    return outs


def kernel_grad(like: tuple, dims: tuple, grad: Tensor, kernel, rows=(), vecs=(), **params) -> Tensor:
    """grad_x on cuda from a backward launch wrapper: kernel(grad_x (M, R), grad (M,), *rows, *vecs), where
    grad_x is a new tensor of like = (shape, dtype, device) and rows/vecs are tensors passed as (M, R)/(M,)."""
    gx, gx_rows = rows_output(*like, dims)
    views = [rows_view(t, dims) for t in rows]
    kernel(gx_rows, vector(grad), *(v[1] for v in views), *(vector(v) for v in vecs), **params)
    return gx


def meta(x: Tensor) -> tuple:
    return x._shape, x.dtype, x.device


def ones_like_result(shape: tuple, dtype: D.dtype, device) -> Tensor:
    return scalar_tensor(1.0, dtype, device).expand(shape)


def broadcast_view(grad: Tensor, shape: tuple, dims: tuple, keepdim: bool) -> Tensor:
    """expand_grad's view (no autograd): the reduced `grad` seen with `shape`, stride 0 along `dims`."""
    gst = grad.stride()
    stride, j = [], 0
    for d in range(len(shape)):
        if d in dims:
            stride.append(0)
            j += keepdim
        else:
            stride.append(gst[j])
            j += 1
    return grad._view(shape, tuple(stride), grad._offset)


def expand_grad(grad: Tensor, shape: tuple, dims: tuple, keepdim: bool) -> Tensor:
    if not keepdim:
        grad = grad.reshape(reduced_shape(shape, dims, True))
    return grad.expand(shape)


def numel_of(shape: tuple, dims: tuple) -> int:
    return int(np.prod([shape[d] for d in dims], dtype=np.int64))


def _check_nonempty(name: str, x: Tensor, dims: tuple, dim_given: bool) -> None:
    """PyTorch's errors for reductions without an identity (max, min, amax, argmax, ...)."""
    if not dim_given and x.numel() == 0:
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
                           "reduction dim with the 'dim' argument.")
    for d in dims:
        if x._shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def _float_only(name: str, x: Tensor, dtype: D.dtype | None = None) -> None:
    d = dtype or x.dtype
    if not d.is_floating_point:
        raise RuntimeError(f"{name}(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {torch_name(d)}")


def torch_name(d: D.dtype) -> str:
    return {"float16": "Half", "bfloat16": "BFloat16", "float32": "Float", "float64": "Double", "uint8": "Byte",
            "int8": "Char", "int16": "Short", "int32": "Int", "int64": "Long", "bool": "Bool"}[d.name]


def cast_input(x: Tensor, dtype: D.dtype | None) -> Tensor:
    """PyTorch's dtype= on reductions: the input is cast before the operation (differentiably)."""
    if dtype is None or dtype is x.dtype:
        return x
    return to_copy(x, dtype, x.device)


# ================================================================ sum / mean / prod
class Sum(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple, keepdim: bool, dtype: D.dtype) -> Tensor:
        ctx.shape, ctx.dims, ctx.keepdim = x._shape, dims, keepdim
        (out,) = run_reduction(x, dims, keepdim, (dtype,), lambda a: K.sum_ref(a, dims, keepdim, dtype.np),
                      lambda o, rows, scratch: K.sum(o, rows, scratch))
        return out

    @staticmethod
    def backward(ctx, grad):
        # An expanded view: exact and free, so sum needs no fused backward kernel.
        return expand_grad(grad, ctx.shape, ctx.dims, ctx.keepdim), None, None, None

    def backward_fused(self, grad):
        """`backward` without a graph: the same expanded view, made in one step instead of a reshape and an
        expand (every loss.backward() starts here)."""
        return broadcast_view(grad, self.shape, self.dims, self.keepdim), None, None, None


class Mean(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple, keepdim: bool) -> Tensor:
        ctx.shape, ctx.dims, ctx.keepdim = x._shape, dims, keepdim
        ctx.x_meta = (x.dtype, x.device)
        (out,) = run_reduction(x, dims, keepdim, (x.dtype,), lambda a: K.mean_ref(a, dims, keepdim),
                      lambda o, rows, scratch: K.mean(o, rows, scratch))
        return out

    @staticmethod
    def backward(ctx, grad):
        n = numel_of(ctx.shape, ctx.dims)
        g = expand_grad(grad, ctx.shape, ctx.dims, ctx.keepdim)
        return g * (1.0 / n if n else math.nan), None, None

    def backward_fused(self, grad):
        dtype, device = self.x_meta
        if device.type == "cpu":
            like = np.empty(self.shape, dtype.np)
            return Tensor._wrap(K.mean_backward_ref(grad._host(), like, self.dims, self.keepdim)[0]), None, None
        return kernel_grad((self.shape, dtype, device), self.dims, grad, K.mean_backward), None, None


class Prod(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple, keepdim: bool, dtype: D.dtype) -> Tensor:
        ctx.dims, ctx.keepdim = dims, keepdim
        (out,) = run_reduction(x, dims, keepdim, (dtype,), lambda a: K.prod_ref(a, dims, keepdim, dtype.np),
                      lambda o, rows, scratch: K.prod(o, rows, scratch))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        # grad * (product of the others), as exclusive cumulative products from both ends: exact with
        # zeros and free of division (PyTorch's prod_safe_zeros_backward).
        x, _ = ctx.saved_tensors
        g = expand_grad(grad, x._shape, ctx.dims, ctx.keepdim)
        if x.numel() == 0:
            return g, None, None, None
        if len(ctx.dims) == 1:
            d, flat = ctx.dims[0], x
        else:
            d, flat = 0, x.reshape(-1)
        cat, flip = public_op("cat"), public_op("flip")
        n = flat._shape[d]
        one = ones_like_result(tuple(1 if i == d else s for i, s in enumerate(flat._shape)), x.dtype, x.device)
        head = (slice(None),) * d + (slice(0, n - 1), Ellipsis)  # all but the last along d
        left = cat([one, flat[head]], d).cumprod(d)
        right = flip(cat([one, flip(flat, [d])[head]], d).cumprod(d), [d])
        return g * (left * right).reshape(x._shape), None, None, None

    def backward_fused(self, grad):
        x, y = self.saved_tensors
        if x.device.type == "cpu":
            gx = K.prod_backward_ref(grad._host(), x._host(), y._host(), self.dims, self.keepdim)[0]
            return Tensor._wrap(gx), None, None, None
        return kernel_grad(meta(x), self.dims, grad, K.prod_backward, rows=(x,), vecs=(y,)), None, None, None


# ================================================================ boolean / counting (no gradient)
def _logical(name: str, x: Tensor, dim, keepdim: bool) -> Tensor:
    dims = normalize_dims(dim, x.ndim)
    out_dtype = D.uint8 if x.dtype is D.uint8 else D.bool  # PyTorch keeps uint8 for all/any
    ref = K.all_ref if name == "all" else K.any_ref
    kernel = K.all if name == "all" else K.any
    (out,) = run_reduction(x.detach(), dims, keepdim, (out_dtype,), lambda a: ref(a, dims, keepdim), kernel)
    return out


# ================================================================ public API
_FLOAT32_64 = (D.float32, D.float64)


def _plain_host_float(x) -> bool:
    """x a cpu float32/float64 tensor whose reduction records no graph: sum and mean call their NumPy references
    directly (what the layers between add is for graphs, casts, complex and cuda)."""
    return type(x) is Tensor and x.device is CPU and x.dtype in _FLOAT32_64 and not (state.enabled and x._requires_grad)


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype: D.dtype | None = None) -> Tensor:  # noqa: A001
    """Sum over `dim` (all elements when None); integer and bool inputs sum in int64 unless `dtype` is given.

    Example:
        >>> x = tt.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> x.sum(dim=0)
        tensor([4., 6.])
    """
    dims = normalize_dims(dim, input.ndim)
    if dtype is None and _plain_host_float(input):
        return Tensor._wrap(K.sum_ref(input._host(), dims, keepdim))
    x = cast_input(input, dtype)
    if x.dtype.is_complex:
        return _complex.sum(x, dims, keepdim)
    return Sum.apply(x, dims, keepdim, sum_dtype(x.dtype, dtype))


def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype: D.dtype | None = None) -> Tensor:
    """Mean over `dim` (all elements when None); floating-point inputs only, as PyTorch."""
    dims = normalize_dims(dim, input.ndim)
    if dtype is None and _plain_host_float(input):
        return Tensor._wrap(K.mean_ref(input._host(), dims, keepdim))
    if (dtype or input.dtype).is_complex:
        return _complex.mean(cast_input(input, dtype), dims, keepdim)
    _float_only("mean", input, dtype)
    return Mean.apply(cast_input(input, dtype), dims, keepdim)


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype: D.dtype | None = None) -> Tensor:
    """Product over `dim` (all elements when None); integer and bool inputs multiply in int64."""
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__}")
    dims = normalize_dims(dim, input.ndim)
    x = cast_input(input, dtype)
    return Prod.apply(x, dims, keepdim and dim is not None, sum_dtype(x.dtype, dtype))


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True if every element (over `dim`, or all) is nonzero; a bool tensor."""
    return _logical("all", input, dim, keepdim)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True if any element (over `dim`, or all) is nonzero; a bool tensor."""
    return _logical("any", input, dim, keepdim)


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """The number of nonzero elements over `dim` (all when None), as int64."""
    dims = normalize_dims(dim, input.ndim)
    (out,) = run_reduction(input.detach(), dims, False, (D.int64,), lambda a: K.count_nonzero_ref(a, dims, False),
                  K.count_nonzero)
    return out


__all__ = ["sum", "mean", "prod", "all", "any", "count_nonzero"]
METHODS = {name: globals()[name] for name in __all__}
