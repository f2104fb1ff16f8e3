"""nn.functional's losses: PyTorch's deprecated size_average/reduce flags and the broadcast warning of the
pointwise losses over the fused kernels of ops/loss.py."""

from __future__ import annotations

import warnings

from ...ops import loss as _loss
from ...tensor import Tensor
from ._args import check_input

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss"]


def legacy_get_string(size_average: bool | None, reduce: bool | None, emit_warning: bool = True) -> str:
    """The reduction named by PyTorch's deprecated size_average/reduce flags."""
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    result = "mean" if size_average and reduce else ("sum" if reduce else "none")
    if emit_warning:
        warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{result}' instead.",
                      stacklevel=3)
    return result


def _reduction(size_average, reduce, reduction: str) -> str:
    if size_average is not None or reduce is not None:
        reduction = legacy_get_string(size_average, reduce)
    return _loss.check_reduction(reduction)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: bool | None = None,
             ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """-weight[t] * input[t] per sample (input holds log-probabilities), over (C,), (N, C) or (N, C, d1, ...)."""
    reduction = _reduction(size_average, reduce, reduction)
    return _loss.nll_loss(input, target, weight, ignore_index, reduction)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: bool | None = None,
                  ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """log_softmax + nll_loss in one fused kernel for class-index targets (int64, ignore_index, class weights,
    label_smoothing); float targets are class probabilities of input's shape."""
    reduction = _reduction(size_average, reduce, reduction)
    return _loss.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


def _pointwise_loss(name: str, input: Tensor, target: Tensor, reduction: str, fn) -> Tensor:
    check_input(name, input)
    if not isinstance(target, Tensor):
        raise TypeError(f"{name}(): argument 'target' (position 2) must be Tensor, not {type(target).__name__}")
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      "This will likely lead to incorrect results due to broadcasting. Please ensure they have the "
                      "same size.", stacklevel=3)
    loss = fn(input - target)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def mse_loss(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
             reduction: str = "mean") -> Tensor:
    """(input - target)^2, reduced."""
    reduction = _reduction(size_average, reduce, reduction)
    return _pointwise_loss("mse_loss", input, target, reduction, lambda d: d * d)


def l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
            reduction: str = "mean") -> Tensor:
    """|input - target|, reduced."""
    reduction = _reduction(size_average, reduce, reduction)
    return _pointwise_loss("l1_loss", input, target, reduction, lambda d: d.abs())
