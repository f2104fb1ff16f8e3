"""torchvision.transforms.functional for tritensor: each function takes a tensor, a NumPy array or a PIL image.

Tensors are [..., C, H, W] images on any device and go through tritensor ops (torchvision's tensor path). PIL
images (when Pillow is installed) go through Pillow's own operations (torchvision's PIL path). NumPy arrays are
images as PIL would give them, [H, W] or [H, W, C]: they take the tensor path on the cpu and come back as NumPy
arrays of the same dtype, [H, W, C] ([H, W] for a one-channel result, as PIL's mode L, unless the input was
[H, W, 1]); torchvision accepts them in `to_tensor` only.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np

import tritensor as tt
from tritensor import Tensor

from . import _pil as F_pil
from . import _tensor_color as F_c
from . import _tensor_geometry as F_g

if TYPE_CHECKING:  # Pillow is optional: its type is named for checkers only
    from PIL.Image import Image as PILImage

    ImageLike = Tensor | np.ndarray | PILImage  # what every function takes and returns


class InterpolationMode(Enum):
    """Interpolation modes, as torchvision's; tensors take nearest, nearest-exact, bilinear and bicubic."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"  # the last three are for PIL images only
    HAMMING = "hamming"
    LANCZOS = "lanczos"


_FROM_INT = {0: InterpolationMode.NEAREST, 2: InterpolationMode.BILINEAR, 3: InterpolationMode.BICUBIC,
             4: InterpolationMode.BOX, 5: InterpolationMode.HAMMING, 1: InterpolationMode.LANCZOS}
_TO_PIL = {InterpolationMode.NEAREST: 0, InterpolationMode.BILINEAR: 2, InterpolationMode.BICUBIC: 3,
           InterpolationMode.NEAREST_EXACT: 0, InterpolationMode.BOX: 4, InterpolationMode.HAMMING: 5,
           InterpolationMode.LANCZOS: 1}


def interpolation_mode(interpolation: InterpolationMode | int) -> InterpolationMode:
    """An InterpolationMode from itself or from a Pillow integer constant (PIL.Image.BILINEAR == 2, ...)."""
    if isinstance(interpolation, int) and not isinstance(interpolation, bool):
        return _FROM_INT[int(interpolation)]
    if not isinstance(interpolation, InterpolationMode):
        raise TypeError("Argument interpolation should be a InterpolationMode or a corresponding Pillow integer "
                        "constant")
    return interpolation


def _numpy_to_tensor(img: np.ndarray) -> Tensor:
    # HWC (or HW) as CHW, the layout torchvision's tensor path works on; the dtype is kept.
    arr = img[:, :, None] if img.ndim == 2 else img
    return tt.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def _tensor_to_numpy(out: Tensor, like: np.ndarray) -> np.ndarray:
    # A one-channel result is [H, W] as PIL's mode L gives it, unless the input itself was [H, W, 1].
    arr = out.numpy().transpose(1, 2, 0)
    keep_axis = like.ndim == 3 and like.shape[2] == 1
    return arr[:, :, 0] if arr.shape[2] == 1 and not keep_axis else np.ascontiguousarray(arr)


def _apply(img: Any, on_tensor: Callable, on_pil: Callable | None):
    """Runs `on_tensor` on a tensor (or a NumPy image, converted there and back) and `on_pil` on a PIL image."""
    if isinstance(img, Tensor):
        return on_tensor(img)
    if isinstance(img, np.ndarray):
        if img.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {img.ndim} dimensions.")
        return _tensor_to_numpy(on_tensor(_numpy_to_tensor(img)), img)
    if on_pil is None:
        raise TypeError(f"img should be Tensor Image. Got {type(img)}")
    return on_pil(img)


def get_dimensions(img: ImageLike) -> list[int]:
    """[channels, height, width] of a tensor, NumPy or PIL image."""
    if isinstance(img, Tensor):
        return F_g.get_dimensions(img)
    if isinstance(img, np.ndarray):
        return [1 if img.ndim == 2 else img.shape[2], img.shape[0], img.shape[1]]
    return F_pil.get_dimensions(img)


def to_tensor(pic: PILImage | np.ndarray) -> Tensor:
    """A PIL image or a [H, W(, C)] NumPy array as a [C, H, W] tensor; uint8 scaled to floats in [0, 1].

    Other NumPy dtypes keep their values and dtype; PIL modes I, I;16 and F become int32, int16 and float32.
    """
    if not (F_pil.is_pil_image(pic) or isinstance(pic, np.ndarray)):
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    if isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        img = _numpy_to_tensor(pic)
    else:
        mode_to_nptype = {"I": np.int32, "I;16": np.int16, "I;16B": np.int16, "F": np.float32}
        arr = np.array(pic, mode_to_nptype.get(pic.mode, np.uint8), copy=True)
        if pic.mode == "1":
            arr = 255 * arr
        arr = arr.reshape(pic.size[1], pic.size[0], len(pic.getbands()))
        img = tt.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
    if img.dtype == tt.uint8:
        return img.to(tt.get_default_dtype()).div(255)
    return img


