"""nn.functional's activations and the softmax family (the fused kernels are ops of ops/activations.py and
ops/softmax.py; this layer adds PyTorch's implicit softmax dim and the tanh/sigmoid aliases)."""

from __future__ import annotations

import warnings

from ... import dtypes as D
from ...ops.activations import (
    elu,
    elu_,
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    hardtanh_,
    leaky_relu,
    leaky_relu_,
    logsigmoid,
    mish,
    relu,
    relu6,
    relu_,
    selu,
    selu_,
    silu,
    softplus,
)
from ...ops.activations_extra import (
    celu,
    celu_,
    glu,
    hardshrink,
    prelu,
    rrelu,
    rrelu_,
    softshrink,
    softsign,
    tanhshrink,
    threshold,
    threshold_,
)
from ...ops.softmax import log_softmax as _log_softmax
from ...ops.softmax import softmax as _softmax
from ...tensor import Tensor
from ._args import check_input

__all__ = ["relu", "relu_", "relu6", "gelu", "silu", "tanh", "sigmoid", "softplus", "elu", "elu_", "selu", "selu_",
           "leaky_relu", "leaky_relu_", "hardtanh", "hardtanh_", "hardsigmoid", "hardswish", "mish", "logsigmoid",
           "softmax", "log_softmax", "softmin", "celu", "celu_", "glu", "hardshrink", "prelu", "rrelu", "rrelu_",
           "softshrink", "softsign", "tanhshrink", "threshold", "threshold_"]



def tanh(input: Tensor) -> Tensor:
    """Applies tanh element-wise (same as `input.tanh()`)."""
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:
    """Applies the logistic sigmoid 1 / (1 + exp(-x)) element-wise (same as `input.sigmoid()`)."""
    return input.sigmoid()


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
    check_input("softmin", input)
    if dim is None:
        dim = _get_softmax_dim("softmin", input, _stacklevel)
    return _softmax(-input, dim, dtype=dtype)
