"""The distance and margin losses, composed of tensor ops (each term is already one fused kernel, and the
reductions over a feature dim are the reduction kernels): cosine_embedding_loss, margin_ranking_loss,
hinge_embedding_loss, multilabel_soft_margin_loss, multilabel_margin_loss, multi_margin_loss,
triplet_margin_loss, triplet_margin_with_distance_loss and gaussian_nll_loss.

Integer targets (multilabel_margin_loss, multi_margin_loss) are read on the host to build masks: they are
never differentiable, and the masks turn the per-sample loops of PyTorch's kernels into dense tensor ops.
The public functions take PyTorch's ATen arguments (reduction a string); nn.functional adds the deprecated
size_average/reduce flags and the Python-level checks.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes as D
from ..tensor import Tensor
from .dispatch import check_same_device
from .distance import pairwise_distance
from .loss_pointwise import check_reduction
from .unary import torch_type_name

# PyTorch has these four in the torch namespace too (reduction also as its integer enum 0/1/2).
__all__ = ["cosine_embedding_loss", "hinge_embedding_loss", "margin_ranking_loss", "triplet_margin_loss"]

_EPSILON = 1e-12  # cosine_embedding_loss's guard on the squared magnitudes, as PyTorch's


def _sizes(shape: tuple) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    """loss as is ("none"), summed or averaged."""
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _where(cond: Tensor, a: Tensor, b) -> Tensor:
    return a.where(cond, b)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where target == 1, max(0, cos(x1, x2) - margin) where target == -1."""
    reduction = check_reduction(reduction)
    check_same_device(input1, input2, target)
    tdim = target.ndim
    if tdim not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if tdim == 1 and (input1.ndim != 2 or input2.ndim != 2):
        raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with sizes "
                           f"{_sizes(input1._shape)} and {_sizes(input2._shape)}.")
    if tdim == 0 and (input1.ndim != 1 or input2.ndim != 1):
        raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with sizes "
                           f"{_sizes(input1._shape)} and {_sizes(input2._shape)}.")
    prod = (input1 * input2).sum(tdim)
    mag1 = (input1 * input1).sum(tdim) + _EPSILON
    mag2 = (input2 * input2).sum(tdim) + _EPSILON
    cos = prod / (mag1 * mag2).sqrt()
    zeros = cos * 0
    loss = _where(target == 1, 1 - cos, zeros) + _where(target == -1, (cos - margin).clamp_min(0), zeros)
    return reduce_loss(loss, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        reduction: str = "mean") -> Tensor:
    """max(0, -target (x1 - x2) + margin)."""
    reduction = check_reduction(reduction)
    return reduce_loss((-target * (input1 - input2) + margin).clamp_min(0), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """x where target == 1, max(0, margin - x) where target == -1 (both terms for other target values, as
    PyTorch's where-based formula)."""
    reduction = check_reduction(reduction)
    zeros = input * 0
    loss = _where(target != 1, (margin - input).clamp_min(0), zeros) + _where(target != -1, input, zeros)
    return reduce_loss(loss, reduction)


def _logsigmoid(x: Tensor) -> Tensor:
    # log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): stable for any x.
    return x.clamp_max(0) - (-x.abs()).exp().log1p()


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                reduction: str = "mean") -> Tensor:
    """-(t log sigmoid(x) + (1 - t) log sigmoid(-x)), times weight, averaged over the classes (last dim)."""
    reduction = check_reduction(reduction)
    loss = -(target * _logsigmoid(input) + (1 - target) * _logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.ndim - 1
    loss = loss.sum(class_dim) / input._shape[class_dim]
    return reduce_loss(loss, reduction)


def _check_int_target(name: str, target: Tensor) -> None:
    if target.dtype is not D.int64:
        raise RuntimeError(f"expected scalar type Long but found {torch_type_name(target.dtype)}")


def _host_targets(target: Tensor) -> np.ndarray:
    return target.detach().cpu()._host()


def multilabel_margin_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """sum over target classes j (up to the first -1) and non-target classes i of max(0, 1 - (x[j] - x[i])),
    divided by C."""
    reduction = check_reduction(reduction)
    _check_int_target("multilabel_margin_loss", target)
    nd = input.ndim
    if not ((nd <= 2 and input.numel() > 0) or (nd == 2 and input._shape[1] > 0)):
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                           f"{_sizes(input._shape)}")
    C = 1 if nd == 0 else input._shape[-1]
    ok = (target.ndim <= 1 and target.numel() == C) if nd <= 1 else \
        (target.ndim == 2 and target._shape == input._shape)
    if not ok:
        raise RuntimeError(f"inconsistent target size: {_sizes(target._shape)} for input of size: "
                           f"{_sizes(input._shape)}")
    check_same_device(input, target)
    t = _host_targets(target).reshape(-1, C)
    if ((t < -1) | (t >= C)).any():
        raise RuntimeError("multilabel_margin_loss: target index out of range")
    # Valid targets: each row's entries before its first -1.
    valid = np.cumprod(t != -1, axis=1).astype(bool)
    tc = np.where(valid, t, 0)
    is_target = np.zeros(t.shape, bool)
    rows = np.nonzero(valid)[0]
    is_target[rows, tc[valid]] = True
    x = input.reshape(-1, C)
    x_t = x.gather(1, Tensor._wrap(tc).to(input.device))  # (N, S) target logits
    diff = (1 - x_t.unsqueeze(2) + x.unsqueeze(1)).clamp_min(0)  # (N, S, C)
    mask = valid[:, :, None] & ~is_target[:, None, :]
    loss = (diff * Tensor._wrap(mask.astype(input.dtype.np)).to(input.device)).sum((1, 2)) / C
    loss = loss.reshape(input._shape[:-1] if nd == 2 else ())
    return reduce_loss(loss, reduction)


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0, weight: Tensor | None = None,
                      reduction: str = "mean") -> Tensor:
    """sum over i != y of w[y] max(0, margin - x[y] + x[i])^p, divided by C (p = 1 or 2)."""
    reduction = check_reduction(reduction)
    _check_int_target("multi_margin_loss", target)
    nd = input.ndim
    if not ((nd == 2 and input._shape[1] != 0) or (nd == 1 and input._shape[0] != 0) or nd == 0):
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                           f"{_sizes(input._shape)}")
    nframe = input._shape[0] if nd == 2 else 1
    C = 1 if nd == 0 else input._shape[-1]
    if not (target.ndim <= 1 and target.numel() == nframe):
        raise RuntimeError(f"inconsistent target size, expected {nframe} but got {_sizes(target._shape)}")
    if weight is not None and not (weight.ndim <= 1 and weight.numel() == C):
        raise RuntimeError(f"inconsistent weight size, expected {C} but got {_sizes(weight._shape)}")
    check_same_device(*(a for a in (input, target, weight) if a is not None))
    t = _host_targets(target).reshape(-1)
    if ((t < 0) | (t >= C)).any():
        raise RuntimeError("target out of range")
    x = input.reshape(nframe, C)
    tt_ = Tensor._wrap(t.reshape(-1, 1)).to(input.device)
    x_t = x.gather(1, tt_)
    z = (margin - x_t + x).clamp_min(0)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * weight.reshape(-1).gather(0, tt_.reshape(-1)).unsqueeze(1)
    not_t = Tensor._wrap((np.arange(C)[None, :] != t[:, None]).astype(input.dtype.np)).to(input.device)
    loss = (z * not_t).sum(1) / C
    loss = loss.reshape(input._shape[:1] if nd == 2 else ())
    return reduce_loss(loss, reduction)


