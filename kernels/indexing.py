"""Indexing kernels: gather/scatter along a dim, index_select/index_add, take, advanced indexing
(x[i0, i1] and x[i0, i1] = v), masked_fill, one_hot, and the data-dependent boolean-mask ops.

Two kernels carry most of the family. `index_gather_kernel` reads
    out[e] = x[xbase(e) + sum_k idx_k(e) * xstride_k]
over a launch shape S (the output's): every operand, the index tensors included, arrives as a view
of shape S whose strides say how it moves with the output coordinates (zero where it does not), so
gather, index_select, take and x[i0, i1] differ only in the views the wrapper builds (PyTorch's
TensorIterator does the same). `index_scatter_kernel` is its mirror image (stores or atomic adds),
serving scatter, scatter_add, index_add, index_put and every backward of the gathers. Views are
collapsed to at most four dims (`strided.launch_slices`), so no operand is ever copied.

Index tensors are any integer DeviceArrays (int64 in practice). Out-of-range indices: the Tensor
layer validates indices on the host for cpu tensors; on cuda these kernels never touch memory
out of bounds: an index outside [0, n) (outside [-n, n) for the ops that wrap negatives like
PyTorch: take, x[idx], index_put) reads 0 and its store/accumulate is dropped.

Accumulation (scatter_add, index_add, index_put(accumulate=True), every gather backward, pad
backward) uses atomic adds, which exist for fp16, fp32, fp64, int32 and int64 (bf16 has them on
GPUs but not in Triton's interpreter). For other targets `accumulate_dtype(dtype)` names the dtype
of a scratch buffer `acc` (same shape as the target, any strides) the wrapper accumulates into
and casts back from; `acc` may also be given for fp16 targets to accumulate in fp32.
Atomic accumulation order is unspecified (as in PyTorch on CUDA): float results may differ from
the sequential NumPy reference in the last bits. scatter(reduce="multiply") has no atomic: it runs
`scatter_multiply_kernel`, one program lane per line along `dim`, serially over `dim`.

Boolean masks (masked_select, nonzero, masked_scatter). x[mask] for a mask over x's first k dims
is nonzero(mask) followed by index(x, [column 0, ..., column k-1]) as in PyTorch (k <= 4; a mask
of x's full shape can use masked_select directly); x[mask] = v is nonzero + index_put.
    1. `mask_scan(block_offsets, mask)`: per-block counts, then an exclusive scan over blocks.
       block_offsets is int64 scratch of `compact_scratch_numel(mask.numel())` elements; afterwards
       block_offsets[-1] holds the number of True elements: the host reads it and allocates.
    2. `masked_select` / `nonzero` / `masked_scatter` / `masked_select_backward` recount each block
       locally and write element e of block b at block_offsets[b] + (its rank within the block).
Both steps need the mask (with x) to collapse to at most 4 dims, which every contiguous array does;
the wrappers raise ValueError otherwise (pass contiguous copies then).
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from tritensor import dtypes

from . import elementwise
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .strided import MAX_DIMS, cast_to, collapse, compute_type, launch_slices, strided_offsets

BLOCK = 1024
NUM_WARPS = 4
SCAN_BLOCK = 1024  # block counts scanned per step by the single-program scan
MAX_INDICES = 4  # index tensors one gather/scatter launch reads


# ================================================================ shared helpers
@triton.jit
def from_bits(bits, dtype: tl.constexpr):
    """The scalar of `dtype` whose bit pattern the host packed into the integer `bits` (exact for fp64)."""
    b = bits.to(tl.int64)
    if dtype == tl.int1:
        return b != 0
    else:
        if dtype == tl.float64:
            return b.to(tl.float64, bitcast=True)
        else:
            if dtype == tl.float32:
                return b.to(tl.int32).to(tl.float32, bitcast=True)
            else:
                if dtype.is_fp16() or dtype.is_bf16():
                    return b.to(tl.int16).to(dtype, bitcast=True)
                else:
                    return b.to(dtype)


def scalar_bits(value, dtype) -> int:
    """Pack a Python scalar, converted to `dtype` (a tritensor dtype), as the integer `from_bits` reads.

    Triton passes Python floats as fp32; packing the bits keeps fp64 (and int64) scalars exact.
    """
    a = np.array(value).astype(dtype.np)
    if a.dtype == np.bool_:
        return int(a)
    return int(a.view(f"int{8 * a.itemsize}"))


@triton.jit
def _wrap_index(i, n, WRAP: tl.constexpr):
    """Negative indices count from the end for the ops that allow them (take, x[idx], index_put)."""
    if WRAP:
        return tl.where(i < 0, i + n, i)
    else:
        return i


@triton.jit
def _indexed_offset(off, ok, idx_ptr, idx, size1, size2, size3, s0, s1, s2, s3, dim_stride, dim_size,
                    mask, WRAP: tl.constexpr):
    """Add index tensor k's contribution to the element offsets; clear `ok` where it is out of range."""
    j = tl.load(idx_ptr + strided_offsets(idx, size1, size2, size3, s0, s1, s2, s3), mask=mask, other=0)
    j = _wrap_index(j.to(tl.int64), dim_size, WRAP)
    ok = ok & (j >= 0) & (j < dim_size)
    return off + j * dim_stride, ok


def _same_array(a: DeviceArray, b: DeviceArray) -> bool:
    return (a.storage is b.storage and a.offset == b.offset and a.shape == b.shape
            and a.strides == b.strides)


def _normalize_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


def _atleast_1d(a: DeviceArray) -> DeviceArray:
    """PyTorch treats a 0-d tensor as one element along dim 0 / -1 for the dim-wise ops."""
    return a.view_as((1,), (0,)) if a.ndim == 0 else a


def _broadcast_strides(a: DeviceArray, shape: tuple) -> tuple:
    """Strides of `a` broadcast (right-aligned, stride 0 on size-1 or missing dims) to `shape`."""
    lead = len(shape) - a.ndim
    if lead < 0 or any(n not in (1, s) for n, s in zip(a.shape, shape[lead:])):
        raise ValueError(f"shape {a.shape} does not broadcast to {shape}")
    return (0,) * lead + tuple(0 if n == 1 else st for n, st in zip(a.shape, a.strides))


def _broadcast_to(a: DeviceArray, shape: tuple) -> DeviceArray:
    return a.view_as(tuple(shape), _broadcast_strides(a, tuple(shape)))


_ATOMIC_DTYPES = ("float16", "float32", "float64", "int32", "int64")


def accumulate_dtype(dtype):
    """None when `dtype` has atomic adds; else the dtype of the `acc` scratch accumulate wrappers need.

    bfloat16 accumulates in float32; int8/uint8/int16/bool in int32 (wrapping like sequential adds;
    bool ends as logical or).
    """
    if dtype.name in _ATOMIC_DTYPES:
        return None
    return dtypes.float32 if dtype.is_floating_point else dtypes.int32


def begin_accumulate(target: DeviceArray, acc: DeviceArray | None, zero: bool) -> DeviceArray:
    """The array atomics go to: target itself, or `acc` loaded with target (or zeros)."""
    if acc is None:
        if target.dtype.name not in _ATOMIC_DTYPES:
            raise TypeError(f"accumulating into {target.dtype} needs acc: a scratch array of the target's "
                            f"shape and dtype {accumulate_dtype(target.dtype)}")
        if zero:
            elementwise.fill(target, 0)
        return target
    if acc.shape != target.shape or acc.dtype.name not in _ATOMIC_DTYPES:
        raise ValueError(f"acc must have the target's shape {target.shape} and an atomic dtype, got {acc}")
    if zero:
        elementwise.fill(acc, 0)
    else:
        elementwise.copy(acc, target)
    return acc


def end_accumulate(target: DeviceArray, dst: DeviceArray) -> None:
    if dst is not target:
        elementwise.copy(target, dst)


