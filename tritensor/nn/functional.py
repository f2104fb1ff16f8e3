"""tritensor.nn.functional: PyTorch's torch.nn.functional for the ops tritensor has.

Every function here is an op of tritensor.ops re-exported under its PyTorch name, or the thin Python layer
PyTorch itself keeps in torch.nn.functional: the implicit softmax dim, the deprecated size_average/reduce
flags, dropout's ValueError, the broadcast warning of mse/l1 (composed of tensor ops). The fused softmax,
cross-entropy/nll_loss and dropout kernels are ops of ops/softmax.py, ops/loss.py and ops/dropout.py.
"""

from __future__ import annotations

import warnings

from .. import dtypes as D
from ..ops import loss as _loss
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
from ..ops.dropout import dropout as _dropout
from ..ops.dropout import dropout_ as _dropout_
from ..ops.gather_scatter import one_hot
from ..ops.matmul import linear
from ..ops.shape import pad
from ..ops.softmax import log_softmax as _log_softmax
from ..ops.softmax import softmax as _softmax
from ..tensor import Tensor

__all__ = ["linear", "relu", "relu_", "relu6", "gelu", "silu", "tanh", "sigmoid", "softplus", "elu", "selu",
           "leaky_relu", "hardtanh", "hardsigmoid", "hardswish", "mish", "logsigmoid", "softmax", "log_softmax",
           "softmin", "dropout", "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "pad", "one_hot"]


def tanh(input: Tensor) -> Tensor:
    """Applies tanh element-wise (same as `input.tanh()`)."""
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:
    """Applies the logistic sigmoid 1 / (1 + exp(-x)) element-wise (same as `input.sigmoid()`)."""
    return input.sigmoid()


def _check_input(name: str, input) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")


# ---------------------------------------------------------------- softmax family
def _get_softmax_dim(name: str, input, stacklevel: int) -> int:
    """PyTorch's implicit dim (deprecated): 0 for 0-, 1- and 3-d inputs, else 1."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
                  "as an argument.", stacklevel=stacklevel)
    ndim = input.ndim if isinstance(input, Tensor) else 0
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: D.dtype | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along dim (fused, max-shifted); dtype casts the input first."""
    if dim is None:
        dim = _get_softmax_dim("softmax", input, _stacklevel)
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: D.dtype | None = None) -> Tensor:
    """x - logsumexp(x) along dim (fused); dtype casts the input first."""
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input, _stacklevel)
    return _log_softmax(input, dim, dtype=dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: D.dtype | None = None) -> Tensor:
    """softmax(-x) along dim."""
    _check_input("softmin", input)
    if dim is None:
        dim = _get_softmax_dim("softmin", input, _stacklevel)
    return _softmax(-input, dim, dtype=dtype)


# ---------------------------------------------------------------- dropout
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (training only).

    The mask comes from a Philox seed drawn from the default Generator (tt.manual_seed), and the backward
    regenerates the same mask from it."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return (_dropout_ if inplace else _dropout)(input, p, training)


# ---------------------------------------------------------------- losses
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
    _check_input(name, input)
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
