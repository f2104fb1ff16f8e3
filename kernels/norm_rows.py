"""Row normalizations over the last dims: layer_norm and rms_norm, forward and backward, fused.

The op layer hands x as a (M, R) view whose rows are contiguous (row stride free): R is the product of
`normalized_shape`, the affine weight/bias are (R,) vectors (one value per column).

Forward: each program owns BLOCK_M rows. A row of at most BLOCK_R elements (ONE_PASS) is loaded once and
kept in registers: its mean and variance are two reductions of the tile (mean, then the centred squares:
no cancellation), and the normalised, affine output is written from the same registers. A longer row is
read in BLOCK_R chunks: each chunk's own sum and squared deviations are merged into the row's running
(count, mean, M2) with Chan's pairwise update (`chan_merge`, a Welford step per chunk instead of per element),
then a second sweep writes the output. mean and rstd = 1/sqrt(var + eps) are saved for the backward.
Statistics are fp32 (fp64 for fp64 inputs); 16-bit inputs are upcast on load.

Few long rows (past the one-pass limit, fewer than 2 x SM count) are split across programs in the forward by
kernels/norm_rows_split.py (chunk statistics, then a fixed-order combine); the op layer picks it with
`norm_rows_split.scratch_numel`. The backward's persistent grid runs min(row blocks, 2 x SM count) programs
(few long rows: one program per row).

Backward, xhat = (x - mean) * rstd and wdy = w * dy (rms: mean = 0):
  dx = rstd * (wdy - mean(wdy) - xhat * mean(wdy * xhat))       (rms: without the mean(wdy) term)
  dw = sum over rows of dy * xhat,   db = sum over rows of dy
The dx kernel is persistent: P = `partial_rows(M)` programs walk the row blocks p, p + P, ...; each keeps
its share of dw and db per column in registers (per chunk in its own row of the buffer beyond one pass)
and writes them to a (P, R) fp32/fp64 buffer, which `col_sum_kernel` reduces over P in a fixed order.
No second pass over x or dy is made for the weight gradients.
"""

from __future__ import annotations

import math

import numpy as np
import triton
import triton.language as tl

from . import host_threads, tuning
from .device_array import DeviceArray
from .ieee_math import div_ieee, sqrt_ieee
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2


# ---------------------------------------------------------------- shared helpers
@triton.jit
def chan_merge(n, mean, m2, n_c, sum_c, m2_c):
    """Merge a chunk's statistics (n_c elements, their sum, their squared deviations about their own mean)
    into a running (count, mean, M2): Chan et al.'s update, exact in any merge order up to rounding."""
    mean_c = sum_c / tl.maximum(n_c, 1.0)
    n_new = n + n_c
    frac = n_c / tl.maximum(n_new, 1.0)
    delta = mean_c - mean
    return n_new, mean + delta * frac, m2 + m2_c + delta * delta * n * frac


@triton.jit
def inv_std(var, eps):
    """1 / sqrt(var + eps), correctly rounded in fp32 (the approximate sqrt would cost ~1 ulp per element)."""
    return div_ieee(1.0, sqrt_ieee(var + eps))


@fast_jit
def col_sum_kernel(
    out_ptr,  # (N,) result, the weight's dtype
    part_ptr,  # (P, N) partials, contiguous, fp32/fp64
    P, N,  # partial rows, columns
    BLOCK_P: tl.constexpr,  # partial rows per step
    BLOCK_N: tl.constexpr,  # columns per program
):
    """out[n] = sum_p part[p, n], p in a fixed order (lanes p, p + BLOCK_P, ...; then one tree)."""
    cols = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    col_mask = cols < N
    acc = tl.zeros((BLOCK_P, BLOCK_N), part_ptr.dtype.element_ty)
    for p0 in range(0, P, BLOCK_P):
        ps = p0 + tl.arange(0, BLOCK_P)
        mask = (ps < P)[:, None] & col_mask[None, :]
        acc += tl.load(part_ptr + ps.to(tl.int64)[:, None] * N + cols[None, :], mask=mask, other=0.0)
    tl.store(out_ptr + cols, cast_to(tl.sum(acc, axis=0), out_ptr.dtype.element_ty), mask=col_mask)


