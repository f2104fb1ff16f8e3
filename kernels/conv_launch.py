"""Launch wrappers, configs, tuning and AOT declarations of the implicit-GEMM convolution kernels
(kernels/conv.py).

All three wrappers take 5-D DeviceArrays (N, C, D, H, W) and length-3 stride/padding/dilation; each call
goes through `tuning.launch` with its own Tunable. fp16/bf16 run on tensor cores; fp32 uses TF32 tensor
cores when `allow_tf32` (PyTorch's cudnn default), IEEE FMA otherwise; float64 accumulates in fp64.
"""

from __future__ import annotations

import collections
import itertools

import numpy as np
import triton
import triton.language as tl

from . import conv_depthwise as DW
from . import tuning
from .conv import SUM_CONFIG, SUM_SINGLE, conv_dgrad_kernel, conv_fwd_kernel, conv_wgrad_kernel, sum_slices_kernel
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .matmul_epilogue import ACTIVATIONS
from .tuning import Cost, Tunable, next_pow2

DTYPES = ("float16", "bfloat16", "float32", "float64")
SPLIT_CHOICES = (1, 2, 4, 8, 16, 32)
SCRATCH_LIMIT = 64 << 20  # bytes of weight-gradient split-K scratch the heuristic allows


def _config(bm: int, bn: int, bk: int, warps: int, stages: int, split: int = 1) -> dict:
    return dict(BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, GROUP_M=8, SPLIT_K=split, num_warps=warps, num_stages=stages)


def _name(dtype) -> str:
    name = getattr(dtype, "name", None)
    name = name if isinstance(name, str) else np.dtype(dtype).name
    if name not in DTYPES:
        raise TypeError(f"convolution kernels take {', '.join(DTYPES)}; got {name}")
    return name


# Two tile shapes per dtype: "wide" (64 x 64) for many columns, "narrow" (64 x 32) when the GEMM has at
# most 32 columns (a 16 -> 32 channel layer), so half of every tile is not wasted. The gathers' index
# math (div/mod per element) costs registers: 4 warps, or 128 x 32 tiles, spill on sm_90, so 8 warps.
_HEURISTIC = {
    "float16": dict(wide=_config(64, 64, 32, 8, 3), narrow=_config(64, 32, 32, 8, 2)),
    "float32": dict(wide=_config(64, 64, 32, 8, 2), narrow=_config(64, 32, 32, 8, 2)),
    "float64": dict(wide=_config(32, 32, 16, 4, 1), narrow=_config(32, 32, 16, 4, 1)),
}
_HEURISTIC["bfloat16"] = _HEURISTIC["float16"]
# fp32 on the FMA units (allow_tf32 off): BLOCK_K=32 spills 12-24 B on sm_90 there, so K steps of 16.
_HEURISTIC["float32:ieee"] = dict(wide=_config(64, 64, 16, 8, 2), narrow=_config(64, 32, 16, 8, 2))


def _table(dtype: str, tf32: bool) -> dict:
    return _HEURISTIC["float32:ieee" if dtype == "float32" and not tf32 else dtype]


def _class(cols: int) -> str:
    return "narrow" if cols <= 32 else "wide"


def _space_for(dtype: str) -> list[dict]:
    """The tuning space of one dtype: tiles x BLOCK_K x stages (split-K added per key for the weight gradient)."""
    bks = (16,) if dtype == "float64" else (32, 64) if dtype != "float32" else (16, 32)
    tiles = ((32, 32), (64, 32), (128, 32), (64, 64), (128, 64), (64, 128), (128, 128))
    return [_config(bm, bn, bk, 8 if bm * bn >= 128 * 64 else 4, st)
            for (bm, bn), bk, st in itertools.product(tiles, bks, (2, 3, 4))]


ConvKey = collections.namedtuple("ConvKey", "kind m n k dtype tf32 shape_class split")


def _split(kind: str, m: int, n: int, k: int, groups: int) -> int:
    """Weight gradient: K slices so that about 2 waves of programs run (output tiles are few, K long)."""
    if kind != "wgrad":
        return 1
    tiles = groups * triton.cdiv(m, 64) * triton.cdiv(n, 64)
    target = 2 * tuning.sm_count()
    split = 1
    for s in SPLIT_CHOICES:
        if tiles * s <= target and k // s >= 256 and s * groups * m * n * 4 <= SCRATCH_LIMIT:
            split = s
    return split


