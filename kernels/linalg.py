"""Small dense linear algebra, one program per matrix: Cholesky, LU with partial pivoting, triangular and LU solves.

Every kernel keeps a whole matrix (at most MAX_N x MAX_N, padded to a power of two) in registers and runs the
textbook column algorithm on it: step k extracts column/row k with a masked sum over the tile (there is no
register indexing in Triton), then updates the trailing block with one rank-1 outer product. That is O(n) steps
of O(n^2) work per matrix, which suits the batched small matrices of PyTorch workloads (covariances, small
systems, per-sample Jacobians); larger matrices need a blocked algorithm (the op layer refuses n > MAX_N).

Failures do not raise in a kernel: each program writes LAPACK's `info` for its matrix (0: fine; k > 0: the
factorization stopped being valid at step k), which the op layer reads back to raise PyTorch's message.

The NumPy/SciPy references (`*_ref`) are what the cpu device runs and what the kernel tests compare with.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg.blas as sblas
import scipy.linalg.lapack as slapack
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .ieee_math import div_ieee, sqrt_ieee
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .tuning import Cost, Tunable, next_pow2

MAX_N = 64  # the largest matrix a program holds in registers (64 x 64 fp64 at 8 warps: 16 values per thread)
MODE_LU, MODE_LOWER, MODE_UPPER = 0, 1, 2  # tri_solve_kernel: P L U X = B, L X = B, U X = B


# ================================================================ Cholesky
@fast_jit
def cholesky_kernel(
    l_ptr,  # (B, N, N) output: the lower Cholesky factor (zeros above the diagonal)
    a_ptr,  # (B, N, N) input: only its lower triangle is read, as LAPACK's potrf(uplo='L')
    info_ptr,  # (B,) int32 output: 0, or the order of the first leading minor that is not positive-definite
    N,  # matrix order (<= BLOCK)
    s_ab, s_ar, s_ac,  # input strides (elements): batch, row, column
    s_lb, s_lr, s_lc,  # output strides
    BLOCK: tl.constexpr,  # next_pow2(N)
):
    b = tl.program_id(0).to(tl.int64)
    idx = tl.arange(0, BLOCK)
    r = idx[:, None]
    c = idx[None, :]
    inside = (r < N) & (c < N)
    base = a_ptr + b * s_ab
    lower = tl.load(base + r * s_ar + c * s_ac, mask=inside & (r >= c), other=0.0)
    upper_t = tl.load(base + c * s_ar + r * s_ac, mask=inside & (r < c), other=0.0)  # mirrors the lower triangle
    a = lower + upper_t
    info = tl.zeros((), tl.int32)
    for k in range(0, N):
        col = tl.sum(tl.where(c == k, a, 0.0), axis=1)  # column k, along rows
        row = tl.sum(tl.where(r == k, a, 0.0), axis=0)  # row k (= column k: the trailing block stays symmetric)
        akk = tl.sum(tl.where(idx == k, col, 0.0))
        bad = (akk <= 0.0) | (akk != akk)  # not positive (or NaN): potrf stops at this minor
        info = tl.where((info == 0) & bad, k + 1, info)
        pivot = sqrt_ieee(tl.where(bad, 1.0, akk))
        scale = div_ieee(1.0, pivot)
        col_l = tl.where(idx > k, col * scale, 0.0)
        row_l = tl.where(idx > k, row * scale, 0.0)
        a = a - col_l[:, None] * row_l[None, :]
        a = tl.where(c == k, tl.where(r == k, pivot, col_l[:, None]), a)
    tl.store(l_ptr + b * s_lb + r * s_lr + c * s_lc, tl.where(r >= c, a, 0.0), mask=inside)
    tl.store(info_ptr + b, info)


def cholesky(out: DeviceArray, a: DeviceArray, info: DeviceArray) -> None:
    """out = the lower Cholesky factor of each (N, N) matrix of a (B, N, N) (lower triangle read), info (B,) int32
    = LAPACK's potrf info per matrix. N <= MAX_N."""
    B, N = a.shape[0], a.shape[1]
    if B == 0 or N == 0:
        return

    def run(cfg):
        cholesky_kernel[(B,)](out, a, info, N, *a.strides, *out.strides, **cfg)

    block = max(next_pow2(N), 16)
    tuning.launch(CHOLESKY_TUNING, (a.dtype.name, block), dict(B=B, N=N, itemsize=a.dtype.itemsize), run)


