"""Resampling of 1-3 spatial dims (F.interpolate): nearest, nearest-exact, (bi/tri)linear, bicubic and area.

Every operand is a 5-d (N, C, D, H, W) view (1-d and 2-d inputs get size-1 leading spatial dims, which the
wrapper gives one tap of weight 1). Along each spatial dim an output position o reads K taps of the input,
(index, weight) computed in-kernel from (o, in size, out size, scale) exactly as PyTorch's cpu kernels do:

* nearest:        min(floor(o * scale), in - 1)            (o itself when out == in, o >> 1 when out == 2 in)
* nearest-exact:  min(floor((o + 0.5) * scale), in - 1)    (same shortcuts)
* linear:         src = scale * o (align_corners) or max(scale * (o + 0.5) - 0.5, 0); taps floor(src) and
                  floor(src) + 1 (clamped) with weights 1 - frac and frac
* cubic:          src as linear but unclamped; 4 taps floor(src) - 1 .. floor(src) + 2 clamped to the border,
                  Keys' cubic convolution weights with A = -0.75
* area:           adaptive average pooling: taps [floor(o * in / out), ceil((o + 1) * in / out)), weight 1/len

`scale` is what PyTorch uses: (in - 1) / (out - 1) for align_corners (0 when out == 1), 1 / scale_factor when
a scale factor was given and not recomputed, in / out otherwise. Coordinates are fp32 on every dtype (PyTorch
uses fp64 for fp64 inputs: weights agree to ~1e-7 relative there); sums are fp32 (fp64 for fp64).

* forward: one program per BLOCK flat output elements (contiguous output, any input strides); the tap loops
  run over the K taps of each dim and multiply the separable weights.
* backward: a GATHER, no atomics (deterministic): one lane per input element walks the R outputs per dim that
  can reach it (R bounded from the scale on the host, the first one inverted from the scale in-kernel with a
  one-output margin), recomputes those outputs' taps exactly as the forward does and sums grad * weight
  over the taps that hit it.

Loads are data-dependent gathers (the taps), so the specs set memory_bound=False; the output side is flat.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2

MODES = {"nearest": 0, "nearest-exact": 1, "linear": 2, "cubic": 3, "area": 4}
CUBIC_A = -0.75  # PyTorch's bicubic A (the kernel spells it as a literal: Triton globals must be constexpr)


# ---------------------------------------------------------------- per-dim taps
@triton.jit
def _cubic_near(x, A):
    # Keys' kernel for |x| <= 1
    return ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0


@triton.jit
def _cubic_far(x, A):
    # Keys' kernel for 1 < |x| < 2
    return ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A


@triton.jit
def _exact_floor_div(num, den, est):
    """num // den (int64, num >= 0) from an estimate within 3 of it."""
    for _ in tl.static_range(3):
        est += ((est + 1) * den <= num).to(tl.int64)
        est -= (est * den > num).to(tl.int64)
    return est