# ================================================================ gather-style kernel
@triton.jit
def index_gather_kernel(
    out_ptr,  # output, launch shape S
    x_ptr,  # source; its element for e is at xbase(e) + sum_k idx_k(e) * dim_stride_k
    idx0_ptr, idx1_ptr, idx2_ptr, idx3_ptr,  # index tensors (the unused ones alias idx0)
    numel,  # elements in this launch
    size1, size2, size3,  # launch shape (size0 implied by numel)
    os0, os1, os2, os3,  # out strides
    xs0, xs1, xs2, xs3,  # x base strides over S (0 along the dims the indices choose)
    a0s0, a0s1, a0s2, a0s3,  # index 0 strides over S (0 where it is broadcast)
    a1s0, a1s1, a1s2, a1s3,  # index 1 strides over S
    a2s0, a2s1, a2s2, a2s3,  # index 2 strides over S
    a3s0, a3s1, a3s2, a3s3,  # index 3 strides over S
    dst0, dst1, dst2, dst3,  # x stride of the dim index k selects along
    dsz0, dsz1, dsz2, dsz3,  # x size of that dim (the valid index range)
    NUM_IDX: tl.constexpr,  # index tensors read: 1 to 4
    WRAP: tl.constexpr,  # negative indices count from the end
    BLOCK: tl.constexpr,  # elements per program
):
    idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < numel
    off = strided_offsets(idx, size1, size2, size3, xs0, xs1, xs2, xs3).to(tl.int64)
    off, ok = _indexed_offset(off, mask, idx0_ptr, idx, size1, size2, size3, a0s0, a0s1, a0s2, a0s3,
                              dst0, dsz0, mask, WRAP)
    if NUM_IDX >= 2:
        off, ok = _indexed_offset(off, ok, idx1_ptr, idx, size1, size2, size3, a1s0, a1s1, a1s2, a1s3,
                                  dst1, dsz1, mask, WRAP)
    if NUM_IDX >= 3:
        off, ok = _indexed_offset(off, ok, idx2_ptr, idx, size1, size2, size3, a2s0, a2s1, a2s2, a2s3,
                                  dst2, dsz2, mask, WRAP)
    if NUM_IDX >= 4:
        off, ok = _indexed_offset(off, ok, idx3_ptr, idx, size1, size2, size3, a3s0, a3s1, a3s2, a3s3,
                                  dst3, dsz3, mask, WRAP)
    value = tl.load(x_ptr + off, mask=ok, other=0)  # out-of-range indices read 0, never memory
    tl.store(out_ptr + strided_offsets(idx, size1, size2, size3, os0, os1, os2, os3),
             cast_to(value, out_ptr.dtype.element_ty), mask=mask)


@triton.jit(do_not_specialize=["value_bits", "alpha_bits"])
def index_scatter_kernel(
    dst_ptr,  # target; element e goes to dbase(e) + sum_k idx_k(e) * dim_stride_k
    src_ptr,  # values, launch shape S (ignored when SCALAR_SRC)
    idx0_ptr, idx1_ptr, idx2_ptr, idx3_ptr,  # index tensors (the unused ones alias idx0)
    numel,  # elements in this launch
    size1, size2, size3,  # launch shape (size0 implied by numel)
    ds0, ds1, ds2, ds3,  # dst base strides over S (0 along the dims the indices choose)
    ss0, ss1, ss2, ss3,  # src strides over S
    a0s0, a0s1, a0s2, a0s3,  # index 0 strides over S
    a1s0, a1s1, a1s2, a1s3,  # index 1 strides over S
    a2s0, a2s1, a2s2, a2s3,  # index 2 strides over S
    a3s0, a3s1, a3s2, a3s3,  # index 3 strides over S
    dst0, dst1, dst2, dst3,  # dst stride of the dim index k selects along
    dsz0, dsz1, dsz2, dsz3,  # dst size of that dim (the valid index range)
    value_bits,  # the scalar source, packed by scalar_bits (SCALAR_SRC)
    alpha_bits,  # the source scale, packed by scalar_bits (HAS_ALPHA)
    NUM_IDX: tl.constexpr,  # index tensors read: 1 to 4
    WRAP: tl.constexpr,  # negative indices count from the end
    SCALAR_SRC: tl.constexpr,  # every element stores value_bits instead of reading src
    HAS_ALPHA: tl.constexpr,  # scale the source by alpha (index_add)
    ACCUMULATE: tl.constexpr,  # atomic add instead of store (duplicate indices then sum)
    BLOCK: tl.constexpr,  # elements per program
):
    idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < numel
    off = strided_offsets(idx, size1, size2, size3, ds0, ds1, ds2, ds3).to(tl.int64)
    off, ok = _indexed_offset(off, mask, idx0_ptr, idx, size1, size2, size3, a0s0, a0s1, a0s2, a0s3,
                              dst0, dsz0, mask, WRAP)
    if NUM_IDX >= 2:
        off, ok = _indexed_offset(off, ok, idx1_ptr, idx, size1, size2, size3, a1s0, a1s1, a1s2, a1s3,
                                  dst1, dsz1, mask, WRAP)
    if NUM_IDX >= 3:
        off, ok = _indexed_offset(off, ok, idx2_ptr, idx, size1, size2, size3, a2s0, a2s1, a2s2, a2s3,
                                  dst2, dsz2, mask, WRAP)
    if NUM_IDX >= 4:
        off, ok = _indexed_offset(off, ok, idx3_ptr, idx, size1, size2, size3, a3s0, a3s1, a3s2, a3s3,
                                  dst3, dsz3, mask, WRAP)
    dtype = dst_ptr.dtype.element_ty
    if SCALAR_SRC:
        value = tl.zeros((BLOCK,), dtype) + from_bits(value_bits, dtype)
    else:
        value = tl.load(src_ptr + strided_offsets(idx, size1, size2, size3, ss0, ss1, ss2, ss3), mask=mask)
        if HAS_ALPHA:
            value = compute_type(value) * compute_type(from_bits(alpha_bits, dtype))
        value = cast_to(value, dtype)
    if ACCUMULATE:
        tl.atomic_add(dst_ptr + off, value, mask=ok, sem="relaxed")
    else:
        tl.store(dst_ptr + off, value, mask=ok)  # duplicates: one of the writers wins, as in PyTorch


@triton.jit(do_not_specialize=["value_bits"])
def scatter_multiply_kernel(
    dst_ptr,  # target; line l, step j goes to dbase(l) + idx(l, j) * dim_stride
    src_ptr,  # values over the lines (ignored when SCALAR_SRC)
    idx_ptr,  # index over the lines
    numel,  # lines in this launch (the index shape without `dim`)
    size1, size2, size3,  # line shape (size0 implied by numel)
    ds0, ds1, ds2, ds3,  # dst strides over the lines
    ss0, ss1, ss2, ss3,  # src strides over the lines
    is0, is1, is2, is3,  # index strides over the lines
    J,  # steps along dim (index.shape[dim])
    src_jstride, idx_jstride,  # src / index strides along dim
    dim_stride, dim_size,  # dst stride and size along dim
    value_bits,  # the scalar source, packed by scalar_bits (SCALAR_SRC)
    SCALAR_SRC: tl.constexpr,  # multiply by value_bits instead of reading src
    BLOCK: tl.constexpr,  # lines per program
):
    # Different lines never share a target, and one lane walks its line in order, so repeated
    # indices multiply in sequence without atomics (there is no atomic multiply).
    line = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = line < numel
    dbase = strided_offsets(line, size1, size2, size3, ds0, ds1, ds2, ds3).to(tl.int64)
    sbase = strided_offsets(line, size1, size2, size3, ss0, ss1, ss2, ss3).to(tl.int64)
    ibase = strided_offsets(line, size1, size2, size3, is0, is1, is2, is3).to(tl.int64)
    dtype = dst_ptr.dtype.element_ty
    for j in range(0, J):
        k = tl.load(idx_ptr + ibase + j * idx_jstride, mask=mask, other=0).to(tl.int64)
        ok = mask & (k >= 0) & (k < dim_size)
        if SCALAR_SRC:
            value = compute_type(tl.zeros((BLOCK,), dtype) + from_bits(value_bits, dtype))
        else:
            value = compute_type(tl.load(src_ptr + sbase + j * src_jstride, mask=mask))
        target = dst_ptr + dbase + k * dim_stride
        old = compute_type(tl.load(target, mask=ok))
        tl.store(target, cast_to(old * value, dtype), mask=ok)


def _index_args(index_views: list[DeviceArray], strides4: list[tuple], offsets: list[int]):
    """Pointers and strides of the (up to 4) index operands, unused slots aliasing the first."""
    ptrs = [v.view_as(v.shape, s, off) for v, s, off in zip(index_views, strides4, offsets)]
    strides = list(strides4)
    while len(ptrs) < MAX_INDICES:
        ptrs.append(ptrs[0])
        strides.append((0, 0, 0, 0))
    return ptrs, [s for st in strides for s in st]


