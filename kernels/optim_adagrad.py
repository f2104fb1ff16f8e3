"""Adagrad, RMSprop and Adadelta as fused multi-tensor step rules.

Each update follows PyTorch's `_single_tensor_<name>` operation by operation (correctly rounded sqrt and
division, `lerp`'s two-sided formula, `addcdiv` as a + value * (b / c)), so results match within rounding.
The per-tensor scalars, in Python floats as each optimizer computes them:

  adagrad   c0 = weight_decay, c1 = lr / (1 + (step - 1) * lr_decay) (the decayed lr), c2 = eps.
            State: sum.
  rmsprop   c0 = weight_decay, c1 = alpha, c2 = 1 - alpha, c3 = eps, c4 = lr, c5 = momentum.
            States: square_avg, then momentum_buffer (flag momentum), then grad_avg (flag centered).
  adadelta  c0 = weight_decay, c1 = rho, c2 = 1 - rho, c3 = eps, c4 = lr.
            States: square_avg, acc_delta.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import triton
import triton.language as tl

from .optim_multi import StepRule, compute_dtype, div_rn, lerp, load, rule_specs, sqrt_rn, store

# PyTorch's kernels never warn: sqrt of a negative (a centered variance lost to rounding), 0/0 with eps=0
# and overflow give NaN/inf silently, so the references run under this.
_quiet = np.errstate(invalid="ignore", divide="ignore", over="ignore")

# Flag bits, shared by the three rules (bit i is flag_names[i]); MOMENTUM and CENTERED only for RMSprop.
MAXIMIZE, WEIGHT_DECAY, MOMENTUM, CENTERED = 1, 2, 4, 8


def _grad(p: np.ndarray, g: np.ndarray, ct: np.dtype, weight_decay: float, flags: int) -> np.ndarray:
    """The gradient the rules use, in the compute dtype: negated for maximize, plus weight_decay * p. Never
    g itself when it will be written (g is the caller's)."""
    d = load(g, ct)
    if flags & MAXIMIZE:
        d = np.negative(d)
    if flags & WEIGHT_DECAY:
        t = np.multiply(p, weight_decay)  # grad.add(param, alpha=wd): g + wd * p
        t += d
        d = t
    return d


# ---------------------------------------------------------------- Adagrad
@triton.jit
def _adagrad_update(p, g, s0, s1, s2, c0, c1, c2, c3, c4, c5, c6, c7, FLAGS: tl.constexpr):
    if FLAGS & 1:
        g = -g
    if FLAGS & 2:
        g = g + c0 * p
    s0 = s0 + g * g  # state_sum.addcmul_(grad, grad, value=1)
    std = sqrt_rn(s0) + c2
    p = p + (-c1) * div_rn(g, std)  # param.addcdiv_(grad, std, value=-clr)
    return p, s0, s1, s2


@_quiet
def adagrad_ref(p: np.ndarray, g: np.ndarray, states: list[np.ndarray], c: Sequence[float], flags: int) -> None:
    """PyTorch's Adagrad step on host arrays, in place (p and its sum); the compute-dtype arrays are updated
    with in-place ufuncs in the same order as the formulas (so with the same roundings)."""
    weight_decay, clr, eps = c[:3]
    ct = compute_dtype(p.dtype)
    x = load(p, ct)
    s = load(states[0], ct)
    d = _grad(x, g, ct, weight_decay, flags)
    tmp = np.multiply(d, d)
    s += tmp
    np.sqrt(s, out=tmp)
    tmp += eps
    np.divide(d, tmp, out=tmp)
    tmp *= -clr
    x += tmp
    store(states[0], s)
    store(p, x)


# ---------------------------------------------------------------- RMSprop
@triton.jit
def _rmsprop_update(p, g, s0, s1, s2, c0, c1, c2, c3, c4, c5, c6, c7, FLAGS: tl.constexpr):
    if FLAGS & 1:
        g = -g
    if FLAGS & 2:
        g = g + c0 * p
    s0 = s0 * c1 + c2 * g * g  # square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
    if FLAGS & 8:
        # grad_avg is the second state without momentum, the third with it
        if FLAGS & 4:
            s2 = lerp(s2, g, c2)
            avg = sqrt_rn(s0 - s2 * s2)
        else:
            s1 = lerp(s1, g, c2)
            avg = sqrt_rn(s0 - s1 * s1)
    else:
        avg = sqrt_rn(s0)
    avg = avg + c3
    if FLAGS & 4:
        s1 = s1 * c5 + div_rn(g, avg)  # buf.mul_(momentum).addcdiv_(grad, avg)
        p = p + (-c4) * s1
    else:
        p = p + (-c4) * div_rn(g, avg)
    return p, s0, s1, s2


@_quiet
def rmsprop_ref(p: np.ndarray, g: np.ndarray, states: list[np.ndarray], c: Sequence[float], flags: int) -> None:
    """PyTorch's RMSprop step on host arrays, in place (p, square_avg, then momentum_buffer and grad_avg when
    their flags are set)."""
    weight_decay, alpha, one_minus_alpha, eps, lr, momentum = c[:6]
    ct = compute_dtype(p.dtype)
    x = load(p, ct)
    sq = load(states[0], ct)
    d = _grad(x, g, ct, weight_decay, flags)
    tmp = np.multiply(d, one_minus_alpha)
    tmp *= d
    sq *= alpha
    sq += tmp
    store(states[0], sq)
    if flags & CENTERED:
        i = 2 if flags & MOMENTUM else 1
        ga = load(states[i], ct)
        np.subtract(d, ga, out=tmp)  # grad_avg.lerp_(grad, 1 - alpha), two-sided as lerp_ref, in place
        if abs(one_minus_alpha) < 0.5:
            tmp *= one_minus_alpha
            ga += tmp
        else:
            tmp *= 1 - one_minus_alpha
            np.subtract(d, tmp, out=ga)
        store(states[i], ga)
        np.multiply(ga, ga, out=tmp)
        np.subtract(sq, tmp, out=tmp)
        np.sqrt(tmp, out=tmp)
    else:
        np.sqrt(sq, out=tmp)
    tmp += eps
    np.divide(d, tmp, out=tmp)  # grad / avg
    if flags & MOMENTUM:
        buf = load(states[1], ct)
        buf *= momentum
        buf += tmp
        store(states[1], buf)
        np.multiply(buf, -lr, out=tmp)
    else:
        tmp *= -lr
    x += tmp
    store(p, x)


# ---------------------------------------------------------------- Adadelta
@triton.jit
def _adadelta_update(p, g, s0, s1, s2, c0, c1, c2, c3, c4, c5, c6, c7, FLAGS: tl.constexpr):
    if FLAGS & 1:
        g = -g
    if FLAGS & 2:
        g = g + c0 * p
    s0 = s0 * c1 + c2 * g * g  # square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)
    std = sqrt_rn(s0 + c3)
    delta = div_rn(sqrt_rn(s1 + c3), std) * g  # acc_delta.add(eps).sqrt_().div_(std).mul_(grad)
    s1 = s1 * c1 + c2 * delta * delta
    p = p + (-c4) * delta
    return p, s0, s1, s2


@_quiet
def adadelta_ref(p: np.ndarray, g: np.ndarray, states: list[np.ndarray], c: Sequence[float], flags: int) -> None:
    """PyTorch's Adadelta step on host arrays, in place (p, square_avg, acc_delta)."""
    weight_decay, rho, one_minus_rho, eps, lr = c[:5]
    ct = compute_dtype(p.dtype)
    x = load(p, ct)
    sq = load(states[0], ct)
    acc = load(states[1], ct)
    d = _grad(x, g, ct, weight_decay, flags)
    tmp = np.multiply(d, one_minus_rho)
    tmp *= d
    sq *= rho
    sq += tmp
    std = np.add(sq, eps)
    np.sqrt(std, out=std)
    np.add(acc, eps, out=tmp)
    np.sqrt(tmp, out=tmp)
    tmp /= std
    tmp *= d  # delta
    np.multiply(tmp, one_minus_rho, out=std)
    std *= tmp
    acc *= rho
    acc += std
    tmp *= -lr
    x += tmp
    store(states[0], sq)
    store(states[1], acc)
    store(p, x)


ADAGRAD = StepRule("adagrad", _adagrad_update, adagrad_ref, 1, ("maximize", "weight_decay"),
                   {"plain": 0, "wd": WEIGHT_DECAY})
RMSPROP = StepRule("rmsprop", _rmsprop_update, rmsprop_ref, 3, ("maximize", "weight_decay", "momentum", "centered"),
                   {"plain": (0, 1), "momentum": (MOMENTUM, 2), "centered": (WEIGHT_DECAY | MOMENTUM | CENTERED, 3)})
ADADELTA = StepRule("adadelta", _adadelta_update, adadelta_ref, 2, ("maximize", "weight_decay"),
                    {"plain": 0, "wd": WEIGHT_DECAY})
RULES = [ADAGRAD, RMSPROP, ADADELTA]
SPECS = [spec for rule in RULES for spec in rule_specs(rule)]
