"""The backward of a fused linear + activation (kernels/matmul.py's epilogue with ACTIVATION): one pass
computing dz = grad * act'(z) and, in the same pass, the bias gradient's column sums.

y = act(z), z = x @ W^T + b. The forward's matmul launch stored what act' needs: y itself for relu (the
mask is y > 0), the pre-activation z for gelu / gelu_tanh / silu (STORE_Z). The backward is then this
kernel and the two products dx = dz @ W, dW = dz^T @ x: an unfused graph would launch the activation's
backward kernel and a separate column sum for db as well.

Grid: (column blocks, row slabs). A program walks its slab of rows in BLOCK_M steps over BLOCK_N
contiguous columns (128-bit accesses), writes dz and keeps fp32 column sums in registers; the slab's sums
go to row p of a (P, N) partial buffer (`partial_rows`), which kernels/norm_rows.py's fixed-order
`col_sum` reduces when P > 1 (P == 1 writes db directly, in its dtype). Deterministic: no atomics.
"""

from __future__ import annotations

import math

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .strided import cast_to
from .tuning import Cost, Tunable, next_pow2

ACTIVATIONS = ("relu", "gelu", "gelu_tanh", "silu")  # relu reads the output, the others the pre-activation
SLAB = 64  # rows of a slab are a multiple of this (every config's BLOCK_M divides it)
_SQRT_HALF = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_BETA2 = 1.5957691216057308  # 2 * sqrt(2 / pi): gelu_tanh's sigmoid(2u) form, as the forward epilogue
_KAPPA = 0.044715
# The integer of each float's width, for the relu gradient's bitwise select (act_grad_ref).
_SAME_WIDTH_INT = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}


@triton.jit
def act_derivative(a, ACTIVATION: tl.constexpr):
    """act'(z) in fp32 from what the forward saved: y for relu (1 where y > 0), z for the others."""
    if ACTIVATION == "relu":
        return tl.where(a > 0.0, 1.0, 0.0)
    elif ACTIVATION == "gelu":  # the literals are _SQRT_HALF and _INV_SQRT_2PI (compiled kernels take no globals)
        cdf = 0.5 * (1.0 + tl.erf(a * 0.7071067811865476))
        return cdf + a * (tl.exp(-0.5 * a * a) * 0.3989422804014327)
    elif ACTIVATION == "gelu_tanh":  # _BETA2 and _KAPPA
        s = tl.sigmoid(1.5957691216057308 * (a + 0.044715 * a * a * a))
        return s + a * (s * (1.0 - s)) * (1.5957691216057308 * (1.0 + 3.0 * 0.044715 * a * a))
    else:  # silu
        s = tl.sigmoid(a)
        return s * (1.0 + a * (1.0 - s))


@fast_jit
def act_grad_kernel(
    dz_ptr,  # (M, N) result, contiguous
    g_ptr,  # (M, N) incoming gradient, any strides
    a_ptr,  # (M, N) saved y (relu) or z, contiguous
    db_ptr,  # (P, N) fp32 column-sum partials, or (N,) db itself when P == 1 (written only when NEED_DB)
    M, N,  # rows, columns
    sgm, sgn,  # grad strides
    slab,  # rows per program along axis 1 (a multiple of BLOCK_M)
    ACTIVATION: tl.constexpr,  # one of ACTIVATIONS
    NEED_DB: tl.constexpr,  # accumulate the column sums of dz
    BLOCK_M: tl.constexpr,  # rows per step
    BLOCK_N: tl.constexpr,  # columns per program
):
    cols = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    col_mask = cols < N
    pid_m = tl.program_id(1)
    row0 = pid_m * slab
    row_end = tl.minimum(row0 + slab, M)
    acc = tl.zeros((BLOCK_M, BLOCK_N), tl.float32)
    for start in range(row0, row_end, BLOCK_M):
        rows = start + tl.arange(0, BLOCK_M)
        mask = (rows < row_end)[:, None] & col_mask[None, :]
        r64 = rows.to(tl.int64)[:, None]
        g = tl.load(g_ptr + r64 * sgm + cols[None, :] * sgn, mask=mask, other=0.0).to(tl.float32)
        a = tl.load(a_ptr + r64 * N + cols[None, :], mask=mask, other=0.0).to(tl.float32)
        dz = g * act_derivative(a, ACTIVATION)
        tl.store(dz_ptr + r64 * N + cols[None, :], cast_to(dz, dz_ptr.dtype.element_ty), mask=mask)
        if NEED_DB:
            acc += tl.where(mask, dz, 0.0)
    if NEED_DB:
        tl.store(db_ptr + pid_m.to(tl.int64) * N + cols, cast_to(tl.sum(acc, axis=0), db_ptr.dtype.element_ty),
                 mask=col_mask)


# ---------------------------------------------------------------- configs and launch
_SPACE = [dict(BLOCK_M=16, BLOCK_N=128, num_warps=4), dict(BLOCK_M=8, BLOCK_N=256, num_warps=4),
          dict(BLOCK_M=32, BLOCK_N=64, num_warps=4), dict(BLOCK_M=32, BLOCK_N=128, num_warps=8)]
_WIDEST = max(c["BLOCK_N"] for c in _SPACE)
# Without db (conv's backward) the 16x128 tile spills on sm_80 for fp16 relu (unaligned build): 32x64 does not.
_NO_DB_CONFIG = _SPACE[2]
ACT_GRAD_TUNING = Tunable("linear_act.act_grad", _SPACE, lambda key: dict(_SPACE[0] if key[-1] else _NO_DB_CONFIG),
                          lambda M, N, itemsize: Cost(3.0 * M * N * itemsize, 20.0 * M * N))


