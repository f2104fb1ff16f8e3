"""layer_norm / rms_norm forward for few long rows: each row split across programs, in two stages.

M rows past the one-pass limit give the row kernel (kernels/norm_rows.py) only M programs; when that is under
2 x SM count, `split_plan` cuts every row into n_chunks chunks of CHUNK elements and
  stage 1  `norm_partials_kernel`, grid (M, n_chunks): a chunk's mean and squared deviations M2 (rms: its sum of
           squares), merged over BLOCK_R pieces with `chan_merge`, written to the (2, M, n_chunks) partials;
  stage 2  `norm_apply_kernel`, grid (M, n_chunks): every program combines its row's partials with one fixed tree
           (mean = sum(n_c mean_c) / R, M2 = sum(M2_c + n_c (mean_c - mean)^2)), so all programs of a row hold the
           same bits; chunk 0 stores mean and rstd, and each program normalises its own chunk.
x is read twice in all (as the looping row kernel reads it), by 2 x SM programs or more instead of M.

The backward splits the same rows: stage 1 (M, n_chunks) sums each chunk's w dy xhat and w dy; stage 2 gives each
program BLOCK_R columns of every row, so it writes dx there and sums dw / db over the (few) rows itself, in row
order: the weight gradients need no partial buffer and no combine.
"""

from __future__ import annotations

import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .norm_rows import chan_merge, inv_std, max_one_pass
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2

CHUNK = 8192  # elements of a row per program (a multiple of every BLOCK_R below)


def split_plan(M: int, R: int, fp64: bool = False) -> int | None:
    """n_chunks for M rows of R elements when the forward should split them (rows too long for one pass and too
    few to fill the GPU), else None. Depends only on the sizes and the SM count."""
    if M <= 0 or R <= max(max_one_pass(False, fp64), CHUNK) or M >= 2 * tuning.sm_count():
        return None
    return triton.cdiv(R, CHUNK)


def scratch_numel(M: int, R: int, fp64: bool = False) -> int:
    """Elements (fp32, fp64 for fp64 inputs) of the partials buffer `layer_norm_split` needs: 0 when not split."""
    n = split_plan(M, R, fp64)
    return 0 if n is None else 2 * M * n


@fast_jit
def norm_partials_kernel(
    part_ptr,  # (2, M, n_chunks) fp32/fp64: chunk mean, chunk M2 (rms: sum of squares)
    x_ptr,  # (M, R) input, rows contiguous
    M, R, sxm, n_chunks,
    RMS: tl.constexpr,
    CHUNK: tl.constexpr,  # elements per chunk
    BLOCK_R: tl.constexpr,  # elements per step
):
    row = tl.program_id(0)
    chunk = tl.program_id(1)
    acc_type: tl.constexpr = part_ptr.dtype.element_ty
    x_row = x_ptr + row.to(tl.int64) * sxm
    start = chunk * CHUNK
    n = tl.zeros((1,), acc_type)
    mean = tl.zeros((1,), acc_type)
    m2 = tl.zeros((1,), acc_type)
    for off in range(0, CHUNK, BLOCK_R):
        cols = start + off + tl.arange(0, BLOCK_R)
        mask = (cols < R)[None, :]
        x = compute_type(tl.load(x_row + cols[None, :], mask=mask, other=0.0)).to(acc_type)
        if RMS:
            m2 += tl.sum(x * x, axis=1)
        else:
            n_c = tl.maximum(tl.minimum(R - start - off, BLOCK_R), 0).to(acc_type)
            sum_c = tl.sum(x, axis=1)
            d = tl.where(mask, x - (sum_c / tl.maximum(n_c, 1.0))[:, None], 0.0)
            n, mean, m2 = chan_merge(n, mean, m2, n_c, sum_c, tl.sum(d * d, axis=1))
    slot = row.to(tl.int64) * n_chunks + chunk
    tl.store(part_ptr + slot + tl.arange(0, 1), mean)
    tl.store(part_ptr + M * n_chunks + slot + tl.arange(0, 1), m2)


