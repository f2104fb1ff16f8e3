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

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2

# Rows up to this many elements are normalised from registers in one pass (tile = BLOCK_M x BLOCK_R).
MAX_ONE_PASS = 2048
TILE = 2048  # elements per program for short contiguous rows (BLOCK_M = TILE // BLOCK_R)
LOOP_BLOCK_R = 1024  # chunk length when a row is longer than MAX_ONE_PASS
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
def online_lse(x_rows, row_mask, R, sxr, acc_type: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_R: tl.constexpr):
    """(row max, sum(exp(x - row max))) per row in one pass over R; each lane keeps its own running
    max and rescales its partial sum when the max grows."""
    m = tl.full((BLOCK_M, BLOCK_R), float("-inf"), acc_type)
    s = tl.zeros((BLOCK_M, BLOCK_R), acc_type)
    for start in range(0, R, BLOCK_R):
        cols = start + tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (cols < R)[None, :]
        x = compute_type(tl.load(x_rows + cols.to(tl.int64)[None, :] * sxr, mask=mask, other=float("-inf")))
        x = x.to(acc_type)
        new_m = tl.maximum(m, x)
        # A lane that has seen only -inf keeps a zero sum (shift by 0 instead of -inf - -inf = NaN).
        shift = tl.where(new_m == float("-inf"), 0.0, new_m)
        s = s * tl.exp(m - shift) + tl.exp(x - shift)
        m = new_m
    row_max = tl.max(m, axis=1)
    # Lanes at -inf contribute 0; an all -inf row leaves row_max = -inf and a NaN sum, as PyTorch. Such rows
    # (and rows past M) rescale by 0 rather than compute -inf - -inf in lanes whose value is discarded anyway.
    shift = tl.where(row_max == float("-inf"), 0.0, row_max)
    total = tl.sum(tl.where(m == float("-inf"), 0.0, s * tl.exp(m - shift[:, None])), axis=1)
    total = tl.where(row_max == float("-inf"), float("nan"), total)
    return row_max, total


