"""masked_fill and the data-dependent boolean-mask ops: masked_select, nonzero, masked_scatter.

masked_fill is one elementwise pass (`masked_fill_kernel`). The others have a result whose size depends
on the mask's values; x[mask] for a mask over x's first k dims is nonzero(mask) followed by
advanced_index.index(x, [column 0, ..., column k-1]) as in PyTorch (a mask of x's full shape can use
masked_select directly); x[mask] = v is nonzero + index_put.
    1. `mask_scan(block_offsets, mask)`: per-block counts, then an exclusive scan over blocks.
       block_offsets is int64 scratch of `compact_scratch_numel(mask.numel())` elements; afterwards
       block_offsets[-1] holds the number of True elements: the host reads it and allocates.
    2. `masked_select` / `nonzero` / `masked_scatter` / `masked_select_backward` recount each block
       locally and write element e of block b at block_offsets[b] + (its rank within the block).
Both steps need the mask (with x) to collapse to at most 4 dims, which every contiguous array does;
the wrappers raise ValueError otherwise (pass contiguous copies then). Empty masks launch nothing but the
scan, which writes a count of 0.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from . import elementwise, tuning
from .device_array import DeviceArray
from .index_core import (
    BLOCK,
    CFG,
    INDEX_SPACE,
    NUM_WARPS,
    broadcast_to,
    flat_view,
    from_bits,
    no_alias,
    same_array,
    scalar_bits,
    strides_sig,
)
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .strided import MAX_DIMS, cast_to, collapse, launch_slices, strided_offsets
from .tuning import Cost, Tunable, next_pow2

SCAN_BLOCK = 1024  # block counts scanned per step by the single-program scan


_ONE_BYTE = frozenset({"bool", "int8", "uint8"})  # dtype names in the keys whose elements are 1 byte
# 16 elements per thread: a 1-byte operand then moves 16 contiguous bytes (one 128-bit access), not 8.
FILL_NARROW = dict(BLOCK=4096, num_warps=8)  # masked_fill of a 1-byte output
BLOCKED_NARROW = dict(BLOCK=BLOCK, num_warps=2)  # a 1-byte mask's count/compact/expand (BLOCK is fixed)


def _heuristic(key) -> dict:
    return dict(CFG[0])


def _fill_heuristic(key) -> dict:
    # key: (out dtype, mask dtype, value is a tensor, invert, next_pow2(numel))
    return dict(FILL_NARROW) if key[0] in _ONE_BYTE else dict(CFG[0])


def _blocked_heuristic(mask_field: int):
    """The heuristic of a blocked kernel whose key holds the mask's dtype name at `mask_field`."""
    def heuristic(key) -> dict:
        return dict(BLOCKED_NARROW) if key[mask_field] in _ONE_BYTE else dict(CFG[0])
    return heuristic


def _bytes_cost(numel: int, itemsizes: int) -> Cost:
    # itemsizes: the item sizes of every operand read or written once per element, summed.
    return Cost(float(numel) * itemsizes, float(numel))


def _scan_cost(n_blocks: int) -> Cost:
    return Cost(16.0 * n_blocks, float(n_blocks))


MASKED_FILL_TUNING = Tunable("masked.masked_fill", INDEX_SPACE, _fill_heuristic, _bytes_cost)
# The count, compaction and expansion kernels share one block size: block_offsets holds one start per
# BLOCK elements (compact_scratch_numel), so only the warps per block are tuned. A 1-byte mask (the usual
# bool) takes 2 warps, so that its contiguous read, the one access of these kernels whose addresses do not
# depend on the data, is 128 bits wide; the compacted values' positions come from the running count.
_BLOCKED_SPACE = [dict(CFG[0]), dict(BLOCK=BLOCK, num_warps=8), dict(BLOCKED_NARROW)]
MASK_COUNT_TUNING = Tunable("masked.mask_count", _BLOCKED_SPACE, _blocked_heuristic(0), _bytes_cost)
MASK_COMPACT_TUNING = Tunable("masked.mask_compact", _BLOCKED_SPACE, _blocked_heuristic(1), _bytes_cost)
MASK_EXPAND_TUNING = Tunable("masked.mask_expand", _BLOCKED_SPACE, _blocked_heuristic(1), _bytes_cost)
# One program scans the counts in place (a second run would scan the scan): never timed on user data.
BLOCK_SCAN_TUNING = Tunable(
    "masked.block_scan",
    space=[dict(BLOCK=SCAN_BLOCK, num_warps=NUM_WARPS), dict(BLOCK=2048, num_warps=8), dict(BLOCK=4096, num_warps=8)],
    heuristic=lambda key: dict(BLOCK=SCAN_BLOCK, num_warps=NUM_WARPS),
    cost=_scan_cost,
    repeatable=False,
)


