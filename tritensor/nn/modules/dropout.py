"""Dropout layers: Dropout, the channel-wise Dropout1d/2d/3d and SELU's AlphaDropout/FeatureAlphaDropout.

Each drops only while training (identity in eval()) and shares PyTorch's `_DropoutNd` constructor
(p in [0, 1], inplace) and repr ("p=0.5, inplace=False").
"""

from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from .module import Module

__all__ = ["AlphaDropout", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "FeatureAlphaDropout"]


class _DropoutNd(Module):
    """The dropout layers' common state: the probability p and the inplace flag."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        """p and inplace."""
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """During training, zeroes each element with probability `p` and scales the rest by 1 / (1 - p).

    In eval mode it is the identity. Args: p (default 0.5, in [0, 1]); inplace: if True, modifies the input.

    >>> nn.Dropout(0.5).eval()(tt.tensor([1.0, 2.0]))
    tensor([1., 2.])
    """

    def forward(self, input: Tensor) -> Tensor:
        """Drops elements of `input` if training, else returns it unchanged."""
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """During training, zeroes whole channels of an (N, C, L) or (C, L) input with probability `p` and
    scales the rest by 1 / (1 - p); identity in eval mode. Args: p (default 0.5); inplace.

    >>> nn.Dropout1d(0.5).eval()(tt.ones(1, 2, 3)).shape
    tritensor.Size([1, 2, 3])
    """

    def forward(self, input: Tensor) -> Tensor:
        """F.dropout1d(input, p, training, inplace)."""
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """During training, zeroes whole channels of an (N, C, H, W) input with probability `p` and scales the
    rest by 1 / (1 - p); identity in eval mode. A 3D input warns and gets 1D channel dropout, as in PyTorch.

    >>> nn.Dropout2d(0.5).eval()(tt.ones(1, 2, 3, 3)).shape
    tritensor.Size([1, 2, 3, 3])
    """

    def forward(self, input: Tensor) -> Tensor:
        """F.dropout2d(input, p, training, inplace)."""
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """During training, zeroes whole channels of an (N, C, D, H, W) or (C, D, H, W) input with probability
    `p` and scales the rest by 1 / (1 - p); identity in eval mode.

    >>> nn.Dropout3d(0.5).eval()(tt.ones(2, 1, 2, 2)).shape
    tritensor.Size([2, 1, 2, 2])
    """

    def forward(self, input: Tensor) -> Tensor:
        """F.dropout3d(input, p, training, inplace)."""
        return F.dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Alpha dropout for SELU networks: while training, each element is set with probability `p` to SELU's
    negative saturation value and the result is shifted and scaled to keep mean 0 and variance 1.

    As in PyTorch, `inplace` is stored (and shown in the repr) but the forward never works in place.

    >>> nn.AlphaDropout(0.2).eval()(tt.tensor([1.0, -1.0]))
    tensor([ 1., -1.])
    """

    def forward(self, input: Tensor) -> Tensor:
        """F.alpha_dropout(input, p, training)."""
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """AlphaDropout over whole channels of an (N, C, ...) input; `inplace` is stored but unused, as in
    PyTorch.

    >>> nn.FeatureAlphaDropout(0.2).eval()(tt.ones(1, 2, 2)).shape
    tritensor.Size([1, 2, 2])
    """

    def forward(self, input: Tensor) -> Tensor:
        """F.feature_alpha_dropout(input, p, training)."""
        return F.feature_alpha_dropout(input, self.p, self.training)
