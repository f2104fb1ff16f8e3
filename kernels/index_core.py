"""The two kernels behind every index-taking op family, their launchers and what those families share.

`index_gather_kernel` reads
    out[e] = x[xbase(e) + sum_k idx_k(e) * xstride_k]
over a launch shape S (the output's): every operand, the index tensors included, arrives as a view
of shape S whose strides say how it moves with the output coordinates (zero where it does not), so
gather, index_select, take and x[i0, i1] differ only in the views their wrappers build (PyTorch's
TensorIterator does the same). `index_scatter_kernel` is its mirror image (stores or atomic adds),
serving scatter, scatter_add, index_add, index_put and every backward of the gathers. Views are
collapsed to at most four dims (`strided.launch_slices`), so no operand is ever copied. The families:
gather_scatter.py, index_select.py, advanced_index.py (x[idx], x[idx] = v) and masked.py.

Index tensors are any integer DeviceArrays (int64 in practice). Out-of-range indices never touch memory:
an index outside [0, n) (outside [-n, n) for the ops that wrap negatives like PyTorch: take, x[idx],
index_put, index_fill) reads 0 and its store/accumulate is dropped. A launch given an `IndexCheck` also
reports such an index into the device's error word (kernels/index_errors.py; the Tensor layer raises
PyTorch's error from it at the next synchronisation point), without any host round trip per launch.

Accumulation (scatter_add, index_add, index_put(accumulate=True), every gather backward, pad
backward) uses atomic adds, which exist for fp16, fp32, fp64, int32 and int64 (bf16 has them on
GPUs but not in Triton's interpreter). For other targets `accumulate_dtype(dtype)` names the dtype
of a scratch buffer `acc` (same shape as the target, any strides) the wrapper accumulates into
and casts back from; `acc` may also be given for fp16 targets to accumulate in fp32.
Atomic accumulation order is unspecified (as in PyTorch on CUDA): float results may differ from
the sequential NumPy reference in the last bits.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import triton
import triton.language as tl

from tritensor import dtypes

from . import elementwise, tuning
from .device_array import DeviceArray
from .index_errors import report_out_of_range
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .strided import cast_to, collapse, compute_type, launch_slices, strided_offsets
from .tuning import Cost, Tunable, next_pow2

BLOCK = 1024
NUM_WARPS = 4
MAX_INDICES = 4  # index tensors one gather/scatter launch reads
CFG = [dict(BLOCK=BLOCK, num_warps=NUM_WARPS)]  # the heuristic config of every index kernel
# Wider blocks amortise the per-program index math, narrower ones spread a small launch over more SMs.
INDEX_SPACE = [dict(BLOCK=BLOCK, num_warps=NUM_WARPS), dict(BLOCK=512, num_warps=4), dict(BLOCK=2048, num_warps=8),
               dict(BLOCK=4096, num_warps=8)]


def _heuristic(key) -> dict:
    return dict(CFG[0])


def _gather_cost(numel: int, itemsizes: int) -> Cost:
    # itemsizes: out + x + every index array's item size (each read or written once per element).
    return Cost(float(numel) * itemsizes, float(numel))


def _scatter_cost(numel: int, itemsizes: int) -> Cost:
    # itemsizes: dst (twice when accumulating: an atomic reads and writes) + src + the index arrays.
    return Cost(float(numel) * itemsizes, float(numel))


def _check_cost(numel: int, itemsize: int) -> Cost:
    return Cost(float(numel) * itemsize, float(numel))


GATHER_TUNING = Tunable("index_core.gather", INDEX_SPACE, _heuristic, _gather_cost)
SCATTER_TUNING = Tunable("index_core.scatter", INDEX_SPACE, _heuristic, _scatter_cost)
# The accumulating variant (ACCUMULATE) adds into its target: a timing trial would add once more.
# (2048 elements on 8 warps spills in its fp32 variant on sm_80.)
SCATTER_ADD_TUNING = Tunable("index_core.scatter_add", [c for c in INDEX_SPACE if c["BLOCK"] != 2048], _heuristic,
                             _scatter_cost, repeatable=False, specs="index_core.scatter[")
CHECK_TUNING = Tunable("index_core.check", INDEX_SPACE, _heuristic, _check_cost)


def no_alias(outs: list[DeviceArray], ins: list) -> bool:
    """Whether no output shares storage with an input (DeviceArray) one: only then may the tuner time
    the launch on these arrays (an in-place launch would change its own inputs trial after trial)."""
    return all(o.storage is not i.storage for o in outs for i in ins if isinstance(i, DeviceArray))


class IndexCheck(NamedTuple):
    """Where a launch reports an out-of-range index: the device's int64[2] error word (code, index) and
    the code registered for each index array it reads (tritensor/device_errors.expect)."""

    word: DeviceArray
    codes: tuple


# ================================================================ scalars as bits
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


# ================================================================ one index array's contribution
@triton.jit
def _wrap_index(i, n, WRAP: tl.constexpr):
    """Negative indices count from the end for the ops that allow them (take, x[idx], index_put)."""
    if WRAP:
        return tl.where(i < 0, i + n, i)
    else:
        return i


@triton.jit
def _indexed_offset(off, ok, idx_ptr, idx, size1, size2, size3, s0, s1, s2, s3, dim_stride, dim_size,
                    mask, err_ptr, err_code, WRAP: tl.constexpr, CHECK: tl.constexpr):
    """Add index tensor k's contribution to the element offsets; clear `ok` where it is out of range
    (and report the raw index there when CHECK)."""
    raw = tl.load(idx_ptr + strided_offsets(idx, size1, size2, size3, s0, s1, s2, s3), mask=mask,
                  other=0).to(tl.int64)
    j = _wrap_index(raw, dim_size, WRAP)
    inside = (j >= 0) & (j < dim_size)
    if CHECK:
        report_out_of_range(err_ptr, err_code, raw, mask & ((j < 0) | (j >= dim_size)))
    return off + j * dim_stride, ok & inside


# ================================================================ host-side view helpers
def same_array(a: DeviceArray, b: DeviceArray) -> bool:
    return (a.storage is b.storage and a.offset == b.offset and a.shape == b.shape
            and a.strides == b.strides)


def normalize_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


def atleast_1d(a: DeviceArray) -> DeviceArray:
    """PyTorch treats a 0-d tensor as one element along dim 0 / -1 for the dim-wise ops."""
    return a.view_as((1,), (0,)) if a.ndim == 0 else a


def broadcast_strides(a: DeviceArray, shape: tuple) -> tuple:
    """Strides of `a` broadcast (right-aligned, stride 0 on size-1 or missing dims) to `shape`."""
    lead = len(shape) - a.ndim
    if lead < 0 or any(n not in (1, s) for n, s in zip(a.shape, shape[lead:])):
        raise ValueError(f"shape {a.shape} does not broadcast to {shape}")
    return (0,) * lead + tuple(0 if n == 1 else st for n, st in zip(a.shape, a.strides))


def broadcast_to(a: DeviceArray, shape: tuple) -> DeviceArray:
    return a.view_as(tuple(shape), broadcast_strides(a, tuple(shape)))


def dim_base(target: DeviceArray, index: DeviceArray, dim: int) -> DeviceArray:
    """A view of `target` over index's shape that does not move along `dim` (the index chooses there)."""
    if index.ndim != target.ndim or any(i > t for d, (i, t) in enumerate(zip(index.shape, target.shape))
                                        if d != dim):
        raise ValueError(f"index {index.shape} must not be larger than {target.shape} off dim {dim}")
    strides = list(target.strides)
    strides[dim] = 0
    return target.view_as(index.shape, tuple(strides))


