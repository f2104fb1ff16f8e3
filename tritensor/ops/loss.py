"""cross_entropy / nll_loss from class indices as one autograd op over kernels/loss.py (NumPy on cpu).

Logits are (C,), (N, C) or (N, C, d1, ...); the kernels see them as (M0, M1, C) rows (see softmax.rows3)
and the targets as the matching (M0, M1), so the class dim is never permuted. The forward writes
per-row losses, target weights and logsumexps, then reduces them in one deterministic program; the
per-row logsumexp (and the mean's denominator) are saved for the fused backward kernel. A target outside
[0, C) that is not ignore_index raises PyTorch's cpu IndexError on both devices (on cuda through the
device error word: at once under the interpreter, at the next synchronisation on a GPU).

The tensor-op backward (create_graph=True) uses that the loss is linear in the target terms:
  grad_x = g * (A * softmax(x) - Q),  A = (1 - eps) w_t + eps / C * sum(w),  Q = (1 - eps) w_t onehot(t) + eps / C * w
(NLL: grad_x = -g * w_t * onehot(t)); A and Q depend only on the targets and weights, so they are
built on the host and only softmax(x) carries the graph.

The public functions take PyTorch's ATen arguments (torch._C._nn.cross_entropy_loss / nll_loss_nd:
reduction as a string); nn.functional adds the deprecated size_average/reduce flags. PyTorch has no
torch.cross_entropy, so nothing here is a tt.* name.
"""

from __future__ import annotations

import math

import numpy as np

from .. import device_errors
from .. import dtypes as D
from ..autograd.function import Function
from ..grad_state import state
from ..kernels import loss as K
from ..tensor import Tensor
from .dispatch import cast, check_same_device
from .softmax import SoftmaxFunction, log_softmax, rows2, rows3
from .unary import check_tensor, torch_type_name

__all__: list[str] = []

_REDUCTIONS = ("none", "mean", "sum")
_OUT_OF_BOUNDS = "Target {index} is out of bounds."
_CPU_FLOATS = (D.float32, D.float64)


def _acc_dtype(dtype: D.dtype) -> D.dtype:
    return D.float64 if dtype is D.float64 else D.float32


