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


def _bce_logits_np(x, t, pw):
    """(1 - t) * x + (1 + (pw - 1) * t) * softplus(-x), the same roundings in place on fresh buffers."""
    if x.ndim == 0 or x.shape != t.shape or np.broadcast_shapes(x.shape, pw.shape) != x.shape:
        return (1 - t) * x + (1 + (pw - 1) * t) * _softplus_neg_np(x)
    sp = np.abs(x)
    np.negative(sp, out=sp)
    np.exp(sp, out=sp)
    np.log1p(sp, out=sp)
    m = np.negative(x)
    np.maximum(m, 0, out=m)
    np.add(m, sp, out=sp)
    if pw.ndim or pw != 1:
        c = np.multiply(pw - 1, t, out=m)
        np.add(1, c, out=c)
        np.multiply(c, sp, out=sp)
    out = np.subtract(1, t)
    np.multiply(out, x, out=out)
    np.add(out, sp, out=out)
    if pw.ndim == 0 and pw == 1:
        # a factor 1 + 0 * t is 1 except at an infinite t, where it is NaN: those elements as before
        bad = np.isinf(t)
        if bad.any():
            out[bad] = (1 - t[bad]) * x[bad] + (1 + (pw - 1) * t[bad]) * _softplus_neg_np(x[bad])
    return out


def _loss_np(loss: str, x, t, pw, a, mode):
    if loss in ("mse_loss", "l1_loss"):
        d = x - t
        if not isinstance(d, np.ndarray):
            return d ** 2 if loss == "mse_loss" else np.abs(d)
        return np.square(d, out=d) if loss == "mse_loss" else np.abs(d, out=d)
    if loss == "binary_cross_entropy":
        return (t - 1) * np.maximum(np.log1p(-x), -100) - t * np.maximum(np.log(x), -100)
    if loss == "binary_cross_entropy_with_logits":
        return _bce_logits_np(x, t, pw)
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


def _bce_logits_grads_np(x, t, pw, need_t: bool):
    """((1 + (pw - 1) t) sigmoid(x) - pw t, (pw - 1) softplus(-x) - x); pw = 1 skips its exact factors."""
    dt = (pw - 1) * _softplus_neg_np(x) - x if need_t else None
    if pw.ndim or pw != 1 or x.ndim == 0 or x.shape != t.shape:
        return (1 + (pw - 1) * t) * np_sigmoid(x)[0] - pw * t, dt
    # 1 + 0 * t is 1 and 1 * t is t, except at an infinite t (NaN): those elements as before
    dx = np.subtract(np_sigmoid(x)[0], t)
    bad = np.isinf(t)
    if bad.any():
        dx[bad] = (1 + (pw - 1) * t[bad]) * np_sigmoid(x[bad])[0] - pw * t[bad]
    return dx, dt


def _grads_np(loss: str, x, t, pw, a, mode, need_t: bool = True):
    if loss in ("mse_loss", "l1_loss"):
        d = x - t
        if isinstance(d, np.ndarray):
            # np.sign in place takes a slow path (12x here): only the multiply reuses d
            dx = np.multiply(2, d, out=d) if loss == "mse_loss" else np.sign(d)
        else:
            dx = 2 * d if loss == "mse_loss" else np.sign(d)
        return dx, (-dx if need_t else None)
    if loss == "binary_cross_entropy":
        return (x - t) / np.maximum((1 - x) * x, 1e-12), np.maximum(np.log1p(-x), -100) - np.maximum(np.log(x), -100)
    if loss == "binary_cross_entropy_with_logits":
        return _bce_logits_grads_np(x, t, pw, need_t)
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
    # the operands are only read: fp32/fp64 ones are used as they are
    xa, ta = x.astype(acc, copy=False), t.astype(acc, copy=False)
    pw = np.ones((), acc) if pos_weight is None else pos_weight.astype(acc, copy=False)
    shape = np.broadcast_shapes(x.shape, t.shape)
    with np.errstate(all="ignore"):
        out = _loss_np(loss, xa, ta, pw, acc.type(param), mode)
        if weight is not None:
            w = weight.astype(acc, copy=False)
            out = np.multiply(out, w, out=out) if _fresh_full(out, shape, acc) and w.ndim <= out.ndim and \
                np.broadcast_shapes(w.shape, shape) == shape else out * w
        fresh = _fresh_full(out, shape, acc)
        if not fresh:
            out = np.broadcast_to(out, shape).astype(acc)
        if reduction == "sum":
            return np.asarray(out.sum(dtype=acc)).astype(x.dtype)
        if reduction == "mean":
            return np.asarray(out.sum(dtype=acc) / acc.type(out.size if divisor is None else divisor)).astype(x.dtype)
    return out.astype(x.dtype, copy=False)


def _fresh_full(out, shape: tuple, acc: np.dtype) -> bool:
    # a loss computed into its own full-shape buffer of the accumulation dtype needs no broadcast copy
    return isinstance(out, np.ndarray) and out.shape == shape and out.dtype == acc and out.flags.writeable \
        and out.flags.c_contiguous


def pointwise_loss_backward_ref(grad: np.ndarray, x: np.ndarray, t: np.ndarray, weight: np.ndarray | None = None,
                                pos_weight: np.ndarray | None = None, *, loss: str, param: float = 0.0,
                                mode: float = 0.0, divisor: int | None = None,
                                need_t: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """(grad_x, grad_t) in x's dtype at the broadcast shape; grad per element (divisor None), or a scalar
    divided by divisor ("sum": 1). need_t=False returns None for grad_t."""
    acc = _acc(x)
    xa, ta = x.astype(acc, copy=False), t.astype(acc, copy=False)
    pw = np.ones((), acc) if pos_weight is None else pos_weight.astype(acc, copy=False)
    g = np.asarray(grad).astype(acc)
    if divisor is not None:
        with np.errstate(all="ignore"):
            g = g.reshape(()) / acc.type(divisor)
    if weight is not None:
        g = g * weight.astype(acc)
    shape = np.broadcast_shapes(x.shape, t.shape)
    with np.errstate(all="ignore"):
        dx, dt = _grads_np(loss, xa, ta, pw, acc.type(param), mode, need_t)
        gx = _scaled(g, dx, shape, x.dtype)
        return gx, (_scaled(g, dt, shape, x.dtype) if need_t else None)


def _scaled(g: np.ndarray, d, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """g * d at `shape` in `dtype`: in place on d when d is its own full-shape buffer (d's grads are fresh)."""
    if isinstance(d, np.ndarray) and d.shape == shape and d.flags.writeable and d.flags.c_contiguous and \
            np.broadcast_shapes(g.shape, shape) == shape and d.dtype == np.result_type(g, d):
        return np.multiply(g, d, out=d).astype(dtype, copy=False)
    return np.broadcast_to(g * d, shape).astype(dtype)
