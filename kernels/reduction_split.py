"""Split-R reductions: rows too few to fill the GPU are cut into chunks, reduced in two stages.

`x.sum()` of a 16 M-element tensor is one row: the row kernel of kernels/reduction.py would run it on
one program. When `reduction_blocks.split_plan` says the rows cannot fill the machine (fewer than
2 x SM-count programs), every row is cut into n_chunks chunks of `chunk` elements and
  stage 1  `reduce_partials_kernel`, grid (row blocks, n_chunks): each program reduces a chunk of
           BLOCK_M rows with the row kernel's own helpers and writes its partial(s);
  stage 2  `reduce_combine_kernel`, one program per BLOCK_M rows: combines a row's partials in chunk
           order (lanes take chunks c, c + BLOCK_C, ...; then one tree over the lanes) and applies POST.
Both orders are fixed by the plan and the config, so a result is the same on every run (no atomics).

What a chunk's partial holds, per KIND (every kind of the row kernel splits):
  "add"/"mul"   the chunk's sum/product in the accumulation type (int64 for integer sums and counts);
  "max"/"min"   the chunk's extreme (NaN wins) and the global index of its first occurrence: the combine
                keeps the least index among equal extremes, so argmax/argmin stay first-occurrence;
  "lse"         the chunk's log-sum-exp: the combine takes the log-sum-exp of those (max-shifted);
  "var"         the chunk's mean and sum of squared deviations M2 (its count is known from the plan): the
                combine forms mean = sum(n_c * mean_c) / R, then M2 = sum(M2_c + n_c * (mean_c - mean)^2)
                (Chan et al.'s pairwise update, summed in one fixed-order pass rather than a chain).

Scratch: the partials live in an int64 buffer of `scratch_numel(x)` elements, allocated by the op layer
(`tritensor/ops/reduction.py`), laid out (SLOTS, M, n_chunks); each slot holds one value: integers as
int64, floats widened exactly to fp64 and stored as its bits (one buffer type whatever the kind).
"""

from __future__ import annotations

import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .reduce_math import _post, _reduce_add_mul, _reduce_extremum, _reduce_logsumexp, pick_extreme, prod_rows
from .reduction_blocks import NARROW_ROW_STRIDED, ONE_BYTE, STRIDED_SPACE, contiguous_rows, row_config, split_plan
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2

SLOTS = 2  # partial values per (row, chunk): value and index (max/min), mean and M2 (var), else one


def scratch_numel(x: DeviceArray) -> int:
    """Elements of the int64 scratch `reduction.launch` needs to split the rows of x (M, R); 0 when it
    would not split them (the op layer then passes no scratch)."""
    plan = split_plan(x.shape[0], x.shape[1], contiguous_rows(x))
    return 0 if plan is None else SLOTS * x.shape[0] * plan[1]


# ================================================================ tuning
def _stage1_heuristic(key: tuple) -> dict:
    """Keys are (kind, pre, x's dtype name, next_pow2(M), next_pow2(R), rows contiguous along R); a chunk
    holds whole granules. 1-byte elements take twice the elements per step (16 per thread: 128-bit loads)."""
    narrow = key[2] in ONE_BYTE
    if not key[-1]:
        return row_config(key[-2], key[-1], narrow)
    return dict(_STAGE1_NARROW if narrow else _STAGE1_CONTIG[0])


_STAGE1_NARROW = dict(BLOCK_M=1, BLOCK_R=2048, num_warps=4)  # contiguous chunks of 1-byte elements
_STAGE1_CONTIG = [dict(BLOCK_M=1, BLOCK_R=1024, num_warps=4), dict(BLOCK_M=1, BLOCK_R=2048, num_warps=8),
                  dict(BLOCK_M=1, BLOCK_R=512, num_warps=4), dict(BLOCK_M=2, BLOCK_R=1024, num_warps=8),
                  _STAGE1_NARROW]
