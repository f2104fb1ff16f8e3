"""Adafactor (PyTorch's torch.optim.Adafactor): a second-moment estimate factored into row and column means
over the last two dimensions, a relative step size and update clipping.

Not an elementwise rule (the factored estimate needs reductions along rows and columns and the update's RMS),
so it runs on tensor ops, parameter by parameter as PyTorch's single-tensor path, on cpu and cuda alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import ml_dtypes

from .. import dtypes
from ..autograd import no_grad
from ..creation import tensor, zeros, zeros_like
from ..tensor import Tensor
from .optimizer import Optimizer


class Adafactor(Optimizer):
    r"""Adafactor, as torch.optim.Adafactor (PyTorch 2.5+):

    g = -grad if maximize else grad;  t += 1;  w = t^beta2_decay (1 - beta2_t);
    rho = min(lr, 1 / sqrt(t));  alpha = max(eps2, RMS(p)) * rho;  p *= 1 - lr * weight_decay;
    p of >= 2 dims: R = lerp(R, mean(g^2, dim=-1), w), C = lerp(C, mean(g^2, dim=-2), w),
    V = R @ C / max(mean(R, dim=-2), eps1);  otherwise V = lerp(V, g^2, w);
    U = g / sqrt(max(V, eps1^2));  p -= alpha / max(1, RMS(U) / d) * U.

    eps = (eps1, eps2); eps1=None means the machine epsilon of the (first) parameter's dtype. State per
    parameter: "step" (a float32 scalar tensor on the cpu), "row_var" and "col_var" (the gradient's shape
    with the last, resp. second-to-last, dimension 1) for parameters of >= 2 dims, "variance" otherwise.
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple[float | None, float] = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0, *,
                 foreach: bool | None = None, maximize: bool = False) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)
            for p in group["params"]:
                s = self.state.get(p, {})
                if len(s) != 0 and not isinstance(s["step"], Tensor):
                    s["step"] = tensor(float(s["step"]), dtype=dtypes.float32)

    def _init_group(self, group: dict[str, Any]) -> list[Tensor]:
        """The group's parameters with a gradient, their state created on first sight; PyTorch's errors for
        complex parameters and sparse gradients come before any parameter is touched."""
        params = []
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.is_complex():
                raise RuntimeError("Adafactor does not support complex parameters")
            if p.grad.is_sparse:
                raise RuntimeError("Adafactor does not support sparse gradients")
            params.append(p)
            state = self.state[p]
            if len(state) == 0:
                # the count lives on the cpu (a float32 scalar, as PyTorch keeps it): no device sync to read it
                state["step"] = tensor(0.0, dtype=dtypes.float32)
                g = p.grad
                if g.dim() > 1:
                    state["row_var"] = zeros(*g.shape[:-1], 1, dtype=g.dtype, device=g.device)
                    state["col_var"] = zeros(*g.shape[:-2], 1, g.shape[-1], dtype=g.dtype, device=g.device)
                else:
                    state["variance"] = zeros_like(g)
        return params

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss (if given)."""
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                params = self._init_group(group)
                eps1, eps2 = group["eps"]
                lr = group["lr"].item() if isinstance(group["lr"], Tensor) else group["lr"]
                for p in params:
                    if eps1 is None:  # as PyTorch's loop: the first parameter's dtype fixes it for the group
                        eps1 = float(ml_dtypes.finfo(p.dtype.np).eps)
                    self._update(p, self.state[p], lr, group["beta2_decay"], eps1, eps2, group["d"],
                                 group["weight_decay"], group["maximize"])
        return loss

    @staticmethod
    def _update(p: Tensor, state: dict[str, Any], lr: float, beta2_decay: float, eps1: float, eps2: float,
                d: float, weight_decay: float, maximize: bool) -> None:
        """One Adafactor step of p, operation by operation as PyTorch's _single_tensor_adafactor."""
        grad = -p.grad if maximize else p.grad
        step_t = state["step"]
        step_t.add_(1)
        step = step_t.item()
        one_minus_beta2_t = step ** beta2_decay
        rho_t = min(lr, 1 / (step ** 0.5))
        alpha = max(eps2, p.norm(2).item() / (p.numel() ** 0.5)) * rho_t
        if weight_decay != 0:
            p.mul_(1 - lr * weight_decay)
        if grad.dim() > 1:
            row_var, col_var = state["row_var"], state["col_var"]
            # mean of g^2 along a dimension as a squared norm over its length, as PyTorch computes it
            row_mean = grad.norm(2, dim=-1, keepdim=True).square_().div_(grad.shape[-1])
            row_var.lerp_(row_mean, one_minus_beta2_t)
            col_mean = grad.norm(2, dim=-2, keepdim=True).square_().div_(grad.shape[-2])
            col_var.lerp_(col_mean, one_minus_beta2_t)
            var_estimate = row_var @ col_var
            var_estimate.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
        else:
            variance = state["variance"]
            variance.lerp_(grad * grad, one_minus_beta2_t)
            var_estimate = variance.clone()  # the update below works in place: keep the state out of it
        # eps1 squared: the square root below brings it back to eps1's scale
        update = var_estimate.clamp_(min=eps1 * eps1).rsqrt_()
        update.mul_(grad)
        denom = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * d))
        p.add_(update, alpha=-alpha / denom)
