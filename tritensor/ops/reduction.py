"""Reductions over kernels/reduction.py: sum, mean, prod, max/min, amax/amin, argmax/argmin, var/std
(+ var_mean/std_mean), norm, logsumexp, all/any, count_nonzero.

Every op views its input as (M, R) with the reduced dims last (`rows_view`) and runs the NumPy
reference on cpu or the one generic Triton reduction kernel on cuda. Backwards come twice: a fused
kernel (`backward_fused`, used when no graph is requested) and a tensor-op formula (`backward`, so
create_graph=True gives higher derivatives). Where a gradient is `grad * W` with W constant almost
everywhere (amax ties, max indices, norm 1/inf), W is the fused kernel run on a gradient of ones.
"""

from __future__ import annotations

import builtins
import collections
import math

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..creation import ones_like, zeros_like
from ..kernels import reduction as K
from ..kernels.device_array import DeviceArray
from ..kernels.strided import collapse
from ..tensor import Tensor, wrap_dim
from .copy import _contiguous_copy, to_copy
from .dispatch import scalar_tensor


# ---------------------------------------------------------------- dims and (M, R) layouts
def normalize_dims(dim, ndim: int) -> tuple:
    """dim=None or () -> all dims; int or sequence -> sorted, wrapped, checked for repeats.

    A 0-d tensor accepts dim 0 / -1 (PyTorch does) and reduces over nothing: ().
    """
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
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


def _return_type(name: str):
    """A named tuple like torch.return_types.<name>: (values, indices)."""
    cls = collections.namedtuple(name, ["values", "indices"])
    cls.__module__ = "tritensor.return_types"
    cls.__repr__ = lambda self: (f"tritensor.return_types.{name}(\nvalues={self.values!r},\n"
                                 f"indices={self.indices!r})")
    return cls


max_return, min_return = _return_type("max"), _return_type("min")


def _op(name: str):
    """A public op of another family, looked up when a graph-building backward needs it."""
    from . import api

    fn = getattr(api, name, None)
    if fn is None:
        raise NotImplementedError(f"this backward with create_graph=True needs tt.{name}, which is not available")
    return fn


# ---------------------------------------------------------------- running kernels / references
def _run(x: Tensor, dims: tuple, keepdim: bool, dtypes: tuple, ref, launch) -> tuple:
    """One reduction on either device: `ref(np_x)` -> array or tuple of arrays (keepdims already
    applied) on cpu; `launch(*outs (M,), rows (M, R))` on cuda. Returns one output per dtype."""
    shape = reduced_shape(x._shape, dims, keepdim)
    if x.device.type == "cpu":
        r = ref(x._host())
        r = r if isinstance(r, tuple) else (r,)
        return tuple(Tensor._wrap(np.asarray(a).astype(dt.np, copy=False).reshape(shape)) for a, dt in zip(r, dtypes))
    _, rows, _ = rows_view(x, dims)
    M = rows.shape[0]
    outs = tuple(Tensor._empty(shape, dt, x.device) for dt in dtypes)
    launch(*(o._dev().view_as((M,), (1,)) for o in outs), rows)
    return outs


def _kernel_grad(like: tuple, dims: tuple, grad: Tensor, kernel, rows=(), vecs=(), **params) -> Tensor:
    """grad_x on cuda from a backward launch wrapper: kernel(grad_x (M, R), grad (M,), *rows, *vecs), where
    grad_x is a new tensor of like = (shape, dtype, device) and rows/vecs are tensors passed as (M, R)/(M,)."""
    gx, gx_rows = rows_output(*like, dims)
    views = [rows_view(t, dims) for t in rows]
    kernel(gx_rows, vector(grad), *(v[1] for v in views), *(vector(v) for v in vecs), **params)
    return gx


def _meta(x: Tensor) -> tuple:
    return x._shape, x.dtype, x.device


def _ones_like_result(shape: tuple, dtype: D.dtype, device) -> Tensor:
    return scalar_tensor(1.0, dtype, device).expand(shape)


def _expand_grad(grad: Tensor, shape: tuple, dims: tuple, keepdim: bool) -> Tensor:
    if not keepdim:
        grad = grad.reshape(reduced_shape(shape, dims, True))
    return grad.expand(shape)