@triton.jit
def source_tap(o, t, in_size, out_size, scale, MODE, ALIGN):
    """(input index, weight) of tap t of output positions o (int32) along one dim; index -1 for an absent tap
    (area windows shorter than the launch's tap count)."""
    of = o.to(tl.float32)
    if in_size == 1:  # the only tap a size-1 input gets (the wrapper launches one)
        idx = o * 0
        w = of * 0.0 + 1.0
    elif MODE <= 1:  # nearest, nearest-exact
        if out_size == in_size:
            idx = o
        elif out_size == 2 * in_size:
            idx = o >> 1
        else:
            idx = tl.minimum(tl.floor((of + 0.5 * MODE) * scale).to(tl.int32), in_size - 1)
        w = of * 0.0 + 1.0
    elif MODE == 2:  # linear
        if ALIGN:
            src = scale * of
        else:
            src = tl.maximum(scale * (of + 0.5) - 0.5, 0.0)
        i0 = tl.minimum(src.to(tl.int32), in_size - 1)
        lam = src - i0.to(tl.float32)
        if t == 0:
            idx = i0
            w = 1.0 - lam
        else:
            idx = tl.minimum(i0 + 1, in_size - 1)
            w = lam
    elif MODE == 3:  # cubic
        if ALIGN:
            src = scale * of
        else:
            src = scale * (of + 0.5) - 0.5
        fl = tl.floor(src)
        f = src - fl
        idx = tl.minimum(tl.maximum(fl.to(tl.int32) - 1 + t, 0), in_size - 1)
        if t == 0:
            w = _cubic_far(f + 1.0, -0.75)
        elif t == 1:
            w = _cubic_near(f, -0.75)
        elif t == 2:
            w = _cubic_near(1.0 - f, -0.75)
        else:
            w = _cubic_far(2.0 - f, -0.75)
    else:  # area: adaptive average pooling windows [floor(o * in / out), ceil((o + 1) * in / out))
        # An int64 division is a subroutine call that spills on sm_80 (AOT check): estimate each bound from the
        # fp32 scale (in / out; off by at most 2 for in < 2**23, the wrapper's limit), then make it exact with
        # int64 products, one position per step.
        o64 = o.to(tl.int64)
        start = _exact_floor_div(o64 * in_size, out_size, tl.floor(of * scale).to(tl.int64))
        end = _exact_floor_div((o64 + 1) * in_size + out_size - 1, out_size,
                               tl.floor((of + 1.0) * scale).to(tl.int64))
        idx = (start + t).to(tl.int32)
        w = 1.0 / (end - start).to(tl.float32)
        inside = start + t < end
        idx = tl.where(inside, idx, -1)
        w = tl.where(inside, w, 0.0)
    return idx, w