def flat_view(a: DeviceArray, what: str) -> DeviceArray:
    """`a` as a 1-d view in row-major order (needs a layout that collapses to one dim)."""
    shape, (strides,) = collapse(a.shape, [a.strides])
    if len(shape) > 1:
        raise ValueError(f"{what} must collapse to one dim (make it contiguous first)")
    return a.view_as((a.numel(),), strides if shape else (1,))


# ================================================================ accumulation targets
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


def fp_math(a: np.ndarray) -> np.ndarray:
    """NumPy references accumulate fp16/bf16 through fp32 (results are cast back by the callers)."""
    return a.astype(np.float32) if a.dtype in (np.float16, dtypes.bfloat16.np) else a


# ================================================================ kernels
@fast_jit
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
    err_ptr,  # int64[2] device error word (CHECK), else unused
    err0, err1, err2, err3,  # error code of index k (a runtime int: a new message never recompiles)
    NUM_IDX: tl.constexpr,  # index tensors read: 1 to 4
    WRAP: tl.constexpr,  # negative indices count from the end
    CHECK: tl.constexpr,  # report out-of-range indices into err_ptr
    BLOCK: tl.constexpr,  # elements per program
):
    idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < numel
    off = strided_offsets(idx, size1, size2, size3, xs0, xs1, xs2, xs3).to(tl.int64)
    off, ok = _indexed_offset(off, mask, idx0_ptr, idx, size1, size2, size3, a0s0, a0s1, a0s2, a0s3,
                              dst0, dsz0, mask, err_ptr, err0, WRAP, CHECK)
    if NUM_IDX >= 2:
        off, ok = _indexed_offset(off, ok, idx1_ptr, idx, size1, size2, size3, a1s0, a1s1, a1s2, a1s3,
                                  dst1, dsz1, mask, err_ptr, err1, WRAP, CHECK)
    if NUM_IDX >= 3:
        off, ok = _indexed_offset(off, ok, idx2_ptr, idx, size1, size2, size3, a2s0, a2s1, a2s2, a2s3,
                                  dst2, dsz2, mask, err_ptr, err2, WRAP, CHECK)
    if NUM_IDX >= 4:
        off, ok = _indexed_offset(off, ok, idx3_ptr, idx, size1, size2, size3, a3s0, a3s1, a3s2, a3s3,
                                  dst3, dsz3, mask, err_ptr, err3, WRAP, CHECK)
    value = tl.load(x_ptr + off, mask=ok, other=0)  # out-of-range indices read 0, never memory
    tl.store(out_ptr + strided_offsets(idx, size1, size2, size3, os0, os1, os2, os3),
             cast_to(value, out_ptr.dtype.element_ty), mask=mask)