def _numel(shape: tuple, dims: tuple) -> int:
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
                           f"complex dtype. Got: {_torch_name(d)}")


def _torch_name(d: D.dtype) -> str:
    return {"float16": "Half", "bfloat16": "BFloat16", "float32": "Float", "float64": "Double", "uint8": "Byte",
            "int8": "Char", "int16": "Short", "int32": "Int", "int64": "Long", "bool": "Bool"}[d.name]


# ---------------------------------------------------------------- sum / mean / prod
class Sum(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple, keepdim: bool, dtype: D.dtype) -> Tensor:
        ctx.shape, ctx.dims, ctx.keepdim = x._shape, dims, keepdim
        (out,) = _run(x, dims, keepdim, (dtype,), lambda a: K.sum_ref(a, dims, keepdim, dtype.np),
                      lambda o, rows: K.sum(o, rows))
        return out

    @staticmethod
    def backward(ctx, grad):
        # An expanded view: exact and free, so sum needs no fused backward kernel.
        return _expand_grad(grad, ctx.shape, ctx.dims, ctx.keepdim), None, None, None


class Mean(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple, keepdim: bool) -> Tensor:
        ctx.shape, ctx.dims, ctx.keepdim = x._shape, dims, keepdim
        ctx.x_meta = (x.dtype, x.device)
        (out,) = _run(x, dims, keepdim, (x.dtype,), lambda a: K.mean_ref(a, dims, keepdim),
                      lambda o, rows: K.mean(o, rows))
        return out

    @staticmethod
    def backward(ctx, grad):
        n = _numel(ctx.shape, ctx.dims)
        g = _expand_grad(grad, ctx.shape, ctx.dims, ctx.keepdim)
        return g * (1.0 / n if n else math.nan), None, None

    def backward_fused(self, grad):
        dtype, device = self.x_meta
        if device.type == "cpu":
            like = np.empty(self.shape, dtype.np)
            return Tensor._wrap(K.mean_backward_ref(grad._host(), like, self.dims, self.keepdim)[0]), None, None
        return _kernel_grad((self.shape, dtype, device), self.dims, grad, K.mean_backward), None, None


class Prod(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple, keepdim: bool, dtype: D.dtype) -> Tensor:
        ctx.dims, ctx.keepdim = dims, keepdim
        (out,) = _run(x, dims, keepdim, (dtype,), lambda a: K.prod_ref(a, dims, keepdim, dtype.np),
                      lambda o, rows: K.prod(o, rows))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        # grad * (product of the others), as exclusive cumulative products from both ends: exact with
        # zeros and free of division (PyTorch's prod_safe_zeros_backward).
        x, _ = ctx.saved_tensors
        g = _expand_grad(grad, x._shape, ctx.dims, ctx.keepdim)
        if x.numel() == 0:
            return g, None, None, None
        if len(ctx.dims) == 1:
            d, flat = ctx.dims[0], x
        else:
            d, flat = 0, x.reshape(-1)
        cat, flip = _op("cat"), _op("flip")
        n = flat._shape[d]
        one = _ones_like_result(tuple(1 if i == d else s for i, s in enumerate(flat._shape)), x.dtype, x.device)
        head = (slice(None),) * d + (slice(0, n - 1), Ellipsis)  # all but the last along d
        left = cat([one, flat[head]], d).cumprod(d)
        right = flip(cat([one, flip(flat, [d])[head]], d).cumprod(d), [d])
        return g * (left * right).reshape(x._shape), None, None, None

    def backward_fused(self, grad):
        x, y = self.saved_tensors
        if x.device.type == "cpu":
            gx = K.prod_backward_ref(grad._host(), x._host(), y._host(), self.dims, self.keepdim)[0]
            return Tensor._wrap(gx), None, None, None
        return _kernel_grad(_meta(x), self.dims, grad, K.prod_backward, rows=(x,), vecs=(y,)), None, None, None