@triton.jit
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
        total = tl.where(no_max, float("nan"), tl.sum(tl.where(mask, e, 0.0), axis=1))
        if LOG:
            y = shifted - tl.log(total)[:, None]
        else:
            y = e / total[:, None]
        tl.store(o_rows + cols.to(tl.int64)[None, :] * sor, cast_to(y, out_ptr.dtype.element_ty), mask=mask)
    else:
        row_max, total = online_lse(x_rows, row_mask, R, sxr, acc_type, BLOCK_M, BLOCK_R)
        log_total = tl.log(total)
        for start in range(0, R, BLOCK_R):
            cols = start + tl.arange(0, BLOCK_R)
            mask = row_mask[:, None] & (cols < R)[None, :]
            x = compute_type(tl.load(x_rows + cols.to(tl.int64)[None, :] * sxr, mask=mask, other=0.0))
            shifted = x.to(acc_type) - row_max[:, None]
            if LOG:
                y = shifted - log_total[:, None]
            else:
                y = tl.exp(shifted) / total[:, None]
            tl.store(o_rows + cols.to(tl.int64)[None, :] * sor, cast_to(y, out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _backward_math(g, y, row_sum, LOG: tl.constexpr):
    if LOG:
        return g - tl.exp(y) * row_sum
    else:
        return y * (g - row_sum)


@triton.jit
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
    """(M, R) -> (1, M, R); (M0, M1, R) unchanged."""
    if a.ndim == 3:
        return a
    if a.ndim != 2:
        raise ValueError(f"expected a (M, R) or (M0, M1, R) view, got shape {a.shape}")
    return a.view_as((1,) + a.shape, (0,) + a.strides)


def softmax_config(R: int, row_stride: int) -> dict:
    """Launch config for rows of length R whose elements are `row_stride` apart."""
    if row_stride != 1 and R > 1:
        return dict(STRIDED, ONE_PASS=R <= STRIDED["BLOCK_R"])
    block_r = max(16, triton.next_power_of_2(R))
    if block_r > MAX_ONE_PASS:
        return dict(BLOCK_M=1, BLOCK_R=LOOP_BLOCK_R, num_warps=4, ONE_PASS=False)
    # Every short-row tile holds 1024-2048 elements; 8 warps keep them (and fp64) free of spills.
    block_m = max(1, min(64, TILE // block_r))
    return dict(BLOCK_M=block_m, BLOCK_R=block_r, num_warps=8, ONE_PASS=True)


def _one_pass(block_r: int, tile: int, num_warps: int) -> dict:
    return dict(BLOCK_M=max(1, min(64, tile // block_r)), BLOCK_R=block_r, num_warps=num_warps, ONE_PASS=True)


def _heuristic(key: tuple) -> dict:
    """Keys end with (next_pow2(M), next_pow2(R), rows strided): softmax_config of the row's block."""
    return softmax_config(key[-2], 2 if key[-1] else 1)


def _space(key: tuple, space: str) -> list[dict]:
    """Candidates valid for the key's rows: a one-pass tile always covers next_pow2(R) >= R; looping
    configs serve any row; "max" adds long-row loops for rows that also fit one pass."""
    rb, strided = key[-2], key[-1]
    if strided:
        cands = [dict(BLOCK_M=32, BLOCK_R=16, num_warps=4, ONE_PASS=rb <= 16)]
    elif rb <= 64:
        # Half a tile at 4 warps spills in the backward for rows this short (AOT check): the strided loop instead.
        cands = [dict(STRIDED, ONE_PASS=False)]
    elif rb <= MAX_ONE_PASS:
        # Half the tile at half the warps: the same registers per thread, twice the programs.
        cands = [_one_pass(rb, TILE // 2, 4)] + (_LOOPS if space == "max" and rb >= LOOP_BLOCK_R else [])
    else:
        # Rows up to 8192 can still stay in registers with 16 warps: one read of x instead of two.
        cands = _LOOPS[1:] + ([_one_pass(rb, rb, 16)] if rb <= 4 * MAX_ONE_PASS else [])
    return [_heuristic(key)] + [c for c in cands if c != _heuristic(key)]


def _key(log: bool, x: DeviceArray, out: DeviceArray, M: int, R: int, row_stride: int) -> tuple:
    return log, x.dtype.name, out.dtype.name, next_pow2(M), next_pow2(R), row_stride != 1 and R > 1


# Forward: reads and writes M*R; backward: reads grad and y (M*R each), writes grad_x.
_LOOPS = [dict(BLOCK_M=1, BLOCK_R=LOOP_BLOCK_R, num_warps=4, ONE_PASS=False),
          dict(BLOCK_M=1, BLOCK_R=2 * LOOP_BLOCK_R, num_warps=8, ONE_PASS=False)]
SOFTMAX_TUNING = Tunable("softmax.softmax", _space, _heuristic, lambda M, R, itemsizes: Cost(
    float(M) * R * itemsizes, 4.0 * M * R))
SOFTMAX_BACKWARD_TUNING = Tunable("softmax.softmax_backward", _space, _heuristic, lambda M, R, itemsizes: Cost(
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
def _acc(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64 if x.dtype == np.float64 else np.float32)


def softmax_ref(x: np.ndarray, axis: int = -1, log: bool = False) -> np.ndarray:
    """softmax (or log_softmax) along `axis`, computed in fp32 (fp64 for fp64) and cast back to x's dtype."""
    xf = _acc(x)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        m = np.max(xf, axis=axis, keepdims=True) if xf.size else np.zeros_like(xf)
        shifted = xf - m
        e = np.exp(shifted)
        total = np.sum(e, axis=axis, keepdims=True)
        y = shifted - np.log(total) if log else e / total
    return y.astype(x.dtype)


def log_softmax_ref(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return softmax_ref(x, axis, log=True)


def softmax_backward_ref(grad: np.ndarray, y: np.ndarray, axis: int = -1, log: bool = False) -> np.ndarray:
    g, yf = _acc(grad), _acc(y)
    with np.errstate(invalid="ignore", over="ignore"):
        if log:
            gx = g - np.exp(yf) * np.sum(g, axis=axis, keepdims=True)
        else:
            gx = yf * (g - np.sum(g * yf, axis=axis, keepdims=True))
    return gx.astype(y.dtype)


def log_softmax_backward_ref(grad: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return softmax_backward_ref(grad, y, axis, log=True)


# ---------------------------------------------------------------- AOT / tuner declarations
def _signature(names: list[str], dtype: str) -> dict[str, str]:
    sig = {n: f"*{dtype}" for n in names}
    sig.update(M="i32", M1="i32", R="i32")
    for n in names:
        short = {"out_ptr": "o", "x_ptr": "x", "gx_ptr": "gx", "g_ptr": "g", "y_ptr": "y"}[n]
        sig.update({f"s{short}0": "i32", f"s{short}1": "i32", f"s{short}r": "i32"})
    return sig


# Every config the launch heuristic can pick: one-pass tiles for rows of 16..2048, the loop, the strided rows.
_CONFIGS = [softmax_config(2**k, 1) for k in range(4, 12)] + [softmax_config(MAX_ONE_PASS + 1, 1),
                                                              softmax_config(MAX_ONE_PASS + 1, 7)]
# Every config a key's space can hold (the AOT check's --full), from one key per distinct space.
_SPACE = list({repr(c): c for rb in [2**k for k in range(15)] for strided in (False, True)
               for c in _space((rb, strided), "max")}.values())

SPECS = [
    KernelSpec(f"softmax.{'log_softmax' if log else 'softmax'}[{dtype}]", softmax_kernel,
               _signature(["out_ptr", "x_ptr"], dtype), dict(LOG=log), _CONFIGS, _SPACE)
    for log in (False, True) for dtype in ("fp32", "bf16", "fp16", "fp64")
] + [
    KernelSpec(f"softmax.{'log_softmax' if log else 'softmax'}_backward[{dtype}]", softmax_backward_kernel,
               _signature(["gx_ptr", "g_ptr", "y_ptr"], dtype), dict(LOG=log), _CONFIGS, _SPACE)
    for log in (False, True) for dtype in ("fp32", "bf16", "fp64")
]
