"""RMSprop (PyTorch's algorithm: smoothing constant, momentum, centered, weight decay, maximize)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .. import dtypes
from ..autograd import no_grad
from ..creation import tensor, zeros_like
from ..ops.optim import fused_step_
from ..tensor import Tensor
from .optimizer import Optimizer, scalar_lr


class RMSprop(Optimizer):
    r"""RMSprop, as torch.optim.RMSprop:

    g = -grad if maximize else grad;  g += weight_decay * p;  v = alpha * v + (1 - alpha) * g * g;
    centered: g_avg = lerp(g_avg, g, 1 - alpha), avg = sqrt(v - g_avg^2) + eps, else avg = sqrt(v) + eps;
    momentum > 0: b = momentum * b + g / avg, p -= lr * b;  else p -= lr * g / avg.

    State per parameter: "step" (a float32 scalar tensor on the cpu), "square_avg", "momentum_buffer" (with
    momentum > 0) and "grad_avg" (centered). On cuda a group's step is one fused multi-tensor launch per dtype.

    >>> w = tt.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = tt.optim.RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward(); opt.step(); w
    tensor([0.9000, 1.9000], requires_grad=True)
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False, differentiable: bool = False) -> None:
        lr = scalar_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        if differentiable:
            raise NotImplementedError("differentiable=True (a step that autograd records) is not supported")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay,
                        capturable=capturable, foreach=foreach, maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("momentum", 0)
            group.setdefault("centered", False)
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("capturable", False)
            for p in group["params"]:
                s = self.state.get(p, {})
                if "step" in s and not isinstance(s["step"], Tensor):
                    s["step"] = tensor(float(s["step"]), dtype=dtypes.float32)

    def _init_state(self, p: Tensor, momentum: bool, centered: bool) -> dict[str, Any]:
        state = self.state[p]
        if len(state) == 0:
            state["step"] = tensor(0.0, dtype=dtypes.float32)
            state["square_avg"] = zeros_like(p)
            if momentum:
                state["momentum_buffer"] = zeros_like(p)
            if centered:
                state["grad_avg"] = zeros_like(p)
        return state

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss (if given)."""
        loss = self._closure_loss(closure)
        # Refused before any group is updated (PyTorch refuses at the group that has one).
        if any(p.grad.is_sparse for group in self.param_groups for p in self._params_with_grad(group)):
            raise RuntimeError("RMSprop does not support sparse gradients")
        with no_grad():
            for group in self.param_groups:
                params = list(self._params_with_grad(group))
                momentum, centered, alpha = group["momentum"], group["centered"], group["alpha"]
                states, scalars = [], []
                for p in params:
                    state = self._init_state(p, momentum > 0, centered)
                    state["step"].add_(1)
                    # The rule's state order: square_avg, then the momentum buffer, then grad_avg.
                    states.append([state["square_avg"]] + ([state["momentum_buffer"]] if momentum > 0 else [])
                                  + ([state["grad_avg"]] if centered else []))
                    scalars.append((group["weight_decay"], alpha, 1 - alpha, group["eps"], group["lr"], momentum))
                if params:
                    fused_step_("rmsprop", params, [p.grad for p in params], states, scalars,
                                dict(maximize=group["maximize"], weight_decay=group["weight_decay"] != 0,
                                     momentum=momentum > 0, centered=bool(centered)))
        return loss