# ---------------------------------------------------------------- extrema
class Amax(Function):
    """amax/amin (and max()/min() without dim): the gradient is split evenly among ties."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple, keepdim: bool, is_max: bool) -> Tensor:
        ctx.dims, ctx.keepdim, ctx.is_max = dims, keepdim, is_max
        ref = K.amax_ref if is_max else K.amin_ref
        kernel = K.amax if is_max else K.amin
        (out,) = _run(x, dims, keepdim, (x.dtype,), lambda a: ref(a, dims, keepdim), kernel)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        weights = Amax._grad(ctx, _ones_like_result(y._shape, grad.dtype, grad.device), x.detach(), y.detach())
        return _expand_grad(grad, x._shape, ctx.dims, ctx.keepdim) * weights, None, None, None

    def backward_fused(self, grad):
        x, y = self.saved_tensors
        return Amax._grad(self, grad, x, y), None, None, None

    @staticmethod
    def _grad(ctx, grad: Tensor, x: Tensor, y: Tensor) -> Tensor:
        if x.device.type == "cpu":
            return Tensor._wrap(K.amax_backward_ref(grad._host(), x._host(), y._host(), ctx.dims, ctx.keepdim)[0])
        return _kernel_grad(_meta(x), ctx.dims, grad, K.amax_backward, rows=(x,), vecs=(y,))


class MaxDim(Function):
    """max/min along one dim: (values, int64 indices); the whole gradient goes to the index."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, d: int, keepdim: bool, is_max: bool) -> tuple[Tensor, Tensor]:
        ctx.dims, ctx.keepdim = (d,) if x.ndim else (), keepdim
        ref = K.max_ref if is_max else K.min_ref
        kernel = K.max if is_max else K.min
        values, indices = _run(x, ctx.dims, keepdim, (x.dtype, D.int64),
                               lambda a: ref(a.reshape(-1) if a.ndim == 0 else a, d, keepdim), kernel)
        ctx.mark_non_differentiable(indices)
        ctx.save_for_backward(x, indices)
        return values, indices

    @staticmethod
    def backward(ctx, grad, grad_indices=None):
        x, indices = ctx.saved_tensors
        ones = _ones_like_result(indices._shape, grad.dtype, grad.device)
        one_hot = MaxDim._grad(ctx, ones, x.detach(), indices.detach())
        return _expand_grad(grad, x._shape, ctx.dims, ctx.keepdim) * one_hot, None, None, None

    def backward_fused(self, grad, grad_indices=None):
        x, indices = self.saved_tensors
        return MaxDim._grad(self, grad, x, indices), None, None, None

    @staticmethod
    def _grad(ctx, grad: Tensor, x: Tensor, indices: Tensor) -> Tensor:
        if x.device.type == "cpu":
            if x.ndim == 0:
                return Tensor._wrap(np.asarray(grad._host(), x.dtype.np).copy())
            return Tensor._wrap(K.max_backward_ref(grad._host(), x._host(), indices._host(), ctx.dims[0],
                                                   ctx.keepdim)[0])
        return _kernel_grad(_meta(x), ctx.dims, grad, K.max_backward, vecs=(indices,))


def _argext(name: str, x: Tensor, dim, keepdim: bool) -> Tensor:
    if x.dtype is D.bool:
        raise RuntimeError(f'"{name}_{x.device.type}" not implemented for \'Bool\'')
    is_max = name == "argmax"
    x = x.detach()
    if dim is None:
        _check_nonempty(name, x, (), False)
        flat = x.reshape(-1)
        dims, d = (0,), 0
    else:
        d = wrap_dim(dim, x.ndim)
        dims = (d,) if x.ndim else ()
        _check_nonempty(name, x, dims, True)
        flat = x
    ref = K.argmax_ref if is_max else K.argmin_ref
    kernel = K.argmax if is_max else K.argmin
    (out,) = _run(flat, dims, keepdim and dim is not None, (D.int64,),
                  lambda a: ref(a.reshape(-1) if a.ndim == 0 else a, d, keepdim and dim is not None), kernel)
    if dim is None and keepdim:
        out = out.reshape((1,) * x.ndim)
    return out


