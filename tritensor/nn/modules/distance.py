"""CosineSimilarity and PairwiseDistance: wrappers over nn.functional with PyTorch's arguments."""

from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from .module import Module

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class CosineSimilarity(Module):
    """Cosine similarity of x1 and x2 along `dim`: x1 . x2 / (max(|x1|, eps) * max(|x2|, eps)).

    Args: dim (default 1); eps (default 1e-8).
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        """The similarity of the broadcast inputs, `dim` reduced."""
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p over the last dim.

    Args: p (default 2.0); eps (default 1e-6); keepdim (default False).
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        """The distances of the broadcast inputs, the last dim reduced."""
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
