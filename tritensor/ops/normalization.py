"""layer_norm, rms_norm, group_norm and instance_norm over kernels/norm_rows*.py (NumPy on cpu).

layer_norm / rms_norm see x as (M, R) rows (R = prod(normalized_shape)), group_norm / instance_norm as a
contiguous (N, C, S); instance_norm is group_norm with one channel per group, plus PyTorch's running
statistics. The forward saves mean and rstd; the fused backward (no graph requested) launches one kernel for
dx and the weight/bias partials and a fixed-order column sum per affine gradient. The tensor-op backward
(create_graph=True) recomputes the statistics from x with differentiable ops, so double backward is exact.
"""

from __future__ import annotations

import math

from .. import dtypes as D
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from ..grad_state import state
from ..kernels import norm_rows as K
from ..kernels import norm_rows_group as KG
from ..kernels import norm_rows_split as KS
from ..tensor import Tensor
from .broadcast import check_same_device
from .copy import _contiguous_copy
from .unary import check_tensor

__all__ = ["layer_norm", "rms_norm", "group_norm", "instance_norm"]

# torch.finfo(dtype).eps: rms_norm's default eps.
FINFO_EPS = {D.float16: 2.0 ** -10, D.bfloat16: 2.0 ** -7, D.float32: 2.0 ** -23, D.float64: 2.0 ** -52}


def _acc(dtype: D.dtype) -> D.dtype:
    return D.float64 if dtype is D.float64 else D.float32


def _contig(t: Tensor) -> Tensor:
    return t if t.is_contiguous() else _contiguous_copy(t)


def _host(t: Tensor | None):
    return None if t is None else t._host()


def _dev(t: Tensor | None):
    return None if t is None else t._dev()


def _col_sum(part: Tensor, rows: int, dtype: D.dtype) -> Tensor:
    """part[:rows].sum(0) in a fixed order, as `dtype`."""
    n = part._shape[1]
    out = Tensor._empty((n,), dtype, part.device)
    K.col_sum(out._dev(), part._dev().view_as((rows, n), (n, 1)))
    return out


# ---------------------------------------------------------------- layer_norm / rms_norm
def _rows(t: Tensor, M: int, R: int):
    """A contiguous tensor's DeviceArray as (M, R) rows."""
    return t._dev().view_as((M, R), (R, 1))


def layer_norm_grads(ctx, x: Tensor, grad: Tensor, weight: Tensor | None, need_w: bool, need_b: bool) -> tuple:
    """(dx, dweight, dbias) of layer/RMS norm over ctx.M rows of ctx.R (ctx.eps, ctx.rms) in tensor ops, the
    statistics recomputed from x, so that the result is differentiable again (create_graph=True)."""
    x2, g2 = x.reshape(ctx.M, ctx.R), grad.reshape(ctx.M, ctx.R)
    xc = x2 if ctx.rms else x2 - x2.mean(1, keepdim=True)
    rstd = ((xc * xc).mean(1, keepdim=True) + ctx.eps).rsqrt()
    xhat = xc * rstd
    wdy = g2 * weight if weight is not None else g2
    dx = wdy - xhat * (wdy * xhat).mean(1, keepdim=True)
    if not ctx.rms:
        dx = dx - wdy.mean(1, keepdim=True)
    dw = (g2 * xhat).sum(0) if need_w else None
    db = g2.sum(0) if need_b else None
    return (dx * rstd).reshape(x._shape), dw, db