def tuning_key(kind: str, m: int, n: int, k: int, dtype, allow_tf32: bool, groups: int) -> ConvKey:
    """(kernel, GEMM M/N/K as powers of two, dtype, TF32, the exact shape class, the weight gradient's split)."""
    name = _name(dtype)
    return ConvKey(kind, next_pow2(m), next_pow2(n), next_pow2(k), name, bool(allow_tf32) and name == "float32",
                   _class(n), _split(kind, m, n, k, groups))


def _heuristic(key: tuple) -> dict:
    key = ConvKey(*key)
    return {**_table(key.dtype, key.tf32)[key.shape_class], "SPLIT_K": key.split}


def _space(key: tuple, space: str) -> list[dict]:
    key, first = ConvKey(*key), _heuristic(key)
    splits = sorted({1, key.split, 2 * key.split}) if key.kind == "wgrad" else [1]
    cands = [{**c, "SPLIT_K": s} for c in _space_for(key.dtype) for s in splits]
    if space == "default":
        cands = [c for c in cands if c["num_stages"] == _HEURISTIC[key.dtype]["wide"]["num_stages"]]
    return [first] + [c for c in cands if c != first]


def _cost(M: int, N: int, K: int, groups: int, a_bytes: int, b_bytes: int, out_bytes: int) -> Cost:
    return Cost(float(a_bytes + b_bytes + out_bytes), 2.0 * M * N * K * groups)


FWD_TUNING = Tunable("conv.fwd", space=_space, heuristic=_heuristic, cost=_cost, specs="conv.fwd")
DGRAD_TUNING = Tunable("conv.dgrad", space=_space, heuristic=_heuristic, cost=_cost, specs="conv.dgrad")
WGRAD_TUNING = Tunable("conv.wgrad", space=_space, heuristic=_heuristic, cost=_cost, specs="conv.wgrad")


# ---------------------------------------------------------------- launch wrappers
def _common(dtype, allow_tf32: bool) -> dict:
    name = _name(dtype)
    return dict(INPUT_PRECISION="tf32" if name == "float32" and allow_tf32 else "ieee",
                ACC=tl.float64 if name == "float64" else tl.float32)


def _check_span(*arrays: DeviceArray) -> None:
    for a in arrays:
        if a is not None and sum((n - 1) * abs(s) for n, s in zip(a.shape, a.strides) if n) >= 2**31:
            raise ValueError(f"convolution kernels use 32-bit offsets: an operand of shape {a.shape} strides "
                             f"{a.strides} is too large")


def _bytes(a: DeviceArray) -> int:
    return a.numel() * a.dtype.itemsize


def _geometry(stride, padding, dilation) -> tuple:
    return (*stride, *padding, *dilation)


