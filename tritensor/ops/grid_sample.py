"""torch.grid_sampler for 4-d inputs over kernels/grid_sample.py: the sampling kernels on cuda, NumPy on cpu.

`grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)` takes PyTorch's enums (0 bilinear,
1 nearest, 2 bicubic; 0 zeros, 1 border, 2 reflection); bicubic, reflection and 5-d inputs raise
NotImplementedError. The backward gives the input gradient (an atomic scatter on cuda) and the grid gradient;
it is not itself differentiable (double backward through grid_sample is not supported). As PyTorch's, the cuda
backward raises under tt.use_deterministic_algorithms(True) (warns with warn_only=True).
"""

from __future__ import annotations

import warnings

from .. import determinism
from .. import dtypes as D
from ..autograd.function import Function
from ..creation import zeros
from ..kernels import grid_sample as K
from ..tensor import Tensor

__all__ = ["grid_sampler"]

_MODES = {0: "bilinear", 1: "nearest", 2: "bicubic"}
_PADS = {0: "zeros", 1: "border", 2: "reflection"}


_NOT_DETERMINISTIC = (
    "grid_sampler_2d_backward_cuda does not have a deterministic implementation, but you set "
    "'torch.use_deterministic_algorithms(True)'. You can turn off determinism just for this operation, or you can "
    "use the 'warn_only=True' option, if that's acceptable for your application. You can also file an issue at "
    "https://github.com/pytorch/pytorch/issues to help us prioritize adding deterministic support for this operation.")


def _alert_not_deterministic() -> None:
    """PyTorch's alertNotDeterministic for the atomic input-gradient scatter."""
    if determinism.are_deterministic_algorithms_enabled():
        if determinism.is_deterministic_algorithms_warn_only_enabled():
            warnings.warn(_NOT_DETERMINISTIC, stacklevel=3)
        else:
            raise RuntimeError(_NOT_DETERMINISTIC)


class GridSampler2D(Function):
    """input (N, C, H, W) sampled at grid (N, Ho, Wo, 2) -> (N, C, Ho, Wo)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, grid: Tensor, mode: int, pad: int, align: bool) -> Tensor:
        ctx.mode, ctx.pad, ctx.align = mode, pad, align
        ctx.save_for_backward(x, grid)
        if x.device.type == "cpu":
            return Tensor._wrap(K.grid_sample_ref(x._host(), grid._host(), mode, pad, align))
        n, c = x._shape[:2]
        out = Tensor._empty((n, c) + tuple(grid._shape[1:3]), x.dtype, x.device)
        K.grid_sample(out._dev(), x._dev(), grid._dev(), mode, pad, align)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, grid = ctx.saved_tensors
        if x.device.type == "cpu":
            gin, ggrid = K.grid_sample_backward_ref(grad._host(), x._host(), grid._host(), ctx.mode, ctx.pad,
                                                    ctx.align)
            return Tensor._wrap(gin), Tensor._wrap(ggrid), None, None, None
        _alert_not_deterministic()
        scratch = D.float64 if x.dtype is D.float64 else D.float32  # no 16-bit float atomics
        gin = zeros(tuple(x._shape), dtype=scratch, device=x.device)
        ggrid = Tensor._empty(tuple(grid._shape), grid.dtype, grid.device)
        K.grid_sample_backward(gin._dev(), ggrid._dev(), grad._dev(), x._dev(), grid._dev(), ctx.mode, ctx.pad,
                               ctx.align)
        return (gin if scratch is x.dtype else gin.to(x.dtype)), ggrid, None, None, None


def _checks(input: Tensor, grid: Tensor) -> None:  # noqa: A002
    if input.device != grid.device:
        raise RuntimeError(f"grid_sampler(): expected input and grid to be on same device, but input is on "
                           f"{input.device} and grid is on {grid.device}")
    if input.dtype is not grid.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have same dtype, but input has "
                           f"{input.dtype} and grid has {grid.dtype}")
    if input.ndim != grid.ndim or input.ndim not in (4, 5):
        raise RuntimeError("grid_sampler(): expected 4D or 5D input and grid with same number of dimensions, but got "
                           f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError("grid_sampler(): expected grid and input to have same batch size, but got input with sizes "
                           f"{list(input.shape)} and grid with sizes {list(grid.shape)}")
    if grid.shape[-1] != input.ndim - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.ndim - 2} in last dimension, but got "
                           f"grid with sizes {list(grid.shape)}")
    for i in range(2, input.ndim):
        if input.shape[i] == 0:
            raise RuntimeError("grid_sampler(): expected input to have non-empty spatial dimensions, but input has "
                               f"sizes {list(input.shape)} with dimension {i} being empty")


def grid_sampler(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,  # noqa: A002
                 align_corners: bool) -> Tensor:
    """Samples input (N, C, H, W) at the normalised coordinates of grid (N, Ho, Wo, 2); PyTorch's enums."""
    _checks(input, grid)
    if interpolation_mode == 2 and input.ndim != 4:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"\"grid_sampler_2d_cpu\" not implemented for '{D.scalar_type_name(input.dtype)}'")
    if input.ndim == 5 or interpolation_mode == 2 or padding_mode == 2:
        what = "5-D input" if input.ndim == 5 else (f"mode='{_MODES[interpolation_mode]}'"
                                                     if interpolation_mode == 2 else "padding_mode='reflection'")
        raise NotImplementedError(f"grid_sample: {what} is not implemented in tritensor (4-D input, "
                                  "mode 'bilinear' or 'nearest', padding_mode 'zeros' or 'border')")
    return GridSampler2D.apply(input, grid, int(interpolation_mode), int(padding_mode), bool(align_corners))