# ================================================================ masked_fill
@fast_jit(do_not_specialize=["value_bits"])
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
    arrays = [out, broadcast_to(x, out.shape), broadcast_to(mask, out.shape)]
    arrays.append(broadcast_to(value, out.shape) if tensor_value else arrays[1])
    bits = 0 if tensor_value else scalar_bits(value, out.dtype)
    read = [x, mask] + ([value] if tensor_value else [])
    itemsizes = out.dtype.itemsize + sum(a.dtype.itemsize for a in read)
    # masked_fill_ (out is x) writes into what it reads: not timed on the user's tensors.
    repeatable = no_alias([out], read)
    for shape4, strides4, offsets in launch_slices(out.shape, arrays):
        o, xv, m, v = (a.view_as(shape4, s, off) for a, s, off in zip(arrays, strides4, offsets))
        numel = shape4[0] * shape4[1] * shape4[2] * shape4[3]

        def run(config, o=o, xv=xv, m=m, v=v, numel=numel, shape4=shape4):
            masked_fill_kernel[(triton.cdiv(numel, config["BLOCK"]),)](
                o, xv, m, v, numel, shape4[1], shape4[2], shape4[3], *o.strides, *xv.strides, *m.strides,
                *v.strides, bits, VALUE_TENSOR=tensor_value, INVERT=invert, **config,
            )

        key = (out.dtype.name, mask.dtype.name, tensor_value, invert, next_pow2(numel))
        tuning.launch(MASKED_FILL_TUNING, key, dict(numel=numel, itemsizes=itemsizes), run, repeatable)


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
@fast_jit
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


@fast_jit
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


@fast_jit
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


@fast_jit
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
    numel = mask.numel()
    if n_blocks:
        shape4, (m,) = _single_launch(mask.shape, [mask])

        def count(config):
            mask_count_kernel[(triton.cdiv(numel, config["BLOCK"]),)](
                block_offsets, m, numel, shape4[1], shape4[2], shape4[3], *m.strides, **config)

        tuning.launch(MASK_COUNT_TUNING, (mask.dtype.name, next_pow2(numel)),
                      dict(numel=numel, itemsizes=mask.dtype.itemsize), count, no_alias([block_offsets], [mask]))

    def scan(config):
        block_scan_kernel[(1,)](block_offsets, n_blocks, **config)

    tuning.launch(BLOCK_SCAN_TUNING, (next_pow2(n_blocks),), dict(n_blocks=n_blocks), scan, repeatable=False)


def masked_select(out: DeviceArray, x: DeviceArray, mask: DeviceArray, block_offsets: DeviceArray) -> None:
    """Step 2: out (1-d, count elements, x's dtype) = x[mask] in row-major order; x and mask share a
    (broadcast) shape; block_offsets comes from mask_scan(block_offsets, mask)."""
    numel = mask.numel()
    if numel == 0 or out.numel() == 0:
        return
    shape4, (m, xv) = _single_launch(mask.shape, [mask, broadcast_to(x, mask.shape)])

    def run(config):
        mask_compact_kernel[(triton.cdiv(numel, config["BLOCK"]),)](
            out, xv, m, block_offsets, numel, shape4[1], shape4[2], shape4[3], *m.strides, *xv.strides,
            out.strides[0], 1, 1, VALUES=True, **config)

    # Every mask element is read; x's selected elements are read and written (about out.numel()).
    tuning.launch(MASK_COMPACT_TUNING, (out.dtype.name, mask.dtype.name, True, next_pow2(numel)),
                  dict(numel=numel, itemsizes=mask.dtype.itemsize + 2 * out.dtype.itemsize), run,
                  no_alias([out], [x, mask, block_offsets]))


