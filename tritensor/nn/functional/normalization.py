"""nn.functional's normalizations: layer_norm, rms_norm, group_norm, instance_norm (the fused kernels of
ops/normalization.py) and local_response_norm (composed of tensor ops, as PyTorch composes it)."""

from __future__ import annotations

import math

from ...creation import zeros
from ...ops import normalization as N
from ...ops.api import cat  # the bound op (export tracing)
from ...tensor import Tensor
from ._args import check_input

__all__ = ["layer_norm", "rms_norm", "group_norm", "instance_norm", "local_response_norm"]


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Layer normalisation over the last len(normalized_shape) dims: (x - mean) / sqrt(var + eps) * weight + bias
    (biased variance; weight and bias of shape normalized_shape, or None)."""
    check_input("layer_norm", input)
    return N.layer_norm(input, normalized_shape, weight, bias, eps)


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None) -> Tensor:
    """Root-mean-square normalisation over the last len(normalized_shape) dims: x / sqrt(mean(x^2) + eps) * weight;
    eps None is torch.finfo(input.dtype).eps."""
    check_input("rms_norm", input)
    return N.rms_norm(input, normalized_shape, weight, eps)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Group normalisation of x (N, C, *): statistics over each group of C / num_groups channels and all
    positions, then a per-channel affine."""
    check_input("group_norm", input)
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    return N.group_norm(input, num_groups, weight, bias, eps)


def _verify_spatial_size(size: tuple) -> None:
    if math.prod(size[2:]) == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {_size(size)}")


def _size(shape: tuple) -> str:
    return "torch.Size([" + ", ".join(str(s) for s in shape) + "])"


def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Instance normalisation of x (N, C, *): each (instance, channel) over its positions. With running_mean /
    running_var given and use_input_stats, they are updated in place (momentum, unbiased variance averaged over
    the batch); with use_input_stats False they normalise instead."""
    check_input("instance_norm", input)
    if use_input_stats:
        _verify_spatial_size(input._shape)
    return N.instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps)


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """x / (k + alpha / size * sum of x^2 over `size` neighbouring channels)^beta for x (N, C, *) (3-d or more);
    the window is zero-padded, size // 2 channels before and (size - 1) // 2 after."""
    check_input("local_response_norm", input)
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)")
    if input.numel() == 0:
        return input
    C = input._shape[1]
    sq = input * input
    before, after = size // 2, (size - 1) // 2
    shape = list(input._shape)
    parts = []
    if before:
        parts.append(zeros(*(shape[:1] + [before] + shape[2:]), dtype=input.dtype, device=input.device))
    parts.append(sq)
    if after:
        parts.append(zeros(*(shape[:1] + [after] + shape[2:]), dtype=input.dtype, device=input.device))
    padded = cat(parts, 1) if len(parts) > 1 else sq
    # The window sum as `size` shifted slices (size is small: exact, no cumulative-sum cancellation).
    total = padded.narrow(1, 0, C)
    for i in range(1, size):
        total = total + padded.narrow(1, i, C)
    div = (total * (alpha / size) + k) ** beta
    return input / div
