"""EmbeddingBag: per-bag sum / mean / max of gathered weight rows, and the per-entry gradient rows.

Bags are given by an int64 (B + 1,) `offsets` vector (bag b is entries [offsets[b], offsets[b + 1]) of the
flat (N,) indices; the ops layer appends N, or drops nothing with include_last_offset). A 2-d grid over
(bags, column chunks): a program walks its bag BLOCK_J entries at a time, loading a (BLOCK_J, BLOCK_D) tile
of rows (128-bit row chunks when D and the row stride are multiples of 16) and folding it into the bag's
sum (weighted by per_sample_weights) or max. Entries equal to padding_idx do not count (mean divides by the
rest; a bag with none left is zeros). Max mode also stores, per (bag, column), the entry position that won
(the first on ties, as PyTorch's cpu loop; -1 for an empty bag) for the backward. The forward writes the
bag of every entry (offset2bag) and each bag's size, as PyTorch's _embedding_bag.

The backward writes one gradient row per entry (sum: w_j * g_b, mean: g_b / size_b, max: g_b where the
entry won), each entry in exactly one bag so no atomics; the ops layer scatters those rows into the
weight's gradient with kernels/embedding.py (atomic or deterministic).
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .ieee_math import div_ieee
from .index_errors import report_out_of_range
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2

MODES = {"sum": 0, "mean": 1, "max": 2}


@fast_jit
def embedding_bag_kernel(
    out_ptr,  # (B, D) contiguous output
    maxpos_ptr,  # (B, D) int64 winning entry per column (MODE == 2 only)
    o2b_ptr,  # (N,) int64 bag of every entry (written by column chunk 0)
    size_ptr,  # (B,) int64 counted entries per bag (written by column chunk 0)
    w_ptr,  # (V, D) weight, unit column stride
    idx_ptr,  # (N,) int64 indices
    off_ptr,  # (B + 1,) int64 bag boundaries
    psw_ptr,  # (N,) per-sample weights (HAS_PSW only)
    D, V,
    stride_w,  # weight row stride
    padding_idx,  # entries with this index are skipped (-1: none)
    err_ptr,  # int64[2] device error word
    err_code,  # registered code of "index out of range in self"; 0 reports nothing
    MODE: tl.constexpr,  # 0 sum, 1 mean, 2 max
    HAS_PSW: tl.constexpr,
    BLOCK_J: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    b = tl.program_id(0).to(tl.int64)
    first_chunk = tl.program_id(1) == 0
    cols = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    col_mask = cols < D
    start = tl.load(off_ptr + b)
    end = tl.load(off_ptr + b + 1)
    acc_type: tl.constexpr = tl.float64 if w_ptr.dtype.element_ty == tl.float64 else tl.float32
    if MODE == 2:
        acc = tl.full((BLOCK_D,), float("-inf"), acc_type)
        pos = tl.full((BLOCK_D,), -1, tl.int64)
    else:
        acc = tl.zeros((BLOCK_D,), acc_type)
    count = tl.zeros((BLOCK_J,), tl.int64)
    for j0 in range(start, end, BLOCK_J):
        js = j0 + tl.arange(0, BLOCK_J)
        jm = js < end
        idx = tl.load(idx_ptr + js, mask=jm, other=0)
        bad = jm & ((idx < 0) | (idx >= V))
        if first_chunk:  # one column chunk reports and records the entries' bag
            if err_code != 0:
                report_out_of_range(err_ptr, err_code, idx, bad)
            tl.store(o2b_ptr + js, tl.zeros_like(js) + b, mask=jm)
        keep = jm & (~bad) & (idx != padding_idx)
        count += keep.to(tl.int64)
        idx = tl.where(keep, idx, 0)
        mask = keep[:, None] & col_mask[None, :]
        x = compute_type(tl.load(w_ptr + idx[:, None] * stride_w + cols[None, :], mask=mask, other=0.0)).to(acc_type)
        if MODE == 2:
            x = tl.where(mask, x, float("-inf"))
            m, arg = tl.max(x, axis=0, return_indices=True, return_indices_tie_break_left=True)
            # Strictly greater: an earlier chunk keeps a tie (the first maximum wins).
            better = (m > acc) | ((pos < 0) & (m > float("-inf")))
            pos = tl.where(better, j0 + arg.to(tl.int64), pos)
            acc = tl.where(better, m, acc)
        else:
            if HAS_PSW:
                w = compute_type(tl.load(psw_ptr + js, mask=keep, other=0.0)).to(acc_type)
                x = x * w[:, None]
            acc += tl.sum(x, axis=0)
    n = tl.sum(count, axis=0)
    if MODE == 1:
        acc = tl.where(n > 0, div_ieee(acc, tl.maximum(n, 1).to(acc_type) + tl.zeros_like(acc)), 0.0)
    if MODE == 2:
        acc = tl.where(pos >= 0, acc, 0.0)
        tl.store(maxpos_ptr + b * D + cols, pos, mask=col_mask)
    tl.store(out_ptr + b * D + cols, cast_to(acc, out_ptr.dtype.element_ty), mask=col_mask)
    if first_chunk:
        tl.store(size_ptr + b, n)


@fast_jit
def embedding_bag_backward_kernel(
    rg_ptr,  # (N, D) contiguous output: the gradient row of every entry
    g_ptr,  # (B, D) incoming gradient, unit column stride
    maxpos_ptr,  # (B, D) int64 winning entries (MODE == 2)
    size_ptr,  # (B,) int64 bag sizes (MODE == 1)
    idx_ptr,  # (N,) int64 indices
    off_ptr,  # (B + 1,) int64 bag boundaries
    psw_ptr,  # (N,) per-sample weights (HAS_PSW)
    D,
    stride_g,  # grad row stride
    padding_idx,
    MODE: tl.constexpr,
    HAS_PSW: tl.constexpr,
    BLOCK_J: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    b = tl.program_id(0).to(tl.int64)
    cols = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    col_mask = cols < D
    start = tl.load(off_ptr + b)
    end = tl.load(off_ptr + b + 1)
    acc_type: tl.constexpr = tl.float64 if g_ptr.dtype.element_ty == tl.float64 else tl.float32
    g = compute_type(tl.load(g_ptr + b * stride_g + cols, mask=col_mask, other=0.0)).to(acc_type)
    if MODE == 1:
        g = div_ieee(g, tl.maximum(tl.load(size_ptr + b), 1).to(acc_type) + tl.zeros_like(g))
    if MODE == 2:
        pos = tl.load(maxpos_ptr + b * D + cols, mask=col_mask, other=-1)
    for j0 in range(start, end, BLOCK_J):
        js = j0 + tl.arange(0, BLOCK_J)
        jm = js < end
        keep = jm & (tl.load(idx_ptr + js, mask=jm, other=0) != padding_idx)
        rg = tl.where(keep[:, None], g[None, :], 0.0)
        if MODE == 2:
            rg = tl.where(pos[None, :] == js[:, None], rg, 0.0)
        if HAS_PSW:
            rg = rg * compute_type(tl.load(psw_ptr + js, mask=keep, other=0.0)).to(acc_type)[:, None]
        tl.store(rg_ptr + js[:, None] * D + cols[None, :], cast_to(rg, rg_ptr.dtype.element_ty),
                 mask=jm[:, None] & col_mask[None, :])


# ---------------------------------------------------------------- tuning
def _heuristic(key: tuple) -> dict:
    """Keys end with (next_pow2(bag length), next_pow2(D)). A tile of at least 256 elements, 8+ per thread, so
    row chunks are 128-bit loads (short bags and narrow rows widen the column chunk, masked beyond D)."""
    bj = max(1, min(16, key[-2]))
    bd = min(256, max(16, next_pow2(key[-1]), 256 // bj))
    bj = max(bj, min(16, 256 // bd))
    return dict(BLOCK_J=bj, BLOCK_D=bd, num_warps=max(1, min(4, bj * bd // 256)))


def _space(key: tuple, space: str) -> list[dict]:
    h = _heuristic(key)
    cands = [h, dict(h, BLOCK_J=max(1, h["BLOCK_J"] // 2), num_warps=max(1, h["num_warps"] // 2)),
             dict(h, BLOCK_D=max(16, h["BLOCK_D"] // 2), num_warps=max(1, h["num_warps"] // 2)),
             # At most 4096 elements on 4 warps: 8 x 256 on 8 warps and 32 x 256 on 4 spill in max mode (sm_90).
             dict(h, BLOCK_J=min(32, 2 * h["BLOCK_J"], 4096 // h["BLOCK_D"]), num_warps=min(4, 2 * h["num_warps"]))]
    return list({repr(c): c for c in cands}.values())


BAG_TUNING = Tunable("embedding_bag.forward", _space, _heuristic,
                     lambda N, B, D, itemsize: Cost(N * D * itemsize + B * D * (itemsize + 8.0) + 24.0 * N,
                                                    2.0 * N * D))
BAG_BACKWARD_TUNING = Tunable("embedding_bag.backward", _space, _heuristic,
                              lambda N, B, D, itemsize: Cost(N * D * itemsize + B * D * (itemsize + 8.0) + 16.0 * N,
                                                             float(N) * D))


# ---------------------------------------------------------------- launch wrappers
def embedding_bag(out: DeviceArray, maxpos: DeviceArray | None, offset2bag: DeviceArray, bag_size: DeviceArray,
                  weight: DeviceArray, indices: DeviceArray, offsets: DeviceArray, mode: str,
                  per_sample_weights: DeviceArray | None = None, padding_idx: int = -1, *,
                  err: DeviceArray | None = None, err_code: int = 0) -> None:
    """out (B, D) = each bag's mode-reduction of weight[indices]; maxpos (B, D) int64 for max; offset2bag (N,)
    and bag_size (B,) int64. offsets int64 (B + 1,). Out-of-range indices go into the error word `err`."""
    B, N, (V, D) = out.shape[0], indices.shape[0], weight.shape
    if B == 0 or D == 0:
        return
    err, err_code = (err, int(err_code)) if err is not None else (indices, 0)
    psw = per_sample_weights if per_sample_weights is not None else weight
    mp = maxpos if maxpos is not None else indices

    def run(cfg):
        grid = (B, triton.cdiv(D, cfg["BLOCK_D"]))
        embedding_bag_kernel[grid](out, mp, offset2bag, bag_size, weight, indices, offsets, psw, D, V,
                                   weight.strides[0], int(padding_idx), err, err_code, MODE=MODES[mode],
                                   HAS_PSW=per_sample_weights is not None, **cfg)

    key = (mode, per_sample_weights is not None, weight.dtype.name, next_pow2(max(1, N // B)), next_pow2(D))
    tuning.launch(BAG_TUNING, key, dict(N=N, B=B, D=D, itemsize=weight.dtype.itemsize), run)


def embedding_bag_backward(row_grad: DeviceArray, grad: DeviceArray, maxpos: DeviceArray | None,
                           bag_size: DeviceArray, indices: DeviceArray, offsets: DeviceArray, mode: str,
                           per_sample_weights: DeviceArray | None = None, padding_idx: int = -1) -> None:
    """row_grad (N, D) contiguous: each entry's gradient row (entries outside every bag are left as they are;
    the caller zeroes row_grad when include_last_offset drops a tail)."""
    B, D = grad.shape
    N = indices.shape[0]
    if B == 0 or D == 0 or N == 0:
        return
    psw = per_sample_weights if per_sample_weights is not None else grad
    mp = maxpos if maxpos is not None else indices

    def run(cfg):
        grid = (B, triton.cdiv(D, cfg["BLOCK_D"]))
        embedding_bag_backward_kernel[grid](row_grad, grad, mp, bag_size, indices, offsets, psw, D, grad.strides[0],
                                            int(padding_idx), MODE=MODES[mode],
                                            HAS_PSW=per_sample_weights is not None, **cfg)

    key = (mode, per_sample_weights is not None, grad.dtype.name, next_pow2(max(1, N // B)), next_pow2(D))
    tuning.launch(BAG_BACKWARD_TUNING, key, dict(N=N, B=B, D=D, itemsize=grad.dtype.itemsize), run)


# ---------------------------------------------------------------- NumPy references
def embedding_bag_ref(weight: np.ndarray, indices: np.ndarray, offsets: np.ndarray, mode: str,
                      per_sample_weights: np.ndarray | None = None, padding_idx: int = -1) -> tuple:
    """(out (B, D), maxpos (B, D) int64 or None, offset2bag (N,), bag_size (B,)); offsets (B + 1,)."""
    idx = np.asarray(indices, dtype=np.int64)
    acc_t = np.float64 if weight.dtype == np.float64 else np.float32
    B, D = len(offsets) - 1, weight.shape[1]
    out = np.zeros((B, D), acc_t)
    maxpos = np.full((B, D), -1, np.int64) if mode == "max" else None
    o2b = np.zeros(idx.shape[0], np.int64)
    size = np.zeros(B, np.int64)
    for b in range(B):
        s, e = int(offsets[b]), int(offsets[b + 1])
        o2b[s:e] = b
        js = np.arange(s, e)
        js = js[idx[s:e] != padding_idx]
        size[b] = len(js)
        if len(js) == 0:
            continue
        rows = weight[idx[js]].astype(acc_t)
        if mode == "max":
            arg = np.argmax(rows, axis=0)
            maxpos[b] = js[arg]
            out[b] = rows[arg, np.arange(D)]
            continue
        if per_sample_weights is not None:
            rows = rows * per_sample_weights[js].astype(acc_t)[:, None]
        out[b] = rows.sum(0) / (len(js) if mode == "mean" else 1)
    return out.astype(weight.dtype), maxpos, o2b, size


def embedding_bag_backward_ref(grad: np.ndarray, indices: np.ndarray, offsets: np.ndarray, mode: str,
                               maxpos: np.ndarray | None, bag_size: np.ndarray,
                               per_sample_weights: np.ndarray | None = None, padding_idx: int = -1) -> np.ndarray:
    """The (N, D) gradient row of every entry (zeros outside every bag and at padding_idx)."""
    idx = np.asarray(indices, dtype=np.int64)
    acc_t = np.float64 if grad.dtype == np.float64 else np.float32
    rg = np.zeros((idx.shape[0], grad.shape[1]), acc_t)
    for b in range(grad.shape[0]):
        s, e = int(offsets[b]), int(offsets[b + 1])
        g = grad[b].astype(acc_t)
        if mode == "mean":
            g = g / max(int(bag_size[b]), 1)
        for j in range(s, e):
            if idx[j] == padding_idx:
                continue
            row = np.where(maxpos[b] == j, g, 0) if mode == "max" else g
            rg[j] = row * (per_sample_weights[j] if per_sample_weights is not None else 1)
    return rg.astype(grad.dtype)


# ---------------------------------------------------------------- specs
def _declared() -> tuple[list[dict], list[dict]]:
    """(shipped: the heuristic's for long bags of narrow rows and single-entry bags of wide rows; the space)."""
    keys = [(n, d) for n in (1, 4, 16) for d in (16, 64, 256, 1024)]
    shipped = [_heuristic((16, 64)), _heuristic((1, 1024))]
    return (list({repr(c): c for c in shipped}.values()),
            list({repr(c): c for k in keys for c in _space(k, "max")}.values()))


def _fwd_sig(dt: str) -> dict:
    return {"out_ptr": f"*{dt}", "maxpos_ptr": "*i64", "o2b_ptr": "*i64", "size_ptr": "*i64", "w_ptr": f"*{dt}",
            "idx_ptr": "*i64", "off_ptr": "*i64", "psw_ptr": f"*{dt}", "D": "i32", "V": "i32", "stride_w": "i32",
            "padding_idx": "i64", "err_ptr": "*i64", "err_code": "i32"}


def _bwd_sig(dt: str) -> dict:
    return {"rg_ptr": f"*{dt}", "g_ptr": f"*{dt}", "maxpos_ptr": "*i64", "size_ptr": "*i64", "idx_ptr": "*i64",
            "off_ptr": "*i64", "psw_ptr": f"*{dt}", "D": "i32", "stride_g": "i32", "padding_idx": "i64"}


SPECS = [
    KernelSpec(f"embedding_bag.forward[{mode},{dt}]", embedding_bag_kernel, _fwd_sig(dt),
               dict(MODE=MODES[mode], HAS_PSW=mode == "sum"), *_declared())
    for mode in ("sum", "max") for dt in ("fp32", "bf16")
] + [
    KernelSpec(f"embedding_bag.backward[{mode},{dt}]", embedding_bag_backward_kernel, _bwd_sig(dt),
               dict(MODE=MODES[mode], HAS_PSW=False), *_declared())
    for mode in ("mean", "max") for dt in ("fp32", "bf16")
]

__all__ = ["embedding_bag", "embedding_bag_backward"]
