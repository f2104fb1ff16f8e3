"""The tensor side of the colour transforms: torchvision's `_functional_tensor` grayscale, brightness, contrast,
saturation and hue, and `normalize`, all as tritensor ops on [..., C, H, W] images (any device)."""

from __future__ import annotations

import tritensor as tt
from tritensor import Tensor

from ._tensor_geometry import assert_image_tensor, get_dimensions

_MAX_VALUE = {"uint8": 255, "int8": 127, "int16": 32767, "int32": 2147483647, "int64": 9223372036854775807}


def max_value(dtype) -> int:
    """The largest pixel value of `dtype`: the integer maximum, 1 for floating images (torchvision's `_max_value`)."""
    return _MAX_VALUE.get(str(dtype).split(".")[-1], 1)


def _assert_channels(img: Tensor, permitted: list[int]) -> None:
    c = get_dimensions(img)[0]
    if c not in permitted:
        raise TypeError(f"Input image tensor permitted channel values are {permitted}, but found {c}")


def convert_image_dtype(image: Tensor, dtype) -> Tensor:
    """Convert and rescale between integer and floating images (torchvision's `convert_image_dtype`)."""
    if image.dtype == dtype:
        return image
    if image.is_floating_point():
        if dtype.is_floating_point:
            return image.to(dtype)
        if (image.dtype == tt.float32 and dtype in (tt.int32, tt.int64)) or \
                (image.dtype == tt.float64 and dtype == tt.int64):
            raise RuntimeError(f"The cast from {image.dtype} to {dtype} cannot be performed safely.")
        # max + 1 - eps spreads [0, 1] evenly over the integers: only exactly 1.0 maps to the maximum
        return image.mul(float(max_value(dtype)) + 1.0 - 1e-3).to(dtype)
    input_max = float(max_value(image.dtype))
    if dtype.is_floating_point:
        return image.to(dtype) / input_max
    output_max = float(max_value(dtype))
    if input_max > output_max:
        factor = int((input_max + 1) // (output_max + 1))
        return tt.div(image, factor, rounding_mode="floor").to(dtype)
    return image.to(dtype) * int((output_max + 1) // (input_max + 1))


def rgb_to_grayscale(img: Tensor, num_output_channels: int = 1) -> Tensor:
    """L = 0.2989 R + 0.587 G + 0.114 B in the input's dtype (torchvision's tensor weights; Pillow uses 0.299)."""
    if img.ndim < 3:
        raise TypeError(f"Input image tensor should have at least 3 dimensions, but found {img.ndim}")
    _assert_channels(img, [1, 3])
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    if img.shape[-3] == 3:
        r, g, b = img.unbind(dim=-3)
        l_img = (0.2989 * r + 0.587 * g + 0.114 * b).to(img.dtype).unsqueeze(-3)
    else:
        l_img = img.clone()
    return l_img.expand(img.shape) if num_output_channels == 3 else l_img


def _blend(img1: Tensor, img2, ratio: float) -> Tensor:
    ratio = float(ratio)
    return (ratio * img1 + (1.0 - ratio) * img2).clamp(0, max_value(img1.dtype)).to(img1.dtype)


def adjust_brightness(img: Tensor, brightness_factor: float) -> Tensor:
    """A blend with black: factor * img, clamped to the dtype's range."""
    if brightness_factor < 0:
        raise ValueError(f"brightness_factor ({brightness_factor}) is not non-negative.")
    assert_image_tensor(img)
    _assert_channels(img, [1, 3])
    return _blend(img, tt.zeros_like(img), brightness_factor)


def adjust_contrast(img: Tensor, contrast_factor: float) -> Tensor:
    """A blend with the mean of the grayscale image (per image)."""
    if contrast_factor < 0:
        raise ValueError(f"contrast_factor ({contrast_factor}) is not non-negative.")
    assert_image_tensor(img)
    _assert_channels(img, [3, 1])
    dtype = img.dtype if img.is_floating_point() else tt.float32
    gray = rgb_to_grayscale(img) if get_dimensions(img)[0] == 3 else img
    mean = gray.to(dtype).mean(dim=(-3, -2, -1), keepdim=True)
    return _blend(img, mean, contrast_factor)


def adjust_saturation(img: Tensor, saturation_factor: float) -> Tensor:
    """A blend with the grayscale image; a 1-channel image is returned as is (as Pillow)."""
    if saturation_factor < 0:
        raise ValueError(f"saturation_factor ({saturation_factor}) is not non-negative.")
    assert_image_tensor(img)
    _assert_channels(img, [1, 3])
    if get_dimensions(img)[0] == 1:
        return img
    return _blend(img, rgb_to_grayscale(img), saturation_factor)


def _rgb2hsv(img: Tensor) -> Tensor:
    # Pillow's RGB -> HSV (Convert.c), with the divisions guarded where max == min instead of patching NaNs after.
    r, g, b = img.unbind(dim=-3)
    maxc, minc = img.amax(dim=-3), img.amin(dim=-3)
    eqc = maxc == minc
    cr = maxc - minc
    ones = tt.ones_like(maxc)
    s = cr / tt.where(eqc, ones, maxc)
    cr_divisor = tt.where(eqc, ones, cr)
    rc, gc, bc = (maxc - r) / cr_divisor, (maxc - g) / cr_divisor, (maxc - b) / cr_divisor
    is_r = maxc == r
    is_g = (maxc == g) & ~is_r
    is_b = ~is_r & (maxc != g)
    h = is_r.to(img.dtype) * (bc - gc) + is_g.to(img.dtype) * (2.0 + rc - bc) + is_b.to(img.dtype) * (4.0 + gc - rc)
    h = tt.fmod(h / 6.0 + 1.0, 1.0)
    return tt.stack([h, s, maxc], dim=-3)


def _hsv2rgb(img: Tensor) -> Tensor:
    h, s, v = img.unbind(dim=-3)
    i = tt.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.to(tt.int32).remainder(6)
    p = tt.clamp(v * (1.0 - s), 0.0, 1.0)
    q = tt.clamp(v * (1.0 - s * f), 0.0, 1.0)
    t = tt.clamp(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    # The sextant i picks one of six (r, g, b) orderings of (v, p, q, t): a 0/1 mask per sextant, summed.
    table = ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))
    out = [tt.zeros_like(v) for _ in range(3)]
    for k, rgb in enumerate(table):
        mask = (i == k).to(img.dtype)
        out = [acc + mask * x for acc, x in zip(out, rgb)]
    return tt.stack(out, dim=-3)


def adjust_hue(img: Tensor, hue_factor: float) -> Tensor:
    """Shift the hue by hue_factor (a fraction of the circle) in HSV space; 1-channel images are unchanged."""
    if not (-0.5 <= hue_factor <= 0.5):
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    if not isinstance(img, Tensor):
        raise TypeError("Input img should be Tensor image")
    assert_image_tensor(img)
    _assert_channels(img, [1, 3])
    if get_dimensions(img)[0] == 1:
        return img
    orig_dtype = img.dtype
    h, s, v = _rgb2hsv(convert_image_dtype(img, tt.float32)).unbind(dim=-3)
    h = (h + hue_factor).remainder(1.0)
    return convert_image_dtype(_hsv2rgb(tt.stack([h, s, v], dim=-3)), orig_dtype)


def normalize(tensor: Tensor, mean, std, inplace: bool = False) -> Tensor:
    """(tensor - mean[c]) / std[c] per channel of a floating [..., C, H, W] tensor."""
    assert_image_tensor(tensor)
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError("Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = "
                         f"{tensor.size()}")
    if not inplace:
        tensor = tensor.clone()
    dtype = tensor.dtype
    mean = tt.as_tensor(mean, dtype=dtype, device=tensor.device)
    std = tt.as_tensor(std, dtype=dtype, device=tensor.device)
    if bool((std == 0).any()):
        raise ValueError(f"std evaluated to zero after conversion to {dtype}, leading to division by zero.")
    if mean.ndim == 1:
        mean = mean.view(-1, 1, 1)
    if std.ndim == 1:
        std = std.view(-1, 1, 1)
    return tensor.sub_(mean).div_(std)
