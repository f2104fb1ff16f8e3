"""ctc_loss: the CTC loss as an autograd op over kernels/ctc.py (NumPy on cpu).

log_probs is (T, N, C) or unbatched (T, C); targets padded (N, S) or the targets of every item concatenated
(1-D); input_lengths / target_lengths tensors or sequences of ints. The op computes the per-item negative
log-likelihood (alpha recursion, one program per item) and its gradient (beta recursion, the same program
shape); the reduction over the (N,) losses ('mean': each divided by its target length, then averaged) is
composed of tensor ops. zero_infinity zeroes infinite losses and their gradients. The gradient is PyTorch's
(see kernels/ctc.py): correct through the log_softmax that produces log_probs; like PyTorch's, it is not
differentiable again.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import ctc as K
from ..tensor import Tensor
from .unary import torch_type_name

__all__ = ["ctc_loss"]

_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _acc(dtype: D.dtype) -> D.dtype:
    return D.float64 if dtype is D.float64 else D.float32


class CtcLoss(Function):
    """Per-item CTC losses (N,) of already validated arguments (targets int64; lengths host int64 arrays)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, lp: Tensor, targets: Tensor, in_len: np.ndarray, tgt_len: np.ndarray, offsets: np.ndarray,
                stride: int, blank: int, zero_infinity: bool) -> Tensor:
        ctx.args = (in_len, tgt_len, offsets, stride, blank, zero_infinity)
        if lp.device.type == "cpu":
            nll = K.ctc_loss_ref(lp._host(), _label_lists(targets._host(), tgt_len, offsets, stride), in_len, blank)
            nll_t = Tensor._wrap(nll.astype(_acc(lp.dtype).np))
            ctx.save_for_backward(lp, targets, nll_t)
        else:
            T, N, _ = lp._shape
            dev = lp.device
            nll_t = Tensor._empty((N,), _acc(lp.dtype), dev)
            pitch = 2 * int(tgt_len.max(initial=0)) + 1
            alpha = Tensor._empty((N, T, pitch), _acc(lp.dtype), dev)
            host = [Tensor._from_host(a, dev) for a in (offsets, in_len, tgt_len)]
            K.ctc_forward(nll_t._dev(), alpha._dev(), lp._dev(), targets._dev(), *(h._dev() for h in host), stride,
                          int(tgt_len.max(initial=0)), blank)
            ctx.save_for_backward(lp, targets, nll_t)
            ctx.device_state = (alpha, host)
        out = nll_t.to(lp.dtype) if nll_t.dtype is not lp.dtype else nll_t
        if zero_infinity:
            out = out.masked_fill(out == float("inf"), 0.0)
        return out

    @staticmethod
    def backward(ctx, grad):
        lp, targets, nll = ctx.saved_tensors
        in_len, tgt_len, offsets, stride, blank, zero_infinity = ctx.args
        g = grad.detach().to(_acc(lp.dtype))
        if zero_infinity:
            g = g.masked_fill(nll == float("inf"), 0.0)
        if lp.device.type == "cpu":
            labels = _label_lists(targets._host(), tgt_len, offsets, stride)
            gx = K.ctc_grad_ref(g._host(), lp._host(), labels, in_len, nll._host(), blank)
            return Tensor._wrap(gx), None, None, None, None, None, None, None
        alpha, host = ctx.device_state
        gx = Tensor._empty(lp._shape, lp.dtype, lp.device)
        beta = Tensor._empty(alpha._shape, alpha.dtype, lp.device)
        K.ctc_backward(gx._dev(), g.contiguous()._dev(), beta._dev(), alpha._dev(), nll._dev(), lp._dev(),
                       targets._dev(), *(h._dev() for h in host), stride, int(tgt_len.max(initial=0)), blank)
        return gx, None, None, None, None, None, None, None


