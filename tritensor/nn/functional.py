"""tritensor.nn.functional: PyTorch's torch.nn.functional for the ops tritensor has.

softmax / log_softmax / cross_entropy / nll_loss / dropout run the fused kernels of this package
(kernels/softmax.py, loss.py, dropout.py); activations, linear, pad and one_hot are the op families'
own functions (tritensor.ops.*), re-exported under their PyTorch names; mse_loss and l1_loss are
composed of tensor ops. Arguments are checked here, with PyTorch's error types and messages, before
any kernel runs.
"""

from __future__ import annotations

import math
import warnings

from .. import dtypes as D
from ..ops.activations import (
    elu,
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    logsigmoid,
    mish,
    relu,
    relu6,
    relu_,
    selu,
    silu,
    softplus,
)
from ..ops.dispatch import check_same_device
from ..ops.elementwise import inplace as _inplace
from ..ops.indexing import one_hot
from ..ops.matmul import linear
from ..ops.shape import pad
from ..ops.unary import torch_type_name
from ..tensor import Tensor, wrap_dim
from . import _softmax
from ._cross_entropy import NllLoss
from ._dropout import Dropout, draw_seed

__all__ = ["linear", "relu", "relu_", "relu6", "gelu", "silu", "tanh", "sigmoid", "softplus", "elu", "selu",
           "leaky_relu", "hardtanh", "hardsigmoid", "hardswish", "mish", "logsigmoid", "softmax", "log_softmax",
           "softmin", "dropout", "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "pad", "one_hot"]


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


# ---------------------------------------------------------------- softmax family
def _check_input(name: str, input) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")


def _get_softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
                  "as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_family(name: str, input: Tensor, dim, dtype, log: bool, stacklevel: int) -> Tensor:
    _check_input(name, input)
    if dim is None:
        dim = _get_softmax_dim(name, input.ndim, stacklevel + 1)
    if dtype is not None:
        input = input.to(dtype)
    if not input.dtype.is_floating_point:
        kernel = "log_softmax_lastdim_kernel_impl" if log else "softmax_lastdim_kernel_impl"
        raise RuntimeError(f"\"{kernel}\" not implemented for '{torch_type_name(input.dtype)}'")
    return _softmax.softmax(input, wrap_dim(dim, input.ndim), log)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: D.dtype | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along dim (fused, max-shifted); dtype casts the input first."""
    return _softmax_family("softmax", input, dim, dtype, False, _stacklevel)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: D.dtype | None = None) -> Tensor:
    """x - logsumexp(x) along dim (fused); dtype casts the input first."""
    return _softmax_family("log_softmax", input, dim, dtype, True, _stacklevel)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: D.dtype | None = None) -> Tensor:
    """softmax(-x) along dim."""
    _check_input("softmin", input)
    if dtype is not None:
        input = input.to(dtype)
    return _softmax_family("softmin", -input, dim, None, False, _stacklevel)


# ---------------------------------------------------------------- dropout
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (training only).

    The mask comes from a Philox seed drawn from the default Generator (tt.manual_seed), and the backward
    regenerates the same mask from it."""
    _check_input("dropout", input)
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{torch_type_name(input.dtype)}")
    if p == 1.0:
        return input.mul_(0.0) if inplace else input * 0.0
    seed = draw_seed()
    if inplace:
        return _inplace(lambda t: Dropout.apply(t, float(p), seed), input)
    return Dropout.apply(input, float(p), seed)


# ---------------------------------------------------------------- losses
_REDUCTIONS = ("none", "mean", "sum")


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
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _sizes(t: Tensor) -> str:
    return "[" + ", ".join(str(s) for s in t._shape) + "]"


def _check_class_targets(input: Tensor, target: Tensor, weight: Tensor | None) -> None:
    """PyTorch's nll_loss_nd checks: shapes of input/target/weight, dtypes, devices."""
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if target.dtype is not D.int64:
        raise RuntimeError(f"expected scalar type Long but found {torch_type_name(target.dtype)}")
    if input.ndim != 1 and target.ndim >= 1 and input._shape[0] != target._shape[0]:
        raise ValueError(f"Expected input batch_size ({input._shape[0]}) to match target batch_size "
                         f"({target._shape[0]}).")
    if input.ndim <= 2:
        if target.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        no_batch = input.ndim == 1 and target.ndim == 0
        if not no_batch and (target.ndim == 0 or input._shape[0] != target._shape[0]):
            raise RuntimeError(f"size mismatch (got input: {_sizes(input)}, target: {_sizes(target)})")
    elif target._shape != (input._shape[0],) + input._shape[2:]:
        expected = "[" + ", ".join(str(s) for s in (input._shape[0],) + input._shape[2:]) + "]"
        raise RuntimeError(f"Expected target size {expected}, got {_sizes(target)}")
    classes = input._shape[0 if input.ndim == 1 else 1]
    if weight is not None:
        if weight.ndim != 1 or weight.numel() != classes:
            raise RuntimeError(f"weight tensor should be defined either for all {classes} classes or no classes but "
                               f"got weight tensor of shape: {list(weight.shape)}")
        if weight.dtype is not input.dtype:
            raise RuntimeError(f"expected scalar type {torch_type_name(input.dtype)} but found "
                               f"{torch_type_name(weight.dtype)}")
    check_same_device(*(t for t in (input, target, weight) if t is not None))


def _check_float_input(name: str, input: Tensor) -> None:
    _check_input(name, input)
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"\"{name}\" not implemented for '{torch_type_name(input.dtype)}'")


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: bool | None = None,
             ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """-weight[t] * input[t] per sample (input holds log-probabilities), over (C,), (N, C) or (N, C, d1, ...)."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_float_input("nll_loss", input)
    _check_class_targets(input, target, weight)
    return NllLoss.apply(input, target.detach(), None if weight is None else weight.detach(), int(ignore_index),
                              0.0, reduction, True)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: bool | None = None,
                  ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """log_softmax + nll_loss in one fused kernel for class-index targets (int64, ignore_index, class weights,
    label_smoothing); float targets are class probabilities of input's shape."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_float_input("cross_entropy", input)
    if not isinstance(target, Tensor):
        raise TypeError(f"cross_entropy(): argument 'target' (position 2) must be Tensor, not "
                        f"{type(target).__name__}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if target.dtype.is_floating_point:
        return _cross_entropy_probs(input, target, weight, ignore_index, reduction, label_smoothing)
    _check_class_targets(input, target, weight)
    return NllLoss.apply(input, target.detach(), None if weight is None else weight.detach(), int(ignore_index),
                              float(label_smoothing), reduction, False)


def _cross_entropy_probs(input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, reduction: str,
                         label_smoothing: float) -> Tensor:
    """Soft targets: -sum_c w_c * target_c * log_softmax(input)_c, composed of tensor ops."""
    if input._shape != target._shape:
        raise RuntimeError(f"cross_entropy: expected target of the input's shape {_sizes(input)} for class "
                           f"probabilities, got {_sizes(target)}")
    if ignore_index >= 0:
        raise RuntimeError("ignore_index is not supported for floating point target")
    check_same_device(input, target)
    class_dim = 0 if input.ndim == 1 else 1
    classes = input._shape[class_dim]
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    logp = log_softmax(input, class_dim)
    if weight is not None:
        if weight.ndim != 1 or weight.numel() != classes:
            raise RuntimeError(f"weight tensor should be defined either for all {classes} classes or no classes but "
                               f"got weight tensor of shape: {list(weight.shape)}")
        logp = logp * weight.reshape((classes,) + (1,) * (input.ndim - 1 - class_dim))
    loss = -(logp * target).sum(class_dim)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / (input.numel() // classes if classes else math.nan)


def _pointwise_loss(name: str, input: Tensor, target: Tensor, reduction: str, fn) -> Tensor:
    _check_input(name, input)
    if not isinstance(target, Tensor):
        raise TypeError(f"{name}(): argument 'target' (position 2) must be Tensor, not {type(target).__name__}")
    if target._shape != input._shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      "This will likely lead to incorrect results due to broadcasting. Please ensure they have the "
                      "same size.", stacklevel=3)
    check_same_device(input, target)
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