# ================================================================ LU with partial pivoting
@fast_jit
def lu_kernel(
    lu_ptr,  # (B, M, N) output: L (unit, below the diagonal) and U packed, as LAPACK's getrf
    a_ptr,  # (B, M, N) input
    piv_ptr,  # (B, min(M, N)) int32 output: 1-based pivot rows (row k was swapped with row piv[k])
    info_ptr,  # (B,) int32 output: 0, or k where U[k, k] (1-based) is exactly zero
    M, N, KMIN,  # rows, columns (<= BLOCK), min(M, N)
    s_ab, s_ar, s_ac,  # input strides (elements)
    s_lb, s_lr, s_lc,  # output strides
    BLOCK: tl.constexpr,  # next_pow2(max(M, N))
):
    b = tl.program_id(0).to(tl.int64)
    idx = tl.arange(0, BLOCK)
    r = idx[:, None]
    c = idx[None, :]
    inside = (r < M) & (c < N)
    a = tl.load(a_ptr + b * s_ab + r * s_ar + c * s_ac, mask=inside, other=0.0)
    info = tl.zeros((), tl.int32)
    piv = tl.zeros((BLOCK,), tl.int32)
    for k in range(0, KMIN):
        col = tl.sum(tl.where(c == k, a, 0.0), axis=1)
        # The largest magnitude at or below the diagonal (the first one on ties, as LAPACK's idamax).
        p = tl.argmax(tl.where((idx >= k) & (idx < M), tl.abs(col), -1.0), axis=0).to(tl.int32)
        piv = tl.where(idx == k, p + 1, piv)
        row_k = tl.sum(tl.where(r == k, a, 0.0), axis=0)
        row_p = tl.sum(tl.where(r == p, a, 0.0), axis=0)
        a = tl.where(r == k, row_p[None, :], tl.where(r == p, row_k[None, :], a))
        col_k = tl.where(idx == k, tl.sum(tl.where(idx == p, col, 0.0)), tl.where(idx == p, tl.sum(
            tl.where(idx == k, col, 0.0)), col))
        pivot = tl.sum(tl.where(idx == k, col_k, 0.0))
        # A vector (the interpreter cannot `&` a 0-d comparison with a vector one).
        nonzero = (pivot + tl.zeros((BLOCK,), pivot.dtype)) != 0.0
        info = tl.where((info == 0) & (pivot == 0.0), k + 1, info)
        # A zero pivot leaves its column unscaled and the trailing block untouched (getf2 does the same).
        mult = tl.where((idx > k) & (idx < M) & nonzero, div_ieee(col_k, tl.where(nonzero, pivot, 1.0)), 0.0)
        a = a - mult[:, None] * tl.where(c > k, row_p[None, :], 0.0)
        a = tl.where((c == k) & (r > k) & nonzero[:, None], mult[:, None], a)
    tl.store(lu_ptr + b * s_lb + r * s_lr + c * s_lc, a, mask=inside)
    tl.store(piv_ptr + b * KMIN + idx, piv, mask=idx < KMIN)
    tl.store(info_ptr + b, info)


def lu_factor(lu: DeviceArray, a: DeviceArray, piv: DeviceArray, info: DeviceArray) -> None:
    """lu = getrf(a) per (M, N) matrix of a (B, M, N); piv (B, min(M, N)) int32 contiguous, 1-based; info (B,) int32.
    M, N <= MAX_N."""
    B, M, N = a.shape
    if B == 0 or M == 0 or N == 0:
        return

    def run(cfg):
        lu_kernel[(B,)](lu, a, piv, info, M, N, min(M, N), *a.strides, *lu.strides, **cfg)

    block = max(next_pow2(max(M, N)), 16)
    tuning.launch(LU_TUNING, (a.dtype.name, block), dict(B=B, N=max(M, N), itemsize=a.dtype.itemsize), run)


