"""Max and average pooling (fixed and adaptive windows), forward and backward, for 1-, 2- and 3-d inputs.

Every input is handed as a (NC, D, H, W) view (batch and channels collapsed to NC; a 1-d or 2-d pooling
has size-1 D (and H) dims with a 1x1 window), so one kernel serves the three ranks. The output and the
argmax indices are contiguous (NC, OD, OH, OW) arrays, indexed with flat offsets.

Windows, per spatial dim (o an output index, In/Out the input/output sizes):
  fixed:    start = o * stride - pad, elements start + k * dilation for k < kernel, inside [0, In)
  adaptive: start = floor(o * In / Out), end = ceil((o + 1) * In / Out)   (PyTorch's adaptive windows)
Average divisor: `divisor_override` when given, else the window clipped to the padded input
(count_include_pad) or to the input, as PyTorch's avg_pool; an adaptive window divides by its size.
Max keeps PyTorch's rule `v > best or isnan(v)` (a NaN wins, the last NaN of the window) and returns
the argmax as a flat index d * H * W + h * W + w into the input's spatial dims.

Forward: one program per BLOCK output elements (a flat grid over NC * OD * OH * OW, filling the machine
for any shape); each element loops over its window. Backward is a gather over input elements, so
overlapping windows need no atomics and the result is deterministic: each input element visits the
outputs whose window can cover it (per dim: every kernel tap k with (i + pad - k * dilation) divisible by
stride, or the adaptive outputs floor(i * Out / In) .. ceil((i + 1) * Out / In)) and sums
grad / divisor (avg) or grad where that output's argmax is this element (max).
"""

from __future__ import annotations

import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .strided import cast_to
from .tuning import Cost, Tunable, next_pow2


@triton.jit
def _span(o, In, Out, K, S, P, ADAPTIVE: tl.constexpr):
    """(window start, window end (exclusive, before clipping to the input)) of output o along one dim; fixed
    windows end at start + K clipped to the padded input (avg's rule)."""
    if ADAPTIVE:
        start = (o * In) // Out
        end = ((o + 1) * In + Out - 1) // Out
    else:
        start = o * S - P
        end = tl.minimum(start + K, In + P)
    return start, end


@triton.jit
def _factor(start, end, In, count_pad):
    """One dim's share of the avg_pool divisor: the window clipped to the padded input (count_include_pad;
    an adaptive window, always inside the input, is its own size) or to the input."""
    return tl.where(count_pad != 0, end - start, tl.minimum(end, In) - tl.maximum(start, 0))


@triton.jit
def _reciprocal(n, FP64: tl.constexpr):
    """1 / n for a positive integer count n: fp32, or (FP64) the fp32 estimate refined by two Newton steps,
    since an fp64 division is a called subroutine whose stack frame counts as spills."""
    r = 1.0 / n.to(tl.float32)
    if FP64:
        d = n.to(tl.float64)
        r = r.to(tl.float64)
        r = r * (2.0 - d * r)
        r = r * (2.0 - d * r)
    return r


@triton.jit
def _split(t, size):
    """(t // size, t % size) with one division (a remainder is a second division otherwise)."""
    q = t // size
    return q, t - q * size


