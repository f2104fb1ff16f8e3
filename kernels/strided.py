"""Strided indexing shared by the elementwise kernel families.

A launch covers `numel` output elements in row-major order; each operand reads its element at
`sum(index_d * stride_d)`, so broadcast operands (stride 0), transposes and slices need no copy.
Dimensions are first collapsed where every operand is contiguous across them, which brings almost
every real layout down to at most MAX_DIMS; the rarer higher-rank leftovers loop over the leading
dimensions on the host, one launch per slice.
"""

from __future__ import annotations

import itertools

import triton
import triton.language as tl

from .device_array import DeviceArray

MAX_DIMS = 4


def collapse(shape: tuple, strides: list[tuple]) -> tuple[tuple, list[tuple]]:
    """Drop size-1 dims and merge neighbours that are contiguous for every operand."""
    dims = [i for i, n in enumerate(shape) if n != 1]
    out_shape: list[int] = []
    out_strides: list[list[int]] = [[] for _ in strides]
    for d in dims:
        if out_shape and all(s[-1] == st[d] * shape[d] for s, st in zip(out_strides, strides)):
            out_shape[-1] *= shape[d]
            for s, st in zip(out_strides, strides):
                s[-1] = st[d]
        else:
            out_shape.append(shape[d])
            for s, st in zip(out_strides, strides):
                s.append(st[d])
    return tuple(out_shape), [tuple(s) for s in out_strides]


def launch_slices(shape: tuple, arrays: list[DeviceArray]):
    """Yield (shape4, [strides4 per array], [offset per array]) covering the whole launch.

    Each yielded piece has exactly MAX_DIMS dims (left-padded with size 1, stride 0).
    """
    cshape, cstrides = collapse(shape, [a.strides for a in arrays])
    lead = max(0, len(cshape) - MAX_DIMS)
    inner_shape = cshape[lead:]
    pad = MAX_DIMS - len(inner_shape)
    shape4 = (1,) * pad + inner_shape
    strides4 = [(0,) * pad + s[lead:] for s in cstrides]
    for index in itertools.product(*(range(n) for n in cshape[:lead])):
        offsets = [a.offset + sum(i * s for i, s in zip(index, st[:lead])) for a, st in zip(arrays, cstrides)]
        yield shape4, strides4, offsets


@triton.jit
def strided_offsets(idx, size1, size2, size3, stride0, stride1, stride2, stride3):
    """Element offset of row-major linear index `idx` in a 4-d strided layout (size0 is implied)."""
    i3 = idx % size3
    rest = idx // size3
    i2 = rest % size2
    rest = rest // size2
    i1 = rest % size1
    i0 = rest // size1
    return i0 * stride0 + i1 * stride1 + i2 * stride2 + i3 * stride3


@triton.jit
def compute_type(x):
    """Upcast 16-bit floats to fp32 for arithmetic (the interpreter needs it for bf16), and bools to
    int32 so that True + True is not 0 (bool results are stored as `!= 0`)."""
    if x.dtype.is_fp16() or x.dtype.is_bf16():
        return x.to(tl.float32)
    elif x.dtype.is_int1():
        return x.to(tl.int32)
    else:
        return x


@triton.jit
def cast_to(x, dtype: tl.constexpr):
    """x.to(dtype), through fp32 for bfloat16 (the interpreter mis-converts other types to bf16)."""
    if dtype.is_bf16():
        return x.to(tl.float32).to(tl.bfloat16)
    else:
        return x.to(dtype)


def grid_1d(numel: int, block: int) -> tuple[int]:
    return (triton.cdiv(numel, block),)
