"""nn.functional's pooling: the kernels' ops of tritensor.ops.pooling, and what PyTorch keeps in Python:
lp_pool1d/2d (a power, an average pool and a root) and max_unpool1d/2d/3d (a scatter into zeros).

fractional_max_pool2d/3d are not provided yet."""

from __future__ import annotations

from ...ops.api import relu  # the bound op (autocast, export tracing)
from ...ops.pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    max_pool1d,
    max_pool1d_with_indices,
    max_pool2d,
    max_pool2d_with_indices,
    max_pool3d,
    max_pool3d_with_indices,
)
from ...tensor import Tensor

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "lp_pool1d", "lp_pool2d", "max_pool1d", "max_pool1d_with_indices", "max_pool2d",
           "max_pool2d_with_indices", "max_pool3d", "max_pool3d_with_indices", "max_unpool1d", "max_unpool2d",
           "max_unpool3d"]


def adaptive_max_pool1d_with_indices(input: Tensor, output_size, return_indices: bool = False):
    """adaptive_max_pool1d returning (values, indices)."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size, return_indices: bool = False):
    """adaptive_max_pool2d returning (values, indices)."""
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input: Tensor, output_size, return_indices: bool = False):
    """adaptive_max_pool3d returning (values, indices)."""
    return adaptive_max_pool3d(input, output_size, True)


def _ntuple(value, k: int) -> tuple:
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,) * k


def lp_pool1d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """(sum over each window of x ** p) ** (1 / p), as PyTorch composes it: avg_pool of x ** p times the window."""
    if stride is not None:
        out = avg_pool1d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    else:
        out = avg_pool1d(input.pow(norm_type), kernel_size, padding=0, ceil_mode=ceil_mode)
    return (out.sign() * relu(out.abs())).mul(kernel_size).pow(1.0 / norm_type)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """2-d power-average pooling: (sum over each window of x ** p) ** (1 / p)."""
    kw, kh = _ntuple(kernel_size, 2)
    if stride is not None:
        out = avg_pool2d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    else:
        out = avg_pool2d(input.pow(norm_type), kernel_size, padding=0, ceil_mode=ceil_mode)
    return (out.sign() * relu(out.abs())).mul(kw * kh).pow(1.0 / norm_type)


def _unpool_output_size(input: Tensor, kernel: tuple, stride: tuple, padding: tuple, output_size) -> list[int]:
    """PyTorch's default ((in - 1) * stride + kernel - 2 * padding) or the checked output_size."""
    k = len(kernel)
    default = [(input.shape[input.ndim - k + d] - 1) * stride[d] + kernel[d] - 2 * padding[d] for d in range(k)]
    if output_size is None:
        return default
    output_size = list(output_size)
    if len(output_size) == k + 2:
        output_size = output_size[2:]
    if len(output_size) != k:
        raise ValueError(f"output_size should be a sequence containing {k} or {k + 2} elements, but it has a length of "
                         f"'{len(output_size)}'")
    for d in range(k):
        lo, hi = default[d] - stride[d], default[d] + stride[d]
        if not lo < output_size[d] < hi:
            raise ValueError(f'invalid output_size "{output_size}" (dim {d} must be between {lo} and {hi})')
    return output_size


def _max_unpool(k: int, input: Tensor, indices: Tensor, out_sp: list[int]) -> Tensor:
    """Scatters input into zeros at the flat spatial indices (max_unpooling2d/3d's checks and messages)."""
    name, words = ("2d", "(height, width)") if k == 2 else ("3d", "(depth, height, width)")
    if indices.dtype.name != "int64":
        raise RuntimeError(f"elements in indices should be type int64 but got: {_scalar(indices)}")
    if len(out_sp) != k:
        raise RuntimeError(f"There should be exactly {'two' if k == 2 else 'three'} elements {words} in output_size, "
                           f"but got {len(out_sp)} elements.")
    if input.ndim not in (k + 1, k + 2):
        raise RuntimeError(f"Input to max_unpooling{name} should be a {k + 1}d or {k + 2}d Tensor, but got a tensor "
                           f"with {input.ndim} dimensions.")
    if tuple(input.shape) != tuple(indices.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor ({list(input.shape)}) "
                           f"but got indices tensor with shape: {list(indices.shape)}")
    lead = tuple(input.shape[:-k])
    nc, size = 1, 1
    for s in lead:
        nc *= s
    for s in out_sp:
        size *= s
    flat_idx = indices.reshape(nc, -1)
    if flat_idx.numel():
        bad = (flat_idx < 0) | (flat_idx >= size)
        if bool(bad.any().item()):
            value = int(flat_idx[bad].reshape(-1)[0].item())
            raise RuntimeError(f"Found an invalid max index: {value} (output volumes are of size "
                               f"{'x'.join(str(s) for s in out_sp)}")
    out = input.new_zeros((nc, size)).scatter(1, flat_idx, input.reshape(nc, -1))
    return out.reshape(*lead, *out_sp)


def _scalar(t: Tensor) -> str:
    from ... import dtypes

    return dtypes.scalar_type_name(t.dtype)


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """The partial inverse of max_pool1d: input's values at their indices, zeros elsewhere."""
    kernel = _ntuple(kernel_size, 1)
    st = _ntuple(stride, 1) if stride is not None else kernel
    out = _unpool_output_size(input, kernel, st, _ntuple(padding, 1), output_size)
    return _max_unpool(2, input.unsqueeze(-1), indices.unsqueeze(-1), [*out, 1]).squeeze(-1)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """The partial inverse of max_pool2d: input's values at their flat indices, zeros elsewhere."""
    kernel = _ntuple(kernel_size, 2)
    st = _ntuple(stride, 2) if stride is not None else kernel
    out = _unpool_output_size(input, kernel, st, _ntuple(padding, 2), output_size)
    return _max_unpool(2, input, indices, out)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """The partial inverse of max_pool3d."""
    kernel = _ntuple(kernel_size, 3)
    st = _ntuple(stride, 3) if stride is not None else kernel
    out = _unpool_output_size(input, kernel, st, _ntuple(padding, 3), output_size)
    return _max_unpool(3, input, indices, out)
