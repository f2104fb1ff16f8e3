"""Fused cross-entropy (and nll_loss) from class indices, forward and backward, plus the final reduction.

Logits arrive as a (M0, M1, C) view (rows m = (m // M1, m % M1), classes along the last axis with any
stride) and targets as the matching (M0, M1) int64 view: (N, C) is (1, N, C) and (N, C, d1, ...) is
(N, d1*..., C), so neither needs a permute or a copy. One program owns BLOCK_M rows and, in one pass
over the classes, keeps the online max/sum of exp (the row's logsumexp) and, with label smoothing,
sum_c w_c x_c and sum_c w_c; the target's logit and weight are one gathered load each. Per row:

  loss = (1 - eps) * w_t * (lse - x_t) + eps / C * (W * lse - sum_c w_c x_c),   W = sum_c w_c
  (w_c = 1 without class weights; eps is label_smoothing; NLL mode: loss = -w_t * x_t)

and 0 where target == ignore_index (then its weight w_t counts 0 towards the mean's denominator).
A target outside [0, C) that is not ignore_index is reported through the device error word
(kernels/index_errors.py: the op raises PyTorch's cpu IndexError), and its row's loss is NaN; no load
ever leaves [0, C). The kernel writes per-row loss, w_t and lse, all in fp32 (fp64
for fp64 logits); `reduce_rows` then sums the rows in one program (a fixed order, so the result is
deterministic) and divides by sum(w_t) for reduction="mean".

The backward recomputes p_c = exp(x_c - lse) from the saved lse:
  grad_x_c = g * ((1 - eps) * w_t * (p_c - [c == t]) + eps / C * (W * p_c - w_c)),  NLL: -g * w_t * [c == t]
where g is the row's incoming gradient (reduction="none"), or the scalar gradient (divided by the
saved denominator for "mean") broadcast with a zero stride.

The NumPy references (the cpu path) are in kernels/loss_ref.py, re-exported here.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .index_errors import report_out_of_range
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .loss_ref import (  # noqa: F401  the family's NumPy references, kept importable from here
    check_targets_ref,
    class_rows_backward_ref,
    class_rows_ref,
    cross_entropy_backward_ref,
    cross_entropy_ref,
    cross_entropy_rows_exp_ref,
    cross_entropy_rows_ref,
    reduce_loss_ref,
)
from .softmax import lse_step, row_pointers
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2

# Logits per program for short rows (BLOCK_M = TILE // BLOCK_C rows of BLOCK_C classes, 4 warps). Longer
# rows get a program each and are held in registers up to `max_one_pass` classes (16 per thread); beyond,
# the kernels loop over the classes in `_loop` chunks (still one read of the logits). The weighted
# label-smoothing forward sets these sizes: larger tiles spill there (AOT check, sm_80/sm_90, both builds).
TILE = 512
MAX_SHORT = 1024
STRIDED = dict(BLOCK_M=32, BLOCK_C=16, num_warps=4)  # class dim not innermost: coalesce across rows
REDUCE_BLOCK = 1024


@triton.jit
def _param(hi, lo, like):
    """An fp32 (hi, lo) pair as a value of like's type and shape (fp64 gets the low bits back)."""
    return (tl.zeros_like(like) + hi) + lo


@triton.jit
def _target_terms(x_rows, t_ptr, w_ptr, rows, row_mask, M1, C, sxc, st0, st1, sw, ignore_index,
                  HAS_WEIGHT: tl.constexpr, acc_type: tl.constexpr):
    """Per row: (the target class clamped into range, counted, out-of-range, x_t, w_t)."""
    t = tl.load(row_pointers(t_ptr, rows, M1, st0, st1), mask=row_mask, other=ignore_index).to(tl.int64)
    counted = row_mask & (t != ignore_index)
    in_range = (t >= 0) & (t < C)
    ok = counted & in_range
    tc = tl.where(ok, t, 0)
    x_t = compute_type(tl.load(x_rows + tc * sxc, mask=ok, other=0.0)).to(acc_type)
    if HAS_WEIGHT:
        w_t = compute_type(tl.load(w_ptr + tc * sw, mask=ok, other=0.0)).to(acc_type)
    else:
        w_t = tl.where(ok, 1.0, 0.0).to(acc_type)
    return tc, counted, counted & (~in_range), x_t, w_t


