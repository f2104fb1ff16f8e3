"""F.linear's cpu path: NumPy products on the weight's own memory, one autograd node per call.

`ops/matmul.py`'s `linear` routes here a cpu call with a 2-D weight, a (out_features,) bias or none, and an
input of at least two dims (folded into rows when that is a view). Through the general Matmul op the same
call would build `weight.t()` (a view node in the graph), save strides and shapes for the broadcasting
backward, and run its backward as two more Matmul applications on transposed views; in a small model's
training step that bookkeeping cost more than the products. Here the forward is `x @ weight.T + bias` with
the bias added in place, and the backward without a graph is three NumPy calls (dx = g @ W, dW = g^T @ x,
db = the column sums of g). Values are those of the general path (the same NumPy products and sums); the node
keeps PyTorch's grad_fn names (AddmmBackward0 with a bias, MmBackward0 without). With create_graph=True the
backward is the same products as differentiable tensor ops.

The shared host product (`host_product`, 16-bit operands in fp32 rounded once) lives here too; every cpu
matmul forward goes through it.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..grad_state import state as grad_state
from ..tensor import Tensor

__all__: list[str] = []


def host_product(x: np.ndarray, y: np.ndarray, dtype: D.dtype, bias=None, c_in=None, alpha=1, beta=0) -> Tensor:
    """alpha * x @ y + beta * c_in + bias (Tensors or None) for host arrays of `dtype`: the cpu matmul forward,
    also called on arrays directly (a weight's transposed host view) where building a view Tensor would cost
    more than a small layer's product."""
    ct = np.dtype(np.float32) if dtype is D.float16 or dtype is D.bfloat16 else x.dtype
    if ct != x.dtype:  # 16-bit operands: products and sums in fp32, one rounding at the end (as the kernel does)
        x, y = x.astype(ct), y.astype(ct)
    out = np.matmul(x, y)
    if alpha != 1:
        np.multiply(out, alpha, out=out, casting="unsafe")
    if c_in is not None and beta != 0:
        c = c_in._host().astype(ct, copy=False)
        np.add(out, c if beta == 1 else c * ct.type(beta), out=out, casting="unsafe")
    if bias is not None:
        b = bias._np if bias._np is not None else bias._host()
        np.add(out, b.astype(ct, copy=False), out=out, casting="unsafe")
    if ct != dtype.np:
        out = out.astype(dtype.np)
    return Tensor._fresh(out, dtype) if out.flags.c_contiguous else Tensor._wrap(out)


def host_linear_grads(g: np.ndarray, x: Tensor, weight: Tensor, dtype: D.dtype, need: tuple) -> tuple:
    """(dx, dW) of y = x @ weight.T for the host gradient g (M, N) of float32/float64 operands: g @ W and g^T @ x
    as NumPy products (None where need says no)."""
    if g.dtype is not dtype.np:
        return (host_product(g, weight._host(), dtype) if need[0] else None,
                host_product(g.T, x._host(), dtype) if need[1] else None)
    fresh = Tensor._fresh  # host_product's own steps for a g of `dtype`: np.matmul's result is C-contiguous
    return (fresh(np.matmul(g, weight._host()), dtype) if need[0] else None,
            fresh(np.matmul(g.T, x._host()), dtype) if need[1] else None)


class _Linear(Function):
    """x @ weight.T + bias for x (M, K), weight (N, K), bias (N,) or None, all on the cpu."""

    differentiable_forward = False
    _state_in_saved = True

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        need = ctx.needs_input_grad
        if need:  # dx needs only the weight and dW only x
            ctx.save_for_backward(x if need[1] else None, weight if need[0] else None)
        return host_product(x._host(), weight._host().T, x.dtype, bias)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (grad @ weight if need[0] else None, grad.mT @ x if need[1] else None,
                grad.sum(0) if need[2] else None)

    def backward_fused(self, grad):
        """The backward without a graph, in NumPy for float32/float64 (16-bit ones take `backward`)."""
        dtype = grad.dtype
        if dtype is not D.float32 and dtype is not D.float64:
            return type(self).backward(self, grad)
        x, weight = self.saved_tensors
        need = self.needs_input_grad
        g = grad._np if grad._np is not None else grad._host()
        return (*host_linear_grads(g, x, weight, dtype, need),
                Tensor._fresh(np.add.reduce(g, axis=0), dtype) if need[2] else None)  # np.sum's own reduction


class LinearMm(_Linear):
    """F.linear without a bias: grad_fn MmBackward0, as PyTorch's."""

    def name(self) -> str:
        return "MmBackward0"


class LinearAddmm(_Linear):
    """F.linear with a bias: grad_fn AddmmBackward0, as PyTorch's."""

    def name(self) -> str:
        return "AddmmBackward0"


def linear_rows(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """x (M, K) @ weight.T + bias on the cpu, as one node (operands already checked by `linear`).

    What `apply` does for these three arguments, written out: a model's forward makes this call per layer, and
    apply's generic loops over the arguments cost as much as a small layer's product."""
    out = host_product(x._host(), weight._host().T, x.dtype, bias)
    if not (grad_state.enabled and (x._requires_grad or weight._requires_grad
                                    or (bias is not None and bias._requires_grad))):
        return out
    node = (LinearMm if bias is None else LinearAddmm)._record_node((x, weight, bias))
    need_x, need_w, _ = node.needs_input_grad
    node.save_for_backward(x if need_w else None, weight if need_x else None)  # as _Linear.forward
    return node._link_result(out)