def _pad4(values: list[int]) -> list[int]:
    return list(values) + [0] * (MAX_INDICES - len(values))


def _launch_gather(out: DeviceArray, x_base: DeviceArray, index_views: list[DeviceArray],
                   dim_strides: list[int], dim_sizes: list[int], wrap: bool) -> None:
    """out[e] = x[x_base(e) + sum_k index_k(e) * dim_strides[k]]; every view has out's shape."""
    if out.numel() == 0:
        return
    if not 1 <= len(index_views) <= MAX_INDICES:
        raise NotImplementedError(f"at most {MAX_INDICES} index tensors per indexing op")
    arrays = [out, x_base] + list(index_views)
    for shape4, strides4, offsets in launch_slices(out.shape, arrays):
        o, x = (a.view_as(shape4, s, off) for a, s, off in zip(arrays[:2], strides4[:2], offsets[:2]))
        ptrs, idx_strides = _index_args(index_views, strides4[2:], offsets[2:])
        numel = shape4[0] * shape4[1] * shape4[2] * shape4[3]
        index_gather_kernel[(triton.cdiv(numel, BLOCK),)](
            o, x, *ptrs, numel, shape4[1], shape4[2], shape4[3], *o.strides, *x.strides, *idx_strides,
            *_pad4(dim_strides), *_pad4(dim_sizes),
            NUM_IDX=len(index_views), WRAP=wrap, BLOCK=BLOCK, num_warps=NUM_WARPS,
        )


def _launch_scatter(dst_base: DeviceArray, src, index_views: list[DeviceArray], dim_strides: list[int],
                    dim_sizes: list[int], wrap: bool, accumulate: bool, alpha=1) -> None:
    """dst[dst_base(e) + sum_k index_k(e) * dim_strides[k]] (+)= alpha * src(e) over src's launch shape.

    dst_base is a view of the target with the launch shape; `src` a view of that shape or a scalar.
    """
    shape = dst_base.shape
    if int(np.prod(shape)) == 0:
        return
    if not 1 <= len(index_views) <= MAX_INDICES:
        raise NotImplementedError(f"at most {MAX_INDICES} index tensors per indexing op")
    scalar = not isinstance(src, DeviceArray)
    value_bits = scalar_bits(src, dst_base.dtype) if scalar else 0
    has_alpha = alpha != 1
    alpha_bits = scalar_bits(alpha, dst_base.dtype) if has_alpha else 0
    src_view = dst_base if scalar else src
    arrays = [dst_base, src_view] + list(index_views)
    for shape4, strides4, offsets in launch_slices(shape, arrays):
        d, s = (a.view_as(shape4, st, off) for a, st, off in zip(arrays[:2], strides4[:2], offsets[:2]))
        ptrs, idx_strides = _index_args(index_views, strides4[2:], offsets[2:])
        numel = shape4[0] * shape4[1] * shape4[2] * shape4[3]
        index_scatter_kernel[(triton.cdiv(numel, BLOCK),)](
            d, s, *ptrs, numel, shape4[1], shape4[2], shape4[3], *d.strides, *s.strides, *idx_strides,
            *_pad4(dim_strides), *_pad4(dim_sizes), value_bits, alpha_bits,
            NUM_IDX=len(index_views), WRAP=wrap, SCALAR_SRC=scalar, HAS_ALPHA=has_alpha,
            ACCUMULATE=accumulate, BLOCK=BLOCK, num_warps=NUM_WARPS,
        )


def _without(seq: tuple, d: int) -> tuple:
    return tuple(v for i, v in enumerate(seq) if i != d)


def _launch_scatter_multiply(dst: DeviceArray, index: DeviceArray, src, dim: int) -> None:
    """dst[..., index[l, j], ...] *= src[l, j], each line l serially over j."""
    _dim_base(dst, index, dim)  # validates the shapes
    if index.numel() == 0:
        return
    lines = _without(index.shape, dim)
    scalar = not isinstance(src, DeviceArray)
    src_view = index if scalar else src
    arrays = [a.view_as(lines, _without(a.strides, dim)) for a in (dst, src_view, index)]
    value_bits = scalar_bits(src, dst.dtype) if scalar else 0
    src_jstride = 0 if scalar else src.strides[dim]
    for shape4, strides4, offsets in launch_slices(lines, arrays):
        d, s, i = (a.view_as(shape4, st, off) for a, st, off in zip(arrays, strides4, offsets))
        numel = shape4[0] * shape4[1] * shape4[2] * shape4[3]
        scatter_multiply_kernel[(triton.cdiv(numel, BLOCK),)](
            d, s, i, numel, shape4[1], shape4[2], shape4[3], *d.strides, *s.strides, *i.strides,
            index.shape[dim], src_jstride, index.strides[dim], dst.strides[dim], dst.shape[dim], value_bits,
            SCALAR_SRC=scalar, BLOCK=BLOCK, num_warps=NUM_WARPS,
        )


# ================================================================ gather / scatter along a dim
def _dim_base(target: DeviceArray, index: DeviceArray, dim: int) -> DeviceArray:
    """A view of `target` over index's shape that does not move along `dim` (the index chooses there)."""
    if index.ndim != target.ndim or any(i > t for d, (i, t) in enumerate(zip(index.shape, target.shape))
                                        if d != dim):
        raise ValueError(f"index {index.shape} must not be larger than {target.shape} off dim {dim}")
    strides = list(target.strides)
    strides[dim] = 0
    return target.view_as(index.shape, tuple(strides))


def _window(src: DeviceArray, index: DeviceArray) -> DeviceArray:
    """The index-shaped window of src (PyTorch lets src be larger than index)."""
    src = _atleast_1d(src)
    if src.ndim != index.ndim or any(s < i for s, i in zip(src.shape, index.shape)):
        raise ValueError(f"src {src.shape} must be at least as large as index {index.shape}")
    return src.view_as(index.shape, src.strides)


def gather(out: DeviceArray, x: DeviceArray, index: DeviceArray, dim: int) -> None:
    """out[..., j, ...] = x[..., index[..., j, ...], ...] along `dim` (torch.gather).

    out and index share a shape; index.size(d) <= x.size(d) for d != dim. Any dtype; out has x's.
    """
    x, index, out = _atleast_1d(x), _atleast_1d(index), _atleast_1d(out)
    dim = _normalize_dim(dim, x.ndim)
    _launch_gather(out, _dim_base(x, index, dim), [index], [x.strides[dim]], [x.shape[dim]], wrap=False)


def gather_backward(grad_x: DeviceArray, grad: DeviceArray, index: DeviceArray, dim: int,
                    acc: DeviceArray | None = None) -> None:
    """grad_x (x's shape, overwritten) = zeros, then scatter_add of grad at index along dim."""
    _scatter_add_into(grad_x, index, grad, dim, acc, zero=True)


def _scatter_add_into(target: DeviceArray, index: DeviceArray, src, dim: int, acc, zero: bool) -> None:
    target, index = _atleast_1d(target), _atleast_1d(index)
    acc = None if acc is None else _atleast_1d(acc)
    if isinstance(src, DeviceArray):
        src = _window(src, index)
    dim = _normalize_dim(dim, target.ndim)
    dst = begin_accumulate(target, acc, zero)
    _launch_scatter(_dim_base(dst, index, dim), src, [index], [dst.strides[dim]], [dst.shape[dim]],
                    wrap=False, accumulate=True)
    end_accumulate(target, dst)


def scatter(out: DeviceArray, x: DeviceArray, index: DeviceArray, src, dim: int, reduce: str | None = None,
            acc: DeviceArray | None = None) -> None:
    """out = x.scatter(dim, index, src, reduce=reduce) (pass out=x for scatter_).

    out[..., index[..., j, ...], ...] = src[..., j, ...] for every position of index; src is a
    DeviceArray at least index's size (its index-shaped window is read) or a Python scalar.
    reduce: None (duplicate indices: one writer wins), "add" (atomic; see accumulate_dtype/acc)
    or "multiply" (serial along dim, any dtype).
    """
    if not _same_array(out, x):
        elementwise.copy(out, x)
    if reduce == "add":
        _scatter_add_into(out, index, src, dim, acc, zero=False)
        return
    out, index = _atleast_1d(out), _atleast_1d(index)
    dim = _normalize_dim(dim, out.ndim)
    if isinstance(src, DeviceArray):
        src = _window(src, index)
    if reduce == "multiply":
        _launch_scatter_multiply(out, index, src, dim)
    elif reduce is None:
        _launch_scatter(_dim_base(out, index, dim), src, [index], [out.strides[dim]], [out.shape[dim]],
                        wrap=False, accumulate=False)
    else:
        raise ValueError(f"reduce argument must be either add or multiply, got {reduce}")