def partial_rows(M: int, N: int) -> int:
    """Row slabs (P) of an (M, N) act_grad launch: about two programs per SM over the column blocks of the
    narrowest config, each slab a multiple of SLAB rows. P == 1: db is written directly."""
    slabs = max(1, min(math.ceil(M / SLAB), 2 * tuning.sm_count() // math.ceil(N / _WIDEST)))
    return math.ceil(M / slab_rows(M, slabs))


def slab_rows(M: int, slabs: int) -> int:
    """Rows per slab for `slabs` slabs over M rows, rounded up to a multiple of SLAB."""
    return max(SLAB, math.ceil(math.ceil(M / max(slabs, 1)) / SLAB) * SLAB)


def act_grad(dz: DeviceArray, grad: DeviceArray, saved: DeviceArray, db: DeviceArray | None,
             activation: str) -> None:
    """dz = grad * act'(saved) over (M, N); db (partial_rows(M, N), N) fp32 partials, or (N,) when that is 1,
    receives the column sums of dz (None: not needed). dz and saved contiguous; grad any strides."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    M, N = dz.shape
    if dz.strides != (N, 1) or saved.strides != (N, 1) or saved.shape != (M, N) or grad.shape != (M, N):
        raise ValueError(f"act_grad: dz and saved must be contiguous (M, N) = {(M, N)}; got {dz.strides}, "
                         f"{saved.shape} {saved.strides}, grad {grad.shape}")
    if M == 0 or N == 0:
        return
    P = partial_rows(M, N)
    slab = slab_rows(M, P)

    def run(cfg):
        act_grad_kernel[(triton.cdiv(N, cfg["BLOCK_N"]), P)](
            dz, grad, saved, db if db is not None else dz, M, N, *grad.strides, slab, ACTIVATION=activation,
            NEED_DB=db is not None, **cfg)

    key = (activation, grad.dtype.name, next_pow2(M), next_pow2(N), grad.strides[1] == 1, db is not None)
    tuning.launch(ACT_GRAD_TUNING, key, dict(M=M, N=N, itemsize=dz.dtype.itemsize), run)


# ---------------------------------------------------------------- NumPy reference
def act_grad_ref(grad: np.ndarray, saved: np.ndarray, activation: str) -> np.ndarray:
    """grad * act'(saved) in the compute type (fp32 for 16-bit, else the input's), as the kernel. Two (M, N)
    working arrays, updated in place (the cpu path's speed is memory traffic)."""
    dtype = grad.dtype
    if activation == "relu" and saved.dtype is dtype and dtype.itemsize >= 4:  # the casts below would be no-ops
        bits = _SAME_WIDTH_INT.get(dtype)
        if (bits is not None and grad.ndim and grad.shape == saved.shape and grad.flags.c_contiguous
                and saved.flags.c_contiguous):  # (a 0-d comparison gives a NumPy scalar, not an array)
            # np.where(saved > 0, grad, 0) bit for bit (NaN, inf and -0.0 kept where saved > 0, +0.0 elsewhere),
            # as an AND of grad's bits with an all-ones / all-zeros mask: ~2x faster than where's select
            mask = np.greater(saved, 0).view(np.int8).astype(bits)
            np.negative(mask, out=mask)
            np.bitwise_and(grad.view(bits), mask, out=mask)
            return mask.view(dtype)
        return np.where(saved > 0, grad, dtype.type(0))
    ct = np.float32 if dtype.itemsize < 4 else dtype.type
    g, a = grad.astype(ct, copy=False), saved.astype(ct, copy=False)
    if activation == "relu":
        return np.where(a > 0, g, ct(0))
    with np.errstate(over="ignore"):
        if activation == "gelu":
            from scipy.special import erf

            d = np.multiply(a, ct(_SQRT_HALF))
            erf(d, out=d)
            d += 1
            d *= ct(0.5)  # the normal cdf
            p = np.multiply(a, a)
            p *= ct(-0.5)
            np.exp(p, out=p)
            p *= ct(_INV_SQRT_2PI)
            p *= a  # a * pdf
            d += p
        else:
            u = np.multiply(a, a)
            if activation == "gelu_tanh":
                u *= ct(_KAPPA)
                u += 1
                u *= a
                u *= ct(-_BETA2)  # -2 * sqrt(2/pi) * (a + kappa a^3)
            else:
                np.negative(a, out=u)
            np.exp(u, out=u)
            u += 1
            np.reciprocal(u, out=u)  # s = sigmoid(...)
            d = np.subtract(1, u, dtype=ct)
            d *= u  # s (1 - s)
            d *= a
            if activation == "gelu_tanh":
                d *= ct(_BETA2) * (1 + ct(3 * _KAPPA) * a * a)
            d += u  # silu: s + a s (1 - s); gelu_tanh: s + a s (1 - s) 2 sqrt(2/pi) (1 + 3 kappa a^2)
        d *= g
    return d


# ---------------------------------------------------------------- AOT / tuner declarations
# NEED_DB=False: conv's backward (its bias sums per channel, not per column of the rows this kernel sees).
SPECS = [
    KernelSpec(f"linear_act.act_grad[{dt}:{act}{'' if need_db else ':nodb'}]", act_grad_kernel,
               dict(dz_ptr=f"*{dt}", g_ptr=f"*{dt}", a_ptr=f"*{dt}", db_ptr="*fp32", M="i32", N="i32", sgm="i32",
                    sgn="i32", slab="i32"),
               dict(ACTIVATION=act, NEED_DB=need_db), [dict(_SPACE[0] if need_db else _NO_DB_CONFIG)],
               [dict(c) for c in _SPACE],
               unit_args=("sgn",))
    for dt in ("fp32", "fp16", "bf16") for act in ACTIVATIONS for need_db in (True, False)
]
