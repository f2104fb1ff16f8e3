"""Batch normalisation, forward and backward: per-channel statistics over (N, spatial), then one fused pass.

Every operand is handed as a (N, C, S) view: the spatial dims collapse to S (an (N, C) input is the
(1, C, N) view, its batch being the reduced axis). Two layouts reach the kernels:
  planar         NCHW-contiguous: each channel is N runs of S contiguous elements;
  channel-inner  channels-last, or an (N, C) input: channels are contiguous, and N and S merge into one
                 reduced axis L of stride C (`batch_norm_launch.reduce_views`), so the view is (1, C, L).
Other strides run through the same kernels (every stride is an argument); only spatial dims that do not
collapse to one stride are copied to contiguous first (by the op layer).

Forward, training (three launches whatever the shape):
  `bn_stats_kernel`     grid (channel blocks, chunks): each program reduces a chunk of its channels' N x S
                        elements with per-lane Welford updates, merges its lanes (count-weighted mean, then
                        M2 around it: Chan et al.) and writes a (mean, M2, count) partial per channel;
  `bn_finalize_kernel`  one program per channel block: merges the chunks' partials the same way in a fixed
                        order (lanes take chunks k, k + BLOCK_K, ..., then one fixed tree), writes save_mean
                        and save_invstd, the per-channel coefficients of the normalisation, and updates
                        the running statistics in place (unbiased variance; the normalisation uses the biased
                        one). In eval mode it reads the running statistics instead of partials;
  `bn_apply_kernel`     y = (x - mean) * scale + bias (scale = weight * invstd), one read of x, one write of y.
`split_plan` cuts each channel's N x S elements into chunks (of whole rows of N first, then of S) so that the
first stage runs about 4 x SM-count programs whenever the channels alone cannot fill the GPU; the combine
order depends only on the plan, so results are the same bits every run.

Backward (training): `bn_backward_stats_kernel` reads x and dy once for sum(dy) and sum(dy * (x - mean)) per
chunk; `bn_backward_finalize_kernel` combines them into grad_weight = invstd * sum(dy * (x - mean)),
grad_bias = sum(dy) and the per-channel coefficients of
  dx = w * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)) = dy * k1 + (x - mean) * k2 + k3,
which `bn_apply_kernel` (HAS_DY) applies in a second pass over (x, dy). In eval mode k2 = k3 = 0. Both passes
centre x before scaling it: x * k2 - mean * k2 would cancel catastrophically when |mean| >> std.
Statistics are fp32 (fp64 for fp64 inputs); fp16/bf16 are upcast on load.
"""

from __future__ import annotations

import triton
import triton.language as tl

from .ieee_math import div_ieee, sqrt_ieee
from .launcher import fast_jit
from .strided import cast_to, compute_type


@triton.jit
def merge_summaries(mean, m2, cnt, axis: tl.constexpr):
    """(mean, M2, count) of the union of the summaries along `axis`, in two levels: the count-weighted mean
    first, then M2 = sum(M2_i + n_i * (mean_i - mean)^2) (Chan et al.'s pairwise update as one sum, no
    cancellation). Empty summaries (n_i = 0) add nothing."""
    total = tl.sum(cnt, axis=axis)
    safe = tl.where(total == 0, 1.0, total)
    merged = tl.sum(cnt * mean, axis=axis) / safe
    d = mean - tl.expand_dims(merged, axis)
    return merged, tl.sum(m2 + cnt * d * d, axis=axis), total


@triton.constexpr_function
def _acc_type(element_ty):
    """The statistics' type for an element type: fp64 for fp64, else fp32."""
    return tl.float64 if element_ty == tl.float64 else tl.float32


@triton.jit
def _chunk_bounds(N, S, chunk_n, chunk_s, s_chunks):
    """[n0, n1) x [s0, min(S, s_end)): the part of each channel's (N, S) plane that chunk program_id(1) reduces.

    s_end is left unclamped: a mask `s < S & s < s_end` compares against two multiples of 16 in an aligned
    launch, which is what lets the loads along S vectorise (a tl.minimum would hide that divisibility)."""
    k = tl.program_id(1)
    kn = k // s_chunks
    ks = k - kn * s_chunks
    n0 = kn * chunk_n
    s0 = ks * chunk_s
    return n0, tl.minimum(N, n0 + chunk_n), s0, s0 + chunk_s