_STAGE1_STRIDED = STRIDED_SPACE + [dict(BLOCK_M=128, BLOCK_R=8, num_warps=4), NARROW_ROW_STRIDED]


def _stage1_space(key: tuple, space: str) -> list[dict]:
    own, other = (_STAGE1_CONTIG, _STAGE1_STRIDED) if key[-1] else (_STAGE1_STRIDED, _STAGE1_CONTIG)
    first = _stage1_heuristic(key)
    return [first] + [dict(c) for c in own + (other if space == "max" else []) if c != first]


# Stage 2 reads (M, n_chunks) partials, contiguous along the chunks: a tile of about 1024 partials.
_COMBINE_BLOCKS = [dict(BLOCK_M=64, BLOCK_C=16, num_warps=4), dict(BLOCK_M=16, BLOCK_C=64, num_warps=4),
                   dict(BLOCK_M=2, BLOCK_C=512, num_warps=4)]
_COMBINE_SPACE = _COMBINE_BLOCKS + [dict(BLOCK_M=1, BLOCK_C=1024, num_warps=8)]


def _combine_heuristic(key: tuple) -> dict:
    """Keys end with (next_pow2(M), next_pow2(n_chunks))."""
    return dict(_COMBINE_BLOCKS[0 if key[-1] <= 16 else 1 if key[-1] <= 64 else 2])


def _combine_space(key: tuple, space: str) -> list[dict]:
    first = _combine_heuristic(key)
    return [first] + [dict(c) for c in _COMBINE_SPACE if c != first]


# Stage 1 reads M*R elements and writes the partials; stage 2 reads the partials and writes M results.
PARTIALS_TUNING = Tunable("reduction_split.partials", _stage1_space, _stage1_heuristic,
                          lambda M, R, C, itemsize: Cost(float(M) * R * itemsize + 8.0 * SLOTS * M * C, float(M) * R))
COMBINE_TUNING = Tunable("reduction_split.combine", _combine_space, _combine_heuristic,
                         lambda M, C, out_itemsize: Cost(8.0 * SLOTS * M * C + M * out_itemsize, 4.0 * M * C))


# ================================================================ kernels
@triton.constexpr_function
def _partial_type(x_ty, kind, pre):
    """The partials' type, as `reduction.reduce_kernel` accumulates: max/min compare in x's own type (bool as
    int8), integer sums/products and counts in int64, everything else in fp32 (fp64 for fp64)."""
    flt_type = tl.float64 if x_ty == tl.float64 else tl.float32
    if kind == "max" or kind == "min":
        return tl.int8 if x_ty == tl.int1 else (flt_type if x_ty.is_floating() else x_ty)
    if (kind == "add" or kind == "mul") and (pre == "nonzero" or (x_ty.is_int() and pre == "id")):
        return tl.int64
    return flt_type


@triton.jit
def _enc(v):
    """A partial value as the int64 its slot holds: integers widened, floats widened to fp64 (exact) as bits."""
    if v.dtype.is_floating():
        return v.to(tl.float64).to(tl.int64, bitcast=True)
    else:
        return v.to(tl.int64)


@triton.jit
def _dec(s, ty: tl.constexpr):
    """The value of type `ty` an int64 slot holds (the inverse of `_enc`)."""
    if ty.is_floating():
        return s.to(tl.float64, bitcast=True).to(ty)
    else:
        return s.to(ty)


@triton.jit
def _chunk_var(x_rows, row_mask, n, stride_xr, acc_type: tl.constexpr, BLOCK_M: tl.constexpr,
               BLOCK_R: tl.constexpr):
    """(mean, sum of squared deviations) of n elements per row, two-pass as the row kernel's var."""
    mean = _reduce_add_mul(x_rows, row_mask, n, stride_xr, 0.0, "add", "id", acc_type, BLOCK_M, BLOCK_R) / n
    acc = tl.zeros((BLOCK_M, BLOCK_R), acc_type)
    for start in range(0, n, BLOCK_R):
        cols = start + tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (cols < n)[None, :]
        x = compute_type(tl.load(x_rows + cols.to(tl.int64)[None, :] * stride_xr, mask=mask, other=0))
        d = tl.where(mask, x.to(acc_type) - mean[:, None], 0)
        acc += d * d
    return mean, tl.sum(acc, axis=1)


