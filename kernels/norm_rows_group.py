"""group_norm (and instance_norm, its groups of one channel), forward and backward, fused.

The op layer hands x contiguous as (N, C, S) (S: the spatial size, 1 for (N, C) inputs). Row m = n * G + g is
the group's CPG = C / G channels, a contiguous run of CPG * S elements; one program owns one row and sees it
as a (BLOCK_C channels, BLOCK_S positions) tile, so the per-channel affine terms are one load per tile row and
the per-channel sums the weight gradients need are the tile's row sums. A group that fits one tile (ONE_PASS)
is read once: mean, then the centred squares, then the output from the same registers. A larger group is
read tile by tile, each tile's statistics merged into the row's running (count, mean, M2) (`chan_merge`),
then written in a second sweep. mean and rstd (N * G, fp32/fp64) are saved for the backward.

Backward, xhat = (x - mean) * rstd and wdy = w[c] * dy:
  dx = rstd * (wdy - mean(wdy) - xhat * mean(wdy * xhat))   (means over the group)
The same sweep writes, per (n, c), sum_s(dy * xhat) and sum_s(dy) to two (N, C) buffers; dw and db are
their column sums over N (`norm_rows.col_sum`, a fixed order): no second pass over x or dy.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .norm_rows import acc_dtype, chan_merge, inv_std
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2


@triton.jit
def _tile(x_ptr, base, c0, s0, CPG, S, acc_type: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr):
    """(channels, positions, mask, x) of the (BLOCK_C, BLOCK_S) tile at channel c0, position s0 of a row."""
    cs = c0 + tl.arange(0, BLOCK_C)
    ss = s0 + tl.arange(0, BLOCK_S)
    mask = (cs < CPG)[:, None] & (ss < S)[None, :]
    x = compute_type(tl.load(x_ptr + base + cs[:, None] * S + ss[None, :], mask=mask, other=0.0))
    return cs, ss, mask, x.to(acc_type)


@triton.jit
def _channel(ptr, ch0, cs, CPG, acc_type: tl.constexpr):
    """A per-channel vector (weight, bias) at the tile's channels, as a (BLOCK_C, 1) column."""
    return compute_type(tl.load(ptr + ch0 + cs, mask=cs < CPG, other=0.0)).to(acc_type)[:, None]


@fast_jit
def group_norm_fwd_kernel(
    y_ptr,  # (N, C, S) output, x's dtype, contiguous
    x_ptr,  # (N, C, S) input, contiguous
    w_ptr, b_ptr,  # (C,) weight and bias (unused unless HAS_W / HAS_B)
    mean_ptr, rstd_ptr,  # (N * G,) saved statistics, fp32/fp64
    G, CPG, S,  # groups, channels per group, spatial size
    eps,
    HAS_W: tl.constexpr, HAS_B: tl.constexpr,
    ONE_PASS: tl.constexpr,  # the group fits one tile
    BLOCK_C: tl.constexpr,  # channels per tile
    BLOCK_S: tl.constexpr,  # positions per tile
):
    row = tl.program_id(0)
    acc_type: tl.constexpr = tl.float64 if x_ptr.dtype.element_ty == tl.float64 else tl.float32
    R = CPG * S
    base = row.to(tl.int64) * R
    ch0 = (row % G) * CPG  # first channel of the group
    if ONE_PASS:
        cs, ss, mask, x = _tile(x_ptr, base, 0, 0, CPG, S, acc_type, BLOCK_C, BLOCK_S)
        mean = tl.sum(tl.sum(x, axis=1), axis=0) / R
        xc = tl.where(mask, x - mean, 0.0)
        rstd = inv_std(tl.sum(tl.sum(xc * xc, axis=1), axis=0) / R, eps)
        y = xc * rstd
        if HAS_W:
            y = y * _channel(w_ptr, ch0, cs, CPG, acc_type)
        if HAS_B:
            y = y + _channel(b_ptr, ch0, cs, CPG, acc_type)
        tl.store(y_ptr + base + cs[:, None] * S + ss[None, :], cast_to(y, y_ptr.dtype.element_ty), mask=mask)
    else:
        n = tl.full((), 0.0, acc_type)
        mean = tl.full((), 0.0, acc_type)
        m2 = tl.full((), 0.0, acc_type)
        for c0 in range(0, CPG, BLOCK_C):
            for s0 in range(0, S, BLOCK_S):
                cs, ss, mask, x = _tile(x_ptr, base, c0, s0, CPG, S, acc_type, BLOCK_C, BLOCK_S)
                n_c = (tl.minimum(CPG - c0, BLOCK_C) * tl.minimum(S - s0, BLOCK_S)).to(acc_type)
                sum_c = tl.sum(tl.sum(x, axis=1), axis=0)
                d = tl.where(mask, x - sum_c / n_c, 0.0)
                n, mean, m2 = chan_merge(n, mean, m2, n_c, sum_c, tl.sum(tl.sum(d * d, axis=1), axis=0))
        rstd = inv_std(m2 / R, eps)
        for c0 in range(0, CPG, BLOCK_C):
            for s0 in range(0, S, BLOCK_S):
                cs, ss, mask, x = _tile(x_ptr, base, c0, s0, CPG, S, acc_type, BLOCK_C, BLOCK_S)
                y = (x - mean) * rstd
                if HAS_W:
                    y = y * _channel(w_ptr, ch0, cs, CPG, acc_type)
                if HAS_B:
                    y = y + _channel(b_ptr, ch0, cs, CPG, acc_type)
                tl.store(y_ptr + base + cs[:, None] * S + ss[None, :], cast_to(y, y_ptr.dtype.element_ty), mask=mask)
    tl.store(mean_ptr + row, mean)
    tl.store(rstd_ptr + row, rstd)


