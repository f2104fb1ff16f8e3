"""Loss modules: CrossEntropyLoss, NLLLoss, MSELoss, L1Loss (PyTorch's arguments; weight is a buffer)."""

from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from ..functional.loss import legacy_get_string
from .module import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss"]


class _Loss(Module):
    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = legacy_get_string(size_average, reduce)
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.weight: Tensor | None


class CrossEntropyLoss(_WeightedLoss):
    """The cross-entropy between logits `input` and `target`: log_softmax and nll_loss in one fused kernel.

    input is (C,), (N, C) or (N, C, d1, ...) unnormalised scores; target holds class indices (int64, with
    `ignore_index`) or class probabilities of input's shape. Args: weight: per-class weights (C,), kept as a
    buffer; ignore_index (default -100); label_smoothing in [0, 1];
    reduction: 'mean' (default), 'sum' or 'none'; size_average/reduce are PyTorch's deprecated spellings.

    >>> nn.CrossEntropyLoss()(tt.zeros(2, 4), tt.tensor([0, 3]))
    tensor(1.3863)
    """

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """The loss of logits `input` against `target`, reduced as `self.reduction` says."""
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """The negative log-likelihood loss: -weight[t] * input[t] per sample, input holding log-probabilities.

    input is (C,), (N, C) or (N, C, d1, ...); target holds int64 class indices. Args: weight: per-class
    weights (C,), kept as a buffer; ignore_index (default -100);
    reduction: 'mean' (default), 'sum' or 'none'; size_average/reduce are PyTorch's deprecated spellings.

    >>> nn.NLLLoss()(tt.tensor([[-1.0, -2.0]]), tt.tensor([1]))
    tensor(2.)
    """

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """The loss of log-probabilities `input` against class indices `target`."""
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class MSELoss(_Loss):
    """The mean squared error (input - target) ** 2, element-wise, then reduced.

    Args: reduction: 'mean' (default), 'sum' or 'none'; size_average/reduce are PyTorch's deprecated spellings.
    A target shape that differs from input's warns (it would broadcast), as in PyTorch.

    >>> nn.MSELoss()(tt.tensor([1.0, 2.0]), tt.tensor([0.0, 0.0]))
    tensor(2.5000)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """The squared error of `input` against `target`, reduced."""
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """The mean absolute error |input - target|, element-wise, then reduced.

    Args: reduction: 'mean' (default), 'sum' or 'none'; size_average/reduce are PyTorch's deprecated spellings.
    A target shape that differs from input's warns (it would broadcast), as in PyTorch.
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """The absolute error of `input` against `target`, reduced."""
        return F.l1_loss(input, target, reduction=self.reduction)
