"""Adamax, NAdam and RAdam as fused multi-tensor step rules.

Each update follows PyTorch's `_single_tensor_<name>` operation by operation (lerp's two-sided formula,
correctly rounded sqrt and division, the scalars in the order Python computes them), so results match
within rounding. The per-tensor scalars come from that parameter's own step count t (after this step's
increment), computed by the optimizer in Python floats:

adamax: c0 = weight_decay, c1 = 1 - beta1, c2 = beta2, c3 = eps, c4 = lr / (1 - beta1^t).
  States: exp_avg, exp_inf.
nadam:  c0 = weight_decay (L2) or 1 - lr * weight_decay (decoupled), c1 = 1 - beta1, c2 = beta2,
  c3 = 1 - beta2, c4 = 1 - beta2^t, c5 = eps, c6 = -lr * (1 - mu_t) / (1 - prod mu_1..t),
  c7 = -lr * mu_t+1 / (1 - prod mu_1..t+1). States: exp_avg, exp_avg_sq.
radam:  c0 = 1 - beta1, c1 = beta2, c2 = 1 - beta2, c3 = 1 - beta1^t, c4 = lr, c5 = eps, then
  without weight decay c6 = sqrt(1 - beta2^t), c7 = the rectification r_t (0.0 when rho_t <= 5: the
  unrectified branch); with weight decay eight slots do not hold nine scalars, so c6 = sqrt(1 - beta2^t) * r_t
  (0.0 when rho_t <= 5) and c7 = weight_decay (L2) or 1 - lr * weight_decay (decoupled).
  States: exp_avg, exp_avg_sq.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import triton
import triton.language as tl

from .optim_multi import StepRule, compute_dtype, div_rn, lerp, load, rule_specs, sqrt_rn, store

MAXIMIZE, WEIGHT_DECAY, DECOUPLED = 1, 2, 4


# ---------------------------------------------------------------- Triton updates
@triton.jit
def _adamax_update(p, g, s0, s1, s2, c0, c1, c2, c3, c4, c5, c6, c7, FLAGS: tl.constexpr):
    if FLAGS & 1:
        g = -g
    if FLAGS & 2:
        g = g + c0 * p
    s0 = lerp(s0, g, c1)
    s1 = s1 * c2
    norm = tl.abs(g) + c3
    s1 = tl.where((s1 > norm) | (s1 != s1), s1, norm)  # torch.maximum keeps a NaN from either side
    p = p + (-c4) * div_rn(s0, s1)
    return p, s0, s1, s2


@triton.jit
def _nadam_update(p, g, s0, s1, s2, c0, c1, c2, c3, c4, c5, c6, c7, FLAGS: tl.constexpr):
    if FLAGS & 1:
        g = -g
    if FLAGS & 2:
        if FLAGS & 4:
            p = p * c0
        else:
            g = g + c0 * p
    s0 = lerp(s0, g, c1)
    s1 = s1 * c2 + c3 * g * g
    denom = sqrt_rn(div_rn(s1, tl.zeros_like(s1) + c4)) + c5
    p = p + c6 * div_rn(g, denom)  # two addcdiv_ in PyTorch: the gradient's share, then the momentum's
    p = p + c7 * div_rn(s0, denom)
    return p, s0, s1, s2


@triton.jit
def _radam_update(p, g, s0, s1, s2, c0, c1, c2, c3, c4, c5, c6, c7, FLAGS: tl.constexpr):
    if FLAGS & 1:
        g = -g
    rect = c7
    if FLAGS & 2:
        rect = c6  # c7 holds the weight decay; c6 is sqrt(1 - beta2^t) * r_t
        if FLAGS & 4:
            p = p * c7
        else:
            g = g + c7 * p
    s0 = lerp(s0, g, c0)
    s1 = s1 * c1 + c2 * g * g
    step = div_rn(s0, tl.zeros_like(s0) + c3) * c4  # bias-corrected exp_avg * lr
    if rect != 0:  # rho_t > 5, decided per tensor from its own step
        denom = sqrt_rn(s1) + c5
        adaptive = div_rn(tl.zeros_like(denom) + 1, denom) * c6  # PyTorch: denom.reciprocal() * sqrt(bc2)
        step = step * adaptive
        if (FLAGS & 2) == 0:
            step = step * c7
    p = p - step
    return p, s0, s1, s2


# ---------------------------------------------------------------- NumPy references (the cpu path)
def _lerp_(m: np.ndarray, end: np.ndarray, weight: float, tmp: np.ndarray) -> None:
    """m = PyTorch's lerp(m, end, weight) in place (weight rounded to m's dtype, as PyTorch's kernel takes it)."""
    w = m.dtype.type(weight)
    np.subtract(end, m, out=tmp)
    if abs(w) < 0.5:
        tmp *= w
        m += tmp
    else:
        tmp *= m.dtype.type(1) - w
        np.subtract(end, tmp, out=m)


