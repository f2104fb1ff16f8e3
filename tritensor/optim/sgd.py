"""SGD with momentum, dampening, Nesterov momentum, weight decay and maximize (PyTorch's algorithm)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..autograd import no_grad
from ..creation import zeros_like
from ..ops.optim import fused_step_
from .optimizer import Optimizer, params_and_grads


class SGD(Optimizer):
    r"""Stochastic gradient descent, as torch.optim.SGD:

    g = -grad if maximize else grad;  g += weight_decay * p;
    b = g on the first step, else momentum * b + (1 - dampening) * g;  g = g + momentum * b if nesterov else b;
    p -= lr * g.

    On cuda a group's step is one fused multi-tensor Triton launch per dtype; on cpu the NumPy reference.

    >>> w = tt.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = tt.optim.SGD([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); w
    tensor([0.8000, 1.6000], requires_grad=True)
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False, fused: bool | None = None) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if differentiable:
            raise NotImplementedError("differentiable=True (a step that autograd records) is not supported")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                        maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", None)

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss (if given)."""
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                self._step_group(group)
        return loss

    def _step_group(self, group: dict[str, Any]) -> None:
        """One group's update: the momentum buffers found (or made) in one pass, one fused_step_ call."""
        momentum = group["momentum"]
        if group["nesterov"] and (momentum <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        params, grads = params_and_grads(group)
        if not params:
            return
        # A sparse gradient (embedding(sparse=True)) steps as its dense form: PyTorch's numbers.
        grads = [g.to_dense() if g.is_sparse else g for g in grads]
        row = (group["lr"], group["weight_decay"], momentum, 1 - group["dampening"], 0.0)
        if momentum == 0:
            states, scalars = [[] for _ in params], [row] * len(params)
        else:
            states, scalars = [], []
            all_state = self.state
            for p in params:
                state = all_state.get(p)
                buf = None if state is None else state.get("momentum_buffer")
                if buf is None:  # created here: PyTorch copies the gradient into it (c4 = 1)
                    buf = self.state[p]["momentum_buffer"] = zeros_like(p)
                    scalars.append(row[:4] + (1.0,))
                else:
                    scalars.append(row)
                states.append([buf])
        fused_step_("sgd", params, grads, states, scalars,
                    dict(maximize=group["maximize"], weight_decay=group["weight_decay"] != 0,
                         momentum=momentum != 0, nesterov=group["nesterov"]))
