"""Inclusive scans along the last axis of a (M, R) strided view: cumsum, cumprod, and their backwards.

The Tensor layer moves the scanned dim last (a view: any strides). Each program owns BLOCK_M rows
and walks R in BLOCK_R chunks, scanning a chunk with `tl.associative_scan` (tl.cumsum/tl.cumprod)
and carrying the running total of the earlier chunks into the next, so rows of any length share
one compiled kernel per block shape. Accumulation is fp32 for 16-bit floats, fp64 for fp64 and
int64 for integers/bool (PyTorch's cumsum/cumprod of ints give int64); results are cast to the
output's dtype.

Few long rows (a 1-D cumsum: one row) would run on a handful of programs. When
`reduction_blocks.split_plan` says the rows cannot fill the GPU, every row is cut into chunks and
scanned in three stages (reduce-then-scan; deterministic: every order is fixed by the plan and config):
  1. `scan_totals_kernel`, grid (row blocks, chunks): each chunk's total (sum or product);
  2. `scan_carry_kernel`: per row, the exclusive scan of the chunk totals (each chunk's carry-in);
  3. `scan_kernel` with CARRY, grid (row blocks, chunks): each chunk scanned from its carry-in.
x is read twice and out written once (a scan-then-add-the-carry order would write out twice). The
totals and carries live in an int64 scratch of `scratch_numel(x)` elements from the op layer
(tritensor/ops/scan.py), encoded as kernels/reduction_split.py's partials (floats as fp64 bits).
cumprod's backward keeps one program per row block (its passes carry a per-row first zero).

Backward: cumsum's is the reversed cumsum of the gradient (the same kernel walking the row from
its end). cumprod's is exact with zeros, as PyTorch: with k the first zero of a row,
  i < k:  grad_x[i] = sum_{j>=i} grad[j] * out[j] / x[i]         (x[i] != 0 there)
  i = k:  grad_x[k] = prod_{l<k} x[l] * sum_{j>=k} grad[j] * prod_{k<l<=j} x[l]
  i > k:  grad_x[i] = 0                                          (every out[j], j >= i, holds x[k])
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from . import reduction_split as RS
from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .reduce_math import prod_rows
from .reduction_blocks import HEURISTIC_CONFIGS, SPACE, contiguous_rows, layout, row_heuristic, row_space, split_plan
from .reduction_split import _dec, _enc
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2

# Block shapes as the row reductions' (kernels/reduction_blocks.py): a ~1024-element tile of one long row or of
# several short ones when rows are contiguous, many rows side by side when the scanned dim is strided.
_heuristic, _space, _layout = row_heuristic, row_space, layout
# Stage 1 of a split scan reduces chunks of whole granules (the split reductions' stage-1 blocks); stage 2 scans
# a row's (few hundred at most) chunk totals.
_CARRY_SPACE = [dict(BLOCK_M=1, BLOCK_C=256, num_warps=4), dict(BLOCK_M=16, BLOCK_C=32, num_warps=4),
                dict(BLOCK_M=1, BLOCK_C=1024, num_warps=8)]


def _carry_heuristic(key: tuple) -> dict:
    """Keys end with (next_pow2(M), next_pow2(chunks)): many rows of few chunks read rows side by side."""
    return dict(_CARRY_SPACE[1] if key[-1] <= 32 else _CARRY_SPACE[0])


# A scan reads and writes M*R elements; cumprod's backward reads x, grad and y and writes grad_x (its three
# passes re-read x and grad, mostly from cache).
SCAN_TUNING = Tunable("scan.scan", _space, _heuristic, lambda M, R, itemsize, out_itemsize: Cost(
    float(M) * R * (itemsize + out_itemsize), float(M) * R), specs="scan.cum")
_HALF = ("float16", "bfloat16")


def _cumprod_backward_heuristic(key: tuple) -> dict:
    # Its three passes hold more per element than a scan: the 16x64 tile on 4 warps spills (4 B, aligned
    # sm_90 build), so every tile gets 8 warps. 16-bit inputs take tiles of twice the rows: 4 elements per
    # thread would be 8 bytes (no 128-bit access). Keys start with x's dtype name.
    h = dict(_heuristic(key), num_warps=8)
    return _doubled(h) if key[0] in _HALF else h


def _doubled(c: dict) -> dict:
    """A tile of twice the elements: twice the rows, or twice the row chunk for a one-row tile. Rows of
    256 take the 16 x 128 tile (two steps a row): the 8 x 256 one spills 16 B in its aligned sm_90 build."""
    if c["BLOCK_M"] == 1:
        return dict(c, BLOCK_R=2 * c["BLOCK_R"])
    if c["BLOCK_R"] == 256:
        return dict(c, BLOCK_M=16, BLOCK_R=128)
    return dict(c, BLOCK_M=2 * c["BLOCK_M"])


def _cumprod_backward_space(key: tuple, space: str) -> list[dict]:
    h = _cumprod_backward_heuristic(key)
    return [h] + [c for c in _space(key, space) if c != h and c["BLOCK_M"] * c["BLOCK_R"] <= 512 * c["num_warps"]]


_CUMPROD_BACKWARD_CONFIGS = [dict(c, num_warps=8) for c in HEURISTIC_CONFIGS]
_CUMPROD_BACKWARD_HALF = list({repr(t): t for t in map(_doubled, _CUMPROD_BACKWARD_CONFIGS)}.values())  # fp16/bf16
CUMPROD_BACKWARD_TUNING = Tunable("scan.cumprod_backward", _cumprod_backward_space, _cumprod_backward_heuristic,
                                  lambda M, R, itemsize: Cost(4.0 * M * R * itemsize, 6.0 * M * R))
SCAN_TOTALS_TUNING = Tunable("scan.totals", RS._stage1_space, RS._stage1_heuristic, lambda M, R, C, itemsize: Cost(
    float(M) * R * itemsize + 8.0 * M * C, float(M) * R))
SCAN_CARRY_TUNING = Tunable("scan.carry", lambda key, space: [_carry_heuristic(key)] + [
    dict(c) for c in _CARRY_SPACE if c != _carry_heuristic(key)], _carry_heuristic, lambda M, C: Cost(
    16.0 * M * C, float(M) * C))


@triton.jit
def _last(s, BLOCK_R: tl.constexpr):
    """Column BLOCK_R - 1 of s: after an inclusive scan, the chunk's total carried to the next."""
    lane = tl.arange(0, BLOCK_R)
    return tl.sum(tl.where(lane[None, :] == BLOCK_R - 1, s, 0), axis=1)