# ---------------------------------------------------------------- forward
@triton.jit
def _row_stats_loop(x_rows, row_mask, R, acc_type: tl.constexpr, RMS: tl.constexpr, BLOCK_M: tl.constexpr,
                    BLOCK_R: tl.constexpr):
    """(mean, M2) of each row in one read, chunk by chunk (rms: mean 0, M2 = sum of squares)."""
    n = tl.zeros((BLOCK_M,), acc_type)
    mean = tl.zeros((BLOCK_M,), acc_type)
    m2 = tl.zeros((BLOCK_M,), acc_type)
    for start in range(0, R, BLOCK_R):
        cols = start + tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (cols < R)[None, :]
        x = compute_type(tl.load(x_rows + cols[None, :], mask=mask, other=0.0)).to(acc_type)
        if RMS:
            m2 += tl.sum(x * x, axis=1)
        else:
            n_c = tl.minimum(R - start, BLOCK_R).to(acc_type)
            sum_c = tl.sum(x, axis=1)
            d = tl.where(mask, x - (sum_c / n_c)[:, None], 0.0)
            n, mean, m2 = chan_merge(n, mean, m2, n_c, sum_c, tl.sum(d * d, axis=1))
    return mean, m2


@triton.jit
def _affine(y, w_ptr, b_ptr, cols, col_mask, HAS_W: tl.constexpr, HAS_B: tl.constexpr):
    """y * w[cols] + b[cols] (whichever exist), per column."""
    if HAS_W:
        y = y * compute_type(tl.load(w_ptr + cols, mask=col_mask, other=0.0)).to(y.dtype)[None, :]
    if HAS_B:
        y = y + compute_type(tl.load(b_ptr + cols, mask=col_mask, other=0.0)).to(y.dtype)[None, :]
    return y


