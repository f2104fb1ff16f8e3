"""batch_norm registered over kernels/batch_norm*.py: the fused Triton kernels on cuda, NumPy on cpu.

`batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled)` is
torch.batch_norm (ATen's argument order); nn.functional.batch_norm reorders the arguments as PyTorch's Python
layer does and adds its batch-size check. In training mode the batch statistics normalise the input and, when
running buffers are given, the kernels' combine stage updates them in place (the running variance with the
unbiased batch variance); in eval mode the running statistics normalise it.

The forward saves x, weight and the per-channel mean and 1 / sqrt(var + eps) it used; the fused backward
(no graph) reads (x, dy) once for the per-channel sums and once more for dx, and weight/bias gradients come
from the same sums. The tensor-op backward (create_graph=True) recomputes the statistics from x with
differentiable ops, so second derivatives are exact.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from ..kernels import batch_norm_launch as K
from ..kernels import batch_norm_ref as R
from ..tensor import Tensor
from .broadcast import check_same_device
from .copy import _contiguous_copy
from .unary import check_tensor, torch_type_name

__all__ = ["batch_norm"]


def _acc_dtype(dtype: D.dtype) -> D.dtype:
    return D.float64 if dtype is D.float64 else D.float32


def _host(t: Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach()._host()


def _dense(t: Tensor | None) -> Tensor | None:
    """A (C,) operand the kernels index with unit stride (a strided one is copied)."""
    return t if t is None or t.is_contiguous() else _contiguous_copy(t.detach())


def _view(t: Tensor) -> tuple[Tensor, object]:
    """(t, its (N, C, S) view), copying t to contiguous when its spatial dims do not collapse."""
    v = K.ncs_view(t._dev())
    if v is None:
        t = _contiguous_copy(t)
        v = K.ncs_view(t._dev())
    return t, v


def _scratch(numel: int, dtype: D.dtype, device) -> Tensor:
    return Tensor._empty((max(numel, 1),), dtype, device)


def _forward_cuda(x: Tensor, weight, bias, rm, rv, training: bool, momentum: float, eps: float):
    C = x._shape[1]
    acc = _acc_dtype(x.dtype)
    y = Tensor._empty(x._shape, x.dtype, x.device)
    mean = Tensor._empty((C,), acc, x.device)
    invstd = Tensor._empty((C,), acc, x.device)
    coef = Tensor._empty((4, C), acc, x.device)
    x, xv = _view(x)
    part = _scratch(K.scratch_numel(K.reduce_views(xv)[0], 3) if training else 0, acc, x.device)
    rm_d, rv_d = _dense(rm), _dense(rv)
    w_d, b_d = _dense(weight), _dense(bias)
    K.batch_norm_forward(K.ncs_view(y._dev()), mean._dev(), invstd._dev(), coef._dev(), xv,
                         None if rm_d is None else rm_d._dev(), None if rv_d is None else rv_d._dev(),
                         None if w_d is None else w_d._dev(), None if b_d is None else b_d._dev(), part._dev(),
                         training, momentum, eps)
    for buf, dense in ((rm, rm_d), (rv, rv_d)):
        if buf is not None and dense is not buf:  # a strided buffer was updated through a copy
            with no_grad():
                buf.copy_(dense)
    return y, mean, invstd


class NativeBatchNorm(Function):
    """batch_norm of a checked x (N, C, *) with optional (C,) weight, bias and running buffers."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, weight, bias, running_mean, running_var, training: bool, momentum: float,
                eps: float) -> Tensor:
        ctx.training, ctx.eps = training, eps
        update = training and running_mean is not None
        if x.device.type == "cpu":
            rm = None if running_mean is None else running_mean._host()
            rv = None if running_var is None else running_var._host()
            y, mean, invstd = R.batch_norm_ref(x._host(), rm, rv, _host(weight), _host(bias), training, momentum, eps)
            y, mean, invstd = Tensor._wrap(y), Tensor._wrap(mean), Tensor._wrap(invstd)
        else:
            y, mean, invstd = _forward_cuda(x, weight, bias, running_mean, running_var, training, momentum, eps)
        if update:
            running_mean._bump_version()
            running_var._bump_version()
        ctx.save_for_backward(x, weight, mean, invstd)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight, mean, invstd = ctx.saved_tensors
        dims = tuple(i for i in range(x.ndim) if i != 1)
        shape = (1, x._shape[1]) + (1,) * (x.ndim - 2)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if ctx.training:
            # The statistics as functions of x, so that a graph through this backward differentiates them too.
            centered = x - x.mean(dims, keepdim=True)
            inv = ((centered * centered).mean(dims, keepdim=True) + ctx.eps).rsqrt()
        else:
            centered = x - mean.reshape(shape).to(x.dtype)
            inv = invstd.reshape(shape).to(x.dtype)
        xhat = centered * inv
        k = inv if weight is None else inv * weight.reshape(shape)
        grad_x = grad_w = grad_b = None
        if need_x:
            if ctx.training:
                grad_x = k * (grad - grad.mean(dims, keepdim=True) - xhat * (grad * xhat).mean(dims, keepdim=True))
            else:
                grad_x = k * grad
        if need_w:
            grad_w = (grad * xhat).sum(dims)
        if need_b:
            grad_b = grad.sum(dims)
        return grad_x, grad_w, grad_b, None, None, None, None, None

    def backward_fused(self, grad):
        x, weight, mean, invstd = self.saved_tensors
        need_x, need_w, need_b = self.needs_input_grad[:3]
        if x.device.type == "cpu":
            gx, gw, gb = R.batch_norm_backward_ref(grad._host(), x._host(), mean._host(), invstd._host(),
                                                   _host(weight), self.training)
            gx, gw, gb = Tensor._wrap(gx), Tensor._wrap(gw), Tensor._wrap(gb)
        else:
            gx, gw, gb = _backward_cuda(grad, x, weight, mean, invstd, self.training, need_x, need_w, need_b)
        return (gx if need_x else None), (gw if need_w else None), (gb if need_b else None), *(None,) * 5


