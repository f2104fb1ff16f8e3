"""The tensor side of the geometric transforms: torchvision's `_functional_tensor` crop, pad, resize and rotate.

Images are [..., H, W] tensors on any device; every pixel operation is a tritensor op (slicing, F.pad,
index_select, F.interpolate, matmul, F.grid_sample), so cuda images stay on the GPU. Only tiny per-call tables
(resampling weights, sampling grids, symmetric-pad indices) are computed on the host from the sizes.
"""

from __future__ import annotations

import math

import numpy as np

import tritensor as tt
import tritensor.nn.functional as nnf
from tritensor import Tensor


def assert_image_tensor(img: Tensor) -> None:
    """torchvision's check that a tensor can be an image ([..., H, W])."""
    if img.ndim < 2:
        raise TypeError("Tensor is not a torch image.")


def get_dimensions(img: Tensor) -> list[int]:
    """[channels, height, width] of a [..., C, H, W] (or [H, W]) tensor."""
    assert_image_tensor(img)
    channels = 1 if img.ndim == 2 else img.shape[-3]
    return [channels, img.shape[-2], img.shape[-1]]


def hflip(img: Tensor) -> Tensor:
    """Flip the last (width) axis."""
    assert_image_tensor(img)
    return img.flip(-1)


def vflip(img: Tensor) -> Tensor:
    """Flip the height axis."""
    assert_image_tensor(img)
    return img.flip(-2)


def crop(img: Tensor, top: int, left: int, height: int, width: int) -> Tensor:
    """A slice; a box reaching outside the image is zero-padded there, as torchvision."""
    assert_image_tensor(img)
    _, h, w = get_dimensions(img)
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        padding_ltrb = [max(-left + min(0, right), 0), max(-top + min(0, bottom), 0),
                        max(right - max(w, left), 0), max(bottom - max(h, top), 0)]
        return pad(img[..., max(top, 0):bottom, max(left, 0):right], padding_ltrb, fill=0)
    return img[..., top:bottom, left:right]


def parse_pad_padding(padding) -> list[int]:
    """torchvision's int / [p] / [lr, tb] / [l, t, r, b] padding as [left, right, top, bottom]."""
    if isinstance(padding, int):
        return [padding] * 4
    if len(padding) == 1:
        return [padding[0]] * 4
    if len(padding) == 2:
        return [padding[0], padding[0], padding[1], padding[1]]
    return [padding[0], padding[2], padding[1], padding[3]]


def _pad_symmetric(img: Tensor, padding: list[int]) -> Tensor:
    # NumPy's "symmetric" mode (edge repeated) has no F.pad mode: gather rows and columns by index, as torchvision.
    if min(padding) < 0:
        cl, cr, ct, cb = (-min(x, 0) for x in padding)
        img = img[..., ct:img.shape[-2] - cb, cl:img.shape[-1] - cr]
        padding = [max(x, 0) for x in padding]
    if img.ndim not in (3, 4):
        raise RuntimeError("Symmetric padding of N-D tensors are not supported yet")

    def indices(n: int, before: int, after: int) -> Tensor:
        idx = list(range(before - 1, -1, -1)) + list(range(n)) + [n - 1 - i for i in range(after)]
        return tt.tensor(idx, dtype=tt.int64, device=img.device)

    img = img.index_select(img.ndim - 1, indices(img.shape[-1], padding[0], padding[1]))
    return img.index_select(img.ndim - 2, indices(img.shape[-2], padding[2], padding[3]))


def pad(img: Tensor, padding, fill=0, padding_mode: str = "constant") -> Tensor:
    """torchvision's tensor pad: constant (fill), edge, reflect or symmetric; negative padding crops."""
    assert_image_tensor(img)
    if fill is None:
        fill = 0
    if not isinstance(padding, (int, tuple, list)):
        raise TypeError("Got inappropriate padding arg")
    if not isinstance(fill, (int, float)):
        raise TypeError("Got inappropriate fill arg")
    if not isinstance(padding_mode, str):
        raise TypeError("Got inappropriate padding_mode arg")
    if isinstance(padding, (tuple, list)) and len(padding) not in (1, 2, 4):
        raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple")
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    p = parse_pad_padding(padding)
    if padding_mode == "symmetric":
        return _pad_symmetric(img, p)
    squeeze = img.ndim < 4
    if squeeze:
        img = img.unsqueeze(0)
    out_dtype = img.dtype
    # F.pad's reflect/replicate take floating images only (as PyTorch's): cast there and back, as torchvision.
    cast = padding_mode != "constant" and out_dtype not in (tt.float32, tt.float64)
    if cast:
        img = img.to(tt.float32)
    if padding_mode == "constant":
        img = nnf.pad(img, p, mode="constant", value=float(fill))
    else:
        img = nnf.pad(img, p, mode="replicate" if padding_mode == "edge" else "reflect")
    if squeeze:
        img = img.squeeze(0)
    return img.to(out_dtype) if cast else img