@fast_jit
def pool_forward_kernel(
    out_ptr,  # (NC, OD, OH, OW) contiguous output
    idx_ptr,  # (NC, OD, OH, OW) contiguous int64 argmax (MAX only; out_ptr again otherwise)
    x_ptr,  # (NC, D, H, W) input view, any strides
    total,  # NC * OD * OH * OW
    OD, OH, OW,  # output spatial sizes
    D, H, W,  # input spatial sizes
    sxn, sxd, sxh, sxw,  # input strides (elements)
    KD, KH, KW,  # window taps per dim (adaptive: the widest window)
    SD, SH, SW,  # strides (fixed windows)
    PD, PH, PW,  # left padding (fixed windows)
    DD, DH, DW,  # dilation (fixed windows; 1 for avg)
    count_pad,  # avg: 1 to count padding in the divisor
    divisor,  # avg: divisor_override, 0 for none
    MAX: tl.constexpr,  # max pooling (with argmax) instead of average
    ADAPTIVE: tl.constexpr,  # adaptive windows instead of fixed ones
    BLOCK: tl.constexpr,  # output elements per program
):
    # total is an i32: flat offsets and spatial coordinates stay 32-bit (registers); only the input's
    # address is 64-bit.
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < total
    # Flat offsets -> (n, od, oh, ow): the output is contiguous, so stores are plain flat offsets.
    t, ow = _split(offs, OW)
    t, oh = _split(t, OH)
    n, od = _split(t, OD)
    acc_type: tl.constexpr = tl.float64 if x_ptr.dtype.element_ty == tl.float64 else tl.float32
    d0, d1 = _span(od, D, OD, KD, SD, PD, ADAPTIVE)
    h0, h1 = _span(oh, H, OH, KH, SH, PH, ADAPTIVE)
    w0, w1 = _span(ow, W, OW, KW, SW, PW, ADAPTIVE)
    # Fixed windows stop at the input's edge; adaptive ones at their own end (always inside the input).
    if ADAPTIVE:
        d_hi, h_hi, w_hi = d1, h1, w1
    else:
        d_hi, h_hi, w_hi = D, H, W
    base = x_ptr + n.to(tl.int64) * sxn
    if MAX:
        best = tl.full((BLOCK,), float("-inf"), acc_type)
        arg = tl.full((BLOCK,), -1, tl.int32)
    else:
        acc = tl.zeros((BLOCK,), acc_type)
    for kd in range(0, KD):
        pd = d0 + kd * DD
        ok_d = mask & (pd >= 0) & (pd < d_hi)
        for kh in range(0, KH):
            ph = h0 + kh * DH
            ok_h = ok_d & (ph >= 0) & (ph < h_hi)
            for kw in range(0, KW):
                pw = w0 + kw * DW
                ok = ok_h & (pw >= 0) & (pw < w_hi)
                off = pd.to(tl.int64) * sxd + ph.to(tl.int64) * sxh + pw.to(tl.int64) * sxw
                v = tl.load(base + off, mask=ok, other=0.0).to(acc_type)
                if MAX:
                    # PyTorch's `v > best || isnan(v)`; the first valid tap seeds the argmax (an all -inf window).
                    take = ok & ((v > best) | (v != v) | (arg < 0))
                    best = tl.where(take, v, best)
                    arg = tl.where(take, (pd * H + ph) * W + pw, arg)
                else:
                    acc += v
    if MAX:
        tl.store(out_ptr + offs, cast_to(best, out_ptr.dtype.element_ty), mask=mask)
        tl.store(idx_ptr + offs, arg.to(tl.int64), mask=mask)
    else:
        n_div = _factor(d0, d1, D, count_pad) * _factor(h0, h1, H, count_pad) * _factor(w0, w1, W, count_pad)
        inv = _reciprocal(tl.where(divisor > 0, divisor, n_div), acc_type == tl.float64)
        tl.store(out_ptr + offs, cast_to(acc * inv, out_ptr.dtype.element_ty), mask=mask)


# The backward walks, per dim, the outputs that may cover input index i, with every division done once before
# the loops (an integer division is a long instruction sequence; in the loops it made ptxas spill):
#   fixed:    tap j covers i when i + P - j * DIL = o * S; walking j keeps (o, r) with i + P - j * DIL = o * S + r,
#             r in [0, S), stepping by DIL = Q * S + R (Q, R from the host); o is a candidate when r == 0.
#   adaptive: the outputs floor(i * Out / In), +1, ...; each keeps its window start s = floor(o * In / Out)
#             as (s, sr) with o * In = s * Out + sr, stepping by In = Q * Out + R; o covers i when s <= i < end.
@triton.jit
def _walk_start(i, In, Out, S, P, ADAPTIVE: tl.constexpr, WINDOW: tl.constexpr):
    """The walk's first (o, r, s, sr); WINDOW: track adaptive window starts (avg; max needs only o)."""
    if ADAPTIVE:
        o = (i * Out) // In
        r = o * 0
        if WINDOW:
            s, sr = _split(o * In, Out)
        else:
            s = r
            sr = r
    else:
        o, r = _split(i + P, S)
        s = o * 0
        sr = s
    return o, r, s, sr


@triton.jit
def _adaptive_next(s, sr, Q, R, Out):
    sr = sr + R
    carry = sr >= Out
    return s + Q + carry.to(tl.int32), tl.where(carry, sr - Out, sr)