def _backward_cuda(grad: Tensor, x: Tensor, weight, mean: Tensor, invstd: Tensor, training: bool, need_x: bool,
                   need_w: bool, need_b: bool):
    C = x._shape[1]
    pdtype = weight.dtype if weight is not None else x.dtype
    gx = Tensor._empty(x._shape, x.dtype, x.device) if need_x else None
    gw = Tensor._empty((C,), pdtype, x.device) if need_w else None
    gb = Tensor._empty((C,), pdtype, x.device) if need_b else None
    coef = Tensor._empty((4, C), mean.dtype, x.device)
    x, xv = _view(x)
    grad, gv = _view(grad)
    reduces = training or need_w or need_b
    part = _scratch(K.scratch_numel(K.reduce_views(xv, gv)[0], 2) if reduces else 0, mean.dtype, x.device)
    w_d = _dense(weight)
    K.batch_norm_backward(None if gx is None else K.ncs_view(gx._dev()), None if gw is None else gw._dev(),
                          None if gb is None else gb._dev(), coef._dev(), gv, xv, mean._dev(), invstd._dev(),
                          None if w_d is None else w_d._dev(), part._dev(), training)
    return gx, gw, gb


# ---------------------------------------------------------------- checks and the public op
def _check(input: Tensor, weight, bias, running_mean, running_var, training: bool) -> None:
    if input.ndim < 2:
        raise ValueError(f"Expected 2D or more input (got {input.ndim}D input)")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"\"batch_norm\" not implemented for '{torch_type_name(input.dtype)}'")
    others = (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var))
    for position, (name, t) in enumerate(others, 2):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"batch_norm(): argument '{name}' (position {position}) must be Tensor, not "
                            f"{type(t).__name__}")
    C = input._shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is None:
            if not training:
                raise RuntimeError(f"{name} must be defined in evaluation mode")
        elif t.numel() != C:
            raise RuntimeError(f"{name} should contain {C} elements not {t.numel()}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != C:
            raise RuntimeError(f"{name} should contain {C} elements not {t.numel()}")
    check_same_device(input, *(t for _, t in others if t is not None))


def batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor | None,
               running_var: Tensor | None, training: bool, momentum: float, eps: float,
               cudnn_enabled: bool = True) -> Tensor:
    """Normalise each channel (dim 1) of input by its batch (training) or running (eval) statistics, then scale
    by weight and shift by bias; training updates the running buffers in place (torch.batch_norm)."""
    check_tensor("batch_norm", input)
    if input.ndim >= 2 and input.numel() == 0:
        # As ATen: an empty batch returns an empty result before any check, the buffers untouched.
        return input.clone()
    _check(input, weight, bias, running_mean, running_var, training)
    if (running_mean is None) != (running_var is None):
        # Only a training batch gets here with one buffer (eval mode needs both): neither is updated.
        running_mean = running_var = None
    # PyTorch takes any (C)-element weight and bias; the kernels index them as (C,).
    w = weight if weight is None or weight.ndim == 1 else weight.reshape(-1)
    b = bias if bias is None or bias.ndim == 1 else bias.reshape(-1)
    return NativeBatchNorm.apply(input, w, b, running_mean, running_var, bool(training), float(momentum), float(eps))
