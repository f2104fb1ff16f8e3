"""Embedding: the row gather (forward), the scatter-add of gradient rows (backward) and max_norm's renorm.

Weight is (V, D) with unit column stride (the ops layer copies otherwise); indices are a flat int64 (N,)
vector; the looked-up rows and their gradients are contiguous (N, D).

* forward: a 2-d grid over (BLOCK_N indices, BLOCK_D columns); every program copies BLOCK_N row chunks.
  With D and the row stride multiples of 16 (the aligned build), a row chunk is 128-bit loads and stores.
  An index outside [0, V) is reported through the device error word (kernels/index_errors.py) and its
  output row is zeros; no load leaves the weight.
* backward (atomic): the same grid; each gradient row chunk is atomically added into grad_weight at its
  index (fp32 scratch for fp16/bf16 weights), skipping padding_idx. Duplicates sum in a run-dependent order.
* backward (deterministic, `tt.use_deterministic_algorithms(True)`, and scale_grad_by_freq): the indices
  arrive stably sorted with the permutation that sorts them. One program per (sorted position, column
  chunk): only the first position of a run of equal indices works, summing that run's gradient rows in
  sorted (= input) order in fp32 and writing the row once: no atomics, the same bits every run. The run's
  length is the index's frequency, which scale_grad_by_freq divides by. grad_weight is zeroed first.
  An index vector longer than one sort row (sort.MAX_SORT_R) is sorted in chunks; the kernel then runs once
  per chunk, in order, adding each run's sum to its row (ACCUMULATE): still fixed-order, still no atomics.
* renorm (max_norm): on the sorted indices, the first position of each run rescales its weight row in
  place to max_norm / (norm + 1e-7) when its norm exceeds max_norm, as PyTorch's embedding_renorm_
  (each row once, so no two programs touch one row).
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .ieee_math import div_ieee, sqrt_ieee
from .index_errors import report_out_of_range
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .sort import MAX_SORT_R
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2

MAX_BLOCK_D = 512  # widest column chunk of one program (wider rows get several chunks: more programs)
ROW_TILE = 2048  # elements one gather/scatter program moves (BLOCK_N rows x BLOCK_D columns)


@fast_jit
def embedding_kernel(
    out_ptr,  # (N, D) contiguous output rows
    w_ptr,  # (V, D) weight, unit column stride
    idx_ptr,  # (N,) int64 indices
    N, D, V,
    stride_w,  # weight row stride
    err_ptr,  # int64[2] device error word (code, index)
    err_code,  # registered code of "index out of range in self"; 0 reports nothing
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    rows = tl.program_id(0).to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
    cols = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    row_mask = rows < N
    idx = tl.load(idx_ptr + rows, mask=row_mask, other=0)
    bad = row_mask & ((idx < 0) | (idx >= V))
    if err_code != 0:
        if tl.program_id(1) == 0:  # one column chunk reports
            report_out_of_range(err_ptr, err_code, idx, bad)
    ok = row_mask & (~bad)
    idx = tl.where(ok, idx, 0)
    col_mask = cols < D
    x = tl.load(w_ptr + idx[:, None] * stride_w + cols[None, :], mask=ok[:, None] & col_mask[None, :], other=0.0)
    tl.store(out_ptr + rows[:, None] * D + cols[None, :], x, mask=row_mask[:, None] & col_mask[None, :])


@fast_jit
def embedding_backward_kernel(
    gw_ptr,  # (V, D) gradient of the weight (or its fp32 scratch), accumulated into with atomics
    g_ptr,  # (N, D) contiguous gradient rows
    idx_ptr,  # (N,) int64 indices, already checked by the forward
    N, D,
    stride_gw,  # grad_weight row stride
    padding_idx,  # rows with this index get no gradient (-1: none)
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    rows = tl.program_id(0).to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
    cols = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    row_mask = rows < N
    idx = tl.load(idx_ptr + rows, mask=row_mask, other=0)
    keep = row_mask & (idx != padding_idx)
    mask = keep[:, None] & (cols < D)[None, :]
    g = tl.load(g_ptr + rows[:, None] * D + cols[None, :], mask=mask, other=0.0)
    tl.atomic_add(gw_ptr + idx[:, None] * stride_gw + cols[None, :], g.to(gw_ptr.dtype.element_ty), mask=mask)


@fast_jit
def embedding_backward_sorted_kernel(
    gw_ptr,  # (V, D) gradient of the weight, zeroed; each touched row written once
    g_ptr,  # (N, D) contiguous gradient rows
    sidx_ptr,  # (N,) int64 indices, stably sorted
    perm_ptr,  # (N,) int64: sidx[i] == idx[perm[i]]
    N, D,
    stride_gw,  # grad_weight row stride
    padding_idx,  # rows with this index get no gradient (-1: none)
    SCALE_FREQ: tl.constexpr,  # scale_grad_by_freq: divide the row's sum by its index count
    ACCUMULATE: tl.constexpr,  # add the run's sum to the row already there (a later chunk of a long index vector)
    BLOCK_D: tl.constexpr,
):
    i = tl.program_id(0).to(tl.int64)
    cols = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    col_mask = cols < D
    cur = tl.load(sidx_ptr + i)
    prev = tl.load(sidx_ptr + i - 1, mask=i > 0, other=-1)
    # Only the first position of a run works (padding_idx's run is skipped: its row stays zero).
    if ((i == 0) | (prev != cur)) & (cur != padding_idx):
        acc_type: tl.constexpr = tl.float64 if g_ptr.dtype.element_ty == tl.float64 else tl.float32
        acc = tl.zeros((BLOCK_D,), acc_type)
        j = i
        nxt = cur
        while nxt == cur:  # the run, in sorted (= input, the sort is stable) order
            p = tl.load(perm_ptr + j)
            acc += compute_type(tl.load(g_ptr + p * D + cols, mask=col_mask, other=0.0)).to(acc_type)
            j += 1
            nxt = tl.load(sidx_ptr + j, mask=j < N, other=-1)
        if SCALE_FREQ:
            acc = div_ieee(acc, (j - i).to(acc_type))  # correctly rounded, as the NumPy reference
        row = gw_ptr + cur * stride_gw + cols
        if ACCUMULATE:  # this launch touches each row once, so the read-modify-write cannot race
            acc = compute_type(tl.load(row, mask=col_mask, other=0.0)).to(acc_type) + acc
        tl.store(row, cast_to(acc, gw_ptr.dtype.element_ty), mask=col_mask)


@fast_jit
def embedding_renorm_kernel(
    w_ptr,  # (V, D) weight, rescaled in place
    sidx_ptr,  # (N,) int64 indices, sorted (only run starts work, so each row is touched once)
    N, D, V,
    stride_w,  # weight row stride
    max_norm,  # fp32
    norm_type,  # fp32 p of the p-norm (NORM == 0)
    NORM: tl.constexpr,  # 0: general p, 1: L1, 2: L2, 3: max (inf)
    BLOCK_D: tl.constexpr,
):
    i = tl.program_id(0).to(tl.int64)
    cur = tl.load(sidx_ptr + i)
    prev = tl.load(sidx_ptr + i - 1, mask=i > 0, other=-1)
    # Out-of-range indices are skipped here: the lookup that follows reports them.
    if ((i == 0) | (prev != cur)) & (cur >= 0) & (cur < V):
        acc_type: tl.constexpr = tl.float64 if w_ptr.dtype.element_ty == tl.float64 else tl.float32
        acc = tl.zeros((BLOCK_D,), acc_type)
        row = w_ptr + cur * stride_w
        for start in range(0, D, BLOCK_D):  # pass 1: the norm
            cols = start + tl.arange(0, BLOCK_D)
            a = tl.abs(compute_type(tl.load(row + cols, mask=cols < D, other=0.0)).to(acc_type))
            if NORM == 1:
                acc += a
            elif NORM == 2:
                acc += a * a
            elif NORM == 3:
                acc = tl.maximum(acc, a)
            else:
                # log of 1.0 in the zero lanes: both sides of a where are evaluated
                acc += tl.where(a > 0, tl.exp(norm_type * tl.log(tl.where(a > 0, a, 1.0))), 0.0)
        if NORM == 3:
            norm = tl.max(acc, axis=0)
        else:
            norm = tl.sum(acc, axis=0)
            if NORM == 2:
                norm = sqrt_ieee(norm)
            elif NORM == 0:
                norm = tl.where(norm > 0, tl.exp(tl.log(tl.where(norm > 0, norm, 1.0)) / norm_type), 0.0)
        if norm > max_norm:
            scale = div_ieee(max_norm + tl.zeros_like(norm), norm + 1e-7)
            for start in range(0, D, BLOCK_D):  # pass 2: the rescale (the row is re-read: any D)
                cols = start + tl.arange(0, BLOCK_D)
                x = compute_type(tl.load(row + cols, mask=cols < D, other=0.0)).to(acc_type)
                tl.store(row + cols, cast_to(x * scale, w_ptr.dtype.element_ty), mask=cols < D)


# ---------------------------------------------------------------- tuning
def _warps(elems: int) -> int:
    """At least 8 elements per thread, so a 16-bit or fp32 row chunk is 128-bit loads (Triton gives a thread
    fewer when the tile has fewer elements than threads x vector)."""
    return max(1, min(4, elems // 256))


def _tile(D: int, n_rows: int, block_d: int | None = None, tile: int = ROW_TILE) -> dict:
    bd = block_d or min(MAX_BLOCK_D, max(16, next_pow2(D)))
    bn = max(1, min(64, tile // bd))
    min_bn = max(1, 256 // bd)  # a tile of at least 256 elements (see _warps)
    # Few indices: fewer rows per program so the (rows x column chunks) grid still covers every SM twice.
    while bn > min_bn and triton.cdiv(n_rows, bn) * triton.cdiv(D, bd) < 2 * tuning.sm_count():
        bn //= 2
    return dict(BLOCK_N=bn, BLOCK_D=bd, num_warps=_warps(bn * bd))


def _rows_heuristic(key: tuple) -> dict:
    """Keys end with (next_pow2(N), next_pow2(D))."""
    return _tile(key[-1], key[-2])


def _rows_space(key: tuple, space: str) -> list[dict]:
    n, d = key[-2], key[-1]
    cands = [_rows_heuristic(key), _tile(d, n, tile=ROW_TILE // 2), _tile(d, n, tile=ROW_TILE * 2),
             _tile(d, n, block_d=min(MAX_BLOCK_D, max(16, next_pow2(d) // 2)))]
    return list({repr(c): c for c in cands}.values())


def _seg_heuristic(key: tuple) -> dict:
    """One row per program: at least 256 columns (masked beyond D) so each thread moves 128 bits (_warps)."""
    bd = min(MAX_BLOCK_D, max(256, next_pow2(key[-1])))
    return dict(BLOCK_D=bd, num_warps=_warps(bd))


def _seg_space(key: tuple, space: str) -> list[dict]:
    h = _seg_heuristic(key)
    cands = (h, dict(BLOCK_D=max(256, h["BLOCK_D"] // 2), num_warps=1), dict(BLOCK_D=2 * h["BLOCK_D"], num_warps=2))
    return list({repr(c): c for c in cands}.values())


EMBEDDING_TUNING = Tunable("embedding.forward", _rows_space, _rows_heuristic,
                           lambda N, D, itemsize: Cost(2.0 * N * D * itemsize + 8.0 * N, 0.0))
# Read-modify-write of a grad_weight row per gradient row.
EMBEDDING_BACKWARD_TUNING = Tunable("embedding.backward", _rows_space, _rows_heuristic,
                                    lambda N, D, itemsize, acc_itemsize: Cost(
                                        N * D * (itemsize + 2.0 * acc_itemsize) + 8.0 * N, float(N) * D))
EMBEDDING_SORTED_TUNING = Tunable("embedding.backward_sorted", _seg_space, _seg_heuristic,
                                  lambda N, D, itemsize: Cost(2.0 * N * D * itemsize + 24.0 * N, float(N) * D))
EMBEDDING_RENORM_TUNING = Tunable("embedding.renorm", _seg_space, _seg_heuristic,
                                  lambda N, D, itemsize: Cost(3.0 * N * D * itemsize + 16.0 * N, 3.0 * N * D))


# ---------------------------------------------------------------- launch wrappers
def _weight_view(w: DeviceArray) -> None:
    if w.ndim != 2 or (w.strides[1] != 1 and w.shape[1] > 1):
        raise ValueError(f"embedding needs a (V, D) weight with unit column stride, got {w.shape} {w.strides}")


def embedding(out: DeviceArray, weight: DeviceArray, indices: DeviceArray, *, err: DeviceArray | None = None,
              err_code: int = 0) -> None:
    """out (N, D) contiguous = weight[indices]; indices int64 (N,) contiguous. An index outside [0, V) is
    stored into the error word `err` (with code `err_code`) and its row is zeros."""
    _weight_view(weight)
    N, (V, D) = indices.shape[0], weight.shape
    if N == 0 or D == 0:
        return
    err, err_code = (err, int(err_code)) if err is not None else (indices, 0)

    def run(cfg):
        grid = (triton.cdiv(N, cfg["BLOCK_N"]), triton.cdiv(D, cfg["BLOCK_D"]))
        embedding_kernel[grid](out, weight, indices, N, D, V, weight.strides[0], err, err_code, **cfg)

    tuning.launch(EMBEDDING_TUNING, (weight.dtype.name, next_pow2(N), next_pow2(D)),
                  dict(N=N, D=D, itemsize=weight.dtype.itemsize), run)


def embedding_backward(grad_weight: DeviceArray, grad: DeviceArray, indices: DeviceArray,
                       padding_idx: int = -1) -> None:
    """grad_weight (V, D) += the rows of grad (N, D, contiguous) at indices, with atomics (fp32/fp64 or an
    fp32 scratch: the caller zeroes it and casts it back); rows at padding_idx are skipped."""
    _weight_view(grad_weight)
    N, D = grad.shape

    if N == 0 or D == 0:
        return

    def run(cfg):
        grid = (triton.cdiv(N, cfg["BLOCK_N"]), triton.cdiv(D, cfg["BLOCK_D"]))
        embedding_backward_kernel[grid](grad_weight, grad, indices, N, D, grad_weight.strides[0], int(padding_idx),
                                        **cfg)

    sizes = dict(N=N, D=D, itemsize=grad.dtype.itemsize, acc_itemsize=grad_weight.dtype.itemsize)
    tuning.launch(EMBEDDING_BACKWARD_TUNING, (grad.dtype.name, grad_weight.dtype.name, next_pow2(N), next_pow2(D)),
                  sizes, run, repeatable=False)


def embedding_backward_sorted(grad_weight: DeviceArray, grad: DeviceArray, sorted_indices: DeviceArray,
                              perm: DeviceArray, padding_idx: int = -1, scale_grad_by_freq: bool = False,
                              accumulate: bool = False) -> None:
    """grad_weight (V, D) = the fixed-order sum of grad's rows (contiguous (N', D)) per index, from stably sorted
    indices and the positions in grad they came from (both int64 (N,)); no atomics (deterministic). Without
    `accumulate` the caller zeroes grad_weight and each touched row is overwritten; with it each run's sum is
    added to the row (one chunk of a long index vector after another, in order)."""
    _weight_view(grad_weight)
    N, D = sorted_indices.shape[0], grad.shape[1]
    if N == 0 or D == 0:
        return

    def run(cfg):
        grid = (N, triton.cdiv(D, cfg["BLOCK_D"]))
        embedding_backward_sorted_kernel[grid](grad_weight, grad, sorted_indices, perm, N, D,
                                               grad_weight.strides[0], int(padding_idx),
                                               SCALE_FREQ=bool(scale_grad_by_freq), ACCUMULATE=bool(accumulate),
                                               **cfg)

    key = (grad.dtype.name, grad_weight.dtype.name, bool(scale_grad_by_freq), bool(accumulate), next_pow2(N),
           next_pow2(D))
    tuning.launch(EMBEDDING_SORTED_TUNING, key, dict(N=N, D=D, itemsize=grad.dtype.itemsize), run,
                  repeatable=not accumulate)


def _norm_code(norm_type: float) -> int:
    return {1.0: 1, 2.0: 2, float("inf"): 3}.get(float(norm_type), 0)


def embedding_renorm(weight: DeviceArray, sorted_indices: DeviceArray, max_norm: float, norm_type: float) -> None:
    """In place: every weight row named in sorted_indices (int64 (N,), sorted) whose norm_type-norm exceeds
    max_norm is scaled by max_norm / (norm + 1e-7)."""
    _weight_view(weight)
    N, D = sorted_indices.shape[0], weight.shape[1]
    if N == 0 or D == 0:
        return

    def run(cfg):
        embedding_renorm_kernel[(N,)](weight, sorted_indices, N, D, weight.shape[0], weight.strides[0], float(max_norm),
                                      float(norm_type), NORM=_norm_code(norm_type), **cfg)

    tuning.launch(EMBEDDING_RENORM_TUNING, (weight.dtype.name, _norm_code(norm_type), next_pow2(N), next_pow2(D)),
                  dict(N=N, D=D, itemsize=weight.dtype.itemsize), run, repeatable=False)


# ---------------------------------------------------------------- NumPy references
def _acc(dtype) -> type:
    return np.float64 if dtype == np.float64 else np.float32


def embedding_ref(weight: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """weight[indices] (indices already checked)."""
    return weight[np.asarray(indices, dtype=np.int64)]


def embedding_backward_ref(grad: np.ndarray, indices: np.ndarray, num_weights: int, padding_idx: int = -1,
                           scale_grad_by_freq: bool = False, chunk: int = MAX_SORT_R) -> np.ndarray:
    """(V, D) sum of grad's rows (N, D) per index, in fp32 (fp64 for fp64), in the deterministic kernels' exact
    order: per chunk of `chunk` indices, each index's rows summed in input order, the chunks' sums added to the
    rows one chunk after another; padding_idx gets nothing; scale_grad_by_freq then divides each row by its
    index count."""
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    g = np.asarray(grad)
    g = g.reshape(idx.shape[0], g.shape[-1])
    acc = np.zeros((num_weights, g.shape[1]), _acc(g.dtype))
    for start in range(0, idx.shape[0], chunk):
        ids, gs = idx[start:start + chunk], g[start:start + chunk]
        order = np.argsort(ids, kind="stable")
        order = order[ids[order] != padding_idx]
        rows = np.unique(ids[order])
        part = np.zeros((len(rows), g.shape[1]), acc.dtype)
        np.add.at(part, np.searchsorted(rows, ids[order]), gs[order].astype(acc.dtype))
        acc[rows] = acc[rows] + part
    if scale_grad_by_freq:
        counts = np.bincount(idx[idx != padding_idx], minlength=num_weights).astype(acc.dtype)
        acc /= np.maximum(counts, 1)[:, None]
    return acc.astype(g.dtype)


def embedding_backward_host(grad: np.ndarray, indices: np.ndarray, num_weights: int, padding_idx: int = -1,
                            scale_grad_by_freq: bool = False) -> np.ndarray:
    """The cpu path's weight gradient: as embedding_backward_ref, but one np.add.at in input order (the fastest
    NumPy scatter-add; deterministic too, its rounding may differ from the kernels' chunked order)."""
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    g = np.asarray(grad)
    g = g.reshape(idx.shape[0], g.shape[-1])
    acc_t = _acc(g.dtype)
    acc = np.zeros((num_weights, g.shape[1]), acc_t)
    if padding_idx >= 0:
        keep = idx != padding_idx
        idx, g = idx[keep], g[keep]
    np.add.at(acc, idx, g if g.dtype == acc_t else g.astype(acc_t))
    if scale_grad_by_freq:
        acc /= np.maximum(np.bincount(idx, minlength=num_weights).astype(acc_t), 1)[:, None]
    return acc if acc_t == g.dtype else acc.astype(g.dtype)


