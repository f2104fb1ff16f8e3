"""Direct kernels for depthwise convolution (one input channel per group, a small channel multiplier), where
implicit GEMM is a poor fit: its GEMM has K = KD*KH*KW (9 for 3x3) and at most a few columns, so tensor-core
tiles would be almost all padding.

Same 3-D spatial form as kernels/conv.py: x (N, C, D, H, W), w (C * MULT, 1, KD, KH, KW), y/dy
(N, C * MULT, OD, OH, OW). Output channel o reads input channel o // MULT.

- `dw_fwd_kernel`: one program = BLOCK output pixels of one (n, o) plane; a loop over the taps gathers x
  and multiplies by one scalar weight, fp32 accumulation, bias and activation fused (z stored too with
  STORE_Z, as kernels/conv.py); the store is flat (contiguous y).
- `dw_dgrad_kernel`: one program = BLOCK input pixels of one (n, c) plane; loops over the MULT channels and
  the taps, reading dy where (i + pad - k * dil) / stride is exact (also conv_transpose's forward).
- `dw_wgrad_kernel`: one program = one (o, tap): a fixed-order reduction over the N * OD * OH * OW pixels.
"""

from __future__ import annotations

import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .matmul_epilogue import activate as _activate
from .strided import cast_to
from .tuning import Cost, Tunable, next_pow2

MAX_MULT = 8  # channel multipliers up to this go to the direct kernels; larger ones fill GEMM columns


@triton.jit
def _pixel(p, OH, OW):
    """Flat index -> (d, h, w) of a (D, OH, OW) grid."""
    w = p % OW
    t = p // OW
    return t // OH, t % OH, w


