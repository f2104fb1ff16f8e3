"""NumPy references of scaled dot-product attention, forward and backward (the cpu path and the tests' oracle).

Shapes follow PyTorch: q (..., Hq, L, E), k (..., Hk, S, E), v (..., Hk, S, Ev) whose leading dims broadcast
against each other (NumPy rules), with Hq a multiple of Hk (grouped-query attention: query head h reads key /
value head h // (Hq // Hk)). `mask` is None, bool (True = the key takes part) or floating (added to the scaled
scores), broadcastable to (..., Hq, L, S). `causal` keeps key j for query i when j <= i (top-left aligned,
tril(ones(L, S))). A query row that keeps no key gives output 0 and gradient 0 (PyTorch's `_safe_softmax`).

Arithmetic is fp32 for fp16/bf16/fp32 inputs and fp64 for fp64 ones; results are cast back to the inputs' dtype.

Dropout draws the same Philox mask as the Triton kernels: the probability P[bh, i, j] of the flattened
(B * Hq, L, S) attention matrix is kept when philox_uniform(seed + bh * 2**32, i * S + j) < 1 - p (the Philox
key is (seed, bh), the counter the position inside the head), and kept ones are scaled by 1 / (1 - p).
"""

from __future__ import annotations

import numpy as np

from .dropout import philox_uniform


def acc_dtype(dtype) -> type:
    """The dtype attention statistics and products are computed in."""
    return np.float64 if np.dtype(dtype) == np.float64 else np.float32


