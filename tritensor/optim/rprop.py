"""Rprop: resilient backpropagation (PyTorch's algorithm: per-element step sizes driven by gradient signs)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .. import dtypes
from ..autograd import no_grad
from ..creation import full_like, tensor, zeros_like
from ..ops.optim import fused_step_
from ..tensor import Tensor
from .optimizer import Optimizer, scalar_lr


class Rprop(Optimizer):
    r"""Rprop, as torch.optim.Rprop:

    g = -grad if maximize else grad;  s = sign(g * prev);
    step_size = clamp(step_size * (etaplus if s > 0, etaminus if s < 0, 1 if s == 0), *step_sizes);
    g = 0 where s < 0;  p -= sign(g) * step_size;  prev = g.

    State per parameter: "step" (a float32 scalar tensor on the cpu), "prev" and "step_size" (initially lr
    everywhere). On cuda a group's step is one fused multi-tensor launch per dtype.
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False, differentiable: bool = False) -> None:
        lr = scalar_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        if differentiable:
            raise NotImplementedError("differentiable=True (a step that autograd records) is not supported")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("capturable", False)
        for s in self.state.values():  # old checkpoints counted steps in a Python int
            if "step" in s and not isinstance(s["step"], Tensor):
                s["step"] = tensor(float(s["step"]), dtype=dtypes.float32)

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss (if given)."""
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                params = list(self._params_with_grad(group))
                if any(p.grad.is_sparse for p in params):
                    raise RuntimeError("Rprop does not support sparse gradients")
                if not params:
                    continue
                etaminus, etaplus = group["etas"]
                step_size_min, step_size_max = group["step_sizes"]
                states = []
                for p in params:
                    state = self.state[p]
                    if len(state) == 0:
                        state["step"] = tensor(0.0, dtype=dtypes.float32)
                        state["prev"] = zeros_like(p)
                        state["step_size"] = full_like(p, group["lr"])
                    state["step"].add_(1)
                    states.append([state["prev"], state["step_size"]])
                scalars = [(etaminus, etaplus, step_size_min, step_size_max)] * len(params)
                fused_step_("rprop", params, [p.grad for p in params], states, scalars,
                            dict(maximize=group["maximize"]))
        return loss
