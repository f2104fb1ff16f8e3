"""ASGD: averaged stochastic gradient descent (PyTorch's algorithm, its state and its float32 roundings)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .. import dtypes
from ..autograd import no_grad
from ..creation import tensor, zeros_like
from ..ops.optim import fused_step_
from ..tensor import Tensor
from .optimizer import Optimizer, scalar_lr


class ASGD(Optimizer):
    r"""Averaged SGD, as torch.optim.ASGD:

    g = -grad if maximize else grad;  t += 1;  g += weight_decay * p;
    p *= 1 - lambd * eta;  p -= eta * g;  ax = p if mu == 1 else ax + (p - ax) * mu;
    then eta = lr / (1 + lambd * lr * t)^alpha and mu = 1 / max(1, t - t0).

    State per parameter: "step", "eta", "mu" (float32 scalar tensors, on the cpu here so that a step reads
    them without a device sync; PyTorch keeps them on the parameter's device) and "ax", the average. eta
    and mu are used as their float32 values, as PyTorch's `.item()` reads them. On cuda a group's step is
    one fused multi-tensor launch per dtype.
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        lr = scalar_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if foreach is False and capturable:
            raise ValueError("Capturable not supported with single tensor ASGD")
        if differentiable:
            raise NotImplementedError("differentiable=True (a step that autograd records) is not supported")
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("capturable", False)
        # old checkpoints kept step, eta and mu as Python numbers
        for s in self.state.values():
            for key in ("step", "eta", "mu"):
                if key in s and not isinstance(s[key], Tensor):
                    s[key] = tensor(float(s[key]), dtype=dtypes.float32)

    @staticmethod
    def _process_state_value(param: Tensor, value: Tensor, key) -> Tensor:
        """PyTorch's load policy (eta and mu take the parameter's dtype), but the scalars stay on the cpu."""
        if key in ("eta", "mu"):
            dtype = param.dtype if param.is_floating_point() else value.dtype
            return value.detach().to(device="cpu", dtype=dtype, copy=True)
        return Optimizer._process_state_value(param, value, key)

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss (if given)."""
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                params = list(self._params_with_grad(group))
                if any(p.grad.is_sparse for p in params):
                    raise RuntimeError("ASGD does not support sparse gradients")
                if not params:
                    continue
                foreach = group["foreach"]
                if foreach is None:  # PyTorch's default: foreach on cuda, the single-tensor loop elsewhere
                    foreach = all(p.device.type == "cuda" for p in params)
                if group["capturable"] and not foreach:
                    raise RuntimeError("Capturable not supported with single tensor ASGD")
                lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
                states, scalars, updates = [], [], []
                for p in params:
                    state = self.state[p]
                    if len(state) == 0:
                        state["step"] = tensor(0.0, dtype=dtypes.float32)
                        state["eta"] = tensor(float(lr), dtype=dtypes.float32)
                        state["mu"] = tensor(1.0, dtype=dtypes.float32)
                        state["ax"] = zeros_like(p)
                    state["step"].add_(1)
                    step = state["step"].item()
                    eta = state["eta"].item()
                    states.append([state["ax"]])
                    scalars.append((group["weight_decay"], 1 - lambd * eta, eta, state["mu"].item()))
                    # the next eta and mu, in Python floats, stored as float32 as PyTorch's torch.tensor does
                    updates.append((state, lr / ((1 + lambd * lr * step) ** alpha), 1 / max(1, step - t0)))
                fused_step_("asgd", params, [p.grad for p in params], states, scalars,
                            dict(maximize=group["maximize"], weight_decay=group["weight_decay"] != 0))
                for state, eta, mu in updates:
                    state["eta"].copy_(tensor(eta, dtype=dtypes.float32))
                    state["mu"].copy_(tensor(mu, dtype=dtypes.float32))
        return loss