@fast_jit
def cross_entropy_kernel(
    loss_ptr, wt_ptr, lse_ptr,  # (M,) per-row outputs: loss, target weight, logsumexp (acc dtype)
    x_ptr,  # (M0, M1, C) logits (NLL: log-probabilities)
    t_ptr,  # (M0, M1) int64 targets
    w_ptr,  # (C,) class weights (unused without HAS_WEIGHT)
    M, M1, C,
    sx0, sx1, sxc,  # logits strides
    st0, st1,  # target strides
    sw,  # weight stride
    ignore_index,  # i64
    smoothing_hi, smoothing_lo,  # label_smoothing as an fp32 pair summing to it within ~48 bits (for fp64)
    err_ptr,  # int64[2] device error word (code, index) that out-of-range targets are reported into
    err_code,  # the op's registered error code; 0 reports nothing (the loss of such a row is NaN either way)
    NLL: tl.constexpr,  # nll_loss: the input already holds log-probabilities
    HAS_WEIGHT: tl.constexpr,
    SMOOTH: tl.constexpr,  # label_smoothing > 0
    BLOCK_M: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_mask = rows < M
    acc_type: tl.constexpr = tl.float64 if x_ptr.dtype.element_ty == tl.float64 else tl.float32
    x_rows = row_pointers(x_ptr, rows, M1, sx0, sx1)
    tc, counted, bad, x_t, w_t = _target_terms(x_rows, t_ptr, w_ptr, rows, row_mask, M1, C, sxc, st0, st1, sw,
                                               ignore_index, HAS_WEIGHT, acc_type)
    if NLL:
        lse = tl.zeros((BLOCK_M,), acc_type)
        loss = -w_t * x_t
    else:
        # One read of the logits for any C: the online log-sum-exp (lse_step: one exp per logit, one rescale
        # per chunk) and, with label smoothing, sum_c w_c x_c and W = sum_c w_c, all from the same chunk.
        # Where BLOCK_C >= C the loop runs once: the row is held in registers.
        m = tl.full((BLOCK_M,), float("-inf"), acc_type)
        s = tl.zeros((BLOCK_M,), acc_type)
        wx = tl.zeros((BLOCK_M,), acc_type)
        W = tl.zeros((BLOCK_M,), acc_type)
        for start in range(0, C, BLOCK_C):
            cols = start + tl.arange(0, BLOCK_C)
            mask = row_mask[:, None] & (cols < C)[None, :]
            x = compute_type(tl.load(x_rows[:, None] + cols.to(tl.int64)[None, :] * sxc, mask=mask,
                                     other=float("-inf"))).to(acc_type)
            m, s = lse_step(m, s, x)
            if SMOOTH:
                x = tl.where(mask, x, 0.0)  # masked lanes hold -inf for the max; 0 for these sums
                if HAS_WEIGHT:
                    w = compute_type(tl.load(w_ptr + cols.to(tl.int64) * sw, mask=cols < C, other=0.0)).to(acc_type)
                    wx += tl.sum(w[None, :] * x, axis=1)
                    W += tl.sum(w, axis=0)
                else:
                    wx += tl.sum(x, axis=1)
        # An all -inf row has no finite max: NaN, as PyTorch's log_softmax of it.
        lse = m + tl.log(tl.where(m == float("-inf"), float("nan"), s))
        loss = w_t * (lse - x_t)
        if SMOOTH:
            if not HAS_WEIGHT:
                W = tl.zeros_like(lse) + C
            eps = _param(smoothing_hi, smoothing_lo, lse)
            loss = (1.0 - eps) * loss + (eps / C) * (W * lse - wx)
    loss = tl.where(counted, loss, 0.0)
    loss = tl.where(bad, float("nan"), loss)
    if err_code != 0:
        # Reloaded here, for the bad rows only, rather than kept live through the class loop.
        t = tl.load(row_pointers(t_ptr, rows, M1, st0, st1), mask=bad, other=0)
        report_out_of_range(err_ptr, err_code, t, bad)
    tl.store(loss_ptr + rows, cast_to(loss, loss_ptr.dtype.element_ty), mask=row_mask)
    tl.store(wt_ptr + rows, cast_to(w_t, wt_ptr.dtype.element_ty), mask=row_mask)
    tl.store(lse_ptr + rows, cast_to(lse, lse_ptr.dtype.element_ty), mask=row_mask)


@fast_jit
def cross_entropy_backward_kernel(
    gx_ptr,  # (M0, M1, C) output: gradient of the logits
    g_ptr,  # (M0, M1) incoming gradient per row (zero strides for a reduced loss)
    denom_ptr,  # (1,) the mean's denominator (read only with DIVIDE)
    x_ptr, t_ptr, w_ptr,  # logits, targets, class weights (as forward)
    lse_ptr,  # (M,) saved logsumexp per row
    M, M1, C,
    sgx0, sgx1, sgxc,
    sg0, sg1,
    sx0, sx1, sxc,
    st0, st1,
    sw,
    ignore_index,
    smoothing_hi, smoothing_lo,
    NLL: tl.constexpr,
    HAS_WEIGHT: tl.constexpr,
    SMOOTH: tl.constexpr,
    DIVIDE: tl.constexpr,  # reduction="mean": g / denominator
    BLOCK_M: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_mask = rows < M
    acc_type: tl.constexpr = tl.float64 if x_ptr.dtype.element_ty == tl.float64 else tl.float32
    x_rows = row_pointers(x_ptr, rows, M1, sx0, sx1)
    gx_rows = row_pointers(gx_ptr, rows, M1, sgx0, sgx1)
    tc, counted, bad, x_t, w_t = _target_terms(x_rows, t_ptr, w_ptr, rows, row_mask, M1, C, sxc, st0, st1, sw,
                                               ignore_index, HAS_WEIGHT, acc_type)
    g = compute_type(tl.load(row_pointers(g_ptr, rows, M1, sg0, sg1), mask=row_mask, other=0.0)).to(acc_type)
    if DIVIDE:
        g = g / compute_type(tl.load(denom_ptr)).to(acc_type)
    g = tl.where(counted & (~bad), g, 0.0)
    lse = tl.load(lse_ptr + rows, mask=row_mask, other=0.0).to(acc_type)
    eps = _param(smoothing_hi, smoothing_lo, lse)
    if SMOOTH:
        # W = sum of the class weights (C without weights), the same for every row.
        if HAS_WEIGHT:
            wsum = tl.zeros((BLOCK_C,), acc_type)
            for start in range(0, C, BLOCK_C):
                cols = start + tl.arange(0, BLOCK_C)
                wsum += compute_type(tl.load(w_ptr + cols.to(tl.int64) * sw, mask=cols < C, other=0.0)).to(acc_type)
            W = tl.sum(wsum, axis=0)
        else:
            W = tl.zeros_like(lse) + C
        a = (1.0 - eps) * w_t + (eps / C) * W  # coefficient of p_c
    else:
        a = w_t
    for start in range(0, C, BLOCK_C):
        cols = start + tl.arange(0, BLOCK_C)
        mask = row_mask[:, None] & (cols < C)[None, :]
        offs = cols.to(tl.int64)[None, :]
        is_t = offs == tc[:, None]
        if NLL:
            gx = tl.where(is_t, -(g * w_t)[:, None], 0.0)
        else:
            x = compute_type(tl.load(x_rows[:, None] + offs * sxc, mask=mask, other=0.0)).to(acc_type)
            p = tl.exp(x - lse[:, None])
            if SMOOTH:
                q = tl.where(is_t, ((1.0 - eps) * w_t)[:, None], 0.0)
                if HAS_WEIGHT:
                    w = compute_type(tl.load(w_ptr + cols.to(tl.int64) * sw, mask=cols < C, other=0.0)).to(acc_type)
                    q += (eps / C)[:, None] * w[None, :]
                else:
                    q += (eps / C)[:, None]
            else:
                q = tl.where(is_t, w_t[:, None], 0.0)
            gx = g[:, None] * (a[:, None] * p - q)
        tl.store(gx_rows[:, None] + offs * sgxc, cast_to(gx, gx_ptr.dtype.element_ty), mask=mask)


@fast_jit
def reduce_rows_kernel(
    out_ptr,  # (1,) the reduced loss, the logits' dtype
    denom_ptr,  # (1,) sum of the target weights (acc dtype; written only with MEAN)
    loss_ptr, wt_ptr,  # (M,) per-row loss and target weight
    M,
    MEAN: tl.constexpr,
    BLOCK: tl.constexpr,
):
    acc_type: tl.constexpr = tl.float64 if loss_ptr.dtype.element_ty == tl.float64 else tl.float32
    total = tl.zeros((BLOCK,), acc_type)
    weight = tl.zeros((BLOCK,), acc_type)
    for start in range(0, M, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        mask = offs < M
        total += tl.load(loss_ptr + offs, mask=mask, other=0.0).to(acc_type)
        if MEAN:
            weight += tl.load(wt_ptr + offs, mask=mask, other=0.0).to(acc_type)
    result = tl.sum(total, axis=0)
    if MEAN:
        w = tl.sum(weight, axis=0)
        result = result / w
        tl.store(denom_ptr, cast_to(w, denom_ptr.dtype.element_ty))
    tl.store(out_ptr, cast_to(result, out_ptr.dtype.element_ty))


# ---------------------------------------------------------------- launch wrappers
def _split(value: float) -> tuple[float, float]:
    """value as hi + lo, each exact in fp32 (Triton passes Python floats as fp32), ~48 bits together."""
    hi = float(np.float32(value))
    return hi, float(value) - hi


def max_one_pass(dtype: str) -> int:
    """Most classes one program holds in registers, spill-free on sm_80/sm_90 (AOT check): 8192 in 16 warps;
    fp64 (two registers per logit) 2048 in 8 warps."""
    return 2048 if dtype == "float64" else 8192


def _loop(dtype: str) -> dict:
    """The chunked loop's heuristic config: 16 classes per thread (8 for fp64)."""
    return dict(BLOCK_M=1, BLOCK_C=2048 if dtype == "float64" else 4096, num_warps=8)


def loss_config(C: int, class_stride: int, M: int = 1 << 20, dtype: str = "float32") -> dict:
    """The heuristic config for M rows of C classes `class_stride` apart (dtype: the logits' dtype name)."""
    itemsize = tuning.ITEMSIZE[dtype]
    block_c = max(16, triton.next_power_of_2(C))
    if class_stride != 1 and C > 1:
        return dict(STRIDED)
    # Half-precision tiles hold twice the elements, so that 4 warps still read 16 bytes per thread, except
    # for rows of <= 16 classes (see _wide_tile; the strided tile reads 16 classes a row too).
    tile = TILE * max(1, 4 // itemsize) if block_c > 16 else TILE
    if block_c > max_one_pass(dtype):
        return _loop(dtype)
    if block_c > MAX_SHORT:
        return _long_row(block_c, 8 if dtype == "float64" else 16)
    block_m = max(1, min(64, tile // block_c))
    if block_m > 1 and triton.cdiv(M, block_m) < 2 * tuning.sm_count() and tuning.wide_warps(block_c, itemsize, 4):
        # Too few rows to give every SM two programs: one row per program, on as many warps as keep its
        # loads 128-bit (a row of 128 fp32 classes: one warp).
        return dict(BLOCK_M=1, BLOCK_C=block_c, num_warps=tuning.wide_warps(block_c, itemsize, 4))
    # fp64 tiles of 64+ classes on 4 warps spill 4-20 B (weighted label smoothing keeps four accumulators):
    # 8 warps there (16x32 on 8 warps spills instead).
    return dict(BLOCK_M=block_m, BLOCK_C=block_c, num_warps=8 if dtype == "float64" and block_c >= 64 else 4)


def _wide_tile(itemsize: int):
    """The width rule for a spec's configs: 16 bytes per thread, except a half-precision tile of <= 16-class
    rows (32-byte rows): at 8 classes per thread the weighted, smoothed variant spills 4 B in its unaligned
    build (AOT, sm_90), so those tiles hold 4 per thread and read 8 bytes at a time."""
    return lambda c: not (itemsize < 4 and c["BLOCK_C"] == 16 and c["BLOCK_M"] * 16 * itemsize < 512 * c["num_warps"])


def _long_row(block_c: int, per_thread: int = 16) -> dict:
    """One row per program, `per_thread` classes per thread (fp64: 8, two registers each)."""
    return dict(BLOCK_M=1, BLOCK_C=block_c, num_warps=max(4, block_c // (32 * per_thread)))


def _heuristic(key: tuple) -> dict:
    """Keys end with (dtype name, next_pow2(M), next_pow2(C), class dim strided)."""
    return loss_config(key[-2], 2 if key[-1] else 1, key[-3], key[-4])


def _space(key: tuple, space: str) -> list[dict]:
    """Both kernels loop over the classes, so every config serves every C: the heuristic, half the rows per
    program, a row per program or the full tile (whichever the heuristic did not pick), a row per program in a
    longer chunk, and the loop chunks for long rows."""
    cb, fp64 = key[-2], key[-4] == "float64"
    loops = [dict(BLOCK_M=1, BLOCK_C=2048, num_warps=8), dict(BLOCK_M=1, BLOCK_C=1024, num_warps=4)] if fp64 else \
        [dict(BLOCK_M=1, BLOCK_C=4096, num_warps=8), dict(BLOCK_M=1, BLOCK_C=8192, num_warps=16),
         dict(BLOCK_M=1, BLOCK_C=2048, num_warps=8)]
    if key[-1]:
        cands = [dict(STRIDED), dict(STRIDED, BLOCK_M=STRIDED["BLOCK_M"] // 2)]
    elif cb <= MAX_SHORT:
        c = max(16, cb)
        cands = [dict(BLOCK_M=max(1, min(64, TILE // 2 // c)), BLOCK_C=c, num_warps=4),
                 dict(BLOCK_M=max(1, min(64, TILE // c)), BLOCK_C=c, num_warps=4)]
        cands += [dict(BLOCK_M=1, BLOCK_C=c, num_warps=4)] if c >= 128 else []
        # A row per program in one longer chunk.
        cands += [dict(BLOCK_M=1, BLOCK_C=MAX_SHORT, num_warps=4) if c < MAX_SHORT else loops[0 if fp64 else 2]]
    else:
        cands = loops
    return list({repr(c): c for c in [_heuristic(key)] + cands}.values())


# Forward: reads M*C logits, writes three (M,) rows; backward: reads M*C logits, writes M*C gradients.
CROSS_ENTROPY_TUNING = Tunable("loss.cross_entropy", _space, _heuristic, lambda M, C, itemsize, acc_itemsize: Cost(
    float(M) * C * itemsize + 3.0 * M * acc_itemsize, 3.0 * M * C))
CROSS_ENTROPY_BACKWARD_TUNING = Tunable("loss.cross_entropy_backward", _space, _heuristic,
                                        lambda M, C, itemsize, acc_itemsize: Cost(
                                            2.0 * M * C * itemsize + 2.0 * M * acc_itemsize, 4.0 * M * C))
# One program sums the rows in a fixed order: the block only trades loop trips for lanes.
REDUCE_ROWS_TUNING = Tunable(
    "loss.reduce_rows",
    [dict(BLOCK=REDUCE_BLOCK, num_warps=4), dict(BLOCK=2 * REDUCE_BLOCK, num_warps=8), dict(BLOCK=256, num_warps=2)],
    lambda key: dict(BLOCK=REDUCE_BLOCK, num_warps=4),
    lambda M, acc_itemsize: Cost(2.0 * M * acc_itemsize, 2.0 * M))


def _key(x3: DeviceArray, M: int, C: int, *flags) -> tuple:
    return (*flags, x3.dtype.name, next_pow2(M), next_pow2(C), x3.strides[2] != 1 and C > 1)


def _views(x: DeviceArray, target: DeviceArray) -> tuple[DeviceArray, DeviceArray]:
    """(M, C)/(M,) -> (M, 1, C)/(M, 1), as the ops layer views them (M1 == 1 is a constant at launch);
    (M0, M1, C)/(M0, M1) unchanged."""
    if x.ndim == 2:
        x = x.view_as((x.shape[0], 1, x.shape[1]), (x.strides[0], 0, x.strides[1]))
        target = target.view_as(target.shape + (1,), target.strides + (0,))
    if x.ndim != 3 or target.shape != x.shape[:2]:
        raise ValueError(f"expected logits (M0, M1, C) and targets (M0, M1), got {x.shape} and {target.shape}")
    return x, target


def cross_entropy(loss: DeviceArray, weight_t: DeviceArray, lse: DeviceArray, x: DeviceArray, target: DeviceArray,
                  weight: DeviceArray | None = None, ignore_index: int = -100, label_smoothing: float = 0.0,
                  nll: bool = False, *, err: DeviceArray | None = None, err_code: int = 0) -> None:
    """Per-row loss, target weight and logsumexp (contiguous (M,) in fp32, fp64 for fp64 logits).

    x: (M, C) or (M0, M1, C) logits (log-probabilities when nll), fp16/bf16/fp32/fp64, any strides;
    target: int64 (M,) or (M0, M1); weight: (C,) in x's dtype or None. err: the device's int64[2] error word
    and err_code the code registered for "Target {index} is out of bounds." (tritensor/device_errors.py): a
    target outside [0, C) other than ignore_index is stored there; without err such rows only get a NaN loss."""
    x3, t3 = _views(x, target)
    M0, M1, C = x3.shape
    M = M0 * M1
    if M == 0:
        return
    w = weight if weight is not None else x3
    # Without an error word the kernel gets code 0, which masks every store into the (unused) pointer.
    err, err_code = (err, int(err_code)) if err is not None else (t3, 0)
    flags = (nll, weight is not None, label_smoothing > 0 and not nll)

    def run(cfg):
        cross_entropy_kernel[(triton.cdiv(M, cfg["BLOCK_M"]),)](
            loss, weight_t, lse, x3, t3, w, M, M1, C, *x3.strides, *t3.strides,
            w.strides[0] if weight is not None else 0, int(ignore_index), *_split(label_smoothing), err, err_code,
            NLL=flags[0], HAS_WEIGHT=flags[1], SMOOTH=flags[2], **cfg)

    sizes = dict(M=M, C=C, itemsize=x3.dtype.itemsize, acc_itemsize=loss.dtype.itemsize)
    tuning.launch(CROSS_ENTROPY_TUNING, _key(x3, M, C, *flags), sizes, run)


def reduce_rows(out: DeviceArray, denom: DeviceArray | None, loss: DeviceArray, weight_t: DeviceArray,
                mean: bool) -> None:
    """out[0] = sum(loss), or sum(loss) / sum(weight_t) with denom[0] = sum(weight_t) when mean."""
    def run(cfg):
        reduce_rows_kernel[(1,)](out, denom if denom is not None else loss, loss, weight_t, loss.shape[0], MEAN=mean,
                                 **cfg)

    key = (mean, loss.dtype.name, out.dtype.name, next_pow2(loss.shape[0]))
    tuning.launch(REDUCE_ROWS_TUNING, key, dict(M=loss.shape[0], acc_itemsize=loss.dtype.itemsize), run)


def cross_entropy_backward(grad_x: DeviceArray, grad: DeviceArray, denom: DeviceArray | None, x: DeviceArray,
                           target: DeviceArray, weight: DeviceArray | None, lse: DeviceArray, ignore_index: int = -100,
                           label_smoothing: float = 0.0, nll: bool = False) -> None:
    """grad_x (shaped like x) from the per-row gradient `grad` (shaped like target; zero strides for a
    reduced loss, divided by denom[0] when given)."""
    x3, t3 = _views(x, target)
    gx3, g3 = _views(grad_x, grad)
    M0, M1, C = x3.shape
    M = M0 * M1
    if M == 0 or C == 0:
        return
    w = weight if weight is not None else x3
    flags = (nll, weight is not None, label_smoothing > 0 and not nll, denom is not None)

    def run(cfg):
        cross_entropy_backward_kernel[(triton.cdiv(M, cfg["BLOCK_M"]),)](
            gx3, g3, denom if denom is not None else lse, x3, t3, w, lse, M, M1, C, *gx3.strides, *g3.strides,
            *x3.strides, *t3.strides, w.strides[0] if weight is not None else 0, int(ignore_index),
            *_split(label_smoothing), NLL=flags[0], HAS_WEIGHT=flags[1], SMOOTH=flags[2], DIVIDE=flags[3], **cfg)

    sizes = dict(M=M, C=C, itemsize=x3.dtype.itemsize, acc_itemsize=lse.dtype.itemsize)
    tuning.launch(CROSS_ENTROPY_BACKWARD_TUNING, _key(x3, M, C, *flags), sizes, run)


# ---------------------------------------------------------------- AOT / tuner declarations
def _fwd_signature(dtype: str, acc: str) -> dict[str, str]:
    return {"loss_ptr": f"*{acc}", "wt_ptr": f"*{acc}", "lse_ptr": f"*{acc}", "x_ptr": f"*{dtype}", "t_ptr": "*i64",
            "w_ptr": f"*{dtype}", "M": "i32", "M1": "i32", "C": "i32", "sx0": "i32", "sx1": "i32", "sxc": "i32",
            "st0": "i32", "st1": "i32", "sw": "i32", "ignore_index": "i64", "smoothing_hi": "fp32",
            "smoothing_lo": "fp32", "err_ptr": "*i64", "err_code": "i32"}


def _bwd_signature(dtype: str, acc: str) -> dict[str, str]:
    sig = {"gx_ptr": f"*{dtype}", "g_ptr": f"*{dtype}", "denom_ptr": f"*{acc}", "x_ptr": f"*{dtype}",
           "t_ptr": "*i64", "w_ptr": f"*{dtype}", "lse_ptr": f"*{acc}", "M": "i32", "M1": "i32", "C": "i32"}
    for name in ("sgx0", "sgx1", "sgxc", "sg0", "sg1", "sx0", "sx1", "sxc", "st0", "st1", "sw"):
        sig[name] = "i32"
    sig.update(ignore_index="i64", smoothing_hi="fp32", smoothing_lo="fp32")
    return sig


_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp64": "float64"}


def _declared(dtype: str) -> tuple[list[dict], list[dict]]:
    """(every config the heuristic picks, every config a key's space holds) for a spec's logits dtype: from one
    key per class bucket, layout and row count (few rows / many)."""
    keys = [(_DTYPES[dtype], m, 2**k, strided) for k in range(16) for strided in (False, True) for m in (1, 1 << 20)]
    configs = list({repr(_heuristic(k)): _heuristic(k) for k in keys}.values())
    return configs, list({repr(c): c for k in keys for c in _space(k, "max")}.values())


_VARIANTS = [  # (name, NLL, HAS_WEIGHT, SMOOTH)
    ("cross_entropy", False, False, False), ("cross_entropy[weight,smoothing]", False, True, True),
    ("nll_loss", True, True, False),
]

SPECS = [
    # nll_loss's forward reads one logit per row (a gather, no row to vectorise): not bound by wide loads.
    KernelSpec(f"loss.{name}[{dtype}]", cross_entropy_kernel, _fwd_signature(dtype, acc),
               dict(NLL=nll, HAS_WEIGHT=hw, SMOOTH=sm), *_declared(dtype),
               memory_bound=_wide_tile(2 if dtype == "bf16" else 4) if not nll else False)
    for name, nll, hw, sm in _VARIANTS for dtype, acc in (("fp32", "fp32"), ("bf16", "fp32"), ("fp64", "fp64"))
] + [
    KernelSpec(f"loss.{name}_backward[{dtype}]", cross_entropy_backward_kernel, _bwd_signature(dtype, acc),
               dict(NLL=nll, HAS_WEIGHT=hw, SMOOTH=sm, DIVIDE=True), *_declared(dtype),
               memory_bound=_wide_tile(2 if dtype == "bf16" else 4))
    for name, nll, hw, sm in _VARIANTS for dtype, acc in (("fp32", "fp32"), ("bf16", "fp32"), ("fp64", "fp64"))
] + [
    KernelSpec(f"loss.reduce_rows[{acc}->{dtype}]", reduce_rows_kernel,
               {"out_ptr": f"*{dtype}", "denom_ptr": f"*{acc}", "loss_ptr": f"*{acc}", "wt_ptr": f"*{acc}", "M": "i32"},
               dict(MEAN=True), REDUCE_ROWS_TUNING.all_configs()[:1], REDUCE_ROWS_TUNING.all_configs())
    for dtype, acc in (("fp32", "fp32"), ("bf16", "fp32"), ("fp64", "fp64"))
]