@fast_jit
def reduce_partials_kernel(
    part_ptr,  # (SLOTS, M, n_chunks) int64 scratch: the partials (see the module docstring)
    x_ptr,  # (M, R) input view
    M, R,  # rows, reduced length
    stride_xm, stride_xr,  # input strides (elements)
    chunk, n_chunks,  # elements per chunk (the last one shorter), chunks per row
    p,  # fp32 parameter: norm order p (PRE "pow")
    KIND: tl.constexpr,  # combine: "add", "mul", "max", "min", "lse", "var"
    PRE: tl.constexpr,  # element transform before combining: "id", "nonzero", "abs", "square", "pow"
    BLOCK_M: tl.constexpr,  # rows per program
    BLOCK_R: tl.constexpr,  # reduced elements per loop step
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_mask = rows < M
    c = tl.program_id(1)
    start = c.to(tl.int64) * chunk
    n = tl.minimum(chunk, R - start).to(tl.int32)  # this chunk's length
    x_rows = x_ptr + rows.to(tl.int64)[:, None] * stride_xm + start * stride_xr  # (BLOCK_M, 1) chunk starts
    val_type: tl.constexpr = _partial_type(x_ptr.dtype.element_ty, KIND, PRE)
    if KIND == "max" or KIND == "min":
        value, second = _reduce_extremum(x_rows, row_mask, n, stride_xr, p, KIND == "max", PRE, val_type,
                                         BLOCK_M, BLOCK_R)
        second = second.to(tl.int64) + start  # the index within the row
    elif KIND == "lse":
        value = _reduce_logsumexp(x_rows, row_mask, n, stride_xr, val_type, BLOCK_M, BLOCK_R)
        second = value
    elif KIND == "var":
        value, second = _chunk_var(x_rows, row_mask, n, stride_xr, val_type, BLOCK_M, BLOCK_R)
    else:
        value = _reduce_add_mul(x_rows, row_mask, n, stride_xr, p, KIND, PRE, val_type, BLOCK_M, BLOCK_R)
        second = value
    slot = part_ptr + rows.to(tl.int64) * n_chunks + c
    tl.store(slot, _enc(value), mask=row_mask)
    if KIND == "max" or KIND == "min" or KIND == "var":
        tl.store(slot + M * n_chunks, _enc(second), mask=row_mask)  # slot 1


@triton.jit
def _combine_extremum(first, second, row_mask, n_chunks, IS_MAX: tl.constexpr, val_type: tl.constexpr,
                      BLOCK_M: tl.constexpr, BLOCK_C: tl.constexpr):
    """(extreme, least index holding it) of the chunks' (value, index) partials; NaN is the extreme."""
    # Lanes start at chunk 0's partial (as the row kernel's lanes at element 0): no identity needed.
    acc = tl.broadcast_to(_dec(tl.load(first, mask=row_mask[:, None], other=0), val_type), (BLOCK_M, BLOCK_C))
    idx = tl.broadcast_to(tl.load(second, mask=row_mask[:, None], other=0), (BLOCK_M, BLOCK_C))
    for c0 in range(0, n_chunks, BLOCK_C):
        cs = c0 + tl.arange(0, BLOCK_C)
        mask = row_mask[:, None] & (cs < n_chunks)[None, :]
        v = _dec(tl.load(first + cs[None, :], mask=mask, other=0), val_type)
        better = v > acc if IS_MAX else v < acc
        # Strict comparisons keep the earlier chunk on ties; a NaN replaces any non-NaN.
        better = mask & (better | ((v != v) & (acc == acc)))
        acc = tl.where(better, v, acc)
        idx = tl.where(better, tl.load(second + cs[None, :], mask=mask, other=0), idx)
    return pick_extreme(acc, idx, IS_MAX)


@triton.jit
def _combine_add_mul_lse(first, row_mask, n_chunks, KIND: tl.constexpr, val_type: tl.constexpr,
                         BLOCK_M: tl.constexpr, BLOCK_C: tl.constexpr):
    """The sum, product or log-sum-exp of each row's chunk partials."""
    if KIND == "lse":
        m = tl.full((BLOCK_M, BLOCK_C), float("-inf"), val_type)  # each lane's running max
    acc = tl.full((BLOCK_M, BLOCK_C), 1 if KIND == "mul" else 0, val_type)
    for c0 in range(0, n_chunks, BLOCK_C):
        cs = c0 + tl.arange(0, BLOCK_C)
        mask = row_mask[:, None] & (cs < n_chunks)[None, :]
        v = _dec(tl.load(first + cs[None, :], mask=mask, other=0), val_type)
        if KIND == "mul":
            acc = acc * tl.where(mask, v, 1)
        elif KIND == "lse":
            v = tl.where(mask, v, float("-inf"))
            new_m = tl.maximum(m, v)
            # An infinite max shifts by 0, as the row kernel: -inf chunks add nothing, +inf gives +inf.
            shift = tl.where(tl.abs(new_m) == float("inf"), 0.0, new_m)
            acc = acc * tl.exp(m - shift) + tl.exp(v - shift)
            m = new_m
        else:
            acc += tl.where(mask, v, 0)
    if KIND == "mul":
        return prod_rows(acc, BLOCK_C)
    elif KIND == "lse":
        row_max = tl.max(m, axis=1)
        shift = tl.where(tl.abs(row_max) == float("inf"), 0.0, row_max)
        total = tl.sum(acc * tl.exp(m - shift[:, None]), axis=1)
        # Rows past M sum to 0; adding 1 there keeps their discarded log off log(0).
        return shift + tl.log(total + (row_mask == 0).to(val_type))
    else:
        return tl.sum(acc, axis=1)


@triton.jit
def _combine_var(first, second, row_mask, R, chunk, n_chunks, correction, val_type: tl.constexpr,
                 BLOCK_M: tl.constexpr, BLOCK_C: tl.constexpr):
    """(variance, mean) from the chunks' (mean, M2) partials; n_c comes from the plan (all full but the last)."""
    acc = tl.zeros((BLOCK_M, BLOCK_C), val_type)
    for c0 in range(0, n_chunks, BLOCK_C):  # pass one: the row's sum, as sum_c n_c * mean_c
        cs = c0 + tl.arange(0, BLOCK_C)
        mask = row_mask[:, None] & (cs < n_chunks)[None, :]
        mean_c = _dec(tl.load(first + cs[None, :], mask=mask, other=0), val_type)
        n_c = tl.minimum(chunk, R - cs.to(tl.int64) * chunk).to(val_type)
        acc += tl.where(mask, mean_c * n_c[None, :], 0)
    mean = tl.sum(acc, axis=1) / R
    m2 = tl.zeros((BLOCK_M, BLOCK_C), val_type)
    for c0 in range(0, n_chunks, BLOCK_C):  # pass two: M2 = sum_c M2_c + n_c * (mean_c - mean)^2
        cs = c0 + tl.arange(0, BLOCK_C)
        mask = row_mask[:, None] & (cs < n_chunks)[None, :]
        mean_c = _dec(tl.load(first + cs[None, :], mask=mask, other=0), val_type)
        m2_c = _dec(tl.load(second + cs[None, :], mask=mask, other=0), val_type)
        n_c = tl.minimum(chunk, R - cs.to(tl.int64) * chunk).to(val_type)
        d = mean_c - mean[:, None]
        m2 += tl.where(mask, m2_c + n_c[None, :] * d * d, 0)
    # PyTorch divides by max(R - correction, 0): a non-positive divisor gives inf (or NaN for 0/0).
    return tl.sum(m2, axis=1) / tl.maximum(R - correction, 0.0), mean


@fast_jit
def reduce_combine_kernel(
    out_ptr,  # (M,) result (unused when OUT_VALUE is False)
    aux_ptr,  # (M,) second result: int64 index (max/min) or mean (var); unused unless OUT_AUX
    part_ptr,  # (SLOTS, M, n_chunks) int64 partials from reduce_partials_kernel
    x_ptr,  # (M, R) the reduced input: only its element type is used (the partials' types follow it)
    M, R,  # rows, reduced length
    chunk, n_chunks,  # the split plan of stage 1
    stride_out, stride_aux,  # output strides (elements)
    p,  # fp32 parameter: norm order p, or var/std correction
    KIND: tl.constexpr,  # as stage 1
    PRE: tl.constexpr,  # as stage 1 (it picks the accumulation type)
    POST: tl.constexpr,  # row transform after combining: "id", "mean", "sqrt", "root", "all", "any", "std"
    OUT_VALUE: tl.constexpr,  # write the reduced value to out_ptr
    OUT_AUX: tl.constexpr,  # write the index (max/min) or the mean (var) to aux_ptr
    BLOCK_M: tl.constexpr,  # rows per program
    BLOCK_C: tl.constexpr,  # partials per loop step
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_mask = rows < M
    val_type: tl.constexpr = _partial_type(x_ptr.dtype.element_ty, KIND, PRE)
    first = part_ptr + rows.to(tl.int64)[:, None] * n_chunks  # (BLOCK_M, 1) row starts of slot 0
    second = first + M * n_chunks  # ... of slot 1
    if KIND == "max" or KIND == "min":
        value, aux = _combine_extremum(first, second, row_mask, n_chunks, KIND == "max", val_type, BLOCK_M, BLOCK_C)
    elif KIND == "var":
        value, aux = _combine_var(first, second, row_mask, R, chunk, n_chunks, p, val_type, BLOCK_M, BLOCK_C)
    else:
        value = _combine_add_mul_lse(first, row_mask, n_chunks, KIND, val_type, BLOCK_M, BLOCK_C)
        aux = value
    value = _post(value, R, p, POST)
    if OUT_VALUE:
        tl.store(out_ptr + rows * stride_out, cast_to(value, out_ptr.dtype.element_ty), mask=row_mask)
    if OUT_AUX:
        tl.store(aux_ptr + rows * stride_aux, cast_to(aux, aux_ptr.dtype.element_ty), mask=row_mask)


# ================================================================ launch
def launch_split(out: DeviceArray | None, aux: DeviceArray | None, x: DeviceArray, kind: str, pre: str, post: str,
                 p: float, scratch: DeviceArray) -> bool:
    """`reduction.launch`'s split path (same arguments); returns False, launching nothing, when the rows
    of x fill the GPU by themselves. scratch: int64, contiguous, at least `scratch_numel(x)` elements."""
    M, R = x.shape
    contiguous = contiguous_rows(x)
    plan = split_plan(M, R, contiguous)
    if plan is None:
        return False
    chunk, n_chunks = plan
    if scratch.dtype.name != "int64" or scratch.strides[0] != 1 or scratch.shape[0] < SLOTS * M * n_chunks:
        raise ValueError(f"the split reduction needs a contiguous int64 scratch of {SLOTS * M * n_chunks} elements")
    o = out if out is not None else aux
    a = aux if aux is not None else o

    def partials(cfg):
        reduce_partials_kernel[(triton.cdiv(M, cfg["BLOCK_M"]), n_chunks)](
            scratch, x, M, R, x.strides[0], x.strides[1], chunk, n_chunks, float(p), KIND=kind, PRE=pre, **cfg)

    def combine(cfg):
        reduce_combine_kernel[(triton.cdiv(M, cfg["BLOCK_M"]),)](
            o, a, scratch, x, M, R, chunk, n_chunks, o.strides[0], a.strides[0], float(p), KIND=kind, PRE=pre,
            POST=post, OUT_VALUE=out is not None, OUT_AUX=aux is not None, **cfg)

    shape_key = (next_pow2(M), next_pow2(R), contiguous)
    tuning.launch(PARTIALS_TUNING, (kind, pre, x.dtype.name, *shape_key),
                  dict(M=M, R=R, C=n_chunks, itemsize=x.dtype.itemsize), partials)
    tuning.launch(COMBINE_TUNING, (kind, pre, post, out is not None, aux is not None, x.dtype.name, o.dtype.name,
                                   a.dtype.name, next_pow2(M), next_pow2(n_chunks)),
                  dict(M=M, C=n_chunks, out_itemsize=o.dtype.itemsize), combine)
    return True


# ================================================================ AOT / tuner declarations
def _partials_signature(dtype: str) -> dict[str, str]:
    return {"part_ptr": "*i64", "x_ptr": f"*{dtype}", "M": "i32", "R": "i32", "stride_xm": "i32",
            "stride_xr": "i32", "chunk": "i32", "n_chunks": "i32", "p": "fp32"}


def _combine_signature(dtype: str, out: str, aux: str) -> dict[str, str]:
    return {"out_ptr": f"*{out}", "aux_ptr": f"*{aux}", "part_ptr": "*i64", "x_ptr": f"*{dtype}", "M": "i32",
            "R": "i32", "chunk": "i32", "n_chunks": "i32", "stride_out": "i32", "stride_aux": "i32", "p": "fp32"}


_STAGE1_CONFIGS = [_STAGE1_CONTIG[0], STRIDED_SPACE[0]]  # what the heuristic returns
_STAGE1_NARROW_CONFIGS = [_STAGE1_NARROW, NARROW_ROW_STRIDED]  # ... for 1-byte elements
_NARROW_TYPES = {"i1", "u1", "i8", "u8"}
# (name, KIND, PRE, POST, OUT_VALUE, OUT_AUX, [(x dtype, out dtype, aux dtype)])
_FORWARD = [
    ("sum", "add", "id", "id", True, False, [("fp32",) * 3, ("bf16",) * 3, ("i32", "i64", "i64"), ("fp64",) * 3]),
    ("prod", "mul", "id", "id", True, False, [("fp16",) * 3]),
    ("max", "max", "id", "id", True, True, [("fp32", "fp32", "i64"), ("i64", "i64", "i64")]),
    ("argmin", "min", "id", "id", False, True, [("bf16", "i64", "i64")]),
    ("var", "var", "id", "std", True, True, [("fp32",) * 3, ("fp64",) * 3]),
    ("norm[pow]", "add", "pow", "root", True, False, [("fp32",) * 3]),
    ("logsumexp", "lse", "id", "id", True, False, [("fp32",) * 3]),
    ("all", "add", "nonzero", "all", True, False, [("i1", "i1", "i1")]),
]
SPECS = [
    KernelSpec(f"reduction_split.partials[{name}:{dtype}]", reduce_partials_kernel, _partials_signature(dtype),
               dict(KIND=kind, PRE=pre), _STAGE1_NARROW_CONFIGS if dtype in _NARROW_TYPES else _STAGE1_CONFIGS,
               _STAGE1_CONTIG + _STAGE1_STRIDED)
    for name, kind, pre, _, _, _, dtypes in _FORWARD for dtype, _, _ in dtypes
] + [
    KernelSpec(f"reduction_split.combine[{name}:{dtype}]", reduce_combine_kernel, _combine_signature(dtype, out, aux),
               dict(KIND=kind, PRE=pre, POST=post, OUT_VALUE=ov, OUT_AUX=oa), _COMBINE_BLOCKS, _COMBINE_SPACE)
    for name, kind, pre, post, ov, oa, dtypes in _FORWARD for dtype, out, aux in dtypes
]