@triton.jit
def _first(s, BLOCK_R: tl.constexpr):
    """Column 0 of s: after a reverse inclusive scan, the chunk's total carried to the next."""
    lane = tl.arange(0, BLOCK_R)
    return tl.sum(tl.where(lane[None, :] == 0, s, 0), axis=1)


@fast_jit
def scan_kernel(
    out_ptr,  # (M, R) output
    x_ptr,  # (M, R) input view
    carry_ptr,  # int64 scratch: (M, n_chunks) carries into each chunk from scan_carry_kernel; unused unless CARRY
    M, R,  # rows, scanned length
    chunk, n_chunks,  # scanned elements per program along R (R unless split), programs along R
    stride_om, stride_or,  # output strides (elements)
    stride_xm, stride_xr,  # input strides (elements)
    OP: tl.constexpr,  # "sum" or "prod"
    REVERSE: tl.constexpr,  # scan from the end of the row (cumsum's backward)
    CARRY: tl.constexpr,  # start each chunk from its carry (a split scan's stage 3), else from the identity
    BLOCK_M: tl.constexpr,  # rows per program
    BLOCK_R: tl.constexpr,  # scanned elements per loop step
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_mask = rows < M
    c = tl.program_id(1)
    first = c.to(tl.int64) * chunk  # the chunk's first step (steps count from the row's end when REVERSE)
    n = tl.minimum(chunk, R - first).to(tl.int32)
    x_ty: tl.constexpr = x_ptr.dtype.element_ty  # accumulate in int64 for integers/bool, fp32 or fp64 for floats
    acc_type: tl.constexpr = tl.int64 if x_ty.is_int() else (tl.float64 if x_ty == tl.float64 else tl.float32)
    x_rows = x_ptr + rows.to(tl.int64)[:, None] * stride_xm
    o_rows = out_ptr + rows.to(tl.int64)[:, None] * stride_om
    if CARRY:
        carry = _dec(tl.load(carry_ptr + rows.to(tl.int64) * n_chunks + c, mask=row_mask, other=0), acc_type)
    elif OP == "prod":
        carry = tl.full((BLOCK_M,), 1, acc_type)
    else:
        carry = tl.zeros((BLOCK_M,), acc_type)
    for start in range(0, n, BLOCK_R):
        if REVERSE:
            # The block's columns ascend from its low end (the chunk is walked from the row's end): the
            # accesses stay contiguous, hence 128-bit, and the scan runs backwards in registers.
            cols = (R - first - start - BLOCK_R) + tl.arange(0, BLOCK_R)
            mask = row_mask[:, None] & (cols >= R - first - n)[None, :]
        else:
            steps = start + tl.arange(0, BLOCK_R)
            mask = row_mask[:, None] & (steps < n)[None, :]
            cols = first + steps
        x = compute_type(tl.load(x_rows + cols[None, :] * stride_xr, mask=mask, other=0)).to(acc_type)
        if OP == "prod":
            s = tl.cumprod(tl.where(mask, x, 1), axis=1, reverse=REVERSE) * carry[:, None]
        else:
            s = tl.cumsum(tl.where(mask, x, 0), axis=1, reverse=REVERSE) + carry[:, None]
        # Padding lanes hold the identity, so the block's last lane in scan order holds the total.
        if REVERSE:
            carry = _first(s, BLOCK_R)
        else:
            carry = _last(s, BLOCK_R)
        tl.store(o_rows + cols[None, :] * stride_or, cast_to(s, out_ptr.dtype.element_ty), mask=mask)


@fast_jit
def scan_totals_kernel(
    part_ptr,  # int64 scratch: (M, n_chunks) chunk totals, written here
    x_ptr,  # (M, R) input view
    M, R,  # rows, scanned length
    chunk, n_chunks,  # elements per chunk (the last one shorter), chunks per row
    stride_xm, stride_xr,  # input strides (elements)
    OP: tl.constexpr,  # "sum" or "prod"
    REVERSE: tl.constexpr,  # chunks count from the row's end
    BLOCK_M: tl.constexpr,  # rows per program
    BLOCK_R: tl.constexpr,  # elements per loop step
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_mask = rows < M
    c = tl.program_id(1)
    first = c.to(tl.int64) * chunk
    n = tl.minimum(chunk, R - first).to(tl.int32)
    x_ty: tl.constexpr = x_ptr.dtype.element_ty  # accumulate in int64 for integers/bool, fp32 or fp64 for floats
    acc_type: tl.constexpr = tl.int64 if x_ty.is_int() else (tl.float64 if x_ty == tl.float64 else tl.float32)
    x_rows = x_ptr + rows.to(tl.int64)[:, None] * stride_xm
    acc = tl.full((BLOCK_M, BLOCK_R), 1 if OP == "prod" else 0, acc_type)
    for start in range(0, n, BLOCK_R):
        if REVERSE:
            # Ascending columns from the chunk's high end, as scan_kernel reads them (contiguous: 128-bit).
            cols = (R - first - start - BLOCK_R) + tl.arange(0, BLOCK_R)
            mask = row_mask[:, None] & (cols >= R - first - n)[None, :]
        else:
            steps = start + tl.arange(0, BLOCK_R)
            mask = row_mask[:, None] & (steps < n)[None, :]
            cols = first + steps
        x = compute_type(tl.load(x_rows + cols[None, :] * stride_xr, mask=mask, other=0)).to(acc_type)
        if OP == "prod":
            acc = acc * tl.where(mask, x, 1)
        else:
            acc += tl.where(mask, x, 0)
    if OP == "prod":
        total = prod_rows(acc, BLOCK_R)
    else:
        total = tl.sum(acc, axis=1)
    tl.store(part_ptr + rows.to(tl.int64) * n_chunks + c, _enc(total), mask=row_mask)


@fast_jit
def scan_carry_kernel(
    carry_ptr,  # int64 scratch: (M, n_chunks) carry into each chunk (the identity for chunk 0), written here
    part_ptr,  # int64 scratch: (M, n_chunks) chunk totals from scan_totals_kernel
    x_ptr,  # (M, R) the scanned input: only its element type is used (the totals' type follows it)
    M, n_chunks,  # rows, chunks per row
    OP: tl.constexpr,  # "sum" or "prod"
    BLOCK_M: tl.constexpr,  # rows per program
    BLOCK_C: tl.constexpr,  # chunks per loop step
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_mask = rows < M
    x_ty: tl.constexpr = x_ptr.dtype.element_ty  # accumulate in int64 for integers/bool, fp32 or fp64 for floats
    acc_type: tl.constexpr = tl.int64 if x_ty.is_int() else (tl.float64 if x_ty == tl.float64 else tl.float32)
    r64 = rows.to(tl.int64)[:, None] * n_chunks
    carry = tl.full((BLOCK_M,), 1 if OP == "prod" else 0, acc_type)
    for c0 in range(0, n_chunks, BLOCK_C):
        cs = c0 + tl.arange(0, BLOCK_C)
        mask = row_mask[:, None] & (cs < n_chunks)[None, :]
        # The inclusive scan of the totals shifted by one chunk is the exclusive scan: no subtraction (or
        # division) of a chunk's own total, so the carries are exact sums/products in a fixed order.
        prev = mask & (cs >= 1)[None, :]
        t = _dec(tl.load(part_ptr + r64 + (cs - 1)[None, :], mask=prev, other=0), acc_type)
        if OP == "prod":
            s = tl.cumprod(tl.where(prev, t, 1), axis=1) * carry[:, None]
        else:
            s = tl.cumsum(tl.where(prev, t, 0), axis=1) + carry[:, None]
        carry = _last(s, BLOCK_C)
        tl.store(carry_ptr + r64 + cs[None, :], _enc(s), mask=mask)


@fast_jit
def cumprod_backward_kernel(
    grad_x_ptr,  # (M, R) output: gradient of x
    grad_ptr,  # (M, R) gradient of the cumprod
    x_ptr,  # (M, R) forward input
    y_ptr,  # (M, R) forward output (the cumprod)
    M, R,  # rows, scanned length
    stride_gxm, stride_gxr,  # grad_x strides (elements)
    stride_gm, stride_gr,  # grad strides (elements)
    stride_xm, stride_xr,  # x strides (elements)
    stride_ym, stride_yr,  # y strides (elements)
    BLOCK_M: tl.constexpr,  # rows per program
    BLOCK_R: tl.constexpr,  # scanned elements per loop step
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_mask = rows < M
    acc_type = tl.float64 if grad_x_ptr.dtype.element_ty == tl.float64 else tl.float32
    r64 = rows.to(tl.int64)[:, None]
    x_rows = x_ptr + r64 * stride_xm
    g_rows = grad_ptr + r64 * stride_gm
    y_rows = y_ptr + r64 * stride_ym
    gx_rows = grad_x_ptr + r64 * stride_gxm

    # Pass 1: k, the first zero of each row (R when there is none).
    k = tl.full((BLOCK_M,), R, tl.int32)
    for start in range(0, R, BLOCK_R):
        cols = start + tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (cols < R)[None, :]
        x = compute_type(tl.load(x_rows + cols.to(tl.int64)[None, :] * stride_xr, mask=mask, other=1))
        k = tl.minimum(k, tl.min(tl.where(mask & (x == 0), cols[None, :], R), axis=1))
    k2 = k[:, None]

    # Pass 2: the gradient at k, prefix * sum_{j>=k} grad[j] * prod_{k<l<=j} x[l], where the inner
    # product is the cumprod of x with every entry up to k replaced by 1.
    prefix = tl.full((BLOCK_M,), 1, acc_type)
    carry = tl.full((BLOCK_M,), 1, acc_type)
    at_k = tl.zeros((BLOCK_M,), acc_type)
    for start in range(0, R, BLOCK_R):
        cols = start + tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (cols < R)[None, :]
        x = compute_type(tl.load(x_rows + cols.to(tl.int64)[None, :] * stride_xr, mask=mask, other=1))
        x = x.to(acc_type)
        g = compute_type(tl.load(g_rows + cols.to(tl.int64)[None, :] * stride_gr, mask=mask, other=0))
        z = tl.cumprod(tl.where(mask & (cols[None, :] > k2), x, 1), axis=1) * carry[:, None]
        carry = _last(z, BLOCK_R)
        at_k += tl.sum(tl.where(mask & (cols[None, :] >= k2), g.to(acc_type) * z, 0), axis=1)
        before_k = tl.cumprod(tl.where(mask & (cols[None, :] < k2), x, 1), axis=1) * prefix[:, None]
        prefix = _last(before_k, BLOCK_R)
    at_k = (prefix * at_k)[:, None]

    # Pass 3, from the end of the row: the reversed cumsum of grad * y, divided by x before k.
    rsum = tl.zeros((BLOCK_M,), acc_type)
    for start in range(0, R, BLOCK_R):
        # Ascending columns from the row's high end (contiguous, so 128-bit), scanned backwards in registers.
        cols = (R - start - BLOCK_R) + tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (cols >= 0)[None, :]
        c64 = cols.to(tl.int64)[None, :]
        x = compute_type(tl.load(x_rows + c64 * stride_xr, mask=mask, other=1.0)).to(acc_type)
        g = compute_type(tl.load(g_rows + c64 * stride_gr, mask=mask, other=0)).to(acc_type)
        y = compute_type(tl.load(y_rows + c64 * stride_yr, mask=mask, other=0)).to(acc_type)
        gy = tl.where(mask, g * y, 0)
        rc = tl.cumsum(gy, axis=1, reverse=True) + rsum[:, None]
        rsum = rsum + tl.sum(gy, axis=1)
        before = cols[None, :] < k2
        gx = tl.where(before, rc / tl.where(before, x, 1), tl.where(cols[None, :] == k2, at_k, 0))
        tl.store(gx_rows + c64 * stride_gxr, cast_to(gx, grad_x_ptr.dtype.element_ty), mask=mask)


def scratch_numel(x: DeviceArray) -> int:
    """Elements of the int64 scratch cumsum/cumprod/cumsum_backward need to split the rows of x (M, R); 0 when
    they would not split them (the op layer then passes no scratch)."""
    plan = split_plan(x.shape[0], x.shape[1], contiguous_rows(x))
    return 0 if plan is None else 2 * x.shape[0] * plan[1]


def _scan(out: DeviceArray, x: DeviceArray, op: str, reverse: bool, scratch: DeviceArray | None) -> None:
    M, R = x.shape
    if M == 0 or R == 0:
        return
    contiguous = contiguous_rows(x)
    plan = split_plan(M, R, contiguous) if scratch is not None else None
    chunk, n_chunks = plan if plan is not None else (R, 1)
    if plan is not None and (scratch.dtype.name != "int64" or scratch.strides[0] != 1
                             or scratch.shape[0] < 2 * M * n_chunks):
        raise ValueError(f"the split scan needs a contiguous int64 scratch of {2 * M * n_chunks} elements")
    totals = carries = out if plan is None else None  # (unused pointers when not split)
    if plan is not None:
        totals = scratch.view_as((M * n_chunks,), (1,), scratch.offset)
        carries = scratch.view_as((M * n_chunks,), (1,), scratch.offset + M * n_chunks)
        shape_key = (op, reverse, x.dtype.name, next_pow2(M), next_pow2(R), contiguous)

        def run_totals(cfg):
            scan_totals_kernel[(triton.cdiv(M, cfg["BLOCK_M"]), n_chunks)](
                totals, x, M, R, chunk, n_chunks, x.strides[0], x.strides[1], OP=op, REVERSE=reverse, **cfg)

        def run_carries(cfg):
            scan_carry_kernel[(triton.cdiv(M, cfg["BLOCK_M"]),)](carries, totals, x, M, n_chunks, OP=op, **cfg)

        tuning.launch(SCAN_TOTALS_TUNING, shape_key, dict(M=M, R=R, C=n_chunks, itemsize=x.dtype.itemsize),
                      run_totals)
        tuning.launch(SCAN_CARRY_TUNING, (op, x.dtype.name, next_pow2(M), next_pow2(n_chunks)),
                      dict(M=M, C=n_chunks), run_carries)

    def run(cfg):
        scan_kernel[(triton.cdiv(M, cfg["BLOCK_M"]), n_chunks)](
            out, x, carries, M, R, chunk, n_chunks, out.strides[0], out.strides[1], x.strides[0], x.strides[1],
            OP=op, REVERSE=reverse, CARRY=plan is not None, **cfg)

    key = (op, reverse, plan is not None, x.dtype.name, out.dtype.name, *_layout(x))
    tuning.launch(SCAN_TUNING, key, dict(M=M, R=R, itemsize=x.dtype.itemsize, out_itemsize=out.dtype.itemsize), run)


# ---------------------------------------------------------------- launch wrappers (x, out: (M, R))
def cumsum(out: DeviceArray, x: DeviceArray, scratch: DeviceArray | None = None) -> None:
    """out[m, r] = sum_{j<=r} x[m, j]; out is int64 for integer/bool x, x's float type otherwise.

    scratch: int64, contiguous, `scratch_numel(x)` elements: lets few long rows split (None: never split)."""
    _scan(out, x, "sum", False, scratch)


def cumprod(out: DeviceArray, x: DeviceArray, scratch: DeviceArray | None = None) -> None:
    """out[m, r] = prod_{j<=r} x[m, j]; out is int64 for integer/bool x. scratch: as cumsum's."""
    _scan(out, x, "prod", False, scratch)


def cumsum_backward(grad_x: DeviceArray, grad: DeviceArray, scratch: DeviceArray | None = None) -> None:
    """grad_x[m, r] = sum_{j>=r} grad[m, j] (a reversed cumsum). scratch: as cumsum's."""
    _scan(grad_x, grad, "sum", True, scratch)


def cumprod_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, result: DeviceArray) -> None:
    """Gradient of cumprod given its input x and output `result`; exact where x has zeros."""
    M, R = x.shape
    if M == 0 or R == 0:
        return

    def run(cfg):
        cumprod_backward_kernel[(triton.cdiv(M, cfg["BLOCK_M"]),)](
            grad_x, grad, x, result, M, R, *grad_x.strides, *grad.strides, *x.strides, *result.strides, **cfg)

    key = (x.dtype.name, *_layout(x))
    tuning.launch(CUMPROD_BACKWARD_TUNING, key, dict(M=M, R=R, itemsize=x.dtype.itemsize), run)


# ---------------------------------------------------------------- NumPy references
def _acc(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind in "biu":
        return x.astype(np.int64)
    return x.astype(np.float64 if x.dtype == np.float64 else np.float32)


def _out_dtype(x: np.ndarray, dtype) -> np.dtype:
    if dtype is not None:
        return np.dtype(dtype)
    return np.dtype(np.int64) if x.dtype.kind in "biu" else x.dtype


def cumsum_ref(x: np.ndarray, axis: int, dtype=None) -> np.ndarray:
    return np.cumsum(_acc(x), axis=axis).astype(_out_dtype(x, dtype))


def cumprod_ref(x: np.ndarray, axis: int, dtype=None) -> np.ndarray:
    return np.cumprod(_acc(x), axis=axis).astype(_out_dtype(x, dtype))


def cumsum_backward_ref(grad: np.ndarray, x: np.ndarray, axis: int) -> tuple:
    g = _acc(grad)
    return (np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis).astype(x.dtype),)


def cumprod_backward_ref(grad: np.ndarray, x: np.ndarray, result: np.ndarray, axis: int) -> tuple:
    """PyTorch's cumprod gradient, exact where x has zeros (see the module docstring)."""
    xf, g, y = (np.moveaxis(_acc(a), axis, -1) for a in (x, grad, result))
    n = xf.shape[-1]
    cols = np.arange(n)
    zero = xf == 0
    k = np.where(zero.any(-1), zero.argmax(-1), n)[..., None]
    gy = g * y
    rc = np.flip(np.cumsum(np.flip(gy, -1), -1), -1)
    before = cols < k
    w = np.where(cols > k, xf, 1)
    prefix = np.prod(np.where(before, xf, 1), -1, keepdims=True)
    at_k = prefix * np.sum(np.where(cols >= k, g * np.cumprod(w, -1), 0), -1, keepdims=True)
    gx = np.where(before, rc / np.where(before, xf, 1), np.where(cols == k, at_k, 0))
    return (np.moveaxis(gx, -1, axis).astype(x.dtype),)


# For the Tensor layer: wrappers, references, and what the backward takes after (grad_x, grad).
OPS = {
    "cumsum": dict(forward=cumsum, ref=cumsum_ref, backward=cumsum_backward, backward_ref=cumsum_backward_ref,
                   saves=()),
    "cumprod": dict(forward=cumprod, ref=cumprod_ref, backward=cumprod_backward,
                    backward_ref=cumprod_backward_ref, saves=("x", "result")),
}


def _scan_signature(out: str, x: str, carry: str) -> dict[str, str]:
    return {"out_ptr": f"*{out}", "x_ptr": f"*{x}", "carry_ptr": f"*{carry}", "M": "i32", "R": "i32", "chunk": "i32",
            "n_chunks": "i32", "stride_om": "i32", "stride_or": "i32", "stride_xm": "i32", "stride_xr": "i32"}


_SPLIT_CONFIGS = [RS._STAGE1_CONTIG[0], RS.STRIDED_SPACE[0]]  # what the split stages' heuristics return
_SPLIT_SPACE = RS._STAGE1_CONTIG + RS._STAGE1_STRIDED
_SCANS = [("sum", False, "fp32", "fp32"), ("sum", False, "bf16", "bf16"), ("sum", False, "i1", "i64"),
          ("sum", True, "fp64", "fp64"), ("prod", False, "fp16", "fp16"), ("prod", False, "i32", "i64")]
_SPLIT_SCANS = [("sum", False, "fp32", "fp32"), ("sum", False, "i32", "i64"), ("sum", True, "bf16", "bf16"),
                ("prod", False, "fp64", "fp64")]
SPECS = [
    KernelSpec(f"scan.cum{op}{'[reverse]' if reverse else ''}[{x}]", scan_kernel, _scan_signature(out, x, out),
               dict(OP=op, REVERSE=reverse, CARRY=False), HEURISTIC_CONFIGS, SPACE)
    for op, reverse, x, out in _SCANS
] + [
    KernelSpec(f"scan.cum{op}{'[reverse]' if reverse else ''}[split:{x}]", scan_kernel, _scan_signature(out, x, "i64"),
               dict(OP=op, REVERSE=reverse, CARRY=True), _SPLIT_CONFIGS, SPACE)
    for op, reverse, x, out in _SPLIT_SCANS
] + [
    KernelSpec(f"scan.totals[{op}{':reverse' if reverse else ''}:{x}]", scan_totals_kernel,
               {"part_ptr": "*i64", "x_ptr": f"*{x}", "M": "i32", "R": "i32", "chunk": "i32", "n_chunks": "i32",
                "stride_xm": "i32", "stride_xr": "i32"}, dict(OP=op, REVERSE=reverse), _SPLIT_CONFIGS, _SPLIT_SPACE)
    for op, reverse, x, _ in _SPLIT_SCANS
] + [
    KernelSpec(f"scan.carry[{op}:{x}]", scan_carry_kernel,
               {"carry_ptr": "*i64", "part_ptr": "*i64", "x_ptr": f"*{x}", "M": "i32", "n_chunks": "i32"},
               dict(OP=op), [_CARRY_SPACE[0], _CARRY_SPACE[1]], _CARRY_SPACE)
    for op, _, x, _ in _SPLIT_SCANS
] + [
    KernelSpec(f"scan.cumprod_backward[{dt}]", cumprod_backward_kernel,
               {**{f"{n}_ptr": f"*{dt}" for n in ("grad_x", "grad", "x", "y")}, "M": "i32", "R": "i32",
                **{f"stride_{n}{d}": "i32" for n in ("gx", "g", "x", "y") for d in ("m", "r")}},
               {}, _CUMPROD_BACKWARD_HALF if dt == "bf16" else _CUMPROD_BACKWARD_CONFIGS,
               _CUMPROD_BACKWARD_CONFIGS + (_CUMPROD_BACKWARD_HALF if dt == "bf16" else []) + SPACE)
    for dt in ("fp32", "bf16", "fp64")
]
