"""dropout registered over kernels/dropout.py: the mask is regenerated from (seed, position).

Positions are row-major indices of the logical shape (cuda makes non-contiguous inputs contiguous
first), so cpu (NumPy Philox) and cuda (tl.rand) drop the same elements for the same seed, and the
backward, which is dropout of the gradient with the forward's seed, needs nothing saved. The seed is
drawn from the default Generator, so tt.manual_seed makes dropout reproducible.

`dropout(input, p, train)` / `dropout_` are torch.dropout / torch.dropout_ (nn.functional.dropout checks
p and picks one of them).
"""

from __future__ import annotations

from ..autograd.function import Function
from ..kernels import dropout as K
from ..random import rng
from ..tensor import Tensor
from .copy import _contiguous_copy
from .elementwise import inplace
from .unary import check_tensor, torch_type_name

__all__ = ["dropout", "dropout_"]


def draw_seed() -> int:
    """A kernel seed from the default host Generator."""
    return int(rng(None).integers(0, 2**31))


class DropoutFunction(Function):
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
        return DropoutFunction.apply(grad, ctx.p, ctx.seed), None, None


def _dropout(name: str, input: Tensor, p: float, train: bool, in_place: bool) -> Tensor:
    check_tensor(name, input)
    if not 0.0 <= p <= 1.0:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not train or p == 0.0 or input.numel() == 0:
        return input
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{torch_type_name(input.dtype)}")
    if p == 1.0:
        return input.mul_(0.0) if in_place else input * 0.0
    seed = draw_seed()
    if in_place:
        return inplace(lambda t: DropoutFunction.apply(t, float(p), seed), input)
    return DropoutFunction.apply(input, float(p), seed)


def dropout(input: Tensor, p: float = 0.5, train: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p) when train (else input itself).

    The backward regenerates the forward's mask from its seed."""
    return _dropout("dropout", input, p, train, False)


def dropout_(input: Tensor, p: float = 0.5, train: bool = True) -> Tensor:
    """dropout in input's own memory (autograd history moves onto input); returns input."""
    return _dropout("dropout_", input, p, train, True)