def nonzero(out: DeviceArray, mask: DeviceArray, block_offsets: DeviceArray) -> None:
    """Step 2: out (count, mask.ndim) int64 = coordinates of mask's nonzero elements (torch.nonzero),
    row-major order; one launch per column."""
    numel = mask.numel()
    if numel == 0 or out.numel() == 0:
        return
    shape4, (m,) = _single_launch(mask.shape, [mask])
    inner = 1
    key = (out.dtype.name, mask.dtype.name, False, next_pow2(numel))
    sizes = dict(numel=numel, itemsizes=mask.dtype.itemsize + out.dtype.itemsize)
    repeatable = no_alias([out], [mask, block_offsets])
    for d in reversed(range(mask.ndim)):
        column = out.view_as((out.shape[0],), (out.strides[0],), out.offset + d * out.strides[1])

        def run(config, column=column, inner=inner, dim_size=mask.shape[d]):
            mask_compact_kernel[(triton.cdiv(numel, config["BLOCK"]),)](
                column, m, m, block_offsets, numel, shape4[1], shape4[2], shape4[3], *m.strides, *m.strides,
                column.strides[0], inner, dim_size, VALUES=False, **config)

        tuning.launch(MASK_COMPACT_TUNING, key, sizes, run, repeatable)
        inner *= mask.shape[d]


def _expand(out: DeviceArray, source: DeviceArray, mask: DeviceArray, block_offsets: DeviceArray,
            repeatable: bool) -> None:
    numel = out.numel()
    if numel == 0:
        return
    src = flat_view(source, "the source")
    shape4, (o, m) = _single_launch(out.shape, [out, broadcast_to(mask, out.shape)])

    def run(config):
        mask_expand_kernel[(triton.cdiv(numel, config["BLOCK"]),)](
            o, src, m, block_offsets, numel, shape4[1], shape4[2], shape4[3], *o.strides, *m.strides,
            src.strides[0] if src.numel() else 1, **config)

    key = (out.dtype.name, mask.dtype.name, next_pow2(numel))
    sizes = dict(numel=numel, itemsizes=mask.dtype.itemsize + out.dtype.itemsize + source.dtype.itemsize)
    tuning.launch(MASK_EXPAND_TUNING, key, sizes, run, repeatable and no_alias([out], [source, mask, block_offsets]))


def masked_scatter(out: DeviceArray, x: DeviceArray, mask: DeviceArray, source: DeviceArray,
                   block_offsets: DeviceArray) -> None:
    """out = x.masked_scatter(mask, source): where mask holds, the next element of source (read
    row-major; it must collapse to one dim and hold at least count elements). Pass out=x for the
    in-place form; mask is broadcast to out's shape (block_offsets from mask_scan over that view)."""
    in_place = same_array(out, x)
    if not in_place:
        elementwise.copy(out, x)
    # masked_scatter_ writes into the user's tensor: never timed there.
    _expand(out, source, mask, block_offsets, repeatable=not in_place)


def masked_select_backward(grad_x: DeviceArray, grad: DeviceArray, mask: DeviceArray,
                           block_offsets: DeviceArray) -> None:
    """grad_x (the broadcast shape, overwritten) = zeros.masked_scatter(mask, grad)."""
    elementwise.fill(grad_x, 0)
    _expand(grad_x, grad, mask, block_offsets, repeatable=True)


# ================================================================ NumPy references
def masked_fill_ref(x: np.ndarray, mask: np.ndarray, value) -> np.ndarray:
    return np.where(mask, np.asarray(value).astype(x.dtype), x)

def masked_fill_backward_ref(grad: np.ndarray, mask: np.ndarray) -> tuple:
    zero = np.zeros((), grad.dtype)
    return np.where(mask, zero, grad), np.where(mask, grad, zero)

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


OPS = {
    # name: (forward wrapper, backward wrapper or None, forward ref, backward ref or None)
    "masked_fill": (masked_fill, masked_fill_backward, masked_fill_ref, masked_fill_backward_ref),
    "masked_select": (masked_select, masked_select_backward, masked_select_ref, masked_select_backward_ref),
    "nonzero": (nonzero, None, nonzero_ref, None),
    "masked_scatter": (masked_scatter, None, masked_scatter_ref, None),
}


