"""NAdam (PyTorch's algorithm: Adam with Nesterov momentum and a momentum schedule; L2 or decoupled weight
decay, maximize)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import dtypes
from ..autograd import no_grad
from ..creation import zeros_like
from ..ops.optim import fused_step_
from ..tensor import Tensor
from .adamax import (
    bumped_step,
    check_adam_args,
    check_not_differentiable,
    gradients_or_raise,
    scalar_state,
    set_group_defaults,
)
from .optimizer import Optimizer


class NAdam(Optimizer):
    r"""NAdam, as torch.optim.NAdam:

    g = -grad if maximize else grad;  t += 1;
    weight decay: g += wd * p, or p *= 1 - lr * wd with decoupled_weight_decay (NAdamW);
    mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay));  mu_product *= mu_t (a float32 scalar, rounded
    each step as PyTorch's);  m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g;
    denom = sqrt(v / (1 - beta2^t)) + eps;
    p -= lr * (1 - mu_t) / (1 - mu_product) * g / denom + lr * mu_t+1 / (1 - mu_product * mu_t+1) * m / denom.

    State per parameter: "step" and "mu_product" (float32 scalar tensors on the cpu), "exp_avg" and
    "exp_avg_sq". On cuda a group's step is one fused multi-tensor launch per dtype.
    """

    def __init__(self, params: Iterable, lr: float | Tensor = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        lr = check_adam_args(lr, betas, eps, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        check_not_differentiable(differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        set_group_defaults(self, ("maximize", "capturable", "differentiable", "decoupled_weight_decay"),
                           ("step", "mu_product"))

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss (if given)."""
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                params = gradients_or_raise("NAdam", group)
                beta1, beta2 = group["betas"]
                states, scalars = [], []
                for p in params:
                    state = self.state[p]
                    if len(state) == 0:
                        state["step"] = scalar_state(0.0)
                        state["mu_product"] = scalar_state(1.0)
                        state["exp_avg"] = zeros_like(p)
                        state["exp_avg_sq"] = zeros_like(p)
                    step = bumped_step(state)
                    mu, mu_next = momentum_cache(step, beta1, group["momentum_decay"])
                    mu_product = _scale_scalar_(state["mu_product"], mu)
                    states.append([state["exp_avg"], state["exp_avg_sq"]])
                    scalars.append(nadam_scalars(step, mu, mu_next, mu_product, group["lr"], beta1, beta2,
                                                 group["eps"], group["weight_decay"],
                                                 group["decoupled_weight_decay"]))
                if params:
                    fused_step_("nadam", params, [p.grad for p in params], states, scalars,
                                dict(maximize=group["maximize"], weight_decay=group["weight_decay"] != 0,
                                     decoupled=group["decoupled_weight_decay"]))
        return loss


def momentum_cache(step: float, beta1: float, momentum_decay: float) -> tuple[float, float]:
    """(mu_t, mu_t+1) = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)) at t = step and step + 1."""
    return (beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay))),
            beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay))))


def _scale_scalar_(t: Tensor, factor: float) -> float:
    """t *= factor for a 0-dim state tensor, rounded as PyTorch's `mul_` rounds it (the factor and the
    product in t's dtype; 16-bit types compute in float32); returns the new value as a Python float."""
    ct = np.float64 if t.dtype == dtypes.float64 else np.float32
    value = np.asarray(ct(t.item()) * ct(factor)).astype(t.dtype.np)
    t.fill_(float(value))
    return float(value)


def nadam_scalars(step: float, mu: float, mu_next: float, mu_product: float, lr: float, beta1: float, beta2: float,
                  eps: float, weight_decay: float, decoupled: bool) -> tuple[float, ...]:
    """The fused NAdam rule's per-tensor scalars, in Python floats as PyTorch computes them (mu_product is
    the state after this step's update): (weight_decay or 1 - lr * weight_decay when decoupled, 1 - beta1,
    beta2, 1 - beta2, 1 - beta2^step, eps, -lr * (1 - mu) / (1 - mu_product),
    -lr * mu_next / (1 - mu_product * mu_next))."""
    mu_product_next = mu_product * mu_next
    return (1 - lr * weight_decay if decoupled else weight_decay, 1 - beta1, beta2, 1 - beta2, 1 - beta2 ** step, eps,
            -lr * (1.0 - mu) / (1.0 - mu_product), (-lr * mu_next) / (1.0 - mu_product_next))
