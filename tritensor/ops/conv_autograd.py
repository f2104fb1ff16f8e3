"""The three convolution primitives as autograd Functions over kernels/conv_launch.py (cuda) and
kernels/conv_ref.py (cpu), all on the 5-D form (N, C, D, H, W); tritensor/ops/conv.py reshapes 1-D/2-D
convolutions to it and checks arguments.

The primitives are each other's gradients (a convolution is bilinear in input and weight):
- `ConvForward(x, w, b)` -> y: dx = ConvInputGrad(dy, w), dw = ConvWeightGrad(dy, x), db = sum(dy).
- `ConvInputGrad(g, w, b)` -> conv's input gradient (conv_transpose's forward): dg = ConvForward(dy, w),
  dw = ConvWeightGrad(g, dy), db = sum(dy).
- `ConvWeightGrad(dy, x)` -> dw: d(dy) = ConvForward(x, G), dx = ConvInputGrad(dy, G).
Each backward is written with these Functions, so double backward (create_graph) works too.
"""

from __future__ import annotations

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import conv_launch as K
from ..kernels import conv_ref as R
from ..tensor import Tensor


def _allow_tf32() -> bool:
    from ..backends import cudnn  # PyTorch's convolutions follow cudnn.allow_tf32 (default True)

    return bool(cudnn.allow_tf32)


def _host(t: Tensor | None):
    return None if t is None else t._host()


def _bias_grad(dy: Tensor, b: Tensor | None):
    return None if b is None else dy.sum((0, 2, 3, 4))


class ConvForward(Function):
    """y = conv(x, w) + b on 5-D x (N, C, D, H, W) and w (O, C // groups, KD, KH, KW)."""

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
            return Tensor._wrap(R.conv_forward_ref(x._host(), w._host(), _host(b), stride, padding, dilation, groups))
        osz = tuple(R.out_size(s, k, st, p, d) for s, k, st, p, d in
                    zip(x._shape[2:], w._shape[2:], stride, padding, dilation))
        y = Tensor._empty((x._shape[0], w._shape[0], *osz), x.dtype, x.device)
        K.conv_forward(y._dev(), x._dev(), w._dev(), None if b is None else b._dev(), stride, padding, dilation,
                       groups, _allow_tf32())
        return y

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        dx = ConvInputGrad.apply(dy, w, None, x._shape, ctx.geom) if ctx.needs_input_grad[0] else None
        dw = ConvWeightGrad.apply(dy, x, w._shape, ctx.geom) if ctx.needs_input_grad[1] else None
        db = dy.sum((0, 2, 3, 4)) if ctx.has_bias else None
        return dx, dw, db, None


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