@fast_jit(do_not_specialize=["value_bits", "alpha_bits"])
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
    err_ptr,  # int64[2] device error word (CHECK), else unused
    err0, err1, err2, err3,  # error code of index k
    NUM_IDX: tl.constexpr,  # index tensors read: 1 to 4
    WRAP: tl.constexpr,  # negative indices count from the end
    SCALAR_SRC: tl.constexpr,  # every element stores value_bits instead of reading src
    HAS_ALPHA: tl.constexpr,  # scale the source by alpha (index_add)
    ACCUMULATE: tl.constexpr,  # atomic add instead of store (duplicate indices then sum)
    CHECK: tl.constexpr,  # report out-of-range indices into err_ptr
    BLOCK: tl.constexpr,  # elements per program
):
    idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < numel
    off = strided_offsets(idx, size1, size2, size3, ds0, ds1, ds2, ds3).to(tl.int64)
    off, ok = _indexed_offset(off, mask, idx0_ptr, idx, size1, size2, size3, a0s0, a0s1, a0s2, a0s3,
                              dst0, dsz0, mask, err_ptr, err0, WRAP, CHECK)
    if NUM_IDX >= 2:
        off, ok = _indexed_offset(off, ok, idx1_ptr, idx, size1, size2, size3, a1s0, a1s1, a1s2, a1s3,
                                  dst1, dsz1, mask, err_ptr, err1, WRAP, CHECK)
    if NUM_IDX >= 3:
        off, ok = _indexed_offset(off, ok, idx2_ptr, idx, size1, size2, size3, a2s0, a2s1, a2s2, a2s3,
                                  dst2, dsz2, mask, err_ptr, err2, WRAP, CHECK)
    if NUM_IDX >= 4:
        off, ok = _indexed_offset(off, ok, idx3_ptr, idx, size1, size2, size3, a3s0, a3s1, a3s2, a3s3,
                                  dst3, dsz3, mask, err_ptr, err3, WRAP, CHECK)
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