# ---------------------------------------------------------------- var / std
class VarStd(Function):
    """var or std with a correction; with_mean adds the mean as a second output (var_mean/std_mean)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple, keepdim: bool, correction: float, is_std: bool, with_mean: bool):
        ctx.dims, ctx.keepdim, ctx.correction, ctx.is_std, ctx.with_mean = dims, keepdim, correction, is_std, with_mean
        dtypes = (x.dtype, x.dtype) if with_mean else (x.dtype,)
        ref = K.std_ref if is_std else K.var_ref
        kernel = K.std if is_std else K.var

        def reference(a):
            r = ref(a, dims, correction, keepdim)
            return (r, K.mean_ref(a, dims, keepdim)) if with_mean else r

        def launch(out, *rest):
            rows = rest[-1]
            kernel(out, rows, correction, rest[0] if with_mean else None)

        outs = _run(x, dims, keepdim, dtypes, reference, launch)
        ctx.save_for_backward(x, outs[0])
        return outs if with_mean else outs[0]

    @staticmethod
    def backward(ctx, grad, grad_mean=None):
        x, y = ctx.saved_tensors
        n = _numel(x._shape, ctx.dims)
        divisor = builtins.max(n - ctx.correction, 0)
        g = grad
        if ctx.is_std:
            # d std = d var / (2 std); a zero std gives a zero gradient, as PyTorch masks it (the
            # denominator is made safe first so the masked branch has no 0/0 in its own gradient).
            where, div, eq = _op("where"), _op("div"), _op("eq")
            zero = eq(y, 0)
            g = where(zero, zeros_like(grad), div(grad, where(zero, ones_like(y), y) * 2.0))
        dev = x - x.mean(ctx.dims, keepdim=True)
        scale = 2.0 / divisor if divisor else math.inf
        gx = _expand_grad(g, x._shape, ctx.dims, ctx.keepdim) * dev * scale
        if grad_mean is not None:
            gx = gx + _expand_grad(grad_mean, x._shape, ctx.dims, ctx.keepdim) * (1.0 / n if n else math.nan)
        return gx, None, None, None, None, None

    def backward_fused(self, grad, grad_mean=None):
        x, y = self.saved_tensors
        dims, keepdim, c = self.dims, self.keepdim, self.correction
        if x.device.type == "cpu":
            h = x._host()
            if self.is_std:
                gx = K.std_backward_ref(grad._host(), h, y._host(), dims, c, keepdim)[0]
            else:
                gx = K.var_backward_ref(grad._host(), h, dims, c, keepdim)[0]
            if grad_mean is not None:
                gx = gx + K.mean_backward_ref(grad_mean._host(), h, dims, keepdim)[0]
            return Tensor._wrap(np.asarray(gx, x.dtype.np)), None, None, None, None, None
        if self.is_std:
            gx = _kernel_grad(_meta(x), dims, grad, K.std_backward, rows=(x,), vecs=(y,), correction=c)
        else:
            gx = _kernel_grad(_meta(x), dims, grad, K.var_backward, rows=(x,), correction=c)
        if grad_mean is not None:
            gx = gx + _kernel_grad(_meta(x), dims, grad_mean, K.mean_backward)
        return gx, None, None, None, None, None


# ---------------------------------------------------------------- norm / logsumexp
class Norm(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, p: float, dims: tuple, keepdim: bool) -> Tensor:
        ctx.p, ctx.dims, ctx.keepdim = p, dims, keepdim
        (out,) = _run(x, dims, keepdim, (x.dtype,), lambda a: K.norm_ref(a, p, dims, keepdim),
                      lambda o, rows: K.norm(o, rows, p))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        p = ctx.p
        g = _expand_grad(grad, x._shape, ctx.dims, ctx.keepdim)
        if p == 0 or p == 1 or math.isinf(p):
            # sign(x) (and the tie split for inf) is constant almost everywhere.
            weights = Norm._grad(ctx, _ones_like_result(y._shape, grad.dtype, grad.device), x.detach(), y.detach())
            return g * weights, None, None, None
        where, div, eq = _op("where"), _op("div"), _op("eq")
        ye = _expand_grad(y, x._shape, ctx.dims, ctx.keepdim)
        y_zero = eq(ye, 0)
        safe_y = where(y_zero, ones_like(ye), ye)
        if p == 2:
            return where(y_zero, zeros_like(g), div(g * x, safe_y)), None, None, None
        # sign(x) * (|x| / norm)^(p-1), zero where x == 0 or norm == 0 (PyTorch's masks).
        x_zero = eq(x, 0)
        ratio = where(x_zero, ones_like(x), div(_op("abs")(x), safe_y))
        gx = g * _op("sign")(x) * _op("pow")(ratio, p - 1)
        return where(_op("logical_or")(x_zero, y_zero), zeros_like(gx), gx), None, None, None

    def backward_fused(self, grad):
        x, y = self.saved_tensors
        return Norm._grad(self, grad, x, y), None, None, None

    @staticmethod
    def _grad(ctx, grad: Tensor, x: Tensor, y: Tensor) -> Tensor:
        if x.device.type == "cpu":
            return Tensor._wrap(K.norm_backward_ref(grad._host(), x._host(), y._host(), ctx.p, ctx.dims,
                                                    ctx.keepdim)[0])
        return _kernel_grad(_meta(x), ctx.dims, grad, K.norm_backward, rows=(x,), vecs=(y,), p=ctx.p)


class LogSumExp(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple, keepdim: bool) -> Tensor:
        ctx.dims, ctx.keepdim = dims, keepdim
        (out,) = _run(x, dims, keepdim, (x.dtype,), lambda a: K.logsumexp_ref(a, dims, keepdim), K.logsumexp)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        g = _expand_grad(grad, x._shape, ctx.dims, ctx.keepdim)
        return g * ExpShift.apply(x, y, ctx.dims, ctx.keepdim), None, None

    def backward_fused(self, grad):
        x, y = self.saved_tensors
        return _lse_grad(grad, x, y, self.dims, self.keepdim), None, None


def _lse_grad(grad: Tensor, x: Tensor, y: Tensor, dims: tuple, keepdim: bool) -> Tensor:
    if x.device.type == "cpu":
        return Tensor._wrap(K.logsumexp_backward_ref(grad._host(), x._host(), y._host(), dims, keepdim)[0])
    return _kernel_grad(_meta(x), dims, grad, K.logsumexp_backward, rows=(x,), vecs=(y,))


class ExpShift(Function):
    """exp(x - y) with y (a logsumexp over `dims`) broadcast back: logsumexp's gradient weights (the
    softmax), as a differentiable op of its own so logsumexp has derivatives of every order."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, y: Tensor, dims: tuple, keepdim: bool) -> Tensor:
        ctx.dims, ctx.keepdim = dims, keepdim
        out = _lse_grad(_ones_like_result(y._shape, x.dtype, x.device), x, y, dims, keepdim)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (e,) = ctx.saved_tensors
        ge = grad * e
        return ge, -ge.sum(ctx.dims, keepdim=ctx.keepdim), None, None


