"""Residual add + LayerNorm / RMSNorm in one kernel, forward and backward (a pre-norm transformer's
`x = x + f(ln(x)); h = ln2(x)` pair).

Forward, per row of (M, R) views with contiguous rows: s = x + residual (rounded to the storage dtype, as
the unfused add stores it), then y = layer_norm(s) (or rms_norm) from the same registers: x and the residual
are read once, s and y written once, with mean/rstd saved for the backward. The unfused pair reads s back.

Backward: with dy the gradient of y and ds that of s (the residual stream's gradient, when s is used),
    dx = d_residual = layer_norm_backward(dy) + ds
in one pass, plus per-program partials of dw = sum dy * shat and db = sum dy (kernels/norm_rows.py's
fixed-order `col_sum` reduces them). The unfused graph launches the norm's backward and then an add for
the two gradients meeting at s.

Rows are one pass only (R up to norm_rows.max_one_pass(backward=True), 4096): the op layer runs the unfused
pair for longer rows. The statistics, tile shapes and backward maths are kernels/norm_rows.py's.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from . import norm_rows as NR
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .norm_rows import inv_std
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, launch, next_pow2


@fast_jit
def add_norm_fwd_kernel(
    s_ptr,  # (M, R) output: x + residual
    y_ptr,  # (M, R) output: the normalized sum
    x_ptr, r_ptr,  # (M, R) inputs, rows contiguous
    w_ptr, b_ptr,  # (R,) affine weight / bias (unused unless HAS_W / HAS_B)
    mean_ptr, rstd_ptr,  # (M,) saved statistics, fp32/fp64 (mean not written for rms)
    M, R,  # rows, row length
    sxm, srm, ssm, sym,  # row strides of x, residual, s, y
    eps,  # added to the variance
    RMS: tl.constexpr, HAS_W: tl.constexpr, HAS_B: tl.constexpr,
    BLOCK_M: tl.constexpr,  # rows per program
    BLOCK_R: tl.constexpr,  # >= R: the row stays in registers
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_mask = rows < M
    acc_type: tl.constexpr = tl.float64 if x_ptr.dtype.element_ty == tl.float64 else tl.float32
    r64 = rows.to(tl.int64)[:, None]
    cols = tl.arange(0, BLOCK_R)
    mask = row_mask[:, None] & (cols < R)[None, :]
    x = compute_type(tl.load(x_ptr + r64 * sxm + cols[None, :], mask=mask, other=0.0))
    res = compute_type(tl.load(r_ptr + r64 * srm + cols[None, :], mask=mask, other=0.0))
    s = cast_to(x + res, s_ptr.dtype.element_ty)  # what the unfused add would store, and what the norm reads
    tl.store(s_ptr + r64 * ssm + cols[None, :], s, mask=mask)
    v = compute_type(s).to(acc_type)
    if RMS:
        mean = tl.zeros((BLOCK_M,), acc_type)
        vc = v
    else:
        mean = tl.sum(v, axis=1) / R
        vc = tl.where(mask, v - mean[:, None], 0.0)  # centred before squaring: no cancellation
    rstd = inv_std(tl.sum(vc * vc, axis=1) / R, eps)
    y = NR._affine(vc * rstd[:, None], w_ptr, b_ptr, cols, cols < R, HAS_W, HAS_B)
    tl.store(y_ptr + r64 * sym + cols[None, :], cast_to(y, y_ptr.dtype.element_ty), mask=mask)
    if not RMS:
        tl.store(mean_ptr + rows, mean, mask=row_mask)
    tl.store(rstd_ptr + rows, rstd, mask=row_mask)


@fast_jit
def add_norm_bwd_kernel(
    dx_ptr,  # (M, R) gradient of x and of the residual
    dy_ptr,  # (M, R) gradient of y
    ds_ptr,  # (M, R) gradient of s (read only when HAS_DS)
    s_ptr,  # (M, R) saved sum
    w_ptr,  # (R,) weight (unused unless HAS_W)
    mean_ptr, rstd_ptr,  # (M,) saved statistics (mean unused for rms)
    dwp_ptr, dbp_ptr,  # (P, R) fp32/fp64 partials of dw and db, row p = program p (used if NEED_DW/NEED_DB)
    M, R,
    ssm, sdym, sdsm, sdxm,  # row strides of s, dy, ds, dx
    RMS: tl.constexpr, HAS_W: tl.constexpr, HAS_DS: tl.constexpr,
    NEED_DW: tl.constexpr, NEED_DB: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_R: tl.constexpr,
):
    pid = tl.program_id(0)
    acc_type: tl.constexpr = tl.float64 if s_ptr.dtype.element_ty == tl.float64 else tl.float32
    cols = tl.arange(0, BLOCK_R)
    dw_acc = tl.zeros((BLOCK_R,), acc_type)
    db_acc = tl.zeros((BLOCK_R,), acc_type)
    for blk in range(pid, tl.cdiv(M, BLOCK_M), tl.num_programs(0)):
        rows = blk * BLOCK_M + tl.arange(0, BLOCK_M)
        row_mask = rows < M
        rstd = tl.load(rstd_ptr + rows, mask=row_mask, other=0.0)
        mean = tl.zeros((BLOCK_M,), acc_type) if RMS else tl.load(mean_ptr + rows, mask=row_mask, other=0.0)
        r64 = rows.to(tl.int64)[:, None]
        mask = row_mask[:, None] & (cols < R)[None, :]
        shat, dy, wdy = NR._bwd_tile(s_ptr + r64 * ssm, dy_ptr + r64 * sdym, w_ptr, mean, rstd, cols, R, mask,
                                     acc_type, HAS_W)
        c1 = tl.sum(wdy * shat, axis=1) / R
        c2 = tl.sum(wdy, axis=1) / R
        dx = NR._dx(shat, wdy, rstd, c1, c2, RMS)
        if HAS_DS:
            dx += compute_type(tl.load(ds_ptr + r64 * sdsm + cols[None, :], mask=mask, other=0.0)).to(acc_type)
        tl.store(dx_ptr + r64 * sdxm + cols[None, :], cast_to(dx, dx_ptr.dtype.element_ty), mask=mask)
        if NEED_DW:
            dw_acc += tl.sum(dy * shat, axis=0)
        if NEED_DB:
            db_acc += tl.sum(dy, axis=0)
    part = pid.to(tl.int64) * R + cols
    if NEED_DW:
        tl.store(dwp_ptr + part, dw_acc, mask=cols < R)
    if NEED_DB:
        tl.store(dbp_ptr + part, db_acc, mask=cols < R)


# ---------------------------------------------------------------- configs and launch wrappers
MAX_ROW = 4096  # one pass in both directions (norm_rows.max_one_pass(backward=True))


def supported(R: int) -> bool:
    """Whether rows of R elements run here (one pass); longer rows take the unfused add + norm."""
    return 0 < R <= MAX_ROW


def _strip(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k != "ONE_PASS"}  # always one pass here: no such constexpr


def _heuristic(key: tuple, backward: bool = False) -> dict:
    """norm_rows' tile for the key's (dtype, rows, row length) bucket: keys are (kind, dtype, M, R) as there. The
    backward's 16 x 64 tile holds ds beside norm_rows' operands and spills on sm_80 (AOT check): 8 rows there."""
    cfg = _strip(NR.norm_config(key[3], backward, key[1] == "float64"))
    if backward and cfg["BLOCK_R"] <= 64 and cfg["BLOCK_M"] > 8:
        cfg["BLOCK_M"] = 8
    return cfg


def _space(key: tuple, space: str, backward: bool = False) -> list[dict]:
    """The heuristic and norm_rows' other candidates that keep the row in registers (this kernel has no loop)."""
    theirs = _strip(NR.norm_config(key[3], backward, key[1] == "float64"))
    cands = [_heuristic(key, backward)] + [_strip(c) for c in NR._space(key, space, backward)
                                          if c["ONE_PASS"] and _strip(c) != theirs]
    return list({repr(c): c for c in cands}.values())