@fast_jit
def index_check_kernel(
    idx_ptr,  # index tensor to validate: nothing else is read or written
    numel,  # index elements
    size1, size2, size3,  # index shape, collapsed to 4 dims (size0 implied by numel)
    s0, s1, s2, s3,  # index strides
    dim_size,  # the valid range: [0, dim_size), or [-dim_size, dim_size) with WRAP
    err_ptr,  # int64[2] device error word
    err_code,  # the op's registered error code
    WRAP: tl.constexpr,  # negative indices count from the end
    BLOCK: tl.constexpr,  # elements per program
):
    # For the ops whose data launch is empty while PyTorch still validates the indices (index_select of
    # an empty tensor).
    idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < numel
    _indexed_offset(tl.zeros((BLOCK,), tl.int64), mask, idx_ptr, idx, size1, size2, size3, s0, s1, s2, s3, 0,
                    dim_size, mask, err_ptr, err_code, WRAP, True)


# ================================================================ launchers
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


def _error_args(check: IndexCheck | None, fallback: DeviceArray, n: int) -> tuple:
    """(err_ptr, the 4 codes) for a launch reading n index arrays; any pointer serves when unchecked."""
    if check is None:
        return fallback, [0] * MAX_INDICES
    if len(check.codes) != n:
        raise ValueError(f"IndexCheck needs one code per index array ({n}), got {len(check.codes)}")
    return check.word, _pad4(check.codes)


def _check_count(index_views: list) -> None:
    if not 1 <= len(index_views) <= MAX_INDICES:
        raise NotImplementedError(f"at most {MAX_INDICES} index tensors per indexing op")


def launch_gather(out: DeviceArray, x_base: DeviceArray, index_views: list[DeviceArray], dim_strides: list[int],
                  dim_sizes: list[int], wrap: bool, check: IndexCheck | None = None) -> None:
    """out[e] = x[x_base(e) + sum_k index_k(e) * dim_strides[k]]; every view has out's shape."""
    if out.numel() == 0:
        return
    _check_count(index_views)
    err_ptr, codes = _error_args(check, out, len(index_views))
    arrays = [out, x_base] + list(index_views)
    itemsizes = sum(a.dtype.itemsize for a in arrays)
    repeatable = no_alias([out], arrays[1:])
    flags = (len(index_views), wrap, check is not None)
    for shape4, strides4, offsets in launch_slices(out.shape, arrays):
        o, x = (a.view_as(shape4, s, off) for a, s, off in zip(arrays[:2], strides4[:2], offsets[:2]))
        ptrs, idx_strides = _index_args(index_views, strides4[2:], offsets[2:])
        numel = shape4[0] * shape4[1] * shape4[2] * shape4[3]

        def run(config, o=o, x=x, ptrs=ptrs, idx_strides=idx_strides, numel=numel, shape4=shape4):
            index_gather_kernel[(triton.cdiv(numel, config["BLOCK"]),)](
                o, x, *ptrs, numel, shape4[1], shape4[2], shape4[3], *o.strides, *x.strides, *idx_strides,
                *_pad4(dim_strides), *_pad4(dim_sizes), err_ptr, *codes,
                NUM_IDX=flags[0], WRAP=flags[1], CHECK=flags[2], **config,
            )

        key = (out.dtype.name, index_views[0].dtype.name, *flags, next_pow2(numel))
        tuning.launch(GATHER_TUNING, key, dict(numel=numel, itemsizes=itemsizes), run, repeatable)


