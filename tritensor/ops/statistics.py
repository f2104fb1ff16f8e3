"""Statistical reductions over kernels/statistics.py: var/std (with var_mean/std_mean), norm (the vector
p-norm) and logsumexp.

They run on rows as every reduction does (ops/reduction.py), with a fused backward kernel and a tensor-op
backward (create_graph=True). logsumexp's gradient weights are their own differentiable op (ExpShift), so
logsumexp has derivatives of every order.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..creation import ones_like, zeros_like
from ..kernels import reduction as KR
from ..kernels import statistics as K
from ..tensor import Tensor
from .copy import to_copy
from .reduction import (
    cast_input,
    expand_grad,
    kernel_grad,
    meta,
    normalize_dims,
    numel_of,
    ones_like_result,
    public_op,
    run_reduction,
    torch_name,
)


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
            return (r, KR.mean_ref(a, dims, keepdim)) if with_mean else r

        def launch(out, *rest, scratch=None):
            rows = rest[-1]
            kernel(out, rows, correction, rest[0] if with_mean else None, scratch=scratch)

        outs = run_reduction(x, dims, keepdim, dtypes, reference, launch)
        ctx.save_for_backward(x, outs[0])
        return outs if with_mean else outs[0]

    @staticmethod
    def backward(ctx, grad, grad_mean=None):
        x, y = ctx.saved_tensors
        n = numel_of(x._shape, ctx.dims)
        divisor = builtins.max(n - ctx.correction, 0)
        g = grad
        if ctx.is_std:
            # d std = d var / (2 std); a zero std gives a zero gradient, as PyTorch masks it (the
            # denominator is made safe first so the masked branch has no 0/0 in its own gradient).
            where, div, eq = public_op("where"), public_op("div"), public_op("eq")
            zero = eq(y, 0)
            g = where(zero, zeros_like(grad), div(grad, where(zero, ones_like(y), y) * 2.0))
        dev = x - x.mean(ctx.dims, keepdim=True)
        scale = 2.0 / divisor if divisor else math.inf
        gx = expand_grad(g, x._shape, ctx.dims, ctx.keepdim) * dev * scale
        if grad_mean is not None:
            gx = gx + expand_grad(grad_mean, x._shape, ctx.dims, ctx.keepdim) * (1.0 / n if n else math.nan)
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
                gx = gx + KR.mean_backward_ref(grad_mean._host(), h, dims, keepdim)[0]
            return Tensor._wrap(np.asarray(gx, x.dtype.np)), None, None, None, None, None
        if self.is_std:
            gx = kernel_grad(meta(x), dims, grad, K.std_backward, rows=(x,), vecs=(y,), correction=c)
        else:
            gx = kernel_grad(meta(x), dims, grad, K.var_backward, rows=(x,), correction=c)
        if grad_mean is not None:
            gx = gx + kernel_grad(meta(x), dims, grad_mean, KR.mean_backward)
        return gx, None, None, None, None, None


class Norm(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, p: float, dims: tuple, keepdim: bool) -> Tensor:
        ctx.p, ctx.dims, ctx.keepdim = p, dims, keepdim
        (out,) = run_reduction(x, dims, keepdim, (x.dtype,), lambda a: K.norm_ref(a, p, dims, keepdim),
                      lambda o, rows, scratch: K.norm(o, rows, p, scratch))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        p = ctx.p
        g = expand_grad(grad, x._shape, ctx.dims, ctx.keepdim)
        if p == 0 or p == 1 or math.isinf(p):
            # sign(x) (and the tie split for inf) is constant almost everywhere.
            weights = Norm._grad(ctx, ones_like_result(y._shape, grad.dtype, grad.device), x.detach(), y.detach())
            return g * weights, None, None, None
        where, div, eq = public_op("where"), public_op("div"), public_op("eq")
        ye = expand_grad(y, x._shape, ctx.dims, ctx.keepdim)
        y_zero = eq(ye, 0)
        safe_y = where(y_zero, ones_like(ye), ye)
        if p == 2:
            return where(y_zero, zeros_like(g), div(g * x, safe_y)), None, None, None
        # sign(x) * (|x| / norm)^(p-1), zero where x == 0 or norm == 0 (PyTorch's masks).
        x_zero = eq(x, 0)
        ratio = where(x_zero, ones_like(x), div(public_op("abs")(x), safe_y))
        gx = g * public_op("sign")(x) * public_op("pow")(ratio, p - 1)
        return where(public_op("logical_or")(x_zero, y_zero), zeros_like(gx), gx), None, None, None

    def backward_fused(self, grad):
        x, y = self.saved_tensors
        return Norm._grad(self, grad, x, y), None, None, None

    @staticmethod
    def _grad(ctx, grad: Tensor, x: Tensor, y: Tensor) -> Tensor:
        if x.device.type == "cpu":
            return Tensor._wrap(K.norm_backward_ref(grad._host(), x._host(), y._host(), ctx.p, ctx.dims,
                                                    ctx.keepdim)[0])
        return kernel_grad(meta(x), ctx.dims, grad, K.norm_backward, rows=(x,), vecs=(y,), p=ctx.p)


class LogSumExp(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple, keepdim: bool) -> Tensor:
        ctx.dims, ctx.keepdim = dims, keepdim
        (out,) = run_reduction(x, dims, keepdim, (x.dtype,), lambda a: K.logsumexp_ref(a, dims, keepdim), K.logsumexp)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        g = expand_grad(grad, x._shape, ctx.dims, ctx.keepdim)
        return g * ExpShift.apply(x, y, ctx.dims, ctx.keepdim), None, None

    def backward_fused(self, grad):
        x, y = self.saved_tensors
        return _lse_grad(grad, x, y, self.dims, self.keepdim), None, None


def _lse_grad(grad: Tensor, x: Tensor, y: Tensor, dims: tuple, keepdim: bool) -> Tensor:
    if x.device.type == "cpu":
        return Tensor._wrap(K.logsumexp_backward_ref(grad._host(), x._host(), y._host(), dims, keepdim)[0])
    return kernel_grad(meta(x), dims, grad, K.logsumexp_backward, rows=(x,), vecs=(y,))


class ExpShift(Function):
    """exp(x - y) with y (a logsumexp over `dims`) broadcast back: logsumexp's gradient weights (the
    softmax), as a differentiable op of its own so logsumexp has derivatives of every order."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, y: Tensor, dims: tuple, keepdim: bool) -> Tensor:
        ctx.dims, ctx.keepdim = dims, keepdim
        out = _lse_grad(ones_like_result(y._shape, x.dtype, x.device), x, y, dims, keepdim)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (e,) = ctx.saved_tensors
        ge = grad * e
        return ge, -ge.sum(ctx.dims, keepdim=ctx.keepdim), None, None