# ================================================================ triangular / LU solves
@triton.jit
def _forward_substitute(t, x, N, UNIT: tl.constexpr, BLOCK_N: tl.constexpr):
    """Solves T X = x for a lower-triangular tile t (the unit diagonal assumed when UNIT), column by column."""
    idx = tl.arange(0, BLOCK_N)
    r = idx[:, None]
    c = idx[None, :]
    for j in range(0, N):
        t_col = tl.sum(tl.where(c == j, t, 0.0), axis=1)
        x_row = tl.sum(tl.where(r == j, x, 0.0), axis=0)
        if not UNIT:
            x_row = div_ieee(x_row, tl.sum(tl.where(idx == j, t_col, 0.0)))
        x = tl.where(r == j, x_row[None, :], x - tl.where(r > j, t_col[:, None], 0.0) * x_row[None, :])
    return x


@triton.jit
def _back_substitute(t, x, N, UNIT: tl.constexpr, BLOCK_N: tl.constexpr):
    """Solves T X = x for an upper-triangular tile t, from the last row up."""
    idx = tl.arange(0, BLOCK_N)
    r = idx[:, None]
    c = idx[None, :]
    for jj in range(0, N):
        j = N - 1 - jj
        t_col = tl.sum(tl.where(c == j, t, 0.0), axis=1)
        x_row = tl.sum(tl.where(r == j, x, 0.0), axis=0)
        if not UNIT:
            x_row = div_ieee(x_row, tl.sum(tl.where(idx == j, t_col, 0.0)))
        x = tl.where(r == j, x_row[None, :], x - tl.where(r < j, t_col[:, None], 0.0) * x_row[None, :])
    return x


@fast_jit
def tri_solve_kernel(
    x_ptr,  # (B, N, K) output
    a_ptr,  # (B, N, N): the triangular matrix, or getrf's packed LU (MODE_LU)
    b_ptr,  # (B, N, K) right-hand sides
    piv_ptr,  # (B, N) int32, 1-based pivots (read in MODE_LU only)
    N, K,  # matrix order, number of right-hand sides
    s_ab, s_ar, s_ac,  # strides of a (elements)
    s_bb, s_br, s_bc,  # strides of b
    s_xb, s_xr, s_xc,  # strides of x
    s_pb,  # batch stride of piv
    MODE: tl.constexpr,  # 0: P L U X = B (LU solve), 1: L X = B, 2: U X = B
    UNIT: tl.constexpr,  # the triangular matrix has a unit diagonal (modes 1 and 2)
    BLOCK_N: tl.constexpr,  # next_pow2(N)
    BLOCK_K: tl.constexpr,  # right-hand-side columns per program
):
    b = tl.program_id(0).to(tl.int64)
    idx = tl.arange(0, BLOCK_N)
    r = idx[:, None]
    c = idx[None, :]
    kc = tl.program_id(1) * BLOCK_K + tl.arange(0, BLOCK_K)[None, :]
    a_mask = (r < N) & (c < N)
    x_mask = (r < N) & (kc < K)
    t = tl.load(a_ptr + b * s_ab + r * s_ar + c * s_ac, mask=a_mask, other=0.0)
    # Padding rows/columns get a unit diagonal so that they stay zero and never divide by zero.
    t = tl.where((r == c) & (r >= N), 1.0, t)
    x = tl.load(b_ptr + b * s_bb + r * s_br + kc * s_bc, mask=x_mask, other=0.0)
    if MODE == 0:
        for k in range(0, N):  # the row interchanges of getrf, in order, as getrs applies them
            p = tl.load(piv_ptr + b * s_pb + k) - 1
            row_k = tl.sum(tl.where(r == k, x, 0.0), axis=0)
            row_p = tl.sum(tl.where(r == p, x, 0.0), axis=0)
            x = tl.where(r == k, row_p[None, :], tl.where(r == p, row_k[None, :], x))
        x = _forward_substitute(t, x, N, True, BLOCK_N)
        x = _back_substitute(t, x, N, False, BLOCK_N)
    elif MODE == 1:
        x = _forward_substitute(t, x, N, UNIT, BLOCK_N)
    else:
        x = _back_substitute(t, x, N, UNIT, BLOCK_N)
    tl.store(x_ptr + b * s_xb + r * s_xr + kc * s_xc, x, mask=x_mask)


