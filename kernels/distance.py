"""Pairwise p-norm distances (torch.cdist): a tiled forward kernel, its backward, NumPy references, SPECS.

`cdist_kernel` computes out[b, i, j] = ||x1[b, i, :] - x2[b, j, :]||_p for a BLOCK_P x BLOCK_R tile of
(i, j) per program, looping over the features in BLOCK_M chunks on a [BLOCK_P, BLOCK_R, BLOCK_M] block of
differences (every operand element is read once per tile, not once per pair). The norm's order picks a
MODE at compile time: 0 (p = 0, the count of non-zero differences), 1 (sum |d|), 2 (sqrt of sum d^2),
3 (p = inf, max |d|), 4 (any other p: (sum |d|^p)^(1/p)). Accumulation is fp32 (fp64 for fp64).

`cdist_backward_kernel` computes grad_x1[b, i, k] = sum_j grad[b, i, j] * f(x1[b, i, k] - x2[b, j, k],
dist[b, i, j]) with PyTorch's per-p derivative f (0 where the distance is 0, and where the difference is 0
for p < 1): sign(d) for p = 1, d / dist for p = 2, sign(d) [|d| = dist] for inf, and
sign(d) |d|^(p-1) / dist^(p-1) otherwise. f is odd in d, so grad_x2 is the same kernel with x1 and x2
swapped and grad, dist transposed (strides swapped: nothing is copied).

The cpu path of cosine_similarity and normalize (p = 2) has its NumPy references here too, forward and backward,
run over blocks of rows (see _BLOCK_ELEMENTS); on cuda those ops are composites of the norm and elementwise kernels.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .elementwise import fill
from .ieee_math import sqrt_ieee
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .quiet_numpy import quiet_call
from .tuning import Cost, Tunable, next_pow2


def p_mode(p: float) -> int:
    """The kernels' MODE for the norm order p (see the module docstring)."""
    if p == 0:
        return 0
    if p == 1:
        return 1
    if p == 2:
        return 2
    if p == float("inf"):
        return 3
    return 4


@triton.jit
def _widen(x, IS_FP64: tl.constexpr):
    # 16-bit and fp32 operands accumulate in fp32, fp64 in fp64.
    if IS_FP64:
        return x.to(tl.float64)
    else:
        return x.to(tl.float32)


@triton.jit
def _pow_pos(a, e):
    """a ** e for a > 0 (callers mask a == 0): exp2(e * log2(a)), in a's precision."""
    return tl.exp2(e * tl.log2(a))