def _host(t: Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().cpu()._host()


def _dev(t: Tensor | None):
    return None if t is None else t._dev()


def _forward_cuda(ctx, x: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, label_smoothing: float,
                  reduction: str, nll: bool) -> Tensor:
    acc = _acc_dtype(x.dtype)
    class_dim = 0 if x.ndim == 1 else 1
    _, xv = rows3(x, class_dim)
    _, tv = rows2(target, min(1, target.ndim))
    M = target.numel()
    loss = Tensor._empty(target._shape, acc, x.device)
    wt = Tensor._empty((M,), acc, x.device)
    lse = Tensor._empty((M,), acc, x.device)
    flat = loss._dev().view_as((M,), (1,))
    code = device_errors.expect(x.device, IndexError, _OUT_OF_BOUNDS)
    K.cross_entropy(flat, wt._dev(), lse._dev(), xv, tv, _dev(weight), ignore_index, label_smoothing, nll,
                    err=device_errors.error_word(x.device), err_code=code)
    device_errors.after_launch(x.device)
    denom = None
    if reduction == "none":
        out = cast(loss, x.dtype)
    else:
        out = Tensor._empty((), x.dtype, x.device)
        denom = Tensor._empty((1,), acc, x.device) if reduction == "mean" else None
        K.reduce_rows(out._dev().view_as((1,), (1,)), _dev(denom), flat, wt._dev(), reduction == "mean")
    ctx.save_for_backward(x, target, weight, lse, denom)
    return out


class NllLoss(Function):
    """cross_entropy (nll=False) and nll_loss (nll=True); PyTorch names both nodes NllLossBackward0.

    Arguments already validated: x float (C,)/(N, C)/(N, C, ...), target int64 with x's shape minus the class
    dim, weight (C,) in x's dtype or None, reduction one of none/sum/mean."""

    differentiable_forward = False
    exp_host = None  # cpu: the forward's (exp(x - row max), row max, row sums), which backward turns into the gradient
    _state_in_saved = True  # besides _saved: numbers and flags, and the host arrays _release drops
    class_rows = False  # cpu: the forward took K.class_rows_ref (the common case), so may its backward

    @staticmethod
    def forward(ctx, x: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, label_smoothing: float,
                reduction: str, nll: bool) -> Tensor:
        ctx.args = (ignore_index, label_smoothing, reduction, nll)
        if x.device.type == "cuda":
            return _forward_cuda(ctx, x, target, weight, ignore_index, label_smoothing, reduction, nll)
        xh, th = x._host(), target._host()
        if weight is None and not nll and label_smoothing == 0.0 and reduction != "none" and x.ndim == 2:
            keep = ctx.needs_input_grad[:1] == (True,)
            fast = K.class_rows_ref(xh, th, ignore_index, reduction, keep)
            if fast is not None:  # the common case's direct reference (None: the general one speaks)
                out, ctx.lse_host, exp_rows = fast
                if keep:
                    ctx.exp_host = exp_rows
                    ctx.class_rows = True
                ctx.save_for_backward(x, target, weight)
                return Tensor._wrap(out)
        wh = _host(weight)
        loss, w_t, ctx.lse_host, exp_rows = K.cross_entropy_rows_exp_ref(xh, th, wh, ignore_index, label_smoothing,
                                                                         nll)
        if ctx.needs_input_grad[:1] == (True,):  # kept for the fused backward, which spares its exp pass
            ctx.exp_host = exp_rows
        out = Tensor._wrap(K.reduce_loss_ref(loss, w_t, th.shape, reduction, xh.dtype))
        ctx.save_for_backward(x, target, weight)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, target, weight = ctx.saved_tensors[:3]
        ignore_index, eps, reduction, nll = ctx.args
        class_dim = 0 if x.ndim == 1 else 1
        t = target.detach().cpu()._host()
        C = x._shape[class_dim]
        w = np.ones(C) if weight is None else weight.detach().cpu()._host().astype(np.float64)
        counted = t != ignore_index
        tc = np.where(counted, t, 0)
        w_t = np.where(counted, w[tc], 0.0)
        onehot = np.moveaxis(np.eye(C)[tc], -1, class_dim) * np.expand_dims(counted, class_dim)
        w_b = w.reshape((C,) + (1,) * (x.ndim - 1 - class_dim))
        q = (1 - eps) * np.expand_dims(w_t, class_dim) * onehot + (0.0 if nll else eps / C) * w_b * \
            np.expand_dims(counted, class_dim)
        a = np.expand_dims(((1 - eps) * w_t + eps / C * w.sum()) * counted, class_dim)
        scale = 1.0
        if reduction == "mean":
            total = w_t.sum()
            scale = 1.0 / total if total else float("nan")
        g = grad.unsqueeze(class_dim) if reduction == "none" else grad
        if scale != 1.0:
            g = g * scale
        q_t = Tensor._wrap(q.astype(x.dtype.np)).to(x.device)
        if nll:
            return -(g * q_t), None, None, None, None, None, None
        a_t = Tensor._wrap(a.astype(x.dtype.np)).to(x.device)
        p = SoftmaxFunction.apply(x, class_dim, False)
        return g * (a_t * p - q_t), None, None, None, None, None, None

    def _release(self) -> None:
        self.exp_host = self.lse_host = None

    def backward_fused(self, grad):
        ignore_index, eps, reduction, nll = self.args
        saved = self.saved_tensors
        x, target, weight = saved[:3]
        if x.device.type == "cpu":
            exp_rows = self.exp_host
            if self.class_rows and exp_rows is not None and exp_rows[0] is not None:
                self.exp_host = (None,) + exp_rows[1:]
                gx = K.class_rows_backward_ref(grad._host(), target._host(), reduction, exp_rows)
                return Tensor._wrap(gx), None, None, None, None, None, None
            if exp_rows is not None:  # its array becomes this gradient: a second backward computes the exp again
                self.exp_host = (None,) + exp_rows[1:]
            gx = K.cross_entropy_backward_ref(grad._host(), x._host(), target._host(), _host(weight), ignore_index,
                                              reduction, eps, nll, self.lse_host, exp_rows)
            return Tensor._wrap(gx), None, None, None, None, None, None
        lse, denom = saved[3:]
        class_dim = 0 if x.ndim == 1 else 1
        gx = Tensor._empty(x._shape, x.dtype, x.device)
        _, xv = rows3(x, class_dim)
        _, gxv = rows3(gx, class_dim)
        _, tv = rows2(target, min(1, target.ndim))
        if reduction == "none":
            _, gv = rows2(grad, min(1, grad.ndim))
        else:
            gv = grad._dev().view_as(tv.shape, (0, 0))
        K.cross_entropy_backward(gxv, gv, _dev(denom), xv, tv, _dev(weight), lse._dev(), ignore_index, eps, nll)
        return gx, None, None, None, None, None, None


# ---------------------------------------------------------------- argument checks (PyTorch's, in its order)
def check_reduction(reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _sizes(shape: tuple) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _check_weight(weight: Tensor | None, classes: int) -> None:
    if weight is not None and (weight.ndim != 1 or weight.numel() != classes):
        raise RuntimeError(f"weight tensor should be defined either for all {classes} classes or no classes but "
                           f"got weight tensor of shape: {list(weight.shape)}")


def _check_class_targets(input: Tensor, target: Tensor, weight: Tensor | None) -> None:
    """PyTorch's nll_loss_nd checks: shapes of input/target/weight, dtypes, devices."""
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if target.dtype is not D.int64:
        raise RuntimeError(f"expected scalar type Long but found {torch_type_name(target.dtype)}")
    if input.ndim != 1 and target.ndim >= 1 and input._shape[0] != target._shape[0]:
        raise ValueError(f"Expected input batch_size ({input._shape[0]}) to match target batch_size "
                         f"({target._shape[0]}).")
    if input.ndim <= 2:
        if target.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        no_batch = input.ndim == 1 and target.ndim == 0
        if not no_batch and (target.ndim == 0 or input._shape[0] != target._shape[0]):
            raise RuntimeError(f"size mismatch (got input: {_sizes(input._shape)}, target: {_sizes(target._shape)})")
    elif target._shape != (input._shape[0],) + input._shape[2:]:
        raise RuntimeError(f"Expected target size {_sizes((input._shape[0],) + input._shape[2:])}, got "
                           f"{_sizes(target._shape)}")
    _check_weight(weight, input._shape[0 if input.ndim == 1 else 1])
    if weight is not None and weight.dtype is not input.dtype:
        raise RuntimeError(f"expected scalar type {torch_type_name(input.dtype)} but found "
                           f"{torch_type_name(weight.dtype)}")
    check_same_device(*(t for t in (input, target, weight) if t is not None))


def _check_float_input(name: str, input) -> None:
    check_tensor(name, input)
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"\"{name}\" not implemented for '{torch_type_name(input.dtype)}'")


def _class_loss(input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, label_smoothing: float,
                reduction: str, nll: bool) -> Tensor:
    _check_class_targets(input, target, weight)
    return NllLoss.apply(input, target.detach(), None if weight is None else weight.detach(), int(ignore_index),
                         float(label_smoothing), reduction, nll)


# ---------------------------------------------------------------- public functions
def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """-weight[t] * input[t] per sample (input holds log-probabilities), over (C,), (N, C) or (N, C, d1, ...)."""
    check_reduction(reduction)
    _check_float_input("nll_loss", input)
    return _class_loss(input, target, weight, ignore_index, 0.0, reduction, True)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """log_softmax + nll_loss in one fused kernel for class-index targets (int64, ignore_index, class weights,
    label_smoothing); float targets are class probabilities of input's shape."""
    if (weight is None and label_smoothing == 0.0 and type(input) is Tensor and type(target) is Tensor
            and len(input._shape) == 2 and len(target._shape) == 1 and target.dtype is D.int64
            and input.dtype in _CPU_FLOATS and (reduction == "mean" or reduction == "sum")
            and input._shape[0] == target._shape[0] and input.device.type == "cpu" and target.device.type == "cpu"):
        # The common case, checked directly: every check below (and _check_class_targets') passes for it.
        if not (state.enabled and input._requires_grad):  # no node: NllLoss.forward's own reference, unrecorded
            fast = K.class_rows_ref(input._host(), target._host(), int(ignore_index), reduction, False)
            if fast is not None:
                return Tensor._wrap(fast[0])
        return NllLoss.apply(input, target.detach(), None, int(ignore_index), 0.0, reduction, False)
    check_reduction(reduction)
    _check_float_input("cross_entropy", input)
    if not isinstance(target, Tensor):
        raise TypeError(f"cross_entropy(): argument 'target' (position 2) must be Tensor, not "
                        f"{type(target).__name__}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if target._shape == input._shape and target.dtype.is_floating_point:
        # PyTorch takes the probability path when the shapes match; otherwise the class-index checks speak
        # (a float target of another shape: "expected scalar type Long but found Float").
        return _cross_entropy_probs(input, target, weight, ignore_index, reduction, label_smoothing)
    return _class_loss(input, target, weight, ignore_index, label_smoothing, reduction, False)


def _cross_entropy_probs(input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, reduction: str,
                         label_smoothing: float) -> Tensor:
    """Soft targets (input's shape, classes on dim 1, or dim 0 of a 1-D input): -sum_c w_c * target_c *
    log_softmax(input)_c per sample, composed of tensor ops (log_softmax is one fused kernel); 'mean' divides the
    sum by the number of samples (N * d1 * ...), whatever the weights, as PyTorch does."""
    if ignore_index >= 0:
        raise RuntimeError("ignore_index is not supported for floating point target")
    check_same_device(input, target)
    class_dim = 0 if input.ndim == 1 else 1
    classes = input._shape[class_dim]
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    logp = log_softmax(input, class_dim)
    if weight is not None:
        _check_weight(weight, classes)
        logp = logp * weight.reshape((classes,) + (1,) * (input.ndim - 1 - class_dim))
    loss = -(logp * target).sum(class_dim)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / (input.numel() // classes if classes else math.nan)
