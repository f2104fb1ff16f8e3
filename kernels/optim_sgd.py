"""SGD (momentum, dampening, Nesterov, weight decay, maximize) as a fused multi-tensor step rule.

The update follows PyTorch's `_single_tensor_sgd` operation by operation, so results match within
rounding. Per-tensor scalars: c0 = lr, c1 = weight_decay, c2 = momentum, c3 = 1 - dampening, c4 = 1.0
on the step that creates the momentum buffer (PyTorch then copies the gradient into it) else 0.0.
State: the momentum buffer (only when momentum != 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import triton
import triton.language as tl

from .optim_multi import StepRule, compute_dtype, load, rule_specs, store

MAXIMIZE, WEIGHT_DECAY, MOMENTUM, NESTEROV = 1, 2, 4, 8


@triton.jit
def _sgd_update(p, g, s0, s1, s2, c0, c1, c2, c3, c4, c5, c6, c7, FLAGS: tl.constexpr):
    if FLAGS & 1:
        g = -g
    if FLAGS & 2:
        g = g + c1 * p
    if FLAGS & 4:
        s0 = tl.where(c4 != 0, g, s0 * c2 + c3 * g)
        if FLAGS & 8:
            g = g + c2 * s0
        else:
            g = s0
    p = p + (-c0) * g
    return p, s0, s1, s2


def sgd_ref(p: np.ndarray, g: np.ndarray, states: list[np.ndarray], c: Sequence[float], flags: int) -> None:
    """PyTorch's SGD step on host arrays, in place (p and the momentum buffer).

    When p and the buffer already have the compute dtype they are updated with in-place ufuncs: the same
    operations in the same order (so the same roundings) as the out-of-place formulas, without
    parameter-sized temporaries.
    """
    lr, weight_decay, momentum, one_minus_dampening, first = c[:5]
    ct = compute_dtype(p.dtype)
    buf = states[0] if flags & MOMENTUM else None
    native = p.dtype == ct and (buf is None or buf.dtype == ct)
    x = load(p, ct)
    d = load(g, ct)
    if flags & MAXIMIZE:
        d = -d
    if flags & WEIGHT_DECAY:
        d = d + weight_decay * x
    if buf is not None:
        if native:
            if first:
                np.copyto(buf, d)
            else:
                buf *= momentum
                buf += d if one_minus_dampening == 1 else one_minus_dampening * d
            b = buf
        else:
            b = d.copy() if first else load(buf, ct) * momentum + one_minus_dampening * d
            store(buf, b)
        d = d + momentum * b if flags & NESTEROV else b
    if x is p:
        p += (-lr) * d
    else:
        store(p, x + (-lr) * d)


SGD = StepRule("sgd", _sgd_update, sgd_ref, 1, ("maximize", "weight_decay", "momentum", "nesterov"),
               {"plain": (0, 0), "momentum": WEIGHT_DECAY | MOMENTUM, "nesterov": WEIGHT_DECAY | MOMENTUM | NESTEROV})
RULES = [SGD]
SPECS = rule_specs(SGD)
