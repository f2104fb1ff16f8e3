"""Pooling registered over kernels/pool.py: max / avg pooling with fixed or adaptive windows, 1/2/3-d.

Every op views its input as (NC, D, H, W) (leading dims collapsed, size-1 dims for lower ranks) and runs one
autograd Function over that view: the Triton kernels on cuda, kernels/pool_ref.py on cpu. The backward is a
Function too (a gather over input elements), whose own backward is the adjoint (avg pooling again, or a
gather at the argmax), so double backward works.

torch has max_pool1d/2d/3d, max_pool1d_with_indices, avg_pool1d, adaptive_avg_pool1d and adaptive_max_pool1d
in its namespace, so only those are in `__all__`; the rest are functional helpers that nn.functional imports.
"""

from __future__ import annotations

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import pool as K
from ..kernels import pool_ref as R
from ..tensor import Tensor
from .pooling_args import adaptive_output, pool_geometry

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "avg_pool1d",
           "adaptive_avg_pool1d", "adaptive_max_pool1d"]


def _kind_name(p: dict) -> str:
    rank = p["rank"]
    if p["adaptive"]:
        return f"Adaptive{'Max' if p['max'] else 'Avg'}Pool{rank}D"
    return f"MaxPool{rank}DWithIndices" if p["max"] else f"AvgPool{rank}D"


def _run_forward(x: Tensor, p: dict, out_sp: tuple) -> tuple[Tensor, Tensor | None]:
    if x.device.type == "cpu":
        out, idx = R.pool_ref(x._host(), out_sp, p)
        return Tensor._wrap(out), (Tensor._wrap(idx) if idx is not None else None)
    shape = (x.shape[0], *out_sp)
    out = Tensor._empty(shape, x.dtype, x.device)
    idx = Tensor._empty(shape, _int64(), x.device) if p["max"] else None
    K.pool_forward(out._dev(), idx._dev() if idx is not None else None, x._dev(), p)
    return out, idx


def _int64():
    from .. import dtypes

    return dtypes.int64


class PoolGrad(Function):
    """The input gradient of a pooling: grad (NC, OD, OH, OW) -> (NC, D, H, W); indices for max pooling."""

    differentiable_forward = False

    def name(self) -> str:
        return f"{_kind_name(self.p)}BackwardBackward0"

    @staticmethod
    def forward(ctx, grad: Tensor, indices: Tensor | None, p: dict, in_sp: tuple) -> Tensor:
        ctx.p, ctx.out_sp = p, tuple(grad.shape[1:])
        ctx.save_for_backward(indices)
        if grad.device.type == "cpu":
            idx = indices._host() if indices is not None else None
            return Tensor._wrap(R.pool_backward_ref(grad._host(), in_sp, p, idx))
        grad = grad.contiguous()
        gx = Tensor._empty((grad.shape[0], *in_sp), grad.dtype, grad.device)
        K.pool_backward(gx._dev(), grad._dev(), indices._dev() if indices is not None else None, p)
        return gx

    @staticmethod
    def backward(ctx, gg):
        # The gradient map is linear in grad: its adjoint is avg pooling again, or a gather at the argmax.
        (indices,) = ctx.saved_tensors
        if ctx.p["max"]:
            nc = gg.shape[0]
            g = gg.reshape(nc, -1).gather(1, indices.reshape(nc, -1)).reshape(nc, *ctx.out_sp)
        else:
            g = Pool.apply(gg, dict(ctx.p, rank=3), ctx.out_sp)
        return g, None, None, None


class Pool(Function):
    """Pooling over the last p["rank"] dims of x to out_sp (the rank's sizes): (out, indices) for max, out for avg.

    The leading dims collapse to NC and lower ranks get size-1 dims, so the kernels see (NC, D, H, W)."""

    differentiable_forward = False

    def name(self) -> str:
        return f"{_kind_name(self.p)}Backward0"

    @staticmethod
    def forward(ctx, x: Tensor, p: dict, out_sp: tuple):
        k = p["rank"]
        lead = tuple(x.shape[:-k])
        nc = 1
        for s in lead:
            nc *= s
        pre = (1,) * (3 - k)
        ctx.p, ctx.x_shape, ctx.out4 = p, tuple(x.shape), (nc, *pre, *out_sp)
        ctx.in_sp = pre + tuple(x.shape[-k:])
        out_shape = lead + tuple(out_sp)
        if nc == 0 or 0 in out_sp:
            out = Tensor._empty(out_shape, x.dtype, x.device)
            idx = Tensor._empty(out_shape, _int64(), x.device) if p["max"] else None
        elif x.device.type == "cpu":  # NumPy reshapes of the host arrays: no tensor views to build and free
            o, i = R.pool_ref(x._host().reshape(nc, *ctx.in_sp), pre + tuple(out_sp), p)
            out = Tensor._wrap(o.reshape(out_shape))
            idx = None if i is None else Tensor._wrap(i.reshape(out_shape))
        else:
            out, idx = _run_forward(x.reshape(nc, *ctx.in_sp), p, pre + tuple(out_sp))
            out = out.reshape(out_shape)
            idx = idx.reshape(out_shape) if idx is not None else None
        if idx is None:
            return out
        ctx.save_for_backward(idx)
        ctx.mark_non_differentiable(idx)
        return out, idx

    @staticmethod
    def backward(ctx, grad, grad_indices=None):
        idx = ctx.saved_tensors[0].reshape(ctx.out4) if ctx.p["max"] else None
        if 0 in ctx.out4 or 0 in ctx.x_shape:
            return grad.new_zeros(ctx.x_shape), None, None
        gx = PoolGrad.apply(grad.reshape(ctx.out4), idx, ctx.p, ctx.in_sp)
        return gx.reshape(ctx.x_shape), None, None

    def backward_fused(self, grad, grad_indices=None):
        """`backward` without a graph; on cpu for float32/float64 PoolGrad's NumPy reference called on the
        reshaped host arrays directly (the same values, without the reshape and PoolGrad nodes' layers)."""
        dtype = grad.dtype
        if grad.device.type != "cpu" or (dtype is not D.float32 and dtype is not D.float64) or \
                0 in self.out4 or 0 in self.x_shape:
            return type(self).backward(self, grad, grad_indices)
        idx = self.saved_tensors[0]._host().reshape(self.out4) if self.p["max"] else None
        gx = R.pool_backward_ref(grad._host().reshape(self.out4), self.in_sp, self.p, idx)
        return Tensor._wrap(gx.reshape(self.x_shape)), None, None