@triton.jit
def _walk_check(i, o, r, s, sr, In, Out, K, S, P, Q, R, count_pad, ADAPTIVE: tl.constexpr, WINDOW: tl.constexpr):
    """(whether the walk's current output covers i, its divisor factor along this dim). Without WINDOW (max) an
    adaptive candidate needs only to exist: an output whose window misses i never has its argmax at i."""
    if ADAPTIVE and not WINDOW:
        ok = o < Out
        f = o * 0 + 1
    elif ADAPTIVE:
        s1, sr1 = _adaptive_next(s, sr, Q, R, Out)
        end = s1 + (sr1 > 0).to(tl.int32)
        ok = (s <= i) & (i < end) & (o < Out)
        f = end - s
    else:
        ok = (r == 0) & (o >= 0) & (o < Out)
        start = o * S - P
        f = _factor(start, tl.minimum(start + K, In + P), In, count_pad)
    return ok, f


@triton.jit
def _walk_step(o, r, s, sr, Out, S, Q, R, ADAPTIVE: tl.constexpr, WINDOW: tl.constexpr):
    if ADAPTIVE:
        if WINDOW:
            s, sr = _adaptive_next(s, sr, Q, R, Out)
        o = o + 1
    else:
        r = r - R
        borrow = r < 0
        o = o - Q - borrow.to(tl.int32)
        r = tl.where(borrow, r + S, r)
    return o, r, s, sr


@fast_jit
def pool_backward_kernel(
    gx_ptr,  # (NC, D, H, W) contiguous output: gradient of the input
    g_ptr,  # (NC, OD, OH, OW) contiguous incoming gradient
    idx_ptr,  # (NC, OD, OH, OW) contiguous int64 argmax (MAX only; g_ptr again otherwise)
    total,  # NC * D * H * W
    OD, OH, OW,
    D, H, W,
    KD, KH, KW,  # window taps (fixed windows)
    CD, CH, CW,  # candidate outputs per dim: the taps (fixed) or the widest adaptive cover
    SD, SH, SW,
    PD, PH, PW,
    QD, QH, QW,  # walk step quotients: dilation // stride (fixed), In // Out (adaptive)
    RD, RH, RW,  # walk step remainders: dilation % stride (fixed), In % Out (adaptive)
    count_pad, divisor,
    MAX: tl.constexpr,
    ADAPTIVE: tl.constexpr,
    BLOCK: tl.constexpr,  # input elements per program
):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)  # 32-bit: total is an i32
    mask = offs < total
    t, iw = _split(offs, W)
    t, ih = _split(t, H)
    n, i_d = _split(t, D)
    acc_type: tl.constexpr = tl.float64 if gx_ptr.dtype.element_ty == tl.float64 else tl.float32
    acc = tl.zeros((BLOCK,), acc_type)
    g_base = n * (OD * OH * OW)
    spatial = offs - n * (D * H * W)  # this element's flat index, as the argmax stores it
    od, rd_, sd, srd = _walk_start(i_d, D, OD, SD, PD, ADAPTIVE, not MAX)
    oh0, rh0, sh0, srh0 = _walk_start(ih, H, OH, SH, PH, ADAPTIVE, not MAX)
    ow0, rw0, sw0, srw0 = _walk_start(iw, W, OW, SW, PW, ADAPTIVE, not MAX)
    for _jd in range(0, CD):
        ok_d, f_d = _walk_check(i_d, od, rd_, sd, srd, D, OD, KD, SD, PD, QD, RD, count_pad, ADAPTIVE, not MAX)
        ok_d = ok_d & mask
        oh, rh, sh, srh = oh0, rh0, sh0, srh0
        for _jh in range(0, CH):
            ok_h, f_h = _walk_check(ih, oh, rh, sh, srh, H, OH, KH, SH, PH, QH, RH, count_pad, ADAPTIVE, not MAX)
            ok_h = ok_h & ok_d
            ow, rw, sw, srw = ow0, rw0, sw0, srw0
            for _jw in range(0, CW):
                ok, f_w = _walk_check(iw, ow, rw, sw, srw, W, OW, KW, SW, PW, QW, RW, count_pad, ADAPTIVE, not MAX)
                ok = ok & ok_h
                o = g_base + (od * OH + oh) * OW + ow
                g = tl.load(g_ptr + o, mask=ok, other=0.0).to(acc_type)
                if MAX:
                    # Only the outputs whose argmax is this element pass their gradient on.
                    arg = tl.load(idx_ptr + o, mask=ok, other=-1)
                    acc += tl.where(ok & (arg == spatial), g, 0.0)
                else:
                    n_div = tl.where(ok, tl.where(divisor > 0, divisor, f_d * f_h * f_w), 1)
                    acc += tl.where(ok, g * _reciprocal(n_div, acc_type == tl.float64), 0.0)
                ow, rw, sw, srw = _walk_step(ow, rw, sw, srw, OW, SW, QW, RW, ADAPTIVE, not MAX)
            oh, rh, sh, srh = _walk_step(oh, rh, sh, srh, OH, SH, QH, RH, ADAPTIVE, not MAX)
        od, rd_, sd, srd = _walk_step(od, rd_, sd, srd, OD, SD, QD, RD, ADAPTIVE, not MAX)
    tl.store(gx_ptr + offs, cast_to(acc, gx_ptr.dtype.element_ty), mask=mask)


