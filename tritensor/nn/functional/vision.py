"""nn.functional's resampling: interpolate (and the deprecated upsample*), pixel_shuffle / pixel_unshuffle.

interpolate resolves sizes and scale factors exactly as PyTorch's Python layer does (same errors, same
order of checks) and calls ops/interpolate.resample; pixel (un)shuffle are reshape/permute compositions.
"""

from __future__ import annotations

import math
import warnings

from ...creation import linspace, ones
from ...ops.grid_sample import grid_sampler
from ...ops.interpolate import resample
from ...ops.pixel_shuffle import pixel_shuffle, pixel_unshuffle
from ...tensor import Tensor

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle", "pixel_unshuffle",
           "affine_grid", "grid_sample"]

_INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")
_MODE_DIMS = {"linear": 3, "bilinear": 4, "trilinear": 5}
_NEEDS = {3: "3D", 4: "4D", 5: "5D"}


def _is_integer(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) or getattr(x, "is_integer_type", False)


def _output_size(input: Tensor, size, scale_factor, dim: int):  # noqa: A002
    """(output size or None, scale factors or None) as PyTorch resolves them."""
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got input with spatial "
                    f"dimensions of {list(input.shape[2:])} and output size of {size}. Please provide input tensor "
                    "in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format.")
            if not all(_is_integer(x) for x in size):
                raise TypeError("expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                                f"Tuple[int, int, int], but got size with types {[type(x) for x in size]}")
            return list(size), None
        return [size] * dim, None
    if scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, but got input with "
                    f"spatial dimensions of {list(input.shape[2:])} and scale_factor of shape {scale_factor}. "
                    "Please provide input tensor in (N, C, d1, d2, ...,dK) format and scale_factor in "
                    "(s1, s2, ...,sK) format.")
            return None, [float(s) for s in scale_factor]
        return None, [float(scale_factor)] * dim
    raise ValueError("either size or scale_factor should be defined")


def _check_mode(mode: str, ndim: int) -> None:
    if mode in _MODE_DIMS and ndim in _NEEDS and ndim != _MODE_DIMS[mode]:
        raise NotImplementedError(f"Got {_NEEDS[ndim]} input, but {mode} mode needs {_NEEDS[_MODE_DIMS[mode]]} input")
    ok = mode in ("nearest", "nearest-exact", "area") or mode in _MODE_DIMS or (mode == "bicubic" and ndim == 4)
    if ndim not in _NEEDS or not ok:
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {ndim}D) for the modes: nearest | linear "
            f"| bilinear | bicubic | trilinear | area | nearest-exact (got {mode})")


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",  # noqa: A002
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Down/up-samples `input` (N, C, *spatial; 1-3 spatial dims) to `size` or by `scale_factor`.

    mode: 'nearest' | 'nearest-exact' | 'linear' (3-D) | 'bilinear' (4-D) | 'bicubic' (4-D) | 'trilinear' (5-D)
    | 'area' (adaptive average pooling). With a scale factor (and recompute_scale_factor not True) the source
    coordinate scale is 1 / scale_factor, as PyTorch's; the output size is floor(in * scale_factor).
    antialias=True raises NotImplementedError."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = input.ndim - 2
    output_size, scale_factors = _output_size(input, size, scale_factor, dim)
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and output_size is None:
        recompute_scale_factor = True
    if recompute_scale_factor:
        output_size = [math.floor(float(input.shape[i + 2]) * scale_factors[i]) for i in range(dim)]
        scale_factors = None
    if antialias and not (mode in ("bilinear", "bicubic") and input.ndim == 4):
        raise ValueError("Anti-alias option is restricted to bilinear and bicubic modes and requires a 4-D tensor "
                         "as input")
    _check_mode(mode, input.ndim)
    if antialias:
        raise NotImplementedError("interpolate(antialias=True) is not implemented in tritensor")
    if output_size is None:
        output_size = [math.floor(float(input.shape[i + 2]) * scale_factors[i]) for i in range(dim)]
    return resample(input, output_size, mode, bool(align_corners), scale_factors)


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",  # noqa: A002
             align_corners: bool | None = None) -> Tensor:
    """Deprecated alias of `interpolate` (warns, as PyTorch's)."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:  # noqa: A002
    """Deprecated: `interpolate(..., mode='nearest')` (warns, as PyTorch's)."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:  # noqa: A002
    """Deprecated: `interpolate(..., mode='bilinear', align_corners=True)` (warns, as PyTorch's)."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                  "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                  "grid_sample for details.")


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",  # noqa: A002
                align_corners: bool | None = None) -> Tensor:
    """Samples `input` (N, C, H, W) at `grid` (N, Ho, Wo, 2) of normalised (x, y) in [-1, 1] -> (N, C, Ho, Wo).

    mode 'bilinear' or 'nearest', padding_mode 'zeros' or 'border' ('bicubic', 'reflection' and 5-D inputs raise
    NotImplementedError); differentiable in input and grid."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError("nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but "
                         f"got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError("nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    mode_enum = ("bilinear", "nearest", "bicubic").index(mode)
    pad_enum = ("zeros", "border", "reflection").index(padding_mode)
    return grid_sampler(input, grid, mode_enum, pad_enum, align_corners)


def _base_coords(n: int, align_corners: bool, like: Tensor) -> Tensor:
    """PyTorch's affine_grid_generator linspace: -1..1 (align_corners) or the pixel centres in (-1, 1)."""
    if n <= 1:
        return linspace(0.0, 0.0, max(n, 1), dtype=like.dtype, device=like.device)[:n]
    c = linspace(-1.0, 1.0, n, dtype=like.dtype, device=like.device)
    return c if align_corners else c * ((n - 1) / n)


def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """The sampling grid (N, H, W, 2) (or (N, D, H, W, 3)) of the affine maps `theta` (N, 2, 3) (or (N, 3, 4))
    for an output of `size`: base coordinates [x, y(, z), 1] times theta transposed (a batched matmul, so it is
    differentiable in theta)."""
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = list(size)
    rows = {4: (2, 3), 5: (3, 4)}.get(len(size))
    if rows is None:
        raise NotImplementedError("affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    if theta.ndim != 3 or tuple(theta.shape[-2:]) != rows:
        kind = "2D affine matrices of shape Nx2x3" if len(size) == 4 else "3D affine matrices of shape Nx3x4"
        raise ValueError(f"Expected a batch of {kind} for size {size}. Got {theta.shape}.")
    spatial = size[2:]
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                      "align_corners=True. This is not an issue for standard (non-unit-size) grids. See the "
                      "documentation of affine_grid for details.", stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    n = size[0]
    # Coordinates ordered x (last spatial dim) first, as grid_sample reads them, then a column of ones.
    coords = [_base_coords(s, align_corners, theta) for s in reversed(spatial)]
    shape = tuple(spatial)
    k = len(spatial)
    cols = []
    for d, c in enumerate(coords):
        view = [1] * k
        view[k - 1 - d] = shape[k - 1 - d]
        cols.append(c.reshape(*view).expand(*shape))
    cols.append(ones(shape, dtype=theta.dtype, device=theta.device))
    # grid[n, p, j] = sum_k base_k[p] * theta[n, j, k]: k + 1 broadcast multiply-adds, in a fixed order (every
    # float dtype on every device; the cuda matmul kernel has no float64 path)
    grid = None
    for i, c in enumerate(cols):
        term = c.reshape(1, -1, 1) * theta[:, :, i].reshape(n, 1, k)
        grid = term if grid is None else grid + term
    return grid.reshape(n, *shape, k)
