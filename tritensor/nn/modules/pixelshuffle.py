"""PixelShuffle and PixelUnshuffle modules over tt.pixel_shuffle / pixel_unshuffle."""

from __future__ import annotations

from ...ops.pixel_shuffle import pixel_shuffle, pixel_unshuffle
from ...tensor import Tensor
from .module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle"]


class PixelShuffle(Module):
    """(*, C * r**2, H, W) -> (*, C, H * r, W * r)."""

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        """pixel_shuffle(input, upscale_factor)."""
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        """upscale_factor."""
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H * r, W * r) -> (*, C * r**2, H, W)."""

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        """pixel_unshuffle(input, downscale_factor)."""
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        """downscale_factor."""
        return f"downscale_factor={self.downscale_factor}"
