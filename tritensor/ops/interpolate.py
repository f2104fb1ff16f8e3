"""Resampling (F.interpolate's kernels) over kernels/interpolate.py: the gather kernels on cuda, NumPy on cpu.

`resample(x, size, mode, align_corners, scales)` is the checked-argument op nn.functional.interpolate calls
once it has resolved the output size and PyTorch's per-dim source scales. Its backward is the gather kernel
(the transpose of the forward's weights), itself differentiable (its backward is the forward again), so
double backward works. The grad_fn names are PyTorch's (UpsampleBilinear2DBackward0, ...).
"""

from __future__ import annotations

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import interpolate as K
from ..tensor import Tensor

# PyTorch's op name stems per (mode, spatial dims), for grad_fn names and messages.
_STEMS = {"nearest": "Nearest", "nearest-exact": "NearestExact", "linear": "Linear", "bilinear": "Bilinear",
          "bicubic": "Bicubic", "trilinear": "Trilinear"}
_KERNEL_MODE = {"nearest": "nearest", "nearest-exact": "nearest-exact", "linear": "linear", "bilinear": "linear",
                "trilinear": "linear", "bicubic": "cubic", "area": "area"}


def source_scale(in_size: int, out_size: int, align_corners: bool, scale_factor: float | None) -> float:
    """PyTorch's area_pixel_compute_scale: the factor mapping an output coordinate to a source coordinate."""
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    if scale_factor is not None and scale_factor > 0:
        return 1.0 / scale_factor
    return in_size / out_size if out_size else 0.0


def grad_fn_name(mode: str, dims: int) -> str:
    """PyTorch's backward node name for `mode` on `dims` spatial dims."""
    if mode == "area":
        return f"AdaptiveAvgPool{dims}DBackward0"
    return f"Upsample{_STEMS[mode]}{dims}DBackward0"


def _forward(x: Tensor, size: tuple, mode: str, align: bool, scales: list[float]) -> Tensor:
    kmode = _KERNEL_MODE[mode]
    if x.device.type == "cpu":
        return Tensor._wrap(K.interpolate_ref(x._host(), size, kmode, align, scales))
    out = Tensor._empty(tuple(x._shape[:2]) + tuple(size), x.dtype, x.device)
    K.interpolate(out._dev(), x._dev(), kmode, align, scales)
    return out


def _backward(grad: Tensor, in_size: tuple, mode: str, align: bool, scales: list[float]) -> Tensor:
    kmode = _KERNEL_MODE[mode]
    if grad.device.type == "cpu":
        return Tensor._wrap(K.interpolate_backward_ref(grad._host(), in_size, kmode, align, scales))
    gx = Tensor._empty(tuple(grad._shape[:2]) + tuple(in_size), grad.dtype, grad.device)
    K.interpolate_backward(gx._dev(), grad._dev(), kmode, align, scales)
    return gx


class Resample(Function):
    """x (N, C, *spatial) resampled to `size` with `mode`; scales are PyTorch's per-dim source scales."""

    differentiable_forward = False

    def name(self) -> str:
        return grad_fn_name(self.mode, len(self.in_size))

    @staticmethod
    def forward(ctx, x: Tensor, size: tuple, mode: str, align: bool, scales: list) -> Tensor:
        ctx.in_size, ctx.mode, ctx.align, ctx.scales = tuple(x._shape[2:]), mode, align, scales
        return _forward(x, size, mode, align, scales)

    @staticmethod
    def backward(ctx, grad):
        return ResampleBackward.apply(grad, ctx.in_size, ctx.mode, ctx.align, ctx.scales), None, None, None, None


class ResampleBackward(Function):
    """The input gradient of Resample (its weights transposed); its own backward is Resample."""

    differentiable_forward = False

    def name(self) -> str:
        return grad_fn_name(self.mode, len(self.out_size)).replace("Backward0", "BackwardBackward0")

    @staticmethod
    def forward(ctx, grad: Tensor, in_size: tuple, mode: str, align: bool, scales: list) -> Tensor:
        ctx.out_size, ctx.mode, ctx.align, ctx.scales = tuple(grad._shape[2:]), mode, align, scales
        return _backward(grad, in_size, mode, align, scales)

    @staticmethod
    def backward(ctx, gg):
        return Resample.apply(gg, ctx.out_size, ctx.mode, ctx.align, ctx.scales), None, None, None, None


def resample(input: Tensor, size, mode: str, align_corners: bool, scale_factors=None) -> Tensor:  # noqa: A002
    """`input` (N, C, *spatial; 1-3 spatial dims, float) resampled to the spatial `size` (checked positive).

    mode: nearest, nearest-exact, linear, bilinear, bicubic, trilinear or area (adaptive average pooling);
    scale_factors: the per-dim factors PyTorch passes its upsample ops (None: the sizes' ratio)."""
    dims = input.ndim - 2
    size = tuple(int(s) for s in size)
    in_size = tuple(input._shape[2:])
    if any(s <= 0 for s in in_size) or any(s <= 0 for s in size):
        names = "DHW"[3 - dims:]
        fmt = lambda sz: ", ".join(f"{n}: {s}" for n, s in zip(names, sz))  # noqa: E731
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input ({fmt(in_size)}) "
                           f"output ({fmt(size)})")
    if not input.dtype.is_floating_point:
        op = "adaptive_avg_pool" if mode == "area" else f"upsample_{mode.replace('-', '_')}{dims}d"
        raise RuntimeError(f"\"{op}_out_frame\" not implemented for '{D.scalar_type_name(input.dtype)}'")
    sf = list(scale_factors) if scale_factors is not None else [None] * dims
    align = bool(align_corners) and mode not in ("nearest", "nearest-exact", "area")
    scales = [source_scale(i, o, align, f) for i, o, f in zip(in_size, size, sf)]
    return Resample.apply(input, size, mode, align, scales)