FWD_TUNING = Tunable("norm_residual.add_norm", _space, _heuristic,
                     lambda M, R, itemsize: Cost(4.0 * M * R * itemsize, 7.0 * M * R))
BWD_TUNING = Tunable("norm_residual.add_norm_backward", lambda k, s: _space(k, s, True), lambda k: _heuristic(k, True),
                     lambda M, R, itemsize: Cost(4.0 * M * R * itemsize, 13.0 * M * R))


def _rows(a: DeviceArray) -> DeviceArray:
    if a.ndim != 2 or (a.shape[1] > 1 and a.strides[1] != 1):
        raise ValueError(f"expected an (M, R) view with contiguous rows, got shape {a.shape} strides {a.strides}")
    return a


def add_norm(s: DeviceArray, y: DeviceArray, x: DeviceArray, residual: DeviceArray, weight: DeviceArray | None,
             bias: DeviceArray | None, mean: DeviceArray | None, rstd: DeviceArray, eps: float,
             rms: bool = False) -> None:
    """s = x + residual; y = layer_norm(s) (rms_norm: no centring, no bias) over rows of (M, R) views with
    contiguous rows, R <= MAX_ROW; mean (not for rms) and rstd (M,) fp32 (fp64 for fp64) saved for the backward."""
    s, y, x, residual = _rows(s), _rows(y), _rows(x), _rows(residual)
    M, R = x.shape
    if M == 0 or R == 0:
        return
    if not supported(R):
        raise ValueError(f"add_norm keeps a row in registers: R must be at most {MAX_ROW}, got {R}")

    def run(cfg):
        add_norm_fwd_kernel[(triton.cdiv(M, cfg["BLOCK_M"]),)](
            s, y, x, residual, weight if weight is not None else x, bias if bias is not None else x,
            mean if mean is not None else rstd, rstd, M, R, x.strides[0], residual.strides[0], s.strides[0],
            y.strides[0], eps, RMS=rms, HAS_W=weight is not None, HAS_B=bias is not None,
            **cfg)

    key = ("rms" if rms else "ln", x.dtype.name, next_pow2(M), next_pow2(R))
    launch(FWD_TUNING, key, dict(M=M, R=R, itemsize=x.dtype.itemsize), run)


