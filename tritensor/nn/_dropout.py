"""dropout as an autograd op over kernels/dropout.py: the mask is regenerated from (seed, position).

Positions are row-major indices of the logical shape (cuda makes non-contiguous inputs contiguous
first), so cpu (NumPy Philox) and cuda (tl.rand) drop the same elements for the same seed, and the
backward, which is dropout of the gradient with the forward's seed, needs nothing saved.
"""

from __future__ import annotations

from ..autograd.function import Function
from ..kernels import dropout as K
from ..ops.copy import _contiguous_copy
from ..random import rng
from ..tensor import Tensor


def draw_seed(generator=None) -> int:
    """A kernel seed from the (default) host Generator, so tt.manual_seed makes dropout reproducible."""
    return int(rng(generator).integers(0, 2**31))


class Dropout(Function):
    """x * mask / (1 - p) with mask ~ Bernoulli(1 - p) from `seed`; 0 < p < 1, x floating point."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, p: float, seed: int) -> Tensor:
        ctx.p, ctx.seed = p, seed
        if x.device.type == "cpu":
            return Tensor._wrap(K.dropout_ref(x._host(), p, seed))
        src = x if x.is_contiguous() else _contiguous_copy(x)
        out = Tensor._empty(x._shape, x.dtype, x.device)
        K.dropout(out._dev(), src._dev(), p, seed)
        return out

    @staticmethod
    def backward(ctx, grad):
        # Linear in x with a fixed mask: the gradient is the same dropout applied to grad (and is
        # itself differentiable, so create_graph works).
        return Dropout.apply(grad, ctx.p, ctx.seed), None, None