def pil_to_tensor(pic: PILImage) -> Tensor:
    """A PIL image as a [C, H, W] tensor of its own dtype (no scaling)."""
    if not F_pil.is_pil_image(pic):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    arr = np.array(pic, copy=True)
    arr = arr.reshape(pic.size[1], pic.size[0], len(pic.getbands()))
    return tt.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def normalize(tensor: Tensor, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> Tensor:
    """(tensor - mean[c]) / std[c] for each channel c of a floating [..., C, H, W] tensor."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    return F_c.normalize(tensor, mean, std, inplace)


def _resized_output_size(image_size: tuple[int, int], size: list[int], max_size: int | None) -> list[int]:
    h, w = image_size
    short, long = (w, h) if w <= h else (h, w)
    if len(size) == 2:
        return [size[0], size[1]]
    new_short, new_long = size[0], int(size[0] * long / short)
    if max_size is not None:
        if max_size <= size[0]:
            raise ValueError(f"max_size = {max_size} must be strictly greater than the requested size for the "
                             f"smaller edge size = {size}")
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return [new_h, new_w]


def resize(img: ImageLike, size: int | Sequence[int],
           interpolation: InterpolationMode | int = InterpolationMode.BILINEAR, max_size: int | None = None,
           antialias: bool | None = True) -> ImageLike:
    """Resize to (h, w) = `size`, or the smaller edge to the int `size` (the longer edge at most `max_size`)."""
    interpolation = interpolation_mode(interpolation)
    if isinstance(size, (list, tuple)):
        if len(size) not in (1, 2):
            raise ValueError(f"Size must be an int or a 1 or 2 element tuple/list, not a {len(size)} element "
                             "tuple/list")
        if max_size is not None and len(size) != 1:
            raise ValueError("max_size should only be passed if size specifies the length of the smaller edge, "
                             "i.e. size should be an int or a sequence of length 1 in torchscript mode.")
    _, height, width = get_dimensions(img)
    output_size = _resized_output_size((height, width), [size] if isinstance(size, int) else list(size), max_size)
    if [height, width] == output_size:
        return img

    def on_pil(pic):
        if antialias is False:
            import warnings

            warnings.warn("Anti-alias option is always applied for PIL Image input. Argument antialias is ignored.",
                          stacklevel=3)
        return F_pil.resize(pic, output_size, _TO_PIL[interpolation])

    return _apply(img, lambda t: F_g.resize(t, output_size, interpolation.value, antialias), on_pil)


def pad(img: ImageLike, padding: int | Sequence[int], fill: float | Sequence[float] = 0,
        padding_mode: str = "constant") -> ImageLike:
    """Pad all sides: `padding` is an int, [all], [left/right, top/bottom] or [left, top, right, bottom]."""
    return _apply(img, lambda t: F_g.pad(t, padding, fill, padding_mode),
                  lambda p: F_pil.pad(p, padding, fill, padding_mode))


def crop(img: ImageLike, top: int, left: int, height: int, width: int) -> ImageLike:
    """The box at (top, left) of size (height, width); zero-padded where it leaves the image."""
    return _apply(img, lambda t: F_g.crop(t, top, left, height, width),
                  lambda p: F_pil.crop(p, top, left, height, width))


def center_crop(img: ImageLike, output_size: int | Sequence[int]) -> ImageLike:
    """The central (h, w) box (an int or a 1-sequence means square); zero-padded if the image is smaller."""
    if isinstance(output_size, numbers.Number):
        output_size = (int(output_size), int(output_size))
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        output_size = (output_size[0], output_size[0])
    _, image_height, image_width = get_dimensions(img)
    crop_height, crop_width = output_size
    if crop_width > image_width or crop_height > image_height:
        padding_ltrb = [(crop_width - image_width) // 2 if crop_width > image_width else 0,
                        (crop_height - image_height) // 2 if crop_height > image_height else 0,
                        (crop_width - image_width + 1) // 2 if crop_width > image_width else 0,
                        (crop_height - image_height + 1) // 2 if crop_height > image_height else 0]
        img = pad(img, padding_ltrb, fill=0)
        _, image_height, image_width = get_dimensions(img)
        if crop_width == image_width and crop_height == image_height:
            return img
    crop_top = int(round((image_height - crop_height) / 2.0))
    crop_left = int(round((image_width - crop_width) / 2.0))
    return crop(img, crop_top, crop_left, crop_height, crop_width)


def resized_crop(img: ImageLike, top: int, left: int, height: int, width: int, size: int | Sequence[int],
                 interpolation: InterpolationMode | int = InterpolationMode.BILINEAR,
                 antialias: bool | None = True) -> ImageLike:
    """`crop` then `resize` to `size`."""
    img = crop(img, top, left, height, width)
    return resize(img, size, interpolation, antialias=antialias)


def hflip(img: ImageLike) -> ImageLike:
    """Mirror left-right."""
    return _apply(img, F_g.hflip, F_pil.hflip)


def vflip(img: ImageLike) -> ImageLike:
    """Mirror top-bottom."""
    return _apply(img, F_g.vflip, F_pil.vflip)


def rotate(img: ImageLike, angle: float, interpolation: InterpolationMode | int = InterpolationMode.NEAREST,
           expand: bool = False, center: Sequence[float] | None = None,
           fill: float | Sequence[float] | None = None) -> ImageLike:
    """Rotate by `angle` degrees counter-clockwise about `center` (x, y) (the image centre by default).

    `expand` grows the output to hold the whole rotated image; `fill` colours the area outside the input.
    """
    interpolation = interpolation_mode(interpolation)
    if not isinstance(angle, (int, float)):
        raise TypeError("Argument angle should be int or float")
    if center is not None and not isinstance(center, (list, tuple)):
        raise TypeError("Argument center should be a sequence")

    def on_tensor(t: Tensor) -> Tensor:
        center_f = [0.0, 0.0]
        if center is not None:  # pixel coordinates about the image centre
            _, height, width = F_g.get_dimensions(t)
            center_f = [1.0 * (c - s * 0.5) for c, s in zip(center, [width, height])]
        # torchvision's affine and rotate turn opposite ways: the matrix is built for -angle
        matrix = F_g.inverse_rotation_matrix(center_f, -angle)
        return F_g.rotate(t, matrix, interpolation.value, expand, fill)

    return _apply(img, on_tensor,
                  lambda p: F_pil.rotate(p, angle, _TO_PIL[interpolation], expand, center, fill))


def rgb_to_grayscale(img: ImageLike, num_output_channels: int = 1) -> ImageLike:
    """Grayscale (1 or 3 equal channels): 0.2989/0.587/0.114 on tensors, Pillow's 0.299/0.587/0.114 on PIL."""
    return _apply(img, lambda t: F_c.rgb_to_grayscale(t, num_output_channels),
                  lambda p: F_pil.to_grayscale(p, num_output_channels))


def adjust_brightness(img: ImageLike, brightness_factor: float) -> ImageLike:
    """Blend with black: 0 gives black, 1 the image, 2 twice as bright (clamped)."""
    return _apply(img, lambda t: F_c.adjust_brightness(t, brightness_factor),
                  lambda p: F_pil.adjust_brightness(p, brightness_factor))


def adjust_contrast(img: ImageLike, contrast_factor: float) -> ImageLike:
    """Blend with the mean gray level: 0 gives solid gray, 1 the image."""
    return _apply(img, lambda t: F_c.adjust_contrast(t, contrast_factor),
                  lambda p: F_pil.adjust_contrast(p, contrast_factor))


def adjust_saturation(img: ImageLike, saturation_factor: float) -> ImageLike:
    """Blend with the grayscale image: 0 gives black and white, 1 the image."""
    return _apply(img, lambda t: F_c.adjust_saturation(t, saturation_factor),
                  lambda p: F_pil.adjust_saturation(p, saturation_factor))


def adjust_hue(img: ImageLike, hue_factor: float) -> ImageLike:
    """Shift the hue by `hue_factor` in [-0.5, 0.5] (a fraction of the colour circle) in HSV space."""
    return _apply(img, lambda t: F_c.adjust_hue(t, hue_factor), lambda p: F_pil.adjust_hue(p, hue_factor))


def convert_image_dtype(image: Tensor, dtype: tt.dtype = tt.float32) -> Tensor:
    """Convert a tensor image to `dtype`, rescaling integer ranges to [0, 1] floats and back."""
    if not isinstance(image, Tensor):
        raise TypeError("Input img should be Tensor Image")
    return F_c.convert_image_dtype(image, dtype)


__all__ = ["InterpolationMode", "get_dimensions", "to_tensor", "pil_to_tensor", "normalize", "resize", "pad", "crop",
           "center_crop", "resized_crop", "hflip", "vflip", "rotate", "rgb_to_grayscale", "adjust_brightness",
           "adjust_contrast", "adjust_saturation", "adjust_hue", "convert_image_dtype"]
