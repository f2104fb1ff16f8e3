"""nn.functional's losses: PyTorch's deprecated size_average/reduce flags, its Python-level checks and
warnings, over the ops of ops/loss.py (cross-entropy, nll), ops/loss_pointwise.py (the fused pointwise
losses), ops/loss_margin.py (the composed distance/margin losses) and ops/ctc.py."""

from __future__ import annotations

import warnings

from ...ops import ctc as _ctc
from ...ops import loss as _loss
from ...ops import loss_margin as _margin
from ...ops import loss_pointwise as _pw
from ...tensor import Tensor
from ._args import check_input

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "huber_loss", "smooth_l1_loss", "kl_div", "poisson_nll_loss",
           "gaussian_nll_loss", "soft_margin_loss", "cosine_embedding_loss", "margin_ranking_loss",
           "hinge_embedding_loss", "multilabel_soft_margin_loss", "multilabel_margin_loss", "multi_margin_loss",
           "triplet_margin_loss", "triplet_margin_with_distance_loss", "ctc_loss"]


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
    if size_average is not None or reduce is not None:
        reduction = legacy_get_string(size_average, reduce)
    # (the reduction is checked by _loss.cross_entropy: its common case tests it as it goes, the rest first)
    return _loss.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


def mse_loss(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
             reduction: str = "mean") -> Tensor:
    """(input - target)^2, reduced; one fused kernel forward and one backward. A target shape that differs
    from input's warns (it broadcasts)."""
    reduction = _reduction(size_average, reduce, reduction)
    check_input("mse_loss", input)
    _check_target("mse_loss", target)
    _broadcast_warning(input, target)
    return _pw.mse_loss(input, target, reduction)


def l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
            reduction: str = "mean") -> Tensor:
    """|input - target|, reduced; one fused kernel forward and one backward."""
    reduction = _reduction(size_average, reduce, reduction)
    check_input("l1_loss", input)
    _check_target("l1_loss", target)
    _broadcast_warning(input, target)
    return _pw.l1_loss(input, target, reduction)


def _broadcast_warning(input: Tensor, target: Tensor) -> None:
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      "This will likely lead to incorrect results due to broadcasting. Please ensure they have the "
                      "same size.", stacklevel=3)


