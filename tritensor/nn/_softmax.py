"""softmax / log_softmax as autograd ops: the fused kernels of kernels/softmax.py on cuda, NumPy on cpu.

The output is allocated contiguous in the input's shape and both are handed to the kernel as
(M0, M1, R) views with `dim` as R (see _layout), so no dim is ever permuted into place. The output is
saved for backward: the fused backward kernel needs only it and the incoming gradient, and the
tensor-op backward (create_graph) differentiates through it.
"""

from __future__ import annotations

from ..autograd.function import Function
from ..kernels import softmax as K
from ..tensor import Tensor
from ._layout import rows3


def _run_forward(x: Tensor, dim: int, log: bool) -> Tensor:
    if x.device.type == "cpu":
        return Tensor._wrap(K.softmax_ref(x._host(), dim, log))
    y = Tensor._empty(x._shape, x.dtype, x.device)
    if y.numel():
        _, xv = rows3(x, dim)
        _, yv = rows3(y, dim)
        K.softmax(yv, xv, log)
    return y


class Softmax(Function):
    """softmax(x, dim) (log=False) or log_softmax(x, dim) (log=True) for a float x with ndim >= 1."""

    differentiable_forward = False

    def name(self) -> str:
        return "LogSoftmaxBackward0" if self.log else "SoftmaxBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, log: bool) -> Tensor:
        ctx.dim, ctx.log = dim, log
        y = _run_forward(x, dim, log)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        dim = ctx.dim
        if ctx.log:
            # exp(y) is softmax(x); softmax(y) equals it (y is x shifted per row) and is differentiable here.
            return grad - Softmax.apply(y, dim, False) * grad.sum(dim, keepdim=True), None, None
        return y * (grad - (grad * y).sum(dim, keepdim=True)), None, None

    def backward_fused(self, grad):
        (y,) = self.saved_tensors
        if y.device.type == "cpu":
            return Tensor._wrap(K.softmax_backward_ref(grad._host(), y._host(), self.dim, self.log)), None, None
        gx = Tensor._empty(y._shape, y.dtype, y.device)
        if gx.numel():
            _, gv = rows3(grad, self.dim)
            _, yv = rows3(y, self.dim)
            _, gxv = rows3(gx, self.dim)
            K.softmax_backward(gxv, gv, yv, self.log)
        return gx, None, None


def softmax(x: Tensor, dim: int, log: bool = False) -> Tensor:
    """x already checked: floating point, dim wrapped; 0-d inputs are treated as one-element rows."""
    if x.ndim == 0:
        return Softmax.apply(x.reshape(1), 0, log).reshape(())
    return Softmax.apply(x, dim, log)