@fast_jit
def norm_apply_kernel(
    y_ptr,  # (M, R) output
    x_ptr,  # (M, R) input
    w_ptr, b_ptr,  # (R,) weight, bias (unused unless HAS_W / HAS_B)
    mean_ptr, rstd_ptr,  # (M,) saved statistics (mean not for rms)
    part_ptr,  # (2, M, n_chunks) stage 1's partials
    M, R, sxm, sym, n_chunks,
    eps,
    RMS: tl.constexpr, HAS_W: tl.constexpr, HAS_B: tl.constexpr,
    CHUNK: tl.constexpr,
    BLOCK_C: tl.constexpr,  # >= n_chunks: the row's partials in one vector
    BLOCK_R: tl.constexpr,
):
    row = tl.program_id(0)
    chunk = tl.program_id(1)
    acc_type: tl.constexpr = part_ptr.dtype.element_ty
    cs = tl.arange(0, BLOCK_C)
    c_mask = cs < n_chunks
    slots = row.to(tl.int64) * n_chunks + cs
    mean_c = tl.load(part_ptr + slots, mask=c_mask, other=0.0)
    m2_c = tl.load(part_ptr + M * n_chunks + slots, mask=c_mask, other=0.0)
    if RMS:
        mean = tl.sum(mean_c, axis=0) * 0.0
        m2 = tl.sum(m2_c, axis=0)
    else:
        n_c = tl.minimum(tl.maximum(R - cs * CHUNK, 0), CHUNK).to(acc_type)
        mean = tl.sum(n_c * mean_c, axis=0) / R
        d = mean_c - mean
        m2 = tl.sum(m2_c + n_c * d * d, axis=0)
    rstd = inv_std(m2 / R, eps)
    if chunk == 0:
        if not RMS:
            tl.store(mean_ptr + row, mean)
        tl.store(rstd_ptr + row, rstd)
    x_row = x_ptr + row.to(tl.int64) * sxm
    y_row = y_ptr + row.to(tl.int64) * sym
    for off in range(0, CHUNK, BLOCK_R):
        cols = chunk * CHUNK + off + tl.arange(0, BLOCK_R)
        mask = cols < R
        x = compute_type(tl.load(x_row + cols, mask=mask, other=0.0)).to(acc_type)
        y = (x - mean) * rstd
        if HAS_W:
            y = y * compute_type(tl.load(w_ptr + cols, mask=mask, other=0.0)).to(acc_type)
        if HAS_B:
            y = y + compute_type(tl.load(b_ptr + cols, mask=mask, other=0.0)).to(acc_type)
        tl.store(y_row + cols, cast_to(y, y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _xhat_wdy(x_row, dy_row, w_ptr, cols, mask, mean, rstd, acc_type: tl.constexpr, HAS_W: tl.constexpr):
    x = compute_type(tl.load(x_row + cols, mask=mask, other=0.0)).to(acc_type)
    dy = compute_type(tl.load(dy_row + cols, mask=mask, other=0.0)).to(acc_type)
    xhat = tl.where(mask, (x - mean) * rstd, 0.0)
    wdy = dy * compute_type(tl.load(w_ptr + cols, mask=mask, other=0.0)).to(acc_type) if HAS_W else dy
    return xhat, dy, wdy


@fast_jit
def norm_bwd_partials_kernel(
    part_ptr,  # (2, M, n_chunks) fp32/fp64: a chunk's sum(w dy xhat) and sum(w dy)
    dy_ptr, x_ptr,  # (M, R) output gradient and saved input, rows contiguous
    w_ptr,  # (R,) weight (unused unless HAS_W)
    mean_ptr, rstd_ptr,  # (M,) saved statistics (mean unused for rms)
    M, R, sxm, sdym, n_chunks,
    RMS: tl.constexpr, HAS_W: tl.constexpr, CHUNK: tl.constexpr, BLOCK_R: tl.constexpr,
):
    row = tl.program_id(0)
    chunk = tl.program_id(1)
    acc_type: tl.constexpr = part_ptr.dtype.element_ty
    rstd = tl.load(rstd_ptr + row)
    mean = 0.0 if RMS else tl.load(mean_ptr + row)
    x_row = x_ptr + row.to(tl.int64) * sxm
    dy_row = dy_ptr + row.to(tl.int64) * sdym
    c1 = tl.zeros((BLOCK_R,), acc_type)
    c2 = tl.zeros((BLOCK_R,), acc_type)
    for off in range(0, CHUNK, BLOCK_R):
        cols = chunk * CHUNK + off + tl.arange(0, BLOCK_R)
        xhat, dy, wdy = _xhat_wdy(x_row, dy_row, w_ptr, cols, cols < R, mean, rstd, acc_type, HAS_W)
        c1 += wdy * xhat
        c2 += wdy
    slot = row.to(tl.int64) * n_chunks + chunk
    tl.store(part_ptr + slot, tl.sum(c1, axis=0))
    tl.store(part_ptr + M * n_chunks + slot, tl.sum(c2, axis=0))


@fast_jit
def norm_bwd_apply_kernel(
    dx_ptr,  # (M, R) input gradient
    dw_ptr, db_ptr,  # (R,) weight / bias gradients, the weight's dtype (written if NEED_DW / NEED_DB)
    dy_ptr, x_ptr, w_ptr, mean_ptr, rstd_ptr,
    part_ptr,  # (2, M, n_chunks) stage 1's partials
    M, R, sxm, sdym, sdxm, n_chunks,
    RMS: tl.constexpr, HAS_W: tl.constexpr, NEED_DW: tl.constexpr, NEED_DB: tl.constexpr,
    BLOCK_C: tl.constexpr,  # >= n_chunks
    BLOCK_R: tl.constexpr,  # columns per program
):
    """Each program owns BLOCK_R columns of every row: dx there, and dw / db summed over the rows in order."""
    acc_type: tl.constexpr = part_ptr.dtype.element_ty
    cols = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    mask = cols < R
    cs = tl.arange(0, BLOCK_C)
    dw = tl.zeros((BLOCK_R,), acc_type)
    db = tl.zeros((BLOCK_R,), acc_type)
    for row in range(0, M):
        slots = row * n_chunks + cs
        # The same fixed tree over the row's chunks in every program.
        c1 = tl.sum(tl.load(part_ptr + slots, mask=cs < n_chunks, other=0.0), axis=0) / R
        c2 = tl.sum(tl.load(part_ptr + M * n_chunks + slots, mask=cs < n_chunks, other=0.0), axis=0) / R
        rstd = tl.load(rstd_ptr + row)
        mean = 0.0 if RMS else tl.load(mean_ptr + row)
        r64 = tl.cast(row, tl.int64)  # a plain int under the interpreter
        xhat, dy, wdy = _xhat_wdy(x_ptr + r64 * sxm, dy_ptr + r64 * sdym, w_ptr, cols, mask, mean, rstd, acc_type,
                                  HAS_W)
        dx = wdy - xhat * c1 if RMS else wdy - c2 - xhat * c1
        tl.store(dx_ptr + r64 * sdxm + cols, cast_to(dx * rstd, dx_ptr.dtype.element_ty), mask=mask)
        dw += dy * xhat
        db += dy
    if NEED_DW:
        tl.store(dw_ptr + cols, cast_to(dw, dw_ptr.dtype.element_ty), mask=mask)
    if NEED_DB:
        tl.store(db_ptr + cols, cast_to(db, db_ptr.dtype.element_ty), mask=mask)


# 2048-element steps at 8 warps (8 a thread), or 4096 at 16.
_SPACE = [dict(BLOCK_R=2048, num_warps=8), dict(BLOCK_R=4096, num_warps=16)]
PARTIALS_TUNING = Tunable("norm_rows_split.norm_partials", _SPACE, lambda key: dict(_SPACE[1]),
                          lambda M, R, itemsize: Cost(float(M) * R * itemsize, 4.0 * M * R))
APPLY_TUNING = Tunable("norm_rows_split.norm_apply", _SPACE, lambda key: dict(_SPACE[1]),
                       lambda M, R, itemsize: Cost(2.0 * M * R * itemsize, 4.0 * M * R))


def layer_norm_split(y: DeviceArray, x: DeviceArray, weight: DeviceArray | None, bias: DeviceArray | None,
                     mean: DeviceArray | None, rstd: DeviceArray, scratch: DeviceArray, eps: float,
                     rms: bool = False) -> None:
    """norm_rows.layer_norm for rows `split_plan` splits; scratch: `scratch_numel(M, R)` fp32/fp64 elements."""
    M, R = x.shape
    n_chunks = split_plan(M, R, x.dtype.name == "float64")
    sizes = dict(M=M, R=R, itemsize=x.dtype.itemsize)
    key = ("rms" if rms else "ln", x.dtype.name, next_pow2(M), next_pow2(R))

    def partials(cfg):
        norm_partials_kernel[(M, n_chunks)](scratch, x, M, R, x.strides[0], n_chunks, RMS=rms, CHUNK=CHUNK, **cfg)

    def apply(cfg):
        norm_apply_kernel[(M, n_chunks)](
            y, x, weight if weight is not None else x, bias if bias is not None else x,
            mean if mean is not None else rstd, rstd, scratch, M, R, x.strides[0], y.strides[0], n_chunks, eps,
            RMS=rms, HAS_W=weight is not None, HAS_B=bias is not None, CHUNK=CHUNK,
            BLOCK_C=max(2, triton.next_power_of_2(n_chunks)), **cfg)

    tuning.launch(PARTIALS_TUNING, key, sizes, partials)
    tuning.launch(APPLY_TUNING, key, sizes, apply)


# The backward's column programs: 1024 columns at 4 warps (100 programs for a 10^5 row), or 512 at 2.
_BWD_SPACE = [dict(BLOCK_R=1024, num_warps=4), dict(BLOCK_R=512, num_warps=2)]
BWD_PARTIALS_TUNING = Tunable("norm_rows_split.norm_bwd_partials", _SPACE, lambda key: dict(_SPACE[1]),
                              lambda M, R, itemsize: Cost(2.0 * M * R * itemsize, 5.0 * M * R))
BWD_APPLY_TUNING = Tunable("norm_rows_split.norm_bwd_apply", _BWD_SPACE, lambda key: dict(_BWD_SPACE[0]),
                           lambda M, R, itemsize: Cost(3.0 * M * R * itemsize, 10.0 * M * R))


def layer_norm_backward_split(dx: DeviceArray, dw: DeviceArray | None, db: DeviceArray | None, dy: DeviceArray,
                              x: DeviceArray, weight: DeviceArray | None, mean: DeviceArray | None, rstd: DeviceArray,
                              scratch: DeviceArray, rms: bool = False) -> None:
    """norm_rows.layer_norm_backward for rows `split_plan` splits, writing dw / db (R,) directly (None: not needed);
    scratch: `scratch_numel(M, R)` fp32/fp64 elements. Stage 1 sums each chunk's w dy xhat and w dy; stage 2 runs
    one program per BLOCK_R columns over all (few) rows."""
    M, R = x.shape
    n_chunks = split_plan(M, R, x.dtype.name == "float64")
    sizes = dict(M=M, R=R, itemsize=x.dtype.itemsize)
    key = ("rms" if rms else "ln", x.dtype.name, next_pow2(M), next_pow2(R))
    w = weight if weight is not None else x
    m = mean if mean is not None else rstd

    def partials(cfg):
        norm_bwd_partials_kernel[(M, n_chunks)](scratch, dy, x, w, m, rstd, M, R, x.strides[0], dy.strides[0],
                                                n_chunks, RMS=rms, HAS_W=weight is not None, CHUNK=CHUNK, **cfg)

    def apply(cfg):
        norm_bwd_apply_kernel[(triton.cdiv(R, cfg["BLOCK_R"]),)](
            dx, dw if dw is not None else rstd, db if db is not None else rstd, dy, x, w, m, rstd, scratch,
            M, R, x.strides[0], dy.strides[0], dx.strides[0], n_chunks, RMS=rms, HAS_W=weight is not None,
            NEED_DW=dw is not None, NEED_DB=db is not None, BLOCK_C=max(2, triton.next_power_of_2(n_chunks)), **cfg)

    tuning.launch(BWD_PARTIALS_TUNING, key, sizes, partials)
    tuning.launch(BWD_APPLY_TUNING, key, sizes, apply)


def _specs() -> list[KernelSpec]:
    specs = []
    for dtype in ("fp32", "bf16", "fp16"):
        sig = dict(part_ptr="*fp32", x_ptr=f"*{dtype}", M="i32", R="i32", sxm="i32", n_chunks="i32")
        specs.append(KernelSpec(f"norm_rows_split.norm_partials[{dtype}]", norm_partials_kernel, sig,
                                dict(RMS=False, CHUNK=CHUNK), _SPACE[1:], _SPACE, unit_args=()))
        sig = dict(y_ptr=f"*{dtype}", x_ptr=f"*{dtype}", w_ptr=f"*{dtype}", b_ptr=f"*{dtype}", mean_ptr="*fp32",
                   rstd_ptr="*fp32", part_ptr="*fp32", M="i32", R="i32", sxm="i32", sym="i32", n_chunks="i32",
                   eps="fp32")
        specs.append(KernelSpec(f"norm_rows_split.norm_apply[{dtype}]", norm_apply_kernel, sig,
                                dict(RMS=False, HAS_W=True, HAS_B=True, CHUNK=CHUNK, BLOCK_C=64), _SPACE[1:], _SPACE,
                                unit_args=()))
    for dtype in ("fp32", "bf16"):
        sig = dict(part_ptr="*fp32", dy_ptr=f"*{dtype}", x_ptr=f"*{dtype}", w_ptr=f"*{dtype}", mean_ptr="*fp32",
                   rstd_ptr="*fp32", M="i32", R="i32", sxm="i32", sdym="i32", n_chunks="i32")
        specs.append(KernelSpec(f"norm_rows_split.norm_bwd_partials[{dtype}]", norm_bwd_partials_kernel, sig,
                                dict(RMS=False, HAS_W=True, CHUNK=CHUNK), _SPACE[1:], _SPACE, unit_args=()))
        sig = dict(dx_ptr=f"*{dtype}", dw_ptr=f"*{dtype}", db_ptr=f"*{dtype}", dy_ptr=f"*{dtype}", x_ptr=f"*{dtype}",
                   w_ptr=f"*{dtype}", mean_ptr="*fp32", rstd_ptr="*fp32", part_ptr="*fp32", M="i32", R="i32",
                   sxm="i32", sdym="i32", sdxm="i32", n_chunks="i32")
        specs.append(KernelSpec(f"norm_rows_split.norm_bwd_apply[{dtype}]", norm_bwd_apply_kernel, sig,
                                dict(RMS=False, HAS_W=True, NEED_DW=True, NEED_DB=True, BLOCK_C=64), _BWD_SPACE[:1],
                                _BWD_SPACE, unit_args=()))
    return specs


SPECS = _specs()