# ---------------------------------------------------------------- boolean / counting (no gradient)
def _logical(name: str, x: Tensor, dim, keepdim: bool) -> Tensor:
    dims = normalize_dims(dim, x.ndim)
    out_dtype = D.uint8 if x.dtype is D.uint8 else D.bool  # PyTorch keeps uint8 for all/any
    ref = K.all_ref if name == "all" else K.any_ref
    kernel = K.all if name == "all" else K.any
    (out,) = _run(x.detach(), dims, keepdim, (out_dtype,), lambda a: ref(a, dims, keepdim), kernel)
    return out


# ---------------------------------------------------------------- public API
def _cast_input(x: Tensor, dtype: D.dtype | None) -> Tensor:
    """PyTorch's dtype= on reductions: the input is cast before the operation (differentiably)."""
    if dtype is None or dtype is x.dtype:
        return x
    return to_copy(x, dtype, x.device)


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype: D.dtype | None = None) -> Tensor:  # noqa: A001
    dims = normalize_dims(dim, input.ndim)
    x = _cast_input(input, dtype)
    return Sum.apply(x, dims, keepdim, sum_dtype(x.dtype, dtype))


def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype: D.dtype | None = None) -> Tensor:
    _float_only("mean", input, dtype)
    dims = normalize_dims(dim, input.ndim)
    return Mean.apply(_cast_input(input, dtype), dims, keepdim)


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype: D.dtype | None = None) -> Tensor:
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__}")
    dims = normalize_dims(dim, input.ndim)
    x = _cast_input(input, dtype)
    return Prod.apply(x, dims, keepdim and dim is not None, sum_dtype(x.dtype, dtype))


