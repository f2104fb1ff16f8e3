"""Argument checks nn.functional shares, with PyTorch's messages."""

from __future__ import annotations

from ...tensor import Tensor


def check_input(name: str, input) -> None:
    """TypeError unless `input` is a Tensor, worded as PyTorch's argument parser words it."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