def _label_lists(targets: np.ndarray, tgt_len: np.ndarray, offsets: np.ndarray, stride: int) -> list[np.ndarray]:
    flat = targets.reshape(-1)
    return [flat[int(o) + np.arange(int(n)) * stride] for o, n in zip(offsets, tgt_len)]


def _lengths(name: str, value, batch: int) -> np.ndarray:
    if isinstance(value, Tensor):
        if value.dtype.is_floating_point or value.dtype is D.bool:
            raise RuntimeError(f"{name} must be integral")
        arr = value.detach().cpu()._host().astype(np.int64).reshape(-1)
    else:
        arr = np.asarray(list(value) if not isinstance(value, int) else [value], dtype=np.int64).reshape(-1)
    if arr.shape[0] != batch:
        raise RuntimeError(f"{name} must be of size batch_size")
    return arr


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths, blank: int = 0,
             reduction: str | int = "mean", zero_infinity: bool = False) -> Tensor:
    """The CTC loss of (T, N, C) (or (T, C)) log-probabilities against padded (N, S) or concatenated targets.

    reduction 'none' gives the (N,) losses, 'sum' their sum, 'mean' the mean of each loss divided by its
    target length (clamped to 1); torch.ctc_loss's integer reduction (0 none, 1 mean, 2 sum) works too."""
    reduction = _REDUCTIONS.get(reduction, reduction) if isinstance(reduction, int) else reduction
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if not log_probs.dtype.is_floating_point:
        raise RuntimeError(f"\"ctc_loss\" not implemented for '{torch_type_name(log_probs.dtype)}'")
    batched = log_probs.ndim == 3
    if log_probs.ndim not in (2, 3):
        raise RuntimeError(f"ctc_loss: expected log_probs to be 2-D or 3-D, got {log_probs.ndim}-D")
    lp = log_probs if batched else log_probs.unsqueeze(1)
    if not batched:
        targets = targets.unsqueeze(0) if targets.ndim == 1 else targets
    T, N, C = lp._shape
    if targets.dtype not in (D.int64, D.int32):
        raise RuntimeError(f"ctc_loss: expected targets to be Long or Int, got {torch_type_name(targets.dtype)}")
    if not 0 <= blank < C:
        raise RuntimeError("blank must be in label range")
    in_len = _lengths("input_lengths", input_lengths, N)
    tgt_len = _lengths("target_lengths", target_lengths, N)
    for b in range(N):
        if in_len[b] > T or in_len[b] < 0:
            raise RuntimeError(f"Expected input_lengths to have value at most {T}, but got value {in_len[b]} "
                               f"(while checking arguments for ctc_loss_cpu)")
    if targets.ndim == 1:  # concatenated
        offsets = np.concatenate([[0], np.cumsum(tgt_len)[:-1]]).astype(np.int64)
        stride = 1
        if tgt_len.sum() > targets.numel():
            raise RuntimeError(f"Expected tensor to have size at least {int(tgt_len.sum())} at dimension 0, but got "
                               f"size {targets.numel()} for argument #2 'targets' (while checking arguments for "
                               f"ctc_loss_cpu)")
    else:
        max_len = int(tgt_len.max(initial=0))
        if targets._shape[1] < max_len:
            raise RuntimeError(f"Expected tensor to have size at least {max_len} at dimension 1, but got size "
                               f"{targets._shape[1]} for argument #2 'targets' (while checking arguments for "
                               f"ctc_loss_cpu)")
        targets = targets.contiguous()
        offsets = np.arange(N, dtype=np.int64) * targets._shape[1]
        stride = 1
    tgt = targets.detach().to(D.int64).contiguous()
    losses = CtcLoss.apply(lp, tgt, in_len, tgt_len, offsets, stride, int(blank), bool(zero_infinity))
    if not batched:
        losses = losses.squeeze(0) if reduction == "none" else losses
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    denom = Tensor._wrap(np.maximum(tgt_len, 1).astype(losses.dtype.np)).to(lp.device)
    return (losses / denom).mean()
