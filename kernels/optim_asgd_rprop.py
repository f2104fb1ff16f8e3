"""ASGD and Rprop as fused multi-tensor step rules (kernels/optim_multi.py).

Both follow PyTorch's `_single_tensor_asgd` / `_single_tensor_rprop` operation by operation, computing in
fp32 (fp64 for fp64 tensors) and rounding into 16-bit tensors only when storing, as every rule here does.

ASGD, per-tensor scalars in Python floats as PyTorch computes them from the parameter's own state:
c0 = weight_decay, c1 = 1 - lambd * eta, c2 = eta, c3 = mu (eta and mu read back from their float32 state
tensors, so already rounded as PyTorch's `.item()` returns them). State: ax (the running average).

Rprop: c0 = etaminus, c1 = etaplus, c2 = step_size_min, c3 = step_size_max. States: prev, step_size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import triton
import triton.language as tl

from .optim_multi import StepRule, compute_dtype, load, rule_specs, store

MAXIMIZE, WEIGHT_DECAY = 1, 2


# ---------------------------------------------------------------- ASGD
@triton.jit
def _asgd_update(p, g, s0, s1, s2, c0, c1, c2, c3, c4, c5, c6, c7, FLAGS: tl.constexpr):
    if FLAGS & 1:
        g = -g
    if FLAGS & 2:
        g = g + c0 * p
    p = p * c1  # the decay term
    p = p + (-c2) * g
    # mu == 1 (before averaging starts) copies the parameter: ax + (p - ax) * 1 would round
    s0 = tl.where(c3 != 1, s0 + (p - s0) * c3, p)
    return p, s0, s1, s2


def asgd_ref(p: np.ndarray, g: np.ndarray, states: list[np.ndarray], c: Sequence[float], flags: int) -> None:
    """PyTorch's ASGD step on host arrays, in place (p and ax = states[0]).

    The arrays are loaded in the compute dtype (themselves when they already have it) and updated with
    in-place ufuncs: the same operations in the same order as the formulas, one scratch buffer.
    """
    weight_decay, decay, eta, mu = c[:4]
    ct = compute_dtype(p.dtype)
    x = load(p, ct)
    ax = load(states[0], ct)
    d = load(g, ct)  # may be the gradient itself: never written
    if flags & MAXIMIZE:
        d = np.negative(d)
    if flags & WEIGHT_DECAY:
        scaled = np.multiply(x, weight_decay)
        d = np.add(d, scaled, out=scaled)  # grad + weight_decay * p
    x *= decay
    tmp = np.multiply(d, -eta, out=None if d is g else d)
    x += tmp
    if mu != 1:
        np.subtract(x, ax, out=tmp)
        tmp *= mu
        ax += tmp
    else:
        np.copyto(ax, x)
    store(p, x)
    store(states[0], ax)


# ---------------------------------------------------------------- Rprop
@triton.jit
def _sign(x):
    """torch.sign: -1, 0 or 1, NaN for NaN."""
    return tl.where(x > 0, 1.0, tl.where(x < 0, -1.0, tl.where(x == x, 0.0, x)))


@triton.jit
def _rprop_update(p, g, s0, s1, s2, c0, c1, c2, c3, c4, c5, c6, c7, FLAGS: tl.constexpr):
    if FLAGS & 1:
        g = -g
    prod = g * s0
    flipped = prod < 0
    # the sign of grad * prev mapped to etaplus / etaminus / 1; a NaN product stays NaN
    factor = tl.where(prod > 0, c1, tl.where(flipped, c0, tl.where(prod == prod, 1.0, prod)))
    s1 = s1 * factor
    # torch.clamp: min first, then max (max wins when min > max); NaN passes through both wheres
    s1 = tl.where(s1 < c2, c2, s1)
    s1 = tl.where(s1 > c3, c3, s1)
    # where the sign flipped the step skips the element and prev forgets the gradient
    p = p - tl.where(flipped, 0.0, _sign(g)) * s1
    g = tl.where(flipped, 0.0, g)
    return p, g, s1, s2


def rprop_ref(p: np.ndarray, g: np.ndarray, states: list[np.ndarray], c: Sequence[float], flags: int) -> None:
    """PyTorch's Rprop step on host arrays, in place (p, prev = states[0], step_size = states[1])."""
    etaminus, etaplus, step_min, step_max = c[:4]
    ct = compute_dtype(p.dtype)
    x = load(p, ct)
    prev = load(states[0], ct)
    step_size = load(states[1], ct)
    d = load(g, ct)
    if flags & MAXIMIZE:
        d = np.negative(d)
    elif d is g:
        d = d.copy()  # the flipped entries are zeroed below
    sign = np.multiply(d, prev)
    np.sign(sign, out=sign)
    flipped = sign < 0
    sign[sign > 0] = etaplus
    sign[flipped] = etaminus
    sign[sign == 0] = 1
    step_size *= sign
    np.maximum(step_size, step_min, out=step_size)  # NaN propagates, as torch.clamp's
    np.minimum(step_size, step_max, out=step_size)
    d[flipped] = 0
    np.sign(d, out=sign)
    sign *= step_size
    x -= sign
    np.copyto(prev, d)
    store(p, x)
    store(states[0], prev)
    store(states[1], step_size)


ASGD = StepRule("asgd", _asgd_update, asgd_ref, 1, ("maximize", "weight_decay"), {"plain": 0, "wd": WEIGHT_DECAY})
RPROP = StepRule("rprop", _rprop_update, rprop_ref, 2, ("maximize",), {"plain": 0})
RULES = [ASGD, RPROP]
SPECS = [spec for rule in RULES for spec in rule_specs(rule)]
