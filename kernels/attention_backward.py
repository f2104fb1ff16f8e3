"""Flash attention backward (FlashAttention-2), deterministic: no atomics, every gradient written once.

Shapes as kernels/attention.py; grad (dO) any strides but a contiguous head dim, out and lse the forward's.
Three kernels:

1. preprocess: delta[bh, i] = sum_d dO[i, d] * O[i, d] (= sum_j P_ij dP_ij, dropout included), lse's dtype.
2. dk/dv: one program per (key block, batch, kv head). It keeps its k and v tiles and the fp32 dK / dV
   accumulators in registers and walks the query blocks, of every query head of its group in turn (GQA:
   the group's sum is formed in registers, in a fixed order), recomputing P^T = exp2(k q^T * scale - lse).
   Under causal the query blocks before the diagonal are skipped and only those overlapping it masked.
3. dq: one program per (query block, batch, query head), walking the key blocks as the forward does.

Both recompute the probabilities from the saved lse (log2 units, +inf for rows that keep no key: their
probabilities, and so every gradient from them, are 0) and regenerate the forward's dropout mask from its
seed (kernels/attention.py's `dropout_keep`). Keys past S read k = v = 0 and are masked in the dq kernel
(where they would meet a finite lse); the dk/dv rows they produce are never stored. Rows past L read lse =
+inf and contribute nothing.

For a float attention mask that requires grad, the dq kernel also writes dS (the scores' gradient, fp32,
(Z, Hq, L, S)) when STORE_DS: the ops layer sums it to the mask's shape. That is the one L x S buffer, and
only on that request (PyTorch's math path materialises it as well).
"""

from __future__ import annotations

import triton
import triton.language as tl

from . import tuning
from .attention import (
    DTYPES,
    FWD_UNIT_ARGS,
    HEAD_DIMS,
    LOG2E,
    apply_mask,
    arch_family,
    attention_cost,
    block_d,
    check_inner,
    dropout_args,
    dropout_keep,
    mask_view,
    per_arch,
    tile_config,
)
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .matmul_epilogue import dot_operand
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2

PRE_CONFIG = dict(BLOCK_M=32, BLOCK_D=64, num_warps=4)


