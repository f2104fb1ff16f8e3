"""softmax / log_softmax registered over kernels/softmax.py: the fused kernels on cuda, NumPy on cpu.

The output is allocated contiguous in the input's shape and both are handed to the kernel as
(M0, M1, R) views with `dim` as R (see `rows3`), so no dim is ever permuted into place. The output is
saved for backward: the fused backward kernel needs only it and the incoming gradient, and the
tensor-op backward (create_graph) differentiates through it.

`rows3` / `rows2` are shared with ops/loss.py (the cross-entropy kernels take the same row views).
"""

from __future__ import annotations

import warnings
import weakref

from .. import dtypes as D
from ..autograd.function import Function
from ..grad_state import state
from ..kernels import softmax as K
from ..kernels.device_array import DeviceArray
from ..kernels.strided import collapse
from ..tensor import Tensor, wrap_dim
from .copy import _contiguous_copy
from .unary import check_tensor, torch_type_name

__all__ = ["softmax", "log_softmax"]


# ---------------------------------------------------------------- row views
# Dims before `dim` collapse into M0 and dims after it into M1, each to a single stride; the kernels address
# row m as (m // M1, m % M1). Every contiguous tensor (and most views) collapses this way for any `dim`, so
# softmax over dim 1 of an (N, C, L) tensor reads and writes it in place; a layout that does not collapse is
# copied to contiguous first.
def _prod(shape: tuple) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _group(shape: tuple, strides: tuple) -> tuple[int, int] | None:
    """(size, stride) of dims collapsed to one, or None when they don't collapse."""
    cshape, (cstrides,) = collapse(shape, [strides])
    if len(cshape) > 1:
        return None
    return _prod(shape), (cstrides[0] if cshape else 0)


def _try_rows3(t: Tensor, dim: int) -> DeviceArray | None:
    shape, strides = t._shape, t.stride()
    pre = _group(shape[:dim], strides[:dim])
    post = _group(shape[dim + 1:], strides[dim + 1:])
    if pre is None or post is None:
        return None
    return t._dev().view_as((pre[0], post[0], shape[dim]), (pre[1], post[1], strides[dim]))


def rows3(t: Tensor, dim: int) -> tuple[Tensor, DeviceArray]:
    """(the tensor viewed, its (M0, M1, R) DeviceArray) with `dim` as R; copies only if the layout needs it."""
    view = _try_rows3(t, dim)
    if view is None:
        t = _contiguous_copy(t)
        view = _try_rows3(t, dim)
    return t, view


def rows2(t: Tensor, split: int) -> tuple[Tensor, DeviceArray]:
    """t as (M0, M1): dims before `split` collapse to M0, the rest to M1 (copying only if needed)."""
    for _ in range(2):
        pre = _group(t._shape[:split], t.stride()[:split])
        post = _group(t._shape[split:], t.stride()[split:])
        if pre is not None and post is not None:
            return t, t._dev().view_as((pre[0], post[0]), (pre[1], post[1]))
        t = _contiguous_copy(t)
    raise AssertionError("a contiguous tensor always collapses")


# ---------------------------------------------------------------- the op
def _run_forward(ctx, x: Tensor, dim: int, log: bool) -> Tensor:
    if x.device.type == "cpu":
        if log and ctx.needs_input_grad[:1] == (True,):  # the exp kept: the fused backward needs no exp pass of its own
            y, ctx.exp_host = K.log_softmax_exp_ref(x._host(), dim)
            # The backward computes its result in that exp (no fresh array); a second backward (retain_graph)
            # recomputes it from x, the same bits, while x lives unchanged (a weak reference: no memory held).
            ctx.exp_source = (weakref.ref(x), x._version)
            return Tensor._wrap(y)
        return Tensor._wrap(K.softmax_ref(x._host(), dim, log))
    y = Tensor._empty(x._shape, x.dtype, x.device)
    if y.numel():
        _, xv = rows3(x, dim)
        _, yv = rows3(y, dim)
        K.softmax(yv, xv, log)
    return y


