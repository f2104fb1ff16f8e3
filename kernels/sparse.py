"""Sparse x dense products: the CSR SpMM `out = A @ B` behind tt.sparse.mm, tt.mm and `csr @ dense`.

A is an (M, K) CSR matrix: `crow` (M + 1,) int64 row pointers, `col` (nnz,) int64 column indices, `val`
(nnz,) values; B is a dense (K, N) matrix with unit column stride; out (M, N) is written whole (rows without
nonzeros get zeros), with unit column stride.

One program per (BLOCK_M rows, BLOCK_N columns): the rows' nonzero ranges crow[r]..crow[r+1] are walked in
step, for as many steps as the longest of them; each step gathers one B row chunk per row (the column of
that row's next nonzero) and accumulates value * chunk in fp32 (fp64 for fp64 operands), so a row's sum is
in the order of its nonzeros, the same bits every run (no atomics). The gathered B row chunks are contiguous
(unit column stride): with N and B's row stride multiples of 16 (the aligned build), they and the output
stores are 128-bit accesses.

The cpu path is `spmm_ref`, SciPy's CSR product (scipy is a runtime dependency), accumulated in the operands'
dtype (16-bit floats in fp32), as PyTorch's CPU kernel.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2

MAX_BLOCK_N = 256  # widest column chunk of one program (wider outputs get several chunks: more programs)
TILE = 2048  # output elements of one program (BLOCK_M rows x BLOCK_N columns)


@fast_jit
def csr_spmm_kernel(
    out_ptr,  # (M, N) output, unit column stride
    crow_ptr,  # (M + 1,) int64 row pointers
    col_ptr,  # (nnz,) int64 column indices
    val_ptr,  # (nnz,) values
    b_ptr,  # (K, N) dense operand, unit column stride
    M, N,
    stride_b,  # B's row stride
    stride_out,  # out's row stride
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    rows = tl.program_id(0).to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    row_mask = rows < M
    col_mask = cols < N
    start = tl.load(crow_ptr + rows, mask=row_mask, other=0)
    length = tl.load(crow_ptr + rows + 1, mask=row_mask, other=0) - start
    acc_type: tl.constexpr = tl.float64 if b_ptr.dtype.element_ty == tl.float64 else tl.float32
    acc = tl.zeros((BLOCK_M, BLOCK_N), acc_type)
    longest = tl.max(length, 0)
    for k in range(0, longest):
        live = k < length
        pos = start + k
        c = tl.load(col_ptr + pos, mask=live, other=0)
        v = compute_type(tl.load(val_ptr + pos, mask=live, other=0.0)).to(acc_type)
        b = tl.load(b_ptr + c[:, None] * stride_b + cols[None, :], mask=live[:, None] & col_mask[None, :], other=0.0)
        acc += v[:, None] * compute_type(b).to(acc_type)
    tl.store(out_ptr + rows[:, None] * stride_out + cols[None, :], cast_to(acc, out_ptr.dtype.element_ty),
             mask=row_mask[:, None] & col_mask[None, :])


# ---------------------------------------------------------------- tuning
def _tile(M: int, N: int, tile: int = TILE) -> dict:
    bn = min(MAX_BLOCK_N, max(16, next_pow2(N)))
    bm = max(1, min(64, tile // bn))
    # Few rows: fewer rows per program so that the grid still covers every SM twice.
    while bm > 1 and triton.cdiv(M, bm) * triton.cdiv(N, bn) < 2 * tuning.sm_count():
        bm //= 2
    # At least 8 elements per thread (fp32 chunk = two 128-bit accesses), up to 4 warps.
    return dict(BLOCK_M=bm, BLOCK_N=bn, num_warps=max(1, min(4, bm * bn // 256)))


def _heuristic(key: tuple) -> dict:
    """Keys end with (next_pow2(M), next_pow2(N))."""
    return _tile(key[-2], key[-1])


def _space(key: tuple, space: str) -> list[dict]:
    """The heuristic, smaller tiles and twice the warps (tiles of 4096 outputs, or 2048 on fewer warps, spill)."""
    m, n = key[-2], key[-1]
    h = _heuristic(key)
    other_warps = dict(h, num_warps=min(8, 2 * h["num_warps"]))  # fewer warps per tile spill (unaligned build)
    cands = [h, _tile(m, n, TILE // 2), _tile(m, n, 256), other_warps]
    return list({repr(c): c for c in cands}.values())


# Per nonzero: its column and value, and one B row chunk of N elements; the output once.
SPMM_TUNING = Tunable("sparse.csr_spmm", _space, _heuristic,
                      lambda M, N, nnz, itemsize: Cost(nnz * (16.0 + N * itemsize) + M * (8.0 + N * itemsize),
                                                       2.0 * nnz * N))


# ---------------------------------------------------------------- launch wrapper
def csr_spmm(out: DeviceArray, crow: DeviceArray, col: DeviceArray, val: DeviceArray, b: DeviceArray) -> None:
    """out (M, N) = the CSR matrix (crow, col, val) times b (K, N); b and out have unit column stride and
    share val's dtype; crow (M + 1,) and col (nnz,) are contiguous int64, val (nnz,) contiguous."""
    M, N = out.shape
    for name, a in (("b", b), ("out", out)):
        if a.ndim != 2 or (a.strides[1] != 1 and a.shape[1] > 1):
            raise ValueError(f"csr_spmm needs a 2-d {name} with unit column stride, got {a.shape} {a.strides}")
    if M == 0 or N == 0:
        return

    def run(cfg):
        grid = (triton.cdiv(M, cfg["BLOCK_M"]), triton.cdiv(N, cfg["BLOCK_N"]))
        csr_spmm_kernel[grid](out, crow, col, val, b, M, N, b.strides[0], out.strides[0], **cfg)

    tuning.launch(SPMM_TUNING, (b.dtype.name, next_pow2(M), next_pow2(N)),
                  dict(M=M, N=N, nnz=val.shape[0], itemsize=b.dtype.itemsize), run)


