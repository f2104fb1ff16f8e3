"""Adamax (PyTorch's algorithm: Adam with an exponentially weighted infinity norm), and the argument checks
and state helpers that Adamax, NAdam and RAdam share."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .. import dtypes
from ..autograd import no_grad
from ..creation import tensor, zeros_like
from ..ops.optim import fused_step_
from ..tensor import Tensor
from .optimizer import Optimizer, scalar_lr


def check_adam_args(lr: float | Tensor, betas: tuple[float, float], eps: float, weight_decay: float) -> float:
    """PyTorch's constructor checks of the Adam family, in its order and with its messages; returns lr as a
    Python float (a 1-element Tensor lr is read once, as tt.optim.Adam does)."""
    lr = scalar_lr(lr)
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    return lr


def check_not_differentiable(differentiable: bool) -> None:
    """differentiable=True asks for a step autograd records; the fused step is not one."""
    if differentiable:
        raise NotImplementedError("differentiable=True (a step that autograd records) is not supported")


def scalar_state(value: float) -> Tensor:
    """A scalar tensor on the cpu, as PyTorch keeps "step" (and NAdam's "mu_product"): float32, or float64
    while the default dtype is float64 (PyTorch's _get_scalar_dtype)."""
    double = dtypes.get_default_dtype() == dtypes.float64
    return tensor(float(value), dtype=dtypes.float64 if double else dtypes.float32)


def set_group_defaults(optimizer: Optimizer, names: Iterable[str], tensor_keys: Iterable[str] = ("step",)) -> None:
    """__setstate__'s upgrade of an old state dict: PyTorch's defaults for options it lacks (False, foreach
    None) and plain numbers in `tensor_keys` turned into float32 scalar tensors."""
    for group in optimizer.param_groups:
        group.setdefault("foreach", None)
        for name in names:
            group.setdefault(name, False)
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            for key in tensor_keys:
                if key in state and not isinstance(state[key], Tensor):
                    state[key] = scalar_state(state[key])


def gradients_or_raise(name: str, group: dict[str, Any]) -> list[Tensor]:
    """The group's parameters that have a gradient; PyTorch's error (before anything is updated) if one
    of those gradients is sparse."""
    params = list(Optimizer._params_with_grad(group))
    if any(p.grad.is_sparse for p in params):
        raise RuntimeError(f"{name} does not support sparse gradients")
    return params


def bumped_step(state: dict[str, Any]) -> float:
    """state["step"] += 1 in place (a cpu scalar tensor, as PyTorch keeps it); returns the new count."""
    state["step"].add_(1)
    return state["step"].item()


class Adamax(Optimizer):
    r"""Adamax, as torch.optim.Adamax:

    g = -grad if maximize else grad;  t += 1;  g += weight_decay * p;
    m = lerp(m, g, 1 - beta1);  u = max(beta2 * u, |g| + eps)  (a NaN in either is kept);
    p -= lr / (1 - beta1^t) * m / u.

    State per parameter: "step" (a float32 scalar tensor on the cpu), "exp_avg" and "exp_inf". On cuda a
    group's step is one fused multi-tensor launch per dtype; on cpu the NumPy reference.

    >>> w = tt.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tt.optim.Adamax([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); w
    tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(self, params: Iterable, lr: float | Tensor = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, capturable: bool = False) -> None:
        lr = check_adam_args(lr, betas, eps, weight_decay)
        check_not_differentiable(differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        set_group_defaults(self, ("maximize", "differentiable", "capturable"))

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss (if given)."""
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                params = gradients_or_raise("Adamax", group)
                beta1, beta2 = group["betas"]
                states, scalars = [], []
                for p in params:
                    state = self.state[p]
                    if len(state) == 0:
                        state["step"] = scalar_state(0.0)
                        state["exp_avg"] = zeros_like(p)
                        state["exp_inf"] = zeros_like(p)
                    states.append([state["exp_avg"], state["exp_inf"]])
                    scalars.append(adamax_scalars(bumped_step(state), group["lr"], beta1, beta2, group["eps"],
                                                  group["weight_decay"]))
                if params:
                    fused_step_("adamax", params, [p.grad for p in params], states, scalars,
                                dict(maximize=group["maximize"], weight_decay=group["weight_decay"] != 0))
        return loss


def adamax_scalars(step: float, lr: float, beta1: float, beta2: float, eps: float,
                   weight_decay: float) -> tuple[float, ...]:
    """The fused Adamax rule's per-tensor scalars at step count `step`, in Python floats as PyTorch computes
    them: (weight_decay, 1 - beta1, beta2, eps, lr / (1 - beta1^step))."""
    return (weight_decay, 1 - beta1, beta2, eps, lr / (1 - beta1 ** step))