def add_norm_backward(dx: DeviceArray, dy: DeviceArray, ds: DeviceArray | None, s: DeviceArray,
                      weight: DeviceArray | None, mean: DeviceArray | None, rstd: DeviceArray,
                      dw_part: DeviceArray | None, db_part: DeviceArray | None, rms: bool = False) -> int:
    """dx = norm_backward(dy) + ds (ds None: no gradient reached s) over (M, R) rows; dw_part / db_part:
    (norm_rows.partial_rows(M), R) fp32/fp64 partials (None: not needed). Returns the partial rows written."""
    dx, dy, s = _rows(dx), _rows(dy), _rows(s)
    M, R = s.shape
    if M == 0 or R == 0:
        return 0
    if not supported(R):
        raise ValueError(f"add_norm_backward keeps a row in registers: R must be at most {MAX_ROW}, got {R}")
    ds_arg = _rows(ds) if ds is not None else dy
    used = [0]

    def run(cfg):
        programs = min(triton.cdiv(M, cfg["BLOCK_M"]), NR.partial_rows(M))
        used[0] = programs
        add_norm_bwd_kernel[(programs,)](
            dx, dy, ds_arg, s, weight if weight is not None else s, mean if mean is not None else rstd, rstd,
            dw_part if dw_part is not None else rstd, db_part if db_part is not None else rstd, M, R,
            s.strides[0], dy.strides[0], ds_arg.strides[0], dx.strides[0], RMS=rms, HAS_W=weight is not None,
            HAS_DS=ds is not None, NEED_DW=dw_part is not None, NEED_DB=db_part is not None,
            **cfg)

    key = ("rms" if rms else "ln", s.dtype.name, next_pow2(M), next_pow2(R))
    launch(BWD_TUNING, key, dict(M=M, R=R, itemsize=s.dtype.itemsize), run)
    return used[0]