def _pool(x: Tensor, k: int, out_sp: list[int], **p):
    """Runs Pool over x with the geometry p (kernel/stride/padding/dilation as k-tuples) padded to 3 dims."""
    geometry = dict(rank=k, dilation=(1,) * k, stride=(1,) * k, padding=(0,) * k, count_include_pad=True,
                    divisor=0)
    geometry.update(p)
    for name in ("kernel", "stride", "padding", "dilation"):
        geometry[name] = (0 if name == "padding" else 1,) * (3 - k) + tuple(geometry[name])
    return Pool.apply(x, geometry, tuple(out_sp))


# ---------------------------------------------------------------- max pooling
def _max_pool(name: str, k: int, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    kernel, st, pad, dil, out = pool_geometry(name, input, k, kernel_size, stride, padding, dilation, ceil_mode)
    res = _pool(input, k, out, max=True, adaptive=False, kernel=kernel, stride=st, padding=pad, dilation=dil)
    return res if return_indices else res[0]


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """1-d max pooling over the last dim of a (N, C, L) or (C, L) input; indices index L."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
                            return_indices: bool = False):
    """max_pool1d returning (values, indices)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """2-d max pooling of a (N, C, H, W) or (C, H, W) input; indices are flat h * W + w."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
                            return_indices: bool = False):
    """max_pool2d returning (values, indices)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """3-d max pooling of a (N, C, D, H, W) or (C, D, H, W) input; indices are flat (d * H + h) * W + w."""
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
                            return_indices: bool = False):
    """max_pool3d returning (values, indices)."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# ---------------------------------------------------------------- average pooling
def _avg_pool(name: str, k: int, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    kernel, st, pad, _, out = pool_geometry(name, input, k, kernel_size, stride, padding, 1, ceil_mode,
                                            avg3=k == 3)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    return _pool(input, k, out, max=False, adaptive=False, kernel=kernel, stride=st, padding=pad,
                 count_include_pad=bool(count_include_pad), divisor=int(divisor_override or 0))


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-d average pooling of a (N, C, L) or (C, L) input."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """2-d average pooling; the divisor is divisor_override, or the window clipped to the padded input
    (count_include_pad) or to the input."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """3-d average pooling (divisor as avg_pool2d's)."""
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# ---------------------------------------------------------------- adaptive pooling
def _widest(In: int, Out: int) -> int:
    """The widest adaptive window: ceil((o + 1) * In / Out) - floor(o * In / Out) over o."""
    return max((-(-(o + 1) * In // Out)) - (o * In // Out) for o in range(Out)) if Out else 1


def _adaptive(name: str, k: int, input, output_size, is_max: bool):
    out = adaptive_output(name, input, output_size, k)
    kernel = tuple(_widest(In, Out) for In, Out in zip(input.shape[-k:], out))
    return _pool(input, k, out, max=is_max, adaptive=True, kernel=kernel)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average over PyTorch's adaptive windows [floor(i * L / out), ceil((i + 1) * L / out))."""
    return _adaptive("adaptive_avg_pool1d", 1, input, output_size, False)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """2-d adaptive average pooling; a None in output_size keeps that input size."""
    return _adaptive("adaptive_avg_pool2d", 2, input, output_size, False)


def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    """3-d adaptive average pooling; a None in output_size keeps that input size."""
    return _adaptive("adaptive_avg_pool3d", 3, input, output_size, False)


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max over adaptive windows; with return_indices also the flat argmax."""
    res = _adaptive("adaptive_max_pool1d", 1, input, output_size, True)
    return res if return_indices else res[0]


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """2-d adaptive max pooling (a None in output_size keeps that input size)."""
    res = _adaptive("adaptive_max_pool2d", 2, input, output_size, True)
    return res if return_indices else res[0]


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    """3-d adaptive max pooling (a None in output_size keeps that input size)."""
    res = _adaptive("adaptive_max_pool3d", 3, input, output_size, True)
    return res if return_indices else res[0]