def launch_scatter(dst_base: DeviceArray, src, index_views: list[DeviceArray], dim_strides: list[int],
                   dim_sizes: list[int], wrap: bool, accumulate: bool, alpha=1,
                   check: IndexCheck | None = None) -> None:
    """dst[dst_base(e) + sum_k index_k(e) * dim_strides[k]] (+)= alpha * src(e) over src's launch shape.

    dst_base is a view of the target with the launch shape; `src` a view of that shape or a scalar.
    """
    shape = dst_base.shape
    if int(np.prod(shape)) == 0:
        return
    _check_count(index_views)
    err_ptr, codes = _error_args(check, dst_base, len(index_views))
    scalar = not isinstance(src, DeviceArray)
    value_bits = scalar_bits(src, dst_base.dtype) if scalar else 0
    has_alpha = alpha != 1
    alpha_bits = scalar_bits(alpha, dst_base.dtype) if has_alpha else 0
    src_view = dst_base if scalar else src
    arrays = [dst_base, src_view] + list(index_views)
    read = list(index_views) if scalar else [src] + list(index_views)
    itemsizes = dst_base.dtype.itemsize * (2 if accumulate else 1) + sum(a.dtype.itemsize for a in read)
    tunable = SCATTER_ADD_TUNING if accumulate else SCATTER_TUNING
    repeatable = no_alias([dst_base], read)
    flags = (len(index_views), wrap, scalar, has_alpha, accumulate, check is not None)
    for shape4, strides4, offsets in launch_slices(shape, arrays):
        d, s = (a.view_as(shape4, st, off) for a, st, off in zip(arrays[:2], strides4[:2], offsets[:2]))
        ptrs, idx_strides = _index_args(index_views, strides4[2:], offsets[2:])
        numel = shape4[0] * shape4[1] * shape4[2] * shape4[3]

        def run(config, d=d, s=s, ptrs=ptrs, idx_strides=idx_strides, numel=numel, shape4=shape4):
            index_scatter_kernel[(triton.cdiv(numel, config["BLOCK"]),)](
                d, s, *ptrs, numel, shape4[1], shape4[2], shape4[3], *d.strides, *s.strides, *idx_strides,
                *_pad4(dim_strides), *_pad4(dim_sizes), value_bits, alpha_bits, err_ptr, *codes,
                NUM_IDX=flags[0], WRAP=flags[1], SCALAR_SRC=flags[2], HAS_ALPHA=flags[3], ACCUMULATE=flags[4],
                CHECK=flags[5], **config,
            )

        key = (dst_base.dtype.name, index_views[0].dtype.name, *flags, next_pow2(numel))
        tuning.launch(tunable, key, dict(numel=numel, itemsizes=itemsizes), run, repeatable)


def check_indices(index: DeviceArray, dim_size: int, wrap: bool, check: IndexCheck) -> None:
    """Report an index of `index` outside the valid range of a dim of `dim_size` (nothing else runs)."""
    if index.numel() == 0:
        return
    for shape4, (strides4,), (offset,) in launch_slices(index.shape, [index]):
        i = index.view_as(shape4, strides4, offset)
        numel = shape4[0] * shape4[1] * shape4[2] * shape4[3]

        def run(config, i=i, numel=numel, shape4=shape4):
            index_check_kernel[(triton.cdiv(numel, config["BLOCK"]),)](
                i, numel, shape4[1], shape4[2], shape4[3], *i.strides, dim_size, check.word, check.codes[0],
                WRAP=wrap, **config)

        tuning.launch(CHECK_TUNING, (index.dtype.name, wrap, next_pow2(numel)),
                      dict(numel=numel, itemsize=index.dtype.itemsize), run)