def embedding_renorm_ref(weight: np.ndarray, indices: np.ndarray, max_norm: float, norm_type: float) -> np.ndarray:
    """weight with the looked-up rows rescaled to max_norm / (norm + 1e-7) where norm > max_norm (a copy)."""
    out = weight.copy()
    acc = _acc(weight.dtype)
    for i in np.unique(np.asarray(indices, dtype=np.int64)):
        row = out[i].astype(acc)
        norm = np.linalg.norm(row, ord=norm_type) if row.size else acc(0)
        if norm > max_norm:
            out[i] = (row * acc(max_norm / (norm + 1e-7))).astype(weight.dtype)
    return out


# ---------------------------------------------------------------- specs
def _configs(heuristic, space) -> tuple[list[dict], list[dict]]:
    """(the shipped configs: the heuristic's for many lookups of narrow and of wide rows, the common cases;
    the tuning space over few/many lookups of several widths)."""
    shipped = [heuristic((1 << 16, 64)), heuristic((1 << 16, 1024))]
    keys = [(n, d) for n in (1 << 6, 1 << 16) for d in (16, 64, 128, 512, 1024, 4096)]
    return (list({repr(c): c for c in shipped}.values()),
            list({repr(c): c for k in keys for c in space(k, "max")}.values()))


_WDT = ("fp32", "fp16", "bf16", "fp64")
_ROWS = _configs(_rows_heuristic, _rows_space)
_SEG = _configs(_seg_heuristic, _seg_space)

