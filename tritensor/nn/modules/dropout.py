"""Dropout: zeroes elements with probability p while training, identity in eval()."""

from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from .module import Module

__all__ = ["Dropout"]


class Dropout(Module):
    """During training, zeroes each element with probability `p` and scales the rest by 1 / (1 - p).

    In eval mode it is the identity. Args: p (default 0.5, in [0, 1]); inplace: if True, modifies the input.

    >>> nn.Dropout(0.5).eval()(tt.tensor([1.0, 2.0]))
    tensor([1., 2.])
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Drops elements of `input` if training, else returns it unchanged."""
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        """p and inplace."""
        return f"p={self.p}, inplace={self.inplace}"