def _check_triplet_dims(anchor: Tensor, positive: Tensor, negative: Tensor) -> None:
    a, p, n = anchor.ndim, positive.ndim, negative.ndim
    if not (a == p and p == n):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {a}D, positive {p}D, and negative {n}D inputs")


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2.0,
                        eps: float = 1e-6, swap: bool = False, reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)), d the p-norm pairwise distance; swap uses min(d(a, n), d(p, n))."""
    reduction = check_reduction(reduction)
    _check_triplet_dims(anchor, positive, negative)
    return _triplet(anchor, positive, negative, lambda a, b: pairwise_distance(a, b, p, eps), margin, swap,
                    reduction)


def _triplet(anchor, positive, negative, dist, margin: float, swap: bool, reduction: str) -> Tensor:
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = d_neg.minimum(dist(positive, negative))
    return reduce_loss((margin + d_pos - d_neg).clamp_min(0), reduction)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *, distance_function=None,
                                      margin: float = 1.0, swap: bool = False, reduction: str = "mean") -> Tensor:
    """triplet_margin_loss with any distance function (default: pairwise_distance)."""
    if margin <= 0:
        raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} instead")
    reduction = check_reduction(reduction)
    _check_triplet_dims(anchor, positive, negative)
    return _triplet(anchor, positive, negative, distance_function or pairwise_distance, margin, swap, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ 0.5 log(2 pi) when full).

    var is input's shape, input's shape without its last dim (one variance per sample: homoscedastic), or
    that with a last dim of 1; a float is a constant variance."""
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = input.detach() * 0 + var
    if var._shape != input._shape:
        if input._shape[:-1] == var._shape:
            var = var.unsqueeze(-1)
        elif input._shape[:-1] == var._shape[:-1] and var._shape[-1:] == (1,):
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    if bool((var.detach() < 0).any()):
        raise ValueError("var has negative entry/entries")
    # PyTorch clamps under no_grad: the gradient passes through the clamp unchanged.
    vd = var.detach()
    var = var + (vd.clamp_min(eps) - vd)
    diff = input - target
    loss = 0.5 * (var.log() + diff * diff / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduce_loss(loss, reduction)