def scatter_backward(grad_x: DeviceArray | None, grad_src: DeviceArray | None, grad: DeviceArray,
                     index: DeviceArray, dim: int) -> None:
    """Backward of scatter (reduce=None): grad_x = grad with the scattered positions zeroed,
    grad_src (index's shape) = grad.gather(dim, index). Pass None for a gradient not needed."""
    if grad_x is not None:
        scatter(grad_x, grad, index, 0, dim)
    if grad_src is not None:
        gather(grad_src, grad, index, dim)


def scatter_add(out: DeviceArray, x: DeviceArray, index: DeviceArray, src, dim: int,
                acc: DeviceArray | None = None) -> None:
    """out = x.scatter_add(dim, index, src): duplicate indices sum (pass out=x for scatter_add_)."""
    scatter(out, x, index, src, dim, reduce="add", acc=acc)


def scatter_add_backward(grad_x: DeviceArray | None, grad_src: DeviceArray | None, grad: DeviceArray,
                         index: DeviceArray, dim: int) -> None:
    """grad_x = grad; grad_src (index's shape) = grad.gather(dim, index)."""
    if grad_x is not None:
        elementwise.copy(grad_x, grad)
    if grad_src is not None:
        gather(grad_src, grad, index, dim)


# ================================================================ index_select / index_add
def _along_dim(index: DeviceArray, shape: tuple, dim: int) -> DeviceArray:
    """A 1-d index viewed over `shape`, moving only along `dim`."""
    index = _atleast_1d(index)
    if index.ndim != 1 or index.shape[0] != shape[dim]:
        raise ValueError(f"index {index.shape} must be 1-d with {shape[dim]} elements")
    strides = [0] * len(shape)
    strides[dim] = index.strides[0]
    return index.view_as(tuple(shape), tuple(strides))


def index_select(out: DeviceArray, x: DeviceArray, index: DeviceArray, dim: int) -> None:
    """out = x.index_select(dim, index): index is 1-d (or 0-d); out is x's shape with dim -> len(index)."""
    x, out = _atleast_1d(x), _atleast_1d(out)
    dim = _normalize_dim(dim, x.ndim)
    _launch_gather(out, _dim_base(x, out, dim), [_along_dim(index, out.shape, dim)], [x.strides[dim]],
                   [x.shape[dim]], wrap=False)


def index_select_backward(grad_x: DeviceArray, grad: DeviceArray, index: DeviceArray, dim: int,
                          acc: DeviceArray | None = None) -> None:
    """grad_x (x's shape, overwritten) = zeros.index_add(dim, index, grad)."""
    _index_add_into(grad_x, index, grad, dim, 1, acc, zero=True)


def _index_add_into(target: DeviceArray, index: DeviceArray, source, dim: int, alpha, acc,
                    zero: bool) -> None:
    target, source = _atleast_1d(target), _atleast_1d(source)
    acc = None if acc is None else _atleast_1d(acc)
    dim = _normalize_dim(dim, target.ndim)
    dst = begin_accumulate(target, acc, zero)
    _launch_scatter(_dim_base(dst, source, dim), source, [_along_dim(index, source.shape, dim)],
                    [dst.strides[dim]], [dst.shape[dim]], wrap=False, accumulate=True, alpha=alpha)
    end_accumulate(target, dst)


def index_add(out: DeviceArray, x: DeviceArray, index: DeviceArray, source: DeviceArray, dim: int,
              alpha=1, acc: DeviceArray | None = None) -> None:
    """out = x.index_add(dim, index, source, alpha): out[..., index[j], ...] += alpha * source[..., j, ...].

    Pass out=x for index_add_. Duplicate indices sum (atomics; see accumulate_dtype/acc).
    """
    if not _same_array(out, x):
        elementwise.copy(out, x)
    _index_add_into(out, index, source, dim, alpha, acc, zero=False)


def index_add_backward(grad_x: DeviceArray | None, grad_source: DeviceArray | None, grad: DeviceArray,
                       index: DeviceArray, dim: int, alpha=1) -> None:
    """grad_x = grad; grad_source = alpha * grad.index_select(dim, index)."""
    if grad_x is not None:
        elementwise.copy(grad_x, grad)
    if grad_source is not None:
        index_select(grad_source, grad, index, dim)
        if alpha != 1:
            elementwise.scale(grad_source, grad_source, alpha)


# ================================================================ take
def _flat_view(a: DeviceArray, what: str) -> DeviceArray:
    """`a` as a 1-d view in row-major order (needs a layout that collapses to one dim)."""
    shape, (strides,) = collapse(a.shape, [a.strides])
    if len(shape) > 1:
        raise ValueError(f"{what} must collapse to one dim (make it contiguous first)")
    return a.view_as((a.numel(),), strides if shape else (1,))


def take(out: DeviceArray, x: DeviceArray, index: DeviceArray) -> None:
    """out = x.take(index): x read as flattened (row-major); negative indices wrap. out has index's shape.

    x must collapse to one dim (any contiguous array does); otherwise pass a contiguous copy.
    """
    flat = _flat_view(x, "take's input")
    _launch_gather(out, flat.view_as(index.shape, (0,) * index.ndim), [index], [flat.strides[0]],
                   [flat.shape[0]], wrap=True)


def take_backward(grad_x: DeviceArray, grad: DeviceArray, index: DeviceArray,
                  acc: DeviceArray | None = None) -> None:
    """grad_x (x's shape, overwritten, must collapse to one dim) = zeros with grad added at index."""
    dst = begin_accumulate(grad_x, acc, zero=True)
    flat = _flat_view(dst, "take's grad_x")
    _launch_scatter(flat.view_as(index.shape, (0,) * index.ndim), grad, [index], [flat.strides[0]],
                    [flat.shape[0]], wrap=True, accumulate=True)
    end_accumulate(grad_x, dst)


# ================================================================ advanced indexing: x[i0, i1], x[i0, i1] = v
def _index_layout(x_shape: tuple, index_shapes: list) -> tuple:
    """(result shape, dims indexed, broadcast index shape, result positions of x's other dims).

    PyTorch/NumPy rule: when the indexed dims are adjacent, the broadcast index dims replace them
    in place; otherwise they go first.
    """
    if len(index_shapes) > len(x_shape):
        raise IndexError(f"too many indices for tensor of dimension {len(x_shape)}")
    index_shapes = list(index_shapes) + [None] * (len(x_shape) - len(index_shapes))
    dims = [d for d, s in enumerate(index_shapes) if s is not None]
    if not dims:
        raise ValueError("advanced indexing needs at least one index tensor")
    b_shape = tuple(np.broadcast_shapes(*(tuple(index_shapes[d]) for d in dims)))
    rest = [d for d in range(len(x_shape)) if index_shapes[d] is None]
    if dims == list(range(dims[0], dims[-1] + 1)):
        before = [d for d in rest if d < dims[0]]
        after = [d for d in rest if d > dims[-1]]
    else:
        before, after = [], rest
    shape = tuple(x_shape[d] for d in before) + b_shape + tuple(x_shape[d] for d in after)
    return shape, dims, b_shape, before, after


def index_result_shape(x_shape: tuple, index_shapes: list) -> tuple:
    """Shape of x[indices]: index_shapes[d] is the shape of the index tensor for dim d, or None."""
    return _index_layout(tuple(x_shape), index_shapes)[0]


