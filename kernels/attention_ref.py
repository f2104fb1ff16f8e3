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

from functools import lru_cache

import numpy as np

from .dropout import philox_uniform
from .quiet_numpy import quiet_call


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


_CACHED_MASK_MAX = 1 << 20  # elements (1 MiB of bool): at most 64 MiB held by the cache below, whatever the sizes


def _above_diagonal(L: int, S: int) -> np.ndarray:
    """The (L, S) keys a causal query leaves out (j > i): built once per size for a small model's sizes, not per
    call; a larger mask is built afresh (kept, a long sequence's masks would hold memory for good)."""
    if L * S > _CACHED_MASK_MAX:
        return np.triu(np.ones((L, S), dtype=bool), 1)
    return _cached_above_diagonal(L, S)


@lru_cache(maxsize=64)
def _cached_above_diagonal(L: int, S: int) -> np.ndarray:
    out = np.triu(np.ones((L, S), dtype=bool), 1)
    out.flags.writeable = False  # shared by every call of this size
    return out


def _scores(q: np.ndarray, k: np.ndarray, mask, scale: float, causal: bool) -> np.ndarray:
    """Scaled scores with the mask applied (-inf where a key is left out), in the accumulation dtype."""
    acc = acc_dtype(q.dtype)
    s = np.matmul(q.astype(acc), np.swapaxes(group_expand(k, q.shape[-3] if q.ndim >= 3 else 1), -1, -2).astype(acc))
    s *= acc(scale)  # the product is a fresh array: scaled in place
    L, S = s.shape[-2], s.shape[-1]
    if causal:
        np.copyto(s, -np.inf, where=_above_diagonal(L, S))
    if mask is not None:
        if mask.dtype == np.bool_:
            s = np.where(mask, s, -np.inf)
        else:
            s = s + mask.astype(acc)
    return s


def _probabilities(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(softmax of s along the last dim with all -inf rows giving 0, natural-log lse with +inf for those rows)."""
    return quiet_call(_softmax_lse, s)


def _row_max(s: np.ndarray) -> np.ndarray:
    """np.max(s, axis=-1, keepdims=True). Short rows are reduced as the columns of their transposed copy: NumPy
    reduces a long contiguous axis several times faster than many short ones. A maximum is exact and propagates
    NaN in any order; only the sign of a zero maximum may differ, which neither exp(s - m) nor m + log(total)
    (total >= 1, so log(total) >= 0) can show."""
    S = s.shape[-1]
    if S == 0:
        return np.full(s.shape[:-1] + (1,), -np.inf, s.dtype)
    if S > 64 or s.size < 4 * S:
        return np.max(s, axis=-1, keepdims=True)
    return np.max(s.reshape(-1, S).T.copy(), axis=0).reshape(s.shape[:-1] + (1,))


def _softmax_lse(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = _row_max(s)
    empty = m == -np.inf
    if s.shape[-1] and not empty.any():
        # Every row keeps a key (always so when causal): the general formulas below with their np.where
        # selections dropped, in place on one temporary; the same operations, so the same bits.
        e = np.subtract(s, m)
        np.exp(e, out=e)
        total = np.sum(e, axis=-1, keepdims=True)
        e /= total
        lse = np.log(total)
        lse += m
        return e, lse[..., 0]
    shift = np.where(empty, 0.0, m).astype(s.dtype)
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
    out, lse, _ = attention_forward_probs(q, k, v, mask, scale, causal, dropout_p, seed)
    return out, lse


def attention_forward_probs(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask=None, scale: float | None = None,
                            causal: bool = False, dropout_p: float = 0.0, seed: int = 0) -> tuple:
    """attention_forward_ref's (out, lse) and the probabilities P (..., Hq, L, S) before dropout, in the
    accumulation dtype: what attention_backward_ref(..., probs=P) would otherwise recompute."""
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = _scores(q, k, mask, scale, causal)
    p, lse = _probabilities(s)
    pd = _dropped(p, dropout_p, seed)
    vx = group_expand(v, q.shape[-3] if q.ndim >= 3 else 1).astype(s.dtype)
    return np.matmul(pd, vx).astype(q.dtype, copy=False), lse, p


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
                           mask_grad: bool = False, probs: np.ndarray | None = None) -> tuple:
    """(grad_q, grad_k, grad_v, grad_mask) of attention_forward_ref's output for the incoming `grad`.

    Each gradient has its input's shape and dtype (broadcast and grouped heads summed back); grad_mask is
    None unless `mask_grad` (a floating mask: the gradient of the scores, summed to the mask's shape). `probs`:
    the probabilities attention_forward_probs returned for these inputs (else recomputed from q, k, mask)."""
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    p = _probabilities(_scores(q, k, mask, scale, causal))[0] if probs is None else probs
    acc = p.dtype.type
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
    # ds = p * (dp - rowsum(dp * p)), in place on dp (a fresh array): the same products, so the same bits
    dp -= np.sum(dp * p, axis=-1, keepdims=True)
    dp *= p
    ds = dp
    dq = np.matmul(ds, kx)
    dq *= acc(scale)
    dk = np.matmul(np.swapaxes(ds, -1, -2), q.astype(acc))
    dk *= acc(scale)
    hk = k.shape[-3] if k.ndim >= 3 else 1
    dk = _sum_to(_group_sum(dk, hk), k.shape)
    dv = _sum_to(_group_sum(dv, hk), v.shape)
    dq = _sum_to(dq, q.shape)
    dmask = _sum_to(ds, mask.shape).astype(mask.dtype) if mask_grad else None
    return dq.astype(q.dtype, copy=False), dk.astype(k.dtype, copy=False), dv.astype(v.dtype, copy=False), dmask