def conv_forward(y: DeviceArray, x: DeviceArray, w: DeviceArray, bias: DeviceArray | None, stride: tuple,
                 padding: tuple, dilation: tuple, groups: int, allow_tf32: bool = False, activation: str = "none",
                 z: DeviceArray | None = None) -> None:
    """y (N, O, OD, OH, OW) = act(conv(x (N, C, D, H, W), w (O, C // groups, KD, KH, KW)) + bias (O,)).

    activation: one of matmul_epilogue.ACTIVATIONS, applied in the same launch; z (y's shape and strides),
    when given, receives the pre-activation (a fused conv + activation's backward reads act'(z))."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if z is not None and (z.shape != y.shape or z.strides != y.strides):
        raise ValueError(f"z must have y's shape and strides {y.shape} {y.strides}; got {z.shape} {z.strides}")
    n, c = x.shape[:2]
    o, cg = w.shape[:2]
    cog = o // groups
    M, K = n * y.shape[2] * y.shape[3] * y.shape[4], cg * w.shape[2] * w.shape[3] * w.shape[4]
    if M == 0 or cog == 0:
        return
    _check_span(x, w, y)
    if cg == 1 and DW.applies(c, groups, w, y):  # depthwise: the direct kernel
        DW.depthwise_forward(y, x, w, bias, stride, padding, dilation, activation, z)
        return
    common = _common(x.dtype, allow_tf32)
    bias_arg = bias if bias is not None else w

    def run(cfg: dict) -> None:
        grid = (triton.cdiv(M, cfg["BLOCK_M"]) * triton.cdiv(cog, cfg["BLOCK_N"]), groups)
        conv_fwd_kernel[grid](y, x, w, bias_arg, z if z is not None else y, M, K, cog, cg, *x.shape[2:],
                              *y.shape[2:], *w.shape[2:], *_geometry(stride, padding, dilation), *x.strides,
                              *w.strides, *y.strides, bias.strides[0] if bias is not None else 0,
                              HAS_BIAS=bias is not None, ACTIVATION=activation, STORE_Z=z is not None,
                              **common, **cfg)

    key = tuning_key("fwd", M, cog, K, x.dtype, allow_tf32, groups)
    tuning.launch(FWD_TUNING, key, dict(M=M, N=cog, K=K, groups=groups, a_bytes=_bytes(x), b_bytes=_bytes(w),
                                        out_bytes=_bytes(y)), run)


def conv_input_grad(dx: DeviceArray, dy: DeviceArray, w: DeviceArray, bias: DeviceArray | None, stride: tuple,
                    padding: tuple, dilation: tuple, groups: int, allow_tf32: bool = False) -> None:
    """dx (N, C, D, H, W) = the input gradient of conv for dy (N, O, OD, OH, OW) and w, + bias (C,)
    when given: conv_transpose(dy, w) + bias."""
    n, c = dx.shape[:2]
    o = w.shape[0]
    cog, cg = o // groups, c // groups
    M, K = n * dx.shape[2] * dx.shape[3] * dx.shape[4], cog * w.shape[2] * w.shape[3] * w.shape[4]
    if M == 0 or cg == 0:
        return
    _check_span(dx, dy, w)
    if cg == 1 and DW.applies(c, groups, w, dx):
        DW.depthwise_input_grad(dx, dy, w, bias, stride, padding, dilation)
        return
    common = _common(dy.dtype, allow_tf32)
    bias_arg = bias if bias is not None else w

    def run(cfg: dict) -> None:
        grid = (triton.cdiv(M, cfg["BLOCK_M"]) * triton.cdiv(cg, cfg["BLOCK_N"]), groups)
        conv_dgrad_kernel[grid](dx, dy, w, bias_arg, M, K, cog, cg, *dx.shape[2:], *dy.shape[2:], *w.shape[2:],
                                *_geometry(stride, padding, dilation), *dx.strides, *w.strides, *dy.strides,
                                bias.strides[0] if bias is not None else 0, HAS_BIAS=bias is not None,
                                **common, **cfg)

    key = tuning_key("dgrad", M, cg, K, dy.dtype, allow_tf32, groups)
    tuning.launch(DGRAD_TUNING, key, dict(M=M, N=cg, K=K, groups=groups, a_bytes=_bytes(dy), b_bytes=_bytes(w),
                                          out_bytes=_bytes(dx)), run)


def conv_weight_grad(dw: DeviceArray, dy: DeviceArray, x: DeviceArray, stride: tuple, padding: tuple,
                     dilation: tuple, groups: int, allow_tf32: bool = False, scratch=None) -> None:
    """dw (O, C // groups, KD, KH, KW) = the weight gradient of conv for dy and x; dw must be contiguous.

    `scratch(shape)` returns a contiguous float32 DeviceArray for split-K partials (the ops layer allocates
    it on the operands' device); a split-K config without it raises."""
    o, cg = dw.shape[:2]
    cog = o // groups
    n = x.shape[0]
    M, NC, K = cog, cg * dw.shape[2] * dw.shape[3] * dw.shape[4], n * dy.shape[2] * dy.shape[3] * dy.shape[4]
    if dw.numel() == 0:
        return
    _check_span(dw, dy, x)
    if cg == 1 and dw.is_contiguous() and DW.applies(x.shape[1], groups, dw, dw):
        DW.depthwise_weight_grad(dw, dy, x, stride, padding, dilation)
        return
    common = _common(dy.dtype, allow_tf32)

    def run(cfg: dict) -> None:
        split = cfg["SPLIT_K"]
        grid = (triton.cdiv(M, cfg["BLOCK_M"]) * triton.cdiv(NC, cfg["BLOCK_N"]), groups, split)
        args = (M, NC, K, cog, cg, *x.shape[2:], *dy.shape[2:], *dw.shape[2:], *_geometry(stride, padding, dilation),
                *x.strides)
        if split == 1:
            conv_wgrad_kernel[grid](dw, dy, x, *args, *dw.strides, *dy.strides, 0, **common, **cfg)
            return
        if scratch is None:
            raise ValueError(f"SPLIT_K={split} needs a scratch allocator")
        part = scratch((split, o, NC))
        conv_wgrad_kernel[grid](part, dy, x, *args, NC, 0, 0, 0, 1, *dy.strides, o * NC, **common, **cfg)
        sum_slices_kernel[(triton.cdiv(o * NC, SUM_CONFIG["BLOCK"]),)](dw, part, o * NC, split, o * NC, **SUM_CONFIG)

    key = tuning_key("wgrad", M, NC, K, dy.dtype, allow_tf32, groups)
    tuning.launch(WGRAD_TUNING, key, dict(M=M, N=NC, K=K, groups=groups, a_bytes=_bytes(dy), b_bytes=_bytes(x),
                                          out_bytes=_bytes(dw)), run)


# ---------------------------------------------------------------- AOT / tuner declarations
_SHORT = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32"}
_GEOM = ("ID", "IH", "IW", "OD", "OH", "OW", "KD", "KH", "KW", "str_d", "str_h", "str_w", "pad_d", "pad_h",
         "pad_w", "dil_d", "dil_h", "dil_w")
_STRIDES = (*(f"sx{d}" for d in "ncdhw"), *(f"sw{d}" for d in "ocdhw"), *(f"sy{d}" for d in "ncdhw"))


def _signature(kind: str, short: str) -> dict[str, str]:
    out = "fp32" if kind == "wgrad_split" else short
    if kind.startswith("wgrad"):
        sig = {"dw_ptr": f"*{out}", "dy_ptr": f"*{short}", "x_ptr": f"*{short}"}
        sig.update(dict.fromkeys(("M", "NC", "K", "COG", "CG", *_GEOM, *_STRIDES, "sws"), "i32"))
    else:
        first = "y_ptr" if kind == "fwd" else "dx_ptr"
        second = "x_ptr" if kind == "fwd" else "dy_ptr"
        sig = {first: f"*{short}", second: f"*{short}", "w_ptr": f"*{short}", "b_ptr": f"*{short}"}
        if kind == "fwd":
            sig["z_ptr"] = f"*{short}"
        sig.update(dict.fromkeys(("M", "K", "COG", "CG", *_GEOM, *_STRIDES, "sb"), "i32"))
    return sig


_KERNELS = {"fwd": conv_fwd_kernel, "dgrad": conv_dgrad_kernel, "wgrad": conv_wgrad_kernel,
            "wgrad_split": conv_wgrad_kernel}
_VARIANTS = (("fp16", "float16", "ieee"), ("bf16", "bfloat16", "ieee"), ("fp32:tf32", "float32", "tf32"),
             ("fp32:ieee", "float32", "ieee"))
# Contiguous operands: the innermost (W) strides are 1 (1-D and 2-D convolutions have D = 1 too, which the
# JIT folds as well; the AOT check keeps the general 3-D build).
_UNIT = ("sxw", "sww", "syw")


# The forward's epilogue variants: plain, relu (y only) and gelu + z (the heaviest activation, storing z too).
_FWD_EPILOGUES = {"": dict(ACTIVATION="none", STORE_Z=False), ":relu": dict(ACTIVATION="relu", STORE_Z=False),
                  ":gelu+z": dict(ACTIVATION="gelu", STORE_Z=True)}


def _spec(kind: str, variant: str, dtype: str, precision: str, epilogue: str = "") -> KernelSpec:
    base = "wgrad" if kind.startswith("wgrad") else kind
    split = 4 if kind == "wgrad_split" else 1
    consts = dict(INPUT_PRECISION=precision, ACC=tl.float32)
    if base != "wgrad":
        consts["HAS_BIAS"] = True
    if base == "fwd":
        consts.update(_FWD_EPILOGUES[epilogue])
    shipped = [{**c, "SPLIT_K": split} for c in _table(dtype, precision == "tf32").values()]
    space = [{**c, "SPLIT_K": split} for c in _space_for(dtype)]
    tensor_cores = precision == "tf32" or dtype != "float32"
    # The operand tiles are gathers (per-element im2col addresses), which never vectorise: the kernel is
    # bound by its dot throughput and gather latency, not by 128-bit streaming.
    return KernelSpec(f"conv.{base}[{variant}{':splitk' if split > 1 else ''}{epilogue}]", _KERNELS[kind],
                      _signature(kind, _SHORT[dtype]), consts, shipped, space, tensor_cores=tensor_cores,
                      memory_bound=False, unit_args=_UNIT)


SPECS = [_spec(kind, variant, dtype, precision, ep) for kind in ("fwd", "dgrad", "wgrad", "wgrad_split")
         for variant, dtype, precision in _VARIANTS for ep in (_FWD_EPILOGUES if kind == "fwd" else ("",))] + [
    KernelSpec(f"conv.sum_slices[{short}]", sum_slices_kernel,
               {"out_ptr": f"*{short}", "part_ptr": "*fp32", "numel": "i32", "split": "i32", "stride_s": "i32"},
               {}, [SUM_CONFIG], single=SUM_SINGLE)
    for short in ("fp16", "bf16", "fp32")
]