def _index_views(target: DeviceArray, indices: list):
    """(target base view, index views, dim strides, dim sizes), all over the indexing result's shape."""
    shape, dims, b_shape, before, after = _index_layout(target.shape, [None if t is None else t.shape
                                                                      for t in indices])
    if len(dims) > MAX_INDICES:
        raise NotImplementedError(f"at most {MAX_INDICES} index tensors per indexing op")
    if any(indices[d].dtype.is_floating_point or indices[d].dtype.name in ("bool", "uint8") for d in dims):
        raise TypeError("index arrays must be integers (turn boolean masks into indices with nonzero first)")
    base = target.view_as(shape, tuple(target.strides[d] for d in before) + (0,) * len(b_shape)
                          + tuple(target.strides[d] for d in after))
    views = []
    for d in dims:
        t = indices[d]
        strides = (0,) * len(before) + _broadcast_strides(t, b_shape) + (0,) * len(after)
        views.append(t.view_as(shape, strides))
    return base, views, [target.strides[d] for d in dims], [target.shape[d] for d in dims]


def index(out: DeviceArray, x: DeviceArray, indices: list) -> None:
    """out = x[indices] (aten::index): indices[d] is an integer index array for dim d or None (a full
    slice); the index arrays broadcast together; negative indices wrap. out's shape is
    index_result_shape(x.shape, [t.shape or None, ...]). At most 4 index arrays.
    """
    base, views, dim_strides, dim_sizes = _index_views(x, indices)
    if base.shape != out.shape:
        raise ValueError(f"out has shape {out.shape}, x[indices] has {base.shape}")
    _launch_gather(out, base, views, dim_strides, dim_sizes, wrap=True)


def index_backward(grad_x: DeviceArray, grad: DeviceArray, indices: list,
                   acc: DeviceArray | None = None) -> None:
    """grad_x (x's shape, overwritten) = zeros.index_put(indices, grad, accumulate=True)."""
    dst = begin_accumulate(grad_x, acc, zero=True)
    base, views, dim_strides, dim_sizes = _index_views(dst, indices)
    _launch_scatter(base, grad, views, dim_strides, dim_sizes, wrap=True, accumulate=True)
    end_accumulate(grad_x, dst)


def index_put(out: DeviceArray, x: DeviceArray, indices: list, values, accumulate: bool = False,
              acc: DeviceArray | None = None) -> None:
    """out = x.index_put(indices, values, accumulate) (pass out=x for index_put_ / x[indices] = values).

    values: a DeviceArray broadcastable to x[indices]'s shape, or a Python scalar. Without accumulate
    a repeated index keeps one of its values; with it they sum (atomics; see accumulate_dtype/acc).
    """
    if not _same_array(out, x):
        elementwise.copy(out, x)
    dst = begin_accumulate(out, acc, zero=False) if accumulate else out
    base, views, dim_strides, dim_sizes = _index_views(dst, indices)
    if isinstance(values, DeviceArray):
        values = _broadcast_to(values, base.shape)
    _launch_scatter(base, values, views, dim_strides, dim_sizes, wrap=True, accumulate=accumulate)
    if accumulate:
        end_accumulate(out, dst)


def index_put_backward(grad_x: DeviceArray | None, grad_values: DeviceArray | None, grad: DeviceArray,
                       indices: list, accumulate: bool = False) -> None:
    """grad_x = grad, with the indexed positions zeroed unless accumulate; grad_values = grad[indices]
    (x[indices]'s shape: the Tensor layer sums it to values' shape)."""
    if grad_x is not None:
        if accumulate:
            elementwise.copy(grad_x, grad)
        else:
            index_put(grad_x, grad, indices, 0)
    if grad_values is not None:
        index(grad_values, grad, indices)


# ================================================================ one_hot
def one_hot(out: DeviceArray, index: DeviceArray, num_classes: int | None = None) -> None:
    """out = F.one_hot(index, num_classes): out has index's shape + (num_classes,), int64 (num_classes=-1
    in PyTorch means index.max() + 1: the Tensor layer resolves it and allocates).

    Indices outside [0, num_classes) leave their row zero (PyTorch raises; the Tensor layer checks).
    """
    classes = out.shape[-1] if out.ndim else 0
    if out.shape != index.shape + (classes,) or num_classes not in (None, classes):
        raise ValueError(f"out {out.shape} must be index's shape {index.shape} + (num_classes,)")
    elementwise.fill(out, 0)
    column = index.view_as(index.shape + (1,), index.strides + (0,))
    _launch_scatter(_dim_base(out, column, out.ndim - 1), 1, [column], [out.strides[-1]], [out.shape[-1]],
                    wrap=False, accumulate=False)


# ================================================================ masked_fill
@triton.jit(do_not_specialize=["value_bits"])
def masked_fill_kernel(
    out_ptr,  # output
    x_ptr,  # input
    mask_ptr,  # condition (any dtype: nonzero means fill)
    value_ptr,  # fill values (VALUE_TENSOR) else unused
    numel,  # elements in this launch
    size1, size2, size3,  # launch shape (size0 implied by numel)
    os0, os1, os2, os3,  # out strides
    xs0, xs1, xs2, xs3,  # x strides
    ms0, ms1, ms2, ms3,  # mask strides
    vs0, vs1, vs2, vs3,  # value strides (a 0-d value tensor broadcasts with zeros)
    value_bits,  # the scalar fill value, packed by scalar_bits
    VALUE_TENSOR: tl.constexpr,  # read the fill value from value_ptr
    INVERT: tl.constexpr,  # fill where the mask is zero (the value's gradient)
    BLOCK: tl.constexpr,  # elements per program
):
    idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < numel
    dtype = out_ptr.dtype.element_ty
    fill = tl.load(mask_ptr + strided_offsets(idx, size1, size2, size3, ms0, ms1, ms2, ms3), mask=mask,
                   other=0) != 0
    if INVERT:
        fill = fill == 0
    x = tl.load(x_ptr + strided_offsets(idx, size1, size2, size3, xs0, xs1, xs2, xs3), mask=mask)
    x = cast_to(x, dtype)
    if VALUE_TENSOR:
        value = cast_to(tl.load(value_ptr + strided_offsets(idx, size1, size2, size3, vs0, vs1, vs2, vs3),
                                mask=mask), dtype)
    else:
        value = tl.zeros((BLOCK,), dtype) + from_bits(value_bits, dtype)
    tl.store(out_ptr + strided_offsets(idx, size1, size2, size3, os0, os1, os2, os3),
             tl.where(fill, value, x), mask=mask)


def _masked_fill(out: DeviceArray, x: DeviceArray, mask: DeviceArray, value, invert: bool) -> None:
    if out.numel() == 0:
        return
    tensor_value = isinstance(value, DeviceArray)
    arrays = [out, _broadcast_to(x, out.shape), _broadcast_to(mask, out.shape)]
    arrays.append(_broadcast_to(value, out.shape) if tensor_value else arrays[1])
    bits = 0 if tensor_value else scalar_bits(value, out.dtype)
    for shape4, strides4, offsets in launch_slices(out.shape, arrays):
        o, xv, m, v = (a.view_as(shape4, s, off) for a, s, off in zip(arrays, strides4, offsets))
        numel = shape4[0] * shape4[1] * shape4[2] * shape4[3]
        masked_fill_kernel[(triton.cdiv(numel, BLOCK),)](
            o, xv, m, v, numel, shape4[1], shape4[2], shape4[3], *o.strides, *xv.strides, *m.strides,
            *v.strides,
            bits, VALUE_TENSOR=tensor_value, INVERT=invert, BLOCK=BLOCK, num_warps=NUM_WARPS,
        )


def masked_fill(out: DeviceArray, x: DeviceArray, mask: DeviceArray, value) -> None:
    """out = x.masked_fill(mask, value): value is a Python scalar (converted to out's dtype) or a
    DeviceArray (0-d in PyTorch) broadcastable to out; x and mask broadcast to out's shape. Any dtype."""
    _masked_fill(out, x, mask, value, invert=False)


def masked_fill_backward(grad_x: DeviceArray | None, grad_value: DeviceArray | None, grad: DeviceArray,
                         mask: DeviceArray) -> None:
    """grad_x = grad with zeros where mask; grad_value (out's shape; the Tensor layer sums it to the
    value's shape) = grad where mask, else 0."""
    if grad_x is not None:
        _masked_fill(grad_x, grad, mask, 0, invert=False)
    if grad_value is not None:
        _masked_fill(grad_value, grad, mask, 0, invert=True)


