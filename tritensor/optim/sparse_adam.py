"""SparseAdam: the lazy Adam of torch.optim.SparseAdam, for sparse COO gradients (embedding(sparse=True)).

Only the rows the gradient touches are updated. With the coalesced gradient's row indices r and values g:

  m_old = m[r];  dm = (g - m_old) * (1 - beta1);  m[r] += dm
  v_old = v[r];  dv = (g*g - v_old) * (1 - beta2);  v[r] += dv
  p[r] += -lr * sqrt(1 - beta2^t) / (1 - beta1^t) * (dm + m_old) / (sqrt(dv + v_old) + eps)

in PyTorch's order of operations (`t` counts the parameter's steps; maximize negates g). State per
parameter: "step" (an int), "exp_avg" and "exp_avg_sq" (dense, the parameter's shape), as PyTorch's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..autograd import no_grad
from ..creation import zeros_like
from ..tensor import Tensor
from .optimizer import Optimizer, scalar_lr


def _rows(t: Tensor, sparse_dim: int) -> Tensor:
    """t viewed as (prod(sparse sizes), *dense sizes): the rows a coalesced gradient's indices name."""
    rows = int(np.prod(t.shape[:sparse_dim], dtype=np.int64))
    return t.view((rows,) + tuple(t.shape[sparse_dim:]))


class SparseAdam(Optimizer):
    """Adam for sparse gradients, as torch.optim.SparseAdam: only the moments and parameter rows present in
    the (coalesced) gradient are updated. Dense gradients raise; use Adam for them."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, maximize: bool = False) -> None:
        lr = scalar_lr(lr)
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        params = list(params)
        sparse_params: list = []
        for index, group in enumerate(params):
            if isinstance(group, dict):
                sparse_params += [[index, d] for d, p in enumerate(group.get("params", [])) if p.is_sparse]
            elif group.is_sparse:
                sparse_params.append(index)
        if sparse_params:
            raise ValueError(f"Sparse params at indices {sparse_params}: SparseAdam requires dense parameter tensors")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))

    def step(self, closure: Callable[[], Any] | None = None):
        """One lazy Adam update of every parameter with a (sparse) gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    if not p.grad.is_sparse:
                        raise RuntimeError("SparseAdam does not support dense gradients, please consider Adam instead")
                    state = self.state[p]
                    if len(state) == 0:
                        state["step"] = 0
                        state["exp_avg"] = zeros_like(p)
                        state["exp_avg_sq"] = zeros_like(p)
                    state["step"] += 1
                    self._update(p, state, group)
        return loss

    @staticmethod
    def _update(p: Tensor, state: dict, group: dict) -> None:
        grad = p.grad.coalesce()
        if grad._nnz() == 0:
            return
        if group["maximize"]:
            grad = -grad
        beta1, beta2 = group["betas"]
        sd = grad.sparse_dim()
        rows = grad._linear()
        g = grad._values()
        m, v, w = _rows(state["exp_avg"], sd), _rows(state["exp_avg_sq"], sd), _rows(p, sd)
        old_m = m.index_select(0, rows)
        dm = (g - old_m) * (1 - beta1)
        m.index_add_(0, rows, dm)
        old_v = v.index_select(0, rows)
        dv = (g.pow(2) - old_v) * (1 - beta2)
        v.index_add_(0, rows, dv)
        numer = dm + old_m
        denom = (dv + old_v).sqrt() + group["eps"]
        step = state["step"]
        step_size = group["lr"] * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
        w.index_add_(0, rows, (numer / denom) * -step_size)