def _extremum(name: str, input: Tensor, dim, keepdim: bool):
    if isinstance(dim, Tensor):
        return _op("maximum" if name == "max" else "minimum")(input, dim)
    is_max = name == "max"
    if dim is None:
        _check_nonempty(name, input, (), False)
        return Amax.apply(input, tuple(range(input.ndim)), False, is_max)
    d = wrap_dim(dim, input.ndim)
    _check_nonempty(name, input, (d,) if input.ndim else (), True)
    values, indices = MaxDim.apply(input, d, keepdim, is_max)
    return (max_return if is_max else min_return)(values, indices)


def max(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """max(x) -> value; max(x, dim, keepdim) -> (values, indices); max(x, other) -> tt.maximum."""
    return _extremum("max", input, dim, keepdim)


def min(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    return _extremum("min", input, dim, keepdim)


def _amax(name: str, input: Tensor, dim, keepdim: bool) -> Tensor:
    dims = normalize_dims(dim, input.ndim)
    _check_nonempty(name, input, dims, dim is not None and dim != () and dim != [])
    return Amax.apply(input, dims, keepdim, name == "amax")


def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    return _amax("amax", input, dim, keepdim)


def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    return _amax("amin", input, dim, keepdim)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _argext("argmax", input, dim, keepdim)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _argext("argmin", input, dim, keepdim)


def _correction(unbiased, correction) -> float:
    if unbiased is not None and correction is not None:
        raise RuntimeError("Cannot specify both unbiased and correction")
    if correction is not None:
        return float(correction)
    return 1.0 if unbiased is None or unbiased else 0.0


def _var_std(name: str, input: Tensor, dim, unbiased, keepdim: bool, correction, is_std: bool, with_mean: bool):
    if isinstance(dim, bool):  # var(x, unbiased)
        dim, unbiased = None, dim
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"{name}(): std and var only support floating point and complex dtypes, got "
                           f"{_torch_name(input.dtype)}")
    dims = normalize_dims(dim, input.ndim)
    return VarStd.apply(input, dims, keepdim, _correction(unbiased, correction), is_std, with_mean)


def var(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None) -> Tensor:
    return _var_std("var", input, dim, unbiased, keepdim, correction, False, False)


def std(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None) -> Tensor:
    return _var_std("std", input, dim, unbiased, keepdim, correction, True, False)


def var_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction=None) -> tuple[Tensor, Tensor]:
    return _var_std("var_mean", input, dim, unbiased, keepdim, correction, False, True)


def std_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction=None) -> tuple[Tensor, Tensor]:
    return _var_std("std_mean", input, dim, unbiased, keepdim, correction, True, True)


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, out=None, dtype: D.dtype | None = None) -> Tensor:
    """torch.norm: the vector p-norm over `dim` (all dims by default); 'fro' is the 2-norm."""
    if isinstance(p, str):
        if p != "fro":
            raise NotImplementedError(f"norm(p={p!r}) is a matrix norm that needs an SVD, which tritensor lacks")
        if dim is not None and not isinstance(dim, (int, np.integer)) and len(dim) > 2:
            raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {tuple(dim)}")
        p = 2.0
    p = 2.0 if p is None else float(p)
    if not (dtype or input.dtype).is_floating_point:
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{_torch_name(dtype or input.dtype)}")
    dims = normalize_dims(dim, input.ndim)
    if (p < 0 or math.isinf(p)) and _numel(input._shape, dims) == 0 and input.numel() == 0:
        raise RuntimeError(f"linalg.vector_norm cannot compute the {p:g} norm on an empty tensor because the operation "
                           "does not have an identity")
    result = Norm.apply(_cast_input(input, dtype), p, dims, keepdim)
    if out is not None:
        from .elementwise import _into

        return _into(out, result)
    return result


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    dims = normalize_dims(dim, input.ndim)
    x = input if input.dtype.is_floating_point else to_copy(input, D.get_default_dtype(), input.device)
    return LogSumExp.apply(x, dims, keepdim)


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    return _logical("all", input, dim, keepdim)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    return _logical("any", input, dim, keepdim)


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    dims = normalize_dims(dim, input.ndim)
    (out,) = _run(input.detach(), dims, False, (D.int64,), lambda a: K.count_nonzero_ref(a, dims, False),
                  K.count_nonzero)
    return out


__all__ = ["sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std",
           "var_mean", "std_mean", "norm", "logsumexp", "all", "any", "count_nonzero"]
METHODS = {name: globals()[name] for name in __all__ if name not in ("var_mean", "std_mean")}