# ================================================================ boolean masks: count, scan, compact
@triton.jit
def mask_count_kernel(
    offsets_ptr,  # (n_blocks + 1,) int64: block b's count goes to offsets[b + 1]
    mask_ptr,  # condition (any dtype: nonzero counts)
    numel,  # mask elements
    size1, size2, size3,  # mask shape, collapsed to 4 dims (size0 implied)
    ms0, ms1, ms2, ms3,  # mask strides
    BLOCK: tl.constexpr,  # elements per program (must equal the compaction kernels')
):
    pid = tl.program_id(0)
    idx = pid * BLOCK + tl.arange(0, BLOCK)
    m = tl.load(mask_ptr + strided_offsets(idx, size1, size2, size3, ms0, ms1, ms2, ms3), mask=idx < numel,
                other=0) != 0
    tl.store(offsets_ptr + pid + 1, tl.sum(m.to(tl.int64), axis=0))


@triton.jit
def block_scan_kernel(
    offsets_ptr,  # (n_blocks + 1,) int64: counts at [1:] in, exclusive block starts + total out
    n_blocks,  # blocks counted
    BLOCK: tl.constexpr,  # counts scanned per step
):
    # One program: the block count is numel / 1024, so a serial sweep over chunks is cheap and
    # avoids a second level of scan.
    tl.store(offsets_ptr, tl.zeros((), tl.int64))
    carry = tl.zeros((), tl.int64)
    for start in range(0, n_blocks, BLOCK):
        idx = start + tl.arange(0, BLOCK)
        valid = idx < n_blocks
        counts = tl.load(offsets_ptr + 1 + idx, mask=valid, other=0)
        tl.store(offsets_ptr + 1 + idx, tl.cumsum(counts, axis=0) + carry, mask=valid)
        carry += tl.sum(counts, axis=0)


