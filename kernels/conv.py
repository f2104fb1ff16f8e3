"""Convolution as implicit GEMM: forward, input gradient and weight gradient, never writing im2col.

Every kernel works on the 3-D spatial form: x (N, C, D, H, W), w (O, C // groups, KD, KH, KW),
y (N, O, OD, OH, OW), any strides; conv1d/conv2d pass leading spatial dims of size 1, which the JIT
turns into constants, so the extra index math folds away. Grid axis 1 is the group.

- `conv_fwd_kernel`: rows = output pixels (n, od, oh, ow), columns = output channels of the group,
  K = (ci, kd, kh, kw). Each BLOCK_M x BLOCK_K tile of the im2col matrix is gathered straight from x
  (out-of-image taps masked to zero), the weight tile is a plain strided load, `tl.dot` accumulates in
  fp32 (fp64 for float64), the bias is fused, and so is an activation (matmul_epilogue.activate: a fused
  conv + relu/gelu/silu); with STORE_Z the pre-activation z is stored too (what act'(z) needs in backward).
- `conv_dgrad_kernel`: rows = input pixels, columns = input channels, K = (co, kd, kh, kw); a tap
  reads dy at od = (id + pad - kd * dil) / stride only where that division is exact and in range. It is
  also conv_transpose's forward (with its bias fused).
- `conv_wgrad_kernel`: rows = output channels, columns = (ci, kd, kh, kw), K = output pixels; the long
  K is cut into SPLIT_K slices whose fp32 partials `sum_slices_kernel` adds in a fixed order.

Offsets inside the kernels are 32-bit: the wrappers reject operands spanning 2**31 elements or more.
A config is a dict: BLOCK_M, BLOCK_N, BLOCK_K, GROUP_M, SPLIT_K, num_warps, num_stages.
"""

from __future__ import annotations

import triton
import triton.language as tl

from .launcher import fast_jit
from .matmul_epilogue import activate as _activate
from .matmul_epilogue import dot_operand as _dot_operand
from .strided import cast_to

DTYPES = ("float16", "bfloat16", "float32", "float64")
SUM_CONFIG = dict(BLOCK=1024, num_warps=4)
SUM_SINGLE = "one memory-bound pass over the split-K slices, timed inside each weight-gradient config it serves"


# ---------------------------------------------------------------- index helpers
@triton.jit
def _pixel(m, OD, OH, OW):
    """Row index -> (n, od, oh, ow) of an (N, OD, OH, OW) grid."""
    ow = m % OW
    t = m // OW
    oh = t % OH
    t = t // OH
    return t // OD, t % OD, oh, ow


@triton.jit
def _tap(k, KD, KH, KW):
    """K index -> (channel, kd, kh, kw) of a (C, KD, KH, KW) filter."""
    kw = k % KW
    t = k // KW
    kh = t % KH
    t = t // KH
    return t // KD, t % KD, kh, kw


