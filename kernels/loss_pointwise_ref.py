"""NumPy references of kernels/loss_pointwise.py: each loss and its (d/d input, d/d target) per element,
computed in fp32 (fp64 for fp64 inputs, as the kernels accumulate), then reduced and cast to the input's dtype."""

from __future__ import annotations

import math

import numpy as np

from .special import np_sigmoid


def _acc(x: np.ndarray) -> np.dtype:
    return np.dtype(np.float64 if x.dtype == np.float64 else np.float32)


def _softplus_neg_np(x):
    return np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))


def _stirling_np(t, full):
    if not full:
        return np.zeros_like(t)
    ts = np.where(t > 1, t, 2.0)
    return np.where(t > 1, ts * np.log(ts) - ts + 0.5 * np.log(2 * math.pi * ts), 0.0)


def _loss_np(loss: str, x, t, pw, a, mode):
    if loss in ("mse_loss", "l1_loss"):
        return (x - t) ** 2 if loss == "mse_loss" else np.abs(x - t)
    if loss == "binary_cross_entropy":
        return (t - 1) * np.maximum(np.log1p(-x), -100) - t * np.maximum(np.log(x), -100)
    if loss == "binary_cross_entropy_with_logits":
        return (1 - t) * x + (1 + (pw - 1) * t) * _softplus_neg_np(x)
    if loss in ("huber_loss", "smooth_l1_loss"):
        d = x - t
        z = np.abs(d)
        if loss == "huber_loss":
            return np.where(z < a, 0.5 * d * d, a * (z - 0.5 * a))
        return np.where(z < a, 0.5 * d * d / (a if a > 0 else 1), z - 0.5 * a)
    if loss == "kl_div":
        return np.exp(t) * (t - x) if mode else np.where(t == 0, 0, t * np.log(np.where(t == 0, 1, t))) - t * x
    if loss == "poisson_nll_loss":
        base = np.exp(x) - t * x if int(mode) % 2 else x - t * np.log(x + a)
        return base + _stirling_np(t, mode >= 2)
    return _softplus_neg_np(t * x)  # soft_margin_loss


def _grads_np(loss: str, x, t, pw, a, mode):
    if loss in ("mse_loss", "l1_loss"):
        dx = 2 * (x - t) if loss == "mse_loss" else np.sign(x - t)
        return dx, -dx
    if loss == "binary_cross_entropy":
        return (x - t) / np.maximum((1 - x) * x, 1e-12), np.maximum(np.log1p(-x), -100) - np.maximum(np.log(x), -100)
    if loss == "binary_cross_entropy_with_logits":
        return (1 + (pw - 1) * t) * np_sigmoid(x)[0] - pw * t, (pw - 1) * _softplus_neg_np(x) - x
    if loss in ("huber_loss", "smooth_l1_loss"):
        d = x - t
        dx = np.clip(d, -a, a) if loss == "huber_loss" else np.where(np.abs(d) < a, d / (a if a > 0 else 1), np.sign(d))
        return dx, -dx
    if loss == "kl_div":
        return (-np.exp(t), np.exp(t) * (t - x + 1)) if mode else (-t, np.log(t) + 1 - x)
    if loss == "poisson_nll_loss":
        dx, dt = (np.exp(x) - t, -x) if int(mode) % 2 else (1 - t / (x + a), -np.log(x + a))
        if mode >= 2:
            ts = np.where(t > 1, t, 2.0)
            dt = dt + np.where(t > 1, np.log(ts) + 0.5 / ts, 0.0)
        return dx, dt
    s = np_sigmoid(-t * x)[0]  # soft_margin_loss
    return -t * s, -x * s


def pointwise_loss_ref(x: np.ndarray, t: np.ndarray, weight: np.ndarray | None = None,
                       pos_weight: np.ndarray | None = None, *, loss: str, param: float = 0.0, mode: float = 0.0,
                       reduction: str = "mean", divisor: int | None = None) -> np.ndarray:
    """The loss in x's dtype; operands broadcast to one shape. reduction none/sum/mean; divisor replaces
    numel as the mean's denominator ("batchmean": the batch size)."""
    acc = _acc(x)
    xa, ta = x.astype(acc), t.astype(acc)
    pw = np.ones((), acc) if pos_weight is None else pos_weight.astype(acc)
    with np.errstate(all="ignore"):
        out = _loss_np(loss, xa, ta, pw, acc.type(param), mode)
        if weight is not None:
            out = out * weight.astype(acc)
        out = np.broadcast_to(out, np.broadcast_shapes(x.shape, t.shape)).astype(acc)
        if reduction == "sum":
            out = out.sum(dtype=acc)
        elif reduction == "mean":
            out = out.sum(dtype=acc) / acc.type(out.size if divisor is None else divisor)
    return np.asarray(out).astype(x.dtype)


def pointwise_loss_backward_ref(grad: np.ndarray, x: np.ndarray, t: np.ndarray, weight: np.ndarray | None = None,
                                pos_weight: np.ndarray | None = None, *, loss: str, param: float = 0.0,
                                mode: float = 0.0, divisor: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(grad_x, grad_t) in x's dtype at the broadcast shape; grad per element (divisor None), or a scalar
    divided by divisor ("sum": 1)."""
    acc = _acc(x)
    xa, ta = x.astype(acc), t.astype(acc)
    pw = np.ones((), acc) if pos_weight is None else pos_weight.astype(acc)
    g = np.asarray(grad).astype(acc)
    if divisor is not None:
        with np.errstate(all="ignore"):
            g = g.reshape(()) / acc.type(divisor)
    if weight is not None:
        g = g * weight.astype(acc)
    shape = np.broadcast_shapes(x.shape, t.shape)
    with np.errstate(all="ignore"):
        dx, dt = _grads_np(loss, xa, ta, pw, acc.type(param), mode)
    return (np.broadcast_to(g * dx, shape).astype(x.dtype), np.broadcast_to(g * dt, shape).astype(x.dtype))
