"""Multi-tensor kernels: one launch over a whole list of tensors (gradient norms, clipping, foreach ops).

A per-parameter loop costs one launch per tensor; a model with hundreds of small parameters then spends
its clipping step in launch latency. These kernels instead take a *table*: one int64 device array,
built once per call by the ops layer (tritensor/ops/foreach.py) and copied to the device in one transfer:

    addrs[T]    the tensors' data addresses (all of one dtype: the ops layer groups tensors by dtype)
    sizes[T]    their element counts
    ctensor[C]  for every chunk, the index of its tensor
    cstart[C]   for every chunk, its first element in that tensor (a multiple of `chunk_len`)

Every tensor is cut into chunks of `chunk_len` elements (`chunk_length`: a power of two, large enough
that a chunk holds whole blocks of every tuning config, small enough that the chunks of all tensors
give a few programs per SM). One program owns one chunk: it reads its tensor's address from the table,
casts it to a pointer of the group's element type (`like_ptr`, a real tensor of the group, gives the
type) and streams the chunk in BLOCK steps, the full blocks unmasked.

`multi_tensor_norm_kernel` writes one partial per chunk (sum |x|^p, sum x^2, max/min |x| or a nonzero
count, fp32; fp64 for fp64 tensors); `norm_combine_kernel` then folds a range of partials per output
in a fixed order (deterministic: the same bits every run) and applies the root: with one range per
tensor it gives `_foreach_norm`, with one range over every chunk the total norm of all of them, and
with CLIP it also writes clip_grad_norm_'s coefficient min(max_norm / (total + 1e-6), 1) so that the
scaling launch reads it from device memory (no host round trip). `multi_tensor_apply_kernel` scales
(by a device scalar) or clamps every element of every tensor in place, one launch for the whole list.

When every address is 16-byte aligned the wrapper says so (ALIGNED) and the kernel states it with
tl.multiple_of, so the bulk loads and stores of an H100 build are 128-bit.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2

# norm kinds (constexpr NORM)
NORM_ZERO, NORM_ONE, NORM_TWO, NORM_INF, NORM_NEG_INF, NORM_P = 0, 1, 2, 3, 4, 5

MIN_CHUNK = 4096  # >= every BLOCK of the space, so a chunk is whole blocks
MAX_CHUNK = 1 << 16
COMBINE_BLOCK = 256
# Streaming configs: wider blocks amortise the per-chunk table reads, smaller ones suit short tensors.
_SPACE = [dict(BLOCK=1024, num_warps=4), dict(BLOCK=2048, num_warps=8), dict(BLOCK=512, num_warps=4),
          dict(BLOCK=4096, num_warps=8)]
_COMBINE_SPACE = [dict(BLOCK=COMBINE_BLOCK, num_warps=4), dict(BLOCK=1024, num_warps=4)]


def norm_kind(p: float) -> int:
    """The NORM constexpr for a vector norm of order p."""
    if p == 0:
        return NORM_ZERO
    if p == 1:
        return NORM_ONE
    if p == 2:
        return NORM_TWO
    if p == float("inf"):
        return NORM_INF
    if p == float("-inf"):
        return NORM_NEG_INF
    return NORM_P


def chunk_length(total: int) -> int:
    """Elements per chunk for `total` elements over all tensors: about four chunks per SM, whole blocks."""
    want = next_pow2(max(1, -(-total // (4 * tuning.sm_count()))))
    return min(max(want, MIN_CHUNK), MAX_CHUNK)


def build_table(sizes: list[int], chunk_len: int) -> tuple[np.ndarray, np.ndarray]:
    """(ctensor, cstart) of the chunks of tensors of these sizes (empty tensors have none), tensor-major."""
    counts = np.array([-(-n // chunk_len) for n in sizes], dtype=np.int64)
    ctensor = np.repeat(np.arange(len(sizes), dtype=np.int64), counts)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) if len(sizes) else counts
    cstart = (np.arange(ctensor.size, dtype=np.int64) - np.repeat(first, counts)) * chunk_len
    return ctensor, cstart


@triton.jit
def _max_nan(a, b):
    # max that keeps a NaN (PyTorch's inf-norm of a tensor holding NaN is NaN)
    return tl.where((a > b) | (a != a), a, b)


@triton.jit
def _min_nan(a, b):
    return tl.where((a < b) | (a != a), a, b)


@triton.jit
def _reduce_max_nan(acc):
    # tl.max over lanes, but NaN if any lane is NaN (tl.max alone may drop it); no custom combine needed
    has_nan = tl.max(tl.where(acc != acc, 1, 0), axis=0)
    best = tl.max(tl.where(acc != acc, 0.0, acc), axis=0)
    return tl.where(has_nan > 0, float("nan"), best)


@triton.jit
def _reduce_min_nan(acc):
    has_nan = tl.max(tl.where(acc != acc, 1, 0), axis=0)
    best = tl.min(tl.where(acc != acc, float("inf"), acc), axis=0)
    return tl.where(has_nan > 0, float("nan"), best)


@triton.jit
def _accumulate(acc, x, mask, p, NORM: tl.constexpr):
    a = tl.abs(x)
    if NORM == 0:
        acc += tl.where(mask & (x != 0), 1.0, 0.0).to(acc.dtype)
    elif NORM == 1:
        acc += tl.where(mask, a, 0.0)
    elif NORM == 2:
        acc += tl.where(mask, a * a, 0.0)
    elif NORM == 3:
        acc = _max_nan(acc, tl.where(mask, a, 0.0))
    elif NORM == 4:
        acc = _min_nan(acc, tl.where(mask, a, float("inf")))
    else:
        # |x|^p as exp2(p * log2|x|): 0 -> 0 for p > 0 and inf for p < 0, as pow does
        # (|x| == 0 is patched around log2, which would warn and gives -inf)
        zero = a == 0
        power = tl.exp2(p * tl.log2(tl.where(zero, 1.0, a)))
        power = tl.where(zero, tl.where(p > 0, 0.0, float("inf")), power)
        acc += tl.where(mask, power, 0.0)
    return acc


@fast_jit
def multi_tensor_norm_kernel(
    addr_ptr,  # (T,) int64 data addresses of the group's tensors
    size_ptr,  # (T,) int64 element counts
    ctensor_ptr,  # (C,) int64 tensor index of each chunk
    cstart_ptr,  # (C,) int64 first element of each chunk
    like_ptr,  # any tensor of the group: its pointer type is the element type of every table address
    partial_ptr,  # (C,) out: the chunk's partial (fp32, fp64 for fp64 tensors)
    chunk_len,  # elements per chunk (a multiple of BLOCK)
    p,  # the order, read only for NORM_P
    NORM: tl.constexpr,  # NORM_ZERO ... NORM_P
    ALIGNED: tl.constexpr,  # every address 16-byte aligned
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0)
    t = tl.load(ctensor_ptr + pid)
    start = tl.load(cstart_ptr + pid)
    n = tl.load(size_ptr + t)
    base = tl.load(addr_ptr + t).to(like_ptr.dtype)
    if ALIGNED:
        base = tl.multiple_of(base, 16)
        start = tl.multiple_of(start, BLOCK)
    acc_type: tl.constexpr = tl.float64 if like_ptr.dtype.element_ty == tl.float64 else tl.float32
    init = float("inf") if NORM == 4 else 0.0
    acc = tl.full((BLOCK,), init, acc_type)
    lanes = tl.arange(0, BLOCK)
    end = tl.minimum(start + chunk_len, n)
    for off in range(0, chunk_len, BLOCK):
        offs = start + off + lanes
        if start + off + BLOCK <= end:  # a full block: unmasked, so aligned loads are 128-bit
            x = compute_type(tl.load(base + offs)).to(acc_type)
            acc = _accumulate(acc, x, lanes >= 0, p, NORM)
        elif start + off < end:
            mask = offs < end
            x = compute_type(tl.load(base + offs, mask=mask, other=0)).to(acc_type)
            acc = _accumulate(acc, x, mask, p, NORM)
    if NORM == 3:
        result = _reduce_max_nan(acc)
    elif NORM == 4:
        result = _reduce_min_nan(acc)
    else:
        result = tl.sum(acc, axis=0)
    tl.store(partial_ptr + pid, result.to(partial_ptr.dtype.element_ty))


@fast_jit
def norm_combine_kernel(
    partial_ptr,  # (C,) chunk partials
    bounds_ptr,  # (R + 1,) int64: output r folds partials[bounds[r]:bounds[r + 1]]
    out_ptr,  # (R,) the norms (the tensors' dtype)
    coef_ptr,  # (1,) out with CLIP: min(max_norm / (out[0] + 1e-6), 1) in out's dtype
    p,  # the order (NORM_P's root)
    max_norm,  # CLIP's bound
    NORM: tl.constexpr,
    CLIP: tl.constexpr,
    BLOCK: tl.constexpr,
):
    r = tl.program_id(0)
    lo = tl.load(bounds_ptr + r)
    hi = tl.load(bounds_ptr + r + 1)
    acc_type: tl.constexpr = partial_ptr.dtype.element_ty
    init = float("inf") if NORM == 4 else 0.0
    acc = tl.full((BLOCK,), init, acc_type)
    for start in range(lo, hi, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        mask = offs < hi
        v = tl.load(partial_ptr + offs, mask=mask, other=init)
        if NORM == 3:
            acc = _max_nan(acc, v)
        elif NORM == 4:
            acc = _min_nan(acc, v)
        else:
            acc += v
    if NORM == 3:
        total = _reduce_max_nan(acc)
    elif NORM == 4:
        total = _reduce_min_nan(acc)
    else:
        total = tl.sum(acc, axis=0)
    if NORM == 2:
        total = tl.sqrt(total)
    elif NORM == 5:
        total = tl.where(total == 0, 0.0, tl.exp2(tl.log2(tl.where(total == 0, 1.0, total)) / p))
    total = cast_to(total, out_ptr.dtype.element_ty)
    tl.store(out_ptr + r, total)
    if CLIP:
        # PyTorch: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1.0, in total_norm's dtype
        ctype: tl.constexpr = tl.float64 if out_ptr.dtype.element_ty == tl.float64 else tl.float32
        denom = total.to(ctype) + 1e-6
        coef = tl.minimum(tl.div_rn(tl.zeros_like(denom) + max_norm, denom), 1.0)  # IEEE division
        coef = tl.where(denom != denom, denom, coef)  # a NaN norm scales by NaN, as PyTorch's clamp keeps it
        tl.store(coef_ptr, cast_to(coef, coef_ptr.dtype.element_ty))


@fast_jit
def multi_tensor_apply_kernel(
    addr_ptr, size_ptr, ctensor_ptr, cstart_ptr,  # the table, as multi_tensor_norm_kernel
    like_ptr,  # any tensor of the group (gives the element type)
    coef_ptr,  # (1,) the scale factor (OP 0), any float dtype
    lo, hi,  # OP 1's bounds
    chunk_len,  # elements per chunk (a multiple of BLOCK)
    OP: tl.constexpr,  # 0: x *= coef; 1: x = clamp(x, lo, hi)
    ALIGNED: tl.constexpr,
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0)
    t = tl.load(ctensor_ptr + pid)
    start = tl.load(cstart_ptr + pid)
    n = tl.load(size_ptr + t)
    base = tl.load(addr_ptr + t).to(like_ptr.dtype)
    if ALIGNED:
        base = tl.multiple_of(base, 16)
        start = tl.multiple_of(start, BLOCK)
    elem: tl.constexpr = like_ptr.dtype.element_ty
    ctype: tl.constexpr = tl.float64 if elem == tl.float64 else tl.float32
    coef = compute_type(tl.load(coef_ptr)).to(ctype)
    lanes = tl.arange(0, BLOCK)
    end = tl.minimum(start + chunk_len, n)
    for off in range(0, chunk_len, BLOCK):
        offs = start + off + lanes
        if start + off + BLOCK <= end:
            x = compute_type(tl.load(base + offs)).to(ctype)
            if OP == 0:
                x = x * coef
            else:
                x = tl.where(x < lo, lo, tl.where(x > hi, hi, x))  # NaN stays NaN
            tl.store(base + offs, cast_to(x, elem))
        elif start + off < end:
            mask = offs < end
            x = compute_type(tl.load(base + offs, mask=mask, other=0)).to(ctype)
            if OP == 0:
                x = x * coef
            else:
                x = tl.where(x < lo, lo, tl.where(x > hi, hi, x))
            tl.store(base + offs, cast_to(x, elem), mask=mask)


# ---------------------------------------------------------------- tuning
def _norm_cost(n: int, chunks: int, itemsize: int) -> Cost:
    return Cost(float(n) * itemsize + 24.0 * chunks, 2.0 * n)


def _apply_cost(n: int, chunks: int, itemsize: int) -> Cost:
    return Cost(2.0 * n * itemsize + 24.0 * chunks, float(n))


# Keys: (kind/op, dtype, aligned, chunk_len, next_pow2(chunks)).
NORM_TUNING = Tunable("multi_tensor.norm", _SPACE, lambda key: dict(_SPACE[0]), _norm_cost)
APPLY_TUNING = Tunable("multi_tensor.apply", _SPACE, lambda key: dict(_SPACE[0]), _apply_cost, repeatable=False)
COMBINE_TUNING = Tunable("multi_tensor.combine", _COMBINE_SPACE, lambda key: dict(_COMBINE_SPACE[0]),
                         lambda rows, chunks, itemsize: Cost(float(chunks) * itemsize + 16.0 * rows, float(chunks)))


class Group:
    """One dtype's tensors as the kernels see them: table views and launch facts.

    addrs, sizes: (T,) int64; ctensor, cstart: (C,) int64 (views of the one device table);
    like: a DeviceArray of one of the tensors (its dtype is the group's); numel: sum of sizes;
    aligned: every address 16-byte aligned; chunk_len: elements per chunk."""

    __slots__ = ("addrs", "sizes", "ctensor", "cstart", "like", "numel", "aligned", "chunk_len")

    def __init__(self, addrs, sizes, ctensor, cstart, like, numel: int, aligned: bool, chunk_len: int):
        self.addrs, self.sizes, self.ctensor, self.cstart = addrs, sizes, ctensor, cstart
        self.like, self.numel, self.aligned, self.chunk_len = like, numel, aligned, chunk_len

    @property
    def chunks(self) -> int:
        return self.ctensor.shape[0]


def multi_tensor_norm(partials: DeviceArray, group: Group, p: float) -> None:
    """partials[c] = chunk c's partial of the order-p norm (sum |x|^p, max |x|, ...); partials: (C,) fp32
    (fp64 for fp64 tensors)."""
    C = group.chunks
    if C == 0:
        return
    kind = norm_kind(p)

    def run(cfg):
        multi_tensor_norm_kernel[(C,)](group.addrs, group.sizes, group.ctensor, group.cstart, group.like, partials,
                                       group.chunk_len, float(p), NORM=kind, ALIGNED=group.aligned, **cfg)

    key = (kind, group.like.dtype.name, group.aligned, group.chunk_len, next_pow2(C))
    sizes = dict(n=group.numel, chunks=C, itemsize=group.like.dtype.itemsize)
    tuning.launch(NORM_TUNING, key, sizes, run)


def norm_combine(out: DeviceArray, partials: DeviceArray, bounds: DeviceArray, p: float,
                 coef: DeviceArray | None = None, max_norm: float = 0.0) -> None:
    """out[r] = the order-p norm folded from partials[bounds[r]:bounds[r + 1]] (R = out's length); with coef
    (1,), also coef[0] = min(max_norm / (out[0] + 1e-6), 1) (R must be 1)."""
    R = out.shape[0]
    if R == 0:
        return
    kind = norm_kind(p)
    clip = coef is not None

    def run(cfg):
        norm_combine_kernel[(R,)](partials, bounds, out, coef if clip else out, float(p), float(max_norm),
                                  NORM=kind, CLIP=clip, **cfg)

    key = (kind, clip, partials.dtype.name, out.dtype.name, next_pow2(R), next_pow2(partials.shape[0]))
    tuning.launch(COMBINE_TUNING, key, dict(rows=R, chunks=partials.shape[0], itemsize=partials.dtype.itemsize),
                  run)


def multi_tensor_scale(group: Group, coef: DeviceArray) -> None:
    """Every tensor of the group *= coef[0], in place (coef: (1,), any float dtype)."""
    _apply(group, coef, 0.0, 0.0, 0)


def multi_tensor_clamp(group: Group, lo: float, hi: float) -> None:
    """Every tensor of the group clamped to [lo, hi] in place (NaN stays NaN)."""
    _apply(group, group.like, float(lo), float(hi), 1)


def _apply(group: Group, coef: DeviceArray, lo: float, hi: float, op: int) -> None:
    C = group.chunks
    if C == 0:
        return

    def run(cfg):
        multi_tensor_apply_kernel[(C,)](group.addrs, group.sizes, group.ctensor, group.cstart, group.like, coef,
                                        lo, hi, group.chunk_len, OP=op, ALIGNED=group.aligned, **cfg)

    key = (op, group.like.dtype.name, coef.dtype.name, group.aligned, group.chunk_len, next_pow2(C))
    sizes = dict(n=group.numel, chunks=C, itemsize=group.like.dtype.itemsize)
    tuning.launch(APPLY_TUNING, key, sizes, run, repeatable=False)


# ---------------------------------------------------------------- NumPy references
def _acc(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def vector_norm_ref(x: np.ndarray, p: float) -> np.ndarray:
    """torch.linalg.vector_norm(x, p) of one array, accumulated in fp32 (fp64 for fp64), in x's dtype."""
    a = np.abs(x.reshape(-1).astype(_acc(x.dtype)))
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        if p == 0:
            r = np.count_nonzero(a).astype(a.dtype)
        elif p == float("inf"):
            r = a.max() if a.size else a.dtype.type(0)
        elif p == float("-inf"):
            r = a.min() if a.size else a.dtype.type(np.inf)
        elif p == 1:
            r = a.sum()
        elif p == 2:
            r = np.sqrt((a * a).sum())
        else:
            r = (a ** p).sum() ** (1.0 / p)
    return np.asarray(r).astype(x.dtype)


def foreach_norm_ref(arrays: list[np.ndarray], p: float) -> list[np.ndarray]:
    """torch._foreach_norm: one 0-d norm per array, in its dtype."""
    return [vector_norm_ref(a, p) for a in arrays]


def total_norm_ref(arrays: list[np.ndarray], p: float) -> np.ndarray:
    """The norm of all arrays as if concatenated (the float64 result of folding their partials)."""
    if not arrays:
        return np.asarray(0.0)
    flat = np.concatenate([a.reshape(-1).astype(np.float64) for a in arrays])
    return vector_norm_ref(flat, p)


def clip_coef_ref(total: float, max_norm: float) -> float:
    """clip_grad_norm_'s scale: min(max_norm / (total + 1e-6), 1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        coef = np.float64(max_norm) / (np.float64(total) + 1e-6)
    return float(coef if np.isnan(coef) else min(coef, 1.0))


# ---------------------------------------------------------------- AOT / tuner declarations
_TABLE = {"addr_ptr": "*i64", "size_ptr": "*i64", "ctensor_ptr": "*i64", "cstart_ptr": "*i64"}


def _norm_signature(dtype: str) -> dict[str, str]:
    acc = "fp64" if dtype == "fp64" else "fp32"
    return {**_TABLE, "like_ptr": f"*{dtype}", "partial_ptr": f"*{acc}", "chunk_len": "i32", "p": "fp32"}


def _apply_signature(dtype: str) -> dict[str, str]:
    return {**_TABLE, "like_ptr": f"*{dtype}", "coef_ptr": f"*{dtype}", "lo": "fp32", "hi": "fp32",
            "chunk_len": "i32"}


def _combine_signature(acc: str, dtype: str) -> dict[str, str]:
    return {"partial_ptr": f"*{acc}", "bounds_ptr": "*i64", "out_ptr": f"*{dtype}", "coef_ptr": f"*{dtype}",
            "p": "fp32", "max_norm": "fp32"}


_DTYPES = ("fp32", "bf16", "fp16")
SPECS = [
    KernelSpec(f"multi_tensor.norm[{name}:{dtype}]", multi_tensor_norm_kernel, _norm_signature(dtype),
               dict(NORM=kind, ALIGNED=True), _SPACE[:1], _SPACE)
    for dtype in _DTYPES for name, kind in (("l2", NORM_TWO), ("inf", NORM_INF))
] + [
    KernelSpec(f"multi_tensor.apply[{name}:{dtype}]", multi_tensor_apply_kernel, _apply_signature(dtype),
               dict(OP=op, ALIGNED=True), _SPACE[:1], _SPACE)
    for dtype in _DTYPES for name, op in (("scale", 0), ("clamp", 1))
] + [
    # One program folds a handful of partials (one per chunk): a latency-bound tail that reads at most a
    # few KB, so vector width does not matter.
    KernelSpec(f"multi_tensor.combine[{name}:{dtype}]", norm_combine_kernel, _combine_signature("fp32", dtype),
               dict(NORM=kind, CLIP=clip), _COMBINE_SPACE[:1], _COMBINE_SPACE, memory_bound=False)
    for dtype in _DTYPES for name, kind, clip in (("l2_clip", NORM_TWO, True), ("inf", NORM_INF, False))
]
