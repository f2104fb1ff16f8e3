"""Adam and AdamW (bias correction, amsgrad, L2 or decoupled weight decay, maximize) as a fused
multi-tensor step rule.

The update follows PyTorch's `_single_tensor_adam` operation by operation (including `lerp`'s
two-sided formula and correctly rounded sqrt and division), so results match within rounding.
Per-tensor scalars, from that parameter's step count t (after this step's increment), in Python floats
as PyTorch computes them: c0 = weight_decay, c1 = 1 - lr * weight_decay, c2 = 1 - beta1, c3 = beta2,
c4 = 1 - beta2, c5 = lr / (1 - beta1^t), c6 = sqrt(1 - beta2^t), c7 = eps.
States: exp_avg, exp_avg_sq and, with amsgrad, max_exp_avg_sq.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import numpy as np
import triton
import triton.language as tl

from .optim_multi import StepRule, compute_dtype, div_rn, lerp, lerp_ref, load, rule_specs, sqrt_rn, store

MAXIMIZE, WEIGHT_DECAY, DECOUPLED, AMSGRAD = 1, 2, 4, 8


@triton.jit
def _adam_update(p, g, s0, s1, s2, c0, c1, c2, c3, c4, c5, c6, c7, FLAGS: tl.constexpr):
    if FLAGS & 1:
        g = -g
    if FLAGS & 2:
        if FLAGS & 4:
            p = p * c1
        else:
            g = g + c0 * p
    s0 = lerp(s0, g, c2)
    s1 = s1 * c3 + c4 * g * g
    v = s1
    if FLAGS & 8:
        s2 = tl.where((s2 > s1) | (s2 != s2), s2, s1)  # torch.maximum keeps a NaN
        v = s2
    denom = div_rn(sqrt_rn(v), tl.zeros_like(v) + c6) + c7
    p = p + (-c5) * div_rn(s0, denom)
    return p, s0, s1, s2


def adam_ref(p: np.ndarray, g: np.ndarray, states: list[np.ndarray], c: Sequence[float], flags: int) -> None:
    """PyTorch's Adam/AdamW step on host arrays, in place (p and its states)."""
    ct = p.dtype
    # The common case (fp32/fp64 parameter and states) by identity first: this runs per parameter per step.
    if ((ct is _F32 or ct is _F64) and states[0].dtype is ct and states[1].dtype is ct
            and (len(states) == 2 or states[2].dtype is ct)) or \
            (p.dtype == (ct := compute_dtype(ct)) and all(s.dtype == ct for s in states)):
        _adam_in_place(p, g.astype(ct, copy=False), states, c, flags)
        return
    weight_decay, decay, w1, beta2, w2, step_size, bc2_sqrt, eps = c
    x = load(p, ct)
    d = load(g, ct)
    if flags & MAXIMIZE:
        d = -d
    if flags & WEIGHT_DECAY:
        if flags & DECOUPLED:
            x = x * decay
        else:
            d = d + weight_decay * x
    m = lerp_ref(load(states[0], ct), d, w1)
    v = load(states[1], ct) * beta2 + w2 * d * d
    store(states[0], m)
    store(states[1], v)
    if flags & AMSGRAD:
        v = np.maximum(load(states[2], ct), v)
        store(states[2], v)
    denom = np.sqrt(v) / bc2_sqrt + eps
    store(p, x + (-step_size) * (m / denom))


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
# .buffers: dtype -> one flat array, grown to the largest parameter seen; .views: (shape, dtype) -> its view of
# that array (dropped whenever an array is replaced by a larger one).
_SCRATCH = threading.local()
_MAX_VIEWS = 256


def _scratch(shape: tuple, dtype: np.dtype) -> np.ndarray:
    """A reused working array of `shape` (contents undefined). A fresh parameter-sized array per step costs page
    faults that, on an MLP's step, took longer than the update's arithmetic; one buffer per thread and dtype, as
    large as the largest parameter, serves every parameter in turn, through views kept per shape."""
    views = getattr(_SCRATCH, "views", None)
    if views is None:
        views = _SCRATCH.views = {}
        _SCRATCH.buffers = {}
    view = views.get((shape, dtype))
    if view is not None:
        return view
    buffers = _SCRATCH.buffers
    n = math.prod(shape)
    buf = buffers.get(dtype)
    if buf is None or buf.size < n:
        buf = buffers[dtype] = np.empty(n, dtype)
        views.clear()
    view = buf[:n].reshape(shape)
    if len(views) < _MAX_VIEWS:
        views[(shape, dtype)] = view
    return view


