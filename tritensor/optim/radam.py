"""RAdam (PyTorch's algorithm: Adam with the variance rectification term; L2 or decoupled weight decay,
maximize)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

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


class RAdam(Optimizer):
    r"""RAdam, as torch.optim.RAdam:

    g = -grad if maximize else grad;  t += 1;
    weight decay: g += wd * p, or p *= 1 - lr * wd with decoupled_weight_decay (RAdamW);
    m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g;  m_hat = m / (1 - beta1^t);
    rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t);
    if rho_t > 5:  p -= m_hat * lr * sqrt(1 - beta2^t) / (sqrt(v) + eps) * r_t,
                   r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t));
    else:          p -= m_hat * lr.

    The branch is taken per parameter from its own step count, inside the one fused launch.
    State per parameter: "step" (a float32 scalar tensor on the cpu), "exp_avg" and "exp_avg_sq".
    """

    def __init__(self, params: Iterable, lr: float | Tensor = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        lr = check_adam_args(lr, betas, eps, weight_decay)
        check_not_differentiable(differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        set_group_defaults(self, ("maximize", "differentiable", "decoupled_weight_decay", "capturable"))

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss (if given)."""
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                params = gradients_or_raise("RAdam", group)
                beta1, beta2 = group["betas"]
                states, scalars = [], []
                for p in params:
                    state = self.state[p]
                    if len(state) == 0:
                        state["step"] = scalar_state(0.0)
                        state["exp_avg"] = zeros_like(p)
                        state["exp_avg_sq"] = zeros_like(p)
                    states.append([state["exp_avg"], state["exp_avg_sq"]])
                    scalars.append(radam_scalars(bumped_step(state), group["lr"], beta1, beta2, group["eps"],
                                                 group["weight_decay"], group["decoupled_weight_decay"]))
                if params:
                    fused_step_("radam", params, [p.grad for p in params], states, scalars,
                                dict(maximize=group["maximize"], weight_decay=group["weight_decay"] != 0,
                                     decoupled=group["decoupled_weight_decay"]))
        return loss


def rectification(step: float, beta2: float) -> float:
    """r_t at step count `step`, or 0.0 where PyTorch takes the unrectified branch (rho_t <= 5)."""
    bias_correction2 = 1 - beta2 ** step
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
    if not rho_t > 5.0:
        return 0.0
    return ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5


def radam_scalars(step: float, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
                  decoupled: bool) -> tuple[float, ...]:
    """The fused RAdam rule's per-tensor scalars at step count `step` (see kernels/optim_adam_variants.py):
    (1 - beta1, beta2, 1 - beta2, 1 - beta1^step, lr, eps, sqrt(1 - beta2^step), r_t) without weight decay;
    with it the last two are sqrt(1 - beta2^step) * r_t and the decay (weight_decay, or 1 - lr * weight_decay
    when decoupled). r_t is 0.0 on the unrectified branch."""
    rect = rectification(step, beta2)
    bc2_sqrt = (1 - beta2 ** step) ** 0.5
    head = (1 - beta1, beta2, 1 - beta2, 1 - beta1 ** step, lr, eps)
    if weight_decay == 0:
        return head + (bc2_sqrt, rect)
    return head + (bc2_sqrt * rect, 1 - lr * weight_decay if decoupled else weight_decay)
