"""nn.functional's batch_norm: PyTorch's Python layer (argument order, batch-size check) over ops/batch_norm.py."""

from __future__ import annotations

from ...ops.batch_norm import batch_norm as _batch_norm
from ...tensor import Tensor

__all__ = ["batch_norm"]


def _verify_batch_size(size) -> None:
    # One value per channel has no variance to normalise by; PyTorch refuses it in training.
    size_prods = size[0]
    for i in range(len(size) - 2):
        size_prods *= size[i + 2]
    if size_prods == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {size}")


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Batch normalisation over dim 1 of input (N, C, *): (x - mean) / sqrt(var + eps) * weight + bias.

    training: the batch's statistics (biased variance) normalise, and the running buffers, when given, are
    updated in place as running = (1 - momentum) * running + momentum * batch (unbiased variance); otherwise
    the running statistics normalise."""
    if training:
        _verify_batch_size(input.size())
    return _batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, True)
