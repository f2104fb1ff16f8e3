"""nn.functional's dropout (the Philox kernel is ops/dropout.py's)."""

from __future__ import annotations

from ...ops.dropout import dropout as _dropout
from ...ops.dropout import dropout_ as _dropout_
from ...tensor import Tensor

__all__ = ["dropout"]


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (training only).

    The mask comes from a Philox seed drawn from the default Generator (tt.manual_seed), and the backward
    regenerates the same mask from it."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return (_dropout_ if inplace else _dropout)(input, p, training)