def tri_solve(x: DeviceArray, a: DeviceArray, b: DeviceArray, piv: DeviceArray, mode: int,
              unit: bool = False) -> None:
    """x = solve of each (N, N) system of a (B, N, N) against b (B, N, K): mode MODE_LU (a is getrf's LU, piv
    (B, N) int32), MODE_LOWER or MODE_UPPER (a triangular; `unit`: its diagonal is taken as ones; piv is any
    int32 array, never read). N <= MAX_N."""
    B, N, K = b.shape
    if B == 0 or N == 0 or K == 0:
        return
    s_pb = piv.strides[0] if mode == MODE_LU else 0

    def run(cfg):
        grid = (B, triton.cdiv(K, cfg["BLOCK_K"]))
        tri_solve_kernel[grid](x, a, b, piv, N, K, *a.strides, *b.strides, *x.strides, s_pb, MODE=mode, UNIT=unit,
                               **cfg)

    block = max(next_pow2(N), 16)
    key = (a.dtype.name, mode, unit, block, min(next_pow2(K), 64))
    tuning.launch(TRI_SOLVE_TUNING, key, dict(B=B, N=N, K=K, itemsize=a.dtype.itemsize), run)


# ================================================================ tuning
def _warps(block: int, dtype: str) -> int:
    # The tile is block^2 values: 16 (fp32) / 32 (fp64) per thread at 64 x 64 needs 8 warps to stay off spills.
    return 4 if block <= 32 else 8


def _square_heuristic(key: tuple) -> dict:
    dtype, block = key
    return dict(BLOCK=block, num_warps=_warps(block, dtype))


def _space_warps(block: int) -> tuple[int, ...]:
    # A 64 x 64 tile at 4 warps spills (fp64 on sm_90, AOT --full): 8 or 16 warps there.
    return (8, 16) if block >= 64 else (4, 8)


def _square_space(key: tuple, space: str) -> list[dict]:
    dtype, block = key
    return [dict(BLOCK=block, num_warps=w) for w in _space_warps(block)]


def _solve_heuristic(key: tuple) -> dict:
    dtype, _mode, _unit, block, kb = key
    return dict(BLOCK_N=block, BLOCK_K=min(kb, 32 if block <= 32 else 16), num_warps=_warps(block, dtype))


def _solve_space(key: tuple, space: str) -> list[dict]:
    dtype, _mode, _unit, block, kb = key
    # fp64 64 x 64 with 32 right-hand-side columns spills even at 8 warps (sm_80, AOT --full).
    widths = (16,) if block >= 64 and dtype == "float64" else (16, 32)
    cands = [_solve_heuristic(key)] + [dict(BLOCK_N=block, BLOCK_K=bk, num_warps=w)
                                       for bk in widths if bk <= max(kb, 16) for w in _space_warps(block)]
    return list({repr(c): c for c in cands}.values())


def _factor_cost(B, N, itemsize) -> Cost:
    return Cost(2.0 * B * N * N * itemsize, 2.0 * B * N ** 3 / 3)


CHOLESKY_TUNING = Tunable("linalg.cholesky", _square_space, _square_heuristic, _factor_cost)
LU_TUNING = Tunable("linalg.lu", _square_space, _square_heuristic, _factor_cost)
TRI_SOLVE_TUNING = Tunable("linalg.tri_solve", _solve_space, _solve_heuristic, lambda B, N, K, itemsize: Cost(
    float(B) * (N * N + 2 * N * K) * itemsize, 2.0 * B * N * N * K))


# ================================================================ NumPy / SciPy references
def _lapack(name: str, a: np.ndarray):
    return slapack.get_lapack_funcs(name, (a,))