@triton.jit
def _bwd_tile(x_ptr, dy_ptr, w_ptr, base, ch0, c0, s0, CPG, S, mean, rstd, acc_type: tl.constexpr,
              HAS_W: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr):
    """(channels, positions, mask, xhat, dy, w * dy) of one tile."""
    cs, ss, mask, x = _tile(x_ptr, base, c0, s0, CPG, S, acc_type, BLOCK_C, BLOCK_S)
    dy = compute_type(tl.load(dy_ptr + base + cs[:, None] * S + ss[None, :], mask=mask, other=0.0)).to(acc_type)
    xhat = tl.where(mask, (x - mean) * rstd, 0.0)
    wdy = dy * _channel(w_ptr, ch0, cs, CPG, acc_type) if HAS_W else dy
    return cs, ss, mask, xhat, dy, wdy


@fast_jit
def group_norm_bwd_kernel(
    dx_ptr,  # (N, C, S) input gradient, contiguous
    dy_ptr,  # (N, C, S) output gradient, contiguous
    x_ptr,  # (N, C, S) saved input
    w_ptr,  # (C,) weight (unused unless HAS_W)
    mean_ptr, rstd_ptr,  # (N * G,) saved statistics
    dwp_ptr, dbp_ptr,  # (N, C) fp32/fp64: sum over positions of dy * xhat and of dy (if NEED_WB)
    G, CPG, S,
    HAS_W: tl.constexpr, NEED_WB: tl.constexpr,
    ONE_PASS: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr,
):
    row = tl.program_id(0)
    acc_type: tl.constexpr = tl.float64 if x_ptr.dtype.element_ty == tl.float64 else tl.float32
    R = CPG * S
    base = row.to(tl.int64) * R
    ch0 = (row % G) * CPG
    part = row.to(tl.int64) * CPG  # (n, g * CPG) in the (N, C) buffers
    mean = tl.load(mean_ptr + row)
    rstd = tl.load(rstd_ptr + row)
    if ONE_PASS:
        cs, ss, mask, xhat, dy, wdy = _bwd_tile(x_ptr, dy_ptr, w_ptr, base, ch0, 0, 0, CPG, S, mean, rstd,
                                                acc_type, HAS_W, BLOCK_C, BLOCK_S)
        c1 = tl.sum(tl.sum(wdy * xhat, axis=1), axis=0) / R
        c2 = tl.sum(tl.sum(wdy, axis=1), axis=0) / R
        dx = rstd * (wdy - c2 - xhat * c1)
        tl.store(dx_ptr + base + cs[:, None] * S + ss[None, :], cast_to(dx, dx_ptr.dtype.element_ty), mask=mask)
        if NEED_WB:
            tl.store(dwp_ptr + part + cs, tl.sum(dy * xhat, axis=1), mask=cs < CPG)
            tl.store(dbp_ptr + part + cs, tl.sum(dy, axis=1), mask=cs < CPG)
    else:
        c1 = tl.full((), 0.0, acc_type)
        c2 = tl.full((), 0.0, acc_type)
        for c0 in range(0, CPG, BLOCK_C):
            dw_c = tl.zeros((BLOCK_C,), acc_type)
            db_c = tl.zeros((BLOCK_C,), acc_type)
            for s0 in range(0, S, BLOCK_S):
                cs, ss, mask, xhat, dy, wdy = _bwd_tile(x_ptr, dy_ptr, w_ptr, base, ch0, c0, s0, CPG, S, mean, rstd,
                                                        acc_type, HAS_W, BLOCK_C, BLOCK_S)
                c1 += tl.sum(tl.sum(wdy * xhat, axis=1), axis=0)
                c2 += tl.sum(tl.sum(wdy, axis=1), axis=0)
                dw_c += tl.sum(dy * xhat, axis=1)
                db_c += tl.sum(dy, axis=1)
            if NEED_WB:  # a block of channels is complete once its positions are swept
                cs = c0 + tl.arange(0, BLOCK_C)
                tl.store(dwp_ptr + part + cs, dw_c, mask=cs < CPG)
                tl.store(dbp_ptr + part + cs, db_c, mask=cs < CPG)
        c1, c2 = c1 / R, c2 / R
        for c0 in range(0, CPG, BLOCK_C):
            for s0 in range(0, S, BLOCK_S):
                cs, ss, mask, xhat, dy, wdy = _bwd_tile(x_ptr, dy_ptr, w_ptr, base, ch0, c0, s0, CPG, S, mean, rstd,
                                                        acc_type, HAS_W, BLOCK_C, BLOCK_S)
                dx = rstd * (wdy - c2 - xhat * c1)
                tl.store(dx_ptr + base + cs[:, None] * S + ss[None, :], cast_to(dx, dx_ptr.dtype.element_ty),
                         mask=mask)


