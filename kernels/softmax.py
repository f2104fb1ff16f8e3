"""Fused softmax and log_softmax along the last dim of a row view, forward and backward.

The Tensor layer hands every operand as a (M, R) view, or as (M0, M1, R) when the softmax dim sits
in the middle of a tensor (dims before it collapse to M0, dims after it to M1): row m is
(m // M1, m % M1). A contiguous tensor therefore needs no copy for any `dim`, and its output can be
written in the input's own layout.

Each program owns BLOCK_M rows. Rows that fit one BLOCK_R tile (ONE_PASS) are loaded once and kept
in registers: max, exp, sum and the normalised store happen on that tile. Longer rows loop over R
in BLOCK_R chunks twice: the first pass keeps, per lane, a running max m and sum(exp(x - m)) (the
online softmax), which are combined across lanes into the row's max and sum; the second pass writes
the outputs. Statistics are fp32 (fp64 for fp64 inputs); 16-bit inputs are upcast on load.

Backward (y is the saved forward output, g the incoming gradient):
  softmax:     grad_x = y * (g - sum(g * y))
  log_softmax: grad_x = g - exp(y) * sum(g)
one reduction pass (skipped for ONE_PASS rows, which stay in registers) and one writing pass.

Non-finite inputs follow PyTorch: a row holding +inf or only -inf gives NaN everywhere in that row;
-inf entries of an otherwise finite row give 0 (softmax) and -inf (log_softmax).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import triton
import triton.language as tl

from . import host_threads, tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2

# Rows up to TILE elements share a program's tile (BLOCK_M = TILE // BLOCK_R rows); longer rows up to
# `max_one_pass` get a program each (16-32 warps); longer still loop over the row in chunks.
TILE = 2048
# Rows whose elements are strided (the softmax dim is not the innermost): many rows side by side, so
# each load coalesces across neighbouring rows instead of along one row.
STRIDED = dict(BLOCK_M=64, BLOCK_R=16, num_warps=8)


@triton.jit
def row_pointers(base, rows, M1, s0, s1):
    """Start of each row of a (M0, M1, R) view: row m is (m // M1, m % M1)."""
    r = rows.to(tl.int64)
    m0 = r // M1
    return base + m0 * s0 + (r - m0 * M1) * s1


@triton.jit
def lse_step(m, s, x):
    """One chunk of the online log-sum-exp: (m, s) is a row's running max and sum(exp(seen - m)), x a
    (BLOCK_M, BLOCK_R) chunk of it (-inf where masked). The sum is rescaled once per chunk, when the
    chunk raises the max, so each element costs one exp.

    A row that has seen only -inf keeps max -inf and sum 0 (it shifts by 0 instead of computing
    -inf - -inf); a +inf makes the sum NaN (inf - inf), as PyTorch's softmax of such a row."""
    m_new = tl.maximum(m, tl.max(x, axis=1))
    shift = tl.where(m_new == float("-inf"), 0.0, m_new)
    s = s * tl.exp(m - shift) + tl.sum(tl.exp(x - shift[:, None]), axis=1)
    return m_new, s


@triton.jit
def online_lse(x_rows, row_mask, R, sxr, acc_type: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_R: tl.constexpr):
    """(row max, sum(exp(x - row max))) per row in one pass over R in BLOCK_R chunks (`lse_step`).

    An all -inf row (or a row past M) gets max -inf and a NaN sum: its softmax is NaN, as PyTorch's."""
    m = tl.full((BLOCK_M,), float("-inf"), acc_type)
    s = tl.zeros((BLOCK_M,), acc_type)
    for start in range(0, R, BLOCK_R):
        cols = start + tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (cols < R)[None, :]
        x = compute_type(tl.load(x_rows + cols.to(tl.int64)[None, :] * sxr, mask=mask, other=float("-inf")))
        m, s = lse_step(m, s, x.to(acc_type))
    return m, tl.where(m == float("-inf"), float("nan"), s)


@fast_jit
def softmax_kernel(
    out_ptr,  # (M0, M1, R) output view, the input's dtype
    x_ptr,  # (M0, M1, R) input view
    M, M1, R,  # rows (M0 * M1), the inner row count, row length
    so0, so1, sor,  # output strides (elements)
    sx0, sx1, sxr,  # input strides (elements)
    LOG: tl.constexpr,  # log_softmax instead of softmax
    ONE_PASS: tl.constexpr,  # R <= BLOCK_R: the row stays in registers
    BLOCK_M: tl.constexpr,  # rows per program
    BLOCK_R: tl.constexpr,  # row elements per tile
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_mask = rows < M
    acc_type: tl.constexpr = tl.float64 if x_ptr.dtype.element_ty == tl.float64 else tl.float32
    x_rows = row_pointers(x_ptr, rows, M1, sx0, sx1)[:, None]
    o_rows = row_pointers(out_ptr, rows, M1, so0, so1)[:, None]
    if ONE_PASS:
        cols = tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (cols < R)[None, :]
        x = compute_type(tl.load(x_rows + cols.to(tl.int64)[None, :] * sxr, mask=mask, other=float("-inf")))
        x = x.to(acc_type)
        row_max = tl.max(x, axis=1)
        # A row of -inf only (or past M) is NaN, as PyTorch: from its total, not from -inf - -inf in every lane.
        no_max = row_max == float("-inf")
        shifted = x - tl.where(no_max, 0.0, row_max)[:, None]
        e = tl.exp(shifted)
        # Masked lanes hold exp(-inf) = 0 already.
        total = tl.where(no_max, float("nan"), tl.sum(e, axis=1))
        if LOG:
            y = shifted - tl.log(total)[:, None]
        else:
            y = e * (1.0 / total)[:, None]  # one division per row, a multiply per element
        tl.store(o_rows + cols.to(tl.int64)[None, :] * sor, cast_to(y, out_ptr.dtype.element_ty), mask=mask)
    else:
        # Rows too long for registers: the online log-sum-exp reads x once, the writing pass once more.
        row_max, total = online_lse(x_rows, row_mask, R, sxr, acc_type, BLOCK_M, BLOCK_R)
        log_total = tl.log(total)
        inv_total = 1.0 / total
        for start in range(0, R, BLOCK_R):
            cols = start + tl.arange(0, BLOCK_R)
            mask = row_mask[:, None] & (cols < R)[None, :]
            x = compute_type(tl.load(x_rows + cols.to(tl.int64)[None, :] * sxr, mask=mask, other=0.0))
            shifted = x.to(acc_type) - row_max[:, None]
            if LOG:
                y = shifted - log_total[:, None]
            else:
                y = tl.exp(shifted) * inv_total[:, None]
            tl.store(o_rows + cols.to(tl.int64)[None, :] * sor, cast_to(y, out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _backward_math(g, y, row_sum, LOG: tl.constexpr):
    if LOG:
        return g - tl.exp(y) * row_sum
    else:
        return y * (g - row_sum)


@fast_jit
def softmax_backward_kernel(
    gx_ptr,  # (M0, M1, R) output: gradient of the input
    g_ptr,  # (M0, M1, R) gradient of the output
    y_ptr,  # (M0, M1, R) saved forward output
    M, M1, R,
    sgx0, sgx1, sgxr,  # grad_x strides
    sg0, sg1, sgr,  # grad strides (0 along broadcast dims)
    sy0, sy1, syr,  # y strides
    LOG: tl.constexpr,
    ONE_PASS: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_R: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_mask = rows < M
    acc_type: tl.constexpr = tl.float64 if gx_ptr.dtype.element_ty == tl.float64 else tl.float32
    gx_rows = row_pointers(gx_ptr, rows, M1, sgx0, sgx1)[:, None]
    g_rows = row_pointers(g_ptr, rows, M1, sg0, sg1)[:, None]
    y_rows = row_pointers(y_ptr, rows, M1, sy0, sy1)[:, None]
    if ONE_PASS:
        cols = tl.arange(0, BLOCK_R).to(tl.int64)[None, :]
        mask = row_mask[:, None] & (cols < R)
        g = compute_type(tl.load(g_rows + cols * sgr, mask=mask, other=0.0)).to(acc_type)
        y = compute_type(tl.load(y_rows + cols * syr, mask=mask, other=0.0)).to(acc_type)
        if LOG:
            row_sum = tl.sum(g, axis=1)
        else:
            row_sum = tl.sum(g * y, axis=1)
        gx = _backward_math(g, y, row_sum[:, None], LOG)
        tl.store(gx_rows + cols * sgxr, cast_to(gx, gx_ptr.dtype.element_ty), mask=mask)
    else:
        acc = tl.zeros((BLOCK_M, BLOCK_R), acc_type)
        for start in range(0, R, BLOCK_R):
            cols = (start + tl.arange(0, BLOCK_R)).to(tl.int64)[None, :]
            mask = row_mask[:, None] & (cols < R)
            g = compute_type(tl.load(g_rows + cols * sgr, mask=mask, other=0.0)).to(acc_type)
            if LOG:
                acc += g
            else:
                acc += g * compute_type(tl.load(y_rows + cols * syr, mask=mask, other=0.0)).to(acc_type)
        row_sum = tl.sum(acc, axis=1)[:, None]
        for start in range(0, R, BLOCK_R):
            cols = (start + tl.arange(0, BLOCK_R)).to(tl.int64)[None, :]
            mask = row_mask[:, None] & (cols < R)
            g = compute_type(tl.load(g_rows + cols * sgr, mask=mask, other=0.0)).to(acc_type)
            y = compute_type(tl.load(y_rows + cols * syr, mask=mask, other=0.0)).to(acc_type)
            tl.store(gx_rows + cols * sgxr, cast_to(_backward_math(g, y, row_sum, LOG), gx_ptr.dtype.element_ty),
                     mask=mask)


# ---------------------------------------------------------------- launch wrappers
def _as3(a: DeviceArray) -> DeviceArray:
    """(M, R) -> (M, 1, R), as the ops layer views a last-dim softmax: M1 == 1 becomes a constant at launch, so
    the row index needs no division; (M0, M1, R) unchanged."""
    if a.ndim == 3:
        return a
    if a.ndim != 2:
        raise ValueError(f"expected a (M, R) or (M0, M1, R) view, got shape {a.shape}")
    return a.view_as((a.shape[0], 1, a.shape[1]), (a.strides[0], 0, a.strides[1]))


def max_one_pass(backward: bool, dtype: str) -> int:
    """Longest row held in registers (one read of each input) for a pass and the statistics' dtype name.

    Spill-free on sm_80 and sm_90 (AOT check) at 16 row elements per thread: the forward holds one row
    (16384 elements in 32 warps, 64 registers); the backward holds two (grad and y), and fp64 takes two
    registers per element: 8192 (16 warps)."""
    return 8192 if backward or dtype == "float64" else 16384


def softmax_config(R: int, row_stride: int, M: int = 1 << 20, backward: bool = False, dtype: str = "float32",
                   itemsize: int | None = None) -> dict:
    """Launch config for M rows of length R whose elements are `row_stride` apart (`dtype`: the name of
    the statistics' input dtype; fp64 has shorter one-pass rows; itemsize: the input's element size,
    by default dtype's)."""
    itemsize = itemsize or tuning.ITEMSIZE[dtype]
    if row_stride != 1 and R > 1:
        # As many warps (up to 8) as give each thread 16 bytes of the tile: 4 for half precision.
        return dict(STRIDED, num_warps=tuning.wide_warps(STRIDED["BLOCK_M"] * STRIDED["BLOCK_R"], itemsize, 8),
                    ONE_PASS=R <= STRIDED["BLOCK_R"])
    block_r = max(16, triton.next_power_of_2(R))
    if block_r > max_one_pass(backward, dtype):
        return dict(LOOP)
    if block_r > TILE:
        return _long_row(block_r)
    # Every short-row tile holds 1024-2048 elements; 8 warps keep them (and fp64) free of spills.
    # fp64 holds half the tile (a full one spills 8 B on sm_80).
    block_m = max(1, min(64, (TILE // 2 if dtype == "float64" else TILE) // block_r))
    warps = tuning.wide_warps(block_r, itemsize, 4)
    if warps and block_m > 1 and triton.cdiv(M, block_m) < 2 * tuning.sm_count():
        # Too few rows to give every SM two programs: one row per program, on as many warps (up to 4) as keep
        # its loads 128-bit (a row of 128 fp32 elements: one warp).
        return dict(BLOCK_M=1, BLOCK_R=block_r, num_warps=warps, ONE_PASS=True)
    # 8 warps, or 4 where that is what gives each thread 16 bytes (a half-precision tile of 64 x 16).
    warps = max(1, tuning.wide_warps(block_m * block_r, itemsize, 8))
    return dict(BLOCK_M=block_m, BLOCK_R=block_r, num_warps=warps, ONE_PASS=True)


def _one_pass(block_r: int, tile: int, num_warps: int) -> dict:
    return dict(BLOCK_M=max(1, min(64, tile // block_r)), BLOCK_R=block_r, num_warps=num_warps, ONE_PASS=True)


def _long_row(block_r: int, per_thread: int = 16) -> dict:
    """One row per program, `per_thread` row elements per thread (at most 32 warps)."""
    return dict(BLOCK_M=1, BLOCK_R=block_r, num_warps=min(32, block_r // (32 * per_thread)), ONE_PASS=True)


def _fp64(key: tuple) -> bool:
    return "float64" in key[1:3]


def _heuristic(key: tuple, backward: bool = False) -> dict:
    """Keys are (log, dtype, dtype, next_pow2(M), next_pow2(R), rows strided)."""
    return softmax_config(key[-2], 2 if key[-1] else 1, key[-3], backward, "float64" if _fp64(key) else "float32",
                          tuning.ITEMSIZE[key[1]])


def _space(key: tuple, space: str, backward: bool = False) -> list[dict]:
    """Candidates valid for the key's rows: a one-pass tile always covers next_pow2(R) >= R; looping
    configs serve any row; "max" adds long-row loops for rows that also fit one pass."""
    rb, strided = key[-2], key[-1]
    limit = max_one_pass(backward, "float64" if _fp64(key) else "float32")
    if strided:
        cands = [dict(BLOCK_M=32, BLOCK_R=16, num_warps=4, ONE_PASS=rb <= 16)]
    elif rb <= 64:
        # Half a tile at 4 warps spills in the backward for rows this short (AOT check): the strided loop instead.
        cands = [dict(STRIDED, ONE_PASS=False)]
    elif rb <= TILE:
        # Half the tile at half the warps (the same registers per thread, twice the programs), one row a
        # program, the full tile: whichever the heuristic did not pick.
        cands = [_one_pass(rb, TILE // 2, 4)] if rb < TILE else []  # 2048 at 4 warps spills (sm_80)
        cands += [_one_pass(rb, rb, 4) if rb < TILE else _one_pass(rb, rb, 16), _one_pass(rb, TILE, 8)]
        cands += _LOOPS if space == "max" and rb >= 1024 else []
    elif rb <= limit:
        # The row in registers at 8 elements per thread (twice the warps) where that stays under 32 warps,
        # else at 32 per thread (half the warps; the forward only); then the loops.
        cands = [_long_row(rb, 8) if rb // 256 <= 32 else _long_row(rb, 32)] + _LOOPS
    else:
        cands = _LOOPS
    heuristic = _heuristic(key, backward)
    return list({repr(c): c for c in [heuristic] + cands}.values())


def _key(log: bool, x: DeviceArray, out: DeviceArray, M: int, R: int, row_stride: int) -> tuple:
    return log, x.dtype.name, out.dtype.name, next_pow2(M), next_pow2(R), row_stride != 1 and R > 1


# Rows longer than one pass: a row per program, chunks of 2048 (the heuristic), 4096 or 1024.
LOOP = dict(BLOCK_M=1, BLOCK_R=2048, num_warps=8, ONE_PASS=False)
_LOOPS = [LOOP, dict(BLOCK_M=1, BLOCK_R=4096, num_warps=16, ONE_PASS=False),
          dict(BLOCK_M=1, BLOCK_R=1024, num_warps=4, ONE_PASS=False)]
# Bytes of one pass over memory: forward reads x and writes out (M*R each), backward reads grad and y and
# writes grad_x. Rows past the one-pass limit read x (grad and y) once more.
SOFTMAX_TUNING = Tunable("softmax.softmax", _space, _heuristic, lambda M, R, itemsizes: Cost(
    float(M) * R * itemsizes, 4.0 * M * R))
SOFTMAX_BACKWARD_TUNING = Tunable("softmax.softmax_backward", partial(_space, backward=True),
                                  partial(_heuristic, backward=True), lambda M, R, itemsizes: Cost(
                                      float(M) * R * itemsizes, 3.0 * M * R))


def softmax(out: DeviceArray, x: DeviceArray, log: bool = False) -> None:
    """out = softmax(x) (or log_softmax) along the last dim; both (M, R) or (M0, M1, R), any strides.

    x: fp16/bf16/fp32/fp64; out has the same shape and any float dtype (statistics in fp32/fp64)."""
    x3, o3 = _as3(x), _as3(out)
    M0, M1, R = x3.shape
    M = M0 * M1
    if M == 0 or R == 0:
        return

    def run(cfg):
        softmax_kernel[(triton.cdiv(M, cfg["BLOCK_M"]),)](o3, x3, M, M1, R, *o3.strides, *x3.strides, LOG=log, **cfg)

    sizes = dict(M=M, R=R, itemsizes=x.dtype.itemsize + out.dtype.itemsize)
    tuning.launch(SOFTMAX_TUNING, _key(log, x3, o3, M, R, x3.strides[2]), sizes, run)


def log_softmax(out: DeviceArray, x: DeviceArray) -> None:
    softmax(out, x, log=True)


def softmax_backward(grad_x: DeviceArray, grad: DeviceArray, y: DeviceArray, log: bool = False) -> None:
    """grad_x = y * (grad - sum(grad * y)) (softmax) or grad - exp(y) * sum(grad) (log_softmax), y the
    saved output; all three share a shape, grad may be broadcast (zero strides)."""
    gx3, g3, y3 = _as3(grad_x), _as3(grad), _as3(y)
    M0, M1, R = gx3.shape
    M = M0 * M1
    if M == 0 or R == 0:
        return

    def run(cfg):
        softmax_backward_kernel[(triton.cdiv(M, cfg["BLOCK_M"]),)](
            gx3, g3, y3, M, M1, R, *gx3.strides, *g3.strides, *y3.strides, LOG=log, **cfg)

    sizes = dict(M=M, R=R, itemsizes=grad.dtype.itemsize + y.dtype.itemsize + grad_x.dtype.itemsize)
    tuning.launch(SOFTMAX_BACKWARD_TUNING, _key(log, y3, gx3, M, R, y3.strides[2]), sizes, run)


def log_softmax_backward(grad_x: DeviceArray, grad: DeviceArray, y: DeviceArray) -> None:
    softmax_backward(grad_x, grad, y, log=True)


# ---------------------------------------------------------------- NumPy references
# The cpu path runs these. Each allocates only its result (in the accumulation dtype) and works in it in place:
# on a host NumPy's speed here is memory traffic, and a fresh large array costs page faults, so a temporary
# costs about as much as a pass of exp.
def _acc(x: np.ndarray) -> np.ndarray:
    """x in its accumulation dtype (fp32, fp64 for fp64): no copy when it already is one."""
    return x.astype(np.float64 if x.dtype == np.float64 else np.float32, copy=False)


def _finish(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return y if y.dtype == dtype else y.astype(dtype)


def _slabs(a: np.ndarray, axis: int) -> np.ndarray | None:
    """a viewed as (M0, R) (axis last) or (M0, R, M1), with `axis` as axis 1, when it is C-contiguous (else None):
    rows of the leading dims are independent, so host_threads splits M0."""
    if a.ndim == 0 or not a.flags.c_contiguous:
        return None
    m1 = math.prod(a.shape[axis + 1:])  # (math.prod: np.prod costs microseconds per call on a small tensor)
    lead = a.shape[:axis]
    m0 = math.prod(lead)
    return a.reshape(m0, a.shape[axis]) if m1 == 1 else a.reshape(m0, a.shape[axis], m1)


def _softmax_slab(x: np.ndarray, y: np.ndarray, e: np.ndarray | None, total_out: np.ndarray | None,
                  axis: int, log: bool) -> None:
    """y = softmax (log_softmax) of x along `axis`, in place in y; e: where the exp is kept (log only), total_out:
    where its row sums go (None: not kept)."""
    # (the ufuncs' reduce directly: np.max / np.sum call it the same way, through a few microseconds of wrapper)
    m = np.maximum.reduce(x, axis=axis, keepdims=True)
    w = y if e is None else e
    np.subtract(x, m, out=w)  # x's memory order, as x - m would have
    np.exp(w, out=w)
    total = _sums(w, axis)
    if total_out is not None:
        total_out[...] = total
    if log:  # (x - m) - log(total) again rather than keeping a second array: a subtraction is cheaper
        # (Not x - (m + log(total)) in one pass: PyTorch keeps this order, as m + log(total) loses the small
        # term's digits for large x.)
        np.subtract(x, m, out=y)
        y -= np.log(total, out=total)
    else:  # times the reciprocal, as PyTorch's cpu kernel: a multiplication pass is cheaper than a division
        y *= np.reciprocal(total, out=total)


def _sums(a: np.ndarray, axis: int) -> np.ndarray:
    """a's sums along `axis`, kept as a length-1 axis: a dot per row (host_threads.row_sums) along a last axis,
    NumPy's reduction along another."""
    if axis == a.ndim - 1:
        return host_threads.row_sums(a)[..., None]
    return np.add.reduce(a, axis=axis, keepdims=True)


def _softmax_threads(xf: np.ndarray, axis: int, log: bool, keep_exp: bool) -> tuple:
    """(y, e, total) with the rows of xf's leading dims split over host_threads (e, total: None unless kept)."""
    y = np.empty_like(xf)
    e = np.empty_like(xf) if keep_exp else None
    if axis == xf.ndim - 1 and xf.flags.c_contiguous and host_threads.runs_inline(
            xf.size // xf.shape[-1], xf.shape[-1]):
        # Rows of the last axis in one inline call, as for_rows would make it, without the slab views and the
        # closure (the per-call cost is what a small tensor pays).
        total = np.empty(xf.shape[:-1] + (1,), xf.dtype) if keep_exp else None
        if xf.ndim == 2:
            _softmax_slab(xf, y, e, total, 1, log)
        else:  # (M, R) views: the rows the slab path hands over
            rows = (xf.size // xf.shape[-1], xf.shape[-1])
            _softmax_slab(xf.reshape(rows), y.reshape(rows), None if e is None else e.reshape(rows),
                          None if total is None else total.reshape(rows[0], 1), 1, log)
        return y, e, total
    xs, ys = _slabs(xf, axis), _slabs(y, axis)
    if xs is None:  # a strided x: one call on the whole array, in x's memory order
        total = np.empty(xf.shape[:axis] + (1,) + xf.shape[axis + 1:], xf.dtype) if keep_exp else None
        _softmax_slab(xf, y, e, total, axis, log)
        return y, e, total
    es = None if e is None else _slabs(e, axis)
    ts = np.empty(xs.shape[:1] + (1,) + xs.shape[2:], xf.dtype) if keep_exp else None

    def rows(lo: int, hi: int) -> None:
        _softmax_slab(xs[lo:hi], ys[lo:hi], None if es is None else es[lo:hi], None if ts is None else ts[lo:hi],
                      1, log)

    host_threads.for_rows(rows, xs.shape[0], xf.size // max(xs.shape[0], 1))
    total = None if ts is None else ts.reshape(xf.shape[:axis] + (1,) + xf.shape[axis + 1:])
    return y, e, total


def softmax_ref(x: np.ndarray, axis: int = -1, log: bool = False) -> np.ndarray:
    """softmax (or log_softmax) along `axis`, computed in fp32 (fp64 for fp64) and cast back to x's dtype."""
    xf = _acc(x)
    if not xf.size:
        return np.empty(x.shape, x.dtype)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        host_threads.unbuffer_rows(xf.shape[-1] if xf.ndim else 0)
        y = _softmax_threads(xf, axis % max(x.ndim, 1), log, False)[0]
    return _finish(y, x.dtype)


def log_softmax_exp_ref(x: np.ndarray, axis: int = -1) -> tuple[np.ndarray, tuple | None]:
    """(log_softmax of x, (exp(x - row max), its row sums) in the accumulation dtype): what the backward needs
    for softmax = exp / sums without an exp pass of its own (log_softmax_backward_ref's `exp`). The tuple is
    None for an empty x."""
    xf = _acc(x)
    if not xf.size:
        return np.empty(x.shape, x.dtype), None
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        host_threads.unbuffer_rows(xf.shape[-1] if xf.ndim else 0)
        y, e, total = _softmax_threads(xf, axis % max(x.ndim, 1), True, True)
    return _finish(y, x.dtype), (e, total)


def log_softmax_ref(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return softmax_ref(x, axis, log=True)


def _like(g: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The result buffer of a backward: y's shape and memory order (broadcast with g's shape if it differs)."""
    return np.empty_like(y) if g.shape == y.shape else np.empty(np.broadcast_shapes(g.shape, y.shape), y.dtype)


def _backward_slab(g: np.ndarray, y: np.ndarray, gx: np.ndarray, axis: int, log: bool,
                   exp: tuple | None) -> None:
    if exp is not None:  # log: g - softmax * sum(g), softmax = exp / sums from the forward
        e, total = exp
        s = _sums(g, axis)
        # In place unless g is broadcast along the rows (its sums fewer than the rows'): then one per row.
        s = np.divide(s, total, out=s if s.shape == total.shape else None)
        np.multiply(e, s, out=gx)
        np.subtract(g, gx, out=gx)
    elif log:  # g - exp(y) * sum(g)
        np.exp(y, out=gx)
        gx *= _sums(g, axis)
        np.subtract(g, gx, out=gx)
    else:  # y * (g - sum(g * y))
        if axis == g.ndim - 1 and g.shape == y.shape:
            # A dot per row (BLAS): no (M, R) product pass, and ~2x faster than multiply + sum (rounded as a dot
            # rounds, not as NumPy's pairwise sum: the same values within float error).
            total = np.vecdot(g, y)[..., None]
        else:  # the product formed in the result's buffer
            np.multiply(g, y, out=gx)
            total = np.add.reduce(gx, axis=axis, keepdims=True)
        np.subtract(g, total, out=gx)
        gx *= y


def softmax_backward_ref(grad: np.ndarray, y: np.ndarray, axis: int = -1, log: bool = False,
                         exp: tuple | None = None, consume: bool = False) -> np.ndarray:
    """d/dx of softmax (log_softmax) from the incoming grad and the forward's output y; exp (log only): the
    forward's (exp(x - row max), row sums) from log_softmax_exp_ref, which spares the exp pass (exp(y) would round
    differently). It is read, not modified, unless `consume`: then the result is computed in exp's own array
    (used up: pass it once), the same bits without a fresh (M, R) array, whose first-touch page faults cost here
    about what the backward's arithmetic does."""
    g, yf = _acc(grad), _acc(y)
    if g.ndim < yf.ndim:  # broadcast over leading dims: its axes numbered as y's
        g = g.reshape((1,) * (yf.ndim - g.ndim) + g.shape)
    axis %= max(y.ndim, 1)
    if consume and exp is not None and exp[0].shape == np.broadcast_shapes(g.shape, yf.shape):
        gx = exp[0]
    else:
        gx = _like(g, yf)
    with np.errstate(invalid="ignore", over="ignore"):
        host_threads.unbuffer_rows(gx.shape[-1] if gx.ndim else 0)
        if axis == 1 and g.ndim == 2 and g.shape == yf.shape and host_threads.runs_inline(*g.shape):
            # Rows in one inline call: the call the slab path (or, strided, the whole-array path) makes here.
            _backward_slab(g, yf, gx, 1, log, exp)
            return _finish(gx, y.dtype)
        views = [_slabs(a, axis) if a.size else None for a in (g, yf, gx) + ((exp[0],) if exp else ())]
        if g.shape != yf.shape or any(v is None for v in views):  # broadcast or strided: one call, whole arrays
            _backward_slab(g, yf, gx, axis, log, exp)
            return _finish(gx, y.dtype)
        gs, ys, gxs = views[:3]
        ts = None if exp is None else exp[1].reshape(gs.shape[:1] + (1,) + gs.shape[2:])

        def rows(lo: int, hi: int) -> None:
            part = None if exp is None else (views[3][lo:hi], ts[lo:hi])
            _backward_slab(gs[lo:hi], ys[lo:hi], gxs[lo:hi], 1, log, part)

        host_threads.for_rows(rows, gs.shape[0], g.size // max(gs.shape[0], 1))
    return _finish(gx, y.dtype)


def log_softmax_backward_ref(grad: np.ndarray, y: np.ndarray, axis: int = -1, exp: tuple | None = None,
                             consume: bool = False) -> np.ndarray:
    return softmax_backward_ref(grad, y, axis, log=True, exp=exp, consume=consume)


# ---------------------------------------------------------------- AOT / tuner declarations
def _signature(names: list[str], dtype: str) -> dict[str, str]:
    sig = {n: f"*{dtype}" for n in names}
    sig.update(M="i32", M1="i32", R="i32")
    for n in names:
        short = {"out_ptr": "o", "x_ptr": "x", "gx_ptr": "gx", "g_ptr": "g", "y_ptr": "y"}[n]
        sig.update({f"s{short}0": "i32", f"s{short}1": "i32", f"s{short}r": "i32"})
    return sig


_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "fp64": "float64"}


def _declared(dtype: str, backward: bool) -> tuple[list[dict], list[dict]]:
    """(every config the heuristic picks, every config a key's space holds) for a spec's dtype: from one key per
    row bucket, layout and row count (few rows / many)."""
    keys = [(False, _DTYPES[dtype], _DTYPES[dtype], m, 2**k, strided)
            for k in range(16) for strided in (False, True) for m in (1, 1 << 20)]
    pick = partial(_heuristic, backward=backward)
    configs = list({repr(pick(k)): pick(k) for k in keys}.values())
    space = list({repr(c): c for k in keys for c in _space(k, "max", backward)}.values())
    return configs, space


SPECS = [
    KernelSpec(f"softmax.{'log_softmax' if log else 'softmax'}[{dtype}]", softmax_kernel,
               _signature(["out_ptr", "x_ptr"], dtype), dict(LOG=log), *_declared(dtype, False))
    for log in (False, True) for dtype in ("fp32", "bf16", "fp16", "fp64")
] + [
    KernelSpec(f"softmax.{'log_softmax' if log else 'softmax'}_backward[{dtype}]", softmax_backward_kernel,
               _signature(["gx_ptr", "g_ptr", "y_ptr"], dtype), dict(LOG=log), *_declared(dtype, True))
    for log in (False, True) for dtype in ("fp32", "bf16", "fp64")
]
