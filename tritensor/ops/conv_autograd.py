"""The three convolution primitives as autograd Functions over kernels/conv_launch.py (cuda) and
kernels/conv_ref.py (cpu), all on the 5-D form (N, C, D, H, W); tritensor/ops/conv.py reshapes 1-D/2-D
convolutions to it and checks arguments.

The primitives are each other's gradients (a convolution is bilinear in input and weight):
- `ConvForward(x, w, b)` -> y: dx = ConvInputGrad(dy, w), dw = ConvWeightGrad(dy, x), db = sum(dy).
- `ConvInputGrad(g, w, b)` -> conv's input gradient (conv_transpose's forward): dg = ConvForward(dy, w),
  dw = ConvWeightGrad(g, dy), db = sum(dy).
- `ConvWeightGrad(dy, x)` -> dw: d(dy) = ConvForward(x, G), dx = ConvInputGrad(dy, G).
Each backward is written with these Functions, so double backward (create_graph) works too.
- `ConvActivation(x, w, b, activation)` -> act(conv(x, w) + b): the activation in the forward kernel's
  epilogue, dz = grad * act'(z) in one backward launch, then the input and weight gradients above.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import conv_launch as K
from ..kernels import conv_ref as R
from ..kernels import linear_act as KL
from ..tensor import Tensor
from . import linear_act as LA


def _allow_tf32() -> bool:
    from ..backends import cudnn  # PyTorch's convolutions follow cudnn.allow_tf32 (default True)

    return bool(cudnn.allow_tf32)


def _host(t: Tensor | None):
    return None if t is None else t._host()


def _bias_grad(dy: Tensor, b: Tensor | None):
    return None if b is None else dy.sum((0, 2, 3, 4))


def _as5(shape: tuple) -> tuple:
    """A 3-, 4- or 5-d (N, C, *spatial) shape as the 5-d form: size-1 leading spatial dims."""
    return tuple(shape[:2]) + (1,) * (5 - len(shape)) + tuple(shape[2:])


class ConvForward(Function):
    """y = conv(x, w) + b on 5-D x (N, C, D, H, W) and w (O, C // groups, KD, KH, KW). On cpu x and w may also
    be 3-d or 4-d (a 1-d / 2-d convolution): the host arrays take the 5-d form inside, so the graph records
    no reshape nodes around the convolution (PyTorch's graph has none either)."""

    differentiable_forward = False

    def name(self) -> str:
        return "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor, b: Tensor | None, geom: tuple) -> Tensor:
        ctx.geom = geom
        ctx.has_bias = b is not None
        ctx.save_for_backward(x, w)
        stride, padding, dilation, groups = geom
        if x.device.type == "cpu":
            xh, wh = x._host(), w._host()
            y = R.conv_forward_ref(xh.reshape(_as5(xh.shape)), wh.reshape(_as5(wh.shape)), _host(b), stride,
                                   padding, dilation, groups)
            return Tensor._wrap(y.reshape(y.shape[:2] + y.shape[7 - xh.ndim:]))  # the size-1 dims dropped
        osz = tuple(R.out_size(s, k, st, p, d) for s, k, st, p, d in
                    zip(x._shape[2:], w._shape[2:], stride, padding, dilation))
        y = Tensor._empty((x._shape[0], w._shape[0], *osz), x.dtype, x.device)
        K.conv_forward(y._dev(), x._dev(), w._dev(), None if b is None else b._dev(), stride, padding, dilation,
                       groups, _allow_tf32())
        return y

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        if x.ndim != 5:  # a cpu 1-d / 2-d convolution: the 5-d Functions on reshapes (differentiable)
            dx, dw, db, _ = ConvForward.backward(_Saved5(ctx, x, w), dy.reshape(_as5(dy._shape)))
            return (None if dx is None else dx.reshape(x._shape), None if dw is None else dw.reshape(w._shape),
                    db, None)
        dx = ConvInputGrad.apply(dy, w, None, x._shape, ctx.geom) if ctx.needs_input_grad[0] else None
        dw = ConvWeightGrad.apply(dy, x, w._shape, ctx.geom) if ctx.needs_input_grad[1] else None
        db = dy.sum((0, 2, 3, 4)) if ctx.has_bias else None
        return dx, dw, db, None

    def backward_fused(self, dy: Tensor):
        """`backward` without a graph; on cpu for float32/float64 the NumPy references called directly (what the
        two gradient Functions' forwards and tt.sum's host path run, without their per-call layers)."""
        if dy.device.type != "cpu" or (dy.dtype is not D.float32 and dy.dtype is not D.float64):
            return type(self).backward(self, dy)
        x, w = self.saved_tensors
        need = self.needs_input_grad
        stride, padding, dilation, groups = self.geom
        g = dy._host()
        g = g.reshape(_as5(g.shape))
        x5, w5 = _as5(x._shape), _as5(w._shape)
        dx = Tensor._wrap(R.conv_input_grad_ref(g, w._host().reshape(w5), None, x5, stride, padding, dilation,
                                                groups).reshape(x._shape)) if need[0] else None
        dw = Tensor._wrap(R.conv_weight_grad_ref(g, x._host().reshape(x5), w5, stride, padding, dilation,
                                                 groups).reshape(w._shape)) if need[1] else None
        db = Tensor._wrap(np.add.reduce(g, axis=(0, 2, 3, 4))) if self.has_bias else None  # sum_ref's own call
        return dx, dw, db, None


class _Saved5:
    """ConvForward's ctx with x and w reshaped to the 5-d form, for its 5-d tensor-op backward."""

    def __init__(self, ctx, x: Tensor, w: Tensor) -> None:
        self.saved_tensors = (x.reshape(_as5(x._shape)), w.reshape(_as5(w._shape)))
        self.geom, self.has_bias, self.needs_input_grad = ctx.geom, ctx.has_bias, ctx.needs_input_grad


class ConvInputGrad(Function):
    """conv's input gradient of g (N, O, OD, OH, OW) for w, shaped in_shape, + b (C,): conv_transpose."""

    differentiable_forward = False

    def name(self) -> str:
        return "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, g: Tensor, w: Tensor, b: Tensor | None, in_shape: tuple, geom: tuple) -> Tensor:
        ctx.geom = geom
        ctx.has_bias = b is not None
        ctx.save_for_backward(g, w)
        stride, padding, dilation, groups = geom
        if g.device.type == "cpu":
            return Tensor._wrap(R.conv_input_grad_ref(g._host(), w._host(), _host(b), tuple(in_shape), stride,
                                                      padding, dilation, groups))
        dx = Tensor._empty(tuple(in_shape), g.dtype, g.device)
        K.conv_input_grad(dx._dev(), g._dev(), w._dev(), None if b is None else b._dev(), stride, padding,
                          dilation, groups, _allow_tf32())
        return dx

    @staticmethod
    def backward(ctx, dy):
        g, w = ctx.saved_tensors
        dg = ConvForward.apply(dy, w, None, ctx.geom) if ctx.needs_input_grad[0] else None
        dw = ConvWeightGrad.apply(g, dy, w._shape, ctx.geom) if ctx.needs_input_grad[1] else None
        db = dy.sum((0, 2, 3, 4)) if ctx.has_bias else None
        return dg, dw, db, None, None


class ConvWeightGrad(Function):
    """conv's weight gradient (w_shape) for dy (N, O, OD, OH, OW) and x (N, C, D, H, W)."""

    differentiable_forward = False

    def name(self) -> str:
        return "ConvolutionBackwardBackward0"

    @staticmethod
    def forward(ctx, dy: Tensor, x: Tensor, w_shape: tuple, geom: tuple) -> Tensor:
        ctx.geom = geom
        ctx.save_for_backward(dy, x)
        stride, padding, dilation, groups = geom
        if dy.device.type == "cpu":
            return Tensor._wrap(R.conv_weight_grad_ref(dy._host(), x._host(), tuple(w_shape), stride, padding,
                                                       dilation, groups))
        dw = Tensor._empty(tuple(w_shape), dy.dtype, dy.device)
        keep = []  # the split-K scratch lives until the launches that use it are queued

        def scratch(shape):
            keep.append(Tensor._empty(shape, D.float32, dy.device))
            return keep[-1]._dev()

        K.conv_weight_grad(dw._dev(), dy._dev(), x._dev(), stride, padding, dilation, groups, _allow_tf32(),
                           scratch)
        return dw

    @staticmethod
    def backward(ctx, gw):
        dy, x = ctx.saved_tensors
        d_dy = ConvForward.apply(x, gw, None, ctx.geom) if ctx.needs_input_grad[0] else None
        d_x = ConvInputGrad.apply(dy, gw, None, x._shape, ctx.geom) if ctx.needs_input_grad[1] else None
        return d_dy, d_x, None, None


class ConvActivation(Function):
    """act(conv(x, w) + b) on the 5-D form: one conv launch on cuda whose epilogue adds the bias, applies the
    activation and (when a gradient is needed and the activation is not relu) stores z = conv(x, w) + b.

    Backward without a graph: dz = grad * act'(saved) in one kernels/linear_act.py launch over the NCDHW
    tensor viewed as (N*O, OD*OH*OW) rows (its per-column bias sums do not fit: a conv's bias is per channel,
    so db is dz's sum over (N, D, H, W)), then the conv dgrad / wgrad launches. With create_graph=True the
    tensor-op backward recomputes z with ConvForward, so second derivatives are exact.
    """

    differentiable_forward = False

    def name(self) -> str:
        return "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor, b: Tensor | None, geom: tuple, activation: str) -> Tensor:
        need = any(ctx.needs_input_grad)
        ctx.geom = geom
        ctx.activation = activation
        stride, padding, dilation, groups = geom
        if x.device.type == "cpu":
            arr = R.conv_forward_ref(x._host(), w._host(), _host(b), stride, padding, dilation, groups)
            if activation == "relu":
                np.maximum(arr, 0, out=arr)  # in place; NaN passes through, as F.relu
                y, z = Tensor._wrap(arr), None
            else:
                z = Tensor._wrap(arr)
                y = Tensor._wrap(LA._CPU_REFS[activation](arr))
        else:
            osz = tuple(R.out_size(s, k, st, p, d) for s, k, st, p, d in
                        zip(x._shape[2:], w._shape[2:], stride, padding, dilation))
            y = Tensor._empty((x._shape[0], w._shape[0], *osz), x.dtype, x.device)
            z = Tensor._empty(y._shape, x.dtype, x.device) if need and activation != "relu" else None
            K.conv_forward(y._dev(), x._dev(), w._dev(), None if b is None else b._dev(), stride, padding, dilation,
                           groups, _allow_tf32(), activation, None if z is None else z._dev())
        if need:
            ctx.save_for_backward(x, w, b, y if activation == "relu" else z)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, w, b, saved = ctx.saved_tensors
        dz = LA.activation_grad(grad, saved, ctx.activation, lambda: ConvForward.apply(x, w, b, ctx.geom))
        db = dz.sum((0, 2, 3, 4)) if ctx.needs_input_grad[2] else None
        return _conv_grads(ctx.needs_input_grad, dz, x, w, ctx.geom, db)

    def backward_fused(self, grad):
        x, w, b, saved = self.saved_tensors
        need = self.needs_input_grad
        if x.device.type == "cpu":
            dzf = LA._CPU_GRADS[self.activation](grad._host(), saved._host())
            db = Tensor._wrap(dzf.sum((0, 2, 3, 4)).astype(b.dtype.np)) if need[2] else None
            dz = Tensor._wrap(dzf.astype(x.dtype.np, copy=False))
        else:
            shape = grad._shape
            rows, cols = shape[0] * shape[1], math.prod(shape[2:])
            g = grad if grad.is_contiguous() else grad.contiguous()
            dz = Tensor._empty(shape, x.dtype, x.device)
            KL.act_grad(dz.reshape(rows, cols)._dev(), g.reshape(rows, cols)._dev(),
                        saved.reshape(rows, cols)._dev(), None, self.activation)
            db = dz.sum((0, 2, 3, 4)) if need[2] else None
        return _conv_grads(need, dz, x, w, self.geom, db)


def _conv_grads(need: tuple, dz: Tensor, x: Tensor, w: Tensor, geom: tuple, db: Tensor | None) -> tuple:
    """(dx, dw, db, None, None) of a convolution from dz (each only where needed)."""
    dx = ConvInputGrad.apply(dz, w, None, x._shape, geom) if need[0] else None
    dw = ConvWeightGrad.apply(dz, x, w._shape, geom) if need[1] else None
    return dx, dw, db, None, None
