"""VisionDataset, the base of tritensor.vision's datasets (torchvision's `datasets.vision`), and the image helper
they share. A module of its own so the dataset modules can build on it without importing each other."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ..data.dataset import Dataset

__all__ = ["VisionDataset"]


def _pil_image():
    """`PIL.Image`, or None without Pillow (imported on first use: Pillow is optional)."""
    try:
        from PIL import Image
    except ImportError:
        return None
    return Image


def _to_image(array: np.ndarray):
    """A uint8 H x W or H x W x C array as what torchvision's datasets return: a PIL image with Pillow (mode L,
    LA, RGB or RGBA by channel count), else the array itself."""
    image = _pil_image()
    if image is None:
        return array
    return image.fromarray(np.ascontiguousarray(array))


class VisionDataset(Dataset):
    """Base of the vision datasets: root, transform, target_transform and torchvision's repr."""

    _repr_indent = 4

    def __init__(self, root: str | os.PathLike | None = None, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        # "~/data" is the user's folder, as torchvision expands it
        self.root = os.path.expanduser(os.fspath(root)) if root is not None else None
        self.transform = transform
        self.target_transform = target_transform

    def _apply(self, img: Any, target: Any) -> tuple[Any, Any]:
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def extra_repr(self) -> str:
        """Dataset-specific lines of the repr (none by default)."""
        return ""

    def __repr__(self) -> str:
        body = [f"Number of datapoints: {len(self)}"]
        if self.root is not None:
            body.append(f"Root location: {self.root}")
        body += self.extra_repr().splitlines()
        if self.transform is not None:
            body.append(f"Transform: {self.transform!r}")
        if self.target_transform is not None:
            body.append(f"Target transform: {self.target_transform!r}")
        return "\n".join([f"Dataset {type(self).__name__}"] + [" " * self._repr_indent + line for line in body])
