"""Batched matmul through tensor descriptors (TMA) on sm_90+: a persistent kernel.

The Hopper counterpart of kernels/matmul.py's `matmul_kernel`, for operands whose layout a tensor
descriptor can describe (see `descriptor_ok`). Each operand becomes a rank-3 (batch, rows, cols)
descriptor whose last dim is contiguous, so the Tensor Memory Accelerator copies whole tiles into shared
memory (one instruction per tile, no address arithmetic in the threads, out-of-bounds zero fill instead
of masks) and wgmma reads them from there.

The grid is one program per SM (`tuning.sm_count()`, fewer when there is less work). Each program
walks the work items (batch entry, K slice, output tile) with a stride of the grid size, in grouped
order: GROUP_M tile rows are swept together so the programs running at once share A and B tiles in L2.
The epilogue `act(alpha * A@B + beta * C_in + bias)` is the one of kernels/matmul_epilogue.py. With
SPLIT_K > 1 each work item writes its unscaled fp32 partial sum, and kernels/matmul.py's
`splitk_reduce_kernel` adds the slices and applies the epilogue.
"""

from __future__ import annotations

import itertools
import os

import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .matmul_epilogue import SPLIT_K_CHOICES, activate, dot_operand
from .strided import cast_to

# Global memory each program needs for its tensor maps (four 128-byte descriptors, built on the device).
WORKSPACE_PER_PROGRAM = 512
MAX_STRIDE = 2**31  # strides are 32-bit kernel arguments


@triton.jit
def _operand_tile(desc, batch, mn0, k, K_ROWS: tl.constexpr, MN: tl.constexpr, BLOCK_K: tl.constexpr,
                  K_FIRST: tl.constexpr):
    """The operand block at (mn0, k): (MN, BLOCK_K), or (BLOCK_K, MN) when K_FIRST, from a descriptor over
    (batch, MN, K) or, when K_ROWS, over (batch, K, MN). A transposed block is a view of shared memory
    (wgmma reads either major order of 16-bit operands)."""
    if K_ROWS:
        t = desc.load([batch, k, mn0]).reshape(BLOCK_K, MN)
        if K_FIRST:
            return t
        else:
            return t.trans(1, 0)
    else:
        t = desc.load([batch, mn0, k]).reshape(MN, BLOCK_K)
        if K_FIRST:
            return t.trans(1, 0)
        else:
            return t


