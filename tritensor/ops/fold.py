"""im2col / col2im (nn.functional.unfold / fold) over kernels/fold.py: gathers on cuda, NumPy on cpu.

`unfold_op` and `fold_op` take checked 4-d / 3-d operands and (h, w) pairs; each one's backward is the other
(both linear), so gradients of any order work. The grad_fn names are PyTorch's (Im2ColBackward0,
Col2ImBackward0). The argument checks with PyTorch's messages live in nn/functional/fold.py.
"""

from __future__ import annotations

from ..autograd.function import Function
from ..kernels import fold as K
from ..tensor import Tensor


def _unfold(x: Tensor, geom: tuple) -> Tensor:
    ks, dil, pad, st, blocks = geom
    if x.device.type == "cpu":
        return Tensor._wrap(K.unfold_ref(x._host(), ks, dil, pad, st, blocks))
    n, c = x._shape[:2]
    out = Tensor._empty((n, c * ks[0] * ks[1], blocks[0] * blocks[1]), x.dtype, x.device)
    K.unfold(out._dev(), x._dev(), ks, dil, pad, st, blocks)
    return out


def _fold(col: Tensor, output_size: tuple, geom: tuple) -> Tensor:
    ks, dil, pad, st, blocks = geom
    if col.device.type == "cpu":
        return Tensor._wrap(K.fold_ref(col._host(), output_size, ks, dil, pad, st, blocks))
    n = col._shape[0]
    out = Tensor._empty((n, col._shape[1] // (ks[0] * ks[1])) + tuple(output_size), col.dtype, col.device)
    K.fold(out._dev(), col._dev(), ks, dil, pad, st, blocks)
    return out


class Im2Col(Function):
    """x (N, C, H, W) -> columns (N, C*KH*KW, L); geom = (kernel_size, dilation, padding, stride, blocks)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, geom: tuple) -> Tensor:
        ctx.geom, ctx.size = geom, tuple(x._shape[2:])
        return _unfold(x, geom)

    @staticmethod
    def backward(ctx, grad):
        return Col2Im.apply(grad, ctx.size, ctx.geom), None


class Col2Im(Function):
    """columns (N, C*KH*KW, L) -> (N, C, *output_size), overlapping patches summed."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, col: Tensor, output_size: tuple, geom: tuple) -> Tensor:
        ctx.geom = geom
        return _fold(col, output_size, geom)

    @staticmethod
    def backward(ctx, grad):
        return Im2Col.apply(grad, ctx.geom), None, None


def unfold_op(x: Tensor, kernel_size, dilation, padding, stride, blocks) -> Tensor:
    """Checked (N, C, H, W) x and (h, w) pairs -> (N, C*KH*KW, LH*LW)."""
    return Im2Col.apply(x, (tuple(kernel_size), tuple(dilation), tuple(padding), tuple(stride), tuple(blocks)))


def fold_op(col: Tensor, output_size, kernel_size, dilation, padding, stride, blocks) -> Tensor:
    """Checked (N, C*KH*KW, L) columns -> (N, C, *output_size)."""
    return Col2Im.apply(col, tuple(output_size),
                        (tuple(kernel_size), tuple(dilation), tuple(padding), tuple(stride), tuple(blocks)))
