"""NumPy references of batch normalisation (kernels/batch_norm.py), forward and backward.

Arrays are (N, C, *spatial); statistics over every axis but 1 in fp32 (fp64 for fp64 inputs), the kernels'
statistics type, summed along contiguous runs (see `_channel_sum`).
"""

from __future__ import annotations

import numpy as np


def _acc(a: np.ndarray) -> type:
    return np.float64 if a.dtype == np.float64 else np.float32


def _channel_sum(a3: np.ndarray) -> np.ndarray:
    """Per-channel sums of a (N, C, S) array. NumPy sums a contiguous run pairwise (error ~ log n) but a leading
    axis row after row (~ n): long runs are summed along S first, short ones (an (N, C) input has S = 1) are
    first copied to one contiguous row per channel."""
    if a3.shape[2] >= 64:
        return a3.sum(axis=2).sum(axis=0)
    return np.ascontiguousarray(a3.transpose(1, 0, 2)).reshape(a3.shape[1], -1).sum(axis=1)


def _ncs(a: np.ndarray, acc: type) -> np.ndarray:
    return a.reshape(a.shape[0], a.shape[1], -1).astype(acc, copy=False)


def batch_norm_ref(x: np.ndarray, running_mean: np.ndarray | None, running_var: np.ndarray | None,
                   weight: np.ndarray | None, bias: np.ndarray | None, training: bool, momentum: float,
                   eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y, mean, invstd) of a non-empty x: y in x's dtype, mean and invstd (C,) in the statistics' type.

    Training normalises with the batch's biased variance (two passes: the mean, then squared deviations) and,
    when running buffers are given, updates them in place: running = (1 - momentum) * running + momentum * batch
    (the unbiased variance for running_var). Eval mode normalises with the running statistics."""
    acc = _acc(x)
    x3 = _ncs(x, acc)
    if training:
        count = x3.shape[0] * x3.shape[2]
        mean = _channel_sum(x3) / count
        centered = x3 - mean[:, None]
        var = _channel_sum(centered * centered) / count
        if running_mean is not None:
            if count > 1:
                unbiased = var * (count / (count - 1))
            else:  # np.errstate only here: entering it costs more than the update itself
                with np.errstate(invalid="ignore"):  # one value per channel: 0 * inf = NaN, as the kernel's
                    unbiased = var * np.inf
            running_mean[...] = (1 - momentum) * running_mean.astype(acc) + momentum * mean
            running_var[...] = (1 - momentum) * running_var.astype(acc) + momentum * unbiased
    else:
        mean, var = running_mean.astype(acc), running_var.astype(acc)
        centered = x3 - mean[:, None]
    invstd = (1.0 / np.sqrt(var + acc(eps))).astype(acc)
    scale = invstd * weight.astype(acc) if weight is not None else invstd
    centered *= scale[:, None]  # y, in place
    if bias is not None:
        centered += bias.astype(acc)[:, None]
    return centered.astype(x.dtype, copy=False).reshape(x.shape), mean.astype(acc), invstd


def batch_norm_backward_ref(dy: np.ndarray, x: np.ndarray, mean: np.ndarray, invstd: np.ndarray,
                            weight: np.ndarray | None, training: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grad_x, grad_weight, grad_bias) of batch_norm of a non-empty x given the forward's mean and invstd (C,).

    Training: dx = w * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)); eval: dx = w * invstd * dy.
    grad_weight = sum(dy * xhat), grad_bias = sum(dy), both in x's dtype (weight's when given)."""
    acc = _acc(x)
    mean, invstd = mean.astype(acc), invstd.astype(acc)
    g = _ncs(dy, acc)
    centered = _ncs(x, acc) - mean[:, None]
    sum_dy = _channel_sum(g)
    sum_dy_xhat = _channel_sum(g * centered) * invstd
    k = invstd * weight.astype(acc) if weight is not None else invstd
    if training:
        count = g.shape[0] * g.shape[2]
        # k * (dy - mean(dy) - xhat * mean(dy * xhat)), with xhat = centered * invstd; in place on one buffer.
        dx = g - (sum_dy / count)[:, None]
        centered *= (invstd * sum_dy_xhat / count)[:, None]
        dx -= centered
        dx *= k[:, None]
    else:
        dx = g * k[:, None]
    out_dtype = weight.dtype if weight is not None else x.dtype
    return dx.astype(x.dtype, copy=False).reshape(x.shape), sum_dy_xhat.astype(out_dtype), sum_dy.astype(out_dtype)