def to_nchw(img: Tensor) -> Tensor:
    """[..., C, H, W] (or [H, W]) as one NCHW batch, the layout the sampling ops take."""
    channels = 1 if img.ndim == 2 else img.shape[-3]
    return img.reshape(-1, channels, img.shape[-2], img.shape[-1])


def to_float(img: Tensor, req_dtypes: list) -> Tensor:
    """`img` in a floating dtype the sampling ops take (torchvision's `_cast_squeeze_in` cast)."""
    return img if img.dtype in req_dtypes else img.to(req_dtypes[0])


def from_float(img: Tensor, out_dtype) -> Tensor:
    """Back to `out_dtype`, rounding before an integer cast (torchvision's `_cast_squeeze_out`)."""
    if img.dtype == out_dtype:
        return img
    if not out_dtype.is_floating_point:
        img = tt.round(img)
    return img.to(out_dtype)


def _aa_filter(x: np.ndarray, cubic: bool) -> np.ndarray:
    x = np.abs(x)
    if not cubic:
        return np.where(x < 1.0, 1.0 - x, 0.0)
    a = -0.5  # PyTorch's (and Pillow's) antialiased bicubic uses a = -0.5, not the -0.75 of plain bicubic
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def aa_weights(in_size: int, out_size: int, cubic: bool) -> np.ndarray:
    """The (out_size, in_size) weights of PyTorch's antialiased 1-D resampling (`_upsample_*_aa`, Pillow's scheme).

    A triangle (or a = -0.5 cubic) filter stretched by the downscaling factor, centred on each output pixel's
    centre in input coordinates and normalised to sum to one over the input pixels it covers.
    """
    scale = in_size / out_size
    support = (2.0 if cubic else 1.0) * max(scale, 1.0)
    invscale = 1.0 / scale if scale >= 1.0 else 1.0
    weights = np.zeros((out_size, in_size), dtype=np.float64)
    for i in range(out_size):
        center = scale * (i + 0.5)
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size)
        w = _aa_filter((np.arange(xmin, xmax) - center + 0.5) * invscale, cubic)
        total = w.sum()
        weights[i, xmin:xmax] = w / total if total != 0.0 else w
    return weights


def resize(img: Tensor, size: list[int], interpolation: str = "bilinear", antialias: bool | None = True) -> Tensor:
    """Resize [..., H, W] to `size` = [h, w] (torchvision's tensor resize, align_corners=False).

    Without antialias: F.interpolate. With antialias (bilinear/bicubic): PyTorch's antialiased kernels as two
    matmuls with the per-axis weight matrices of `aa_weights` (equal to plain bilinear when upscaling).
    """
    assert_image_tensor(img)
    antialias = bool(antialias) and interpolation in ("bilinear", "bicubic")
    shape, out_dtype = img.shape, img.dtype
    x = to_float(to_nchw(img), [tt.float32, tt.float64])
    if antialias:
        cubic = interpolation == "bicubic"
        wh = tt.tensor(aa_weights(x.shape[-2], size[0], cubic), dtype=x.dtype, device=x.device)
        ww = tt.tensor(aa_weights(x.shape[-1], size[1], cubic).T, dtype=x.dtype, device=x.device)
        x = tt.matmul(tt.matmul(wh, x), ww)
    else:
        align = False if interpolation in ("bilinear", "bicubic") else None
        x = nnf.interpolate(x, size=list(size), mode=interpolation, align_corners=align)
    if interpolation == "bicubic" and out_dtype == tt.uint8:
        x = x.clamp(0, 255)  # cubic overshoots: clamp before the cast back to uint8
    return from_float(x, out_dtype).reshape(*shape[:-2], size[0], size[1])