# ---------------------------------------------------------------- NumPy references
def add_norm_ref(x: np.ndarray, residual: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None,
                 eps: float, rms: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(s, y, mean, rstd): s = x + residual in x's dtype (16-bit: summed in fp32, rounded once), then
    norm_rows.layer_norm_ref of s."""
    if x.dtype.itemsize < 4:
        s = np.add(x, residual, dtype=np.float32).astype(x.dtype)
    else:
        s = np.add(x, residual)
    return (s, *NR.layer_norm_ref(s, weight, bias, eps, rms))


def add_norm_backward_ref(dy: np.ndarray, ds: np.ndarray | None, s: np.ndarray, weight: np.ndarray | None,
                          mean: np.ndarray, rstd: np.ndarray, rms: bool = False
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dw, db): norm_rows.layer_norm_backward_ref's, with ds added to dx (in the statistics' type)."""
    acc = NR.acc_dtype(s.dtype)
    dx, dw, db = NR.layer_norm_backward_ref(dy, s, weight, mean, rstd, rms)
    if ds is not None and dx.dtype == acc:
        dx += ds  # in place: no temporary (the cpu path's speed is memory traffic)
    elif ds is not None:  # 16-bit: the unfused add's fp32 sum, rounded once
        dx = np.add(dx, ds, dtype=np.float32).astype(s.dtype)
    return dx, dw, db


# ---------------------------------------------------------------- AOT / tuner declarations
_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "fp64": "float64"}
_WIDTHS = (64, 256, 1024, 4096)


def _declared(dtype: str, backward: bool) -> tuple[list[dict], list[dict]]:
    keys = [("ln", _DTYPES[dtype], 1 << 16, w) for w in _WIDTHS]
    configs = list({repr(_heuristic(k, backward)): _heuristic(k, backward) for k in keys}.values())
    space = list({repr(c): c for k in keys for c in _space(k, "max", backward)}.values())
    return configs, space


def _specs() -> list[KernelSpec]:
    specs = []
    for rms, dtypes in ((False, ("fp32", "bf16", "fp16", "fp64")), (True, ("fp32", "bf16"))):
        kind = "rms" if rms else "ln"  # named as the Tunables' keys, so the tuner finds each launch's spec
        for dtype in dtypes:
            acc = "fp64" if dtype == "fp64" else "fp32"
            sig = {n: f"*{dtype}" for n in ("s_ptr", "y_ptr", "x_ptr", "r_ptr", "w_ptr", "b_ptr")}
            sig.update(mean_ptr=f"*{acc}", rstd_ptr=f"*{acc}", M="i32", R="i32", sxm="i32", srm="i32", ssm="i32",
                       sym="i32", eps="fp32")
            specs.append(KernelSpec(f"norm_residual.add_norm[{kind}:{dtype}]", add_norm_fwd_kernel, sig,
                                    dict(RMS=rms, HAS_W=True, HAS_B=not rms), *_declared(dtype, False),
                                    unit_args=()))
        for dtype in dtypes[:2]:
            sig = {n: f"*{dtype}" for n in ("dx_ptr", "dy_ptr", "ds_ptr", "s_ptr", "w_ptr")}
            sig.update({n: "*fp32" for n in ("mean_ptr", "rstd_ptr", "dwp_ptr", "dbp_ptr")})
            sig.update({n: "i32" for n in ("M", "R", "ssm", "sdym", "sdsm", "sdxm")})
            # 16-bit rows of <= 64: the 8 x 64 tile (see _heuristic) is 4 elements (64 bits) a thread; 8 a thread
            # (128-bit) spills with ds beside norm_rows' operands, so those builds are exempt from the width rule.
            wide = (lambda cfg: cfg["BLOCK_R"] > 64) if dtype != "fp32" else True
            specs.append(KernelSpec(f"norm_residual.add_norm_backward[{kind}:{dtype}]", add_norm_bwd_kernel, sig,
                                    dict(RMS=rms, HAS_W=True, HAS_DS=True, NEED_DW=True, NEED_DB=not rms),
                                    *_declared(dtype, True), unit_args=(), memory_bound=wide))
    return specs


SPECS = _specs()