def _check_target(name: str, target) -> None:
    if not isinstance(target, Tensor):
        raise TypeError(f"{name}(): argument 'target' (position 2) must be Tensor, not {type(target).__name__}")


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """-weight (t log x + (1 - t) log(1 - x)) with input x probabilities in [0, 1], logs clamped at -100;
    one fused kernel forward and one backward."""
    reduction = _reduction(size_average, reduce, reduction)
    check_input("binary_cross_entropy", input)
    _check_target("binary_cross_entropy", target)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size "
                         f"({input.shape}) is deprecated. Please ensure they have the same size.")
    return _pw.binary_cross_entropy(input, target, weight, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average: bool | None = None, reduce: bool | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """BCE of sigmoid(input) in the numerically stable form; weight per element (broadcast), pos_weight per
    class (broadcast over the last dim); one fused kernel forward and one backward."""
    reduction = _reduction(size_average, reduce, reduction)
    check_input("binary_cross_entropy_with_logits", input)
    _check_target("binary_cross_entropy_with_logits", target)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    return _pw.binary_cross_entropy_with_logits(input, target, weight, pos_weight, reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - delta / 2), d = input - target; warns when target's shape
    differs (it broadcasts)."""
    check_input("huber_loss", input)
    _check_target("huber_loss", target)
    _broadcast_warning(input, target)
    return _pw.huber_loss(input, target, _loss.check_reduction(reduction), delta)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - beta / 2 (beta = 0: the L1 loss)."""
    reduction = _reduction(size_average, reduce, reduction)
    check_input("smooth_l1_loss", input)
    _check_target("smooth_l1_loss", target)
    _broadcast_warning(input, target)
    return _pw.smooth_l1_loss(input, target, reduction, beta)


def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """target (log target - input), input log-probabilities (target too with log_target); 'batchmean' divides
    the sum by the batch size; 'mean' (the mean over every element) warns, as in PyTorch."""
    if size_average is not None or reduce is not None:
        reduction = legacy_get_string(size_average, reduce)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      stacklevel=2)
    check_input("kl_div", input)
    _check_target("kl_div", target)
    if reduction == "batchmean" and input.ndim == 0:
        reduction = "sum"  # PyTorch divides by the batch size only for a tensor that has one
    return _pw.kl_div(input, target, reduction, log_target)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average: bool | None = None, eps: float = 1e-8, reduce: bool | None = None,
                     reduction: str = "mean") -> Tensor:
    """exp(input) - target input (log_input) or input - target log(input + eps); full adds the Stirling term."""
    reduction = _reduction(size_average, reduce, reduction)
    check_input("poisson_nll_loss", input)
    _check_target("poisson_nll_loss", target)
    return _pw.poisson_nll_loss(input, target, log_input, full, eps, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """0.5 (log var + (input - target)^2 / var) (+ 0.5 log(2 pi) when full), var clamped at eps (without
    blocking its gradient); var is input-shaped, one per sample, or a float."""
    check_input("gaussian_nll_loss", input)
    return _margin.gaussian_nll_loss(input, target, var, full, eps, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target input)); one fused kernel forward and one backward."""
    reduction = _reduction(size_average, reduce, reduction)
    return _pw.soft_margin_loss(input, target, reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) for target 1, max(0, cos(x1, x2) - margin) for target -1."""
    reduction = _reduction(size_average, reduce, reduction)
    return _margin.cosine_embedding_loss(input1, input2, target, margin, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """max(0, -target (x1 - x2) + margin)."""
    reduction = _reduction(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} ")
    return _margin.margin_ranking_loss(input1, input2, target, margin, reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average: bool | None = None,
                         reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """input for target 1, max(0, margin - input) for target -1."""
    reduction = _reduction(size_average, reduce, reduction)
    return _margin.hinge_embedding_loss(input, target, margin, reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average: bool | None = None, reduce: bool | None = None,
                                reduction: str = "mean") -> Tensor:
    """The per-class BCE with logits, times weight, averaged over the classes, then reduced."""
    reduction = _reduction(size_average, reduce, reduction)
    return _margin.multilabel_soft_margin_loss(input, target, weight, reduction)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                           reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """The multi-class multi-label hinge loss; target holds class indices, padded with -1 after the last."""
    reduction = _reduction(size_average, reduce, reduction)
    return _margin.multilabel_margin_loss(input, target, reduction)


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0, weight: Tensor | None = None,
                      size_average: bool | None = None, reduce: bool | None = None,
                      reduction: str = "mean") -> Tensor:
    """The multi-class hinge loss: sum over i != y of w[y] max(0, margin - x[y] + x[i])^p / C, p 1 or 2."""
    reduction = _reduction(size_average, reduce, reduction)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    return _margin.multi_margin_loss(input, target, p, margin, weight, reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average: bool | None = None,
                        reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)) with the p-norm pairwise distance (swap: the distance swap)."""
    reduction = _reduction(size_average, reduce, reduction)
    return _margin.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap, reduction)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *, distance_function=None,
                                      margin: float = 1.0, swap: bool = False, reduction: str = "mean") -> Tensor:
    """triplet_margin_loss with any distance function of two tensors (default: pairwise_distance)."""
    return _margin.triplet_margin_with_distance_loss(anchor, positive, negative, distance_function=distance_function,
                                                     margin=margin, swap=swap, reduction=reduction)


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """The connectionist temporal classification loss of (T, N, C) or (T, C) log-probabilities; 'mean'
    divides each loss by its target length, then averages."""
    return _ctc.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity)