# ---------------------------------------------------------------- launch wrappers
# One element per thread: each carries its own window coordinates, masks and loop state through the window
# loops (two or more per thread spill on sm_90, AOT check). Since a thread's work does not depend on BLOCK,
# the grid is total / 128 programs of 4 warps, the finest split that keeps whole warps busy, for any shape.
# maxnreg: left to itself ptxas holds these kernels to 32 registers and spills a few bytes in the window loops
# (sm_80 and sm_90, AOT check); 48 leaves them spill-free at 40-44 and still allows 10 blocks (40 warps) per SM.
SMALL = dict(BLOCK=128, num_warps=4, maxnreg=48)
_SPACE = [SMALL, dict(BLOCK=256, num_warps=8, maxnreg=48), dict(BLOCK=64, num_warps=2, maxnreg=48),
          dict(BLOCK=128, num_warps=4, maxnreg=64)]


def _heuristic(key: tuple) -> dict:
    """Keys are (kind, adaptive, dtype, next_pow2(elements), next_pow2(taps)): one element per thread."""
    return dict(SMALL)


def _cost(elements: int, taps: int, itemsize: int, out_bytes: int) -> Cost:
    # Each element reads its window (taps values, mostly cache hits when windows overlap, so DRAM traffic is
    # counted as one read of each operand) and writes its result; a compare or add per tap.
    return Cost(float(elements) * (itemsize + out_bytes), 2.0 * elements * taps)


POOL_TUNING = Tunable("pool.pool_forward", _SPACE, _heuristic, _cost, specs="pool.")
POOL_BACKWARD_TUNING = Tunable("pool.pool_backward", _SPACE, _heuristic, _cost, specs="pool.")


def _check_32bit(*counts: int) -> None:
    # Flat offsets and coordinates are 32-bit in the kernels (registers; see pool_forward_kernel).
    if max(counts) >= 2**31 - 1024:
        raise ValueError(f"pooling kernels index 32-bit: {max(counts)} elements is too many for one launch")


def pool_forward(out: DeviceArray, indices: DeviceArray | None, x: DeviceArray, p: dict) -> None:
    """out (and indices, for max) = pooling of x.

    x: (NC, D, H, W) any strides, fp16/bf16/fp32/fp64; out: contiguous (NC, OD, OH, OW), x's dtype; indices:
    contiguous int64 of out's shape (required when p["max"]). p: max (bool), adaptive (bool), kernel/stride/
    padding/dilation (3-tuples, D/H/W; adaptive: kernel = the widest window), count_include_pad, divisor (0:
    none)."""
    NC, D, H, W = x.shape
    OD, OH, OW = out.shape[1:]
    total = NC * OD * OH * OW
    if total == 0:
        return
    _check_32bit(total, x.numel())
    idx = indices if p["max"] else out
    taps = p["kernel"][0] * p["kernel"][1] * p["kernel"][2]

    def run(cfg):
        pool_forward_kernel[(triton.cdiv(total, cfg["BLOCK"]),)](
            out, idx, x, total, OD, OH, OW, D, H, W, *x.strides, *p["kernel"], *p["stride"], *p["padding"],
            *p["dilation"], int(p["count_include_pad"]), int(p["divisor"]), MAX=p["max"], ADAPTIVE=p["adaptive"],
            **cfg)

    key = ("max" if p["max"] else "avg", p["adaptive"], x.dtype.name, next_pow2(total), next_pow2(taps))
    sizes = dict(elements=total, taps=taps, itemsize=x.dtype.itemsize,
                 out_bytes=out.dtype.itemsize + (8 if p["max"] else 0))
    tuning.launch(POOL_TUNING, key, sizes, run)