# ================================================================ kernel specs (AOT compile check)
def _masked_fill_signature(dtype: str) -> dict[str, str]:
    sig = {"out_ptr": f"*{dtype}", "x_ptr": f"*{dtype}", "mask_ptr": "*i1", "value_ptr": f"*{dtype}",
           "numel": "i32", "size1": "i32", "size2": "i32", "size3": "i32"}
    for p in ("os", "xs", "ms", "vs"):
        sig.update(strides_sig(p))
    sig.update(value_bits="i64")
    return sig

def _compact_signature(dtype: str, mask: str) -> dict[str, str]:
    sig = {"out_ptr": f"*{dtype}", "src_ptr": f"*{dtype}", "mask_ptr": f"*{mask}", "offsets_ptr": "*i64",
           "numel": "i32", "size1": "i32", "size2": "i32", "size3": "i32"}
    sig.update(strides_sig("ms"))
    sig.update(strides_sig("ss"))
    sig.update(out_stride="i32", inner="i64", dim_size="i64")
    return sig

def _expand_signature(dtype: str) -> dict[str, str]:
    sig = {"out_ptr": f"*{dtype}", "src_ptr": f"*{dtype}", "mask_ptr": "*i1", "offsets_ptr": "*i64",
           "numel": "i32", "size1": "i32", "size2": "i32", "size3": "i32"}
    sig.update(strides_sig("os"))
    sig.update(strides_sig("ms"))
    sig.update(src_stride="i32")
    return sig

_COUNT_SIG = {"offsets_ptr": "*i64", "mask_ptr": "*i1", "numel": "i32", "size1": "i32", "size2": "i32",
              "size3": "i32", **strides_sig("ms")}

_NARROW = {"i1", "u1", "i8", "u8"}  # 1-byte Triton types: the specs ship the heuristic's narrow configs


def _blocked_configs(mask: str) -> list[dict]:
    return [dict(BLOCKED_NARROW) if mask in _NARROW else dict(CFG[0])]


SPECS = (
    [KernelSpec(f"masked.masked_fill[{dt}{':tensor' if vt else ''}{':invert' if inv else ''}]",
                masked_fill_kernel, _masked_fill_signature(dt), dict(VALUE_TENSOR=vt, INVERT=inv),
                [dict(FILL_NARROW) if dt in _NARROW else dict(CFG[0])], MASKED_FILL_TUNING.all_configs())
     for dt, vt, inv in (("fp32", False, False), ("bf16", True, False), ("fp64", False, True),
                         ("i1", False, False), ("i64", True, True))]
    + [KernelSpec("masked.mask_count[i1]", mask_count_kernel, _COUNT_SIG, {}, _blocked_configs("i1"),
                  MASK_COUNT_TUNING.all_configs()),
       KernelSpec("masked.mask_count[fp32]", mask_count_kernel, {**_COUNT_SIG, "mask_ptr": "*fp32"}, {},
                  CFG, MASK_COUNT_TUNING.all_configs()),
       # One program sweeps the per-block counts (numel / 1024 int64s, a few KiB) in place, from offsets + 1:
       # 8-byte aligned only, and latency-bound (a serial loop of scans), not bandwidth-bound.
       KernelSpec("masked.block_scan", block_scan_kernel, {"offsets_ptr": "*i64", "n_blocks": "i32"}, {},
                  [BLOCK_SCAN_TUNING.heuristic(())], BLOCK_SCAN_TUNING.all_configs(), memory_bound=False)]
    + [KernelSpec(f"masked.mask_compact[{dt}:{mk}:{'values' if v else 'coords'}]", mask_compact_kernel,
                  _compact_signature(dt, mk), dict(VALUES=v), _blocked_configs(mk),
                  MASK_COMPACT_TUNING.all_configs())
       for dt, mk, v in (("fp32", "i1", True), ("bf16", "i1", True), ("i1", "i1", True), ("i64", "i1", False),
                         ("i64", "fp16", False))]
    + [KernelSpec(f"masked.mask_expand[{dt}]", mask_expand_kernel, _expand_signature(dt), {}, _blocked_configs("i1"),
                  MASK_EXPAND_TUNING.all_configs())
       for dt in ("fp32", "bf16", "i64")]
)

__all__ = [
    "compact_scratch_numel", "mask_scan", "masked_fill", "masked_fill_backward", "masked_scatter", "masked_select",
    "masked_select_backward", "nonzero",
]