def _adam_in_place(p, g, states, c, flags) -> None:
    """adam_ref's formulas, operation for operation, as in-place ufuncs on one scratch buffer."""
    weight_decay, decay, w1, beta2, w2, step_size, bc2_sqrt, eps = c
    m, v = states[0], states[1]
    if flags & MAXIMIZE:
        g = -g
    if flags & WEIGHT_DECAY:
        if flags & DECOUPLED:
            p *= decay
        else:
            g = g + weight_decay * p
    tmp = np.subtract(g, m, out=_scratch(m.shape, m.dtype))  # lerp(m, g, w1): m + w1 (g - m), or g - (g - m) (1 - w1)
    if abs(w1) < 0.5:
        tmp *= w1
        m += tmp
    else:
        tmp *= 1 - w1
        np.subtract(g, tmp, out=m)
    np.multiply(g, w2, out=tmp)  # v = v * beta2 + (1 - beta2) * g * g
    tmp *= g
    v *= beta2
    v += tmp
    if flags & AMSGRAD:
        np.maximum(states[2], v, out=states[2])
        v = states[2]
    np.sqrt(v, out=tmp)  # denom = sqrt(v) / bc2_sqrt + eps
    tmp /= bc2_sqrt
    tmp += eps
    np.divide(m, tmp, out=tmp)  # p += -step_size * (m / denom)
    tmp *= -step_size
    p += tmp


# adam_batch_ref's gathering limits: a parameter past _BATCH_MEMBER elements is updated alone (its update's
# per-call cost is already small beside its arithmetic), and a batch holds at most _BATCH_ELEMENTS elements (so the
# flat working arrays, five of them, stay a few MiB at most).
_BATCH_MEMBER = 1 << 15
_BATCH_ELEMENTS = 1 << 17
_FLAT = threading.local()


def _flat(role: int, n: int, dtype: np.dtype) -> np.ndarray:
    """A reused flat array of n elements for one operand role of adam_batch_ref (contents undefined)."""
    buffers = getattr(_FLAT, "buffers", None)
    if buffers is None:
        buffers = _FLAT.buffers = {}
    buf = buffers.get((role, dtype))
    if buf is None or buf.size < n:
        buf = buffers[(role, dtype)] = np.empty(max(n, 1024), dtype)
    return buf[:n]


def _root(a: np.ndarray):
    while a.base is not None:
        a = a.base
    return a


def adam_batch_ref(ps: list, gs: list, states: list, c: Sequence[float], flags: int) -> None:
    """adam_ref for several parameters that share one row of scalars `c`: the small ones (fp32 or fp64, gradient
    and states of the same dtype) gathered into flat arrays and updated by one _adam_in_place, then written back.
    The same elementwise operations on the same values, so the same bits as one adam_ref per parameter; what it
    saves is the dozen NumPy calls per parameter, which on a small model's step cost more than the arithmetic.
    When two parameters' memories share a base array, all are updated one by one, in order (were they to
    overlap, the order of the updates would show)."""
    if len({id(_root(p)) for p in ps}) != len(ps):
        for p, g, st in zip(ps, gs, states):
            adam_ref(p, g, st, c, flags)
        return
    batch, total = [], 0
    for p, g, st in zip(ps, gs, states):
        ct, n = p.dtype, p.size
        if (n > _BATCH_MEMBER or (ct is not _F32 and ct is not _F64) or g.dtype is not ct
                or any(s.dtype is not ct for s in st)):
            adam_ref(p, g, st, c, flags)
            continue
        if total + n > _BATCH_ELEMENTS or (batch and batch[0][0].dtype is not ct):
            _adam_flat(batch, total, c, flags)
            batch, total = [], 0
        batch.append((p, g, st))
        total += n
    _adam_flat(batch, total, c, flags)


def _adam_flat(batch: list, total: int, c: Sequence[float], flags: int) -> None:
    """One _adam_in_place over the concatenation of `batch`'s (p, g, states), written back into each."""
    if len(batch) < 2:
        for p, g, st in batch:
            _adam_in_place(p, g, st, c, flags)
        return
    ct = batch[0][0].dtype
    n_state = len(batch[0][2])
    flat = [np.concatenate([m[0] for m in batch], axis=None, out=_flat(0, total, ct)),  # (axis=None: C order)
            np.concatenate([m[1] for m in batch], axis=None, out=_flat(1, total, ct))]
    for j in range(n_state):
        flat.append(np.concatenate([m[2][j] for m in batch], axis=None, out=_flat(2 + j, total, ct)))
    _adam_in_place(flat[0], flat[1], flat[2:], c, flags)
    start = 0
    for p, _, st in batch:
        end = start + p.size
        np.copyto(p, flat[0][start:end].reshape(p.shape))
        for j, s in enumerate(st):
            np.copyto(s, flat[2 + j][start:end].reshape(s.shape))
        start = end


ADAM = StepRule("adam", _adam_update, adam_ref, 3, ("maximize", "weight_decay", "decoupled", "amsgrad"),
                {"adamw": (WEIGHT_DECAY | DECOUPLED, 2), "adam": (0, 2), "amsgrad": WEIGHT_DECAY | AMSGRAD})
RULES = [ADAM]
SPECS = rule_specs(ADAM)