@fast_jit
def bn_stats_kernel(
    part_ptr,  # (3, C, n_chunks) fp32 (fp64) scratch: per (channel, chunk) mean, M2 and count
    x_ptr,  # (N, C, S) input view
    N, C, S,  # batch, channels, spatial length
    sxn, sxc, sxs,  # input strides (elements)
    chunk_n, chunk_s, s_chunks, n_chunks,  # the split plan: rows and columns per chunk, chunks along S, in all
    BLOCK_C: tl.constexpr,  # channels per program
    BLOCK_N: tl.constexpr,  # batch rows per tile
    BLOCK_S: tl.constexpr,  # spatial elements per tile
):
    acc_type: tl.constexpr = _acc_type(x_ptr.dtype.element_ty)
    n0, n1, s0, s_end = _chunk_bounds(N, S, chunk_n, chunk_s, s_chunks)
    cs = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)
    c_mask = cs < C
    base = x_ptr + cs.to(tl.int64)[:, None, None] * sxc
    mean = tl.zeros((BLOCK_C, BLOCK_N, BLOCK_S), acc_type)
    m2 = tl.zeros((BLOCK_C, BLOCK_N, BLOCK_S), acc_type)
    cnt = tl.zeros((BLOCK_C, BLOCK_N, BLOCK_S), acc_type)
    for n in range(n0, n1, BLOCK_N):
        ns = n + tl.arange(0, BLOCK_N)
        row = base + ns.to(tl.int64)[None, :, None] * sxn
        for s in range(s0, tl.minimum(S, s_end), BLOCK_S):
            ss = s + tl.arange(0, BLOCK_S)
            mask = c_mask[:, None, None] & (ns < n1)[None, :, None] & ((ss < S) & (ss < s_end))[None, None, :]
            x = compute_type(tl.load(row + ss.to(tl.int64)[None, None, :] * sxs, mask=mask, other=0.0))
            x = x.to(acc_type)
            # Per-lane Welford: one read of x, no cancellation of a large mean against x * x.
            cnt += mask.to(acc_type)
            delta = x - mean
            mean += tl.where(mask, delta / tl.maximum(cnt, 1.0), 0.0)
            m2 += tl.where(mask, delta * (x - mean), 0.0)
    lanes: tl.constexpr = BLOCK_N * BLOCK_S
    mean, m2, cnt = merge_summaries(tl.reshape(mean, (BLOCK_C, lanes)), tl.reshape(m2, (BLOCK_C, lanes)),
                                    tl.reshape(cnt, (BLOCK_C, lanes)), 1)
    slot = part_ptr + cs.to(tl.int64) * n_chunks + tl.program_id(1)
    plane = C.to(tl.int64) * n_chunks
    tl.store(slot, mean, mask=c_mask)
    tl.store(slot + plane, m2, mask=c_mask)
    tl.store(slot + 2 * plane, cnt, mask=c_mask)


