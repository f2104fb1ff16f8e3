"""nn.functional.unfold / fold (im2col / col2im) with PyTorch's shape checks; the ops are in ops/fold.py."""

from __future__ import annotations

from ...ops.fold import fold_op, unfold_op
from ...tensor import Tensor

__all__ = ["unfold", "fold"]


def _pair(v) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _check_params(k, d, p, s) -> None:
    if k[0] <= 0 or k[1] <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel_height: {k[0]} "
                           f"kernel_width: {k[1]}")
    if s[0] <= 0 or s[1] <= 0:
        raise RuntimeError(f"stride should be greater than zero, but got stride_height: {s[0]} stride_width: {s[1]}")
    if d[0] <= 0 or d[1] <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilation_height: {d[0]} "
                           f"dilation_width: {d[1]}")
    if p[0] < 0 or p[1] < 0:
        raise RuntimeError(f"padding should be non-negative, but got pad_height: {p[0]} pad_width: {p[1]}")


def _blocks(size, k, d, p, s) -> tuple[int, int]:
    return tuple((size[i] + 2 * p[i] - (d[i] * (k[i] - 1) + 1)) // s[i] + 1 for i in range(2))


def _geometry_text(k, d, p, s) -> str:
    return f"kernel_size=({k[0]}, {k[1]}), dilation=({d[0]}, {d[1]}), padding=({p[0]}, {p[1]})"


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:  # noqa: A002
    """Sliding local blocks of a (N, C, H, W) (or unbatched (C, H, W)) input as columns (N, C*KH*KW, L)."""
    k, d, p, s = _pair(kernel_size), _pair(dilation), _pair(padding), _pair(stride)
    _check_params(k, d, p, s)
    shape = tuple(input.shape)
    valid = len(shape) in (3, 4) and all(shape[1:]) and (len(shape) == 4 or shape[0])
    if not valid:
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor input with possible 0 batch size and non-zero "
                           f"dimensions, but got: {list(shape)}")
    x = input.unsqueeze(0) if len(shape) == 3 else input
    size = tuple(x.shape[2:])
    blocks = _blocks(size, k, d, p, s)
    if blocks[0] < 1 or blocks[1] < 1:
        raise RuntimeError(f"Given input with spatial size ({size[0]}, {size[1]}), {_geometry_text(k, d, p, s)}, "
                           f"calculated shape of the array of sliding blocks as ({blocks[0]}, {blocks[1]}), which "
                           "is too small (non-positive).")
    out = unfold_op(x, k, d, p, s, blocks)
    return out.squeeze(0) if len(shape) == 3 else out


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:  # noqa: A002
    """Sums columns (N, C*KH*KW, L) (or unbatched (C*KH*KW, L)) of sliding blocks into (N, C, *output_size)."""
    o, k, d, p, s = _pair(output_size), _pair(kernel_size), _pair(dilation), _pair(padding), _pair(stride)
    _check_params(k, d, p, s)
    shape = tuple(input.shape)
    if len(shape) not in (2, 3) or not all(shape[-2:]):
        raise RuntimeError("Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero "
                           f"dimensions for input, but got: {list(shape)}")
    col = input.unsqueeze(0) if len(shape) == 2 else input
    planes, length = col.shape[1], col.shape[2]
    if planes % (k[0] * k[1]):
        raise RuntimeError("Expected size of input's dimension 1 to be divisible by the product of kernel_size, but "
                           f"got input.size(1)={planes} and kernel_size=({k[0]}, {k[1]}).")
    blocks = _blocks(o, k, d, p, s)
    text = f"Given output_size=({o[0]}, {o[1]}), {_geometry_text(k, d, p, s)}, stride=({s[0]}, {s[1]}), "
    if blocks[0] < 1 or blocks[1] < 1:
        raise RuntimeError(text + f"calculated shape of the array of sliding blocks as ({blocks[0]}, {blocks[1]}), "
                           "which is too small (non-positive)")
    if length != blocks[0] * blocks[1]:
        raise RuntimeError(text + "expected size of input's dimension 2 to match the calculated number of sliding "
                           f"blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, but got "
                           f"input.size(2)={length}.")
    out = fold_op(col, o, k, d, p, s, blocks)
    return out.squeeze(0) if len(shape) == 2 else out
