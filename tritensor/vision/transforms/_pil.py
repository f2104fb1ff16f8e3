"""The PIL side of the transforms: torchvision's `_functional_pil`, on Pillow's own operations.

Pillow is optional (the `vision` extra): it is imported on first use, so `import tritensor.vision` works without it
and a PIL image can only reach these functions when Pillow is installed.
"""

from __future__ import annotations

import numbers
import sys
from typing import Any

import numpy as np


def pil_image_module():
    """`PIL.Image`, imported lazily; None when Pillow is not installed (not in torchvision)."""
    try:
        from PIL import Image
    except ImportError:
        return None
    return Image


def is_pil_image(img: Any) -> bool:
    """True when `img` is a PIL image; never imports Pillow for an object that cannot be one."""
    module = sys.modules.get("PIL.Image")  # not imported yet: nothing can have made a PIL image, skip the import
    return module is not None and isinstance(img, module.Image)


def _require_pil(img: Any) -> None:
    if not is_pil_image(img):
        raise TypeError(f"img should be PIL Image. Got {type(img)}")


def get_dimensions(img) -> list[int]:
    """[channels, height, width] of a PIL image."""
    if is_pil_image(img):
        width, height = img.size
        return [len(img.getbands()), height, width]
    raise TypeError(f"Unexpected type {type(img)}")


def hflip(img):
    """Mirror left-right (Pillow's FLIP_LEFT_RIGHT)."""
    _require_pil(img)
    return img.transpose(pil_image_module().Transpose.FLIP_LEFT_RIGHT)


def vflip(img):
    """Mirror top-bottom (Pillow's FLIP_TOP_BOTTOM)."""
    _require_pil(img)
    return img.transpose(pil_image_module().Transpose.FLIP_TOP_BOTTOM)


def crop(img, top: int, left: int, height: int, width: int):
    """Pillow's crop box (left, top, right, bottom); outside the image it fills with 0 as torchvision's PIL path."""
    _require_pil(img)
    return img.crop((left, top, left + width, top + height))


def parse_fill(fill, img, name: str = "fillcolor") -> dict:
    """Pillow's fill option for `img`: one value per band, ints unless mode F (torchvision's `_parse_fill`)."""
    num_channels = get_dimensions(img)[0]
    if fill is None:
        fill = 0
    if isinstance(fill, (int, float)) and num_channels > 1:
        fill = tuple([fill] * num_channels)
    if isinstance(fill, (list, tuple)):
        if len(fill) == 1:
            fill = tuple(fill) * num_channels
        elif len(fill) != num_channels:
            raise ValueError("The number of elements in 'fill' does not match the number of channels of the image "
                             f"({len(fill)} != {num_channels})")
        fill = tuple(fill)
    if img.mode != "F":
        fill = tuple(int(x) for x in fill) if isinstance(fill, tuple) else int(fill)
    return {name: fill}


def pad(img, padding, fill=0, padding_mode: str = "constant"):
    """Constant padding by ImageOps.expand, the other modes by np.pad, as torchvision's PIL path."""
    _require_pil(img)
    if not isinstance(padding, (numbers.Number, tuple, list)):
        raise TypeError("Got inappropriate padding arg")
    if fill is not None and not isinstance(fill, (numbers.Number, tuple, list)):
        raise TypeError("Got inappropriate fill arg")
    if not isinstance(padding_mode, str):
        raise TypeError("Got inappropriate padding_mode arg")
    if isinstance(padding, list):
        padding = tuple(padding)
    if isinstance(padding, tuple) and len(padding) not in (1, 2, 4):
        raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple")
    if isinstance(padding, tuple) and len(padding) == 1:
        padding = padding[0]
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    if isinstance(padding, tuple) and len(padding) == 2:
        left, top, right, bottom = padding[0], padding[1], padding[0], padding[1]
    elif isinstance(padding, tuple):
        left, top, right, bottom = padding
    else:
        left = top = right = bottom = padding
    if padding_mode == "constant":
        from PIL import ImageOps

        return ImageOps.expand(img, border=(left, top, right, bottom), **parse_fill(fill, img, name="fill"))
    p = [left, top, right, bottom]
    crop_left, crop_top, crop_right, crop_bottom = (-np.minimum(p, 0)).tolist()
    if any((crop_left, crop_top, crop_right, crop_bottom)):  # negative padding crops, as torchvision
        img = img.crop((crop_left, crop_top, img.width - crop_right, img.height - crop_bottom))
    left, top, right, bottom = np.maximum(p, 0).tolist()
    arr = np.asarray(img)
    widths = ((top, bottom), (left, right)) + (((0, 0),) if arr.ndim == 3 else ())
    return pil_image_module().fromarray(np.pad(arr, widths, padding_mode))


def resize(img, size: list[int], interpolation: int):
    """Pillow's resize to (height, width) = `size` (Pillow antialiases bilinear/bicubic always)."""
    _require_pil(img)
    if not (isinstance(size, list) and len(size) == 2):
        raise TypeError(f"Got inappropriate size arg: {size}")
    return img.resize(tuple(size[::-1]), interpolation)


def rotate(img, angle: float, interpolation: int, expand: bool, center, fill):
    """Pillow's rotate (counter-clockwise degrees) with torchvision's fill handling."""
    _require_pil(img)
    return img.rotate(angle, interpolation, expand, center, **parse_fill(fill, img))


def _enhance(img, kind: str, factor: float):
    _require_pil(img)
    from PIL import ImageEnhance

    return getattr(ImageEnhance, kind)(img).enhance(factor)


def adjust_brightness(img, factor: float):
    """ImageEnhance.Brightness (a blend with black)."""
    return _enhance(img, "Brightness", factor)


def adjust_contrast(img, factor: float):
    """ImageEnhance.Contrast (a blend with the mean gray level)."""
    return _enhance(img, "Contrast", factor)


def adjust_saturation(img, factor: float):
    """ImageEnhance.Color (a blend with the grayscale image)."""
    return _enhance(img, "Color", factor)


def adjust_hue(img, hue_factor: float):
    """Shifts Pillow's 8-bit HSV hue band by hue_factor * 255, wrapping around (torchvision's PIL path)."""
    if not (-0.5 <= hue_factor <= 0.5):
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    _require_pil(img)
    if img.mode in {"L", "1", "I", "F"}:
        return img
    image = pil_image_module()
    h, s, v = img.convert("HSV").split()
    np_h = np.array(h, dtype=np.uint8)
    np_h += np.array(hue_factor * 255).astype(np.int32).astype(np.uint8)  # wraps around in uint8, as intended
    return image.merge("HSV", (image.fromarray(np_h, "L"), s, v)).convert(img.mode)


def to_grayscale(img, num_output_channels: int):
    """Pillow's convert('L') (ITU-R 601-2 luma: 299/587/114 per mille), repeated to 3 bands if asked."""
    _require_pil(img)
    if num_output_channels == 1:
        return img.convert("L")
    if num_output_channels == 3:
        gray = np.array(img.convert("L"), dtype=np.uint8)
        return pil_image_module().fromarray(np.dstack([gray, gray, gray]), "RGB")
    raise ValueError("num_output_channels should be either 1 or 3")
