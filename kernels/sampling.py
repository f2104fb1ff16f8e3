"""Sampling from given probabilities: bernoulli and multinomial.

The random numbers are not drawn here. The Tensor layer draws them on the host with the user's
Generator (tritensor/random.py) and hands them over, so a seed gives the same samples on cpu and cuda;
these kernels (and their NumPy references, which make the same comparisons in the same precision)
turn the draws into samples:

- bernoulli: element i is 1 when u_i < p_i (u uniform in [0, 1), fp32).
- multinomial with replacement: inverse CDF. Sample s of a row is the first category whose running sum
  of probabilities exceeds u_s * (the row's total).
- multinomial without replacement (and any single draw, as PyTorch): the exponential race. With
  q_i ~ Exp(1), the categories ordered by p_i / q_i (largest first) are a draw without replacement
  (Gumbel top-k); the first k of that order are the samples.

Bad probabilities cannot raise inside a kernel: the kernels report them through the device's error word
(kernels/index_errors.py, tritensor/device_errors.py) with the codes the Tensor layer registered, and
the cpu path raises directly. Zero-probability categories are never drawn while a positive one is left.
Draws are fp32 for 16/32-bit probabilities (computed in fp32) and fp64 for fp64 probabilities.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .ieee_math import div_ieee
from .index_errors import report_out_of_range
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .strided import cast_to, compute_type, launch_slices, strided_offsets
from .tuning import Cost, Tunable, next_pow2

BLOCK = 1024
NUM_WARPS = 4
ROW_BLOCK = 1024  # most categories per step of a multinomial row loop (fewer for short rows)
MIN_ROW_BLOCK = 16
TILE = 8192  # samples x categories compared per step of the inverse-CDF kernel (larger tiles spill)


def row_blocks(n: int) -> tuple[int, int]:
    """(categories per loop step, samples per program): short rows take small steps and more samples each."""
    block_n = min(ROW_BLOCK, max(MIN_ROW_BLOCK, triton.next_power_of_2(max(n, 1))))
    return block_n, min(64, max(16, TILE // block_n))


def _bernoulli_cost(numel: int, itemsizes: int) -> Cost:
    # itemsizes: out + u (+ p when it is a tensor), each touched once per element.
    return Cost(float(numel) * itemsizes, float(numel))


def _race_cost(rows: int, n: int, k: int, itemsizes: int) -> Cost:
    # Each of the k picks reads the row's probabilities and draws (itemsizes: p's + q's) and writes one int64.
    return Cost(float(rows) * k * (n * itemsizes + 8), float(rows) * k * n)


def _cdf_cost(rows: int, n: int, k: int, itemsizes: int, draw_itemsize: int) -> Cost:
    # Two passes over the row (itemsizes: p's); each sample reads its draw, writes an int64, compares n sums.
    return Cost(float(rows) * (2 * n * itemsizes + k * (draw_itemsize + 8)), float(rows) * n * (2 + k))


BERNOULLI_TUNING = Tunable(
    "sampling.bernoulli",
    space=[dict(BLOCK=BLOCK, num_warps=NUM_WARPS), dict(BLOCK=512, num_warps=4), dict(BLOCK=2048, num_warps=8),
           dict(BLOCK=4096, num_warps=8)],
    heuristic=lambda key: dict(BLOCK=BLOCK, num_warps=NUM_WARPS),
    cost=_bernoulli_cost,
)


def _race_heuristic(key) -> dict:
    # A 1024-element step on 4 warps spills (4 B) in the aligned sm_80 build: 8 warps hold it.
    block = row_blocks(key[1])[0]
    return dict(BLOCK=block, num_warps=8 if block >= 1024 else NUM_WARPS)


def _race_space(key, space: str) -> list[dict]:
    # key[1] is next_pow2(n): the heuristic's step, then other warps on it (more, or for short rows fewer;
    # fewer for the 1024 step, where the heuristic already has 8) and, in the "max" space, half the step
    # (twice the step spills for fp64 at 1024).
    block = _race_heuristic(key)["BLOCK"]
    other = 16 if block >= 1024 else 8 if block >= 256 else 1
    configs = [_race_heuristic(key), dict(BLOCK=block, num_warps=other)]
    if space == "max" and block // 2 >= MIN_ROW_BLOCK:
        configs.append(dict(BLOCK=block // 2, num_warps=NUM_WARPS))
    return configs


def _cdf_heuristic(key) -> dict:
    block_n, block_k = row_blocks(key[1])
    return dict(BLOCK_N=block_n, BLOCK_K=block_k, num_warps=NUM_WARPS)


def _cdf_space(key, space: str) -> list[dict]:
    # The heuristic's tile with 8 warps; where that spills on sm_80 (the 128x64 and 1024x16 tiles), a smaller
    # tile with 4 warps. Larger tiles spill.
    h = _cdf_heuristic(key)
    if (h["BLOCK_N"], h["BLOCK_K"]) == (128, 64):
        return [h, dict(h, BLOCK_K=32)]
    if h["BLOCK_N"] == ROW_BLOCK:
        return [h, dict(h, BLOCK_N=ROW_BLOCK // 2)]
    return [h, dict(h, num_warps=8)]


# Keys: (p's dtype, next_pow2(n), next_pow2(k), next_pow2(rows)); the spaces depend on the row length.
MULTINOMIAL_RACE_TUNING = Tunable("sampling.multinomial_race", _race_space, _race_heuristic, _race_cost)
MULTINOMIAL_CDF_TUNING = Tunable("sampling.multinomial_cdf", _cdf_space, _cdf_heuristic, _cdf_cost)


# ================================================================ bernoulli
@fast_jit
def bernoulli_kernel(
    out_ptr,  # samples, 0 or 1 in out's dtype
    u_ptr,  # fp32 uniforms in [0, 1), drawn on the host
    p_ptr,  # probabilities (read when P_TENSOR), broadcast to out's shape
    p_value,  # the probability when it is a number (fp32)
    numel,  # elements in this launch
    size1, size2, size3,  # launch shape (size0 implied by numel)
    os0, os1, os2, os3,  # out strides
    us0, us1, us2, us3,  # u strides
    ps0, ps1, ps2, ps3,  # p strides
    err_ptr,  # int64[2] device error word (code, offending element)
    err_code,  # code reported for a probability outside [0, 1] (or NaN)
    P_TENSOR: tl.constexpr,  # probabilities from p_ptr (True) or p_value (False)
    BLOCK: tl.constexpr,  # elements per program
):
    idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < numel
    u = tl.load(u_ptr + strided_offsets(idx, size1, size2, size3, us0, us1, us2, us3), mask=mask, other=1.0)
    if P_TENSOR:
        p = compute_type(tl.load(p_ptr + strided_offsets(idx, size1, size2, size3, ps0, ps1, ps2, ps3),
                                 mask=mask, other=0.0))
        # NaN fails both comparisons, so it is reported too.
        report_out_of_range(err_ptr, err_code, idx, mask & ~((p >= 0) & (p <= 1)))
        draw = u < p
    else:
        draw = u < p_value
    tl.store(out_ptr + strided_offsets(idx, size1, size2, size3, os0, os1, os2, os3),
             cast_to(draw, out_ptr.dtype.element_ty), mask=mask)


def bernoulli(out: DeviceArray, u: DeviceArray, p: DeviceArray | float, err: DeviceArray, err_code: int) -> None:
    """out = (u < p): u fp32 uniforms in out's shape, p a float DeviceArray broadcast to it or a number in
    [0, 1] (compared in fp32). err is the device error word; lanes with p outside [0, 1] report err_code."""
    numel = out.numel()
    if numel == 0:
        return
    p_tensor = isinstance(p, DeviceArray)
    arrays = [out, u, p if p_tensor else u]
    itemsizes = out.dtype.itemsize + u.dtype.itemsize + (p.dtype.itemsize if p_tensor else 0)
    repeatable = all(out.storage is not a.storage for a in arrays[1:])
    for shape4, strides4, offsets in launch_slices(out.shape, arrays):
        o, x, q = (a.view_as(shape4, s, off) for a, s, off in zip(arrays, strides4, offsets))
        n = shape4[0] * shape4[1] * shape4[2] * shape4[3]

        def run(config, o=o, x=x, q=q, n=n, shape4=shape4):
            bernoulli_kernel[(triton.cdiv(n, config["BLOCK"]),)](
                o, x, q, 0.0 if p_tensor else float(p), n, shape4[1], shape4[2], shape4[3],
                *o.strides, *x.strides, *q.strides, err, err_code, P_TENSOR=p_tensor, **config)

        key = (out.dtype.name, p.dtype.name if p_tensor else "number", next_pow2(n))
        tuning.launch(BERNOULLI_TUNING, key, dict(numel=n, itemsizes=itemsizes), run, repeatable)


# ================================================================ multinomial: the exponential race
@fast_jit
def multinomial_race_kernel(
    out_ptr,  # (rows, k) int64 samples
    p_ptr,  # (rows, n) probabilities, any strides
    q_ptr,  # (rows, n) contiguous Exp(1) draws (fp32; fp64 for fp64 probabilities)
    n,  # categories
    k,  # samples per row (<= n)
    p_row_stride, p_col_stride,  # p strides
    out_row_stride, out_col_stride,  # out strides
    err_ptr,  # int64[2] device error word
    err_bad,  # code reported for a negative, infinite or NaN probability
    err_zero,  # code reported for a row whose probabilities sum to 0
    BLOCK: tl.constexpr,  # categories per loop step
):
    row = tl.program_id(0).to(tl.int64)
    cols0 = tl.arange(0, BLOCK)
    # The (key, index) of the previous pick: round j takes the largest key after it in the order
    # (key descending, index ascending), so k rounds give the top k without sorting.
    prev_key = tl.max(tl.zeros([BLOCK], q_ptr.dtype.element_ty), 0) + float("inf")
    prev_idx = -1
    for j in range(0, k):
        best_key = tl.zeros([BLOCK], q_ptr.dtype.element_ty) - 1.0
        best_idx = tl.zeros([BLOCK], tl.int32) + n
        total = tl.zeros([BLOCK], q_ptr.dtype.element_ty)
        row_bad = tl.zeros([BLOCK], tl.int1)
        for start in range(0, n, BLOCK):
            cols = start + cols0
            mask = cols < n
            p = compute_type(tl.load(p_ptr + row * p_row_stride + cols * p_col_stride, mask=mask, other=0.0))
            q = tl.load(q_ptr + row * n + cols, mask=mask, other=1.0)
            bad = mask & ~((p >= 0) & (p < float("inf")))
            report_out_of_range(err_ptr, err_bad, row * n + cols, bad)
            row_bad = row_bad | bad
            total += p
            key = div_ieee(p, q)
            after = (key < prev_key) | ((key == prev_key) & (cols > prev_idx))
            key = tl.where(mask & after, key, -1.0)
            # Strictly greater: on a tie the earlier step (the lower index) keeps the lane.
            better = key > best_key
            best_idx = tl.where(better, cols, best_idx)
            best_key = tl.where(better, key, best_key)
        zero = (tl.sum(total, 0) == 0) & (tl.max(row_bad.to(tl.int32), 0) == 0)
        report_out_of_range(err_ptr, err_zero, row, zero)
        top = tl.max(best_key, 0)
        pick = tl.min(tl.where(best_key == top, best_idx, n), 0)
        pick = tl.minimum(pick, n - 1)  # only invalid rows (already reported) have no pick
        tl.store(out_ptr + row * out_row_stride + j * out_col_stride, pick.to(tl.int64))
        prev_key = top
        prev_idx = pick


# ================================================================ multinomial: inverse CDF
@fast_jit
def multinomial_cdf_kernel(
    out_ptr,  # (rows, k) int64 samples
    p_ptr,  # (rows, n) probabilities, any strides
    u_ptr,  # (rows, k) contiguous uniforms in [0, 1) (fp32; fp64 for fp64 probabilities)
    n,  # categories
    k,  # samples per row
    p_row_stride, p_col_stride,  # p strides
    out_row_stride, out_col_stride,  # out strides
    err_ptr,  # int64[2] device error word
    err_negative,  # code reported for a negative (or NaN) probability
    err_infinite,  # code reported for an infinite probability
    err_zero,  # code reported for a row whose probabilities sum to 0
    BLOCK_N: tl.constexpr,  # categories per loop step
    BLOCK_K: tl.constexpr,  # samples per program
):
    row = tl.program_id(0).to(tl.int64)
    samples = tl.program_id(1) * BLOCK_K + tl.arange(0, BLOCK_K)
    smask = samples < k
    cols0 = tl.arange(0, BLOCK_N)
    # Pass 1: the row's total (the last running sum, accumulated exactly as pass 2 does), its last
    # positive category (the fallback when rounding puts u * total at the total) and the checks.
    carry = tl.sum(tl.zeros([BLOCK_N], u_ptr.dtype.element_ty), 0)
    last = tl.zeros([BLOCK_N], tl.int32) - 1
    row_bad = tl.zeros([BLOCK_N], tl.int1)
    for start in range(0, n, BLOCK_N):
        cols = start + cols0
        mask = cols < n
        p = compute_type(tl.load(p_ptr + row * p_row_stride + cols * p_col_stride, mask=mask, other=0.0))
        negative = mask & ~(p >= 0)
        infinite = mask & (p == float("inf"))
        report_out_of_range(err_ptr, err_negative, row * n + cols, negative)
        report_out_of_range(err_ptr, err_infinite, row * n + cols, infinite)
        row_bad = row_bad | negative | infinite
        last = tl.maximum(last, tl.where(mask & (p > 0), cols, -1))
        carry = tl.max(tl.where(mask, carry + tl.cumsum(p, 0), 0.0), 0)
    total = carry
    zero = (total == 0) & (tl.max(row_bad.to(tl.int32), 0) == 0)
    report_out_of_range(err_ptr, err_zero, row, zero & (tl.program_id(1) == 0))
    last_positive = tl.max(last, 0)
    # Pass 2: each sample is the first positive category whose running sum exceeds u * total.
    # Masked samples read 0.5, not 0: 0 * an infinite total would be a NaN computed for nothing.
    u = tl.load(u_ptr + row * k + samples, mask=smask, other=0.5)
    target = u * total
    pick = tl.zeros([BLOCK_K], tl.int32) + n
    carry = tl.sum(tl.zeros([BLOCK_N], u_ptr.dtype.element_ty), 0)
    for start in range(0, n, BLOCK_N):
        cols = start + cols0
        mask = cols < n
        p = compute_type(tl.load(p_ptr + row * p_row_stride + cols * p_col_stride, mask=mask, other=0.0))
        cdf = carry + tl.cumsum(p, 0)
        hit = (cdf[None, :] > target[:, None]) & (mask & (p > 0))[None, :]
        pick = tl.minimum(pick, tl.min(tl.where(hit, cols[None, :], n), 1))
        carry = tl.max(tl.where(mask, cdf, 0.0), 0)
    pick = tl.where(pick == n, last_positive, pick)
    pick = tl.maximum(pick, 0)  # only invalid rows (already reported) have no positive category
    tl.store(out_ptr + row * out_row_stride + samples * out_col_stride, pick.to(tl.int64), mask=smask)


def _rows(a: DeviceArray) -> DeviceArray:
    """A 1-D operand as one row (the multinomial kernels take (rows, n))."""
    return a.view_as((1, a.shape[0]), (0, a.strides[0])) if a.ndim == 1 else a


def multinomial_race(out: DeviceArray, p: DeviceArray, q: DeviceArray, err: DeviceArray, err_bad: int,
                     err_zero: int) -> None:
    """out[r, :k] = the k categories with the largest p[r, i] / q[r, i] (ties: lower index first).

    out: (rows, k) or (k,) int64; p: (rows, n) or (n,) float probabilities, any strides; q: contiguous Exp(1)
    draws in p's shape, fp32 (fp64 for fp64 p). Rows with a negative/inf/NaN entry report err_bad, rows
    summing to 0 err_zero, into the error word `err`. Each of the k picks reads the row once: O(k * n).
    """
    out, p, q = _rows(out), _rows(p), _rows(q)
    rows, n = p.shape
    k = out.shape[1]
    if rows == 0 or k == 0:
        return

    def run(config):
        multinomial_race_kernel[(rows,)](out, p, q, n, k, *p.strides, *out.strides, err, err_bad, err_zero,
                                         **config)

    key = (p.dtype.name, next_pow2(n), next_pow2(k), next_pow2(rows))
    sizes = dict(rows=rows, n=n, k=k, itemsizes=p.dtype.itemsize + q.dtype.itemsize)
    tuning.launch(MULTINOMIAL_RACE_TUNING, key, sizes, run)


def multinomial_cdf(out: DeviceArray, p: DeviceArray, u: DeviceArray, err: DeviceArray, err_negative: int,
                    err_infinite: int, err_zero: int) -> None:
    """out[r, s] = the first positive category whose running sum of p[r] exceeds u[r, s] * sum(p[r]).

    out: (rows, k) or (k,) int64; p: (rows, n) or (n,) float probabilities, any strides; u: contiguous
    uniforms in out's shape, fp32 (fp64 for fp64 p). Bad entries and zero rows report their codes.
    """
    out, p, u = _rows(out), _rows(p), _rows(u)
    rows, n = p.shape
    k = out.shape[1]
    if rows == 0 or k == 0:
        return

    def run(config):
        multinomial_cdf_kernel[(rows, triton.cdiv(k, config["BLOCK_K"]))](
            out, p, u, n, k, *p.strides, *out.strides, err, err_negative, err_infinite, err_zero, **config)

    key = (p.dtype.name, next_pow2(n), next_pow2(k), next_pow2(rows))
    sizes = dict(rows=rows, n=n, k=k, itemsizes=p.dtype.itemsize, draw_itemsize=u.dtype.itemsize)
    tuning.launch(MULTINOMIAL_CDF_TUNING, key, sizes, run)


# ================================================================ NumPy references
_HALF = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))


def draw_dtype(p_dtype: np.dtype) -> np.dtype:
    """The precision of the draws and of the arithmetic for probabilities of `p_dtype`."""
    return np.dtype(np.float64) if np.dtype(p_dtype) == np.float64 else np.dtype(np.float32)


def _compute(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p)
    return p.astype(np.float32) if p.dtype in _HALF else p


def bernoulli_ref(u: np.ndarray, p, out_dtype) -> np.ndarray:
    """(u < p) as out_dtype: p an array (broadcast to u) or a number (compared in fp32)."""
    p = _compute(p) if isinstance(p, np.ndarray) else np.float32(p)
    return (u < p).astype(out_dtype)


def bernoulli_invalid_ref(p: np.ndarray) -> bool:
    """Whether any probability is outside [0, 1] or NaN."""
    p = _compute(p)
    return bool(np.any(~((p >= 0) & (p <= 1))))


def multinomial_race_ref(p: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    """The k categories of each row with the largest p / q, largest first, ties to the lower index."""
    p2, q2 = np.atleast_2d(_compute(p)), np.atleast_2d(q)
    with np.errstate(all="ignore"):
        keys = p2 / q2
    picks = np.argsort(-keys, axis=1, kind="stable")[:, :k].astype(np.int64)
    return picks.reshape(-1) if np.ndim(p) == 1 else picks


def multinomial_cdf_ref(p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """For each row and uniform, the first category whose running sum exceeds u * total (the last positive
    category when rounding puts the target at the total)."""
    p2, u2 = np.atleast_2d(_compute(p)), np.atleast_2d(u)
    picks = np.empty(u2.shape, np.int64)
    for r in range(p2.shape[0]):
        cdf = np.cumsum(p2[r])
        total = cdf[-1] if cdf.size else p2.dtype.type(0)
        pick = np.searchsorted(cdf, u2[r] * total, side="right")
        positive = np.flatnonzero(p2[r] > 0)
        picks[r] = np.where(pick >= p2.shape[1], positive[-1] if positive.size else 0, pick)
    return picks.reshape(-1) if np.ndim(p) == 1 else picks


def multinomial_invalid_ref(p: np.ndarray, race: bool) -> str | None:
    """The first problem PyTorch's cpu check meets: 'negative' (or NaN), 'infinite' or 'zero' (a row summing
    to 0); the race path folds negative/infinite/NaN into 'bad'. None when the probabilities are valid."""
    p2 = np.atleast_2d(_compute(p))
    if race:
        if np.any(~((p2 >= 0) & (p2 < np.inf))):
            return "bad"
        return "zero" if np.any(p2.sum(axis=1, dtype=p2.dtype) == 0) else None
    for row in p2:  # PyTorch scans each row in order and stops at the first bad entry
        negative, infinite = ~(row >= 0), row == np.inf
        if negative.any() or infinite.any():
            first_negative = np.argmax(negative) if negative.any() else row.size
            first_infinite = np.argmax(infinite) if infinite.any() else row.size
            return "negative" if first_negative < first_infinite else "infinite"
        if row.sum(dtype=row.dtype) == 0:
            return "zero"
    return None


# ================================================================ AOT / tuning declarations
def _bernoulli_signature(out: str, p: str) -> dict[str, str]:
    sig = {"out_ptr": f"*{out}", "u_ptr": "*fp32", "p_ptr": f"*{p}", "p_value": "fp32", "numel": "i32",
           "size1": "i32", "size2": "i32", "size3": "i32"}
    for operand in ("o", "u", "p"):
        sig.update({f"{operand}s{d}": "i32" for d in range(4)})
    sig.update(err_ptr="*i64", err_code="i32")
    return sig


def _multinomial_signature(p: str, draws: str, codes: tuple[str, ...]) -> dict[str, str]:
    sig = {"out_ptr": "*i64", "p_ptr": f"*{p}", "q_ptr" if len(codes) == 2 else "u_ptr": f"*{draws}",
           "n": "i32", "k": "i32", "p_row_stride": "i32", "p_col_stride": "i32", "out_row_stride": "i32",
           "out_col_stride": "i32", "err_ptr": "*i64"}
    sig.update({code: "i32" for code in codes})
    return sig


_RACE_CODES = ("err_bad", "err_zero")
_CDF_CODES = ("err_negative", "err_infinite", "err_zero")
_ROW_LENGTHS = (10, 100, 200, 300, 50257)  # the smallest, middle and largest launch configurations


def _row_space(tunable: Tunable) -> list[dict]:
    """Every config the key-dependent space offers for the row lengths above (what --full compiles)."""
    configs = []
    for n in _ROW_LENGTHS:
        for config in tunable.configs(("", next_pow2(n)), "max"):
            if config not in configs:
                configs.append(config)
    return configs


_ITEMSIZE = {"fp32": 4, "bf16": 2, "fp16": 2, "fp64": 8}


def _race_reads_wide(widest: int):
    """Whether the width rule binds a race config: one program races one row, reading BLOCK categories of
    p and of the draws per step (k steps over the row, one per sample: a latency-bound per-row loop). A
    step of fewer than 16 bytes per thread of its widest operand (rows of up to 256 fp32 categories on
    4 warps) cannot give a thread a 128-bit access in any layout; longer steps can, and must."""
    return lambda config: config["BLOCK"] * widest >= 16 * 32 * config["num_warps"]


def _cdf_reads_wide(config: dict) -> bool:
    """Whether the width rule binds a cdf config: a step of BLOCK_N categories fewer than the program's
    threads (rows of up to 16 categories) leaves threads without even one element of the row; each sample's
    search is a data-dependent walk of the running sum. Wider steps do reach 128-bit loads."""
    return config["BLOCK_N"] >= 32 * config["num_warps"]


SPECS = [
    *(KernelSpec(f"sampling.bernoulli[{out}:{p}:{'tensor' if tensor else 'number'}]", bernoulli_kernel,
                 _bernoulli_signature(out, p), dict(P_TENSOR=tensor), [BERNOULLI_TUNING.heuristic(())],
                 BERNOULLI_TUNING.all_configs())
      for out, p, tensor in [("fp32", "fp32", True), ("bf16", "bf16", True), ("fp64", "fp64", True),
                             ("fp16", "fp16", True), ("fp32", "fp32", False), ("i64", "fp32", False),
                             ("i1", "fp32", False)]),
    *(KernelSpec(f"sampling.multinomial_race[{p}]", multinomial_race_kernel,
                 _multinomial_signature(p, draws, _RACE_CODES), {},
                 [_race_heuristic(("", next_pow2(n))) for n in _ROW_LENGTHS], _row_space(MULTINOMIAL_RACE_TUNING),
                 memory_bound=_race_reads_wide(max(_ITEMSIZE[p], _ITEMSIZE[draws])))
      for p, draws in [("fp32", "fp32"), ("bf16", "fp32"), ("fp16", "fp32"), ("fp64", "fp64")]),
    *(KernelSpec(f"sampling.multinomial_cdf[{p}]", multinomial_cdf_kernel,
                 _multinomial_signature(p, draws, _CDF_CODES), {},
                 [_cdf_heuristic(("", next_pow2(n))) for n in _ROW_LENGTHS], _row_space(MULTINOMIAL_CDF_TUNING),
                 memory_bound=_cdf_reads_wide)
      for p, draws in [("fp32", "fp32"), ("bf16", "fp32"), ("fp16", "fp32"), ("fp64", "fp64")]),
]
