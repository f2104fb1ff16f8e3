"""im2col / col2im (F.unfold / F.fold) over 2 spatial dims, both as deterministic gathers.

* unfold: out (N, C*KH*KW, LH*LW) contiguous; every output element is one input element (or 0 in the padding):
  row ck = (c, ki, kj), column l = (lh, lw) reads x[n, c, lh*sh - ph + ki*dh, lw*sw - pw + kj*dw].
* fold: out (N, C, H, W) contiguous; every output element gathers the KH*KW columns whose patch covers it,
  in a fixed (ki, kj) order: the overlapping patches sum without atomics (the same bits every run).

fold's backward is unfold and unfold's backward is fold. Loads are data-dependent gathers (padding and
stride tests per element), so the specs set memory_bound=False; the output side is flat.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .strided import cast_to
from .tuning import Cost, Tunable, next_pow2


@fast_jit
def unfold_kernel(
    out_ptr,  # (N, C*KH*KW, LH*LW) contiguous columns
    x_ptr,  # (N, C, H, W) input, any strides
    total,  # out's numel
    C, H, W, LH, LW,  # channels, input size, blocks per dim
    sxn, sxc, sxh, sxw,  # input strides (elements)
    KH, KW, SH, SW, PH, PW, DH, DW,  # kernel size, stride, padding, dilation
    BLOCK: tl.constexpr,  # output elements per program
):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < total
    L = LH * LW
    l_ = (offs % L).to(tl.int32)
    r = offs // L
    ck = (r % (C * KH * KW)).to(tl.int32)
    n = r // (C * KH * KW)
    c = ck // (KH * KW)
    kk = ck % (KH * KW)
    h = (l_ // LW) * SH - PH + (kk // KW) * DH
    w = (l_ % LW) * SW - PW + (kk % KW) * DW
    ok = mask & (h >= 0) & (h < H) & (w >= 0) & (w < W)  # outside: the zero padding
    ptr = x_ptr + n * sxn + c.to(tl.int64) * sxc + h.to(tl.int64) * sxh + w.to(tl.int64) * sxw
    v = tl.load(ptr, mask=ok, other=0.0)
    tl.store(out_ptr + offs, v, mask=mask)


@fast_jit
def fold_kernel(
    out_ptr,  # (N, C, H, W) contiguous output
    col_ptr,  # (N, C*KH*KW, LH*LW) columns, any strides
    total,  # out's numel
    C, H, W, LH, LW,
    scn, scr, scl,  # column strides (batch, row, block)
    KH, KW, SH, SW, PH, PW, DH, DW,
    BLOCK: tl.constexpr,
):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < total
    w = (offs % W).to(tl.int32)
    r = offs // W
    h = (r % H).to(tl.int32)
    r = r // H
    c = (r % C).to(tl.int32)
    n = r // C
    acc_type: tl.constexpr = tl.float64 if out_ptr.dtype.element_ty == tl.float64 else tl.float32
    acc = tl.zeros((BLOCK,), acc_type)
    base = col_ptr + n * scn
    for ki in range(KH):
        th = h + PH - ki * DH
        lh = th // SH
        ok_h = (th >= 0) & (th - lh * SH == 0) & (lh < LH)
        for kj in range(KW):
            tw = w + PW - kj * DW
            lw = tw // SW
            ok = mask & ok_h & (tw >= 0) & (tw - lw * SW == 0) & (lw < LW)
            row = (c * KH + ki) * KW + kj
            ptr = base + row.to(tl.int64) * scr + (lh * LW + lw).to(tl.int64) * scl
            acc += tl.load(ptr, mask=ok, other=0.0).to(acc_type)
    tl.store(out_ptr + offs, cast_to(acc, out_ptr.dtype.element_ty), mask=mask)


# ---------------------------------------------------------------- tuning and launch
def _heuristic(key: tuple) -> dict:
    """Keys are (kernel, dtype, next_pow2(elements)): 4 elements per thread, fewer where the grid would leave
    SMs without two programs."""
    if triton.cdiv(key[-1], 512) < 2 * tuning.sm_count():
        return dict(BLOCK=128, num_warps=4)
    return dict(BLOCK=512, num_warps=4)


_CONFIGS = [dict(BLOCK=512, num_warps=4), dict(BLOCK=128, num_warps=4)]
_SPACE = _CONFIGS + [dict(BLOCK=1024, num_warps=8), dict(BLOCK=256, num_warps=2)]
FOLD_TUNING = Tunable("fold.fold", lambda key, space: list(_SPACE), _heuristic,
                      lambda elements, reads, itemsize: Cost(float(elements) * itemsize * (1 + reads),
                                                             2.0 * elements * reads), specs="fold.")


def _pairs(args) -> list[int]:
    return [v for pair in args for v in pair]


def unfold(out: DeviceArray, x: DeviceArray, kernel_size, dilation, padding, stride, blocks) -> None:
    """out (N, C*KH*KW, LH*LW) contiguous = the sliding blocks of x (N, C, H, W); every arg a (h, w) pair;
    blocks = (LH, LW)."""
    total = out.numel()
    if total == 0:
        return
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel_size, dilation, padding, stride

    def run(cfg):
        unfold_kernel[(triton.cdiv(total, cfg["BLOCK"]),)](
            out, x, total, x.shape[1], x.shape[2], x.shape[3], *blocks, *x.strides, kh, kw, sh, sw, ph, pw, dh, dw,
            **cfg)

    tuning.launch(FOLD_TUNING, ("unfold", x.dtype.name, next_pow2(total)),
                  dict(elements=total, reads=1, itemsize=x.dtype.itemsize), run)


def fold(out: DeviceArray, col: DeviceArray, kernel_size, dilation, padding, stride, blocks) -> None:
    """out (N, C, H, W) contiguous = the sum of the patches of col (N, C*KH*KW, LH*LW), any strides."""
    total = out.numel()
    if total == 0:
        return
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel_size, dilation, padding, stride

    def run(cfg):
        fold_kernel[(triton.cdiv(total, cfg["BLOCK"]),)](
            out, col, total, out.shape[1], out.shape[2], out.shape[3], *blocks, *col.strides, kh, kw, sh, sw, ph,
            pw, dh, dw, **cfg)

    tuning.launch(FOLD_TUNING, ("fold", col.dtype.name, next_pow2(total)),
                  dict(elements=total, reads=kh * kw, itemsize=col.dtype.itemsize), run)


# ---------------------------------------------------------------- NumPy references
def _indices(H, W, kernel_size, dilation, padding, stride, blocks):
    (kh, kw), (dh, dw), (ph, pw), (sh, sw), (lh, lw) = kernel_size, dilation, padding, stride, blocks
    hs = (np.arange(lh)[None, :] * sh - ph + np.arange(kh)[:, None] * dh)  # (kh, lh)
    ws = (np.arange(lw)[None, :] * sw - pw + np.arange(kw)[:, None] * dw)  # (kw, lw)
    return hs, ws


def unfold_ref(x: np.ndarray, kernel_size, dilation, padding, stride, blocks) -> np.ndarray:
    """im2col with fancy indexing on the zero-padded input: (N, C*KH*KW, LH*LW)."""
    n, c, H, W = x.shape
    (ph, pw) = padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    hs, ws = _indices(H, W, kernel_size, dilation, padding, stride, blocks)
    g = xp[:, :, (hs + ph)[:, None, :, None], (ws + pw)[None, :, None, :]]  # (n, c, kh, kw, lh, lw)
    return g.reshape(n, c * hs.shape[0] * ws.shape[0], -1)


def fold_ref(col: np.ndarray, output_size, kernel_size, dilation, padding, stride, blocks) -> np.ndarray:
    """col2im: np.add.at of every patch into the zero-padded output (in fp32/fp64), then the crop."""
    (kh, kw), (ph, pw) = kernel_size, padding
    H, W = output_size
    n = col.shape[0]
    c = col.shape[1] // (kh * kw)
    acc = np.float64 if col.dtype == np.float64 else np.float32
    out = np.zeros((n, c, H + 2 * ph, W + 2 * pw), acc)
    hs, ws = _indices(H, W, kernel_size, dilation, padding, stride, blocks)
    vals = col.astype(acc).reshape(n, c, kh, kw, blocks[0], blocks[1])
    hi = np.broadcast_to((hs + ph)[:, None, :, None], vals.shape[2:])
    wi = np.broadcast_to((ws + pw)[None, :, None, :], vals.shape[2:])
    np.add.at(out, (slice(None), slice(None), hi, wi), vals)
    return out[:, :, ph:ph + H, pw:pw + W].astype(col.dtype)


# ---------------------------------------------------------------- AOT declarations
def _signature(dtype: str, fold_: bool) -> dict[str, str]:
    sig = {"out_ptr": f"*{dtype}", ("col_ptr" if fold_ else "x_ptr"): f"*{dtype}", "total": "i64"}
    sig.update({n: "i32" for n in ("C", "H", "W", "LH", "LW")})
    sig.update({n: "i32" for n in (("scn", "scr", "scl") if fold_ else ("sxn", "sxc", "sxh", "sxw"))})
    sig.update({n: "i32" for n in ("KH", "KW", "SH", "SW", "PH", "PW", "DH", "DW")})
    return sig


# Gathers whose addresses depend on padding / stride tests per element: no load can be 128-bit, so
# memory_bound=False (the output store is flat; unfold's only contiguous access).
SPECS = [
    KernelSpec(f"fold.{name}[{dtype}]", kernel, _signature(dtype, name == "fold"), {}, _CONFIGS, _SPACE,
               memory_bound=False, unit_args=())
    for name, kernel in (("unfold", unfold_kernel), ("fold", fold_kernel))
    for dtype in ("fp32", "fp16", "bf16", "fp64")
]
