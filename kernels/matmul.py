"""Batched matrix multiply C = A @ B with a fused epilogue, and its split-K variant.

One tiled kernel (`matmul_kernel`) serves mm, bmm, addmm, baddbmm, linear (+ activation) and the
backward of all of them: every operand is a 3-D (batch, rows, cols) strided view, so transposed
operands (dA = dC @ B^T, dB = A^T @ dC) and broadcast batches (batch stride 0) need no copy. Each
program owns one BLOCK_M x BLOCK_N tile of C, walks K in BLOCK_K steps accumulating in fp32, and
applies the epilogue `act(alpha * A@B + beta * C_in + bias)` in fp32 before its single store.

On sm_90+ (and under the interpreter, which runs tensor descriptors) a launch whose operands a tensor
descriptor can describe goes to kernels/matmul_tma.py's persistent TMA kernel instead (`choose_path`);
the tuning key names the path, and each path has its own configs.

Skinny shapes (few output tiles, long K) cannot fill the GPU with one program per tile, so with
SPLIT_K > 1 each tile's K range is cut into SPLIT_K slices whose fp32 partial sums land in a
scratch buffer; `splitk_reduce_kernel` then adds the slices in a fixed order (deterministic, no
atomics) and applies the same epilogue.

A config is a dict: BLOCK_M, BLOCK_N, BLOCK_K, GROUP_M, SPLIT_K, num_warps, num_stages.
"""

from __future__ import annotations

import collections
import itertools
import math

import numpy as np
import triton
import triton.language as tl

from . import matmul_tma as TMA
from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .matmul_epilogue import ACTIVATIONS, SPLIT_K_CHOICES
from .matmul_epilogue import dot_operand as _dot_operand
from .matmul_epilogue import epilogue as _epilogue
from .matmul_epilogue import tile_ptrs as _tile_ptrs
from .matmul_tma import choose_path, device_arch
from .strided import cast_to
from .tuning import Cost, Tunable, next_pow2

DTYPES = ("float16", "bfloat16", "float32")
REDUCE_CONFIG = dict(BLOCK_M=32, BLOCK_N=64, num_warps=4)
REDUCE_SINGLE = "one memory-bound pass over the split-K slices, timed inside each split-K matmul config it serves"
SPLIT_SCRATCH_LIMIT = 256 << 20  # bytes of split-K scratch past which split-K cannot win (big M*N anyway)
PATHS = ("ptr", "tma")  # matmul_kernel (pointer loads) or matmul_tma.matmul_tma_kernel (tensor descriptors)