def inverse_rotation_matrix(center: list[float], angle: float) -> list[float]:
    """The inverse affine matrix of a rotation by `angle` degrees about `center` (torchvision's
    `_get_inverse_affine_matrix` with no translation, unit scale and no shear)."""
    rot = math.radians(angle)
    a, b, c, d = math.cos(rot), -math.sin(rot), math.sin(rot), math.cos(rot)
    cx, cy = center
    matrix = [d, -b, 0.0, -c, a, 0.0]
    matrix[2] += matrix[0] * -cx + matrix[1] * -cy + cx
    matrix[5] += matrix[3] * -cx + matrix[4] * -cy + cy
    return matrix


def _affine_output_size(matrix: list[float], w: int, h: int) -> tuple[int, int]:
    # The rotated corners' bounding box, as PIL's expand (torchvision's `_compute_affine_output_size`).
    pts = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0], [0.5 * w, 0.5 * h, 1.0],
                    [0.5 * w, -0.5 * h, 1.0]], dtype=np.float32)
    new_pts = pts @ np.array(matrix, dtype=np.float32).reshape(2, 3).T
    lo = new_pts.min(axis=0) + np.array([w * 0.5, h * 0.5], dtype=np.float32)
    hi = new_pts.max(axis=0) + np.array([w * 0.5, h * 0.5], dtype=np.float32)
    tol = 1e-4  # truncate to 1e-4 so that a 1e-15 overshoot does not ceil to a whole extra pixel
    size = np.ceil(np.trunc(hi / tol) * tol) - np.floor(np.trunc(lo / tol) * tol)
    return int(size[0]), int(size[1])


def _affine_grid(matrix: list[float], w: int, h: int, ow: int, oh: int, dtype, device) -> Tensor:
    # Pixel-centre coordinates of the output about its centre, mapped by the inverse matrix and normalised by the
    # input size (torchvision's `_gen_affine_grid`): a [1, oh, ow, 2] grid for grid_sample(align_corners=False).
    theta = np.array(matrix, dtype=np.float32).reshape(2, 3)
    xs = np.linspace(-ow * 0.5 + 0.5, ow * 0.5 - 0.5, ow, dtype=np.float32)
    ys = np.linspace(-oh * 0.5 + 0.5, oh * 0.5 - 0.5, oh, dtype=np.float32)
    base = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None], np.float32(1.0)), axis=-1)
    rescaled = theta.T / np.array([0.5 * w, 0.5 * h], dtype=np.float32)
    grid = (base.reshape(-1, 3) @ rescaled).reshape(1, oh, ow, 2)
    return tt.tensor(grid, dtype=dtype, device=device)


def rotate(img: Tensor, matrix: list[float], interpolation: str = "nearest", expand: bool = False,
           fill=None) -> Tensor:
    """Rotate by grid_sample on the inverse `matrix`; `fill` colours the area outside the input (a mask channel)."""
    assert_image_tensor(img)
    if fill is not None and isinstance(fill, (tuple, list)) and len(fill) > 1 \
            and len(fill) != get_dimensions(img)[0]:
        raise ValueError("The number of elements in 'fill' cannot broadcast to match the number of channels of the "
                         f"image ({len(fill)} != {get_dimensions(img)[0]})")
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"Interpolation mode '{interpolation}' is unsupported with Tensor input")
    w, h = img.shape[-1], img.shape[-2]
    ow, oh = _affine_output_size(matrix, w, h) if expand else (w, h)
    dtype = img.dtype if img.is_floating_point() else tt.float32
    grid = _affine_grid(matrix, w, h, ow, oh, dtype, img.device)
    shape, out_dtype = img.shape, img.dtype
    img = to_float(to_nchw(img), [grid.dtype])
    n = img.shape[0]
    grid = grid.expand(n, oh, ow, 2)
    if fill is not None:  # a ones channel tells, after sampling, how much of each pixel came from inside the image
        img = tt.cat([img, tt.ones(n, 1, h, w, dtype=img.dtype, device=img.device)], dim=1)
    img = nnf.grid_sample(img, grid, mode=interpolation, padding_mode="zeros", align_corners=False)
    if fill is not None:
        mask, img = img[:, -1:], img[:, :-1]
        values = list(fill) if isinstance(fill, (tuple, list)) else [float(fill)]
        fill_img = tt.tensor(values, dtype=img.dtype, device=img.device).view(1, len(values), 1, 1)
        if interpolation == "nearest":
            img = tt.where(mask < 0.5, fill_img.expand_as(img), img)
        else:
            img = img * mask + (1.0 - mask) * fill_img
    return from_float(img, out_dtype).reshape(*shape[:-2], oh, ow)