class SoftmaxFunction(Function):
    """softmax(x, dim) (log=False) or log_softmax(x, dim) (log=True) for a float x with ndim >= 1."""

    differentiable_forward = False
    exp_host = None  # cpu log_softmax recording a graph: the forward's (exp(x - row max), row sums)
    exp_source = None  # and (a weak reference to x, x's version then): what recomputes them for a second backward
    _state_in_saved = True  # besides _saved: ints, a flag, exp_source (no tensor) and exp_host (dropped by _release)

    def name(self) -> str:
        return "LogSoftmaxBackward0" if self.log else "SoftmaxBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, log: bool) -> Tensor:
        ctx.dim, ctx.log = dim, log
        y = _run_forward(ctx, x, dim, log)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        dim = ctx.dim
        if ctx.log:
            # exp(y) is softmax(x); softmax(y) equals it (y is x shifted per row) and is differentiable here.
            return grad - SoftmaxFunction.apply(y, dim, False) * grad.sum(dim, keepdim=True), None, None
        return y * (grad - (grad * y).sum(dim, keepdim=True)), None, None

    def _kept_exp(self) -> tuple | None:
        """The forward's (exp, row sums), taken (the backward uses them up); after a first backward, recomputed
        from x when it is still alive and unchanged, else None (the backward then takes exp(y): the same values,
        rounded differently)."""
        exp, self.exp_host = self.exp_host, None
        source = self.exp_source
        if exp is None and source is not None:
            x = source[0]()
            if x is not None and x._version == source[1]:
                exp = K.log_softmax_exp_ref(x._host(), self.dim)[1]  # as the forward computed it: the same bits
        return exp

    def _release(self) -> None:
        self.exp_host = None

    def backward_fused(self, grad):
        (y,) = self._saved_values()  # (y's values only: no output-with-history to rebuild)
        if y.device.type == "cpu":
            exp = self._kept_exp() if self.log else None
            gx = K.softmax_backward_ref(grad._host(), y._host(), self.dim, self.log, exp, consume=True)
            return Tensor._wrap(gx), None, None
        gx = Tensor._empty(y._shape, y.dtype, y.device)
        if gx.numel():
            _, gv = rows3(grad, self.dim)
            _, yv = rows3(y, self.dim)
            _, gxv = rows3(gx, self.dim)
            K.softmax_backward(gxv, gv, yv, self.log)
        return gx, None, None


def apply_softmax(x: Tensor, dim: int, log: bool = False) -> Tensor:
    """The op on an already checked x (floating point, dim wrapped); a 0-d x is one one-element row."""
    if x.ndim == 0:
        return SoftmaxFunction.apply(x.reshape(1), 0, log).reshape(())
    if x.device.type == "cpu" and not (state.enabled and x._requires_grad):
        # No node to record: the reference straight, without apply's context (what forward does unrecorded).
        return Tensor._wrap(K.softmax_ref(x._host(), dim, log))
    return SoftmaxFunction.apply(x, dim, log)


def _implicit_dim(name: str, ndim: int) -> int:
    # PyTorch's _get_softmax_dim: deprecated, kept for ported code; stacklevel 4 names the caller of tt.<name>.
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
                  "as an argument.", stacklevel=4)
    return 0 if ndim in (0, 1, 3) else 1


def _family(name: str, input: Tensor, dim: int | None, dtype: D.dtype | None, log: bool) -> Tensor:
    check_tensor(name, input)
    if dim is None:
        dim = _implicit_dim(name, input.ndim)
    if dtype is not None:
        input = input.to(dtype)
    if not input.dtype.is_floating_point:
        kernel = "log_softmax_lastdim_kernel_impl" if log else "softmax_lastdim_kernel_impl"
        raise RuntimeError(f"\"{kernel}\" not implemented for '{torch_type_name(input.dtype)}'")
    return apply_softmax(input, wrap_dim(dim, input.ndim), log)


def softmax(input: Tensor, dim: int | None = None, dtype: D.dtype | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along dim (fused, max-shifted); dtype casts the input first."""
    return _family("softmax", input, dim, dtype, False)


def log_softmax(input: Tensor, dim: int | None = None, dtype: D.dtype | None = None) -> Tensor:
    """x - logsumexp(x) along dim (fused); dtype casts the input first."""
    return _family("log_softmax", input, dim, dtype, True)


METHODS = {"softmax": softmax, "log_softmax": log_softmax}