SPECS = [
    KernelSpec(f"embedding.forward[{dt}]", embedding_kernel,
               {"out_ptr": f"*{dt}", "w_ptr": f"*{dt}", "idx_ptr": "*i64", "N": "i32", "D": "i32", "V": "i32",
                "stride_w": "i32", "err_ptr": "*i64", "err_code": "i32"}, {}, *_ROWS)
    for dt in _WDT
] + [
    KernelSpec(f"embedding.backward[{dt}->{acc}]", embedding_backward_kernel,
               {"gw_ptr": f"*{acc}", "g_ptr": f"*{dt}", "idx_ptr": "*i64", "N": "i32", "D": "i32",
                "stride_gw": "i32", "padding_idx": "i64"}, {}, *_ROWS)
    for dt, acc in (("fp32", "fp32"), ("bf16", "fp32"), ("fp64", "fp64"))
] + [
    KernelSpec(f"embedding.backward_sorted[{dt}]", embedding_backward_sorted_kernel,
               {"gw_ptr": f"*{dt}", "g_ptr": f"*{dt}", "sidx_ptr": "*i64", "perm_ptr": "*i64", "N": "i32",
                "D": "i32", "stride_gw": "i32", "padding_idx": "i64"}, dict(SCALE_FREQ=False, ACCUMULATE=False), *_SEG)
    for dt in ("fp32", "bf16", "fp64")
] + [
    # A later chunk of a long index vector, into the fp32 gradient (16-bit weights accumulate in fp32 scratch).
    KernelSpec(f"embedding.backward_sorted[{dt}->fp32,accumulate]", embedding_backward_sorted_kernel,
               {"gw_ptr": "*fp32", "g_ptr": f"*{dt}", "sidx_ptr": "*i64", "perm_ptr": "*i64", "N": "i32",
                "D": "i32", "stride_gw": "i32", "padding_idx": "i64"}, dict(SCALE_FREQ=False, ACCUMULATE=True), *_SEG)
    for dt in ("fp32", "bf16")
] + [
    KernelSpec(f"embedding.renorm[{dt}]", embedding_renorm_kernel,
               {"w_ptr": f"*{dt}", "sidx_ptr": "*i64", "N": "i32", "D": "i32", "V": "i32", "stride_w": "i32",
                "max_norm": "fp32", "norm_type": "fp32"}, dict(NORM=2), *_SEG)
    for dt in ("fp32", "bf16")
]

__all__ = ["embedding", "embedding_backward", "embedding_backward_sorted", "embedding_renorm"]
