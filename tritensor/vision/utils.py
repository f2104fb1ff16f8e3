"""torchvision.utils for tritensor: make_grid (a batch of images tiled into one image) and save_image (a grid
written to an image file with Pillow)."""

from __future__ import annotations

import math
import os
from typing import IO, Any

import numpy as np

from ..ops.shape import cat, stack
from ..tensor import Tensor

__all__ = ["make_grid", "save_image"]


def _as_batch(tensor: Tensor | list[Tensor]) -> Tensor:
    """A (B, C, H, W) batch from a tensor or a list of tensors, grey images made 3-channel (as torchvision)."""
    if not isinstance(tensor, Tensor):
        if isinstance(tensor, list):
            for t in tensor:
                if not isinstance(t, Tensor):
                    raise TypeError(f"tensor or list of tensors expected, got a list containing {type(t)}")
        else:
            raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
    if isinstance(tensor, list):
        tensor = stack(tensor, dim=0)
    if tensor.dim() == 2:  # a single image H x W
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 3:  # a single image C x H x W
        if tensor.size(0) == 1:
            tensor = cat((tensor, tensor, tensor), 0)
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 4 and tensor.size(1) == 1:  # grey images
        tensor = cat((tensor, tensor, tensor), 1)
    return tensor


def _normalize(tensor: Tensor, value_range: tuple[float, float] | None, scale_each: bool) -> Tensor:
    """A copy of tensor clamped to value_range (default: its own min and max) and mapped to [0, 1]."""
    tensor = tensor.clone()  # the caller's tensor is never changed
    if value_range is not None and not isinstance(value_range, tuple):
        raise TypeError("value_range has to be a tuple (min, max) if specified. min and max are numbers")

    def norm_ip(img: Tensor, low: float, high: float) -> None:
        img.clamp_(min=low, max=high)
        img.sub_(low).div_(max(high - low, 1e-5))

    def norm_range(t: Tensor) -> None:
        if value_range is not None:
            norm_ip(t, value_range[0], value_range[1])
        else:
            norm_ip(t, float(t.min()), float(t.max()))

    if scale_each is True:
        for i in range(tensor.size(0)):  # each image of the batch on its own range
            norm_range(tensor[i])
    else:
        norm_range(tensor)
    return tensor


def make_grid(tensor: Tensor | list[Tensor], nrow: int = 8, padding: int = 2, normalize: bool = False,
              value_range: tuple[float, float] | None = None, scale_each: bool = False,
              pad_value: float = 0.0) -> Tensor:
    """Tile a batch of images (B x C x H x W, or a list of C x H x W) into one C x H' x W' image, nrow images per
    row, `padding` pixels of pad_value around each; grey images become 3-channel.

    normalize maps the values to [0, 1] by value_range (default: min and max of the batch, or of each image with
    scale_each). A batch of one image is returned as that image (after the conversions above), as torchvision.
    """
    tensor = _as_batch(tensor)
    if normalize is True:
        tensor = _normalize(tensor, value_range, scale_each)
    if tensor.size(0) == 1:
        return tensor.squeeze(0)
    nmaps = tensor.size(0)
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    height, width = int(tensor.size(2) + padding), int(tensor.size(3) + padding)
    num_channels = tensor.size(1)
    grid = tensor.new_full((num_channels, height * ymaps + padding, width * xmaps + padding), pad_value)
    k = 0
    for y in range(ymaps):
        for x in range(xmaps):
            if k >= nmaps:
                break
            # Image k's cell: a view of the grid, so the copy writes the grid in place (any device).
            cell = grid.narrow(1, y * height + padding, height - padding).narrow(2, x * width + padding,
                                                                                 width - padding)
            cell.copy_(tensor[k])
            k = k + 1
    return grid


def save_image(tensor: Tensor | list[Tensor], fp: str | os.PathLike | IO[bytes], format: str | None = None,
               **kwargs: Any) -> None:
    """Write make_grid(tensor, **kwargs), values in [0, 1], as an 8-bit image file (x * 255 rounded to the nearest
    integer, clamped); format as Pillow's (default: from the file name). Needs Pillow."""
    try:
        from PIL import Image
    except ImportError as exc:
        # matplotlib is no fallback: it imports Pillow itself (a required dependency of it).
        raise ImportError("save_image needs Pillow: pip install tritensor[vision] (or pip install pillow)") from exc
    grid = make_grid(tensor, **kwargs)
    values = grid.detach().cpu().numpy().astype(np.float32)
    # Adding 0.5 before truncation rounds to the nearest integer, as torchvision.
    ndarr = np.clip(values * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(np.ascontiguousarray(ndarr)).save(fp, format=format)