@fast_jit
def dw_fwd_kernel(
    y_ptr, x_ptr, w_ptr, b_ptr,  # y (N, O, OD, OH, OW), each (n, o) plane contiguous
    z_ptr,  # the pre-activation, y's strides (written only when STORE_Z)
    P, O, MULT, ID, IH, IW, OH, OW, KD, KH, KW,  # P = OD*OH*OW
    str_d, str_h, str_w, pad_d, pad_h, pad_w, dil_d, dil_h, dil_w,
    sxn, sxc, sxd, sxh, sxw, swo, swd, swh, sww, syn, syc, sb,
    HAS_BIAS: tl.constexpr, ACC: tl.constexpr, ACTIVATION: tl.constexpr, STORE_Z: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """One BLOCK of the (n, o) plane: act(sum over taps of w[o, 0, tap] * x[n, o // MULT, gathered] (+ b[o]))."""
    pid = tl.program_id(0)
    blocks = tl.cdiv(P, BLOCK)
    plane = pid // blocks  # a 1-D grid: N * O planes may pass the 65535 limit of grid axis 1
    n = plane // O
    o = plane % O
    p = (pid % blocks) * BLOCK + tl.arange(0, BLOCK)
    ok = p < P
    od, oh, ow = _pixel(p, OH, OW)
    x_plane = x_ptr + n.to(tl.int64) * sxn + (o // MULT).to(tl.int64) * sxc
    w_row = w_ptr + o * swo
    acc = tl.zeros((BLOCK,), dtype=ACC)
    for kd in range(0, KD):
        i_d = od * str_d - pad_d + kd * dil_d
        ok_d = ok & (i_d >= 0) & (i_d < ID)
        for kh in range(0, KH):
            i_h = oh * str_h - pad_h + kh * dil_h
            ok_h = ok_d & (i_h >= 0) & (i_h < IH)
            for kw in range(0, KW):
                i_w = ow * str_w - pad_w + kw * dil_w
                m = ok_h & (i_w >= 0) & (i_w < IW)
                xv = tl.load(x_plane + i_d * sxd + i_h * sxh + i_w * sxw, mask=m, other=0.0)
                wv = tl.load(w_row + kd * swd + kh * swh + kw * sww)
                acc += xv.to(ACC) * wv.to(ACC)
    if HAS_BIAS:
        acc += tl.load(b_ptr + o * sb).to(ACC)
    plane_off = n.to(tl.int64) * syn + o.to(tl.int64) * syc
    if STORE_Z:
        tl.store(z_ptr + plane_off + p, cast_to(acc, z_ptr.dtype.element_ty), mask=ok)
    acc = _activate(acc, ACTIVATION)
    tl.store(y_ptr + plane_off + p, cast_to(acc, y_ptr.dtype.element_ty), mask=ok)


@fast_jit
def dw_dgrad_kernel(
    dx_ptr, dy_ptr, w_ptr, b_ptr,  # dx (N, C, ID, IH, IW), each (n, c) plane contiguous
    P, C, MULT, IH, IW, OD, OH, OW, KD, KH, KW,  # P = ID*IH*IW
    str_d, str_h, str_w, pad_d, pad_h, pad_w, dil_d, dil_h, dil_w,
    sxn, sxc, syn, syc, syd, syh, syw, swo, swd, swh, sww, sb,
    HAS_BIAS: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr,
):
    """One BLOCK of the (n, c) plane of dx: sum over the MULT channels and taps of dy * w where the tap is exact."""
    pid = tl.program_id(0)
    blocks = tl.cdiv(P, BLOCK)
    plane = pid // blocks
    n = plane // C
    c = plane % C
    p = (pid % blocks) * BLOCK + tl.arange(0, BLOCK)
    ok = p < P
    i_d, i_h, i_w = _pixel(p, IH, IW)
    acc = tl.zeros((BLOCK,), dtype=ACC)
    for j in range(0, MULT):
        o = c * MULT + j
        y_plane = dy_ptr + n.to(tl.int64) * syn + o.to(tl.int64) * syc
        for kd in range(0, KD):
            nd = i_d + pad_d - kd * dil_d
            nd = tl.where(nd >= 0, nd, -str_d)  # negative: fails the checks whatever `//` rounds to
            o_d = nd // str_d
            ok_d = ok & (o_d >= 0) & (o_d * str_d == nd) & (o_d < OD)
            for kh in range(0, KH):
                nh = i_h + pad_h - kh * dil_h
                nh = tl.where(nh >= 0, nh, -str_h)
                o_h = nh // str_h
                ok_h = ok_d & (o_h >= 0) & (o_h * str_h == nh) & (o_h < OH)
                for kw in range(0, KW):
                    nw = i_w + pad_w - kw * dil_w
                    nw = tl.where(nw >= 0, nw, -str_w)
                    o_w = nw // str_w
                    m = ok_h & (o_w >= 0) & (o_w * str_w == nw) & (o_w < OW)
                    g = tl.load(y_plane + o_d * syd + o_h * syh + o_w * syw, mask=m, other=0.0)
                    wv = tl.load(w_ptr + o * swo + kd * swd + kh * swh + kw * sww)
                    acc += g.to(ACC) * wv.to(ACC)
    if HAS_BIAS:
        acc += tl.load(b_ptr + c * sb).to(ACC)
    x_plane = dx_ptr + n.to(tl.int64) * sxn + c.to(tl.int64) * sxc
    tl.store(x_plane + p, cast_to(acc, dx_ptr.dtype.element_ty), mask=ok)


@fast_jit
def dw_wgrad_kernel(
    dw_ptr, dy_ptr, x_ptr,  # dw (O, 1, KD, KH, KW) contiguous
    R, P, MULT, ID, IH, IW, OH, OW, KD, KH, KW,  # R = N * P pixels to reduce, P = OD*OH*OW
    str_d, str_h, str_w, pad_d, pad_h, pad_w, dil_d, dil_h, dil_w,
    sxn, sxc, sxd, sxh, sxw, syn, syc, syd, syh, syw,
    ACC: tl.constexpr, BLOCK: tl.constexpr,
):
    """dw[o, 0, tap] = sum over (n, output pixel) of dy[n, o, pixel] * x[n, o // MULT, pixel's tap], fixed order."""
    taps = KD * KH * KW
    o = tl.program_id(0) // taps
    tap = tl.program_id(0) % taps
    kw = tap % KW
    kh = (tap // KW) % KH
    kd = tap // (KW * KH)
    acc = tl.zeros((BLOCK,), dtype=ACC)
    for r0 in range(0, R, BLOCK):
        r = r0 + tl.arange(0, BLOCK)
        ok = r < R
        n = r // P
        od, oh, ow = _pixel(r % P, OH, OW)
        g = tl.load(dy_ptr + n * syn + o * syc + od * syd + oh * syh + ow * syw, mask=ok, other=0.0)
        i_d = od * str_d - pad_d + kd * dil_d
        i_h = oh * str_h - pad_h + kh * dil_h
        i_w = ow * str_w - pad_w + kw * dil_w
        m = ok & (i_d >= 0) & (i_d < ID) & (i_h >= 0) & (i_h < IH) & (i_w >= 0) & (i_w < IW)
        xv = tl.load(x_ptr + n * sxn + (o // MULT) * sxc + i_d * sxd + i_h * sxh + i_w * sxw, mask=m, other=0.0)
        acc += g.to(ACC) * xv.to(ACC)
    tl.store(dw_ptr + o * taps + tap, cast_to(tl.sum(acc, axis=0), dw_ptr.dtype.element_ty))


# ---------------------------------------------------------------- configs, tuning, launch wrappers
def _cfg(block: int, warps: int) -> dict:
    return dict(BLOCK=block, num_warps=warps)


# Each thread stores 16 bytes of its plane (8 16-bit or 4 fp32 values: one 128-bit store); "small" for
# planes up to 256 pixels, "big" otherwise. 8 values a thread on 4 warps spill 4 B unaligned on sm_90, and the
# fp32 dgrad's (256, 2) 12 B, hence these warp counts.
_PLANE = {"float16": (_cfg(256, 1), _cfg(2048, 8)), "float32": (_cfg(128, 1), _cfg(1024, 8)),
          "float64": (_cfg(128, 2), _cfg(256, 2))}
_PLANE["bfloat16"] = _PLANE["float16"]
_WGRAD = _cfg(512, 4)
_PLANE_SPACE = [_cfg(b, w) for b in (128, 256, 512, 1024, 2048) for w in (1, 2, 4, 8) if b // (32 * w) >= 2]


def _heuristic(key: tuple) -> dict:
    kind, plane = key[0], key[1]
    if kind == "wgrad":
        return dict(_WGRAD)
    small, big = _PLANE[key[2]]
    return dict(small if plane <= 256 else big)


def _space(key: tuple, space: str) -> list[dict]:
    first = _heuristic(key)
    cands = _PLANE_SPACE if space == "max" else [_cfg(b, 4) for b in (128, 256, 512, 1024)]
    return [first] + [c for c in cands if c != first]


def _cost(out_elems: int, in_elems: int, taps: int, itemsize: int) -> Cost:
    return Cost(float((out_elems + in_elems) * itemsize), 2.0 * out_elems * taps)


FWD_TUNING = Tunable("conv_depthwise.fwd", space=_space, heuristic=_heuristic, cost=_cost,
                     specs="conv_depthwise.fwd")
DGRAD_TUNING = Tunable("conv_depthwise.dgrad", space=_space, heuristic=_heuristic, cost=_cost,
                       specs="conv_depthwise.dgrad")
WGRAD_TUNING = Tunable("conv_depthwise.wgrad", space=_space, heuristic=_heuristic, cost=_cost,
                       specs="conv_depthwise.wgrad")


def _planes_contiguous(a: DeviceArray) -> bool:
    d, h, w = a.shape[2:]
    return (a.strides[4] == 1 or w == 1) and (a.strides[3] == w or h == 1) and (a.strides[2] == h * w or d == 1)


def applies(x_channels: int, groups: int, w: DeviceArray, out: DeviceArray) -> bool:
    """Whether the direct kernels serve a launch: one input channel per group, a multiplier <= MAX_MULT, and
    an output (y or dx; dw for the weight gradient) whose spatial planes are contiguous."""
    return x_channels == groups and w.shape[0] // groups <= MAX_MULT and _planes_contiguous(out)


def _acc(dtype):
    return tl.float64 if dtype.itemsize == 8 else tl.float32


def _key(kind: str, plane: int, dtype, taps: int) -> tuple:
    return (kind, next_pow2(plane), getattr(dtype, "name", str(dtype)), next_pow2(taps))


def depthwise_forward(y: DeviceArray, x: DeviceArray, w: DeviceArray, bias: DeviceArray | None, stride: tuple,
                      padding: tuple, dilation: tuple, activation: str = "none", z: DeviceArray | None = None
                      ) -> None:
    """y = act(depthwise conv(x, w) + bias) (groups == x's channels; see `applies`); z (y's strides), when
    given, receives the pre-activation."""
    n, c = x.shape[:2]
    o = w.shape[0]
    P = y.shape[2] * y.shape[3] * y.shape[4]
    if y.numel() == 0:
        return
    taps = w.shape[2] * w.shape[3] * w.shape[4]
    args = (P, o, o // c, *x.shape[2:], *y.shape[3:], *w.shape[2:], *stride, *padding, *dilation, *x.strides,
            w.strides[0], *w.strides[2:], *y.strides[:2], bias.strides[0] if bias is not None else 0)

    def run(cfg: dict) -> None:
        grid = (n * o * triton.cdiv(P, cfg["BLOCK"]),)
        dw_fwd_kernel[grid](y, x, w, bias if bias is not None else w, z if z is not None else y, *args,
                            HAS_BIAS=bias is not None, ACC=_acc(x.dtype), ACTIVATION=activation,
                            STORE_Z=z is not None, **cfg)

    tuning.launch(FWD_TUNING, _key("fwd", P, x.dtype, taps),
                  dict(out_elems=y.numel(), in_elems=x.numel(), taps=taps, itemsize=x.dtype.itemsize), run)


def depthwise_input_grad(dx: DeviceArray, dy: DeviceArray, w: DeviceArray, bias: DeviceArray | None,
                         stride: tuple, padding: tuple, dilation: tuple) -> None:
    """dx = the input gradient of a depthwise conv for dy (+ bias: conv_transpose)."""
    n, c = dx.shape[:2]
    P = dx.shape[2] * dx.shape[3] * dx.shape[4]
    if dx.numel() == 0:
        return
    taps = w.shape[2] * w.shape[3] * w.shape[4]
    args = (P, c, w.shape[0] // c, *dx.shape[3:], *dy.shape[2:], *w.shape[2:], *stride, *padding, *dilation,
            *dx.strides[:2], *dy.strides, w.strides[0], *w.strides[2:], bias.strides[0] if bias is not None else 0)

    def run(cfg: dict) -> None:
        grid = (n * c * triton.cdiv(P, cfg["BLOCK"]),)
        dw_dgrad_kernel[grid](dx, dy, w, bias if bias is not None else w, *args, HAS_BIAS=bias is not None,
                              ACC=_acc(dy.dtype), **cfg)

    tuning.launch(DGRAD_TUNING, _key("dgrad", P, dy.dtype, taps),
                  dict(out_elems=dx.numel(), in_elems=dy.numel(), taps=taps, itemsize=dy.dtype.itemsize), run)


def depthwise_weight_grad(dw: DeviceArray, dy: DeviceArray, x: DeviceArray, stride: tuple, padding: tuple,
                          dilation: tuple) -> None:
    """dw (contiguous) = the weight gradient of a depthwise conv for dy and x."""
    n, c = x.shape[:2]
    o = dw.shape[0]
    P = dy.shape[2] * dy.shape[3] * dy.shape[4]
    taps = dw.shape[2] * dw.shape[3] * dw.shape[4]
    if dw.numel() == 0:
        return
    args = (n * P, P, o // c, *x.shape[2:], *dy.shape[3:], *dw.shape[2:], *stride, *padding, *dilation,
            *x.strides, *dy.strides)

    def run(cfg: dict) -> None:
        dw_wgrad_kernel[(o * taps,)](dw, dy, x, *args, ACC=_acc(dy.dtype), **cfg)

    tuning.launch(WGRAD_TUNING, _key("wgrad", n * P, dy.dtype, taps),
                  dict(out_elems=dy.numel(), in_elems=x.numel(), taps=taps, itemsize=dy.dtype.itemsize), run)


# ---------------------------------------------------------------- AOT / tuner declarations
_GEOM = ("str_d", "str_h", "str_w", "pad_d", "pad_h", "pad_w", "dil_d", "dil_h", "dil_w")


def _sig(kind: str, t: str) -> dict[str, str]:
    if kind == "fwd":
        sig = {"y_ptr": f"*{t}", "x_ptr": f"*{t}", "w_ptr": f"*{t}", "b_ptr": f"*{t}", "z_ptr": f"*{t}"}
        names = ("P", "O", "MULT", "ID", "IH", "IW", "OH", "OW", "KD", "KH", "KW", *_GEOM, "sxn", "sxc", "sxd",
                 "sxh", "sxw", "swo", "swd", "swh", "sww", "syn", "syc", "sb")
    elif kind == "dgrad":
        sig = {"dx_ptr": f"*{t}", "dy_ptr": f"*{t}", "w_ptr": f"*{t}", "b_ptr": f"*{t}"}
        names = ("P", "C", "MULT", "IH", "IW", "OD", "OH", "OW", "KD", "KH", "KW", *_GEOM, "sxn", "sxc", "syn",
                 "syc", "syd", "syh", "syw", "swo", "swd", "swh", "sww", "sb")
    else:
        sig = {"dw_ptr": f"*{t}", "dy_ptr": f"*{t}", "x_ptr": f"*{t}"}
        names = ("R", "P", "MULT", "ID", "IH", "IW", "OH", "OW", "KD", "KH", "KW", *_GEOM, "sxn", "sxc", "sxd",
                 "sxh", "sxw", "syn", "syc", "syd", "syh", "syw")
    sig.update(dict.fromkeys(names, "i32"))
    return sig


_LONG = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}
_KERNELS = {"fwd": dw_fwd_kernel, "dgrad": dw_dgrad_kernel, "wgrad": dw_wgrad_kernel}

# The forward's epilogue variants: plain, relu (y only) and gelu + z (the heaviest activation, storing z too).
_FWD_EPILOGUES = {"": dict(ACTIVATION="none", STORE_Z=False), ":relu": dict(ACTIVATION="relu", STORE_Z=False),
                  ":gelu+z": dict(ACTIVATION="gelu", STORE_Z=True)}


def _consts(kind: str, epilogue: str) -> dict:
    if kind == "wgrad":
        return {"ACC": tl.float32}
    return {"ACC": tl.float32, "HAS_BIAS": True, **(_FWD_EPILOGUES[epilogue] if kind == "fwd" else {})}


SPECS = [
    KernelSpec(f"conv_depthwise.{kind}[{t}{ep}]", _KERNELS[kind], _sig(kind, t), _consts(kind, ep),
               [dict(_WGRAD)] if kind == "wgrad" else [dict(c) for c in _PLANE[_LONG[t]]], list(_PLANE_SPACE),
               # fwd/dgrad store each plane flat (128-bit in the aligned build); their loads are tap gathers.
               # wgrad is a reduction of gathered taps ending in one scalar store: nothing there can vectorise.
               memory_bound=kind != "wgrad", unit_args=("sxw", "syw", "sww"))
    for kind in ("fwd", "dgrad", "wgrad") for t in ("fp16", "bf16", "fp32")
    for ep in (_FWD_EPILOGUES if kind == "fwd" else ("",))
]