@triton.jit
def _combine_partials(part_ptr, cs, c_mask, C, n_chunks, acc_type: tl.constexpr, BLOCK_C: tl.constexpr,
                      BLOCK_K: tl.constexpr):
    """(mean, M2, count) per channel from its chunks' partials, in a fixed order: lanes take chunks k,
    k + BLOCK_K, ... (pass one: count and count-weighted sum of the means; pass two: M2 around the mean)."""
    plane = C.to(tl.int64) * n_chunks
    first = part_ptr + cs.to(tl.int64)[:, None] * n_chunks
    acc_n = tl.zeros((BLOCK_C, BLOCK_K), acc_type)
    acc_s = tl.zeros((BLOCK_C, BLOCK_K), acc_type)
    for k0 in range(0, n_chunks, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        mask = c_mask[:, None] & (ks < n_chunks)[None, :]
        pc = tl.load(first + 2 * plane + ks[None, :], mask=mask, other=0.0)  # masked: an empty summary
        acc_n += pc
        acc_s += pc * tl.load(first + ks[None, :], mask=mask, other=0.0)
    cnt = tl.sum(acc_n, axis=1)
    mean = tl.sum(acc_s, axis=1) / tl.where(cnt == 0, 1.0, cnt)
    acc_m2 = tl.zeros((BLOCK_C, BLOCK_K), acc_type)
    for k0 in range(0, n_chunks, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        mask = c_mask[:, None] & (ks < n_chunks)[None, :]
        d = tl.load(first + ks[None, :], mask=mask, other=0.0) - mean[:, None]
        pc = tl.load(first + 2 * plane + ks[None, :], mask=mask, other=0.0)
        acc_m2 += tl.load(first + plane + ks[None, :], mask=mask, other=0.0) + pc * d * d
    return mean, tl.sum(acc_m2, axis=1), cnt


@fast_jit
def bn_finalize_kernel(
    mean_ptr,  # (C,) fp32 (fp64) output: the mean used (save_mean)
    invstd_ptr,  # (C,) fp32 (fp64) output: 1 / sqrt(var + eps) (save_invstd)
    coef_ptr,  # (4, C) fp32 (fp64) output: rows 1-3 get mean, scale and bias of y = (x - mean) * scale + bias
    rm_ptr,  # (C,) running mean: updated (TRAIN and UPDATE) or read (not TRAIN)
    rv_ptr,  # (C,) running variance, likewise
    w_ptr,  # (C,) weight (unused unless HAS_W)
    b_ptr,  # (C,) bias (unused unless HAS_B)
    part_ptr,  # (3, C, n_chunks) partials of bn_stats_kernel (unused unless TRAIN)
    C, n_chunks,  # channels, chunks per channel
    eps,  # fp32: added to the variance
    momentum,  # fp32: weight of this batch in the running statistics
    unbias,  # fp32: count / (count - 1), the biased-to-unbiased variance factor
    TRAIN: tl.constexpr,  # batch statistics (else the running ones)
    UPDATE: tl.constexpr,  # update the running statistics
    HAS_W: tl.constexpr,  # affine weight present
    HAS_B: tl.constexpr,  # affine bias present
    BLOCK_C: tl.constexpr,  # channels per program
    BLOCK_K: tl.constexpr,  # partials per loop step
):
    acc_type: tl.constexpr = _acc_type(mean_ptr.dtype.element_ty)
    cs = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)
    c_mask = cs < C
    if TRAIN:
        mean, m2, cnt = _combine_partials(part_ptr, cs, c_mask, C, n_chunks, acc_type, BLOCK_C, BLOCK_K)
        var = m2 / tl.where(c_mask, cnt, 1.0)
        if UPDATE:
            rm = tl.load(rm_ptr + cs, mask=c_mask, other=0.0).to(acc_type)
            rv = tl.load(rv_ptr + cs, mask=c_mask, other=0.0).to(acc_type)
            rm = rm * (1.0 - momentum) + mean * momentum
            rv = rv * (1.0 - momentum) + var * unbias * momentum
            tl.store(rm_ptr + cs, cast_to(rm, rm_ptr.dtype.element_ty), mask=c_mask)
            tl.store(rv_ptr + cs, cast_to(rv, rv_ptr.dtype.element_ty), mask=c_mask)
    else:
        mean = compute_type(tl.load(rm_ptr + cs, mask=c_mask, other=0.0)).to(acc_type)
        var = compute_type(tl.load(rv_ptr + cs, mask=c_mask, other=1.0)).to(acc_type)
    # Once per channel: the IEEE square root and division (fp32 tl.sqrt and / are approximate on NVIDIA GPUs).
    invstd = div_ieee(tl.full((BLOCK_C,), 1.0, acc_type), sqrt_ieee(var + eps))
    scale = invstd
    if HAS_W:
        scale = invstd * compute_type(tl.load(w_ptr + cs, mask=c_mask, other=0.0)).to(acc_type)
    offset = tl.zeros((BLOCK_C,), acc_type)
    if HAS_B:
        offset += compute_type(tl.load(b_ptr + cs, mask=c_mask, other=0.0)).to(acc_type)
    tl.store(mean_ptr + cs, mean, mask=c_mask)
    tl.store(invstd_ptr + cs, invstd, mask=c_mask)
    tl.store(coef_ptr + C + cs, mean, mask=c_mask)
    tl.store(coef_ptr + 2 * C + cs, scale, mask=c_mask)
    tl.store(coef_ptr + 3 * C + cs, offset, mask=c_mask)


@fast_jit
def bn_apply_kernel(
    out_ptr,  # (N, C, S) output view
    x_ptr,  # (N, C, S) input view
    dy_ptr,  # (N, C, S) incoming gradient (unused unless HAS_DY)
    coef_ptr,  # (4, C) fp32 (fp64): out = dy * coef[0] + (x - coef[1]) * coef[2] + coef[3]
    N, C, S,  # batch, channels, spatial length
    son, soc, sos,  # output strides (elements)
    sxn, sxc, sxs,  # input strides
    sgn, sgc, sgs,  # gradient strides
    s_blocks,  # cdiv(S, BLOCK_S): program_id(0) is n * s_blocks + the spatial block
    HAS_DY: tl.constexpr,  # the backward's dx (else the forward's y)
    BLOCK_C: tl.constexpr,  # channels per program
    BLOCK_S: tl.constexpr,  # spatial elements per program
):
    acc_type: tl.constexpr = _acc_type(coef_ptr.dtype.element_ty)
    pid = tl.program_id(0)
    n = (pid // s_blocks).to(tl.int64)
    ss = (pid - (pid // s_blocks) * s_blocks) * BLOCK_S + tl.arange(0, BLOCK_S)
    cs = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    c_mask = cs < C
    mask = c_mask[:, None] & (ss < S)[None, :]
    c64 = cs.to(tl.int64)[:, None]
    s64 = ss.to(tl.int64)[None, :]
    x = compute_type(tl.load(x_ptr + n * sxn + c64 * sxc + s64 * sxs, mask=mask, other=0.0)).to(acc_type)
    center = tl.load(coef_ptr + C + cs, mask=c_mask, other=0.0)
    k_x = tl.load(coef_ptr + 2 * C + cs, mask=c_mask, other=0.0)
    k_c = tl.load(coef_ptr + 3 * C + cs, mask=c_mask, other=0.0)
    y = (x - center[:, None]) * k_x[:, None] + k_c[:, None]
    if HAS_DY:
        dy = compute_type(tl.load(dy_ptr + n * sgn + c64 * sgc + s64 * sgs, mask=mask, other=0.0)).to(acc_type)
        y += dy * tl.load(coef_ptr + cs, mask=c_mask, other=0.0)[:, None]
    tl.store(out_ptr + n * son + c64 * soc + s64 * sos, cast_to(y, out_ptr.dtype.element_ty), mask=mask)


@fast_jit
def bn_backward_stats_kernel(
    part_ptr,  # (2, C, n_chunks) fp32 (fp64) scratch: per (channel, chunk) sum(dy), sum(dy * (x - mean))
    x_ptr,  # (N, C, S) saved input view
    dy_ptr,  # (N, C, S) incoming gradient view
    mean_ptr,  # (C,) fp32 (fp64) mean the forward normalised with
    N, C, S,  # batch, channels, spatial length
    sxn, sxc, sxs,  # input strides (elements)
    sgn, sgc, sgs,  # gradient strides
    chunk_n, chunk_s, s_chunks, n_chunks,  # the split plan (as bn_stats_kernel)
    BLOCK_C: tl.constexpr,  # channels per program
    BLOCK_N: tl.constexpr,  # batch rows per tile
    BLOCK_S: tl.constexpr,  # spatial elements per tile
):
    acc_type: tl.constexpr = _acc_type(mean_ptr.dtype.element_ty)
    n0, n1, s0, s_end = _chunk_bounds(N, S, chunk_n, chunk_s, s_chunks)
    cs = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)
    c_mask = cs < C
    mean = tl.load(mean_ptr + cs, mask=c_mask, other=0.0)[:, None, None]
    c64 = cs.to(tl.int64)[:, None, None]
    sum_dy = tl.zeros((BLOCK_C, BLOCK_N, BLOCK_S), acc_type)
    sum_dyx = tl.zeros((BLOCK_C, BLOCK_N, BLOCK_S), acc_type)
    for n in range(n0, n1, BLOCK_N):
        ns = n + tl.arange(0, BLOCK_N)
        n64 = ns.to(tl.int64)[None, :, None]
        for s in range(s0, tl.minimum(S, s_end), BLOCK_S):
            ss = s + tl.arange(0, BLOCK_S)
            s64 = ss.to(tl.int64)[None, None, :]
            mask = c_mask[:, None, None] & (ns < n1)[None, :, None] & ((ss < S) & (ss < s_end))[None, None, :]
            x = compute_type(tl.load(x_ptr + c64 * sxc + n64 * sxn + s64 * sxs, mask=mask, other=0.0))
            dy = compute_type(tl.load(dy_ptr + c64 * sgc + n64 * sgn + s64 * sgs, mask=mask, other=0.0))
            dy = dy.to(acc_type)
            sum_dy += dy
            sum_dyx += tl.where(mask, dy * (x.to(acc_type) - mean), 0.0)
    lanes: tl.constexpr = BLOCK_N * BLOCK_S
    slot = part_ptr + cs.to(tl.int64) * n_chunks + tl.program_id(1)
    tl.store(slot, tl.sum(tl.reshape(sum_dy, (BLOCK_C, lanes)), axis=1), mask=c_mask)
    tl.store(slot + C.to(tl.int64) * n_chunks, tl.sum(tl.reshape(sum_dyx, (BLOCK_C, lanes)), axis=1), mask=c_mask)


@fast_jit
def bn_backward_finalize_kernel(
    gw_ptr,  # (C,) output: grad of the weight (unused unless OUT_GW)
    gb_ptr,  # (C,) output: grad of the bias (unused unless OUT_GB)
    coef_ptr,  # (4, C) fp32 (fp64) output: dx = dy * coef[0] + (x - coef[1]) * coef[2] + coef[3]
    part_ptr,  # (2, C, n_chunks) partials of bn_backward_stats_kernel
    mean_ptr,  # (C,) fp32 (fp64) mean the forward used
    invstd_ptr,  # (C,) fp32 (fp64) 1 / sqrt(var + eps) the forward used
    w_ptr,  # (C,) weight (unused unless HAS_W)
    C, n_chunks,  # channels, chunks per channel (0: no sums, only eval-mode coefficients)
    inv_count,  # fp32: 1 / (N * S)
    TRAIN: tl.constexpr,  # the forward used batch statistics: dx has the mean terms
    HAS_W: tl.constexpr,  # affine weight present
    OUT_GW: tl.constexpr,  # write grad_weight
    OUT_GB: tl.constexpr,  # write grad_bias
    BLOCK_C: tl.constexpr,  # channels per program
    BLOCK_K: tl.constexpr,  # partials per loop step
):
    acc_type: tl.constexpr = _acc_type(mean_ptr.dtype.element_ty)
    cs = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)
    c_mask = cs < C
    plane = C.to(tl.int64) * n_chunks
    first = part_ptr + cs.to(tl.int64)[:, None] * n_chunks
    acc_dy = tl.zeros((BLOCK_C, BLOCK_K), acc_type)
    acc_dyx = tl.zeros((BLOCK_C, BLOCK_K), acc_type)
    for k0 in range(0, n_chunks, BLOCK_K):  # fixed order: lanes take chunks k, k + BLOCK_K, ...
        ks = k0 + tl.arange(0, BLOCK_K)
        mask = c_mask[:, None] & (ks < n_chunks)[None, :]
        acc_dy += tl.load(first + ks[None, :], mask=mask, other=0.0)
        acc_dyx += tl.load(first + plane + ks[None, :], mask=mask, other=0.0)
    sum_dy = tl.sum(acc_dy, axis=1)
    sum_dyx = tl.sum(acc_dyx, axis=1)
    mean = tl.load(mean_ptr + cs, mask=c_mask, other=0.0)
    invstd = tl.load(invstd_ptr + cs, mask=c_mask, other=0.0)
    k_dy = invstd
    if HAS_W:
        k_dy = invstd * compute_type(tl.load(w_ptr + cs, mask=c_mask, other=0.0)).to(acc_type)
    if TRAIN:
        k_x = -k_dy * invstd * invstd * sum_dyx * inv_count
        k_c = -k_dy * sum_dy * inv_count
    else:
        k_x = tl.zeros((BLOCK_C,), acc_type)
        k_c = tl.zeros((BLOCK_C,), acc_type)
    tl.store(coef_ptr + cs, k_dy, mask=c_mask)
    tl.store(coef_ptr + C + cs, mean, mask=c_mask)
    tl.store(coef_ptr + 2 * C + cs, k_x, mask=c_mask)
    tl.store(coef_ptr + 3 * C + cs, k_c, mask=c_mask)
    if OUT_GW:
        tl.store(gw_ptr + cs, cast_to(sum_dyx * invstd, gw_ptr.dtype.element_ty), mask=c_mask)
    if OUT_GB:
        tl.store(gb_ptr + cs, cast_to(sum_dy, gb_ptr.dtype.element_ty), mask=c_mask)