def _gradient(x: np.ndarray, g: np.ndarray, ct: np.dtype, flags: int, l2: float) -> np.ndarray:
    """The gradient in the compute dtype, negated for maximize and with the L2 term (never g itself when
    anything changes it)."""
    d = load(g, ct)
    if flags & MAXIMIZE:
        d = np.negative(d)
    if flags & WEIGHT_DECAY and not flags & DECOUPLED:
        d = d + l2 * x
    return d


def adamax_ref(p: np.ndarray, g: np.ndarray, states: list[np.ndarray], c: Sequence[float], flags: int) -> None:
    """PyTorch's Adamax step on host arrays, in place (p, exp_avg, exp_inf)."""
    weight_decay, w1, beta2, eps, clr = c[:5]
    ct = compute_dtype(p.dtype)
    x = load(p, ct)
    d = _gradient(x, g, ct, flags, weight_decay)  # Adamax has no decoupled flag: L2 only
    m, u = load(states[0], ct), load(states[1], ct)
    tmp = np.empty_like(m)
    _lerp_(m, d, w1, tmp)
    u *= beta2
    np.abs(d, out=tmp)
    tmp += eps
    np.maximum(u, tmp, out=u)  # NaN from either side, as torch.maximum
    np.divide(m, u, out=tmp)
    tmp *= -clr
    x += tmp
    store(states[0], m)
    store(states[1], u)
    store(p, x)


def nadam_ref(p: np.ndarray, g: np.ndarray, states: list[np.ndarray], c: Sequence[float], flags: int) -> None:
    """PyTorch's NAdam step on host arrays, in place (p, exp_avg, exp_avg_sq)."""
    decay, w1, beta2, w2, bc2, eps, grad_step, avg_step = c
    ct = compute_dtype(p.dtype)
    x = load(p, ct)
    d = _gradient(x, g, ct, flags, decay)
    if flags & WEIGHT_DECAY and flags & DECOUPLED:
        x *= decay
    m, v = load(states[0], ct), load(states[1], ct)
    tmp = np.empty_like(m)
    _lerp_(m, d, w1, tmp)
    v *= beta2  # v = v * beta2 + (1 - beta2) * g * g
    np.multiply(d, w2, out=tmp)
    tmp *= d
    v += tmp
    denom = np.divide(v, bc2)  # sqrt(v / (1 - beta2^t)) + eps
    np.sqrt(denom, out=denom)
    denom += eps
    np.divide(d, denom, out=tmp)
    tmp *= grad_step
    x += tmp
    np.divide(m, denom, out=tmp)
    tmp *= avg_step
    x += tmp
    store(states[0], m)
    store(states[1], v)
    store(p, x)


def radam_ref(p: np.ndarray, g: np.ndarray, states: list[np.ndarray], c: Sequence[float], flags: int) -> None:
    """PyTorch's RAdam step on host arrays, in place (p, exp_avg, exp_avg_sq)."""
    w1, beta2, w2, bc1, lr, eps, bc2_sqrt, last = c
    weight_decay, rect = (last, bc2_sqrt) if flags & WEIGHT_DECAY else (0.0, last)
    ct = compute_dtype(p.dtype)
    x = load(p, ct)
    d = _gradient(x, g, ct, flags, weight_decay)
    if flags & WEIGHT_DECAY and flags & DECOUPLED:
        x *= weight_decay
    m, v = load(states[0], ct), load(states[1], ct)
    tmp = np.empty_like(m)
    _lerp_(m, d, w1, tmp)
    v *= beta2
    np.multiply(d, w2, out=tmp)
    tmp *= d
    v += tmp
    np.divide(m, bc1, out=tmp)  # exp_avg / (1 - beta1^t) * lr
    tmp *= lr
    if rect != 0:
        adaptive = np.sqrt(v)  # sqrt(1 - beta2^t) * (sqrt(v) + eps).reciprocal()
        adaptive += eps
        np.divide(ct.type(1), adaptive, out=adaptive)
        adaptive *= bc2_sqrt
        tmp *= adaptive
        if not flags & WEIGHT_DECAY:
            tmp *= rect
    x -= tmp
    store(states[0], m)
    store(states[1], v)
    store(p, x)


_FLAGS = ("maximize", "weight_decay", "decoupled")
ADAMAX = StepRule("adamax", _adamax_update, adamax_ref, 2, ("maximize", "weight_decay"),
                  {"plain": 0, "wd": WEIGHT_DECAY})
NADAM = StepRule("nadam", _nadam_update, nadam_ref, 2, _FLAGS, {"plain": 0, "nadamw": WEIGHT_DECAY | DECOUPLED})
RADAM = StepRule("radam", _radam_update, radam_ref, 2, _FLAGS, {"plain": 0, "radamw": WEIGHT_DECAY | DECOUPLED})
RULES = [ADAMAX, NADAM, RADAM]
SPECS = [spec for rule in RULES for spec in rule_specs(rule)]