@fast_jit
def cdist_kernel(
    out_ptr, x1_ptr, x2_ptr,  # out (B, P, R); x1 (B, P, M); x2 (B, R, M)
    P, R, M,  # rows of x1, rows of x2, features
    s1b, s1p, s1m,  # x1 strides
    s2b, s2r, s2m,  # x2 strides
    sob, sop, sor,  # out strides
    p, inv_p,  # the norm's order and 1 / p (read by MODE 4 only)
    MODE: tl.constexpr,  # 0: p=0, 1: p=1, 2: p=2, 3: p=inf, 4: general p
    IS_FP64: tl.constexpr,  # accumulate in fp64
    BLOCK_P: tl.constexpr,  # x1 rows per program
    BLOCK_R: tl.constexpr,  # x2 rows per program
    BLOCK_M: tl.constexpr,  # features per loop step
):
    pid = tl.program_id(0)
    b = tl.program_id(1).to(tl.int64)
    n_r = tl.cdiv(R, BLOCK_R)
    rows = (pid // n_r) * BLOCK_P + tl.arange(0, BLOCK_P)
    cols = (pid % n_r) * BLOCK_R + tl.arange(0, BLOCK_R)
    row_ok = rows < P
    col_ok = cols < R
    x1_base = x1_ptr + b * s1b + rows[:, None].to(tl.int64) * s1p
    x2_base = x2_ptr + b * s2b + cols[:, None].to(tl.int64) * s2r
    acc = _widen(tl.zeros([BLOCK_P, BLOCK_R], tl.float32), IS_FP64)
    for k0 in range(0, M, BLOCK_M):
        ks = k0 + tl.arange(0, BLOCK_M)
        k_ok = ks < M
        # Masked lanes read 0 in both operands: their difference is 0 and adds nothing in any mode.
        a = _widen(tl.load(x1_base + ks[None, :] * s1m, mask=row_ok[:, None] & k_ok[None, :], other=0.0), IS_FP64)
        c = _widen(tl.load(x2_base + ks[None, :] * s2m, mask=col_ok[:, None] & k_ok[None, :], other=0.0), IS_FP64)
        d = tl.abs(a[:, None, :] - c[None, :, :])
        if MODE == 0:
            acc += tl.sum(tl.where(d != 0, 1.0, 0.0).to(acc.dtype), axis=2)
        elif MODE == 1:
            acc += tl.sum(d, axis=2)
        elif MODE == 2:
            acc += tl.sum(d * d, axis=2)
        elif MODE == 3:
            acc = tl.maximum(acc, tl.max(d, axis=2))
        else:
            acc += tl.sum(tl.where(d > 0, _pow_pos(tl.where(d > 0, d, 1.0), p), 0.0), axis=2)
    if MODE == 2:
        acc = sqrt_ieee(acc)
    elif MODE == 4:
        acc = tl.where(acc > 0, _pow_pos(tl.where(acc > 0, acc, 1.0), inv_p), 0.0)
    out_ptrs = out_ptr + b * sob + rows[:, None].to(tl.int64) * sop + cols[None, :] * sor
    tl.store(out_ptrs, acc.to(out_ptr.dtype.element_ty), mask=row_ok[:, None] & col_ok[None, :])


@triton.jit
def _derivative(diff, dist, p, MODE: tl.constexpr):
    """PyTorch's d dist / d x1 of one term, for diff = x1 - x2 ([BP, BR, BM]) and dist ([BP, BR, 1])."""
    sign = tl.where(diff > 0, 1.0, tl.where(diff < 0, -1.0, 0.0)).to(diff.dtype)
    if MODE == 1:
        f = sign
    elif MODE == 2:
        f = diff / tl.where(dist == 0, 1.0, dist)
    elif MODE == 3:
        f = tl.where(tl.abs(diff) == dist, sign, 0.0)
    else:
        # (|d| / dist)^(p - 1) as one exp2 of a difference of logs: no division (whose IEEE slow path
        # needs a stack frame on sm_80).
        ad = tl.abs(diff)
        log_ratio = tl.log2(tl.where(ad > 0, ad, 1.0)) - tl.log2(tl.where(dist > 0, dist, 1.0))
        f = tl.where(ad > 0, sign * tl.exp2((p - 1.0) * log_ratio), 0.0)
    return tl.where(dist == 0, 0.0, f)


@fast_jit
def cdist_backward_kernel(
    gx_ptr, g_ptr, dist_ptr, x1_ptr, x2_ptr,  # grad_x1 (B, P, M); grad, dist (B, P, R); x1 (B, P, M); x2 (B, R, M)
    P, R, M,  # rows of x1, rows of x2, features
    s1b, s1p, s1m,  # x1 strides
    s2b, s2r, s2m,  # x2 strides
    sgb, sgp, sgr,  # grad strides
    sdb, sdp, sdr,  # dist strides
    sxb, sxp, sxm,  # grad_x1 strides
    p,  # the norm's order (read by MODE 4 only)
    MODE: tl.constexpr,  # 1: p=1, 2: p=2, 3: p=inf, 4: general p (p = 0 has a zero gradient: no launch)
    IS_FP64: tl.constexpr,  # accumulate in fp64
    BLOCK_P: tl.constexpr,  # x1 rows per program
    BLOCK_R: tl.constexpr,  # x2 rows per loop step
    BLOCK_M: tl.constexpr,  # features per program
):
    pid = tl.program_id(0)
    b = tl.program_id(1).to(tl.int64)
    n_m = tl.cdiv(M, BLOCK_M)
    rows = (pid // n_m) * BLOCK_P + tl.arange(0, BLOCK_P)
    ks = (pid % n_m) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < P
    k_ok = ks < M
    rows64 = rows.to(tl.int64)
    a = _widen(tl.load(x1_ptr + b * s1b + rows64[:, None] * s1p + ks[None, :] * s1m,
                       mask=row_ok[:, None] & k_ok[None, :], other=0.0), IS_FP64)
    acc = tl.zeros_like(a)
    for r0 in range(0, R, BLOCK_R):
        cols = r0 + tl.arange(0, BLOCK_R)
        col_ok = cols < R
        pair_ok = row_ok[:, None] & col_ok[None, :]
        c = _widen(tl.load(x2_ptr + b * s2b + cols[:, None].to(tl.int64) * s2r + ks[None, :] * s2m,
                           mask=col_ok[:, None] & k_ok[None, :], other=0.0), IS_FP64)
        # Masked pairs read grad 0 (and dist 0, which the derivative maps to 0): they add nothing.
        g = _widen(tl.load(g_ptr + b * sgb + rows64[:, None] * sgp + cols[None, :] * sgr, mask=pair_ok, other=0.0),
                   IS_FP64)
        dist = _widen(tl.load(dist_ptr + b * sdb + rows64[:, None] * sdp + cols[None, :] * sdr, mask=pair_ok,
                              other=0.0), IS_FP64)
        f = _derivative(a[:, None, :] - c[None, :, :], dist[:, :, None], p, MODE)
        acc += tl.sum(g[:, :, None] * f, axis=1)
    tl.store(gx_ptr + b * sxb + rows64[:, None] * sxp + ks[None, :] * sxm, acc.to(gx_ptr.dtype.element_ty),
             mask=row_ok[:, None] & k_ok[None, :])


# ================================================================ tuning and launch wrappers
# 16 (or fewer) difference terms per thread: fp64 with the general power spills beyond that.
_CONFIGS = [dict(BLOCK_P=16, BLOCK_R=16, BLOCK_M=8, num_warps=4),
            dict(BLOCK_P=32, BLOCK_R=16, BLOCK_M=4, num_warps=4),
            dict(BLOCK_P=16, BLOCK_R=16, BLOCK_M=4, num_warps=2)]


def _heuristic(key) -> dict:
    """32-row tiles (half the feature chunk) once they still give two programs per SM; else 16 x 16 tiles."""
    _, dtype, batch, rows, cols, _ = key
    tiles = batch * triton.cdiv(rows, 32) * triton.cdiv(cols, 16)
    # fp64 stays on the small tile: its libdevice exp2/log2 leave no registers for a second tile row.
    return dict(_CONFIGS[1] if dtype != "float64" and tiles >= 2 * tuning.sm_count() else _CONFIGS[0])


def _cost(B, P, R, M, itemsize, mode):
    flops = 3.0 * B * P * R * M * (8 if mode == 4 else 1)  # the general power is exp2 + log2 per term
    return Cost(float(itemsize) * B * (P * M + R * M + P * R), flops)


CDIST_TUNING = Tunable("distance.cdist", _CONFIGS, _heuristic, _cost)
CDIST_BACKWARD_TUNING = Tunable("distance.cdist_backward", _CONFIGS, _heuristic,
                                lambda B, P, R, M, itemsize, mode: Cost(
                                    float(itemsize) * B * (2 * P * M + R * M + 2 * P * R),
                                    4.0 * B * P * R * M * (8 if mode == 4 else 1)))


def cdist(out: DeviceArray, x1: DeviceArray, x2: DeviceArray, p: float) -> None:
    """out (B, P, R) = p-norm distances between the rows of x1 (B, P, M) and x2 (B, R, M); any strides."""
    B, P, M = x1.shape
    R = x2.shape[1]
    if out.numel() == 0:
        return
    mode = p_mode(p)

    def run(cfg):
        grid = (triton.cdiv(P, cfg["BLOCK_P"]) * triton.cdiv(R, cfg["BLOCK_R"]), B)
        cdist_kernel[grid](out, x1, x2, P, R, M, *x1.strides, *x2.strides, *out.strides, float(p),
                           1.0 / p if p else 0.0,
                           MODE=mode, IS_FP64=x1.dtype.itemsize == 8, **cfg)

    key = (mode, x1.dtype.name, next_pow2(B), next_pow2(P), next_pow2(R), next_pow2(M))
    tuning.launch(CDIST_TUNING, key, dict(B=B, P=P, R=R, M=M, itemsize=x1.dtype.itemsize, mode=mode), run)


def cdist_backward(grad_x1: DeviceArray, grad: DeviceArray, dist: DeviceArray, x1: DeviceArray,
                   x2: DeviceArray, p: float) -> None:
    """grad_x1 (B, P, M) of cdist's x1 from grad and the saved dist (B, P, R). For grad_x2, call it with x1
    and x2 swapped and grad, dist transposed (views). p = 0 (zero gradient) writes zeros without a launch."""
    B, P, M = x1.shape
    R = x2.shape[1]
    if grad_x1.numel() == 0:
        return
    mode = p_mode(p)
    if mode == 0 or R == 0:
        fill(grad_x1, 0)
        return

    def run(cfg):
        grid = (triton.cdiv(P, cfg["BLOCK_P"]) * triton.cdiv(M, cfg["BLOCK_M"]), B)
        cdist_backward_kernel[grid](grad_x1, grad, dist, x1, x2, P, R, M, *x1.strides, *x2.strides, *grad.strides,
                                    *dist.strides, *grad_x1.strides, float(p), MODE=mode,
                                    IS_FP64=x1.dtype.itemsize == 8, **cfg)

    key = (mode, x1.dtype.name, next_pow2(B), next_pow2(P), next_pow2(M), next_pow2(R))
    tuning.launch(CDIST_BACKWARD_TUNING, key, dict(B=B, P=P, R=R, M=M, itemsize=x1.dtype.itemsize, mode=mode),
                  run)


# ================================================================ NumPy references
def _acc(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float64 if np.asarray(x).dtype == np.float64 else np.float32)


def cdist_ref(x1: np.ndarray, x2: np.ndarray, p: float) -> np.ndarray:
    """(..., P, R) distances of x1 (..., P, M) and x2 (..., R, M), batch dims already equal; x1's dtype."""
    a, c = _acc(x1), _acc(x2)
    d = np.abs(a[..., :, None, :] - c[..., None, :, :])
    with np.errstate(all="ignore"):
        mode = p_mode(p)
        if mode == 0:
            r = (d != 0).sum(-1).astype(a.dtype)
        elif mode == 3:
            r = d.max(-1) if d.shape[-1] else np.zeros(d.shape[:-1], a.dtype)
        else:
            r = (d ** p).sum(-1) ** (1.0 / p)
    return np.asarray(r).astype(np.asarray(x1).dtype)


def cdist_backward_ref(grad: np.ndarray, dist: np.ndarray, x1: np.ndarray, x2: np.ndarray, p: float) -> tuple:
    """(grad_x1, grad_x2) of cdist, PyTorch's per-p derivative (see the module docstring); x1's dtype."""
    a, c = _acc(x1), _acc(x2)
    g, dst = _acc(grad)[..., None], _acc(dist)[..., None]
    diff = a[..., :, None, :] - c[..., None, :, :]
    with np.errstate(all="ignore"):
        mode = p_mode(p)
        sign = np.sign(diff)
        if mode == 0:
            f = np.zeros_like(diff)
        elif mode == 1:
            f = sign
        elif mode == 2:
            f = diff / np.where(dst == 0, 1, dst)
        elif mode == 3:
            f = np.where(np.abs(diff) == dst, sign, 0)
        else:
            f = np.where(diff != 0, sign * (np.abs(diff) / np.where(dst == 0, 1, dst)) ** (p - 1), 0)
        f = np.where(dst == 0, 0, f) * g
    dtype = np.asarray(x1).dtype
    return f.sum(-2).astype(dtype), (-f).sum(-3).astype(dtype)


# ================================================================ cosine_similarity and normalize on the cpu
# Rows are handled in blocks of about this many elements (256 KiB of fp32), their temporaries (squares, the divided
# inputs, products) in block-sized buffers. Full-size temporaries would be the op's cost here: a call that frees two
# MiB or more at the heap's top makes glibc hand it back to the kernel, and the next call page-faults it in again
# (measured on the 2-core host at (256, 1024) fp32: cosine_similarity 1.13 ms whole-array against 0.36 ms blocked,
# the arithmetic the same). Smaller blocks only add NumPy calls (16 rows: 0.45 ms).
_BLOCK_ELEMENTS = 1 << 16


def _row_views(arrays: list, dim: int) -> list:
    """Same-shape arrays (at least 1-D) with `dim` moved last: 2-D (rows, L) where that is a view of every one (1-D
    arrays, 2-D ones, C-contiguous ones with dim last), else N-d (blocks then run over the first remaining axis)."""
    moved = [np.moveaxis(a, dim, -1) for a in arrays]
    if moved[0].ndim == 1:
        return [m[None] for m in moved]
    if moved[0].ndim > 2 and all(m.flags.c_contiguous for m in moved):
        return [m.reshape(-1, m.shape[-1]) for m in moved]
    return moved


def _block_rows(view: np.ndarray) -> int:
    """How many leading-axis rows of `view` make one block."""
    return max(1, _BLOCK_ELEMENTS // max(1, view[0].size if view.shape[0] else 1))


def _norms_into(x: np.ndarray, scratch: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = sqrt(sum(x * x, -1)) (keepdims), the pairwise sum of the squares as norm_ref's, scratch x's shape."""
    np.add.reduce(np.square(x, out=scratch), axis=-1, keepdims=True, out=out)
    return np.sqrt(out, out=out)


def _cos_forward(x1: np.ndarray, x2: np.ndarray, dim: int, eps: float) -> tuple:
    a, b = _row_views([x1, x2], dim)
    lead = a.shape[:-1]
    e = a.dtype.type(eps)
    out = np.empty(lead, a.dtype)
    n1, n2 = np.empty(lead + (1,), a.dtype), np.empty(lead + (1,), a.dtype)
    step = _block_rows(a)
    u = np.empty((min(step, a.shape[0]),) + a.shape[1:], a.dtype)
    v = np.empty_like(u)
    for i in range(0, a.shape[0], step):
        j = min(i + step, a.shape[0])
        ab, bb, ub, vb = a[i:j], b[i:j], u[:j - i], v[:j - i]
        c1 = np.maximum(_norms_into(ab, ub, n1[i:j]), e)
        c2 = np.maximum(_norms_into(bb, vb, n2[i:j]), e)
        np.divide(ab, c1, out=ub)  # each input divided by its own clamped norm first, as PyTorch
        np.divide(bb, c2, out=vb)
        np.add.reduce(np.multiply(ub, vb, out=ub), axis=-1, out=out[i:j])
    shape = x1.shape[:dim] + x1.shape[dim + 1:]
    return out.reshape(shape), n1.reshape(shape), n2.reshape(shape)


def cosine_similarity_ref(x1: np.ndarray, x2: np.ndarray, dim: int, eps: float) -> tuple:
    """(sum(x1 / max(|x1|, eps) * (x2 / max(|x2|, eps)), dim), |x1|, |x2|) for x1, x2 of one shape (broadcast views
    are fine) and one float dtype (fp32/fp64), at least 1-D, dim >= 0; the norms unclamped, shaped as the result.
    Each input is divided by its own clamped norm before the product, as PyTorch's cosine_similarity."""
    return quiet_call(_cos_forward, x1, x2, dim, eps)


def _cos_backward(grad, x1, x2, dim, eps, out, n1, n2, need) -> tuple:
    grads = [np.empty(x1.shape, x1.dtype) if n else None for n in need]
    views = _row_views([x1, x2] + [g for g in grads if g is not None], dim)
    a, b = views[:2]
    lead = a.shape[:-1]
    e = a.dtype.type(eps)
    g = np.asarray(grad, a.dtype).reshape(lead + (1,))
    n1, n2 = n1.reshape(lead + (1,)), n2.reshape(lead + (1,))
    c1, c2 = np.maximum(n1, e), np.maximum(n2, e)
    # d/dx1 of sum(x1/c1 * x2/c2) = x2 / (c1 c2) + x1 (d/dc1, through the clamp as PyTorch's no-grad clamp lets it:
    # -s / c1, s the result) (the norm's gradient: 1 / |x1|, 0 where |x1| = 0).
    gamma = g / (c1 * c2)
    gs = g * np.asarray(out, a.dtype).reshape(lead + (1,))
    betas = [np.where(n == 0, 0, -gs / (c * np.where(n == 0, 1, n))).astype(a.dtype, copy=False)
             for n, c in ((n1, c1), (n2, c2))]
    step = _block_rows(a)
    t = np.empty((min(step, a.shape[0]),) + a.shape[1:], a.dtype)
    outs = iter(views[2:])
    for k, (mine, other, beta) in enumerate(((a, b, betas[0]), (b, a, betas[1]))):
        if not need[k]:
            continue
        gv = next(outs)
        for i in range(0, a.shape[0], step):
            j = min(i + step, a.shape[0])
            tb, gb = t[:j - i], gv[i:j]
            np.multiply(other[i:j], gamma[i:j], out=tb)
            np.multiply(mine[i:j], beta[i:j], out=gb)
            np.add(gb, tb, out=gb)
    return tuple(grads)


def cosine_similarity_backward_ref(grad: np.ndarray, x1: np.ndarray, x2: np.ndarray, dim: int, eps: float,
                                   out: np.ndarray, n1: np.ndarray, n2: np.ndarray,
                                   need: tuple = (True, True)) -> tuple:
    """(grad_x1, grad_x2) (None where need says no) of cosine_similarity_ref's result `out` and norms n1, n2, for
    the gradient `grad` of the result's shape: grad_x1 = x1 beta1 + x2 g / (c1 c2), beta1 = -g out / (c1 |x1|) (0
    where |x1| = 0), c = max(|x|, eps), and grad_x2 likewise; the clamp passes the norm's gradient, as PyTorch's."""
    return quiet_call(_cos_backward, grad, x1, x2, dim, eps, out, n1, n2, need)


def _normalize_forward(x: np.ndarray, dim: int, eps: float) -> tuple:
    y = np.empty(x.shape, x.dtype)
    a, yv = _row_views([x, y], dim)
    lead = a.shape[:-1]
    e = a.dtype.type(eps)
    n = np.empty(lead + (1,), a.dtype)
    step = _block_rows(a)
    w = np.empty((min(step, a.shape[0]),) + a.shape[1:], a.dtype)
    for i in range(0, a.shape[0], step):
        j = min(i + step, a.shape[0])
        np.divide(a[i:j], np.maximum(_norms_into(a[i:j], w[:j - i], n[i:j]), e), out=yv[i:j])
    return y, n.reshape(x.shape[:dim] + (1,) + x.shape[dim + 1:])


def normalize_ref(x: np.ndarray, dim: int, eps: float) -> tuple:
    """(x / max(|x|, eps), |x|) along dim for an fp32/fp64 array of at least one dim, dim >= 0: F.normalize with
    p = 2, and the unclamped norm (dim kept) that the backward takes."""
    return quiet_call(_normalize_forward, x, dim, eps)


def _normalize_backward(grad: np.ndarray, x: np.ndarray, n: np.ndarray, dim: int, eps: float) -> np.ndarray:
    gx = np.empty(x.shape, x.dtype)
    g, a, gv = _row_views([np.asarray(grad, x.dtype), x, gx], dim)
    lead = a.shape[:-1]
    n = np.moveaxis(n, dim, -1).reshape(lead + (1,))
    c = np.maximum(n, a.dtype.type(eps))
    # The clamp's gradient passes where |x| >= eps (PyTorch's clamp_min), the norm's where |x| != 0.
    passes = (n >= a.dtype.type(eps)) & (n != 0)
    scale = np.where(passes, -1 / (c * c * np.where(passes, n, 1)), 0).astype(a.dtype, copy=False)
    step = _block_rows(a)
    w = np.empty((min(step, a.shape[0]),) + a.shape[1:], a.dtype)
    for i in range(0, a.shape[0], step):
        j = min(i + step, a.shape[0])
        gb, ab, wb, ob = g[i:j], a[i:j], w[:j - i], gv[i:j]
        beta = np.add.reduce(np.multiply(gb, ab, out=wb), axis=-1, keepdims=True) * scale[i:j]
        np.divide(gb, c[i:j], out=ob)
        np.add(ob, np.multiply(ab, beta, out=wb), out=ob)
    return gx


def normalize_backward_ref(grad: np.ndarray, x: np.ndarray, norm: np.ndarray, dim: int, eps: float) -> np.ndarray:
    """grad_x of normalize_ref for the gradient `grad` of x's shape and the norm it returned: g / c + x beta,
    beta = -sum(g x, dim) / (c^2 |x|) where |x| >= eps and |x| != 0, else 0 (c = max(|x|, eps))."""
    return quiet_call(_normalize_backward, grad, x, norm, dim, eps)


# ================================================================ specs
def _signature(dtype: str, backward: bool) -> dict[str, str]:
    ptrs = ["gx_ptr", "g_ptr", "dist_ptr", "x1_ptr", "x2_ptr"] if backward else ["out_ptr", "x1_ptr", "x2_ptr"]
    sig = {n: f"*{dtype}" for n in ptrs}
    sig.update(P="i32", R="i32", M="i32")
    groups = ["s1", "s2", "sg", "sd", "sx"] if backward else ["s1", "s2", "so"]
    dims = {"s1": "bpm", "s2": "brm", "sg": "bpr", "sd": "bpr", "sx": "bpm", "so": "bpr"}
    for g in groups:
        sig.update({f"{g}{d}": "i32" for d in dims[g]})
    sig["p"] = "fp32"
    if not backward:
        sig["inv_p"] = "fp32"
    return sig


# A pairwise kernel reuses each loaded element across a whole tile (compute-bound for large tiles): its
# loads are 2-D gathers over rows of any stride, not the flat 128-bit streams of a memory-bound map.
SPECS = [
    KernelSpec(f"distance.cdist{'_backward' if bwd else ''}[{dtype},p{mode}]",
               cdist_backward_kernel if bwd else cdist_kernel, _signature(dtype, bwd),
               dict(MODE=mode, IS_FP64=dtype == "fp64"), [dict(c) for c in _CONFIGS[:1 if dtype == "fp64" else 2]],
               [dict(c) for c in _CONFIGS],
               memory_bound=False)
    for bwd in (False, True) for dtype in ("fp32", "fp64") for mode in (2, 4) if not (bwd and mode == 0)
]
