"""maximum and minimum (elementwise, NaN-propagating) registered over kernels/maximum.py.

Two tensors promoted to one dtype and broadcast by the kernel; a tie splits the gradient in halves, as
PyTorch. `backward` is written with tensor ops (second derivatives); `backward_fused` runs the fused
backward kernel when no graph is requested.
"""

from __future__ import annotations

from ..kernels import maximum as K
from ..tensor import Tensor
from .comparison import eq, gt, lt
from .elementwise import mul
from .map_ops import BinaryFunction, finish, tensor_pair
from .where import where


class Maximum(BinaryFunction):
    op = K.OPS["maximum"]

    @staticmethod
    def grads(ctx, grad, a, b, need_a, need_b):
        return _max_grads(grad, a, b)


class Minimum(BinaryFunction):
    op = K.OPS["minimum"]

    @staticmethod
    def grads(ctx, grad, a, b, need_a, need_b):
        # min(a, b) takes a where max(b, a) would take b: the same masks with the comparisons swapped.
        return _max_grads(grad, b, a)


def _max_grads(grad: Tensor, a: Tensor, b: Tensor) -> tuple:
    # PyTorch: ties split the gradient in halves; with a NaN neither side is smaller, both get grad.
    shared = where(eq(a, b), mul(grad, 0.5), grad)
    return where(lt(a, b), 0.0, shared), where(gt(a, b), 0.0, shared)


def maximum(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Elementwise max (NaN propagates); the gradient of a tie is split in halves."""
    return finish(Maximum.apply(*tensor_pair("maximum", input, other)), out)


def minimum(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Elementwise minimum of two tensors (NaN propagates), with broadcasting."""
    return finish(Minimum.apply(*tensor_pair("minimum", input, other)), out)


__all__ = ["maximum", "minimum"]
METHODS: dict = {"maximum": maximum, "minimum": minimum}