@fast_jit
def attention_bwd_preprocess_kernel(
    delta_ptr,  # (Z * Hq, L) fp32 output (fp64 for fp64 inputs)
    o_ptr,  # (Z, Hq, L, Ev) forward output, contiguous
    do_ptr,  # (Z, Hq, L, Ev) incoming gradient
    R, L, EV, HQ,  # rows (Z * Hq * L), query rows, value head dim, query heads
    sdoz, sdoh, sdol,  # dO strides
    BLOCK_M: tl.constexpr,  # rows per program
    BLOCK_D: tl.constexpr,  # head-dim chunk
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    r_ok = rows < R
    r64 = rows.to(tl.int64)
    bh = r64 // L
    i = r64 - bh * L
    z = bh // HQ
    do_rows = do_ptr + z * sdoz + (bh - z * HQ) * sdoh + i * sdol
    o_rows = o_ptr + r64 * EV
    acc_type: tl.constexpr = delta_ptr.dtype.element_ty  # fp32 (fp64 for fp64 inputs)
    acc = tl.zeros((BLOCK_M, BLOCK_D), acc_type)
    for d0 in range(0, EV, BLOCK_D):
        d = d0 + tl.arange(0, BLOCK_D)
        mask = r_ok[:, None] & (d < EV)[None, :]
        o = compute_type(tl.load(o_rows[:, None] + d[None, :], mask=mask, other=0.0)).to(acc_type)
        g = compute_type(tl.load(do_rows[:, None] + d[None, :], mask=mask, other=0.0)).to(acc_type)
        acc += o * g
    tl.store(delta_ptr + rows, tl.sum(acc, 1), mask=r_ok)


@triton.jit
def _dkdv_block(dk, dv, k, v, q_base, do_base, lse_base, delta_base, mask_base, offs_n, start_m, L, S, E, EV,
                sql, sdol, sml, sms, qk_scale, causal, seed, bh, p_keep, drop_scale,
                EDGE: tl.constexpr, DROPOUT: tl.constexpr, MASK_KIND: tl.constexpr, INPUT_PRECISION: tl.constexpr,
                BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_DV: tl.constexpr):
    """One query block's contribution to a key block's dK, dV. EDGE: the block overlaps the diagonal."""
    rel_m = tl.arange(0, BLOCK_M)
    offs_m = start_m + rel_m
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    m_ok = offs_m < L
    # The block's start in 64-bit scalar bases, int32 offsets inside it (see the forward's _fwd_block).
    q = tl.load(q_base + tl.cast(start_m, tl.int64) * sql + (rel_m[:, None] * sql + offs_d[None, :]),
                mask=m_ok[:, None] & (offs_d < E)[None, :], other=0.0)
    do = tl.load(do_base + tl.cast(start_m, tl.int64) * sdol + (rel_m[:, None] * sdol + offs_dv[None, :]),
                 mask=m_ok[:, None] & (offs_dv < EV)[None, :], other=0.0)
    lse = tl.load(lse_base + offs_m, mask=m_ok, other=float("inf"))
    acc_type: tl.constexpr = dk.dtype
    st = tl.dot(dot_operand(k), dot_operand(tl.trans(q)), input_precision=INPUT_PRECISION,
                out_dtype=acc_type) * qk_scale
    if MASK_KIND != 0:
        rel_n = tl.arange(0, BLOCK_N)
        st = apply_mask(st, mask_base + tl.cast(start_m, tl.int64) * sml, rel_n[:, None] * sms + rel_m[None, :] * sml,
                        (offs_n < S)[:, None] & m_ok[None, :], MASK_KIND)
    if EDGE:
        st = tl.where((causal == 0) | (offs_m[None, :] >= offs_n[:, None]), st, float("-inf"))
    pt = tl.math.exp2(st - lse[None, :].to(acc_type))
    dpt = tl.dot(dot_operand(v), dot_operand(tl.trans(do)), input_precision=INPUT_PRECISION, out_dtype=acc_type)
    pdt = pt
    if DROPOUT:
        keep = dropout_keep(seed, bh, offs_m[None, :], offs_n[:, None], S, p_keep)
        pdt = tl.where(keep, pt * drop_scale, 0.0)
        dpt = tl.where(keep, dpt * drop_scale, 0.0)
    dv = tl.dot(dot_operand(cast_to(pdt, do.dtype)), dot_operand(do), dv, input_precision=INPUT_PRECISION,
                out_dtype=acc_type)
    delta = tl.load(delta_base + offs_m, mask=m_ok, other=0.0)
    dst = pt * (dpt - delta[None, :].to(acc_type))
    dk = tl.dot(dot_operand(cast_to(dst, q.dtype)), dot_operand(q), dk, input_precision=INPUT_PRECISION,
                out_dtype=acc_type)
    return dk, dv


@fast_jit(do_not_specialize=["causal", "seed"])
def attention_bwd_dkdv_kernel(
    dk_ptr,  # (Z, Hk, S, E) output, contiguous
    dv_ptr,  # (Z, Hk, S, Ev) output, contiguous
    q_ptr, k_ptr, v_ptr,  # the forward's operands
    do_ptr,  # (Z, Hq, L, Ev) incoming gradient
    lse_ptr,  # (Z * Hq, L) the forward's (log2 units; fp32, fp64 for fp64)
    delta_ptr,  # (Z * Hq, L) lse's dtype, from the preprocess kernel
    mask_ptr,  # (Z, Hq, L, S) attention mask (any pointer when MASK_KIND is 0)
    L, S,  # query rows, keys
    E: tl.constexpr,  # q / k head dim (constexpr: see the forward kernel)
    EV: tl.constexpr,  # v head dim
    HQ, GROUP,  # query heads, query heads per kv head
    sqz, sqh, sql,  # q strides (the head dim is contiguous in q, k, v and dO)
    skz, skh, skn,  # k strides
    svz, svh, svn,  # v strides
    sdoz, sdoh, sdol,  # dO strides
    smz, smh, sml, sms,  # mask strides
    qk_scale,  # scale * log2(e)
    sm_scale,  # scale (dK's factor)
    causal, seed, p_keep, drop_scale,  # as the forward's
    DROPOUT: tl.constexpr,  # dropout on the probabilities (its Philox code would cost registers unused)
    MASK_KIND: tl.constexpr,  # 0 none, 1 bool, 2 float
    INPUT_PRECISION: tl.constexpr,  # "ieee" or "tf32" for fp32 operands
    BLOCK_M: tl.constexpr,  # query rows per step
    BLOCK_N: tl.constexpr,  # keys per program
    BLOCK_D: tl.constexpr,  # next_pow2(E)
    BLOCK_DV: tl.constexpr,  # next_pow2(Ev)
):
    num_n = tl.cdiv(S, BLOCK_N)
    pid = tl.program_id(0)
    zhk = pid // num_n
    start_n = (pid % num_n) * BLOCK_N
    hk_count = HQ // GROUP
    z = zhk // hk_count
    hk = zhk % hk_count
    offs_n = start_n + tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    n_ok = offs_n < S
    k = tl.load(k_ptr + z.to(tl.int64) * skz + hk.to(tl.int64) * skh + offs_n.to(tl.int64)[:, None] * skn
                + offs_d[None, :], mask=n_ok[:, None] & (offs_d < E)[None, :], other=0.0)
    v = tl.load(v_ptr + z.to(tl.int64) * svz + hk.to(tl.int64) * svh + offs_n.to(tl.int64)[:, None] * svn
                + offs_dv[None, :], mask=n_ok[:, None] & (offs_dv < EV)[None, :], other=0.0)
    acc_type: tl.constexpr = tl.float64 if q_ptr.dtype.element_ty == tl.float64 else tl.float32
    dk = tl.zeros((BLOCK_N, BLOCK_D), acc_type)
    dv = tl.zeros((BLOCK_N, BLOCK_DV), acc_type)
    # Causal: query blocks wholly before the key block are skipped; those starting before its last key
    # overlap the diagonal and are masked; the rest run unmasked.
    lo = 0
    mid = 0
    if causal != 0:
        lo = (start_n // BLOCK_M) * BLOCK_M
        mid = tl.maximum(lo, tl.cdiv(start_n + BLOCK_N - 1, BLOCK_M) * BLOCK_M)
    for g in range(0, GROUP):
        h = hk * GROUP + g
        bh = z * HQ + h
        q_base = q_ptr + z.to(tl.int64) * sqz + h.to(tl.int64) * sqh
        do_base = do_ptr + z.to(tl.int64) * sdoz + h.to(tl.int64) * sdoh
        mask_base = mask_ptr + z.to(tl.int64) * smz + h.to(tl.int64) * smh + tl.cast(start_n, tl.int64) * sms
        lse_base = lse_ptr + bh.to(tl.int64) * L
        delta_base = delta_ptr + bh.to(tl.int64) * L
        for start_m in range(lo, tl.minimum(mid, L), BLOCK_M):
            dk, dv = _dkdv_block(dk, dv, k, v, q_base, do_base, lse_base, delta_base, mask_base, offs_n, start_m,
                                 L, S, E, EV, sql, sdol, sml, sms, qk_scale, causal, seed,
                                 bh, p_keep, drop_scale, True, DROPOUT, MASK_KIND, INPUT_PRECISION, BLOCK_M, BLOCK_N,
                                 BLOCK_D, BLOCK_DV)
        for start_m in range(mid, L, BLOCK_M):
            dk, dv = _dkdv_block(dk, dv, k, v, q_base, do_base, lse_base, delta_base, mask_base, offs_n, start_m,
                                 L, S, E, EV, sql, sdol, sml, sms, qk_scale, causal, seed,
                                 bh, p_keep, drop_scale, False, DROPOUT, MASK_KIND, INPUT_PRECISION, BLOCK_M, BLOCK_N,
                                 BLOCK_D, BLOCK_DV)
    dk = dk * sm_scale
    rows = zhk.to(tl.int64) * S + offs_n.to(tl.int64)
    tl.store(dk_ptr + rows[:, None] * E + offs_d[None, :], cast_to(dk, dk_ptr.dtype.element_ty),
             mask=n_ok[:, None] & (offs_d < E)[None, :])
    tl.store(dv_ptr + rows[:, None] * EV + offs_dv[None, :], cast_to(dv, dv_ptr.dtype.element_ty),
             mask=n_ok[:, None] & (offs_dv < EV)[None, :])


@triton.jit
def _dq_block(dq, q, do, lse, delta, k_base, v_base, mask_base, ds_base, offs_m, start_n, L, S, E, EV,
              skn, svn, sml, sms, qk_scale, causal, seed, bh, p_keep, drop_scale,
              EDGE: tl.constexpr, DROPOUT: tl.constexpr, MASK_KIND: tl.constexpr, STORE_DS: tl.constexpr,
              INPUT_PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
              BLOCK_DV: tl.constexpr):
    """One key block's contribution to a query block's dQ. EDGE: keys past S or past the diagonal."""
    rel_n = tl.arange(0, BLOCK_N)
    offs_n = start_n + rel_n
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    n_ok = offs_n < S
    d_ok = (offs_d < E)[:, None]
    dv_ok = (offs_dv < EV)[:, None]
    if EDGE:  # only edge blocks pay for the key masks
        d_ok = d_ok & n_ok[None, :]
        dv_ok = dv_ok & n_ok[None, :]
    kt = tl.load(k_base + tl.cast(start_n, tl.int64) * skn + (offs_d[:, None] + rel_n[None, :] * skn), mask=d_ok,
                 other=0.0)
    vt = tl.load(v_base + tl.cast(start_n, tl.int64) * svn + (offs_dv[:, None] + rel_n[None, :] * svn), mask=dv_ok,
                 other=0.0)
    acc_type: tl.constexpr = dq.dtype
    s = tl.dot(dot_operand(q), dot_operand(kt), input_precision=INPUT_PRECISION, out_dtype=acc_type) * qk_scale
    in_bounds = (offs_m < L)[:, None] & n_ok[None, :]
    if MASK_KIND != 0:
        rows = tl.arange(0, BLOCK_M)
        s = apply_mask(s, mask_base + tl.cast(start_n, tl.int64) * sms, rows[:, None] * sml + rel_n[None, :] * sms,
                       in_bounds, MASK_KIND)
    if EDGE:
        s = tl.where(n_ok[None, :] & ((causal == 0) | (offs_n[None, :] <= offs_m[:, None])), s, float("-inf"))
    p = tl.math.exp2(s - lse[:, None])
    dp = tl.dot(dot_operand(do), dot_operand(vt), input_precision=INPUT_PRECISION, out_dtype=acc_type)
    if DROPOUT:
        keep = dropout_keep(seed, bh, offs_m[:, None], offs_n[None, :], S, p_keep)
        dp = tl.where(keep, dp * drop_scale, 0.0)
    ds = p * (dp - delta[:, None])
    if STORE_DS:
        tl.store(ds_base + offs_m.to(tl.int64)[:, None] * S + offs_n[None, :], ds.to(tl.float32), mask=in_bounds)
    dq = tl.dot(dot_operand(cast_to(ds, q.dtype)), dot_operand(tl.trans(kt)), dq, input_precision=INPUT_PRECISION,
                out_dtype=acc_type)
    return dq


@fast_jit(do_not_specialize=["causal", "seed"])
def attention_bwd_dq_kernel(
    dq_ptr,  # (Z, Hq, L, E) output, contiguous
    ds_ptr,  # (Z, Hq, L, S) fp32 output when STORE_DS (any pointer otherwise)
    q_ptr, k_ptr, v_ptr,  # the forward's operands
    do_ptr,  # (Z, Hq, L, Ev) incoming gradient
    lse_ptr,  # (Z * Hq, L) log2 units (fp32, fp64 for fp64)
    delta_ptr,  # (Z * Hq, L) lse's dtype
    mask_ptr,  # (Z, Hq, L, S) attention mask
    L, S,  # query rows, keys
    E: tl.constexpr,  # q / k head dim
    EV: tl.constexpr,  # v head dim
    HQ, GROUP,  # query heads, query heads per kv head
    sqz, sqh, sql,  # q strides (the head dim is contiguous in q, k, v and dO)
    skz, skh, skn,  # k strides
    svz, svh, svn,  # v strides
    sdoz, sdoh, sdol,  # dO strides
    smz, smh, sml, sms,  # mask strides
    qk_scale, sm_scale, causal, seed, p_keep, drop_scale,  # as the dk/dv kernel's
    DROPOUT: tl.constexpr,  # dropout on the probabilities (its Philox code would cost registers unused)
    MASK_KIND: tl.constexpr,  # 0 none, 1 bool, 2 float
    STORE_DS: tl.constexpr,  # write dS (a float mask's gradient)
    INPUT_PRECISION: tl.constexpr,  # "ieee" or "tf32"
    BLOCK_M: tl.constexpr,  # query rows per program
    BLOCK_N: tl.constexpr,  # keys per step
    BLOCK_D: tl.constexpr,  # next_pow2(E)
    BLOCK_DV: tl.constexpr,  # next_pow2(Ev)
):
    num_m = tl.cdiv(L, BLOCK_M)
    pid = tl.program_id(0)
    bh = pid // num_m
    start_m = (num_m - 1 - pid % num_m) * BLOCK_M  # longest (causal) programs first
    z = bh // HQ
    h = bh % HQ
    hk = h // GROUP
    offs_m = start_m + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    m_ok = offs_m < L
    q = tl.load(q_ptr + z.to(tl.int64) * sqz + h.to(tl.int64) * sqh + offs_m.to(tl.int64)[:, None] * sql
                + offs_d[None, :], mask=m_ok[:, None] & (offs_d < E)[None, :], other=0.0)
    do = tl.load(do_ptr + z.to(tl.int64) * sdoz + h.to(tl.int64) * sdoh + offs_m.to(tl.int64)[:, None] * sdol
                 + offs_dv[None, :], mask=m_ok[:, None] & (offs_dv < EV)[None, :], other=0.0)
    acc_type: tl.constexpr = tl.float64 if q_ptr.dtype.element_ty == tl.float64 else tl.float32
    lse = tl.load(lse_ptr + bh.to(tl.int64) * L + offs_m, mask=m_ok, other=float("inf")).to(acc_type)
    delta = tl.load(delta_ptr + bh.to(tl.int64) * L + offs_m, mask=m_ok, other=0.0).to(acc_type)
    k_base = k_ptr + z.to(tl.int64) * skz + hk.to(tl.int64) * skh
    v_base = v_ptr + z.to(tl.int64) * svz + hk.to(tl.int64) * svh
    mask_base = mask_ptr + z.to(tl.int64) * smz + h.to(tl.int64) * smh + tl.cast(start_m, tl.int64) * sml
    ds_base = ds_ptr + bh.to(tl.int64) * L * S
    dq = tl.zeros((BLOCK_M, BLOCK_D), acc_type)
    n_full = S // BLOCK_N
    hi = S
    if causal != 0:
        n_full = tl.minimum(n_full, (start_m + 1) // BLOCK_N)
        hi = tl.minimum(S, start_m + BLOCK_M)
    for start_n in range(0, n_full * BLOCK_N, BLOCK_N):
        dq = _dq_block(dq, q, do, lse, delta, k_base, v_base, mask_base, ds_base, offs_m, start_n, L, S, E, EV,
                       skn, svn, sml, sms, qk_scale, causal, seed, bh, p_keep, drop_scale,
                       False, DROPOUT, MASK_KIND, STORE_DS, INPUT_PRECISION, BLOCK_M, BLOCK_N,
                       BLOCK_D, BLOCK_DV)
    for start_n in range(n_full * BLOCK_N, hi, BLOCK_N):
        dq = _dq_block(dq, q, do, lse, delta, k_base, v_base, mask_base, ds_base, offs_m, start_n, L, S, E, EV,
                       skn, svn, sml, sms, qk_scale, causal, seed, bh, p_keep, drop_scale,
                       True, DROPOUT, MASK_KIND, STORE_DS, INPUT_PRECISION, BLOCK_M, BLOCK_N,
                       BLOCK_D, BLOCK_DV)
    if STORE_DS:
        # Keys the loops skipped (past the diagonal) have dS = 0; the mask's gradient reads every entry.
        for start_n in range(hi, S, BLOCK_N):
            offs_n = start_n + tl.arange(0, BLOCK_N)
            tl.store(ds_base + offs_m.to(tl.int64)[:, None] * S + offs_n[None, :],
                     tl.zeros((BLOCK_M, BLOCK_N), tl.float32), mask=m_ok[:, None] & (offs_n < S)[None, :])
    dq = dq * sm_scale
    tl.store(dq_ptr + (bh.to(tl.int64) * L + offs_m.to(tl.int64))[:, None] * E + offs_d[None, :],
             cast_to(dq, dq_ptr.dtype.element_ty), mask=m_ok[:, None] & (offs_d < E)[None, :])


# ---------------------------------------------------------------- configs and the launch wrapper
def _dkdv_heuristic(key: tuple) -> dict:
    """A wide key block (the M side of its products) and a short query step; dK and dV accumulate in fp32
    registers beside the k and v tiles (kernels/attention.py's TILES)."""
    return tile_config("dkdv", key)


def _dq_heuristic(key: tuple) -> dict:
    """A wide query block, a short key step (the mirror of dk/dv); dQ, q and dO stay in registers."""
    return tile_config("dq", key)


def _space_of(heuristic):
    def space(key: tuple, space: str) -> list[dict]:
        """The heuristic, half and double its inner step, one stage fewer."""
        base = heuristic(key)
        cands = [base, dict(base, BLOCK_M=max(16, base["BLOCK_M"] // 2)), dict(base, BLOCK_M=base["BLOCK_M"] * 2),
                 dict(base, num_stages=max(1, base["num_stages"] - 1))]
        if space == "max":  # the narrower outer tile
            cands.append(dict(base, BLOCK_N=max(16, base["BLOCK_N"] // 2)))
        return list({repr(c): c for c in cands}.values())
    return space


def _bwd_cost(BH: int, L: int, S: int, E: int, EV: int, itemsize: int, causal: bool) -> Cost:
    """Reads q, k, v, dO, writes the gradients; 2.5x the forward's products (5 per key block over 2)."""
    fwd = attention_cost(BH, L, S, E, EV, itemsize, causal)
    return Cost(2.0 * fwd.bytes, 2.5 * fwd.flops)


DKDV_TUNING = Tunable("attention.bwd_dkdv", _space_of(_dkdv_heuristic), _dkdv_heuristic, _bwd_cost,
                      specs="attention.bwd_dkdv[")
DQ_TUNING = Tunable("attention.bwd_dq", _space_of(_dq_heuristic), _dq_heuristic, _bwd_cost, specs="attention.bwd_dq[")
PRE_TUNING = Tunable("attention.bwd_preprocess", [PRE_CONFIG, dict(BLOCK_M=64, BLOCK_D=32, num_warps=4)],
                     lambda key: dict(PRE_CONFIG), lambda R, EV, itemsize: Cost(2.0 * R * EV * itemsize + 4.0 * R,
                                                                                  2.0 * R * EV),
                     specs="attention.bwd_preprocess[")


def attention_backward(dq: DeviceArray, dk: DeviceArray, dv: DeviceArray, ds: DeviceArray | None,
                       delta: DeviceArray, grad: DeviceArray, q: DeviceArray, k: DeviceArray, v: DeviceArray,
                       out: DeviceArray, lse: DeviceArray, mask: DeviceArray | None, scale: float, causal: bool,
                       dropout_p: float, seed: int, allow_tf32: bool = False, configs: dict | None = None) -> None:
    """dq, dk, dv (contiguous, q's / k's / v's shapes) of attention_forward's output for `grad`.

    delta: (Z * Hq, L) scratch, lse's dtype (fp32; fp64 for fp64 inputs). ds: None, or (Z, Hq, L, S) fp32
    contiguous that receives dS (a float mask's gradient, before summing over broadcast dims).
    configs: {"dkdv": cfg, "dq": cfg} (tests)."""
    Z, HQ, L, E = q.shape
    HK, S, EV = k.shape[1], k.shape[2], v.shape[3]
    mptr, mstrides, kind = mask_view(mask, q)
    drop, p_keep, drop_scale = dropout_args(dropout_p)
    bd, bdv = block_d(E), block_d(EV)
    precision = "tf32" if allow_tf32 and q.dtype.name == "float32" else "ieee"
    R = Z * HQ * L

    def run_pre(cfg):
        attention_bwd_preprocess_kernel[(triton.cdiv(R, cfg["BLOCK_M"]),)](delta, out, grad, R, L, EV, HQ,
                                                                          *grad.strides[:3], **cfg)

    check_inner(q, k, v, grad)
    common = (L, S, E, EV, HQ, HQ // HK, *q.strides[:3], *k.strides[:3], *v.strides[:3], *grad.strides[:3],
              *mstrides,
              scale * LOG2E, scale, int(causal), int(seed), p_keep, drop_scale)
    consts = dict(DROPOUT=bool(drop), MASK_KIND=kind, INPUT_PRECISION=precision, BLOCK_D=bd, BLOCK_DV=bdv)

    def run_dkdv(cfg):
        grid = (triton.cdiv(S, cfg["BLOCK_N"]) * Z * HK,)
        attention_bwd_dkdv_kernel[grid](dk, dv, q, k, v, grad, lse, delta, mptr, *common, **consts, **cfg)

    def run_dq(cfg):
        grid = (triton.cdiv(L, cfg["BLOCK_M"]) * Z * HQ,)
        attention_bwd_dq_kernel[grid](dq, q if ds is None else ds, q, k, v, grad, lse, delta, mptr, *common,
                                      STORE_DS=ds is not None, **consts, **cfg)

    sizes = dict(BH=Z * HQ, L=L, S=S, E=E, EV=EV, itemsize=q.dtype.itemsize, causal=causal)
    key = (q.dtype.name, bd, bdv, kind, precision == "tf32", bool(drop), arch_family())
    if configs is not None:
        run_pre(PRE_CONFIG)
        run_dkdv(configs["dkdv"])
        run_dq(configs["dq"])
        return
    tuning.launch(PRE_TUNING, (q.dtype.name, next_pow2(EV)), dict(R=R, EV=EV, itemsize=q.dtype.itemsize), run_pre)
    tuning.launch(DKDV_TUNING, key, sizes, run_dkdv)
    tuning.launch(DQ_TUNING, key, sizes, run_dq)


# ---------------------------------------------------------------- AOT / tuner declarations
def _bwd_signature(dtype: str, first: list[str], dq: bool) -> dict[str, str]:
    sig = {n: f"*{t}" for n, t in zip(first, [dtype, "fp32" if dq else dtype])}
    sig.update({"q_ptr": f"*{dtype}", "k_ptr": f"*{dtype}", "v_ptr": f"*{dtype}", "do_ptr": f"*{dtype}",
                "lse_ptr": "*fp32", "delta_ptr": "*fp32", "mask_ptr": f"*{dtype}"})
    sig.update({n: "i32" for n in ("L", "S", "HQ", "GROUP")})
    for t, inner in (("q", "l"), ("k", "n"), ("v", "n"), ("do", "l")):
        sig.update({f"s{t}z": "i32", f"s{t}h": "i32", f"s{t}{inner}": "i32"})
    sig.update(smz="i32", smh="i32", sml="i32", sms="i32")
    sig.update(qk_scale="fp32", sm_scale="fp32", causal="i32", seed="i32", p_keep="fp32",
               drop_scale="fp32")
    return sig


_BWD_UNIT_ARGS = FWD_UNIT_ARGS


def _bwd_spec(name: str, short: str, which: str, key: tuple, targets: tuple) -> KernelSpec:
    d = key[1]
    consts = dict(E=d, EV=d, DROPOUT=False, MASK_KIND=0, INPUT_PRECISION="ieee", BLOCK_D=d, BLOCK_DV=d)
    if which == "dq":
        kernel, first, heuristic, tunable = attention_bwd_dq_kernel, ["dq_ptr", "ds_ptr"], _dq_heuristic, DQ_TUNING
        consts["STORE_DS"] = False
    else:
        kernel, first, heuristic, tunable = attention_bwd_dkdv_kernel, ["dk_ptr", "dv_ptr"], _dkdv_heuristic, \
            DKDV_TUNING
    # Compute bound (tensor-core products per block): memory_bound=False, the width rule is for streaming kernels.
    return KernelSpec(name, kernel, _bwd_signature(short, first, which == "dq"), consts, [heuristic(key)],
                      tunable.configs(key, "max"), tensor_cores=short != "fp32", unit_args=_BWD_UNIT_ARGS,
                      memory_bound=False, targets=targets, mma_on_sm90=_MMA_ON_SM90 if _mma_tile(which, d) else "")


# Hopper's wgmma needs 64-row warpgroup tiles; at these head dims every such backward tile tried spilled, so the
# sm_90 build runs Ampere's mma on the small tiles instead (still tensor cores).
_MMA_ON_SM90 = "wgmma-sized (64-row) tiles spill at this head dim; mma on 16-row tiles does not"


def _mma_tile(which: str, d: int) -> bool:
    return d >= 128 if which == "dkdv" else d >= 256


def _bwd_specs() -> list[KernelSpec]:
    specs = []
    for short, dtype in DTYPES.items():
        specs.append(KernelSpec(
            f"attention.bwd_preprocess[{short}]", attention_bwd_preprocess_kernel,
            {"delta_ptr": "*fp32", "o_ptr": f"*{short}", "do_ptr": f"*{short}", "R": "i32", "L": "i32",
             "EV": "i32", "HQ": "i32", "sdoz": "i32", "sdoh": "i32", "sdol": "i32"},
            {}, [dict(PRE_CONFIG)], PRE_TUNING.all_configs(), unit_args=()))
        for d in HEAD_DIMS:
            for which in ("dkdv", "dq"):
                specs += per_arch(f"attention.bwd_{which}[{short}:d{d}]",
                                  lambda n, k, t, short=short, which=which: _bwd_spec(n, short, which, k, t),
                                  (dtype, d, d, 0, False, False))
    return specs


SPECS = _bwd_specs()