class NativeLayerNorm(Function):
    """layer_norm (rms=False) or rms_norm (rms=True) of a contiguous x over its last dims, seen as (M, R) rows;
    weight/bias flat (R,) or None."""

    differentiable_forward = False
    xhat_host = None  # cpu, recording a graph: the forward's normalised x (layer_norm_ref's keep_xhat)
    _state_in_saved = True  # besides _saved: numbers, and xhat_host (dropped by _release)

    def name(self) -> str:
        return "RmsNormBackward0" if self.rms else "NativeLayerNormBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor | None, bias: Tensor | None, R: int, eps: float, rms: bool) -> Tensor:
        M = x.numel() // max(R, 1)
        ctx.eps, ctx.rms, ctx.M, ctx.R = eps, rms, M, R
        if x.device.type == "cpu":
            keep = any(ctx.needs_input_grad)  # recording: xhat kept, so the fused backward need not recompute it
            y, mean, rstd, *xhat = K.layer_norm_ref(x._host().reshape(M, R), _host(weight), _host(bias), eps, rms,
                                                    keep_xhat=keep)
            if not keep:  # not recording (save_for_backward would keep nothing): the statistics are not wrapped
                return Tensor._fresh(y.reshape(x._shape), x.dtype)  # (y: fresh, contiguous, x's dtype)
            ctx.xhat_host = xhat[0]
            acc = _acc(x.dtype)  # (y, mean, rstd: fresh, contiguous, in x's dtype and the statistics' dtype)
            y = Tensor._fresh(y.reshape(x._shape), x.dtype)
            mean, rstd = Tensor._fresh(mean, acc), Tensor._fresh(rstd, acc)
        else:
            y = Tensor._empty(x._shape, x.dtype, x.device)
            mean = Tensor._empty((M,), _acc(x.dtype), x.device)
            rstd = Tensor._empty((M,), _acc(x.dtype), x.device)
            scratch = KS.scratch_numel(M, R, x.dtype is D.float64)
            if scratch:  # few long rows: each split across programs
                part = Tensor._empty((scratch,), _acc(x.dtype), x.device)
                KS.layer_norm_split(_rows(y, M, R), _rows(x, M, R), _dev(weight), _dev(bias),
                                    None if rms else mean._dev(), rstd._dev(), part._dev(), eps, rms)
            else:
                K.layer_norm(_rows(y, M, R), _rows(x, M, R), _dev(weight), _dev(bias), None if rms else mean._dev(),
                             rstd._dev(), eps, rms)
        ctx.save_for_backward(x, weight, mean, rstd)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight, _, _ = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (*layer_norm_grads(ctx, x, grad, weight, need[1], need[2]), None, None, None)

    def _release(self) -> None:
        self.xhat_host = None

    def backward_fused(self, grad):
        x, weight, mean, rstd = self.saved_tensors
        need = self.needs_input_grad
        M, R = self.M, self.R
        if x.device.type == "cpu":
            xhat, self.xhat_host = self.xhat_host, None  # used up in place: a second backward recomputes it
            dx, dw, db = K.layer_norm_backward_ref(grad._host().reshape(M, R), x._host().reshape(M, R),
                                                   _host(weight), mean._host(), rstd._host(), self.rms, xhat,
                                                   need[1], need[2])
            dw = Tensor._wrap(dw.astype(weight.dtype.np, copy=False)) if need[1] else None  # (fresh arrays)
            db = Tensor._wrap(db.astype(x.dtype.np, copy=False)) if need[2] else None
            return Tensor._wrap(dx.reshape(x._shape)), dw, db, None, None, None
        grad = _contig(grad)
        scratch = KS.scratch_numel(M, R, x.dtype is D.float64)
        if scratch:  # few long rows: split across programs, dw / db written directly
            part = Tensor._empty((scratch,), _acc(x.dtype), x.device)
            dx = Tensor._empty(x._shape, x.dtype, x.device)
            dw = Tensor._empty((R,), weight.dtype, x.device) if need[1] else None
            db = Tensor._empty((R,), x.dtype, x.device) if need[2] else None
            KS.layer_norm_backward_split(_rows(dx, M, R), _dev(dw), _dev(db), _rows(grad, M, R), _rows(x, M, R),
                                         _dev(weight), None if self.rms else mean._dev(), rstd._dev(), part._dev(),
                                         self.rms)
            return dx, dw, db, None, None, None
        rows = K.partial_rows(M)
        dw_part = Tensor._empty((rows, R), _acc(x.dtype), x.device) if need[1] else None
        db_part = Tensor._empty((rows, R), _acc(x.dtype), x.device) if need[2] else None
        dx = Tensor._empty(x._shape, x.dtype, x.device)
        used = K.layer_norm_backward(_rows(dx, M, R), _rows(grad, M, R), _rows(x, M, R), _dev(weight),
                                     None if self.rms else mean._dev(), rstd._dev(), _dev(dw_part), _dev(db_part),
                                     self.rms)
        dw = _col_sum(dw_part, used, weight.dtype) if need[1] else None
        db = _col_sum(db_part, used, x.dtype) if need[2] else None
        return dx, dw, db, None, None, None