def cholesky_ref(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(L, info) for a (B, N, N) batch: the lower factor from the lower triangle, info as LAPACK's potrf."""
    try:  # NumPy's potrf(uplo='L') never reads the upper triangle either
        return np.linalg.cholesky(a), np.zeros(a.shape[0], np.int32)
    except np.linalg.LinAlgError:
        pass
    potrf = _lapack("potrf", a)
    out, info = np.zeros_like(a), np.zeros(a.shape[0], np.int32)
    for i, m in enumerate(a):
        factor, code = potrf(m, lower=1, clean=1)
        out[i], info[i] = factor, max(code, 0)
    return out, info


def lu_factor_ref(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(LU, 1-based int32 pivots, info) for a (B, M, N) batch, by LAPACK's getrf."""
    getrf = _lapack("getrf", a)
    B, M, N = a.shape
    lu, piv, info = a.copy(), np.zeros((B, min(M, N)), np.int32), np.zeros(B, np.int32)
    for i, m in enumerate(a if M and N else ()):  # (LAPACK rejects empty matrices)
        lu[i], p, code = getrf(m)
        piv[i], info[i] = p[:min(M, N)] + 1, max(code, 0)
    return lu, piv, info


def tri_solve_ref(a: np.ndarray, b: np.ndarray, piv: np.ndarray | None, mode: int, unit: bool = False) -> np.ndarray:
    """tri_solve's result on the host: getrs (MODE_LU) or trsm per matrix (a zero diagonal gives inf/NaN)."""
    if b.size == 0:
        return b.copy()
    if mode == MODE_LU:
        getrs = _lapack("getrs", a)
        return np.stack([getrs(lu, p - 1, rhs)[0] for lu, p, rhs in zip(a, piv, b)]) if len(b) else b.copy()
    trsm = sblas.get_blas_funcs("trsm", (a,))
    out = [trsm(1.0, m, rhs, lower=int(mode == MODE_LOWER), diag=int(unit)) for m, rhs in zip(a, b)]
    return np.stack(out).astype(b.dtype, copy=False) if out else b.copy()


# ================================================================ specs
def _signature(ptrs: dict, ints: list[str], dtype: str) -> dict[str, str]:
    sig = {name: (f"*{dtype}" if kind == "f" else "*i32") for name, kind in ptrs.items()}
    sig.update({name: "i32" for name in ints})
    return sig


_STRIDES = ["s_ab", "s_ar", "s_ac"]
_CHOL_SIG = ({"l_ptr": "f", "a_ptr": "f", "info_ptr": "i"}, ["N", *_STRIDES, "s_lb", "s_lr", "s_lc"])
_LU_SIG = ({"lu_ptr": "f", "a_ptr": "f", "piv_ptr": "i", "info_ptr": "i"},
           ["M", "N", "KMIN", *_STRIDES, "s_lb", "s_lr", "s_lc"])
_SOLVE_SIG = ({"x_ptr": "f", "a_ptr": "f", "b_ptr": "f", "piv_ptr": "i"},
              ["N", "K", *_STRIDES, "s_bb", "s_br", "s_bc", "s_xb", "s_xr", "s_xc", "s_pb"])
_BLOCKS = (16, 32, 64)
# One program walks its matrix column by column with data-dependent pivots: the loads happen once, the
# arithmetic is O(n^3) on registers, so no access pattern could (or needs to) be 128-bit.
_NOT_MEMORY_BOUND = False


def _square_specs(name: str, kernel, sig: tuple, dtype: str) -> list[KernelSpec]:
    keys = [(_DT[dtype], b) for b in _BLOCKS]
    configs = [_square_heuristic(k) for k in keys]
    space = [c for k in keys for c in _square_space(k, "max")]
    return [KernelSpec(f"linalg.{name}[{dtype}]", kernel, _signature(*sig, dtype), {}, configs, space,
                       memory_bound=_NOT_MEMORY_BOUND)]


def _solve_specs(dtype: str) -> list[KernelSpec]:
    specs = []
    for mode, unit in ((MODE_LU, False), (MODE_LOWER, False), (MODE_LOWER, True), (MODE_UPPER, False),
                       (MODE_UPPER, True)):
        keys = [(_DT[dtype], mode, unit, b, kb) for b in _BLOCKS for kb in (1, 64)]
        configs = list({repr(c): c for c in map(_solve_heuristic, keys)}.values())
        space = list({repr(c): c for k in keys for c in _solve_space(k, "max")}.values())
        specs.append(KernelSpec(f"linalg.tri_solve[{dtype},mode={mode},unit={int(unit)}]", tri_solve_kernel,
                                _signature(*_SOLVE_SIG, dtype), dict(MODE=mode, UNIT=unit), configs, space,
                                memory_bound=_NOT_MEMORY_BOUND))
    return specs


_DT = {"fp32": "float32", "fp64": "float64"}
SPECS = [spec for dtype in ("fp32", "fp64") for spec in (
    _square_specs("cholesky", cholesky_kernel, _CHOL_SIG, dtype) + _square_specs("lu", lu_kernel, _LU_SIG, dtype)
    + _solve_specs(dtype))]