# ---------------------------------------------------------------- configs and tuning
ONE_PASS_LIMIT = 4096  # tile elements held in registers (x and dy in the backward): 16 per thread at 8 warps
MIN_TILE = 256  # one warp, 8 elements a thread: the least tile whose 16-bit loads can be 128 bits wide


def group_config(CPG: int, S: int) -> dict:
    """A (BLOCK_C, BLOCK_S) tile for groups of CPG channels of S positions (bucketed by next_pow2): the whole
    group when it fits ONE_PASS_LIMIT, else up to 2048-element tiles swept in a loop."""
    bc, bs = next_pow2(max(CPG, 1)), next_pow2(max(S, 1))
    if bc * bs <= ONE_PASS_LIMIT:
        if 1 < bs and bc * bs < MIN_TILE:
            bs = MIN_TILE // bc  # masked lanes, so that each thread owns 8 contiguous elements (128-bit loads)
        return dict(BLOCK_C=bc, BLOCK_S=bs, num_warps=max(1, min(8, bc * bs // 256)), ONE_PASS=True)
    block_s = min(bs, 2048)
    return dict(BLOCK_C=max(1, min(bc, 2048 // block_s)), BLOCK_S=block_s, num_warps=8, ONE_PASS=False)


def _heuristic(key: tuple) -> dict:
    """Keys are (dtype name, next_pow2(CPG), next_pow2(S))."""
    return group_config(key[1], key[2])


def _space(key: tuple, space: str) -> list[dict]:
    """The heuristic at its own and at half the warps (more warps would leave 16-bit lanes under 8 elements: no
    128-bit loads), and a 1024-element loop tile for groups the heuristic holds whole."""
    pick = _heuristic(key)
    cands = [pick, dict(pick, num_warps=max(1, pick["num_warps"] // 2))]
    if pick["ONE_PASS"] and pick["BLOCK_C"] * pick["BLOCK_S"] > 1024:
        bs = min(pick["BLOCK_S"], 1024)
        cands.append(dict(BLOCK_C=max(1, 1024 // bs), BLOCK_S=bs, num_warps=4, ONE_PASS=False))
    return list({repr(c): c for c in cands}.values())


FWD_TUNING = Tunable("norm_rows_group.group_norm", _space, _heuristic,
                     lambda rows, R, itemsize: Cost(2.0 * rows * R * itemsize, 6.0 * rows * R))
BWD_TUNING = Tunable("norm_rows_group.group_norm_backward", _space, _heuristic,
                     lambda rows, R, itemsize: Cost(3.0 * rows * R * itemsize, 12.0 * rows * R))


def _check(x: DeviceArray) -> tuple[int, int, int]:
    if x.ndim != 3 or not x.is_contiguous():
        raise ValueError(f"expected a contiguous (N, C, S) array, got shape {x.shape} strides {x.strides}")
    return x.shape


def group_norm(y: DeviceArray, x: DeviceArray, weight: DeviceArray | None, bias: DeviceArray | None,
               mean: DeviceArray, rstd: DeviceArray, groups: int, eps: float) -> None:
    """y = (x - mean_g) * rstd_g * weight[c] + bias[c] over the groups of x (N, C, S) (contiguous).

    weight, bias: (C,) or None; mean, rstd: (N * groups,) fp32 (fp64 for fp64 x) outputs."""
    N, C, S = _check(x)
    CPG = C // groups
    if N * C * S == 0:
        return

    def run(cfg):
        group_norm_fwd_kernel[(N * groups,)](
            y, x, weight if weight is not None else x, bias if bias is not None else x, mean, rstd,
            groups, CPG, S, eps, HAS_W=weight is not None, HAS_B=bias is not None, **cfg)

    key = (x.dtype.name, next_pow2(CPG), next_pow2(S))
    tuning.launch(FWD_TUNING, key, dict(rows=N * groups, R=CPG * S, itemsize=x.dtype.itemsize), run)


def group_norm_backward(dx: DeviceArray, dy: DeviceArray, x: DeviceArray, weight: DeviceArray | None,
                        mean: DeviceArray, rstd: DeviceArray, dw_part: DeviceArray | None,
                        db_part: DeviceArray | None, groups: int) -> None:
    """dx of group_norm from dy (contiguous (N, C, S)) and the saved statistics; dw_part, db_part: (N, C)
    fp32/fp64 scratch receiving sum over positions of dy * xhat and dy (both or neither)."""
    N, C, S = _check(x)
    CPG = C // groups
    if N * C * S == 0:
        return
    need = dw_part is not None

    def run(cfg):
        group_norm_bwd_kernel[(N * groups,)](
            dx, dy, x, weight if weight is not None else x, mean, rstd,
            dw_part if need else rstd, db_part if need else rstd, groups, CPG, S,
            HAS_W=weight is not None, NEED_WB=need, **cfg)

    key = (x.dtype.name, next_pow2(CPG), next_pow2(S))
    tuning.launch(BWD_TUNING, key, dict(rows=N * groups, R=CPG * S, itemsize=x.dtype.itemsize), run)


# ---------------------------------------------------------------- NumPy references
def group_norm_ref(x: np.ndarray, groups: int, weight: np.ndarray | None, bias: np.ndarray | None,
                   eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y in x's dtype, mean, rstd (N * groups,) in float32/float64) of group_norm of x (N, C, S)."""
    N, C, S = x.shape
    acc = acc_dtype(x.dtype)
    xg = x.astype(acc).reshape(N, groups, C // groups * S)
    mean = xg.mean(-1)
    xc = xg - mean[..., None]
    rstd = (1.0 / np.sqrt((xc * xc).mean(-1) + acc(eps))).astype(acc)
    y = (xc * rstd[..., None]).reshape(N, C, S)
    if weight is not None:
        y = y * weight.astype(acc)[:, None]
    if bias is not None:
        y = y + bias.astype(acc)[:, None]
    return y.astype(x.dtype), mean.reshape(-1).astype(acc), rstd.reshape(-1)


def group_norm_backward_ref(dy: np.ndarray, x: np.ndarray, weight: np.ndarray | None, mean: np.ndarray,
                            rstd: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx in x's dtype, dw, db (C,) in the statistics' type) of group_norm over x (N, C, S)."""
    N, C, S = x.shape
    acc = acc_dtype(x.dtype)
    g = dy.astype(acc)
    xhat = ((x.astype(acc).reshape(N, groups, C // groups * S) - mean.reshape(N, groups, 1))
            * rstd.reshape(N, groups, 1)).reshape(N, C, S)
    wdy = g * weight.astype(acc)[:, None] if weight is not None else g
    wg, xg = wdy.reshape(N, groups, C // groups * S), xhat.reshape(N, groups, C // groups * S)
    dx = (wg - wg.mean(-1, keepdims=True) - xg * (wg * xg).mean(-1, keepdims=True)) * rstd.reshape(N, groups, 1)
    return dx.reshape(N, C, S).astype(x.dtype), (g * xhat).sum((0, 2)).astype(acc), g.sum((0, 2)).astype(acc)


# ---------------------------------------------------------------- AOT / tuner declarations
_KEYS = [(cpg, s) for cpg, s in ((1, 64), (1, 1024), (1, 4096), (8, 64), (16, 256), (4, 16384), (32, 1))]


def _declared() -> tuple[list[dict], list[dict]]:
    keys = [("float32", cpg, s) for cpg, s in _KEYS]
    configs = list({repr(_heuristic(k)): _heuristic(k) for k in keys}.values())
    space = list({repr(c): c for k in keys for c in _space(k, "max")}.values())
    return configs, space


def _specs() -> list[KernelSpec]:
    """Groups of whole positions (S > 1) and of channels only (S == 1, as a (N, C) input: the JIT makes S the
    constant 1, so the channel axis is the contiguous one), forward for every 16/32-bit dtype, backward fp32/bf16."""
    specs = []
    configs, space = _declared()
    for unit in (False, True):
        shipped = [c for c in configs if (c["BLOCK_S"] == 1) == unit]
        tried = [c for c in space if (c["BLOCK_S"] == 1) == unit]
        # memory_bound=False for S == 1: a group is CPG channels of one element, at most 32 per program at one
        # warp (one element a lane); vectors need several groups per program, which this kernel does not do.
        suffix, units = ("_channels", ("S",)) if unit else ("", ())
        # A group of <= 32 one-element channels is one warp, one element a lane: no block or warp count differs.
        single = "a group of one-element channels fills one warp exactly" if len(tried) < 2 else ""
        for dtype in ("fp32", "bf16", "fp16"):
            sig = dict(y_ptr=f"*{dtype}", x_ptr=f"*{dtype}", w_ptr=f"*{dtype}", b_ptr=f"*{dtype}", mean_ptr="*fp32",
                       rstd_ptr="*fp32", G="i32", CPG="i32", S="i32", eps="fp32")
            specs.append(KernelSpec(f"norm_rows_group.group_norm{suffix}[{dtype}]", group_norm_fwd_kernel, sig,
                                    dict(HAS_W=True, HAS_B=True), shipped, tried, unit_args=units,
                                    memory_bound=not unit, single=single))
        for dtype in ("fp32", "bf16"):
            sig = dict(dx_ptr=f"*{dtype}", dy_ptr=f"*{dtype}", x_ptr=f"*{dtype}", w_ptr=f"*{dtype}",
                       mean_ptr="*fp32", rstd_ptr="*fp32", dwp_ptr="*fp32", dbp_ptr="*fp32", G="i32", CPG="i32",
                       S="i32")
            specs.append(KernelSpec(f"norm_rows_group.group_norm{suffix}_backward[{dtype}]", group_norm_bwd_kernel,
                                    sig, dict(HAS_W=True, NEED_WB=True), shipped, tried, unit_args=units,
                                    memory_bound=not unit, single=single))
    return specs


SPECS = _specs()
