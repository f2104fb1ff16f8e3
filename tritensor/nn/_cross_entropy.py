"""cross_entropy / nll_loss from class indices as one autograd op over kernels/loss.py (NumPy on cpu).

Logits are (C,), (N, C) or (N, C, d1, ...); the kernels see them as (M0, M1, C) rows (see _layout)
and the targets as the matching (M0, M1), so the class dim is never permuted. The forward writes
per-row losses, target weights and logsumexps, then reduces them in one deterministic program; the
per-row logsumexp (and the mean's denominator) are saved for the fused backward kernel.

The tensor-op backward (create_graph=True) uses that the loss is linear in the target terms:
  grad_x = g * (A * softmax(x) - Q),  A = (1 - eps) w_t + eps / C * sum(w),  Q = (1 - eps) w_t onehot(t) + eps / C * w
(NLL: grad_x = -g * w_t * onehot(t)); A and Q depend only on the targets and weights, so they are
built on the host and only softmax(x) carries the graph.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import loss as K
from ..tensor import Tensor
from ._layout import rows2, rows3
from ._softmax import Softmax


def _acc_dtype(dtype: D.dtype) -> D.dtype:
    return D.float64 if dtype is D.float64 else D.float32


def _host(t: Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().cpu()._host()


class NllLoss(Function):
    """cross_entropy (nll=False) and nll_loss (nll=True); PyTorch names both nodes NllLossBackward0.

    Arguments already validated by nn.functional: x float (C,)/(N, C)/(N, C, ...), target int64 with x's
    shape minus the class dim, weight (C,) in x's dtype or None, reduction one of none/sum/mean."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, label_smoothing: float,
                reduction: str, nll: bool) -> Tensor:
        ctx.args = (ignore_index, label_smoothing, reduction, nll)
        class_dim = 0 if x.ndim == 1 else 1
        if x.device.type == "cpu":
            xh, th, wh = x._host(), target._host(), _host(weight)
            out = Tensor._wrap(K.cross_entropy_ref(xh, th, wh, ignore_index, reduction, label_smoothing, nll))
            ctx.save_for_backward(x, target, weight)
            return out
        acc = _acc_dtype(x.dtype)
        _, xv = rows3(x, class_dim)
        _, tv = rows2(target, min(1, target.ndim))
        M = target.numel()
        loss = Tensor._empty(target._shape, acc, x.device)
        wt = Tensor._empty((M,), acc, x.device)
        lse = Tensor._empty((M,), acc, x.device)
        flat = loss._dev().view_as((M,), (1,))
        K.cross_entropy(flat, wt._dev(), lse._dev(), xv, tv, None if weight is None else weight._dev(), ignore_index,
                        label_smoothing, nll)
        denom = None
        if reduction == "none":
            out = loss if acc is x.dtype else _cast(loss, x.dtype)
        else:
            out = Tensor._empty((), x.dtype, x.device)
            denom = Tensor._empty((1,), acc, x.device) if reduction == "mean" else None
            K.reduce_rows(out._dev().view_as((1,), (1,)), None if denom is None else denom._dev(), flat, wt._dev(),
                          reduction == "mean")
        ctx.save_for_backward(x, target, weight, lse, denom)
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
        p = Softmax.apply(x, class_dim, False)
        return g * (a_t * p - q_t), None, None, None, None, None, None

    def backward_fused(self, grad):
        ignore_index, eps, reduction, nll = self.args
        saved = self.saved_tensors
        x, target, weight = saved[:3]
        if x.device.type == "cpu":
            gx = K.cross_entropy_backward_ref(grad._host(), x._host(), target._host(), _host(weight), ignore_index,
                                              reduction, eps, nll)
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
        K.cross_entropy_backward(gxv, gv, None if denom is None else denom._dev(), xv, tv,
                                 None if weight is None else weight._dev(), lse._dev(), ignore_index, eps, nll)
        return gx, None, None, None, None, None, None


def _cast(t: Tensor, dtype: D.dtype) -> Tensor:
    from ..ops.dispatch import cast

    return cast(t, dtype)