def _walk(p: dict, In: tuple, Out: tuple) -> tuple[list[int], list[int], list[int]]:
    """Per dim: how many outputs may cover one input element (the taps, or the widest adaptive cover), and the
    walk's step as quotient and remainder (dilation by stride, or In by Out)."""
    if p["adaptive"]:
        return [-(-o // i) + 1 for i, o in zip(In, Out)], [i // o for i, o in zip(In, Out)], \
            [i % o for i, o in zip(In, Out)]
    pairs = list(zip(p["dilation"], p["stride"]))
    return list(p["kernel"]), [d // s for d, s in pairs], [d % s for d, s in pairs]


def pool_backward(grad_x: DeviceArray, grad: DeviceArray, indices: DeviceArray | None, p: dict) -> None:
    """grad_x = the gradient of pool_forward's input (p as there), a gather: no atomics, deterministic.

    grad_x: contiguous (NC, D, H, W); grad: contiguous (NC, OD, OH, OW); indices: the forward's argmax (max)."""
    NC, D, H, W = grad_x.shape
    OD, OH, OW = grad.shape[1:]
    total = NC * D * H * W
    if total == 0:
        return
    _check_32bit(total, grad.numel())
    idx = indices if p["max"] else grad
    cands, quot, rem = _walk(p, (D, H, W), (OD, OH, OW))
    taps = cands[0] * cands[1] * cands[2]

    def run(cfg):
        pool_backward_kernel[(triton.cdiv(total, cfg["BLOCK"]),)](
            grad_x, grad, idx, total, OD, OH, OW, D, H, W, *p["kernel"], *cands, *p["stride"], *p["padding"],
            *quot, *rem, int(p["count_include_pad"]), int(p["divisor"]), MAX=p["max"], ADAPTIVE=p["adaptive"],
            **cfg)

    key = ("max" if p["max"] else "avg", p["adaptive"], grad.dtype.name, next_pow2(total), next_pow2(taps))
    sizes = dict(elements=total, taps=taps, itemsize=grad.dtype.itemsize + (8 if p["max"] else 0),
                 out_bytes=grad_x.dtype.itemsize)
    tuning.launch(POOL_BACKWARD_TUNING, key, sizes, run)


# ---------------------------------------------------------------- AOT / tuner declarations
def _i32(names: str) -> dict:
    return {n: "i32" for n in names.split()}


def _fwd_sig(dtype: str) -> dict:
    return {"out_ptr": f"*{dtype}", "idx_ptr": "*i64", "x_ptr": f"*{dtype}",
            **_i32("total OD OH OW D H W sxn sxd sxh sxw KD KH KW SD SH SW PD PH PW DD DH DW count_pad divisor")}


def _bwd_sig(dtype: str) -> dict:
    return {"gx_ptr": f"*{dtype}", "g_ptr": f"*{dtype}", "idx_ptr": "*i64",
            **_i32("total OD OH OW D H W KD KH KW CD CH CW SD SH SW PD PH PW QD QH QW RD RH RW count_pad divisor")}


# memory_bound=False: the bulk of the traffic is the window gather, whose neighbouring lanes read elements
# `stride` (or an adaptive step) apart, masked per tap at the padded border, so no load can be 128-bit; the
# contiguous flat-offset store is one element per thread (more per thread spills, see SMALL).
SPECS = [
    KernelSpec(f"pool.{kind}{'_adaptive' if adaptive else ''}_{direction}[{dtype}]", kernel, sig(dtype),
               dict(MAX=kind == "max", ADAPTIVE=adaptive), [SMALL], _SPACE, memory_bound=False, unit_args=())
    for kind in ("max", "avg")
    for adaptive in (False, True)
    for direction, kernel, sig in (("forward", pool_forward_kernel, _fwd_sig),
                                   ("backward", pool_backward_kernel, _bwd_sig))
    for dtype in ("fp32", "fp16", "bf16", "fp64")
]