@triton.jit
def first_output(i, in_size, out_size, scale, MODE, ALIGN):
    """The first output position (minus a one-position margin for rounding) whose taps can reach input i."""
    fi = i.to(tl.float32)
    if MODE == 4:
        lo = ((i.to(tl.int64) * out_size) // in_size).to(tl.int32) - 1
    elif scale == 0.0:  # align_corners with out == 1
        lo = i * 0
    else:
        if MODE <= 1:
            x = fi / scale - 0.5 * MODE
        else:
            x_lo = fi - (MODE - 1.0)  # linear: i - 1, cubic: i - 2
            if ALIGN:
                x = x_lo / scale
            else:
                x = (x_lo + 0.5) / scale - 0.5
        lo = tl.floor(x).to(tl.int32) - 1
    return tl.maximum(lo, 0)


@triton.jit
def hit_weight(o, i, K, in_size, out_size, scale, MODE, ALIGN):
    """(sum of the weights of o's taps that land on i, whether any does) along one dim."""
    w = o.to(tl.float32) * 0.0
    hit = o < 0
    for t in range(K):
        idx, wt = source_tap(o, t, in_size, out_size, scale, MODE, ALIGN)
        on = idx == i
        w += tl.where(on, wt, 0.0)
        hit = hit | on
    ok = hit & (o < out_size)
    return tl.where(ok, w, 0.0), ok


@fast_jit
def interpolate_kernel(
    out_ptr,  # (N, C, OD, OH, OW) contiguous output
    x_ptr,  # (N, C, ID, IH, IW) input, any strides
    total,  # N * C * OD * OH * OW
    C, ID, IH, IW, OD, OH, OW,  # channels, input and output spatial sizes
    sxn, sxc, sxd, sxh, sxw,  # input strides (elements)
    scale_d, scale_h, scale_w,  # fp32 source scale per dim (see the module docstring)
    KD, KH, KW,  # taps per dim
    MODE,  # MODES value
    ALIGN,  # align_corners (linear / cubic)
    BLOCK: tl.constexpr,  # output elements per program
):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < total
    ow = (offs % OW).to(tl.int32)
    r = offs // OW
    oh = (r % OH).to(tl.int32)
    r = r // OH
    od = (r % OD).to(tl.int32)
    r = r // OD
    base = x_ptr + (r // C) * sxn + (r % C) * sxc
    acc_type: tl.constexpr = tl.float64 if x_ptr.dtype.element_ty == tl.float64 else tl.float32
    acc = tl.zeros((BLOCK,), acc_type)
    for td in range(KD):
        i_d, w_d = source_tap(od, td, ID, OD, scale_d, MODE, ALIGN)
        for th in range(KH):
            i_h, w_h = source_tap(oh, th, IH, OH, scale_h, MODE, ALIGN)
            for tw in range(KW):
                i_w, w_w = source_tap(ow, tw, IW, OW, scale_w, MODE, ALIGN)
                ok = mask & (i_d >= 0) & (i_h >= 0) & (i_w >= 0)  # area taps past a window are absent
                ptr = base + i_d.to(tl.int64) * sxd + i_h.to(tl.int64) * sxh + i_w.to(tl.int64) * sxw
                v = compute_type(tl.load(ptr, mask=ok, other=0.0)).to(acc_type)
                acc += v * (w_d * w_h * w_w).to(acc_type)
    tl.store(out_ptr + offs, cast_to(acc, out_ptr.dtype.element_ty), mask=mask)


@fast_jit
def interpolate_backward_kernel(
    gx_ptr,  # (N, C, ID, IH, IW) contiguous gradient of the input (every element written)
    g_ptr,  # (N, C, OD, OH, OW) gradient of the output, any strides
    total,  # N * C * ID * IH * IW
    C, ID, IH, IW, OD, OH, OW,
    sgn, sgc, sgd, sgh, sgw,  # grad strides (elements)
    scale_d, scale_h, scale_w,
    KD, KH, KW,  # taps per dim (as the forward)
    RD, RH, RW,  # outputs per dim that can reach one input (host bound)
    MODE,
    ALIGN,
    BLOCK: tl.constexpr,  # input elements per program
):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < total
    iw = (offs % IW).to(tl.int32)
    r = offs // IW
    ih = (r % IH).to(tl.int32)
    r = r // IH
    i_d = (r % ID).to(tl.int32)
    r = r // ID
    base = g_ptr + (r // C) * sgn + (r % C) * sgc
    acc_type: tl.constexpr = tl.float64 if gx_ptr.dtype.element_ty == tl.float64 else tl.float32
    acc = tl.zeros((BLOCK,), acc_type)
    lo_d = first_output(i_d, ID, OD, scale_d, MODE, ALIGN)
    lo_h = first_output(ih, IH, OH, scale_h, MODE, ALIGN)
    lo_w = first_output(iw, IW, OW, scale_w, MODE, ALIGN)
    for kd in range(RD):
        od = lo_d + kd
        w_d, hit_d = hit_weight(od, i_d, KD, ID, OD, scale_d, MODE, ALIGN)
        for kh in range(RH):
            oh = lo_h + kh
            w_h, hit_h = hit_weight(oh, ih, KH, IH, OH, scale_h, MODE, ALIGN)
            for kw in range(RW):
                ow = lo_w + kw
                w_w, hit_w = hit_weight(ow, iw, KW, IW, OW, scale_w, MODE, ALIGN)
                ok = mask & hit_d & hit_h & hit_w
                ptr = base + od.to(tl.int64) * sgd + oh.to(tl.int64) * sgh + ow.to(tl.int64) * sgw
                g = compute_type(tl.load(ptr, mask=ok, other=0.0)).to(acc_type)
                acc += g * (w_d * w_h * w_w).to(acc_type)
    tl.store(gx_ptr + offs, cast_to(acc, gx_ptr.dtype.element_ty), mask=mask)


# ---------------------------------------------------------------- host-side geometry
def taps(mode: str, in_size: int) -> int:
    """Taps one output position reads along a dim of `in_size` (an upper bound for area windows)."""
    if in_size == 1:
        return 1
    return {"nearest": 1, "nearest-exact": 1, "linear": 2, "cubic": 4}.get(mode, 0)


AREA_MAX_SIZE = 1 << 23  # the longest dim the area kernel's fp32 window estimate serves exactly


def _area_taps(in_size: int, out_size: int) -> int:
    return 1 if in_size == 1 else -(-in_size // out_size) + 1


def reach(mode: str, in_size: int, out_size: int, scale: float) -> int:
    """How many consecutive output positions the backward walks per input (a bound: margins of one position
    each side of the inverted range, which covers the taps clamped at the borders)."""
    if mode == "area":
        n = out_size // in_size + 4
    elif scale <= 0.0 or in_size == 1:
        n = out_size
    else:
        width = {"nearest": 1, "nearest-exact": 1, "linear": 2, "cubic": 4}[mode]
        n = math.ceil(width / scale) + 3
    return max(1, min(out_size, n))


def nearest_scale(mode: str, in_size: int, out_size: int, scale: float) -> float:
    """The scale a nearest dim uses: in / out where PyTorch's shortcuts (out == in, out == 2 in) apply, so
    that the backward's inverted range agrees with the mapping the forward uses."""
    if mode in ("nearest", "nearest-exact") and out_size in (in_size, 2 * in_size):
        return float(np.float32(in_size) / np.float32(out_size))
    return scale


# ---------------------------------------------------------------- tuning
def _config(total: int) -> dict:
    # One element per thread: the tap loops keep indices and weights of several dims live, and two elements
    # per thread spill on sm_90 (AOT check). 8 warps, or 4 where that leaves fewer than two programs per SM.
    if triton.cdiv(total, 256) < 2 * tuning.sm_count():
        return dict(BLOCK=128, num_warps=4)
    return dict(BLOCK=256, num_warps=8)


def _heuristic(key: tuple) -> dict:
    """Keys are (dtype, mode, next_pow2(elements))."""
    return _config(key[-1])


def _space(key: tuple, space: str) -> list[dict]:
    return list(_SPACE)


def _cost(elements: int, reads: int, itemsize: int) -> Cost:
    # One write per element and `reads` gathered loads (taps) per element, ~4 FLOPs per tap.
    return Cost(float(elements) * itemsize * (1 + reads), 4.0 * elements * reads)


INTERPOLATE_TUNING = Tunable("interpolate.interpolate", _space, _heuristic, _cost)
INTERPOLATE_BACKWARD_TUNING = Tunable("interpolate.interpolate_backward", _space, _heuristic, _cost)


# ---------------------------------------------------------------- launch wrappers
def _as5(a: DeviceArray) -> DeviceArray:
    """(N, C, *spatial) with 1-3 spatial dims -> (N, C, D, H, W) with size-1 leading spatial dims."""
    pad = 5 - a.ndim
    return a.view_as(a.shape[:2] + (1,) * pad + a.shape[2:], a.strides[:2] + (0,) * pad + a.strides[2:])


def _geometry(mode: str, x5: tuple, o5: tuple, scales: list[float]) -> tuple[list[float], list[int]]:
    pad = 3 - len(scales)
    scales = [1.0] * pad + list(scales)
    fixed = [nearest_scale(mode, i, o, s) for i, o, s in zip(x5[2:], o5[2:], scales)]
    if mode == "area":
        if max(x5[2:]) >= AREA_MAX_SIZE:
            raise NotImplementedError(f"interpolate(mode='area') on cuda supports spatial sizes below {AREA_MAX_SIZE}, "
                                      f"got {tuple(x5[2:])}")
        fixed = [i / o for i, o in zip(x5[2:], o5[2:])]  # the window estimate's scale
    ks = [_area_taps(i, o) if mode == "area" else taps(mode, i) for i, o in zip(x5[2:], o5[2:])]
    return [float(np.float32(s)) for s in fixed], ks


def interpolate(out: DeviceArray, x: DeviceArray, mode: str, align_corners: bool, scales: list[float]) -> None:
    """out = x resampled to out's spatial size; x (N, C, *spatial), 1-3 spatial dims, any strides; out
    contiguous of x's dtype. `scales`: one source scale per spatial dim (see the module docstring; unused by
    area)."""
    x5, o5 = _as5(x), _as5(out)
    total = out.numel()
    if total == 0:
        return
    s, ks = _geometry(mode, x5.shape, o5.shape, scales)

    def run(cfg):
        interpolate_kernel[(triton.cdiv(total, cfg["BLOCK"]),)](
            out, x5, total, x5.shape[1], *x5.shape[2:], *o5.shape[2:], *x5.strides, *s, *ks,
            MODES[mode], int(bool(align_corners)), **cfg)

    key = (x.dtype.name, mode, next_pow2(total))
    tuning.launch(INTERPOLATE_TUNING, key, dict(elements=total, reads=ks[0] * ks[1] * ks[2],
                                                itemsize=x.dtype.itemsize), run)


def interpolate_backward(grad_x: DeviceArray, grad: DeviceArray, mode: str, align_corners: bool,
                         scales: list[float]) -> None:
    """grad_x (contiguous, the input's shape, every element written) = the transpose of `interpolate` applied
    to grad (the output's shape, any strides)."""
    gx5, g5 = _as5(grad_x), _as5(grad)
    total = grad_x.numel()
    if total == 0:
        return
    s, ks = _geometry(mode, gx5.shape, g5.shape, scales)
    rs = [reach(mode, i, o, sc) for i, o, sc in zip(gx5.shape[2:], g5.shape[2:], s)]

    def run(cfg):
        interpolate_backward_kernel[(triton.cdiv(total, cfg["BLOCK"]),)](
            grad_x, g5, total, gx5.shape[1], *gx5.shape[2:], *g5.shape[2:], *g5.strides, *s, *ks, *rs,
            MODES[mode], int(bool(align_corners)), **cfg)

    key = (grad.dtype.name, mode, next_pow2(total))
    tuning.launch(INTERPOLATE_BACKWARD_TUNING, key, dict(elements=total, reads=rs[0] * rs[1] * rs[2],
                                                         itemsize=grad.dtype.itemsize), run)


# ---------------------------------------------------------------- NumPy references
def weight_matrix(mode: str, in_size: int, out_size: int, scale: float, align_corners: bool) -> np.ndarray:
    """(out, in) float32 matrix of one dim's taps, built with the kernel's formulas vectorised over o."""
    o = np.arange(out_size)
    of = o.astype(np.float32)
    s = np.float32(nearest_scale(mode, in_size, out_size, scale))
    rows, cols, ws = [], [], []
    if in_size == 1:
        rows, cols, ws = [o], [np.zeros_like(o)], [np.ones(out_size, np.float32)]
    elif mode in ("nearest", "nearest-exact"):
        if out_size == in_size:
            idx = o
        elif out_size == 2 * in_size:
            idx = o >> 1
        else:
            shift = np.float32(0.5 if mode == "nearest-exact" else 0.0)
            idx = np.minimum(np.floor((of + shift) * s).astype(np.int64), in_size - 1)
        rows, cols, ws = [o], [idx], [np.ones(out_size, np.float32)]
    elif mode == "linear":
        src = s * of if align_corners else np.maximum(s * (of + np.float32(0.5)) - np.float32(0.5), np.float32(0))
        i0 = np.minimum(src.astype(np.int64), in_size - 1)
        lam = (src - i0.astype(np.float32)).astype(np.float32)
        rows, cols, ws = [o, o], [i0, np.minimum(i0 + 1, in_size - 1)], [np.float32(1) - lam, lam]
    elif mode == "cubic":
        src = s * of if align_corners else s * (of + np.float32(0.5)) - np.float32(0.5)
        fl = np.floor(src)
        f = (src - fl).astype(np.float32)
        a = np.float32(CUBIC_A)
        near = lambda x: ((a + 2) * x - (a + 3)) * x * x + 1  # noqa: E731
        far = lambda x: ((a * x - 5 * a) * x + 8 * a) * x - 4 * a  # noqa: E731
        wts = [far(f + 1), near(f), near(1 - f), far(2 - f)]
        for t in range(4):
            rows.append(o)
            cols.append(np.clip(fl.astype(np.int64) - 1 + t, 0, in_size - 1))
            ws.append(wts[t].astype(np.float32))
    else:  # area
        start = (o * in_size) // out_size
        end = ((o + 1) * in_size + out_size - 1) // out_size
        j = np.arange(in_size)
        inside = (j[None, :] >= start[:, None]) & (j[None, :] < end[:, None])
        return np.where(inside, (np.float32(1) / (end - start).astype(np.float32))[:, None], 0).astype(np.float32)
    m = np.zeros((out_size, in_size), np.float64)
    for r, c, w in zip(rows, cols, ws):
        np.add.at(m, (r, c), w.astype(np.float64))
    return m.astype(np.float32)


def _taps(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, rows) columns and weights of each row's nonzero entries of `m`, in column order.

    Rows with fewer than K taps repeat their last column with weight 0 (a row with none reads column 0), so
    every pass is K gathers of whole output slices instead of a dense product whose zeros turn an inf or NaN
    anywhere along the dim into NaN across the whole row (PyTorch's kernels only read the taps)."""
    r, c = np.nonzero(m)
    count = np.bincount(r, minlength=m.shape[0])
    k = max(int(count.max(initial=0)), 1)
    start = np.cumsum(count) - count
    slot = np.arange(r.size) - start[r]
    cols = np.zeros((k, m.shape[0]), np.intp)
    ws = np.zeros((k, m.shape[0]), m.dtype)
    cols[slot, r] = c
    ws[slot, r] = m[r, c]
    last = np.where(count > 0, cols[np.maximum(count - 1, 0), np.arange(m.shape[0])], 0)
    pad = np.arange(k)[:, None] >= count[None, :]
    cols[pad] = np.broadcast_to(last, cols.shape)[pad]
    return cols, ws


@functools.lru_cache(maxsize=512)
def _dim_taps(mode: str, in_size: int, out_size: int, scale: float, align_corners: bool, acc: str,
              transpose: bool) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """One dim's (cols, weights, all weights 1) from its weight matrix (transposed for the backward), or None
    for an identity; cached, so a call on small tensors pays no matrix build."""
    m = weight_matrix(mode, in_size, out_size, scale, align_corners).astype(acc)
    if transpose:
        m = m.T
    if m.shape[0] == m.shape[1] and np.array_equal(m, np.eye(m.shape[0], dtype=m.dtype)):
        return None
    cols, ws = _taps(m)
    cols.flags.writeable = ws.flags.writeable = False
    return cols, ws, bool((ws == 1).all())


def _apply(a: np.ndarray, taps: list, last_first: bool) -> np.ndarray:
    """Each dim's taps applied in turn, each output the weighted sum of its taps' gathered slices in column
    order. A one-tap dim of weight 1 (nearest) is a bare gather; an identity dim is skipped.

    The forward runs the last dim first: PyTorch's cpu kernels nest the dims that way (the innermost dim is
    interpolated first, and in fp32 each pass rounds as their partial sums do), and the costly last-dim gather
    then reads the smaller input. The backward runs the first dim first, as the reference always did, so its
    sums keep their order and the last-dim gather reads the reduced gradient."""
    for d in (reversed(range(len(taps))) if last_first else range(len(taps))):
        if taps[d] is None:
            continue
        cols, ws, ones = taps[d]
        ax = 2 + d
        shape = (-1,) + (1,) * (a.ndim - 1 - ax)
        out = np.take(a, cols[0], axis=ax)
        if not ones:
            np.multiply(out, ws[0].reshape(shape), out=out)
        tap = np.empty_like(out) if cols.shape[0] > 1 else None  # one scratch for every further tap
        for k in range(1, cols.shape[0]):
            np.take(a, cols[k], axis=ax, out=tap, mode="clip")  # "raise" would buffer the whole copy
            if not ones:
                np.multiply(tap, ws[k].reshape(shape), out=tap)
            np.add(out, tap, out=out)
        a = out
    return a


def _all_taps(mode, in_spatial, out_spatial, scales, align_corners, acc, transpose):
    return [_dim_taps(mode, int(i), int(o), float(s), bool(align_corners), np.dtype(acc).char, transpose)
            for i, o, s in zip(in_spatial, out_spatial, scales)]


def interpolate_ref(x: np.ndarray, out_spatial: tuple, mode: str, align_corners: bool,
                    scales: list[float]) -> np.ndarray:
    """x (N, C, *spatial) resampled: one dim at a time, each output the weighted sum of its taps (fp32/fp64)."""
    acc = np.float64 if x.dtype == np.float64 else np.float32
    taps = _all_taps(mode, x.shape[2:], out_spatial, scales, align_corners, acc, False)
    return _fresh(_apply(_dense(x, acc), taps, True), x)


def interpolate_backward_ref(grad: np.ndarray, in_spatial: tuple, mode: str, align_corners: bool,
                             scales: list[float]) -> np.ndarray:
    """The input gradient: the transposed weight matrices applied to grad."""
    acc = np.float64 if grad.dtype == np.float64 else np.float32
    taps = _all_taps(mode, in_spatial, grad.shape[2:], scales, align_corners, acc, True)
    return _fresh(_apply(_dense(grad, acc), taps, False), grad)


def _dense(x: np.ndarray, acc) -> np.ndarray:
    # a strided or broadcast operand (sum().backward()'s grad has stride 0) makes every gather copy element
    # by element, ~8x a contiguous one: one contiguous copy first
    return np.ascontiguousarray(x, dtype=acc)


def _fresh(r: np.ndarray, x: np.ndarray) -> np.ndarray:
    # every dim kept leaves the input itself: the result must still be a new buffer
    return r.astype(x.dtype, copy=True) if r is x else np.ascontiguousarray(r, dtype=x.dtype)


# ---------------------------------------------------------------- AOT / tuner declarations
def _signature(dtype: str, backward: bool) -> dict[str, str]:
    a, b, st = ("gx_ptr", "g_ptr", "sg") if backward else ("out_ptr", "x_ptr", "sx")
    sig = {a: f"*{dtype}", b: f"*{dtype}", "total": "i64"}
    sig.update({n: "i32" for n in ("C", "ID", "IH", "IW", "OD", "OH", "OW")})
    sig.update({f"{st}{d}": "i32" for d in "ncdhw"})
    sig.update({n: "fp32" for n in ("scale_d", "scale_h", "scale_w")})
    sig.update({n: "i32" for n in ("KD", "KH", "KW") + (("RD", "RH", "RW") if backward else ())})
    return dict(sig, MODE="i32", ALIGN="i32")


_CONFIGS = [dict(BLOCK=256, num_warps=8), dict(BLOCK=128, num_warps=4)]
_SPACE = _CONFIGS + [dict(BLOCK=512, num_warps=16)]

# Gathers: every load's address is a data-dependent tap (weights and indices computed per element), so no
# load can be 128-bit; memory_bound=False (the flat output store is the only contiguous access).
SPECS = [
    KernelSpec(f"interpolate.interpolate[{dtype}]", interpolate_kernel, _signature(dtype, False), {},
               _CONFIGS, _SPACE, memory_bound=False, unit_args=())
    for dtype in ("fp32", "fp16", "bf16", "fp64")
] + [
    KernelSpec(f"interpolate.interpolate_backward[{dtype}]", interpolate_backward_kernel,
               _signature(dtype, True), {}, _CONFIGS, _SPACE, memory_bound=False, unit_args=())
    for dtype in ("fp32", "fp16", "bf16", "fp64")
]