@fast_jit
def layer_norm_fwd_kernel(
    y_ptr,  # (M, R) output, x's dtype
    x_ptr,  # (M, R) input, rows contiguous
    w_ptr,  # (R,) weight (unused unless HAS_W)
    b_ptr,  # (R,) bias (unused unless HAS_B)
    mean_ptr,  # (M,) saved mean, fp32/fp64 (not written for rms)
    rstd_ptr,  # (M,) saved 1/sqrt(var + eps), fp32/fp64
    M, R,  # rows, row length
    sxm, sym,  # row strides of x and y (elements)
    eps,  # added to the variance
    RMS: tl.constexpr,  # rms_norm: no centring, no bias
    HAS_W: tl.constexpr, HAS_B: tl.constexpr,  # affine terms present
    ONE_PASS: tl.constexpr,  # R <= BLOCK_R: the row stays in registers
    BLOCK_M: tl.constexpr,  # rows per program
    BLOCK_R: tl.constexpr,  # row elements per tile
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_mask = rows < M
    acc_type: tl.constexpr = tl.float64 if x_ptr.dtype.element_ty == tl.float64 else tl.float32
    x_rows = x_ptr + rows.to(tl.int64)[:, None] * sxm
    y_rows = y_ptr + rows.to(tl.int64)[:, None] * sym
    if ONE_PASS:
        cols = tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (cols < R)[None, :]
        x = compute_type(tl.load(x_rows + cols[None, :], mask=mask, other=0.0)).to(acc_type)
        if RMS:
            mean = tl.zeros((BLOCK_M,), acc_type)
            xc = x
        else:
            mean = tl.sum(x, axis=1) / R
            xc = tl.where(mask, x - mean[:, None], 0.0)  # centred before squaring: no cancellation
        rstd = inv_std(tl.sum(xc * xc, axis=1) / R, eps)
        y = _affine(xc * rstd[:, None], w_ptr, b_ptr, cols, cols < R, HAS_W, HAS_B)
        tl.store(y_rows + cols[None, :], cast_to(y, y_ptr.dtype.element_ty), mask=mask)
    else:
        mean, m2 = _row_stats_loop(x_rows, row_mask, R, acc_type, RMS, BLOCK_M, BLOCK_R)
        rstd = inv_std(m2 / R, eps)
        for start in range(0, R, BLOCK_R):
            cols = start + tl.arange(0, BLOCK_R)
            mask = row_mask[:, None] & (cols < R)[None, :]
            x = compute_type(tl.load(x_rows + cols[None, :], mask=mask, other=0.0)).to(acc_type)
            y = _affine((x - mean[:, None]) * rstd[:, None], w_ptr, b_ptr, cols, cols < R, HAS_W, HAS_B)
            tl.store(y_rows + cols[None, :], cast_to(y, y_ptr.dtype.element_ty), mask=mask)
    if not RMS:
        tl.store(mean_ptr + rows, mean, mask=row_mask)
    tl.store(rstd_ptr + rows, rstd, mask=row_mask)


# ---------------------------------------------------------------- backward
@triton.jit
def _bwd_tile(x_rows, dy_rows, w_ptr, mean, rstd, cols, R, mask, acc_type: tl.constexpr, HAS_W: tl.constexpr):
    """(xhat, dy, w * dy) of one tile in the statistics' type."""
    x = compute_type(tl.load(x_rows + cols[None, :], mask=mask, other=0.0)).to(acc_type)
    dy = compute_type(tl.load(dy_rows + cols[None, :], mask=mask, other=0.0)).to(acc_type)
    xhat = tl.where(mask, (x - mean[:, None]) * rstd[:, None], 0.0)
    wdy = dy
    if HAS_W:
        wdy = dy * compute_type(tl.load(w_ptr + cols, mask=cols < R, other=0.0)).to(acc_type)[None, :]
    return xhat, dy, wdy


@triton.jit
def _dx(xhat, wdy, rstd, c1, c2, RMS: tl.constexpr):
    if RMS:
        return rstd[:, None] * (wdy - xhat * c1[:, None])
    else:
        return rstd[:, None] * (wdy - c2[:, None] - xhat * c1[:, None])


@fast_jit
def layer_norm_bwd_kernel(
    dx_ptr,  # (M, R) input gradient, x's dtype
    dy_ptr,  # (M, R) output gradient
    x_ptr,  # (M, R) saved input
    w_ptr,  # (R,) weight (unused unless HAS_W)
    mean_ptr, rstd_ptr,  # (M,) saved statistics (mean unused for rms)
    dwp_ptr, dbp_ptr,  # (P, R) fp32/fp64 partials of dw and db, row p = program p (used if NEED_DW/NEED_DB)
    M, R,
    sxm, sdym, sdxm,  # row strides of x, dy, dx
    RMS: tl.constexpr, HAS_W: tl.constexpr,
    NEED_DW: tl.constexpr, NEED_DB: tl.constexpr,  # write the weight / bias partials
    ONE_PASS: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_R: tl.constexpr,
):
    pid = tl.program_id(0)
    programs = tl.num_programs(0)
    acc_type: tl.constexpr = tl.float64 if x_ptr.dtype.element_ty == tl.float64 else tl.float32
    cols0 = tl.arange(0, BLOCK_R)
    dw_acc = tl.zeros((BLOCK_R,), acc_type)
    db_acc = tl.zeros((BLOCK_R,), acc_type)
    for blk in range(pid, tl.cdiv(M, BLOCK_M), programs):
        rows = blk * BLOCK_M + tl.arange(0, BLOCK_M)
        row_mask = rows < M
        rstd = tl.load(rstd_ptr + rows, mask=row_mask, other=0.0)
        mean = tl.zeros((BLOCK_M,), acc_type) if RMS else tl.load(mean_ptr + rows, mask=row_mask, other=0.0)
        r64 = rows.to(tl.int64)[:, None]
        x_rows, dy_rows, dx_rows = x_ptr + r64 * sxm, dy_ptr + r64 * sdym, dx_ptr + r64 * sdxm
        if ONE_PASS:
            mask = row_mask[:, None] & (cols0 < R)[None, :]
            xhat, dy, wdy = _bwd_tile(x_rows, dy_rows, w_ptr, mean, rstd, cols0, R, mask, acc_type, HAS_W)
            c1 = tl.sum(wdy * xhat, axis=1) / R
            c2 = tl.sum(wdy, axis=1) / R
            tl.store(dx_rows + cols0[None, :], cast_to(_dx(xhat, wdy, rstd, c1, c2, RMS), dx_ptr.dtype.element_ty),
                     mask=mask)
            if NEED_DW:
                dw_acc += tl.sum(dy * xhat, axis=0)
            if NEED_DB:
                db_acc += tl.sum(dy, axis=0)
        else:
            c1 = tl.zeros((BLOCK_M,), acc_type)
            c2 = tl.zeros((BLOCK_M,), acc_type)
            for start in range(0, R, BLOCK_R):
                cols = start + cols0
                mask = row_mask[:, None] & (cols < R)[None, :]
                xhat, dy, wdy = _bwd_tile(x_rows, dy_rows, w_ptr, mean, rstd, cols, R, mask, acc_type, HAS_W)
                c1 += tl.sum(wdy * xhat, axis=1)
                c2 += tl.sum(wdy, axis=1)
            c1, c2 = c1 / R, c2 / R
            for start in range(0, R, BLOCK_R):
                cols = start + cols0
                col_mask = cols < R
                mask = row_mask[:, None] & col_mask[None, :]
                xhat, dy, wdy = _bwd_tile(x_rows, dy_rows, w_ptr, mean, rstd, cols, R, mask, acc_type, HAS_W)
                tl.store(dx_rows + cols[None, :], cast_to(_dx(xhat, wdy, rstd, c1, c2, RMS), dx_ptr.dtype.element_ty),
                         mask=mask)
                # This program's row of the partials, per chunk: stored at its first block, accumulated after.
                first = blk == pid
                part = pid.to(tl.int64) * R + cols
                if NEED_DW:
                    prev = tl.load(dwp_ptr + part, mask=col_mask & (not first), other=0.0)
                    tl.store(dwp_ptr + part, prev + tl.sum(dy * xhat, axis=0), mask=col_mask)
                if NEED_DB:
                    prev = tl.load(dbp_ptr + part, mask=col_mask & (not first), other=0.0)
                    tl.store(dbp_ptr + part, prev + tl.sum(dy, axis=0), mask=col_mask)
    if ONE_PASS:
        part = pid.to(tl.int64) * R + cols0
        if NEED_DW:
            tl.store(dwp_ptr + part, dw_acc, mask=cols0 < R)
        if NEED_DB:
            tl.store(dbp_ptr + part, db_acc, mask=cols0 < R)


# ---------------------------------------------------------------- configs and tuning
TILE = 2048  # elements of a short-row tile (BLOCK_M rows of BLOCK_R); half of it in fp64 and the backward
# Rows past the one-pass limit: one row per program, looping over chunks.
# 4096-element chunks at 16 warps: 2048 at 8 warps spills 24 B in the unaligned fp16 build (AOT check, sm_90).
LOOP = dict(BLOCK_M=1, BLOCK_R=4096, num_warps=16, ONE_PASS=False)
_LOOPS = [LOOP, dict(BLOCK_M=1, BLOCK_R=1024, num_warps=4, ONE_PASS=False)]
# One-pass tile widths: rows are bucketed by 4x (64, 256, 1024, 4096, 8192) so that few builds cover every
# length; masked lanes of a wider tile cost registers, not memory traffic.
_WIDTHS = (64, 256, 1024, 4096, 8192)


def max_one_pass(backward: bool, fp64: bool) -> int:
    """Longest row kept in registers: the forward holds x (8192 at 32 warps), the backward x and dy and
    fp64 twice the registers per element (4096 at 16 warps)."""
    return 4096 if backward or fp64 else 8192


def row_width(R: int) -> int:
    """The one-pass tile width for rows of R elements (the smallest of _WIDTHS holding them)."""
    return next((w for w in _WIDTHS if w >= R), next_pow2(R))


def norm_config(R: int, backward: bool = False, fp64: bool = False) -> dict:
    """Launch config for rows of R elements: a shared tile for short rows, a row per program in registers
    up to `max_one_pass`, the chunked loop beyond. Shipped configs are spill-free in the sm_80 and sm_90 builds."""
    width = row_width(R)
    if width > max_one_pass(backward, fp64):
        return dict(LOOP)
    if width >= 4096:
        # 16 elements a thread (32 at 8 warps for 8192); 4096 at 16 warps spills in the unaligned 16-bit build.
        return dict(BLOCK_M=1, BLOCK_R=width, num_warps=width // 512 if width == 4096 else 32, ONE_PASS=True)
    tile = TILE // 2 if backward or fp64 else TILE
    return dict(BLOCK_M=max(1, tile // width), BLOCK_R=width, num_warps=4 if width * 2 <= tile else 8,
                ONE_PASS=True)


def _heuristic(key: tuple, backward: bool = False) -> dict:
    """Keys are (kind, dtype name, next_pow2(M), next_pow2(R))."""
    return norm_config(key[3], backward, key[1] == "float64")


def _space(key: tuple, space: str, backward: bool = False) -> list[dict]:
    """The heuristic, the same width at half/double the rows per program, and the loops (valid for any row)."""
    pick = _heuristic(key, backward)
    cands = [pick]
    if pick["ONE_PASS"] and pick["BLOCK_M"] > 1 and pick["BLOCK_R"] >= 256:
        # Half the tile at half the warps: the same elements per thread (8: 128-bit 16-bit loads), twice the programs
        # (64-wide rows spill so in the unaligned sm_80 backward).
        cands.append(dict(pick, BLOCK_M=pick["BLOCK_M"] // 2, num_warps=max(1, pick["num_warps"] // 2)))
    if backward and pick["ONE_PASS"] and pick["BLOCK_R"] == 4096:
        cands.append(dict(pick, num_warps=2 * pick["num_warps"]))  # 8 a thread; fewer warps spill (AOT check)
    cands += _LOOPS if space == "max" or not pick["ONE_PASS"] else [LOOP]
    return list({repr(c): c for c in cands}.values())


def _key(kind: str, x: DeviceArray, M: int, R: int) -> tuple:
    return kind, x.dtype.name, next_pow2(M), next_pow2(R)


FWD_TUNING = Tunable("norm_rows.layer_norm", _space, _heuristic,
                     lambda M, R, itemsize: Cost(2.0 * M * R * itemsize, 6.0 * M * R))
BWD_TUNING = Tunable("norm_rows.layer_norm_backward", lambda k, s: _space(k, s, True),
                     lambda k: _heuristic(k, True),
                     lambda M, R, itemsize: Cost(3.0 * M * R * itemsize, 12.0 * M * R))
_COL_SUM_SPACE = [dict(BLOCK_P=16, BLOCK_N=128, num_warps=4), dict(BLOCK_P=32, BLOCK_N=64, num_warps=4),
                  dict(BLOCK_P=8, BLOCK_N=256, num_warps=4)]
COL_SUM_TUNING = Tunable("norm_rows.col_sum", _COL_SUM_SPACE, lambda key: dict(_COL_SUM_SPACE[0]),
                         lambda P, N, itemsize: Cost(float(P) * N * itemsize, float(P) * N))


# ---------------------------------------------------------------- launch wrappers
def partial_rows(M: int) -> int:
    """Rows of the (P, R) weight/bias partial buffers `layer_norm_backward` needs for M rows: one per
    program of the persistent grid (at most two per SM)."""
    return max(1, min(M, 2 * tuning.sm_count()))


def _rows(a: DeviceArray) -> DeviceArray:
    if a.ndim != 2 or (a.shape[1] > 1 and a.strides[1] != 1):
        raise ValueError(f"expected an (M, R) view with contiguous rows, got shape {a.shape} strides {a.strides}")
    return a


def layer_norm(y: DeviceArray, x: DeviceArray, weight: DeviceArray | None, bias: DeviceArray | None,
               mean: DeviceArray | None, rstd: DeviceArray, eps: float, rms: bool = False) -> None:
    """y = (x - mean) * rstd * weight + bias over each row of x (M, R) (rms: x * rstd * weight, no bias).

    x, y: (M, R), rows contiguous; weight, bias: (R,) or None; mean (not for rms), rstd: (M,) fp32 (fp64
    for fp64 x) outputs saved for the backward."""
    x, y = _rows(x), _rows(y)
    M, R = x.shape
    if M == 0 or R == 0:
        return

    def run(cfg):
        layer_norm_fwd_kernel[(triton.cdiv(M, cfg["BLOCK_M"]),)](
            y, x, weight if weight is not None else x, bias if bias is not None else x,
            mean if mean is not None else rstd, rstd, M, R, x.strides[0], y.strides[0], eps,
            RMS=rms, HAS_W=weight is not None, HAS_B=bias is not None, **cfg)

    tuning.launch(FWD_TUNING, _key("rms" if rms else "ln", x, M, R), dict(M=M, R=R, itemsize=x.dtype.itemsize), run)


def col_sum(out: DeviceArray, part: DeviceArray) -> None:
    """out (N,) = part (P, N) summed over P in a fixed order; part contiguous."""
    P, N = part.shape
    if N == 0:
        return

    def run(cfg):
        col_sum_kernel[(triton.cdiv(N, cfg["BLOCK_N"]),)](out, part, P, N, **cfg)

    key = (part.dtype.name, out.dtype.name, next_pow2(P), next_pow2(N))
    tuning.launch(COL_SUM_TUNING, key, dict(P=P, N=N, itemsize=part.dtype.itemsize), run)


def layer_norm_backward(dx: DeviceArray, dy: DeviceArray, x: DeviceArray, weight: DeviceArray | None,
                        mean: DeviceArray | None, rstd: DeviceArray, dw_part: DeviceArray | None,
                        db_part: DeviceArray | None, rms: bool = False) -> int:
    """dx for y = layer_norm(x) (or rms_norm) from dy and the saved statistics; all (M, R) rows contiguous.

    dw_part / db_part: (partial_rows(M), R) fp32/fp64 scratch receiving per-program partial sums of dy * xhat
    and dy (None: that gradient is not needed). Returns how many partial rows were written: `col_sum` of
    those rows is dw (db)."""
    dx, dy, x = _rows(dx), _rows(dy), _rows(x)
    M, R = x.shape
    if M == 0 or R == 0:
        return 0
    used = [0]

    def run(cfg):
        programs = min(triton.cdiv(M, cfg["BLOCK_M"]), partial_rows(M))
        used[0] = programs
        layer_norm_bwd_kernel[(programs,)](
            dx, dy, x, weight if weight is not None else x, mean if mean is not None else rstd, rstd,
            dw_part if dw_part is not None else rstd, db_part if db_part is not None else rstd,
            M, R, x.strides[0], dy.strides[0], dx.strides[0], RMS=rms, HAS_W=weight is not None,
            NEED_DW=dw_part is not None, NEED_DB=db_part is not None, **cfg)

    tuning.launch(BWD_TUNING, _key("rms" if rms else "ln", x, M, R), dict(M=M, R=R, itemsize=x.dtype.itemsize), run)
    return used[0]


# ---------------------------------------------------------------- NumPy references
def acc_dtype(dtype: np.dtype) -> type:
    """The statistics' NumPy type for inputs of `dtype`: float64 for float64, else float32."""
    return np.float64 if dtype == np.float64 else np.float32


def _split_rows(fn, *arrays: np.ndarray) -> None:
    """fn(lo, hi) over the rows (all dims but the last) of same-shaped arrays, split over host_threads when every
    one is C-contiguous (each row's statistics inside one call: the bits do not depend on the thread count); one
    call over everything otherwise."""
    a = arrays[0]
    rows, r = a.shape
    if host_threads.runs_inline(rows, r):  # (no contiguity test needed: one call either way)
        if rows:
            fn(0, rows)
    elif all(b.flags.c_contiguous for b in arrays):
        host_threads.for_rows(fn, rows, r)
    else:
        fn(0, rows)


def _as_rows(a: np.ndarray, R: int) -> np.ndarray:
    """a as (rows, R) (a view when its layout allows), rows = every dim but the last; fine for R == 0."""
    return a.reshape(math.prod(a.shape[:-1]), R)  # math.prod: np.prod costs microseconds per call


def layer_norm_ref(x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None, eps: float,
                   rms: bool = False, keep_xhat: bool = False) -> tuple:
    """(y, mean, rstd) of layer_norm (rms_norm) over the last axis of x (M, R); y in x's dtype, statistics
    in float32 (float64 for float64); rms: mean is zeros. keep_xhat: a fourth result, the normalised x in the
    statistics' type, for layer_norm_backward_ref's `xhat` (None when y is that array itself: no weight, no bias,
    x in the statistics' type)."""
    acc = acc_dtype(x.dtype)
    shape = x.shape
    xf = x.astype(acc, copy=False)  # read only
    if len(shape) != 2:  # rows as a 2-D view (a copy if strided)
        xf = _as_rows(xf, shape[-1])
    lead = xf.shape[:-1]
    affine = weight is not None or bias is not None
    w = None if weight is None else weight.astype(acc, copy=False)
    b = None if bias is None else bias.astype(acc, copy=False)
    # One (M, R) array, the result, normalised, scaled and shifted in place (the cpu path's speed is memory
    # traffic: a temporary costs about a pass); a second one, xhat, only when it is kept for backward.
    mean = np.zeros(lead, acc) if rms else np.empty(lead, acc)
    rstd = np.empty(lead, acc)
    y = np.empty_like(xf)
    xhat = np.empty_like(xf) if keep_xhat and affine else y
    n, eps_ = acc(shape[-1]), acc(eps)

    def rows(lo: int, hi: int) -> None:
        xs, ns, rs, ms = xf[lo:hi], xhat[lo:hi], rstd[lo:hi], mean[lo:hi]
        if not rms:  # a dot per row with ones (host_threads.row_sums: ~2x np.add.reduce's pairwise sum) / R
            host_threads.row_sums(xs, out=ms)
            ms /= n
        np.subtract(xs, ms[:, None], out=ns)
        var = np.vecdot(ns, ns)  # sum of squares without a temporary (a BLAS dot per row)
        var /= n
        var += eps_
        np.divide(1.0, np.sqrt(var, out=var), out=rs)
        ns *= rs[:, None]
        if not affine:
            return
        ys = y[lo:hi]
        if w is not None:
            np.multiply(ns, w, out=ys)
        elif ns is not ys:
            np.copyto(ys, ns)
        if b is not None:
            ys += b

    # inf and NaN are values, not warnings (as PyTorch); no columns: 0 / 0, a NaN mean and variance. The block also
    # restores NumPy's buffer size on exit.
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        host_threads.unbuffer_rows(shape[-1])
        _split_rows(rows, xf, y)
    out = y if y.dtype == x.dtype else y.astype(x.dtype)
    kept = None if xhat is out else xhat  # y itself (no affine, no cast) is the caller's: never overwritten
    if len(shape) != 2:
        out, mean, rstd = out.reshape(shape), mean.reshape(shape[:-1]), rstd.reshape(shape[:-1])
    if keep_xhat:
        return out, mean, rstd, kept
    return out, mean, rstd


def layer_norm_backward_ref(dy: np.ndarray, x: np.ndarray, weight: np.ndarray | None, mean: np.ndarray,
                            rstd: np.ndarray, rms: bool = False, xhat: np.ndarray | None = None,
                            need_w: bool = True, need_b: bool = True) -> tuple:
    """(dx in x's dtype, dw, db in the statistics' type) of layer_norm (rms_norm) over the last axis of (M, R).

    xhat: layer_norm_ref's kept normalised x, which spares recomputing it; it is used up (overwritten: pass it
    once). need_w / need_b False: that result is None (its column sums skipped)."""
    acc = acc_dtype(x.dtype)
    shape, R = x.shape, x.shape[-1]
    g = _as_rows(dy.astype(acc, copy=False), R)
    mean, rstd = mean.reshape(-1), rstd.reshape(-1)
    if xhat is None:  # recomputed as the forward computed it: the same bits
        xf = _as_rows(x.astype(acc, copy=False), R)
        xhat = np.empty(xf.shape, acc)

        def normalise(lo: int, hi: int) -> None:
            np.subtract(xf[lo:hi], mean[lo:hi, None], out=xhat[lo:hi])
            xhat[lo:hi] *= rstd[lo:hi, None]

        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            host_threads.unbuffer_rows(R)
            _split_rows(normalise, xf, xhat)
    else:
        xhat = _as_rows(xhat, R)
    # Column sums over every row: one call each on the whole arrays (a reduction across rows is never split); db as
    # a BLAS product with ones (host_threads.col_sums: ~1.5x np.sum's speed along rows).
    dw = np.einsum("mr,mr->r", g, xhat).astype(acc, copy=False) if need_w else None
    db = host_threads.col_sums(g) if need_b else None
    wf = None if weight is None else weight.astype(acc, copy=False)  # (read only)
    dx = np.empty(g.shape, acc)
    count = np.intp(R)

    def rows(lo: int, hi: int) -> None:
        gs, ns, ds = g[lo:hi], xhat[lo:hi], dx[lo:hi]
        if wf is not None:
            np.multiply(gs, wf, out=ds)
        else:
            np.copyto(ds, gs)
        c1 = np.vecdot(ds, ns)[:, None] / R
        if not rms:  # the row means: a dot per row (host_threads.row_sums, ~2x a pairwise sum) / an intp count
            m = host_threads.row_sums(ds)[:, None]
            ds -= np.true_divide(m, count, out=m, casting="unsafe")
        ns *= c1
        ds -= ns
        ds *= rstd[lo:hi, None]

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        host_threads.unbuffer_rows(R)
        _split_rows(rows, g, xhat, dx)
    return dx.astype(x.dtype, copy=False).reshape(shape), dw, db


# ---------------------------------------------------------------- AOT / tuner declarations
_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "fp64": "float64"}


def _signature(names: list[str], dtype: str, ints: list[str], acc: str) -> dict[str, str]:
    sig = {}
    for n in names:
        sig[n] = f"*{acc}" if n in ("mean_ptr", "rstd_ptr", "dwp_ptr", "dbp_ptr") else f"*{dtype}"
    sig.update({n: "i32" for n in ints})
    return sig


def _declared(dtype: str, backward: bool) -> tuple[list[dict], list[dict]]:
    keys = [("ln", _DTYPES[dtype], 1 << 16, w) for w in _WIDTHS + (1 << 14,)]
    configs = list({repr(_heuristic(k, backward)): _heuristic(k, backward) for k in keys}.values())
    space = list({repr(c): c for k in keys for c in _space(k, "max", backward)}.values())
    return configs, space


def _specs() -> list[KernelSpec]:
    specs = []
    fwd_args = ["y_ptr", "x_ptr", "w_ptr", "b_ptr", "mean_ptr", "rstd_ptr"]
    bwd_args = ["dx_ptr", "dy_ptr", "x_ptr", "w_ptr", "mean_ptr", "rstd_ptr", "dwp_ptr", "dbp_ptr"]
    for rms, dtypes in ((False, ("fp32", "bf16", "fp16", "fp64")), (True, ("fp32", "bf16"))):
        name = "rms_norm" if rms else "layer_norm"
        for dtype in dtypes:
            acc = "fp64" if dtype == "fp64" else "fp32"
            sig = _signature(fwd_args, dtype, ["M", "R", "sxm", "sym"], acc)
            sig["eps"] = "fp32"
            specs.append(KernelSpec(f"norm_rows.{name}[{dtype}]", layer_norm_fwd_kernel, sig,
                                    dict(RMS=rms, HAS_W=True, HAS_B=not rms), *_declared(dtype, False),
                                    unit_args=()))
        for dtype in dtypes[:2]:
            sig = _signature(bwd_args, dtype, ["M", "R", "sxm", "sdym", "sdxm"], "fp32")
            specs.append(KernelSpec(f"norm_rows.{name}_backward[{dtype}]", layer_norm_bwd_kernel, sig,
                                    dict(RMS=rms, HAS_W=True, NEED_DW=True, NEED_DB=not rms),
                                    *_declared(dtype, True), unit_args=()))
    for acc, out in (("fp32", "fp32"), ("fp32", "bf16"), ("fp64", "fp64")):
        specs.append(KernelSpec(f"norm_rows.col_sum[{acc}->{out}]", col_sum_kernel,
                                dict(out_ptr=f"*{out}", part_ptr=f"*{acc}", P="i32", N="i32"), {},
                                _COL_SUM_SPACE[:1], _COL_SUM_SPACE, unit_args=()))
    return specs


SPECS = _specs()
