"""Adam and AdamW (PyTorch's algorithms: bias correction, amsgrad, L2 or decoupled weight decay, maximize)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .. import dtypes
from ..autograd import no_grad
from ..creation import tensor, zeros_like
from ..ops.optim import fused_step_, step_counts_
from ..tensor import Tensor
from .optimizer import Optimizer, params_and_grads, scalar_lr


class Adam(Optimizer):
    r"""Adam, as torch.optim.Adam:

    g = -grad if maximize else grad;  t += 1;
    weight decay: g += wd * p (Adam) or p *= 1 - lr * wd (decoupled_weight_decay / AdamW);
    m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g;  v_max = max(v_max, v) with amsgrad;
    p -= lr / (1 - beta1^t) * m / (sqrt(v or v_max) / sqrt(1 - beta2^t) + eps).

    State per parameter: "step" (a float32 scalar tensor on the cpu), "exp_avg", "exp_avg_sq" and, with
    amsgrad, "max_exp_avg_sq". On cuda a group's step is one fused multi-tensor launch per dtype.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:
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
        if differentiable:
            raise NotImplementedError("differentiable=True (a step that autograd records) is not supported")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("capturable", False)
            group.setdefault("differentiable", False)
            group.setdefault("fused", None)
            group.setdefault("decoupled_weight_decay", False)
            for p in group["params"]:
                s = self.state.get(p, {})
                if "step" in s and not isinstance(s["step"], Tensor):
                    s["step"] = tensor(float(s["step"]), dtype=dtypes.float32)

    def _init_state(self, p: Tensor, amsgrad: bool) -> dict[str, Any]:
        state = self.state[p]
        if len(state) == 0:
            state["step"] = tensor(0.0, dtype=dtypes.float32)
            state["exp_avg"] = zeros_like(p)
            state["exp_avg_sq"] = zeros_like(p)
            if amsgrad:
                state["max_exp_avg_sq"] = zeros_like(p)
        elif amsgrad and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = zeros_like(p)
        return state

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss (if given)."""
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                self._step_group(group)
        return loss

    def _step_group(self, group: dict[str, Any]) -> None:
        """One group's update: the per-parameter bookkeeping in one pass (the step counts bumped in place, the
        scalars computed once per distinct count), then one fused_step_ call for the whole group."""
        amsgrad = group["amsgrad"]
        params, grads = params_and_grads(group)
        if not params:
            return
        for g in grads:
            if g.is_sparse:
                raise RuntimeError("Adam does not support sparse gradients, please consider SparseAdam instead")
        beta1, beta2 = group["betas"]
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        all_state = self.state
        states, steps, scalars = [], [], []
        count = row = None
        for p in params:
            state = all_state.get(p)
            if not state or (amsgrad and "max_exp_avg_sq" not in state):
                state = self._init_state(p, amsgrad)
            steps.append(state["step"])
            states.append([state["exp_avg"], state["exp_avg_sq"], state["max_exp_avg_sq"]] if amsgrad
                          else [state["exp_avg"], state["exp_avg_sq"]])
        for t in step_counts_(steps):
            if t != count:  # every parameter of a group usually shares its count: one row of scalars
                count, row = t, adam_scalars(t, lr, beta1, beta2, eps, weight_decay)
            scalars.append(row)
        fused_step_("adam", params, grads, states, scalars,
                    dict(maximize=group["maximize"], weight_decay=weight_decay != 0,
                         decoupled=group["decoupled_weight_decay"], amsgrad=amsgrad))


def adam_scalars(step: float, lr: float, beta1: float, beta2: float, eps: float,
                 weight_decay: float) -> tuple[float, ...]:
    """The fused Adam rule's per-tensor scalars at step count `step`, in Python floats as PyTorch computes
    them: (weight_decay, 1 - lr * weight_decay, 1 - beta1, beta2, 1 - beta2, lr / (1 - beta1^step),
    sqrt(1 - beta2^step), eps)."""
    return (weight_decay, 1 - lr * weight_decay, 1 - beta1, beta2, 1 - beta2, lr / (1 - beta1 ** step),
            (1 - beta2 ** step) ** 0.5, eps)


class AdamW(Adam):
    """Adam with decoupled weight decay (p *= 1 - lr * weight_decay before the Adam update), weight_decay
    defaulting to 1e-2, as torch.optim.AdamW."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