# ---------------------------------------------------------------- the kernels
@fast_jit
def matmul_kernel(
    c_ptr,  # (batch, M, N) output; with SPLIT_K > 1 the (SPLIT_K, batch, M, N) fp32 scratch
    a_ptr,  # (batch, M, K) left operand
    b_ptr,  # (batch, K, N) right operand
    bias_ptr,  # (N,) added to every row (read only when HAS_BIAS)
    cin_ptr,  # (batch, M, N) addend of addmm/baddbmm (read only when HAS_CIN)
    z_ptr,  # (batch, M, N) pre-activation output, C's strides (written only when STORE_Z)
    M, N, K,  # matrix sizes of one batch entry
    stride_ab, stride_am, stride_ak,  # A strides in elements (stride_ab 0 broadcasts A over the batch)
    stride_bb, stride_bk, stride_bn,  # B strides
    stride_cs, stride_cb, stride_cm, stride_cn,  # C strides; stride_cs steps between split-K slices
    stride_bias,  # bias stride
    stride_cinb, stride_cinm, stride_cinn,  # C_in strides
    alpha, beta,  # C = act(alpha * A@B + beta * C_in + bias)
    HAS_BIAS: tl.constexpr,  # add bias
    HAS_CIN: tl.constexpr,  # add beta * C_in (off when beta == 0, so NaNs in C_in do not leak, as in torch)
    ACTIVATION: tl.constexpr,  # one of ACTIVATIONS
    STORE_Z: tl.constexpr,  # also store the pre-activation to z_ptr (what a fused linear's backward reads)
    INPUT_PRECISION: tl.constexpr,  # "tf32" or "ieee" for fp32 operands (16-bit operands ignore it)
    BLOCK_M: tl.constexpr,  # tile rows
    BLOCK_N: tl.constexpr,  # tile columns
    BLOCK_K: tl.constexpr,  # K step
    GROUP_M: tl.constexpr,  # tile rows swept together so neighbouring programs share B tiles in L2
    SPLIT_K: tl.constexpr,  # K slices per tile; > 1 writes unscaled fp32 partials, no epilogue
):
    # Program ids: axis 0 is batch-major over tiles (no 65535 limit on the batch), axis 1 the K slice.
    pid = tl.program_id(0)
    pid_k = tl.program_id(1)
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    num_tiles = num_pid_m * num_pid_n
    pid_b = pid // num_tiles
    pid = pid % num_tiles
    num_pid_in_group = GROUP_M * num_pid_n
    first_pid_m = (pid // num_pid_in_group) * GROUP_M
    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
    pid_m = first_pid_m + ((pid % num_pid_in_group) % group_size_m)
    pid_n = (pid % num_pid_in_group) // group_size_m

    row0 = pid_m * BLOCK_M
    col0 = pid_n * BLOCK_N
    offs_k = tl.arange(0, BLOCK_K)
    # Rows/columns past the edge wrap onto the tile's valid ones: loads stay in bounds without an M/N
    # mask (the store drops them) and offsets inside the tile stay small and 32-bit. The moving part
    # is a 64-bit scalar origin per operand, so no per-element 64-bit pointer is carried around K.
    rows_a = tl.arange(0, BLOCK_M) % (M - row0)
    cols_b = tl.arange(0, BLOCK_N) % (N - col0)
    a_offs = rows_a[:, None] * stride_am + offs_k[None, :] * stride_ak
    b_offs = offs_k[:, None] * stride_bk + cols_b[None, :] * stride_bn
    k_steps = tl.cdiv(tl.cdiv(K, BLOCK_K), SPLIT_K)  # BLOCK_K steps in each K slice
    k_start = pid_k * k_steps * BLOCK_K
    a_tile = (a_ptr + pid_b.to(tl.int64) * stride_ab + row0.to(tl.int64) * stride_am
              + k_start.to(tl.int64) * stride_ak)
    b_tile = (b_ptr + pid_b.to(tl.int64) * stride_bb + col0.to(tl.int64) * stride_bn
              + k_start.to(tl.int64) * stride_bk)

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for step in range(0, k_steps):
        k_left = K - k_start - step * BLOCK_K  # <= 0 in a trailing slice past K: loads all masked
        a = tl.load(a_tile + a_offs, mask=offs_k[None, :] < k_left, other=0.0)
        b = tl.load(b_tile + b_offs, mask=offs_k[:, None] < k_left, other=0.0)
        acc = tl.dot(_dot_operand(a), _dot_operand(b), acc, input_precision=INPUT_PRECISION)
        a_tile += BLOCK_K * stride_ak
        b_tile += BLOCK_K * stride_bk

    offs_m = row0 + tl.arange(0, BLOCK_M)
    offs_n = col0 + tl.arange(0, BLOCK_N)
    mask = (offs_m < M)[:, None] & (offs_n < N)[None, :]
    if SPLIT_K == 1:
        acc = _epilogue(acc, row0, col0, offs_n, mask, N, pid_b, bias_ptr, stride_bias, cin_ptr, stride_cinb,
                        stride_cinm, stride_cinn, alpha, beta, HAS_BIAS, HAS_CIN, ACTIVATION, BLOCK_M, BLOCK_N,
                        z_ptr, stride_cb, stride_cm, stride_cn, STORE_Z)
        c_ptrs = _tile_ptrs(c_ptr, pid_b, row0, col0, stride_cb, stride_cm, stride_cn, BLOCK_M, BLOCK_N)
        tl.store(c_ptrs, cast_to(acc, c_ptr.dtype.element_ty), mask=mask)
    else:
        c_ptrs = _tile_ptrs(c_ptr + pid_k.to(tl.int64) * stride_cs, pid_b, row0, col0, stride_cb, stride_cm,
                            stride_cn, BLOCK_M, BLOCK_N)
        tl.store(c_ptrs, acc, mask=mask)


@fast_jit
def splitk_reduce_kernel(
    c_ptr,  # (batch, M, N) output
    part_ptr,  # (split_k, batch, M, N) fp32 partial sums from matmul_kernel
    bias_ptr,  # (N,) added to every row (read only when HAS_BIAS)
    cin_ptr,  # (batch, M, N) addend (read only when HAS_CIN)
    z_ptr,  # (batch, M, N) pre-activation output, C's strides (written only when STORE_Z)
    M, N,  # matrix sizes of one batch entry
    split_k,  # slices to add
    stride_ps, stride_pb, stride_pm, stride_pn,  # partials strides
    stride_cb, stride_cm, stride_cn,  # C strides
    stride_bias,  # bias stride
    stride_cinb, stride_cinm, stride_cinn,  # C_in strides
    alpha, beta,  # C = act(alpha * sum(partials) + beta * C_in + bias)
    HAS_BIAS: tl.constexpr,  # add bias
    HAS_CIN: tl.constexpr,  # add beta * C_in
    ACTIVATION: tl.constexpr,  # one of ACTIVATIONS
    STORE_Z: tl.constexpr,  # also store the pre-activation to z_ptr
    BLOCK_M: tl.constexpr,  # tile rows
    BLOCK_N: tl.constexpr,  # tile columns
):
    pid = tl.program_id(0)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    num_tiles = tl.cdiv(M, BLOCK_M) * num_pid_n
    pid_b = pid // num_tiles
    pid = pid % num_tiles
    row0 = (pid // num_pid_n) * BLOCK_M
    col0 = (pid % num_pid_n) * BLOCK_N
    offs_m = row0 + tl.arange(0, BLOCK_M)
    offs_n = col0 + tl.arange(0, BLOCK_N)
    mask = (offs_m < M)[:, None] & (offs_n < N)[None, :]
    p_ptrs = _tile_ptrs(part_ptr, pid_b, row0, col0, stride_pb, stride_pm, stride_pn, BLOCK_M, BLOCK_N)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for _s in range(0, split_k):  # a fixed order, so results are bitwise reproducible
        acc += tl.load(p_ptrs, mask=mask, other=0.0)
        p_ptrs += stride_ps
    acc = _epilogue(acc, row0, col0, offs_n, mask, N, pid_b, bias_ptr, stride_bias, cin_ptr, stride_cinb,
                    stride_cinm, stride_cinn, alpha, beta, HAS_BIAS, HAS_CIN, ACTIVATION, BLOCK_M, BLOCK_N,
                    z_ptr, stride_cb, stride_cm, stride_cn, STORE_Z)
    c_ptrs = _tile_ptrs(c_ptr, pid_b, row0, col0, stride_cb, stride_cm, stride_cn, BLOCK_M, BLOCK_N)
    tl.store(c_ptrs, cast_to(acc, c_ptr.dtype.element_ty), mask=mask)


# ---------------------------------------------------------------- configs
def _config(bm: int, bn: int, bk: int, warps: int, stages: int, split_k: int = 1, group_m: int = 8) -> dict:
    return dict(BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, GROUP_M=group_m, SPLIT_K=split_k, num_warps=warps,
                num_stages=stages)


def _dtype_name(dtype) -> str:
    """'float16' / 'bfloat16' / 'float32' / ... from a tritensor dtype, NumPy dtype or name."""
    name = getattr(dtype, "name", None)
    if not isinstance(name, str):
        try:
            name = np.dtype(dtype).name  # NumPy scalar types (np.float16, ml_dtypes.bfloat16)
        except TypeError:
            name = str(dtype)
    name = name.rsplit(".", 1)[-1]
    return {"fp16": "float16", "half": "float16", "bf16": "bfloat16", "fp32": "float32",
            "float": "float32", "tf32": "float32", "fp64": "float64", "double": "float64"}.get(name, name)


def _wide(dtype) -> bool:
    """True for 4-byte operands (fp32), whose configs use shorter K steps; raises for other dtypes."""
    name = _dtype_name(dtype)
    if name not in DTYPES:
        raise TypeError(f"matmul kernels take {', '.join(DTYPES)}; got {name}")
    return name == "float32"


# The shape classes of heuristic_config, per dtype. Each one compiles without spills on sm_80 and
# sm_90 for every epilogue and layout, also when no pointer or stride is known to be 16-byte aligned
# (loads then cannot be vectorised and the pipeline goes through registers). That ruled out 128x256
# tiles, 128x128x64 for 16-bit, 128x128 for fp32, and for bf16 even 128x128x32 (its addmm epilogue
# spills 16 bytes on sm_90 when unaligned); the tuner may still pick them.
_HEURISTIC = {
    "float16": dict(
        big=_config(128, 128, 32, 8, 4),
        medium=_config(64, 128, 64, 8, 3),
        small_m=_config(64, 64, 128, 8, 3),  # M <= 32 (decode-like x @ W): long K steps, 64 rows for wgmma
        small_n=_config(128, 32, 32, 4, 4),  # N <= 32 (K=64 spills 140-176 B in the transposed epilogue)
        split=_config(64, 64, 64, 4, 3),  # + SPLIT_K
    ),
    "float32": dict(  # FMA, or tf32 tensor cores
        big=_config(128, 64, 32, 8, 3),
        medium=_config(64, 128, 32, 8, 3),
        small_m=_config(64, 64, 16, 8, 3),  # BLOCK_K=32 spills 4 B (fp32 FMA, aligned sm_90 build)
        small_n=_config(128, 32, 32, 4, 4),
        split=_config(64, 64, 32, 8, 3),
    ),
}
_HEURISTIC["bfloat16"] = {**_HEURISTIC["float16"], "big": _config(128, 64, 64, 8, 3)}


def _table(dtype, path: str = "ptr") -> dict:
    _wide(dtype)  # rejects unsupported dtypes
    if path not in PATHS:
        raise ValueError(f"matmul path must be one of {PATHS}, got {path!r}")
    return (_HEURISTIC if path == "ptr" else TMA.HEURISTIC)[_dtype_name(dtype)]


def heuristic_config(M: int, N: int, K: int, dtype, batch: int = 1, shared_limit: int | None = None,
                     path: str = "ptr") -> dict:
    """The default config for one shape on one path ("ptr" or "tma", see `choose_path`), used when
    autotuning is off or has no entry yet.

    Split-K is chosen when the output has few tiles but K is long; such a config needs the scratch
    buffer described by `scratch_shape`. `shared_limit` (bytes per block, e.g. 101376 on sm_86)
    drops pipeline stages until the estimated shared memory fits.
    """
    return _fit(_class_config(dtype, shape_class(M, N, K, batch), path), dtype, shared_limit)


def shape_class(M: int, N: int, K: int, batch: int = 1) -> str:
    """Which heuristic config a shape gets: "big", "medium", "small_m", "small_n" or "split<SPLIT_K>"."""
    tiles = batch * triton.cdiv(M, 64) * triton.cdiv(N, 64)
    if tiles <= 32 and K >= 1024 and K >= 4 * max(M, N):
        # Aim at ~128 programs (one wave on A100/H100) with at least 512 of K per slice.
        split = max((s for s in SPLIT_K_CHOICES if s * tiles <= 128 and K // s >= 512), default=1)
        if split > 1:
            return f"split{split}"
    if M <= 32:
        return "small_m"
    if N <= 32:
        return "small_n"
    return "big" if M >= 128 and N >= 128 else "medium"


# Storing the pre-activation z too (STORE_Z) these classes spill on sm_90 (AOT check): "+z" keys take smaller tiles.
_Z_TILES = {("float16", "big"): _HEURISTIC["float16"]["medium"], ("float32", "small_n"): _config(128, 32, 16, 4, 4)}


def _class_config(dtype, shape_class: str, path: str = "ptr") -> dict:
    table = _table(dtype, path)
    if shape_class.endswith("+z"):  # see _Z_TILES
        base = shape_class.removesuffix("+z")
        return dict(_Z_TILES.get((_dtype_name(dtype), base), _class_config(dtype, base, path)))
    if shape_class.startswith("split"):
        return {**table["split"], "SPLIT_K": int(shape_class[len("split"):])}
    return dict(table[shape_class])


def _fit(cfg: dict, dtype, shared_limit: int | None) -> dict:
    while shared_limit is not None and cfg["num_stages"] > 2 and estimate_shared_bytes(cfg, dtype) > shared_limit:
        cfg = {**cfg, "num_stages": cfg["num_stages"] - 1}
    return cfg


def estimate_shared_bytes(config: dict, dtype) -> int:
    """Shared memory of the operand pipeline: num_stages A and B tiles.

    That is Triton's figure on sm_90 (wgmma); on sm_80 it keeps num_stages - 1 tiles, so this bounds both.
    """
    itemsize = 4 if _wide(dtype) else 2
    return config["num_stages"] * (config["BLOCK_M"] + config["BLOCK_N"]) * config["BLOCK_K"] * itemsize


def shipped_configs(dtype, path: str = "ptr", store_z: bool = False) -> list[dict]:
    """Every config heuristic_config can return for `dtype` on `path` (the AOT check's); store_z: the "+z" classes."""
    classes = ("big", "medium", "small_m", "small_n", *(f"split{s}" for s in SPLIT_K_CHOICES))
    return [_class_config(dtype, c + ("+z" if store_z and path == "ptr" else ""), path) for c in classes]


def config_space(dtype, mode: str = "default", path: str = "ptr") -> list[dict]:
    """Candidate configs for the autotuner: "default" (a dozen) or "max" (a wide sweep to prune).

    "default" holds the heuristic's configs plus the usual larger tiles. Configs with SPLIT_K > 1
    need scratch (see `scratch_shape`); the tuner should skip them when that buffer would be large
    (big M*N), where they cannot win anyway.
    """
    if mode not in ("default", "max"):
        raise ValueError(f"config_space mode must be 'default' or 'max', got {mode!r}")
    if _table(dtype, path) is TMA.HEURISTIC[_dtype_name(dtype)]:  # also validates dtype and path
        return TMA.config_space(_dtype_name(dtype), mode)
    return _default_space(dtype) if mode == "default" else _max_space(dtype)


def _default_space(dtype) -> list[dict]:
    table = _table(dtype)
    if _wide(dtype):
        extra = [_config(128, 128, 32, 8, 3), _config(128, 128, 16, 8, 3), _config(64, 64, 16, 4, 3),
                 _config(128, 64, 16, 4, 4), _config(64, 128, 16, 4, 4), _config(64, 32, 32, 4, 4)]
    else:
        extra = [_config(128, 256, 64, 8, 3), _config(256, 128, 64, 8, 3), _config(128, 128, 64, 8, 3),
                 _config(128, 128, 32, 4, 4), _config(64, 128, 32, 4, 4),
                 _config(128, 64, 32, 4, 4) if table["big"]["BLOCK_N"] == 128 else _config(128, 128, 32, 8, 4)]
    return ([dict(table[k]) for k in ("big", "medium", "small_m", "small_n")] + extra
            + [{**table["split"], "SPLIT_K": s} for s in (4, 16)])


def _max_space(dtype) -> list[dict]:
    """Every tile, BLOCK_K, stage and warp count whose pipeline fits in 200 KiB of shared memory, then
    the split-K configs."""
    block_ks = (16, 32, 64) if _wide(dtype) else (32, 64, 128)
    tiles = [(bm, bn) for bm in (32, 64, 128, 256) for bn in (32, 64, 128, 256) if bm * bn <= 128 * 256]
    space = []
    for (bm, bn), bk, stages, warps in itertools.product(tiles, block_ks, (2, 3, 4, 5), (4, 8)):
        if (warps == 4 and bm * bn > 128 * 128) or (warps == 8 and bm * bn < 64 * 64):
            continue
        cfg = _config(bm, bn, bk, warps, stages)
        if estimate_shared_bytes(cfg, dtype) <= 200 * 1024:
            space.append(cfg)
    for (bm, bn), bk, split, warps in itertools.product(((32, 32), (64, 32), (64, 64), (128, 64)), block_ks[1:],
                                                        SPLIT_K_CHOICES, (4, 8)):
        space.append(_config(bm, bn, bk, warps, 3, split_k=split))
    return space


def scratch_shape(config: dict, batch: int, M: int, N: int) -> tuple[int, int, int, int] | None:
    """Shape of the float32 scratch `matmul` needs for `config`, or None when it needs none."""
    return (config["SPLIT_K"], batch, M, N) if config.get("SPLIT_K", 1) > 1 else None


# The tuning key of a matmul launch (see `tuning_key`); a plain tuple to the tuning cache.
MatmulKey = collections.namedtuple("MatmulKey", "m n k dtype a_t b_t tf32 batch shape_class path")


def tuning_key(M: int, N: int, K: int, dtype, a_strides: tuple, b_strides: tuple, allow_tf32: bool = False,
               batch: int = 1, path: str = "ptr", store_z: bool = False) -> MatmulKey:
    """(M, N, K rounded up to powers of two, dtype name, A transposed, B transposed, TF32, batch bucket,
    the heuristic's shape class, the kernel path of `choose_path`): what MATMUL_TUNING launches and
    `tritensor autotune` tune under.

    A counts as transposed when its K dim is not the contiguous one, B when its N dim is not
    (size-1 dims are layout-free); only the last two strides matter. batch is one launch's batch.
    The shape class (from the exact sizes) keeps the heuristic exact for every shape a key serves.
    """
    name = _dtype_name(dtype)
    return MatmulKey(next_pow2(M), next_pow2(N), next_pow2(K), name, K > 1 and a_strides[-1] != 1,
                     N > 1 and b_strides[-1] != 1, bool(allow_tf32) and name == "float32", next_pow2(batch),
                     shape_class(M, N, K, batch) + ("+z" if store_z and path == "ptr" else ""), path)


def _heuristic(key: tuple) -> dict:
    return _class_config(key[3], key[8], key[9])  # dtype, shape class, path


def _space(key: tuple, space: str) -> list[dict]:
    # The heuristic first; split-K configs whose scratch (at the key's buckets) would pass the limit are out.
    key, first = MatmulKey(*key), _heuristic(key)
    return [first] + [c for c in config_space(key.dtype, space, key.path) if c != first and (
        c["SPLIT_K"] == 1 or c["SPLIT_K"] * key.batch * key.m * key.n * 4 <= SPLIT_SCRATCH_LIMIT)]


# Every launch of one matmul call (the batch loop, split-K partials + their reduction) under one config.
MATMUL_TUNING = Tunable(
    "matmul.matmul", space=_space, heuristic=_heuristic,
    cost=lambda M, N, K, batch, itemsize, out_itemsize: Cost(
        float((M * K + K * N) * batch * itemsize + M * N * batch * out_itemsize), 2.0 * M * N * K * batch),
    specs="matmul")  # matmul[...] (pointer path) and matmul_tma[...]


def tuning_sizes(out: DeviceArray, a: DeviceArray, batch: int) -> dict:
    """MATMUL_TUNING's cost sizes for out (., M, N) = a (., M, K) @ b; batch counts every product of the call."""
    return dict(M=out.shape[-2], N=out.shape[-1], K=a.shape[-1], batch=batch, itemsize=a.dtype.itemsize,
                out_itemsize=out.dtype.itemsize)


# ---------------------------------------------------------------- launch wrapper
def matmul(out: DeviceArray, a: DeviceArray, b: DeviceArray, *, bias: DeviceArray | None = None,
           activation: str | None = None, alpha: float = 1.0, beta: float = 0.0,
           c_in: DeviceArray | None = None, allow_tf32: bool = False, config: dict | None = None,
           scratch: DeviceArray | None = None, path: str | None = None, workspace: DeviceArray | None = None,
           z: DeviceArray | None = None) -> None:
    """out[b] = act(alpha * a[b] @ b[b] + beta * c_in[b] + bias) for 3-D views, any strides.

    `z` (out's shape and strides) also receives the pre-activation, for a fused linear + activation's backward.

    a: (batch, M, K), b: (batch, K, N), out and c_in: (batch, M, N), bias: (N,); batch stride 0
    broadcasts an operand. a and b share one dtype (float16, bfloat16 or float32); out, c_in and
    bias may be any float dtype (the epilogue runs in fp32). c_in is ignored when beta == 0.
    allow_tf32 lets fp32 operands use TF32 tensor cores. A config with SPLIT_K > 1 needs `scratch`:
    float32, contiguous, shape scratch_shape(config, batch, M, N). `path` picks the kernel ("ptr" or
    "tma"; default `choose_path` on the current device); a "tma" launch on a GPU needs `workspace`:
    uint8, shape workspace_shape(config, batch, M, N), where its tensor descriptors live. Without
    `config` the launch goes through tuning.launch(MATMUL_TUNING, ...) itself (split-K configs then fail
    unless `scratch` fits them); with one, it is one launch of an enclosing tuning.launch's `run`, as in
    tritensor.ops.matmul.
    """
    batch, M, N = out.shape
    K = a.shape[2]
    if a.shape != (batch, M, K) or b.shape != (batch, K, N):
        raise ValueError(f"matmul shapes do not line up: out {out.shape}, a {a.shape}, b {b.shape}")
    if a.dtype != b.dtype:
        raise TypeError(f"matmul operands must share a dtype, got {a.dtype} and {b.dtype}")
    activation = "none" if activation is None else activation
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if bias is not None and bias.shape != (N,):
        raise ValueError(f"bias must have shape ({N},), got {bias.shape}")
    c_in = c_in if c_in is not None and beta != 0 else None
    if c_in is not None and c_in.shape != out.shape:
        raise ValueError(f"c_in must have shape {out.shape}, got {c_in.shape}")
    if z is not None and (z.shape != out.shape or z.strides != out.strides):
        raise ValueError(f"z must have out's shape and strides {out.shape} {out.strides}, got {z.shape} {z.strides}")
    wide = _wide(a.dtype)
    if batch == 0 or M == 0 or N == 0:
        return
    fma = wide and not allow_tf32
    if path is None:
        path = choose_path(device_arch(), out, a, b, c_in, fma)
    elif path not in PATHS or (path == "tma" and choose_path(90, out, a, b, c_in, fma) != "tma"):
        raise ValueError(f"matmul path {path!r}: one of {PATHS}, and 'tma' only where choose_path allows it")
    precision = "tf32" if wide and allow_tf32 else "ieee"
    epilogue = dict(HAS_BIAS=bias is not None, HAS_CIN=c_in is not None, ACTIVATION=activation,
                    STORE_Z=z is not None)
    epilogue_args = (bias.strides[0] if bias is not None else 0,
                     *(c_in.strides if c_in is not None else (0, 0, 0)), float(alpha), float(beta))
    bias_arg, cin_arg = (bias if bias is not None else out), (c_in if c_in is not None else out)
    z_arg = z if z is not None else out

    def run(cfg: dict) -> None:
        split = cfg.get("SPLIT_K", 1)
        _check_launch(cfg, a, b, [out, c_in, scratch if split > 1 else None], scratch_shape(cfg, batch, M, N))
        blocks = {**cfg, "SPLIT_K": split, "INPUT_PRECISION": precision}
        tiles = triton.cdiv(M, cfg["BLOCK_M"]) * triton.cdiv(N, cfg["BLOCK_N"])
        if path == "tma":
            TMA.launch_tma(out, a, b, bias, c_in, alpha, beta, epilogue, precision, cfg, scratch, workspace, z)
        elif split == 1:
            matmul_kernel[(batch * tiles, 1)](
                out, a, b, bias_arg, cin_arg, z_arg, M, N, K, *a.strides, *b.strides, 0, *out.strides, *epilogue_args,
                **epilogue, **blocks)
        else:
            matmul_kernel[(batch * tiles, split)](
                scratch, a, b, out, out, scratch, M, N, K, *a.strides, *b.strides, *scratch.strides, 0, 0, 0, 0, 1.0,
                0.0, HAS_BIAS=False, HAS_CIN=False, ACTIVATION="none", STORE_Z=False, **blocks)
        if split > 1:
            red_tiles = triton.cdiv(M, REDUCE_CONFIG["BLOCK_M"]) * triton.cdiv(N, REDUCE_CONFIG["BLOCK_N"])
            splitk_reduce_kernel[(batch * red_tiles,)](
                out, scratch, bias_arg, cin_arg, z_arg, M, N, split, *scratch.strides, *out.strides, *epilogue_args,
                **epilogue, **REDUCE_CONFIG)

    if config is not None:  # the caller's tuning.launch chose it (or a test fixes it)
        run(config)
    else:
        key = tuning_key(M, N, K, a.dtype, a.strides, b.strides, allow_tf32, batch, path, z is not None)
        tuning.launch(MATMUL_TUNING, key, tuning_sizes(out, a, batch), run)


def _check_launch(cfg: dict, a: DeviceArray, b: DeviceArray, outs: list, want_scratch: tuple | None) -> None:
    """Offsets inside a pointer kernel's tile are 32-bit (tile origins are 64-bit); split-K's scratch
    (outs[-1]) must be what scratch_shape asks for, contiguous (the TMA kernel describes it so)."""
    bm, bn, bk = cfg["BLOCK_M"], cfg["BLOCK_N"], cfg["BLOCK_K"]
    for arr, rows, cols in [(a, bm, bk), (b, bk, bn)] + [(arr, bm, bn) for arr in outs if arr is not None]:
        if rows * abs(arr.strides[-2]) + cols * abs(arr.strides[-1]) >= 2**31:
            raise ValueError(f"matmul: strides {arr.strides} too large for a {rows}x{cols} tile")
    scratch = outs[-1]
    if want_scratch is not None and (scratch is None or scratch.shape != want_scratch
                                     or _dtype_name(scratch.dtype) != "float32"
                                     or scratch.strides != tuple(math.prod(want_scratch[i + 1:]) for i in range(4))):
        raise ValueError(f"SPLIT_K={cfg['SPLIT_K']} needs a contiguous float32 scratch of shape {want_scratch}, "
                         f"got {None if scratch is None else (scratch.shape, scratch.strides, scratch.dtype)}")


# ---------------------------------------------------------------- NumPy references
try:  # SciPy's vectorised erf when present; math.erf element by element otherwise
    from scipy.special import erf as _erf
except ImportError:  # pragma: no cover - depends on the environment
    _erf = np.vectorize(math.erf, otypes=[np.float64])


def _compute_dtype(*dtypes) -> np.dtype:
    dt = np.result_type(*dtypes)
    return np.dtype(np.float32) if dt.itemsize < 4 else dt


def _activate_ref(x: np.ndarray, activation: str | None) -> np.ndarray:
    if activation in (None, "none"):
        return x
    if activation == "relu":
        return np.maximum(x, 0)
    if activation == "gelu":
        return (0.5 * x * (1 + _erf(x / np.sqrt(2)))).astype(x.dtype)
    if activation == "gelu_tanh":
        return (0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))).astype(x.dtype)
    if activation == "silu":
        return x / (1 + np.exp(-x))
    raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")


def matmul_ref(a: np.ndarray, b: np.ndarray, bias: np.ndarray | None = None, activation: str | None = None,
               alpha=1, beta=0, c_in: np.ndarray | None = None) -> np.ndarray:
    """act(alpha * a @ b + beta * c_in + bias), 16-bit inputs computed in fp32 and rounded once.

    NumPy matmul broadcasting; c_in is ignored when beta == 0 (torch.addmm's rule).
    """
    out_dtype = np.result_type(a.dtype, b.dtype)
    ct = _compute_dtype(out_dtype)
    acc = np.matmul(a.astype(ct), b.astype(ct))
    if alpha != 1:
        acc = acc * ct.type(alpha)
    if c_in is not None and beta != 0:
        acc = acc + ct.type(beta) * c_in.astype(ct)
    if bias is not None:
        acc = acc + bias.astype(ct)
    return _activate_ref(acc, activation).astype(out_dtype)


def matmul_backward_ref(grad: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(grad @ b^T, a^T @ grad) for 2-D or batched (..., M, K) x (..., K, N), in the broadcast shape."""
    ct = _compute_dtype(grad.dtype, a.dtype, b.dtype)
    g = grad.astype(ct)
    grad_a = np.matmul(g, np.swapaxes(b.astype(ct), -1, -2)).astype(a.dtype)
    grad_b = np.matmul(np.swapaxes(a.astype(ct), -1, -2), g).astype(b.dtype)
    return grad_a, grad_b


# ---------------------------------------------------------------- AOT / tuner declarations
def _matmul_signature(dtype: str, out_dtype: str | None = None) -> dict[str, str]:
    sig = {"c_ptr": f"*{out_dtype or dtype}", "a_ptr": f"*{dtype}", "b_ptr": f"*{dtype}",
           "bias_ptr": f"*{dtype}", "cin_ptr": f"*{dtype}", "z_ptr": f"*{out_dtype or dtype}", "M": "i32", "N": "i32",
           "K": "i32"}
    sig.update(dict.fromkeys(("stride_ab", "stride_am", "stride_ak", "stride_bb", "stride_bk", "stride_bn",
                              "stride_cs", "stride_cb", "stride_cm", "stride_cn", "stride_bias", "stride_cinb",
                              "stride_cinm", "stride_cinn"), "i32"), alpha="fp32", beta="fp32")
    return sig


def _reduce_signature(dtype: str) -> dict[str, str]:
    sig = {"c_ptr": f"*{dtype}", "part_ptr": "*fp32", "bias_ptr": f"*{dtype}", "cin_ptr": f"*{dtype}",
           "z_ptr": f"*{dtype}", "M": "i32", "N": "i32", "split_k": "i32"}
    sig.update(dict.fromkeys(("stride_ps", "stride_pb", "stride_pm", "stride_pn", "stride_cb", "stride_cm",
                              "stride_cn", "stride_bias", "stride_cinb", "stride_cinm", "stride_cinn"), "i32"),
               alpha="fp32", beta="fp32")
    return sig


# Row-major A and B, as the JIT specialises unit strides (the common case, and the one that vectorises).
_ROW_MAJOR = dict(stride_ak=1, stride_bn=1)
_PLAIN = dict(HAS_BIAS=False, HAS_CIN=False, ACTIVATION="none", STORE_Z=False, **_ROW_MAJOR)
_SHORT = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32"}


def _spec(name: str, dtype: str, precision: str, consts: dict, tensor_cores: bool, split: bool = False
          ) -> KernelSpec:
    short = _SHORT[dtype]
    shipped = [c for c in shipped_configs(dtype, store_z=consts["STORE_Z"]) if (c["SPLIT_K"] > 1) == split]
    space = [c for c in config_space(dtype, "default") if (c["SPLIT_K"] > 1) == split]
    return KernelSpec(name, matmul_kernel, _matmul_signature(short, "fp32" if split else None),
                      {**consts, "INPUT_PRECISION": precision}, shipped, space, tensor_cores=tensor_cores)


_VARIANTS = (("fp16", "float16", "ieee"), ("bf16", "bfloat16", "ieee"), ("fp32:tf32", "float32", "tf32"),
             ("fp32:ieee", "float32", "ieee"))

SPECS = [
    _spec(f"matmul[{variant}{':splitk' if split else ''}]", dtype, precision, _PLAIN,
          variant != "fp32:ieee", split)
    for variant, dtype, precision in _VARIANTS
    for split in (False, True)
] + [  # the heaviest epilogue (most registers) of each variant
    _spec(f"matmul[{variant}:addmm+bias+gelu]", dtype, precision,
          dict(HAS_BIAS=True, HAS_CIN=True, ACTIVATION="gelu", STORE_Z=False, **_ROW_MAJOR), variant != "fp32:ieee")
    for variant, dtype, precision in _VARIANTS
] + [  # fused linear + activation in training: bias, activation and the stored pre-activation z
    _spec(f"matmul[{variant}:linear+gelu+z]", dtype, precision,
          dict(HAS_BIAS=True, HAS_CIN=False, ACTIVATION="gelu", STORE_Z=True, stride_bk=1), variant != "fp32:ieee")
    for variant, dtype, precision in _VARIANTS
] + [  # both operands transposed (the backward's layouts) with a bias + activation epilogue
    _spec("matmul[fp16:bias+silu:transposed]", "float16", "ieee",
          dict(HAS_BIAS=True, HAS_CIN=False, ACTIVATION="silu", STORE_Z=False, stride_am=1, stride_bk=1), True),
] + [
    KernelSpec(f"matmul.splitk_reduce[{short}:{act}{'+z' if z else ''}]", splitk_reduce_kernel,
               _reduce_signature(short),
               dict(HAS_BIAS=act != "none", HAS_CIN=act != "none", ACTIVATION=act, STORE_Z=z, stride_pn=1),
               [REDUCE_CONFIG], single=REDUCE_SINGLE)
    for short in ("fp16", "bf16", "fp32") for act, z in (("none", False), ("gelu_tanh", False), ("gelu_tanh", True))
]
