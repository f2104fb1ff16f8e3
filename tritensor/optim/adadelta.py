"""Adadelta (PyTorch's algorithm: decay rho, scaling lr, weight decay, maximize)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .. import dtypes
from ..autograd import no_grad
from ..creation import tensor, zeros_like
from ..ops.optim import fused_step_
from ..tensor import Tensor
from .optimizer import Optimizer, scalar_lr


class Adadelta(Optimizer):
    r"""Adadelta, as torch.optim.Adadelta:

    g = -grad if maximize else grad;  g += weight_decay * p;  v = rho * v + (1 - rho) * g * g;
    delta = sqrt(u + eps) / sqrt(v + eps) * g;  u = rho * u + (1 - rho) * delta * delta;  p -= lr * delta.

    State per parameter: "step" (a float32 scalar tensor on the cpu), "square_avg" (v) and "acc_delta" (u).
    On cuda a group's step is one fused multi-tensor launch per dtype.

    >>> w = tt.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = tt.optim.Adadelta([w])
    >>> (w * w).sum().backward(); opt.step(); w
    tensor([0.9968, 1.9968], requires_grad=True)
    """

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False) -> None:
        lr = scalar_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if differentiable:
            raise NotImplementedError("differentiable=True (a step that autograd records) is not supported")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize, capturable=capturable,
                        foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("capturable", False)
            for p in group["params"]:
                s = self.state.get(p, {})
                if "step" in s and not isinstance(s["step"], Tensor):
                    s["step"] = tensor(float(s["step"]), dtype=dtypes.float32)

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss (if given)."""
        loss = self._closure_loss(closure)
        # Refused before any group is updated (PyTorch refuses at the group that has one).
        if any(p.grad.is_sparse for group in self.param_groups for p in self._params_with_grad(group)):
            raise RuntimeError("Adadelta does not support sparse gradients")
        with no_grad():
            for group in self.param_groups:
                params = list(self._params_with_grad(group))
                rho = group["rho"]
                states, scalars = [], []
                for p in params:
                    state = self.state[p]
                    if len(state) == 0:
                        state["step"] = tensor(0.0, dtype=dtypes.float32)
                        state["square_avg"] = zeros_like(p)
                        state["acc_delta"] = zeros_like(p)
                    state["step"].add_(1)
                    states.append([state["square_avg"], state["acc_delta"]])
                    scalars.append((group["weight_decay"], rho, 1 - rho, group["eps"], group["lr"]))
                if params:
                    fused_step_("adadelta", params, [p.grad for p in params], states, scalars,
                                dict(maximize=group["maximize"], weight_decay=group["weight_decay"] != 0))
        return loss