@triton.jit
def _finish(acc, c_desc, cin_desc, z_desc, pid_b, row0, col0, N, bias_ptr, stride_bias, alpha, beta,
            HAS_BIAS: tl.constexpr, HAS_CIN: tl.constexpr, ACTIVATION: tl.constexpr, STORE_Z: tl.constexpr,
            BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """act(alpha * acc + beta * C_in + bias) on the (BLOCK_M, BLOCK_N) block at (row0, col0), stored into C.

    C_in comes through its descriptor too: straight into the accumulator's layout, with no per-element
    address registers next to a 128-register accumulator. The TMA clips the store at M and N. With STORE_Z
    the pre-activation goes to Z as well (a fused linear + activation's backward reads it).
    """
    acc = acc * alpha
    if HAS_CIN:
        acc += beta * cin_desc.load([pid_b, row0, col0]).reshape(BLOCK_M, BLOCK_N).to(tl.float32)
    if HAS_BIAS:
        offs_n = col0 + tl.arange(0, BLOCK_N)
        acc += tl.load(bias_ptr + offs_n * stride_bias, mask=offs_n < N, other=0.0).to(tl.float32)[None, :]
    if STORE_Z:
        z_desc.store([pid_b, row0, col0], cast_to(acc, z_desc.dtype).reshape(1, BLOCK_M, BLOCK_N))
    acc = activate(acc, ACTIVATION)
    c_desc.store([pid_b, row0, col0], cast_to(acc, c_desc.dtype).reshape(1, BLOCK_M, BLOCK_N))


@fast_jit
def matmul_tma_kernel(
    c_ptr,  # (batch, M, N) output; with SPLIT_K > 1 the (SPLIT_K * batch, M, N) fp32 scratch
    a_ptr,  # A: (batch_a, M, K) K-contiguous, or (batch_a, K, M) M-contiguous when A_T
    b_ptr,  # B: (batch_b, K, N) N-contiguous, or (batch_b, N, K) K-contiguous when B_T
    bias_ptr,  # (N,) added to every row (read only when HAS_BIAS)
    cin_ptr,  # (batch, M, N) N-contiguous addend of addmm/baddbmm (read only when HAS_CIN)
    z_ptr,  # (batch, M, N) pre-activation output with C's strides (written only when STORE_Z)
    M, N, K,  # matrix sizes of one batch entry
    batch,  # batch entries of C
    batch_a, stride_ab, stride_a_row,  # A's batch count (1: broadcast), batch and row strides in elements
    batch_b, stride_bb, stride_b_row,  # B's
    stride_cb, stride_cm,  # C's batch and row strides (split-K slices follow each other's batches)
    stride_bias,  # bias stride
    stride_cinb, stride_cinm,  # C_in's batch and row strides
    alpha, beta,  # C = act(alpha * A@B + beta * C_in + bias)
    HAS_BIAS: tl.constexpr,  # add bias
    HAS_CIN: tl.constexpr,  # add beta * C_in (off when beta == 0, so NaNs in C_in do not leak, as in torch)
    ACTIVATION: tl.constexpr,  # one of ACTIVATIONS
    STORE_Z: tl.constexpr,  # also store the pre-activation to z_ptr
    INPUT_PRECISION: tl.constexpr,  # "tf32" or "ieee" for fp32 operands (16-bit operands ignore it)
    A_T: tl.constexpr,  # A is stored (K, M): M contiguous
    B_T: tl.constexpr,  # B is stored (N, K): K contiguous (a Linear weight used as W^T)
    BLOCK_M: tl.constexpr,  # tile rows
    BLOCK_N: tl.constexpr,  # tile columns
    BLOCK_K: tl.constexpr,  # K step
    GROUP_M: tl.constexpr,  # tile rows swept together so programs running at once share tiles in L2
    SPLIT_K: tl.constexpr,  # K slices per tile; > 1 writes unscaled fp32 partials, no epilogue
):
    # Descriptors are built once per program (a 128-byte tensor map each, in the launch's global scratch).
    if A_T:
        a_desc = tl.make_tensor_descriptor(a_ptr, [batch_a, K, M], [stride_ab, stride_a_row, 1], [1, BLOCK_K, BLOCK_M])
    else:
        a_desc = tl.make_tensor_descriptor(a_ptr, [batch_a, M, K], [stride_ab, stride_a_row, 1], [1, BLOCK_M, BLOCK_K])
    if B_T:
        b_desc = tl.make_tensor_descriptor(b_ptr, [batch_b, N, K], [stride_bb, stride_b_row, 1], [1, BLOCK_N, BLOCK_K])
    else:
        b_desc = tl.make_tensor_descriptor(b_ptr, [batch_b, K, N], [stride_bb, stride_b_row, 1], [1, BLOCK_K, BLOCK_N])
    # The epilogue works on column slices of the tile (see below), so C's and C_in's blocks are that wide.
    EPILOGUE_N: tl.constexpr = BLOCK_N // 4 if BLOCK_N >= 256 else BLOCK_N // 2
    c_desc = tl.make_tensor_descriptor(c_ptr, [batch * SPLIT_K, M, N], [stride_cb, stride_cm, 1],
                                       [1, BLOCK_M, EPILOGUE_N])
    cin_desc = c_desc
    if HAS_CIN:
        cin_desc = tl.make_tensor_descriptor(cin_ptr, [batch, M, N], [stride_cinb, stride_cinm, 1],
                                             [1, BLOCK_M, EPILOGUE_N])
    z_desc = c_desc
    if STORE_Z:
        z_desc = tl.make_tensor_descriptor(z_ptr, [batch, M, N], [stride_cb, stride_cm, 1], [1, BLOCK_M, EPILOGUE_N])

    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    num_tiles = num_pid_m * num_pid_n
    num_pid_in_group = GROUP_M * num_pid_n
    k_steps = tl.cdiv(tl.cdiv(K, BLOCK_K), SPLIT_K)  # BLOCK_K steps in each K slice
    # Persistent: the grid is at most one program per SM; each strides over the work items (K slice-major,
    # then batch entry, then tile), so the programs running at once work on neighbouring tiles.
    for work in tl.range(tl.program_id(0), batch * SPLIT_K * num_tiles, tl.num_programs(0)):
        tile = work % num_tiles
        slab = work // num_tiles  # pid_k * batch + pid_b: the C (or scratch) batch entry this item writes
        pid_b = slab % batch
        first_pid_m = (tile // num_pid_in_group) * GROUP_M
        group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
        row0 = (first_pid_m + ((tile % num_pid_in_group) % group_size_m)) * BLOCK_M
        col0 = ((tile % num_pid_in_group) // group_size_m) * BLOCK_N
        ba = pid_b % batch_a  # 0 for an operand broadcast over the batch
        bb = pid_b % batch_b
        k = (slab // batch) * k_steps * BLOCK_K

        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        for _ in range(0, k_steps):  # K past the end (a ragged or empty last slice) is zero-filled by the TMA
            a = _operand_tile(a_desc, ba, row0, k, A_T, BLOCK_M, BLOCK_K, False)  # A_T: stored (K, M)
            b = _operand_tile(b_desc, bb, col0, k, not B_T, BLOCK_N, BLOCK_K, True)  # B_T: stored (N, K)
            acc = tl.dot(dot_operand(a), dot_operand(b), acc, input_precision=INPUT_PRECISION)
            k += BLOCK_K

        # The epilogue runs on (BLOCK_M, EPILOGUE_N) slices: C_in, bias and activation of a whole 128x256
        # tile beside its accumulator would spill, and C's staging buffer shrinks too.
        acc0, acc1 = acc.reshape(BLOCK_M, 2, BLOCK_N // 2).permute(0, 2, 1).split()
        _epilogue_half(acc0, c_desc, cin_desc, z_desc, slab, pid_b, row0, col0, N, bias_ptr, stride_bias, alpha,
                       beta, HAS_BIAS, HAS_CIN, ACTIVATION, STORE_Z, SPLIT_K, BLOCK_M, BLOCK_N // 2, EPILOGUE_N)
        _epilogue_half(acc1, c_desc, cin_desc, z_desc, slab, pid_b, row0, col0 + BLOCK_N // 2, N, bias_ptr,
                       stride_bias, alpha, beta, HAS_BIAS, HAS_CIN, ACTIVATION, STORE_Z, SPLIT_K, BLOCK_M,
                       BLOCK_N // 2, EPILOGUE_N)


@triton.jit
def _epilogue_half(acc, c_desc, cin_desc, z_desc, slab, pid_b, row0, col0, N, bias_ptr, stride_bias, alpha, beta,
                   HAS_BIAS: tl.constexpr, HAS_CIN: tl.constexpr, ACTIVATION: tl.constexpr, STORE_Z: tl.constexpr,
                   SPLIT_K: tl.constexpr, BLOCK_M: tl.constexpr, HALF_N: tl.constexpr, EPILOGUE_N: tl.constexpr):
    """Finish (or, with SPLIT_K > 1, store the fp32 partial of) a (BLOCK_M, HALF_N) half tile, in two
    quarters when EPILOGUE_N is half of it."""
    if EPILOGUE_N < HALF_N:
        q0, q1 = acc.reshape(BLOCK_M, 2, EPILOGUE_N).permute(0, 2, 1).split()
        _epilogue_half(q0, c_desc, cin_desc, z_desc, slab, pid_b, row0, col0, N, bias_ptr, stride_bias, alpha, beta,
                       HAS_BIAS, HAS_CIN, ACTIVATION, STORE_Z, SPLIT_K, BLOCK_M, EPILOGUE_N, EPILOGUE_N)
        _epilogue_half(q1, c_desc, cin_desc, z_desc, slab, pid_b, row0, col0 + EPILOGUE_N, N, bias_ptr, stride_bias,
                       alpha, beta, HAS_BIAS, HAS_CIN, ACTIVATION, STORE_Z, SPLIT_K, BLOCK_M, EPILOGUE_N, EPILOGUE_N)
    elif SPLIT_K == 1:
        _finish(acc, c_desc, cin_desc, z_desc, pid_b, row0, col0, N, bias_ptr, stride_bias, alpha, beta, HAS_BIAS,
                HAS_CIN, ACTIVATION, STORE_Z, BLOCK_M, HALF_N)
    else:
        c_desc.store([slab, row0, col0], acc.reshape(1, BLOCK_M, HALF_N))

# ---------------------------------------------------------------- configs
def _config(bm: int, bn: int, bk: int, warps: int, stages: int, split_k: int = 1) -> dict:
    return dict(BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, GROUP_M=8, SPLIT_K=split_k, num_warps=warps,
                num_stages=stages)


# kernels/matmul.py's shape classes on the TMA path. Every operand is aligned here, and the epilogue
# works on half tiles through descriptors, so wide tiles compile without spills for every epilogue (the
# pointer kernel's configs must also survive unaligned operands). One warpgroup (4 warps) per 64 rows.
HEURISTIC = {
    "float16": dict(
        big=_config(128, 256, 64, 8, 3),
        medium=_config(128, 128, 64, 8, 4),
        small_m=_config(64, 128, 128, 4, 3),  # M <= 32: 64 rows is wgmma's smallest tile; long K steps
        small_n=_config(128, 32, 128, 4, 4),  # N <= 32
        split=_config(64, 64, 128, 4, 4),  # + SPLIT_K
    ),
    "float32": dict(  # tf32 tensor cores: 4-byte operands, so half the K step
        big=_config(128, 128, 32, 8, 4),
        medium=_config(64, 128, 32, 4, 4),
        small_m=_config(64, 64, 64, 4, 4),
        small_n=_config(128, 32, 64, 4, 4),
        split=_config(64, 64, 64, 4, 4),
    ),
}
HEURISTIC["bfloat16"] = HEURISTIC["float16"]


def config_space(dtype_name: str, mode: str = "default") -> list[dict]:
    """The TMA path's candidates: "default" (the heuristic's configs, the wide tiles, two split-K) or "max"."""
    table = HEURISTIC[dtype_name]
    wide = dtype_name == "float32"
    if mode == "default":
        extra = [_config(128, 128, 64, 8, 3), _config(256, 64, 32, 8, 4), _config(64, 256, 32, 4, 4),
                 _config(128, 256, 32, 8, 3)] if wide else [
            _config(128, 256, 64, 8, 4), _config(256, 128, 64, 8, 3), _config(128, 128, 64, 8, 3),
            _config(128, 128, 64, 4, 4), _config(64, 256, 64, 4, 4), _config(128, 64, 64, 4, 4)]
        return ([dict(table[k]) for k in ("big", "medium", "small_m", "small_n")] + extra
                + [{**table["split"], "SPLIT_K": s} for s in (4, 16)])
    itemsize = 4 if wide else 2
    space = []
    for bm, bn, bk, stages, warps in itertools.product((64, 128, 256), (32, 64, 128, 256), (32, 64, 128),
                                                      (2, 3, 4, 5), (4, 8)):
        smem = stages * (bm + bn) * bk * itemsize + bm * bn // 2 * 4  # pipeline + C's half-tile staging
        if bm * bn <= 128 * 256 and warps * 16 <= bm and smem <= 220 * 1024:
            space.append(_config(bm, bn, bk, warps, stages))
    return space + [_config(bm, bn, bk, 4, 4, split) for (bm, bn), bk, split in itertools.product(
        ((64, 64), (64, 128), (128, 64)), (32, 64, 128) if not wide else (32, 64), (2, 4, 8, 16))]


# ---------------------------------------------------------------- which path a launch takes
def device_arch() -> int:
    """The current GPU's compute capability as 10 * major + minor (90 on an H100).

    Under Triton's interpreter: 90, since the interpreter runs tensor descriptors, so tests run the TMA
    kernel there.
    """
    if os.environ.get("TRITON_INTERPRET", "0") == "1":
        return 90
    driver = triton.runtime.driver.active
    device = driver.get_current_device()
    arch = _ARCH.get(device)
    if arch is None:
        major, minor = driver.get_device_capability(device)
        arch = _ARCH[device] = 10 * major + minor
    return arch


_ARCH: dict[int, int] = {}


def descriptor_view(arr: DeviceArray, transposable: bool = False) -> tuple[int, int, int, bool] | None:
    """How a tensor descriptor sees a (batch, rows, cols) array: (batch count, batch stride, row stride,
    transposed), or None when no descriptor can describe it.

    A descriptor needs a 16-byte aligned base, a contiguous last dim and 16-byte multiples for the other
    strides. `transposable` (an operand, which the kernel can read either way round) also accepts a
    contiguous middle dim: the array is then described as (batch, cols, rows), `transposed` True. A batch
    stride of 0 (broadcast) becomes a batch count of 1; the stride of a size-1 dim is free, so it gets
    one that satisfies the rules.
    """
    itemsize = arr.dtype.itemsize
    if arr.data_ptr() % 16:
        return None
    batch, rows, cols = arr.shape
    sb, sr, sc = arr.strides
    layouts = [(rows, sr, cols, sc, False)] + ([(cols, sc, rows, sr, True)] if transposable else [])
    for outer, s_outer, inner, s_inner, transposed in layouts:
        if inner > 1 and s_inner != 1:
            continue
        if outer == 1:
            s_outer = -(-inner * itemsize // 16) * 16 // itemsize  # the inner dim rounded up to 16 bytes
        if s_outer <= 0 or (s_outer * itemsize) % 16 or s_outer >= MAX_STRIDE:
            continue
        if batch == 1 or sb == 0:
            return 1, outer * s_outer, s_outer, transposed
        if sb > 0 and (sb * itemsize) % 16 == 0 and sb < MAX_STRIDE:
            return batch, sb, s_outer, transposed
    return None


def choose_path(arch: int, out: DeviceArray, a: DeviceArray, b: DeviceArray, c_in: DeviceArray | None = None,
                fma: bool = False) -> str:
    """"tma" where the GPU has the Tensor Memory Accelerator (sm_90+) and every matrix the kernel reads or
    writes through a descriptor allows one (see `descriptor_view`); "ptr" (kernels/matmul.py's cp.async
    pipeline) otherwise. A pure function of the capability and the arrays' addresses and strides.

    N % 4 == 0 keeps split-K's contiguous fp32 scratch rows 16-byte aligned too. `fma`: fp32 operands
    without TF32, which run on the FMA units: no tensor cores to feed, and the descriptor kernel's
    shared-memory operands spill there, so they keep the pointer kernel.
    """
    if arch < 90 or fma or out.shape[-1] % 4:
        return "ptr"
    views = [descriptor_view(a, True), descriptor_view(b, True), descriptor_view(out)]
    if c_in is not None:
        views.append(descriptor_view(c_in))
    return "tma" if all(v is not None for v in views) else "ptr"


def workspace_shape(config: dict, batch: int, M: int, N: int) -> tuple[int]:
    """Bytes (uint8) of global memory a TMA launch needs for its programs' tensor maps."""
    return (grid_size(config, batch, M, N) * WORKSPACE_PER_PROGRAM,)


def grid_size(config: dict, batch: int, M: int, N: int) -> int:
    """Programs of a persistent launch: one per SM, fewer when there are fewer work items."""
    items = batch * config.get("SPLIT_K", 1) * triton.cdiv(M, config["BLOCK_M"]) * triton.cdiv(N, config["BLOCK_N"])
    return max(1, min(tuning.sm_count(), items))


class _Workspace:
    """The allocator Triton calls at launch for the kernel's global scratch: hands out the caller's buffer."""

    def __init__(self, buffer: DeviceArray | None):
        self.buffer = buffer

    def __call__(self, size: int, alignment: int, stream) -> DeviceArray:
        have = 0 if self.buffer is None else self.buffer.shape[0] * self.buffer.dtype.itemsize
        if size > have or (self.buffer is not None and self.buffer.data_ptr() % alignment):
            raise ValueError(f"the TMA matmul needs a {size}-byte workspace aligned to {alignment} "
                             f"(workspace_shape), got {have} bytes")
        return self.buffer


def launch_tma(out: DeviceArray, a: DeviceArray, b: DeviceArray, bias: DeviceArray | None, c_in: DeviceArray | None,
               alpha: float, beta: float, epilogue: dict, precision: str, cfg: dict,
               scratch: DeviceArray | None, workspace: DeviceArray | None, z: DeviceArray | None = None) -> None:
    """One launch of matmul_tma_kernel with `cfg` (kernels/matmul.py's `matmul` checks the arguments;
    choose_path said "tma"). With SPLIT_K > 1 the kernel fills `scratch` and returns: the caller reduces."""
    batch, M, N = out.shape
    K = a.shape[2]
    split = cfg.get("SPLIT_K", 1)
    dest = out if split == 1 else scratch.view_as((split * batch, M, N), (M * N, N, 1), scratch.offset)
    (batch_a, sab, sar, a_t), (batch_b, sbb, sbr, b_t) = descriptor_view(a, True), descriptor_view(b, True)
    _, scb, scm, _ = descriptor_view(dest)
    _, scinb, scinm, _ = descriptor_view(c_in) if c_in is not None else (1, 0, 0, False)
    if not _interpreted():  # the interpreter's descriptors need no global memory
        triton.set_allocator(_Workspace(workspace))
    matmul_tma_kernel[(grid_size(cfg, batch, M, N),)](
        dest, a, b, bias if bias is not None else out, c_in if c_in is not None else out,
        z if z is not None and split == 1 else dest, M, N, K, batch,
        batch_a, sab, sar, batch_b, sbb, sbr, scb, scm, bias.strides[0] if bias is not None else 0, scinb, scinm,
        float(alpha), float(beta), **(epilogue if split == 1 else dict(HAS_BIAS=False, HAS_CIN=False,
                                                                        ACTIVATION="none", STORE_Z=False)),
        INPUT_PRECISION=precision, A_T=a_t, B_T=b_t, **{**cfg, "SPLIT_K": split})


def _interpreted() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


# ---------------------------------------------------------------- AOT / tuner declarations
def _signature(dtype: str, out_dtype: str) -> dict[str, str]:
    sig = {"c_ptr": f"*{out_dtype}", "a_ptr": f"*{dtype}", "b_ptr": f"*{dtype}", "bias_ptr": f"*{dtype}",
           "cin_ptr": f"*{dtype}", "z_ptr": f"*{out_dtype}"}
    sig.update(dict.fromkeys(("M", "N", "K", "batch", "batch_a", "stride_ab", "stride_a_row", "batch_b", "stride_bb",
                              "stride_b_row", "stride_cb", "stride_cm", "stride_bias", "stride_cinb", "stride_cinm"),
                             "i32"), alpha="fp32", beta="fp32")
    return sig


def _spec(variant: str, dtype: str, precision: str, consts: dict, split: bool = False) -> KernelSpec:
    short = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32"}[dtype]
    table = HEURISTIC[dtype]
    shipped = ([{**table["split"], "SPLIT_K": s} for s in SPLIT_K_CHOICES] if split else
               [dict(table[k]) for k in ("big", "medium", "small_m", "small_n")])
    space = [c for c in config_space(dtype) if (c["SPLIT_K"] > 1) == split]
    # "@sm_90": the descriptor kernel runs on sm_90+ only; on sm_80 Triton lowers descriptors to plain
    # loads (no TMA, no pipeline), which says nothing about what runs, so this spec is for sm_90 alone.
    return KernelSpec(f"matmul_tma[{variant}{':splitk' if split else ''}]@sm_90", matmul_tma_kernel,
                      _signature(short, "fp32" if split else short), {**consts, "INPUT_PRECISION": precision},
                      shipped, space, tensor_cores=True, targets=("sm_90",))


_PLAIN = dict(HAS_BIAS=False, HAS_CIN=False, ACTIVATION="none", STORE_Z=False, A_T=False, B_T=False)
_VARIANTS = (("fp16", "float16", "ieee"), ("bf16", "bfloat16", "ieee"), ("fp32:tf32", "float32", "tf32"))

# No fp32 IEEE spec: choose_path sends FMA matmuls to the pointer kernel.
SPECS = [_spec(v, dt, prec, _PLAIN, split) for v, dt, prec in _VARIANTS for split in (False, True)] + [
    # the heaviest epilogue of each variant, B as a Linear weight (W^T: K contiguous), as in linear/addmm
    _spec(f"{v}:addmm+bias+gelu", dt, prec, dict(HAS_BIAS=True, HAS_CIN=True, ACTIVATION="gelu", STORE_Z=False,
                                                 stride_bias=1, A_T=False, B_T=True))
    for v, dt, prec in _VARIANTS
] + [  # a fused linear + activation in training: the pre-activation z stored beside the output
    _spec(f"{v}:linear+gelu+z", dt, prec, dict(HAS_BIAS=True, HAS_CIN=False, ACTIVATION="gelu", STORE_Z=True,
                                               stride_bias=1, A_T=False, B_T=True))
    for v, dt, prec in _VARIANTS
] + [  # A transposed (dB = A^T @ dC in the backward) with a bias + activation epilogue
    _spec("fp16:bias+silu:transposed", "float16", "ieee",
          dict(HAS_BIAS=True, HAS_CIN=False, ACTIVATION="silu", STORE_Z=False, stride_bias=1, A_T=True,
                B_T=False)),
]