@triton.jit
def mask_compact_kernel(
    out_ptr,  # compacted output (1-d, stride out_stride)
    src_ptr,  # values to compact (VALUES) else unused
    mask_ptr,  # condition (any dtype: nonzero selects)
    offsets_ptr,  # block starts from mask_scan
    numel,  # mask elements
    size1, size2, size3,  # launch shape, collapsed to 4 dims (size0 implied)
    ms0, ms1, ms2, ms3,  # mask strides
    ss0, ss1, ss2, ss3,  # src strides
    out_stride,  # output stride (a column of nonzero's (n, ndim) result is strided)
    inner, dim_size,  # coordinate = (linear index // inner) % dim_size (not VALUES)
    VALUES: tl.constexpr,  # write src's values (masked_select) instead of a coordinate (nonzero)
    BLOCK: tl.constexpr,  # elements per program (must equal mask_count_kernel's)
):
    pid = tl.program_id(0)
    idx = pid * BLOCK + tl.arange(0, BLOCK)
    valid = idx < numel
    m = (tl.load(mask_ptr + strided_offsets(idx, size1, size2, size3, ms0, ms1, ms2, ms3), mask=valid,
                 other=0) != 0) & valid
    pos = tl.load(offsets_ptr + pid) + tl.cumsum(m.to(tl.int32), axis=0).to(tl.int64) - 1
    if VALUES:
        value = tl.load(src_ptr + strided_offsets(idx, size1, size2, size3, ss0, ss1, ss2, ss3), mask=m)
        value = cast_to(value, out_ptr.dtype.element_ty)
    else:
        value = ((idx.to(tl.int64) // inner) % dim_size).to(out_ptr.dtype.element_ty)
    tl.store(out_ptr + pos * out_stride, value, mask=m)


@triton.jit
def mask_expand_kernel(
    out_ptr,  # output: positions where the mask holds receive the next source element
    src_ptr,  # 1-d source read in order (stride src_stride)
    mask_ptr,  # condition (any dtype: nonzero selects)
    offsets_ptr,  # block starts from mask_scan
    numel,  # mask elements
    size1, size2, size3,  # launch shape, collapsed to 4 dims (size0 implied)
    os0, os1, os2, os3,  # out strides
    ms0, ms1, ms2, ms3,  # mask strides
    src_stride,  # source stride
    BLOCK: tl.constexpr,  # elements per program (must equal mask_count_kernel's)
):
    pid = tl.program_id(0)
    idx = pid * BLOCK + tl.arange(0, BLOCK)
    valid = idx < numel
    m = (tl.load(mask_ptr + strided_offsets(idx, size1, size2, size3, ms0, ms1, ms2, ms3), mask=valid,
                 other=0) != 0) & valid
    pos = tl.load(offsets_ptr + pid) + tl.cumsum(m.to(tl.int32), axis=0).to(tl.int64) - 1
    value = tl.load(src_ptr + pos * src_stride, mask=m)
    tl.store(out_ptr + strided_offsets(idx, size1, size2, size3, os0, os1, os2, os3),
             cast_to(value, out_ptr.dtype.element_ty), mask=m)


def compact_scratch_numel(numel: int) -> int:
    """Elements of the int64 block_offsets scratch mask_scan needs for a mask of `numel` elements."""
    return triton.cdiv(numel, BLOCK) + 1


def _single_launch(shape: tuple, arrays: list[DeviceArray]):
    """(shape4, strides4 per array) for the one launch the mask kernels need (block ids are global)."""
    cshape, _ = collapse(shape, [a.strides for a in arrays])
    if len(cshape) > MAX_DIMS:
        raise ValueError(f"boolean-mask ops need operands that collapse to {MAX_DIMS} dims; "
                         "pass contiguous arrays")
    (shape4, strides4, offsets), = launch_slices(shape, arrays)
    return shape4, [a.view_as(shape4, s, off) for a, s, off in zip(arrays, strides4, offsets)]


def mask_scan(block_offsets: DeviceArray, mask: DeviceArray) -> None:
    """Step 1 of the boolean-mask ops: block_offsets (int64, compact_scratch_numel(mask.numel()),
    contiguous) receives each block's start; block_offsets[-1] = number of nonzero mask elements."""
    n_blocks = triton.cdiv(mask.numel(), BLOCK)
    if block_offsets.shape != (n_blocks + 1,) or block_offsets.strides != (1,):
        raise ValueError(f"block_offsets must be contiguous with {n_blocks + 1} elements")
    if n_blocks:
        shape4, (m,) = _single_launch(mask.shape, [mask])
        mask_count_kernel[(n_blocks,)](block_offsets, m, mask.numel(), shape4[1], shape4[2], shape4[3],
                                       *m.strides, BLOCK=BLOCK, num_warps=NUM_WARPS)
    block_scan_kernel[(1,)](block_offsets, n_blocks, BLOCK=SCAN_BLOCK, num_warps=NUM_WARPS)


def masked_select(out: DeviceArray, x: DeviceArray, mask: DeviceArray, block_offsets: DeviceArray) -> None:
    """Step 2: out (1-d, count elements, x's dtype) = x[mask] in row-major order; x and mask share a
    (broadcast) shape; block_offsets comes from mask_scan(block_offsets, mask)."""
    numel = mask.numel()
    if numel == 0 or out.numel() == 0:
        return
    shape4, (m, xv) = _single_launch(mask.shape, [mask, _broadcast_to(x, mask.shape)])
    mask_compact_kernel[(triton.cdiv(numel, BLOCK),)](
        out, xv, m, block_offsets, numel, shape4[1], shape4[2], shape4[3], *m.strides, *xv.strides,
        out.strides[0], 1, 1, VALUES=True, BLOCK=BLOCK, num_warps=NUM_WARPS)


def nonzero(out: DeviceArray, mask: DeviceArray, block_offsets: DeviceArray) -> None:
    """Step 2: out (count, mask.ndim) int64 = coordinates of mask's nonzero elements (torch.nonzero),
    row-major order; one launch per column."""
    numel = mask.numel()
    if numel == 0 or out.numel() == 0:
        return
    shape4, (m,) = _single_launch(mask.shape, [mask])
    inner = 1
    for d in reversed(range(mask.ndim)):
        column = out.view_as((out.shape[0],), (out.strides[0],), out.offset + d * out.strides[1])
        mask_compact_kernel[(triton.cdiv(numel, BLOCK),)](
            column, m, m, block_offsets, numel, shape4[1], shape4[2], shape4[3], *m.strides, *m.strides,
            column.strides[0], inner, mask.shape[d], VALUES=False, BLOCK=BLOCK, num_warps=NUM_WARPS)
        inner *= mask.shape[d]


def _expand(out: DeviceArray, source: DeviceArray, mask: DeviceArray, block_offsets: DeviceArray) -> None:
    numel = out.numel()
    if numel == 0:
        return
    src = _flat_view(source, "the source")
    shape4, (o, m) = _single_launch(out.shape, [out, _broadcast_to(mask, out.shape)])
    mask_expand_kernel[(triton.cdiv(numel, BLOCK),)](
        o, src, m, block_offsets, numel, shape4[1], shape4[2], shape4[3], *o.strides, *m.strides,
        src.strides[0] if src.numel() else 1, BLOCK=BLOCK, num_warps=NUM_WARPS)


def masked_scatter(out: DeviceArray, x: DeviceArray, mask: DeviceArray, source: DeviceArray,
                   block_offsets: DeviceArray) -> None:
    """out = x.masked_scatter(mask, source): where mask holds, the next element of source (read
    row-major; it must collapse to one dim and hold at least count elements). Pass out=x for the
    in-place form; mask is broadcast to out's shape (block_offsets from mask_scan over that view)."""
    if not _same_array(out, x):
        elementwise.copy(out, x)
    _expand(out, source, mask, block_offsets)


def masked_select_backward(grad_x: DeviceArray, grad: DeviceArray, mask: DeviceArray,
                           block_offsets: DeviceArray) -> None:
    """grad_x (the broadcast shape, overwritten) = zeros.masked_scatter(mask, grad)."""
    elementwise.fill(grad_x, 0)
    _expand(grad_x, grad, mask, block_offsets)


# ================================================================ NumPy references
def _fp_math(a: np.ndarray) -> np.ndarray:
    """Accumulate fp16/bf16 through fp32 (results are cast back by the callers)."""
    return a.astype(np.float32) if a.dtype in (np.float16, dtypes.bfloat16.np) else a


def _dim_coords(index: np.ndarray, dim: int) -> tuple:
    """Full coordinate arrays of every index position, with `index` itself along `dim`."""
    coords = list(np.indices(index.shape, sparse=True))
    coords[dim] = index
    return tuple(coords)


def gather_ref(x: np.ndarray, index: np.ndarray, dim: int) -> np.ndarray:
    x, index = np.atleast_1d(x), np.atleast_1d(index)
    dim %= x.ndim
    return x[_dim_coords(index, dim)]


def gather_backward_ref(grad: np.ndarray, x_shape: tuple, index: np.ndarray, dim: int) -> tuple:
    return (scatter_add_ref(np.zeros(x_shape, grad.dtype), index, grad, dim),)


def scatter_ref(x: np.ndarray, index: np.ndarray, src, dim: int, reduce: str | None = None) -> np.ndarray:
    out = np.atleast_1d(x).copy()
    index = np.atleast_1d(index)
    dim %= out.ndim
    coords = _dim_coords(index, dim)
    if isinstance(src, np.ndarray):
        src = np.atleast_1d(src)[tuple(slice(0, n) for n in index.shape)]
    else:
        src = np.full(index.shape, src).astype(out.dtype)
    if reduce is None:
        out[coords] = src
    elif reduce == "add":
        acc = _fp_math(out)
        np.add.at(acc, coords, src.astype(acc.dtype))
        out = acc.astype(out.dtype)
    elif reduce == "multiply":
        acc = _fp_math(out)
        np.multiply.at(acc, coords, src.astype(acc.dtype))
        out = acc.astype(out.dtype)
    else:
        raise ValueError(reduce)
    return out.reshape(np.shape(x))


def scatter_backward_ref(grad: np.ndarray, index: np.ndarray, dim: int) -> tuple:
    return scatter_ref(grad, index, 0, dim), gather_ref(grad, index, dim)


def scatter_add_ref(x: np.ndarray, index: np.ndarray, src, dim: int) -> np.ndarray:
    return scatter_ref(x, index, src, dim, reduce="add")


def scatter_add_backward_ref(grad: np.ndarray, index: np.ndarray, dim: int) -> tuple:
    return grad.copy(), gather_ref(grad, index, dim)


def index_select_ref(x: np.ndarray, index: np.ndarray, dim: int) -> np.ndarray:
    x = np.atleast_1d(x)
    return np.take(x, np.atleast_1d(index), axis=dim % x.ndim)


def index_select_backward_ref(grad: np.ndarray, x_shape: tuple, index: np.ndarray, dim: int) -> tuple:
    return (index_add_ref(np.zeros(x_shape, grad.dtype), index, grad, dim),)


def index_add_ref(x: np.ndarray, index: np.ndarray, source: np.ndarray, dim: int, alpha=1) -> np.ndarray:
    out = np.atleast_1d(x)
    dim %= out.ndim
    acc = _fp_math(out).copy()
    coords = [slice(None)] * out.ndim
    coords[dim] = np.atleast_1d(index)
    # np.add.at with a slice+array key adds each source slice in index order, like PyTorch's CPU loop.
    moved = np.moveaxis(acc, dim, 0)
    scaled = (np.atleast_1d(source).astype(acc.dtype) * alpha).astype(acc.dtype)
    np.add.at(moved, np.atleast_1d(index), np.moveaxis(scaled, dim, 0))
    return acc.astype(out.dtype).reshape(np.shape(x))


def index_add_backward_ref(grad: np.ndarray, index: np.ndarray, dim: int, alpha=1) -> tuple:
    return grad.copy(), (index_select_ref(grad, index, dim) * alpha).astype(grad.dtype)


def masked_fill_ref(x: np.ndarray, mask: np.ndarray, value) -> np.ndarray:
    return np.where(mask, np.asarray(value).astype(x.dtype), x)


def masked_fill_backward_ref(grad: np.ndarray, mask: np.ndarray) -> tuple:
    zero = np.zeros((), grad.dtype)
    return np.where(mask, zero, grad), np.where(mask, grad, zero)


def take_ref(x: np.ndarray, index: np.ndarray) -> np.ndarray:
    return np.asarray(x).reshape(-1)[index]


def take_backward_ref(grad: np.ndarray, x_shape: tuple, index: np.ndarray) -> tuple:
    acc = _fp_math(np.zeros(int(np.prod(x_shape)), grad.dtype))
    np.add.at(acc, index, grad.astype(acc.dtype))
    return (acc.astype(grad.dtype).reshape(x_shape),)


def _index_key(indices: list) -> tuple:
    return tuple(slice(None) if t is None else t for t in indices)


def index_ref(x: np.ndarray, indices: list) -> np.ndarray:
    return x[_index_key(indices)]


def index_backward_ref(grad: np.ndarray, x_shape: tuple, indices: list) -> tuple:
    return (index_put_ref(np.zeros(x_shape, grad.dtype), indices, grad, accumulate=True),)


def index_put_ref(x: np.ndarray, indices: list, values, accumulate: bool = False) -> np.ndarray:
    key = _index_key(indices)
    if not accumulate:
        out = x.copy()
        out[key] = values
        return out
    acc = _fp_math(x).copy()
    values = np.broadcast_to(np.asarray(values).astype(acc.dtype), x[key].shape)
    np.add.at(acc, key, values)
    return acc.astype(x.dtype)


def index_put_backward_ref(grad: np.ndarray, indices: list, accumulate: bool = False) -> tuple:
    grad_x = grad.copy() if accumulate else index_put_ref(grad, indices, 0)
    return grad_x, index_ref(grad, indices)


def one_hot_ref(index: np.ndarray, num_classes: int) -> np.ndarray:
    return (np.asarray(index)[..., None] == np.arange(num_classes)).astype(np.int64)


def masked_select_ref(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    x, mask = np.broadcast_arrays(x, mask)
    return x[mask.astype(bool)]


def masked_select_backward_ref(grad: np.ndarray, mask: np.ndarray) -> tuple:
    grad_x = np.zeros(np.shape(mask), grad.dtype)
    grad_x[np.asarray(mask).astype(bool)] = grad
    return (grad_x,)


def nonzero_ref(x: np.ndarray) -> np.ndarray:
    return np.argwhere(np.asarray(x)).astype(np.int64).reshape(-1, np.ndim(x))


def masked_scatter_ref(x: np.ndarray, mask: np.ndarray, source: np.ndarray) -> np.ndarray:
    out = x.copy()
    m = np.broadcast_to(mask, x.shape).astype(bool)
    out[m] = np.asarray(source).reshape(-1)[: int(m.sum())]
    return out


# ================================================================ registration table
OPS = {
    # name: (forward wrapper, backward wrapper or None, forward ref, backward ref or None)
    "gather": (gather, gather_backward, gather_ref, gather_backward_ref),
    "scatter": (scatter, scatter_backward, scatter_ref, scatter_backward_ref),
    "scatter_add": (scatter_add, scatter_add_backward, scatter_add_ref, scatter_add_backward_ref),
    "index_select": (index_select, index_select_backward, index_select_ref, index_select_backward_ref),
    "index_add": (index_add, index_add_backward, index_add_ref, index_add_backward_ref),
    "masked_fill": (masked_fill, masked_fill_backward, masked_fill_ref, masked_fill_backward_ref),
    "take": (take, take_backward, take_ref, take_backward_ref),
    "index": (index, index_backward, index_ref, index_backward_ref),
    "index_put": (index_put, index_put_backward, index_put_ref, index_put_backward_ref),
    "one_hot": (one_hot, None, one_hot_ref, None),
    "masked_select": (masked_select, masked_select_backward, masked_select_ref, masked_select_backward_ref),
    "nonzero": (nonzero, None, nonzero_ref, None),
    "masked_scatter": (masked_scatter, None, masked_scatter_ref, None),
}


# ================================================================ kernel specs (AOT compile check)
def _strides(prefix: str, n: int = 4) -> dict[str, str]:
    return {f"{prefix}{d}": "i32" for d in range(n)}


def _gather_signature(dtype: str) -> dict[str, str]:
    sig = {"out_ptr": f"*{dtype}", "x_ptr": f"*{dtype}"}
    sig.update({f"idx{k}_ptr": "*i64" for k in range(4)})
    sig.update(numel="i32", size1="i32", size2="i32", size3="i32")
    for p in ("os", "xs", "a0s", "a1s", "a2s", "a3s"):
        sig.update(_strides(p))
    sig.update(_strides("dst"))
    sig.update({f"dsz{k}": "i64" for k in range(4)})
    return sig


def _scatter_signature(dtype: str) -> dict[str, str]:
    sig = {"dst_ptr": f"*{dtype}", "src_ptr": f"*{dtype}"}
    sig.update({f"idx{k}_ptr": "*i64" for k in range(4)})
    sig.update(numel="i32", size1="i32", size2="i32", size3="i32")
    for p in ("ds", "ss", "a0s", "a1s", "a2s", "a3s"):
        sig.update(_strides(p))
    sig.update(_strides("dst"))
    sig.update({f"dsz{k}": "i64" for k in range(4)})
    sig.update(value_bits="i64", alpha_bits="i64")
    return sig


def _multiply_signature(dtype: str) -> dict[str, str]:
    sig = {"dst_ptr": f"*{dtype}", "src_ptr": f"*{dtype}", "idx_ptr": "*i64", "numel": "i32", "size1": "i32",
           "size2": "i32", "size3": "i32"}
    for p in ("ds", "ss", "is"):
        sig.update(_strides(p))
    sig.update(J="i32", src_jstride="i32", idx_jstride="i32", dim_stride="i32", dim_size="i64",
               value_bits="i64")
    return sig


def _masked_fill_signature(dtype: str) -> dict[str, str]:
    sig = {"out_ptr": f"*{dtype}", "x_ptr": f"*{dtype}", "mask_ptr": "*i1", "value_ptr": f"*{dtype}",
           "numel": "i32", "size1": "i32", "size2": "i32", "size3": "i32"}
    for p in ("os", "xs", "ms", "vs"):
        sig.update(_strides(p))
    sig.update(value_bits="i64")
    return sig


def _compact_signature(dtype: str, mask: str) -> dict[str, str]:
    sig = {"out_ptr": f"*{dtype}", "src_ptr": f"*{dtype}", "mask_ptr": f"*{mask}", "offsets_ptr": "*i64",
           "numel": "i32", "size1": "i32", "size2": "i32", "size3": "i32"}
    sig.update(_strides("ms"))
    sig.update(_strides("ss"))
    sig.update(out_stride="i32", inner="i64", dim_size="i64")
    return sig


def _expand_signature(dtype: str) -> dict[str, str]:
    sig = {"out_ptr": f"*{dtype}", "src_ptr": f"*{dtype}", "mask_ptr": "*i1", "offsets_ptr": "*i64",
           "numel": "i32", "size1": "i32", "size2": "i32", "size3": "i32"}
    sig.update(_strides("os"))
    sig.update(_strides("ms"))
    sig.update(src_stride="i32")
    return sig


_CFG = [dict(BLOCK=BLOCK, num_warps=NUM_WARPS)]
_COUNT_SIG = {"offsets_ptr": "*i64", "mask_ptr": "*i1", "numel": "i32", "size1": "i32", "size2": "i32",
              "size3": "i32", **_strides("ms")}

SPECS = (
    [KernelSpec(f"indexing.gather[{n}idx:{dt}]", index_gather_kernel, _gather_signature(dt),
                dict(NUM_IDX=n, WRAP=n > 1), _CFG)
     for n, dt in ((1, "fp32"), (1, "bf16"), (1, "i1"), (2, "fp16"), (4, "i64"))]
    + [KernelSpec(f"indexing.scatter[{n}idx:{dt}:{'add' if acc else 'store'}{':scalar' if sc else ''}"
                  f"{':alpha' if al else ''}]", index_scatter_kernel, _scatter_signature(dt),
                  dict(NUM_IDX=n, WRAP=n > 1, SCALAR_SRC=sc, HAS_ALPHA=al, ACCUMULATE=acc), _CFG)
       for n, dt, sc, al, acc in ((1, "fp32", False, False, True), (1, "fp16", False, True, True),
                                  (1, "bf16", False, False, False), (1, "fp64", True, False, False),
                                  (2, "i64", False, True, True), (4, "i32", False, False, True),
                                  (1, "i1", True, False, False), (3, "fp64", False, False, True))]
    + [KernelSpec(f"indexing.scatter_multiply[{dt}{':scalar' if sc else ''}]", scatter_multiply_kernel,
                  _multiply_signature(dt), dict(SCALAR_SRC=sc), _CFG)
       for dt, sc in (("fp32", False), ("bf16", False), ("i8", True))]
    + [KernelSpec(f"indexing.masked_fill[{dt}{':tensor' if vt else ''}{':invert' if inv else ''}]",
                  masked_fill_kernel, _masked_fill_signature(dt), dict(VALUE_TENSOR=vt, INVERT=inv), _CFG)
       for dt, vt, inv in (("fp32", False, False), ("bf16", True, False), ("fp64", False, True),
                           ("i1", False, False), ("i64", True, True))]
    + [KernelSpec("indexing.mask_count[i1]", mask_count_kernel, _COUNT_SIG, {}, _CFG),
       KernelSpec("indexing.mask_count[fp32]", mask_count_kernel, {**_COUNT_SIG, "mask_ptr": "*fp32"}, {},
                  _CFG),
       KernelSpec("indexing.block_scan", block_scan_kernel, {"offsets_ptr": "*i64", "n_blocks": "i32"}, {},
                  [dict(BLOCK=SCAN_BLOCK, num_warps=NUM_WARPS)])]
    + [KernelSpec(f"indexing.mask_compact[{dt}:{mk}:{'values' if v else 'coords'}]", mask_compact_kernel,
                  _compact_signature(dt, mk), dict(VALUES=v), _CFG)
       for dt, mk, v in (("fp32", "i1", True), ("bf16", "i1", True), ("i1", "i1", True), ("i64", "i1", False),
                         ("i64", "fp16", False))]
    + [KernelSpec(f"indexing.mask_expand[{dt}]", mask_expand_kernel, _expand_signature(dt), {}, _CFG)
       for dt in ("fp32", "bf16", "i64")]
)

__all__ = [
    "accumulate_dtype", "compact_scratch_numel", "gather", "gather_backward", "index", "index_add",
    "index_add_backward", "index_backward", "index_put", "index_put_backward", "index_result_shape",
    "index_select", "index_select_backward", "mask_scan", "masked_fill", "masked_fill_backward",
    "masked_scatter", "masked_select", "masked_select_backward", "nonzero", "one_hot", "scalar_bits",
    "scatter", "scatter_add", "scatter_add_backward", "scatter_backward", "take", "take_backward",
]