def _shape_list(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _check_normalized(input: Tensor, normalized_shape, weight: Tensor | None, bias: Tensor | None) -> tuple:
    """normalized_shape as a tuple, checked against input, weight and bias with PyTorch's messages."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(map(int, normalized_shape))
    if not shape:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
                           f"element, but got normalized_shape = {_shape_list(shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t._shape != shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{_shape_list(t._shape)} and normalized_shape = {_shape_list(shape)}")
    if input.ndim < len(shape) or input._shape[input.ndim - len(shape):] != shape:
        raise RuntimeError(f"Given normalized_shape={_shape_list(shape)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in shape)}], but got input of size{_shape_list(input._shape)}")
    return shape


def _check_float(name: str, input: Tensor, *params: Tensor | None) -> None:
    check_tensor(name, input)
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"\"{name}\" not implemented for '{D.scalar_type_name(input.dtype)}'")
    device = input.device
    for p in params:
        if p is not None and p.device is not device:  # (equal devices may be distinct objects: the check decides)
            check_same_device(input, *[p for p in params if p is not None])
            return


def _param(t: Tensor | None, dtype: D.dtype, shape: tuple) -> Tensor | None:
    """An affine parameter as the kernel takes it: the input's dtype (differentiably cast), flat."""
    if t is None:
        return None
    t = t if t.dtype is dtype else t.to(dtype)
    if t._shape != shape:  # (a reshape to its own shape would only add a view node to the graph)
        t = t.reshape(shape)
    return t if t.is_contiguous() else t.contiguous()  # the kernels index it with unit stride


def _recording(*tensors: Tensor | None) -> bool:
    """Whether Function.apply would record a node for these arguments (grad mode on, one of them requiring grad)."""
    if state.enabled:
        for t in tensors:
            if t is not None and t._requires_grad:
                return True
    return False


def _layer_norm(input: Tensor, normalized_shape, weight, bias, eps: float, rms: bool) -> Tensor:
    shape = _check_normalized(input, normalized_shape, weight, bias)
    R = math.prod(shape)
    x = input if input.is_contiguous() else input.contiguous()
    w, b = _param(weight, input.dtype, (R,)), _param(bias, input.dtype, (R,))
    if x.device.type == "cpu" and not _recording(x, w, b):
        # No node to record: the reference straight, without apply's context (what forward does unrecorded).
        shape = x._shape
        M = math.prod(shape) // max(R, 1)
        y = K.layer_norm_ref(x._host().reshape(M, R), _host(w), _host(b), float(eps), rms)[0]
        return Tensor._fresh(y.reshape(shape), x.dtype)  # (y: fresh, contiguous, x's dtype)
    return NativeLayerNorm.apply(x, w, b, R, float(eps), rms)


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5, cudnn_enable: bool = True) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over the last len(normalized_shape) dims (biased var)."""
    _check_float("layer_norm", input, weight, bias)
    return _layer_norm(input, normalized_shape, weight, bias, eps, False)


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight over the last len(normalized_shape) dims; eps None is
    finfo(input.dtype).eps."""
    _check_float("rms_norm", input, weight)
    if eps is None:
        eps = FINFO_EPS[input.dtype]
    return _layer_norm(input, normalized_shape, weight, None, eps, True)


# ---------------------------------------------------------------- group_norm
def _ncs(t: Tensor) -> tuple[int, int, int]:
    N, C = t._shape[0], t._shape[1]
    return N, C, math.prod(t._shape[2:])


def _dev3(t: Tensor):
    """A contiguous (N, C, *) tensor's DeviceArray as (N, C, S)."""
    N, C, S = _ncs(t)
    return t._dev().view_as((N, C, S), (C * S, S, 1))