@triton.jit
def _tile(M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, GROUP_M: tl.constexpr):
    """(row0, col0) of this program's tile, GROUP_M tile rows swept together so they share column tiles in L2."""
    pid = tl.program_id(0)
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    in_group = GROUP_M * num_pid_n
    first_m = (pid // in_group) * GROUP_M
    size_m = min(num_pid_m - first_m, GROUP_M)
    pid_m = first_m + ((pid % in_group) % size_m)
    pid_n = (pid % in_group) // size_m
    return pid_m * BLOCK_M, pid_n * BLOCK_N


# ---------------------------------------------------------------- the kernels
@fast_jit
def conv_fwd_kernel(
    y_ptr, x_ptr, w_ptr, b_ptr,  # y (N, O, OD, OH, OW) = act(conv(x, w) + b)
    z_ptr,  # the pre-activation conv(x, w) + b, y's strides (written only when STORE_Z)
    M, K, COG, CG,  # M = N*OD*OH*OW, K = CG*KD*KH*KW, channels per group out / in
    ID, IH, IW, OD, OH, OW, KD, KH, KW,  # input, output and filter sizes
    str_d, str_h, str_w, pad_d, pad_h, pad_w, dil_d, dil_h, dil_w,  # convolution parameters
    sxn, sxc, sxd, sxh, sxw,  # x strides
    swo, swc, swd, swh, sww,  # w strides
    syn, syc, syd, syh, syw,  # y strides
    sb,  # bias stride
    HAS_BIAS: tl.constexpr, INPUT_PRECISION: tl.constexpr, ACC: tl.constexpr,
    ACTIVATION: tl.constexpr,  # one of matmul_epilogue.ACTIVATIONS ("none": a plain convolution)
    STORE_Z: tl.constexpr,  # also store the pre-activation to z_ptr
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
    SPLIT_K: tl.constexpr,  # always 1 here (one config dict serves all three kernels)
):
    """y = act(conv(x, w) + b): one BLOCK_M (output pixels) x BLOCK_N (output channels) tile per program."""
    g = tl.program_id(1)
    row0, col0 = _tile(M, COG, BLOCK_M, BLOCK_N, GROUP_M)
    # Rows/columns past the edge wrap onto valid ones: loads need no M/N mask, the store drops them.
    m = row0 + tl.arange(0, BLOCK_M) % (M - row0)
    co = col0 + tl.arange(0, BLOCK_N) % (COG - col0)
    n, od, oh, ow = _pixel(m, OD, OH, OW)
    x_row = n * sxn + g * CG * sxc
    id0 = od * str_d - pad_d
    ih0 = oh * str_h - pad_h
    iw0 = ow * str_w - pad_w
    w_col = (g * COG + co) * swo
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for k0 in range(0, K, BLOCK_K):
        k = k0 + tl.arange(0, BLOCK_K)
        k_ok = k < K
        ci, kd, kh, kw = _tap(k, KD, KH, KW)
        i_d = id0[:, None] + (kd * dil_d)[None, :]
        i_h = ih0[:, None] + (kh * dil_h)[None, :]
        i_w = iw0[:, None] + (kw * dil_w)[None, :]
        a_mask = (k_ok[None, :] & (i_d >= 0) & (i_d < ID) & (i_h >= 0) & (i_h < IH) & (i_w >= 0) & (i_w < IW))
        a = tl.load(x_ptr + x_row[:, None] + (ci * sxc)[None, :] + i_d * sxd + i_h * sxh + i_w * sxw,
                    mask=a_mask, other=0.0)
        b = tl.load(w_ptr + w_col[None, :] + (ci * swc + kd * swd + kh * swh + kw * sww)[:, None],
                    mask=k_ok[:, None], other=0.0)
        acc = tl.dot(_dot_operand(a), _dot_operand(b), acc, input_precision=INPUT_PRECISION, out_dtype=ACC)
    offs_m = row0 + tl.arange(0, BLOCK_M)
    offs_n = col0 + tl.arange(0, BLOCK_N)
    if HAS_BIAS:
        acc += tl.load(b_ptr + (g * COG + co) * sb).to(ACC)[None, :]
    y_off = n * syn + od * syd + oh * syh + ow * syw
    mask = (offs_m < M)[:, None] & (offs_n < COG)[None, :]
    y_tile = y_off[:, None] + ((g * COG + co) * syc)[None, :]
    if STORE_Z:
        tl.store(z_ptr + y_tile, cast_to(acc, z_ptr.dtype.element_ty), mask=mask)
    acc = _activate(acc, ACTIVATION)
    tl.store(y_ptr + y_tile, cast_to(acc, y_ptr.dtype.element_ty), mask=mask)


@fast_jit
def conv_dgrad_kernel(
    dx_ptr, dy_ptr, w_ptr, b_ptr,  # dx (N, C, ID, IH, IW) = conv's input gradient of dy (+ b: conv_transpose)
    M, K, COG, CG,  # M = N*ID*IH*IW, K = COG*KD*KH*KW, channels per group out / in (of the convolution)
    ID, IH, IW, OD, OH, OW, KD, KH, KW,  # input (dx), output (dy) and filter sizes
    str_d, str_h, str_w, pad_d, pad_h, pad_w, dil_d, dil_h, dil_w,  # convolution parameters
    sxn, sxc, sxd, sxh, sxw,  # dx strides
    swo, swc, swd, swh, sww,  # w strides
    syn, syc, syd, syh, syw,  # dy strides
    sb,  # bias stride
    HAS_BIAS: tl.constexpr, INPUT_PRECISION: tl.constexpr, ACC: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
    SPLIT_K: tl.constexpr,  # always 1 here
):
    """dx = conv's input gradient of dy (+ b): one (input pixels) x (input channels) tile per program."""
    g = tl.program_id(1)
    row0, col0 = _tile(M, CG, BLOCK_M, BLOCK_N, GROUP_M)
    m = row0 + tl.arange(0, BLOCK_M) % (M - row0)
    ci = col0 + tl.arange(0, BLOCK_N) % (CG - col0)
    n, i_d, i_h, i_w = _pixel(m, ID, IH, IW)
    y_row = n * syn + g * COG * syc
    w_col = ci * swc + g * COG * swo
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for k0 in range(0, K, BLOCK_K):
        k = k0 + tl.arange(0, BLOCK_K)
        k_ok = k < K
        co, kd, kh, kw = _tap(k, KD, KH, KW)
        # The output pixel tap (kd, kh, kw) of input pixel i reads: (i + pad - k * dil) / stride when exact.
        nd = i_d[:, None] + pad_d - (kd * dil_d)[None, :]
        nh = i_h[:, None] + pad_h - (kh * dil_h)[None, :]
        nw = i_w[:, None] + pad_w - (kw * dil_w)[None, :]
        nd = tl.where(nd >= 0, nd, -str_d)  # negative numerators fail the checks below whatever `//` rounds to
        nh = tl.where(nh >= 0, nh, -str_h)
        nw = tl.where(nw >= 0, nw, -str_w)
        o_d = nd // str_d
        o_h = nh // str_h
        o_w = nw // str_w
        a_mask = (k_ok[None, :] & (o_d >= 0) & (o_d * str_d == nd) & (o_d < OD) & (o_h >= 0) & (o_h * str_h == nh)
                  & (o_h < OH) & (o_w >= 0) & (o_w * str_w == nw) & (o_w < OW))
        a = tl.load(dy_ptr + y_row[:, None] + (co * syc)[None, :] + o_d * syd + o_h * syh + o_w * syw,
                    mask=a_mask, other=0.0)
        b = tl.load(w_ptr + w_col[None, :] + (co * swo + kd * swd + kh * swh + kw * sww)[:, None],
                    mask=k_ok[:, None], other=0.0)
        acc = tl.dot(_dot_operand(a), _dot_operand(b), acc, input_precision=INPUT_PRECISION, out_dtype=ACC)
    offs_m = row0 + tl.arange(0, BLOCK_M)
    offs_n = col0 + tl.arange(0, BLOCK_N)
    if HAS_BIAS:
        acc += tl.load(b_ptr + (g * CG + ci) * sb).to(ACC)[None, :]
    x_off = n * sxn + i_d * sxd + i_h * sxh + i_w * sxw
    mask = (offs_m < M)[:, None] & (offs_n < CG)[None, :]
    tl.store(dx_ptr + x_off[:, None] + ((g * CG + ci) * sxc)[None, :], cast_to(acc, dx_ptr.dtype.element_ty),
             mask=mask)


@fast_jit
def conv_wgrad_kernel(
    dw_ptr, dy_ptr, x_ptr,  # dw (O, CG, KD, KH, KW) of conv for dy and x; with SPLIT_K > 1 (SPLIT_K, O, CG*K) fp32
    M, NC, K, COG, CG,  # M = COG, NC = CG*KD*KH*KW, K = N*OD*OH*OW
    ID, IH, IW, OD, OH, OW, KD, KH, KW,  # input, output and filter sizes
    str_d, str_h, str_w, pad_d, pad_h, pad_w, dil_d, dil_h, dil_w,  # convolution parameters
    sxn, sxc, sxd, sxh, sxw,  # x strides
    swo, swc, swd, swh, sww,  # dw strides (or the scratch's (O, CG*K) strides in swo, sww, the rest unused)
    syn, syc, syd, syh, syw,  # dy strides
    sws,  # scratch stride between split-K slices
    INPUT_PRECISION: tl.constexpr, ACC: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
    SPLIT_K: tl.constexpr,  # K slices; > 1 writes fp32 partials
):
    """dw = conv's weight gradient: one (output channels) x (ci, kd, kh, kw) tile per program and K slice."""
    g = tl.program_id(1)
    pid_k = tl.program_id(2)
    row0, col0 = _tile(M, NC, BLOCK_M, BLOCK_N, GROUP_M)
    co = row0 + tl.arange(0, BLOCK_M) % (M - row0)
    c = col0 + tl.arange(0, BLOCK_N) % (NC - col0)
    ci, kd, kh, kw = _tap(c, KD, KH, KW)
    y_col = (g * COG + co) * syc
    x_col = (g * CG + ci) * sxc
    k_steps = tl.cdiv(tl.cdiv(K, BLOCK_K), SPLIT_K)
    k_begin = pid_k * k_steps * BLOCK_K
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for step in range(0, k_steps):
        k = k_begin + step * BLOCK_K + tl.arange(0, BLOCK_K)
        k_ok = k < K
        n, od, oh, ow = _pixel(k, OD, OH, OW)
        a = tl.load(dy_ptr + y_col[:, None] + (n * syn + od * syd + oh * syh + ow * syw)[None, :],
                    mask=k_ok[None, :], other=0.0)
        i_d = (od * str_d - pad_d)[:, None] + (kd * dil_d)[None, :]
        i_h = (oh * str_h - pad_h)[:, None] + (kh * dil_h)[None, :]
        i_w = (ow * str_w - pad_w)[:, None] + (kw * dil_w)[None, :]
        b_mask = (k_ok[:, None] & (i_d >= 0) & (i_d < ID) & (i_h >= 0) & (i_h < IH) & (i_w >= 0) & (i_w < IW))
        b = tl.load(x_ptr + (n * sxn)[:, None] + x_col[None, :] + i_d * sxd + i_h * sxh + i_w * sxw,
                    mask=b_mask, other=0.0)
        acc = tl.dot(_dot_operand(a), _dot_operand(b), acc, input_precision=INPUT_PRECISION, out_dtype=ACC)
    offs_m = row0 + tl.arange(0, BLOCK_M)
    offs_n = col0 + tl.arange(0, BLOCK_N)
    mask = (offs_m < M)[:, None] & (offs_n < NC)[None, :]
    if SPLIT_K == 1:
        w_off = ((g * COG + co) * swo)[:, None] + (ci * swc + kd * swd + kh * swh + kw * sww)[None, :]
        tl.store(dw_ptr + w_off, cast_to(acc, dw_ptr.dtype.element_ty), mask=mask)
    else:
        w_off = ((g * COG + co) * swo)[:, None] + (c * sww)[None, :]
        tl.store(dw_ptr + pid_k * sws + w_off, acc, mask=mask)


@fast_jit
def sum_slices_kernel(out_ptr, part_ptr, numel, split, stride_s, BLOCK: tl.constexpr):
    """out (contiguous, numel) = the sum of split fp32 slices, added in a fixed order (deterministic)."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < numel
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for s in range(0, split):
        acc += tl.load(part_ptr + s * stride_s + offs, mask=mask, other=0.0)
    tl.store(out_ptr + offs, cast_to(acc, out_ptr.dtype.element_ty), mask=mask)
