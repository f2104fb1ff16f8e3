"""Adagrad (PyTorch's algorithm: lr decay, weight decay, initial accumulator, maximize, sparse gradients)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .. import dtypes
from ..autograd import no_grad
from ..creation import full_like, tensor
from ..ops.optim import fused_step_
from ..tensor import Tensor
from .optimizer import Optimizer, scalar_lr


class Adagrad(Optimizer):
    r"""Adagrad, as torch.optim.Adagrad:

    t += 1;  g = -grad if maximize else grad;  g += weight_decay * p;  clr = lr / (1 + (t - 1) * lr_decay);
    sum += g * g;  p -= clr * g / (sqrt(sum) + eps).

    State per parameter, created with the optimizer (as PyTorch's): "step" (a float32 scalar tensor on the cpu,
    on the parameter's device with fused=True) and "sum" (filled with initial_accumulator_value). A sparse
    gradient (embedding(sparse=True)) steps as its dense form, which moves only the rows it has; it refuses
    weight decay, as PyTorch does. On cuda a group's step is one fused multi-tensor launch per dtype.

    >>> w = tt.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = tt.optim.Adagrad([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); w
    tensor([0.9000, 1.9000], requires_grad=True)
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None) -> None:
        lr = scalar_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        if differentiable:
            raise NotImplementedError("differentiable=True (a step that autograd records) is not supported")
        # PyTorch creates every parameter's state here, not at its first step.
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = tensor(0.0, dtype=dtypes.float32, device=p.device if group["fused"] else None)
                state["sum"] = full_like(p, group["initial_accumulator_value"])

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("fused", None)
        for s in self.state.values():
            if "step" in s and not isinstance(s["step"], Tensor):
                s["step"] = tensor(float(s["step"]), dtype=dtypes.float32)

    def share_memory(self) -> None:
        """A no-op: tritensor has a single process's memory (PyTorch moves the sums to shared memory)."""

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss (if given)."""
        loss = self._closure_loss(closure)
        # Refused before any group is updated (PyTorch refuses at the parameter that has one).
        for group in self.param_groups:
            if any(p.grad.is_sparse for p in self._params_with_grad(group)):
                if group["weight_decay"] != 0:
                    raise RuntimeError("weight_decay option is not compatible with sparse gradients")
                if group["fused"]:
                    raise RuntimeError("`fused` does not support sparse grad")
        with no_grad():
            for group in self.param_groups:
                params = list(self._params_with_grad(group))
                states, scalars, grads = [], [], []
                for p in params:
                    state = self.state[p]
                    # A sparse gradient's dense form (duplicates summed) updates exactly the rows it has:
                    # elsewhere g = 0 adds nothing to the sum and moves p by -clr * 0 / (sqrt(sum) + eps).
                    grads.append(p.grad.to_dense() if p.grad.is_sparse else p.grad)
                    state["step"].add_(1)
                    step = state["step"].item()
                    states.append([state["sum"]])
                    scalars.append((group["weight_decay"], group["lr"] / (1 + (step - 1) * group["lr_decay"]),
                                    group["eps"]))
                if params:
                    fused_step_("adagrad", params, grads, states, scalars,
                                dict(maximize=group["maximize"], weight_decay=group["weight_decay"] != 0))
        return loss
