"""nn.functional's dropout family.

`dropout` runs ops/dropout.py's Philox kernel. The channel-wise variants (dropout1d/2d/3d) and the alpha
variants (alpha_dropout, feature_alpha_dropout) follow ATen's `_dropout_impl`: draw a noise tensor with
`bernoulli_(1 - p)` from the default Generator (so tt.manual_seed makes them reproducible), turn it into a
scale (and, for alpha dropout, a shift) and multiply. They are built from public tensor ops only, so autograd
gives the gradient (noise times scale) and cpu and cuda behave alike.
"""

from __future__ import annotations

import warnings

from ... import dtypes as D
from ...creation import empty, zeros
from ...ops.dropout import dropout as _dropout
from ...ops.dropout import dropout_ as _dropout_
from ...tensor import Tensor
from ._args import check_input

__all__ = ["alpha_dropout", "dropout", "dropout1d", "dropout2d", "dropout3d", "feature_alpha_dropout"]

# SELU's negative saturation value is -_ALPHA (scale * alpha of selu); ATen keeps it as a positive constant.
_ALPHA = 1.7580993408473766


# The warnings' stacklevel 3 skips this function and nn.functional's binding wrapper (ops/autocast.py) to name
# the caller, as PyTorch's stacklevel=2 does.


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (training only).

    The mask comes from a Philox seed drawn from the default Generator (tt.manual_seed), and the backward
    regenerates the same mask from it."""
    _check_p(p)
    return (_dropout_ if inplace else _dropout)(input, p, training)


# ================================================================ shared implementation


def _noise(input: Tensor, p: float, feature: bool, batched: bool) -> Tensor:
    """Bernoulli(1 - p) draws in input's dtype: one per element, or with `feature` one per channel, of shape
    (N, C, 1, ...) when batched, else (C, 1, ...) (ATen's make_feature_noise of input.unsqueeze(0), without
    the leading 1)."""
    shape = tuple(input.shape)
    if feature:
        if len(shape) + (0 if batched else 1) < 2:
            raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
        keep = 2 if batched else 1
        shape = shape[:keep] + (1,) * (len(shape) - keep)
    if not input.dtype.is_floating_point:
        # ATen scales the noise in input's dtype, which fails this way for integer and bool tensors.
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{D.scalar_type_name(input.dtype)}")
    return empty(shape, dtype=input.dtype, device=input.device).bernoulli_(1.0 - p)


def _dropout_impl(input: Tensor, p: float, train: bool, inplace: bool, feature: bool, alpha: bool,
                  batched: bool = True) -> Tensor:
    """ATen's _dropout_impl: identity when not training, p == 0 or empty; zeros when p == 1 (alpha dropout
    included); else input * noise (+ b for alpha dropout). `batched` False means input has no batch dim."""
    if p == 0 or not train or input.numel() == 0:
        return input
    if p == 1:
        zero = zeros((), dtype=input.dtype, device=input.device)
        return input.mul_(zero) if inplace else input.mul(zero)
    noise = _noise(input, p, feature, batched)
    if not alpha:
        noise = noise.div_(1.0 - p)
        return input.mul_(noise) if inplace else input.mul(noise)
    # Dropped units go to SELU's saturation -_ALPHA, then a * x + b restores mean 0 and variance 1:
    # kept: a * x + _ALPHA * a * p; dropped: -_ALPHA * a + _ALPHA * a * p.
    a = 1.0 / ((_ALPHA * _ALPHA * p + 1.0) * (1.0 - p)) ** 0.5
    b = noise.add(-1.0).mul_(_ALPHA * a).add_(_ALPHA * a * p)
    noise = noise.mul_(a)
    return (input.mul_(noise) if inplace else input.mul(noise)).add_(b)


# ================================================================ channel-wise dropout


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels (1D feature maps) with probability p and scale the rest by 1 / (1 - p).

    input is (N, C, L) or unbatched (C, L); the mask is one Bernoulli(1 - p) draw per (sample, channel).
    Identity when not training or p == 0. See nn.Dropout1d."""
    _check_p(p)
    inp_dim = input.dim()
    if inp_dim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {inp_dim}D input. "
                           "Note that dropout1d exists to provide channel-wise dropout on inputs with 1 "
                           "spatial dimension, a channel dimension, and an optional batch dimension "
                           "(i.e. 2D or 3D inputs).")
    return _dropout_impl(input, p, training, inplace, feature=True, alpha=False, batched=inp_dim == 3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels (2D feature maps) with probability p and scale the rest by 1 / (1 - p).

    input is (N, C, H, W). As in PyTorch, a 3D input warns and is taken as (N, C, L) (1D channel dropout),
    and other ranks warn that they are deprecated. See nn.Dropout2d."""
    _check_p(p)
    inp_dim = input.dim()
    if inp_dim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {inp_dim}-D input to dropout2d, which is deprecated "
                      "and will result in an error in a future release. To retain the behavior "
                      "and silence this warning, please use dropout instead. Note that dropout2d "
                      "exists to provide channel-wise dropout on inputs with 2 spatial dimensions, "
                      "a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
                      UserWarning, stacklevel=3)
    if inp_dim == 3:
        # PyTorch keeps the historical (N, C, L) reading of 3D inputs (pytorch/pytorch#77081).
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
                      "is the channel dim. This behavior will change in a future release to interpret the "
                      "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
                      "channel-wise dropout behavior, please switch to using dropout1d instead.",
                      UserWarning, stacklevel=3)
    return _dropout_impl(input, p, training, inplace, feature=True, alpha=False)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels (3D feature maps) with probability p and scale the rest by 1 / (1 - p).

    input is (N, C, D, H, W) or unbatched (C, D, H, W); other ranks warn and are taken as unbatched.
    See nn.Dropout3d."""
    _check_p(p)
    inp_dim = input.dim()
    if inp_dim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {inp_dim}-D input to dropout3d, which is deprecated "
                      "and will result in an error in a future release. To retain the behavior "
                      "and silence this warning, please use dropout instead. Note that dropout3d "
                      "exists to provide channel-wise dropout on inputs with 3 spatial dimensions, "
                      "a channel dimension, and an optional batch dimension (i.e. 4D or 5D inputs).",
                      UserWarning, stacklevel=3)
    return _dropout_impl(input, p, training, inplace, feature=True, alpha=False, batched=inp_dim == 5)


# ================================================================ alpha dropout


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Alpha dropout (for SELU networks): each element is set, with probability p, to SELU's negative
    saturation value, then an affine map keeps a standard-normal input's mean 0 and variance 1.

    Identity when not training (the default) or p == 0; p == 1 gives zeros, as in PyTorch.
    See nn.AlphaDropout."""
    _check_p(p)
    check_input("alpha_dropout", input)
    return _dropout_impl(input, p, training, inplace, feature=False, alpha=True)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """alpha_dropout that masks whole channels: one draw per (sample, channel) of an (N, C, ...) input.

    See nn.FeatureAlphaDropout."""
    _check_p(p)
    check_input("feature_alpha_dropout", input)
    return _dropout_impl(input, p, training, inplace, feature=True, alpha=True)