# ================================================================ kernel specs (AOT compile check)
def strides_sig(prefix: str, n: int = 4) -> dict[str, str]:
    return {f"{prefix}{d}": "i32" for d in range(n)}


ERR_SIG = {"err_ptr": "*i64", **{f"err{k}": "i32" for k in range(MAX_INDICES)}}


def _gather_signature(dtype: str) -> dict[str, str]:
    sig = {"out_ptr": f"*{dtype}", "x_ptr": f"*{dtype}"}
    sig.update({f"idx{k}_ptr": "*i64" for k in range(4)})
    sig.update(numel="i32", size1="i32", size2="i32", size3="i32")
    for p in ("os", "xs", "a0s", "a1s", "a2s", "a3s"):
        sig.update(strides_sig(p))
    sig.update(strides_sig("dst"))
    sig.update({f"dsz{k}": "i64" for k in range(4)})
    sig.update(ERR_SIG)
    return sig


def _scatter_signature(dtype: str) -> dict[str, str]:
    sig = {"dst_ptr": f"*{dtype}", "src_ptr": f"*{dtype}"}
    sig.update({f"idx{k}_ptr": "*i64" for k in range(4)})
    sig.update(numel="i32", size1="i32", size2="i32", size3="i32")
    for p in ("ds", "ss", "a0s", "a1s", "a2s", "a3s"):
        sig.update(strides_sig(p))
    sig.update(strides_sig("dst"))
    sig.update({f"dsz{k}": "i64" for k in range(4)})
    sig.update(value_bits="i64", alpha_bits="i64")
    sig.update(ERR_SIG)
    return sig


_CHECK_SIG = {"idx_ptr": "*i64", "numel": "i32", "size1": "i32", "size2": "i32", "size3": "i32",
              **strides_sig("s"), "dim_size": "i64", "err_ptr": "*i64", "err_code": "i32"}

SPECS = (
    [KernelSpec(f"index_core.gather[{n}idx:{dt}{':check' if ck else ''}]", index_gather_kernel,
                _gather_signature(dt), dict(NUM_IDX=n, WRAP=n > 1, CHECK=ck), CFG,
                GATHER_TUNING.all_configs())
     for n, dt, ck in ((1, "fp32", True), (1, "bf16", False), (1, "i1", True), (2, "fp16", True),
                       (4, "i64", False))]
    + [KernelSpec(f"index_core.scatter[{n}idx:{dt}:{'add' if acc else 'store'}{':scalar' if sc else ''}"
                  f"{':alpha' if al else ''}{':check' if ck else ''}]", index_scatter_kernel, _scatter_signature(dt),
                  dict(NUM_IDX=n, WRAP=n > 1, SCALAR_SRC=sc, HAS_ALPHA=al, ACCUMULATE=acc, CHECK=ck), CFG,
                  (SCATTER_ADD_TUNING if acc else SCATTER_TUNING).all_configs())
       for n, dt, sc, al, acc, ck in ((1, "fp32", False, False, True, True), (1, "fp16", False, True, True, False),
                                      (1, "bf16", False, False, False, True), (1, "fp64", True, False, False, False),
                                      (2, "i64", False, True, True, True), (4, "i32", False, False, True, False),
                                      (1, "i1", True, False, False, True), (3, "fp64", False, False, True, True))]
    # A contiguous index collapses to one unit-stride dim (s3 == 1, as size1/size2): the name rule of the
    # AOT check does not see the bare `s3`, so the spec says it.
    + [KernelSpec(f"index_core.check{':wrap' if w else ''}", index_check_kernel, _CHECK_SIG, dict(WRAP=w), CFG,
                  CHECK_TUNING.all_configs(), unit_args=("size1", "size2", "s3"))
       for w in (False, True)]
)

__all__ = [
    "IndexCheck", "accumulate_dtype", "begin_accumulate", "check_indices", "end_accumulate", "launch_gather",
    "launch_scatter", "scalar_bits",
]