def group_expand(x: np.ndarray, hq: int) -> np.ndarray:
    """Key / value heads repeated to Hq query heads (head h of the result is head h // (Hq // Hk) of x)."""
    if x.ndim < 3 or x.shape[-3] == hq:
        return x
    return np.repeat(x, hq // x.shape[-3], axis=-3)


def dropout_keep(shape: tuple, p: float, seed: int) -> np.ndarray:
    """The kept entries (bool, `shape` = (..., L, S)) of the attention matrix, as the kernels draw them."""
    L, S = shape[-2], shape[-1]
    heads = int(np.prod(shape[:-2], dtype=np.int64))
    offsets = np.arange(L * S, dtype=np.int64)
    keep = np.empty((heads, L * S), dtype=bool)
    threshold = np.float32(1.0 - p)
    for bh in range(heads):
        keep[bh] = philox_uniform(int(seed) + (bh << 32), offsets) < threshold
    return keep.reshape(shape)


def _scores(q: np.ndarray, k: np.ndarray, mask, scale: float, causal: bool) -> np.ndarray:
    """Scaled scores with the mask applied (-inf where a key is left out), in the accumulation dtype."""
    acc = acc_dtype(q.dtype)
    s = np.matmul(q.astype(acc), np.swapaxes(group_expand(k, q.shape[-3] if q.ndim >= 3 else 1), -1, -2).astype(acc))
    s = s * acc(scale)
    L, S = s.shape[-2], s.shape[-1]
    if causal:
        s = np.where(np.tril(np.ones((L, S), dtype=bool)), s, -np.inf)
    if mask is not None:
        if mask.dtype == np.bool_:
            s = np.where(mask, s, -np.inf)
        else:
            s = s + mask.astype(acc)
    return s


def _probabilities(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(softmax of s along the last dim with all -inf rows giving 0, natural-log lse with +inf for those rows)."""
    m = np.max(s, axis=-1, keepdims=True) if s.shape[-1] else np.full(s.shape[:-1] + (1,), -np.inf, s.dtype)
    empty = m == -np.inf
    shift = np.where(empty, 0.0, m).astype(s.dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(s - shift)
        total = np.sum(e, axis=-1, keepdims=True)
        p = np.where(empty, 0.0, e / np.where(empty, 1.0, total)).astype(s.dtype)
        lse = np.where(empty, np.inf, shift + np.log(np.where(empty, 1.0, total))).astype(s.dtype)
    return p, lse[..., 0]


def _dropped(p: np.ndarray, dropout_p: float, seed: int, keep=None) -> np.ndarray:
    if dropout_p <= 0.0:
        return p
    if keep is None:
        keep = dropout_keep(p.shape, dropout_p, seed)
    if dropout_p >= 1.0:
        return np.zeros_like(p)
    return np.where(keep, p * p.dtype.type(1.0 / (1.0 - dropout_p)), 0.0).astype(p.dtype)


def attention_forward_ref(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask=None, scale: float | None = None,
                          causal: bool = False, dropout_p: float = 0.0, seed: int = 0
                          ) -> tuple[np.ndarray, np.ndarray]:
    """(softmax(q k^T * scale + mask) v with dropout on the probabilities, lse) (see the module docstring).

    out: (..., Hq, L, Ev) in q's dtype; lse: (..., Hq, L) natural-log log-sum-exp of the masked scores in the
    accumulation dtype, +inf for rows that keep no key. scale defaults to 1 / sqrt(E)."""
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = _scores(q, k, mask, scale, causal)
    p, lse = _probabilities(s)
    pd = _dropped(p, dropout_p, seed)
    vx = group_expand(v, q.shape[-3] if q.ndim >= 3 else 1).astype(s.dtype)
    return np.matmul(pd, vx).astype(q.dtype), lse


def _sum_to(x: np.ndarray, shape: tuple) -> np.ndarray:
    """A broadcast gradient summed back to `shape`."""
    lead = x.ndim - len(shape)
    x = x.sum(axis=tuple(range(lead))) if lead else x
    dims = tuple(i for i, n in enumerate(shape) if n == 1 and x.shape[i] != 1)
    return x.sum(axis=dims, keepdims=True) if dims else x


def _group_sum(x: np.ndarray, hk: int) -> np.ndarray:
    """Gradient of group_expand: the Hq query heads' gradients summed per key / value head."""
    if x.ndim < 3 or x.shape[-3] == hk:
        return x
    shape = x.shape[:-3] + (hk, x.shape[-3] // hk) + x.shape[-2:]
    return x.reshape(shape).sum(axis=-3)


def attention_backward_ref(grad: np.ndarray, q: np.ndarray, k: np.ndarray, v: np.ndarray, mask=None,
                           scale: float | None = None, causal: bool = False, dropout_p: float = 0.0, seed: int = 0,
                           mask_grad: bool = False) -> tuple:
    """(grad_q, grad_k, grad_v, grad_mask) of attention_forward_ref's output for the incoming `grad`.

    Each gradient has its input's shape and dtype (broadcast and grouped heads summed back); grad_mask is
    None unless `mask_grad` (a floating mask: the gradient of the scores, summed to the mask's shape)."""
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = _scores(q, k, mask, scale, causal)
    acc = s.dtype.type
    p, _ = _probabilities(s)
    hq = q.shape[-3] if q.ndim >= 3 else 1
    kx = group_expand(k, hq).astype(acc)
    vx = group_expand(v, hq).astype(acc)
    g = grad.astype(acc)
    keep = dropout_keep(p.shape, dropout_p, seed) if 0.0 < dropout_p < 1.0 else None
    pd = _dropped(p, dropout_p, seed, keep)
    dv = np.matmul(np.swapaxes(pd, -1, -2), g)
    dp = np.matmul(g, np.swapaxes(vx, -1, -2))
    if dropout_p >= 1.0:
        dp = np.zeros_like(dp)
    elif keep is not None:
        dp = np.where(keep, dp * acc(1.0 / (1.0 - dropout_p)), 0.0).astype(acc)
    ds = p * (dp - np.sum(dp * p, axis=-1, keepdims=True))
    dq = np.matmul(ds, kx) * acc(scale)
    dk = np.matmul(np.swapaxes(ds, -1, -2), q.astype(acc)) * acc(scale)
    hk = k.shape[-3] if k.ndim >= 3 else 1
    dk = _sum_to(_group_sum(dk, hk), k.shape)
    dv = _sum_to(_group_sum(dv, hk), v.shape)
    dq = _sum_to(dq, q.shape)
    dmask = _sum_to(ds, mask.shape).astype(mask.dtype) if mask_grad else None
    return dq.astype(q.dtype), dk.astype(k.dtype), dv.astype(v.dtype), dmask