# ================================================================ public API
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
                           f"{torch_name(input.dtype)}")
    dims = normalize_dims(dim, input.ndim)
    return VarStd.apply(input, dims, keepdim, _correction(unbiased, correction), is_std, with_mean)


def var(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Variance over `dim` (all when None); `correction` (default 1, Bessel) or legacy `unbiased`."""
    return _var_std("var", input, dim, unbiased, keepdim, correction, False, False)


def std(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Standard deviation over `dim` (all when None); `correction` (default 1) or legacy `unbiased`."""
    return _var_std("std", input, dim, unbiased, keepdim, correction, True, False)


def var_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction=None) -> tuple[Tensor, Tensor]:
    """`(var, mean)` over `dim` in one call; arguments as `tt.var`."""
    return _var_std("var_mean", input, dim, unbiased, keepdim, correction, False, True)


def std_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction=None) -> tuple[Tensor, Tensor]:
    """`(std, mean)` over `dim` in one call; arguments as `tt.std`."""
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
                           f"{torch_name(dtype or input.dtype)}")
    dims = normalize_dims(dim, input.ndim)
    if (p < 0 or math.isinf(p)) and numel_of(input._shape, dims) == 0 and input.numel() == 0:
        raise RuntimeError(f"linalg.vector_norm cannot compute the {p:g} norm on an empty tensor because the operation "
                           "does not have an identity")
    result = Norm.apply(cast_input(input, dtype), p, dims, keepdim)
    if out is not None:
        from .elementwise import _into

        return _into(out, result)
    return result


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """`log(sum(exp(input), dim))`, computed stably (the max is subtracted first)."""
    dims = normalize_dims(dim, input.ndim)
    x = input if input.dtype.is_floating_point else to_copy(input, D.get_default_dtype(), input.device)
    return LogSumExp.apply(x, dims, keepdim)


__all__ = ["var", "std", "var_mean", "std_mean", "norm", "logsumexp"]
METHODS = {name: globals()[name] for name in __all__ if name not in ("var_mean", "std_mean")}