class NativeGroupNorm(Function):
    """group_norm of a contiguous x (N, C, *) in `groups` groups; weight/bias (C,) or None. `stats`, a list,
    receives the saved (mean, rstd) (instance_norm's running statistics read them)."""

    differentiable_forward = False
    _state_in_saved = True  # besides _saved: groups and eps

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor | None, bias: Tensor | None, groups: int, eps: float,
                stats: list | None = None) -> Tensor:
        ctx.groups, ctx.eps = groups, eps
        N, C, S = _ncs(x)
        if x.device.type == "cpu":
            y, mean, rstd = KG.group_norm_ref(x._host().reshape(N, C, S), groups, _host(weight), _host(bias), eps)
            y, mean, rstd = Tensor._wrap(y.reshape(x._shape)), Tensor._wrap(mean), Tensor._wrap(rstd)
        else:
            y = Tensor._empty(x._shape, x.dtype, x.device)
            mean = Tensor._empty((N * groups,), _acc(x.dtype), x.device)
            rstd = Tensor._empty((N * groups,), _acc(x.dtype), x.device)
            KG.group_norm(_dev3(y), _dev3(x), _dev(weight), _dev(bias), mean._dev(), rstd._dev(), groups, eps)
        ctx.save_for_backward(x, weight, mean, rstd)
        if stats is not None:
            stats.extend((mean, rstd))
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight, _, _ = ctx.saved_tensors
        N, C, S = _ncs(x)
        g3 = grad.reshape(N, C, S)
        xg = x.reshape(N, ctx.groups, C // ctx.groups * S)
        xc = xg - xg.mean(2, keepdim=True)
        rstd = ((xc * xc).mean(2, keepdim=True) + ctx.eps).rsqrt()
        xhat = (xc * rstd).reshape(N, C, S)
        wdy = g3 * weight.reshape(C, 1) if weight is not None else g3
        wg, hg = wdy.reshape(N, ctx.groups, C // ctx.groups * S), xhat.reshape(N, ctx.groups, C // ctx.groups * S)
        dx = (wg - wg.mean(2, keepdim=True) - hg * (wg * hg).mean(2, keepdim=True)) * rstd
        need = ctx.needs_input_grad
        dw = (g3 * xhat).sum((0, 2)) if need[1] else None
        db = g3.sum((0, 2)) if need[2] else None
        return dx.reshape(x._shape), dw, db, None, None, None

    def backward_fused(self, grad):
        x, weight, mean, rstd = self.saved_tensors
        need = self.needs_input_grad
        N, C, S = _ncs(x)
        if x.device.type == "cpu":
            dx, dw, db = KG.group_norm_backward_ref(grad._host().reshape(N, C, S), x._host().reshape(N, C, S),
                                                    _host(weight), mean._host(), rstd._host(), self.groups)
            dw = Tensor._wrap(dw.astype(weight.dtype.np)) if need[1] else None
            db = Tensor._wrap(db.astype(x.dtype.np)) if need[2] else None
            return Tensor._wrap(dx.reshape(x._shape)), dw, db, None, None, None
        grad = _contig(grad)
        wb = need[1] or need[2]
        dw_part = Tensor._empty((N, C), _acc(x.dtype), x.device) if wb else None
        db_part = Tensor._empty((N, C), _acc(x.dtype), x.device) if wb else None
        dx = Tensor._empty(x._shape, x.dtype, x.device)
        KG.group_norm_backward(_dev3(dx), _dev3(grad), _dev3(x), _dev(weight), mean._dev(), rstd._dev(),
                               _dev(dw_part), _dev(db_part), self.groups)
        dw = _col_sum(dw_part, N, weight.dtype) if need[1] else None
        db = _col_sum(db_part, N, x.dtype) if need[2] else None
        return dx, dw, db, None, None, None


def _run_group_norm(input: Tensor, groups: int, weight, bias, eps: float, stats: list | None = None) -> Tensor:
    C = input._shape[1]
    return NativeGroupNorm.apply(input.contiguous(), _param(weight, input.dtype, (C,)),
                                 _param(bias, input.dtype, (C,)), groups, float(eps), stats)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5, cudnn_enabled: bool = True) -> Tensor:
    """Normalise x (N, C, *) over each group of C / num_groups channels (and all spatial positions), then a
    per-channel weight and bias."""
    _check_float("group_norm", input, weight, bias)
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    C = input._shape[1]
    if num_groups <= 0 or C % num_groups:
        raise RuntimeError("Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {_shape_list(input._shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.numel() != C):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in input, "
                               f"but got {name} of shape {_shape_list(t._shape)} and input of shape "
                               f"{_shape_list(input._shape)}")
    return _run_group_norm(input, num_groups, weight, bias, eps)


# ---------------------------------------------------------------- instance_norm
def _update_running(running_mean: Tensor | None, running_var: Tensor | None, stats: list, N: int, C: int, S: int,
                    momentum: float, eps: float) -> None:
    """PyTorch's update: the batch's per-instance means and unbiased variances, averaged over N, blended in
    with `momentum`. The variance comes from the saved rstd (var = 1/rstd^2 - eps): no second read of x."""
    with no_grad():
        mean = stats[0].reshape(N, C).to(D.float64)
        var = (stats[1].to(D.float64) ** -2 - eps).reshape(N, C) * (S / max(S - 1, 1))
        if running_mean is not None:
            new = running_mean.to(D.float64) * (1 - momentum) + mean.mean(0) * momentum
            running_mean.copy_(new.to(running_mean.dtype))
        if running_var is not None:
            new = running_var.to(D.float64) * (1 - momentum) + var.mean(0) * momentum
            running_var.copy_(new.to(running_var.dtype))


def instance_norm(input: Tensor, weight: Tensor | None = None, bias: Tensor | None = None,
                  running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  use_input_stats: bool = True, momentum: float = 0.1, eps: float = 1e-5,
                  cudnn_enabled: bool = True) -> Tensor:
    """Normalise each (instance, channel) of x (N, C, *) over its spatial positions (torch.instance_norm's
    argument order); with use_input_stats False, the running statistics instead."""
    _check_float("instance_norm", input, weight, bias, running_mean, running_var)
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    N, C = input._shape[0], input._shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and t.numel() != C:
            raise RuntimeError(f"{name} should contain {C} elements not {t.numel()}")
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when use_input_stats is false")
        view = (1, C) + (1,) * (input.ndim - 2)
        y = (input - running_mean.to(input.dtype).reshape(view)) * (running_var.to(input.dtype).reshape(view)
                                                                   + eps).rsqrt()
        if weight is not None:
            y = y * weight.to(input.dtype).reshape(view)
        return y + bias.to(input.dtype).reshape(view) if bias is not None else y
    stats: list = []
    y = _run_group_norm(input, C, weight, bias, eps, stats)
    if running_mean is not None or running_var is not None:
        _update_running(running_mean, running_var, stats, N, C, math.prod(input._shape[2:]), momentum, eps)
    return y
