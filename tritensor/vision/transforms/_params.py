"""Argument checks and random draws the transform classes share (torchvision's `_setup_size`, `_setup_angle`, ...)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import tritensor as tt

from . import functional as F


def uniform(low: float, high: float) -> float:
    """One uniform draw from [low, high) by the default generator."""
    # torch.empty(1).uniform_(low, high).item(): one float32 draw
    return float((tt.rand(1) * (float(high) - float(low)) + float(low)).item())


def randint(low: int, high: int) -> int:
    """One integer drawn from [low, high) by the default generator."""
    return int(tt.randint(low, high, size=(1,)).item())


def setup_size(size, error_msg: str):
    """(h, w) from an int, a 1-sequence or a 2-sequence."""
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return size[0], size[0]
    if len(size) != 2:
        raise ValueError(error_msg)
    return size


def check_sequence_input(x, name: str, req_sizes: tuple) -> None:
    """`x` must be a sequence of one of the lengths `req_sizes`."""
    msg = req_sizes[0] if len(req_sizes) < 2 else " or ".join([str(s) for s in req_sizes])
    if not isinstance(x, Sequence):
        raise TypeError(f"{name} should be a sequence of length {msg}.")
    if len(x) not in req_sizes:
        raise ValueError(f"{name} should be a sequence of length {msg}.")


def setup_angle(x, name: str, req_sizes: tuple = (2,)) -> list[float]:
    """[-x, x] from a non-negative number, else the checked sequence, as floats."""
    if isinstance(x, numbers.Number):
        if x < 0:
            raise ValueError(f"If {name} is a single number, it must be positive.")
        x = [-x, x]
    else:
        check_sequence_input(x, name, req_sizes)
    return [float(d) for d in x]


def check_p(p: float) -> float:
    """`p` checked to be a probability."""
    # torchvision's v1 flips accept any p; its v2 flips raise this, and a p outside [0, 1] is always a mistake
    if not (0.0 <= p <= 1.0):
        raise ValueError("`p` should be a floating point value in the interval [0.0, 1.0].")
    return p


def tensor_fill(img, fill):
    """`fill` as one float per channel for a tensor image; unchanged for a PIL image."""
    # Tensors take one fill value per channel (a number is repeated), PIL images take the fill as given.
    if not isinstance(img, tt.Tensor):
        return fill
    channels = F.get_dimensions(img)[0]
    return [float(fill)] * channels if isinstance(fill, (int, float)) else [float(f) for f in fill]
