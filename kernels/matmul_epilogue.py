"""The pieces both matmul kernels share: operand fix-up for the interpreter, the fused epilogue
`act(alpha * acc + beta * C_in + bias)` and its activations, and pointers to a tile of a batched array.

kernels/matmul.py (pointer loads, cp.async on sm_80) and kernels/matmul_tma.py (tensor descriptors,
sm_90) apply exactly the same epilogue, so their results agree bit for bit on the same accumulator.
"""

from __future__ import annotations

import os

import triton
import triton.language as tl

from .strided import cast_to

# The interpreter multiplies bf16 blocks as their raw uint16 bits, so interpreted dots upcast bf16
# first; compiled kernels feed bf16 straight to the tensor cores.
INTERPRETED = tl.constexpr(os.environ.get("TRITON_INTERPRET", "0") == "1")

ACTIVATIONS = ("none", "relu", "gelu", "gelu_tanh", "silu")
SPLIT_K_CHOICES = (2, 4, 8, 16)  # the K slices heuristic split-K configs use (both kernels)


@triton.jit
def dot_operand(x):
    """x as tl.dot should see it: bf16 upcast to fp32 under the interpreter, unchanged when compiled."""
    if INTERPRETED:
        if x.dtype.is_bf16():
            return x.to(tl.float32)
        else:
            return x
    else:
        return x


@triton.jit
def activate(x, ACTIVATION: tl.constexpr):
    """One of ACTIVATIONS on an fp32 block."""
    if ACTIVATION == "relu":
        return tl.maximum(x, 0.0)
    elif ACTIVATION == "gelu":
        return 0.5 * x * (1.0 + tl.erf(x * 0.7071067811865476))
    elif ACTIVATION == "gelu_tanh":
        # 0.5 * (1 + tanh(u)) == sigmoid(2u): one exp instead of a tanh tl lacks
        return x * tl.sigmoid(1.5957691216057308 * (x + 0.044715 * x * x * x))
    elif ACTIVATION == "silu":
        return x * tl.sigmoid(x)
    else:
        return x


@triton.jit
def tile_ptrs(ptr, pid_b, row0, col0, stride_b, stride_r, stride_c, BLOCK_R: tl.constexpr,
              BLOCK_C: tl.constexpr):
    """Pointers to the (BLOCK_R, BLOCK_C) tile at (row0, col0) of batch entry pid_b.

    The tile origin is 64-bit (an array may exceed 2**31 elements); offsets inside the tile stay 32-bit,
    which keeps epilogue register pressure down (the wrapper checks BLOCK * stride < 2**31).
    """
    origin = ptr + pid_b.to(tl.int64) * stride_b + row0.to(tl.int64) * stride_r + col0.to(tl.int64) * stride_c
    return origin + tl.arange(0, BLOCK_R)[:, None] * stride_r + tl.arange(0, BLOCK_C)[None, :] * stride_c


@triton.jit
def epilogue(acc, row0, col0, offs_n, mask, N, pid_b, bias_ptr, stride_bias, cin_ptr, stride_cinb,
             stride_cinm, stride_cinn, alpha, beta, HAS_BIAS: tl.constexpr, HAS_CIN: tl.constexpr,
             ACTIVATION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, z_ptr, stride_zb,
             stride_zm, stride_zn, STORE_Z: tl.constexpr):
    """act(alpha * acc + beta * C_in + bias) in fp32 on the (BLOCK_M, BLOCK_N) tile at (row0, col0).

    With STORE_Z the pre-activation z is stored too (in z_ptr's dtype): a fused linear + activation's
    backward needs act'(z), and writing z here saves the launch that would recompute it.
    """
    acc = acc * alpha
    if HAS_CIN:
        cin_ptrs = tile_ptrs(cin_ptr, pid_b, row0, col0, stride_cinb, stride_cinm, stride_cinn, BLOCK_M, BLOCK_N)
        acc += beta * tl.load(cin_ptrs, mask=mask, other=0.0).to(tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_n * stride_bias, mask=offs_n < N, other=0.0)
        acc += bias.to(tl.float32)[None, :]
    if STORE_Z:
        z_ptrs = tile_ptrs(z_ptr, pid_b, row0, col0, stride_zb, stride_zm, stride_zn, BLOCK_M, BLOCK_N)
        tl.store(z_ptrs, cast_to(acc, z_ptr.dtype.element_ty), mask=mask)
    return activate(acc, ACTIVATION)