# ---------------------------------------------------------------- reference
def spmm_ref(crow: np.ndarray, col: np.ndarray, val: np.ndarray, b: np.ndarray, num_cols: int) -> np.ndarray:
    """The CSR matrix (crow, col, val) of `num_cols` columns times the dense b, in b's dtype (SciPy's product,
    accumulated in the operands' dtype, 16-bit floats in fp32, as PyTorch's CPU kernel)."""
    acc = np.float32 if b.dtype.itemsize == 2 and b.dtype.kind not in "iu" else b.dtype
    a = sp.csr_matrix((val.astype(acc, copy=False), col.astype(np.int64, copy=False),
                       crow.astype(np.int64, copy=False)), shape=(len(crow) - 1, num_cols))
    return np.asarray(a @ b.astype(acc, copy=False)).astype(b.dtype, copy=False).reshape(len(crow) - 1, b.shape[1])


# ---------------------------------------------------------------- specs
_DT = {"fp32": 4, "fp16": 2, "bf16": 2, "fp64": 8}


def _wide(itemsize: int):
    """Which configs must reach 128-bit accesses: those whose tile gives every thread at least 16 bytes. The
    tuning space's tiles for tiny outputs (a row of 16 to 64 columns) are smaller than one 128-bit access per
    thread; there the launch, not the bandwidth, is the cost."""
    return lambda cfg: cfg["BLOCK_M"] * cfg["BLOCK_N"] * itemsize >= 16 * 32 * cfg["num_warps"]
_KEYS = [(m, n) for m in (1 << 6, 1 << 16) for n in (16, 64, 256, 1024)]
_SHIPPED = list({repr(c): c for c in (_heuristic((1 << 16, 64)), _heuristic((1 << 16, 1024)))}.values())
_SPACE = list({repr(c): c for k in _KEYS for c in _space(k, "max")}.values())

SPECS = [
    KernelSpec(f"sparse.csr_spmm[{dt}]", csr_spmm_kernel,
               {"out_ptr": f"*{dt}", "crow_ptr": "*i64", "col_ptr": "*i64", "val_ptr": f"*{dt}", "b_ptr": f"*{dt}",
                "M": "i32", "N": "i32", "stride_b": "i32", "stride_out": "i32"}, {}, _SHIPPED, _SPACE,
               memory_bound=_wide(itemsize))
    for dt, itemsize in _DT.items()
]

__all__ = ["csr_spmm", "spmm_ref"]
