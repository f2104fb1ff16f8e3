"""Flash attention forward: softmax(q k^T * scale + mask) v without an L x S matrix in memory.

Operands are 4-d views (any strides, 0 along broadcast dims, but a contiguous head dim): q (Z, Hq, L, E),
k (Z, Hk, S, E), v (Z, Hk, S, Ev) with Hk dividing Hq (query head h reads kv head h // (Hq // Hk): grouped-query
attention), the mask (Z, Hq, L, S) read through its strides (a broadcast dim has stride 0, so a (L, S) or
(1, 1, 1, S) mask is never expanded in memory), out (Z, Hq, L, Ev) and lse (Z * Hq, L) contiguous. The head dim
has no stride argument and its size is a constexpr (E, Ev; padded to the pow2 BLOCK_D, BLOCK_DV): a tile's
addresses are a row base plus a contiguous run, and its head-dim masks fold away for the usual head dims.

One program owns BLOCK_M query rows of one (batch, head). It walks the key blocks with the online softmax
(FlashAttention-2): running row max m and sum l in fp32, exp2 with the scale folded into log2 units
(scores * scale * log2(e)), so each score costs one FMA and one exp2; the fp32 accumulator is rescaled
only by the per-row factor exp2(m_old - m_new). The two products run on tensor cores for fp16/bf16 (fp32:
IEEE unless tt.backends.cuda.matmul.allow_tf32; fp64: FMA). What is saved for the backward is the row's
lse in log2 units (m + log2(l)), fp32 (fp64 for fp64 inputs), +inf for a row that keeps no key (its output is
0, PyTorch's _safe_softmax; +inf makes every recomputed probability exp2(s - inf) = 0 in the backward).

Causal (top-left aligned, key j kept for query i when j <= i) is a runtime argument, not a constexpr: it
only moves the loop bounds (key blocks past the diagonal are never visited) and switches the mask of the few
diagonal blocks, which are masked anyway for the key-length edge, so one build serves both. The attention
mask's kind (none / bool / additive float) is a constexpr (its load is in the hot loop), and so is dropout:
as a runtime branch its Philox rounds (four 32-bit words per score) set the register allocation of every
launch, and spilled. The shipped AOT specs are the no-dropout builds; dropout builds compile at first use.

Dropout keeps probability (bh, i, j) when tl.rand(seed + bh * 2**32, i * S + j) < 1 - p (Philox key (seed,
bh), counter the position in the head, int32: L * S < 2**31), the mask kernels/attention_ref.py's NumPy
Philox reproduces; the backward regenerates it bit for bit. The row sum l uses the undropped
probabilities, as dropout applies after the softmax.
"""

from __future__ import annotations

import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .matmul_epilogue import dot_operand
from .matmul_tma import device_arch
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2

LOG2E = 1.4426950408889634
MASK_KINDS = {"none": 0, "bool": 1, "float": 2}
DTYPES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}
HEAD_DIMS = (16, 32, 64, 128, 256)


# ---------------------------------------------------------------- shared device helpers
@triton.jit
def dropout_keep(seed, bh, offs_row, offs_col, S, p_keep):
    """The kept entries of a block of the (L, S) probabilities of head bh: rows offs_row, columns offs_col
    (broadcast against each other by the caller's layout); see the module docstring."""
    key = seed.to(tl.int64) + bh.to(tl.int64) * 4294967296
    return tl.rand(key, offs_row * S + offs_col) < p_keep


@triton.jit
def apply_mask(s, mask_blk, offs, in_bounds, MASK_KIND: tl.constexpr):
    """Scores (log2 units) with the attention mask applied: bool -> -inf where False, float -> + mask * log2(e).
    mask_blk: the block's corner in the mask (a 64-bit scalar pointer), offs: the block-relative offsets (int32,
    in the scores' layout), so no 64-bit offset per element is carried."""
    if MASK_KIND == 1:
        keep = tl.load(mask_blk + offs, mask=in_bounds, other=1)
        s = tl.where(keep != 0, s, float("-inf"))
    elif MASK_KIND == 2:
        add = tl.load(mask_blk + offs, mask=in_bounds, other=0.0)
        s = s + compute_type(add).to(s.dtype) * 1.4426950408889634
    return s


@triton.jit
def tile(base, rows, stride, cols):
    """Pointers base + rows[:, None] * stride + cols[None, :] (cols contiguous): int32 block-relative offsets on
    a 64-bit scalar base, so no 64-bit offset per element is carried."""
    return base + (rows[:, None] * stride + cols[None, :])


@triton.jit
def tile_t(base, cols, rows, stride):
    """The transposed tile: base + cols[:, None] + rows[None, :] * stride (see `tile`)."""
    return base + (cols[:, None] + rows[None, :] * stride)


# ---------------------------------------------------------------- the forward kernel
@triton.jit
def _fwd_block(acc, m_i, l_i, q, k_base, v_base, mask_base, offs_m, start_n, L, S, E, EV, skn, svn,
               sml, sms, qk_scale, causal, seed, bh, p_keep, drop_scale,
               EDGE: tl.constexpr, DROPOUT: tl.constexpr, MASK_KIND: tl.constexpr, INPUT_PRECISION: tl.constexpr,
               BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_DV: tl.constexpr):
    """One key block of the online softmax. EDGE: the block may hold keys past S or past the diagonal (only
    such blocks pay for the key masks). The block's start is folded into 64-bit scalar bases; the tiles use
    int32 block-relative offsets (half the address registers of 64-bit ones)."""
    rel_n = tl.arange(0, BLOCK_N)
    offs_n = start_n + rel_n
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    n_ok = offs_n < S
    d_ok = (offs_d < E)[:, None]
    dv_ok = (offs_dv < EV)[None, :]
    if EDGE:
        d_ok = d_ok & n_ok[None, :]
        dv_ok = dv_ok & n_ok[:, None]
    # k^T tile (BLOCK_D, BLOCK_N): head-dim padding reads 0, which adds nothing to the dot.
    kt = tl.load(tile_t(k_base + tl.cast(start_n, tl.int64) * skn, offs_d, rel_n, skn), mask=d_ok, other=0.0)
    acc_type: tl.constexpr = acc.dtype
    s = tl.dot(dot_operand(q), dot_operand(kt), input_precision=INPUT_PRECISION, out_dtype=acc_type) * qk_scale
    if MASK_KIND != 0:
        rows = tl.arange(0, BLOCK_M)
        s = apply_mask(s, mask_base + tl.cast(start_n, tl.int64) * sms, rows[:, None] * sml + rel_n[None, :] * sms,
                       (offs_m < L)[:, None] & n_ok[None, :], MASK_KIND)
    if EDGE:
        keep = n_ok[None, :] & ((causal == 0) | (offs_n[None, :] <= offs_m[:, None]))
        s = tl.where(keep, s, float("-inf"))
    m_new = tl.maximum(m_i, tl.max(s, 1))
    # A row with no key kept so far shifts by 0, not by -inf (which would make -inf - -inf = NaN).
    shift = tl.where(m_new == float("-inf"), 0.0, m_new)
    p = tl.math.exp2(s - shift[:, None])
    alpha = tl.math.exp2(m_i - shift)
    l_i = l_i * alpha + tl.sum(p, 1)
    if DROPOUT:
        keep = dropout_keep(seed, bh, offs_m[:, None], offs_n[None, :], S, p_keep)
        p = tl.where(keep, p * drop_scale, 0.0)
    v = tl.load(tile(v_base + tl.cast(start_n, tl.int64) * svn, rel_n, svn, offs_dv), mask=dv_ok, other=0.0)
    acc = acc * alpha[:, None]
    acc = tl.dot(dot_operand(cast_to(p, v.dtype)), dot_operand(v), acc, input_precision=INPUT_PRECISION,
                 out_dtype=acc_type)
    return acc, m_new, l_i


@fast_jit(do_not_specialize=["causal", "seed"])
def attention_fwd_kernel(
    out_ptr,  # (Z, Hq, L, Ev) output, contiguous
    lse_ptr,  # (Z * Hq, L) fp32 (fp64 for fp64 inputs): row log-sum-exp in log2 units (+inf: no key kept)
    q_ptr,  # (Z, Hq, L, E) query
    k_ptr,  # (Z, Hk, S, E) key
    v_ptr,  # (Z, Hk, S, Ev) value
    mask_ptr,  # (Z, Hq, L, S) attention mask (bool or float; any pointer when MASK_KIND is 0)
    L, S,  # query rows, keys
    E: tl.constexpr,  # head dim of q / k (a constexpr: the head-dim masks fold away when E == BLOCK_D)
    EV: tl.constexpr,  # head dim of v
    HQ, GROUP,  # query heads, query heads per kv head (Hq // Hk)
    sqz, sqh, sql,  # q strides (elements; the head dim is contiguous)
    skz, skh, skn,  # k strides
    svz, svh, svn,  # v strides
    smz, smh, sml, sms,  # mask strides (0 along broadcast dims)
    qk_scale,  # scale * log2(e): the scores in log2 units
    causal,  # 1: key j only for query i >= j (top-left aligned)
    seed,  # Philox seed of the dropout mask
    p_keep,  # 1 - dropout_p
    drop_scale,  # 1 / (1 - dropout_p)
    DROPOUT: tl.constexpr,  # dropout on the probabilities (its Philox code would cost registers unused)
    MASK_KIND: tl.constexpr,  # 0 none, 1 bool (True keeps), 2 float (added to the scores)
    INPUT_PRECISION: tl.constexpr,  # "ieee" or "tf32" for fp32 operands (16-bit ones ignore it)
    BLOCK_M: tl.constexpr,  # query rows per program
    BLOCK_N: tl.constexpr,  # keys per step
    BLOCK_D: tl.constexpr,  # next_pow2(E) (>= 16)
    BLOCK_DV: tl.constexpr,  # next_pow2(Ev) (>= 16)
):
    num_m = tl.cdiv(L, BLOCK_M)
    pid = tl.program_id(0)
    bh = pid // num_m
    # The last query blocks first: under causal they see the most keys, so the long programs start early.
    start_m = (num_m - 1 - pid % num_m) * BLOCK_M
    z = bh // HQ
    h = bh % HQ
    hk = h // GROUP
    offs_m = start_m + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    q_base = q_ptr + z.to(tl.int64) * sqz + h.to(tl.int64) * sqh
    k_base = k_ptr + z.to(tl.int64) * skz + hk.to(tl.int64) * skh
    v_base = v_ptr + z.to(tl.int64) * svz + hk.to(tl.int64) * svh
    # The mask's rows of this query block start at the base: the per-block offsets stay int32.
    mask_base = mask_ptr + z.to(tl.int64) * smz + h.to(tl.int64) * smh + tl.cast(start_m, tl.int64) * sml
    q = tl.load(tile(q_base + tl.cast(start_m, tl.int64) * sql, tl.arange(0, BLOCK_M), sql, offs_d),
                mask=(offs_m < L)[:, None] & (offs_d < E)[None, :], other=0.0)
    acc_type: tl.constexpr = tl.float64 if q_ptr.dtype.element_ty == tl.float64 else tl.float32
    m_i = tl.full((BLOCK_M,), float("-inf"), acc_type)
    l_i = tl.zeros((BLOCK_M,), acc_type)
    acc = tl.zeros((BLOCK_M, BLOCK_DV), acc_type)
    # Key blocks every row of this query block keeps whole (no edge, no diagonal) run unmasked; the rest
    # (the diagonal under causal, the key-length edge) masked; blocks past the diagonal not at all.
    n_full = S // BLOCK_N
    hi = S
    if causal != 0:
        n_full = tl.minimum(n_full, (start_m + 1) // BLOCK_N)
        hi = tl.minimum(S, start_m + BLOCK_M)
    for start_n in range(0, n_full * BLOCK_N, BLOCK_N):
        acc, m_i, l_i = _fwd_block(acc, m_i, l_i, q, k_base, v_base, mask_base, offs_m, start_n, L, S, E, EV,
                                   skn, svn, sml, sms, qk_scale, causal, seed, bh, p_keep,
                                   drop_scale, False, DROPOUT, MASK_KIND, INPUT_PRECISION, BLOCK_M, BLOCK_N,
                                   BLOCK_D, BLOCK_DV)
    for start_n in range(n_full * BLOCK_N, hi, BLOCK_N):
        acc, m_i, l_i = _fwd_block(acc, m_i, l_i, q, k_base, v_base, mask_base, offs_m, start_n, L, S, E, EV,
                                   skn, svn, sml, sms, qk_scale, causal, seed, bh, p_keep,
                                   drop_scale, True, DROPOUT, MASK_KIND, INPUT_PRECISION, BLOCK_M, BLOCK_N,
                                   BLOCK_D, BLOCK_DV)
    empty = l_i == 0.0
    inv = 1.0 / tl.where(empty, 1.0, l_i)
    out = acc * inv[:, None]
    lse = tl.where(empty, float("inf"), m_i + tl.math.log2(tl.where(empty, 1.0, l_i)))
    offs_dv = tl.arange(0, BLOCK_DV)
    o_ptrs = tile(out_ptr + (bh.to(tl.int64) * L + start_m) * EV, tl.arange(0, BLOCK_M), EV, offs_dv)
    tl.store(o_ptrs, cast_to(out, out_ptr.dtype.element_ty), mask=(offs_m < L)[:, None] & (offs_dv < EV)[None, :])
    tl.store(lse_ptr + bh.to(tl.int64) * L + offs_m, lse.to(lse_ptr.dtype.element_ty), mask=offs_m < L)


# ---------------------------------------------------------------- configs and the launch wrapper
def block_d(n: int) -> int:
    """The padded head-dim tile: next power of two, at least 16 (tl.dot's smallest K)."""
    return max(16, next_pow2(n))


# Shipped tiles (BLOCK_M, BLOCK_N, num_warps, num_stages) per kernel, precision ("half": fp16/bf16, "f32") and
# padded head dim, chosen with the AOT check so that neither build spills on sm_80 and sm_90; a dict entry
# differs per arch: sm_90's wgmma wants 64 rows per warpgroup, sm_80's register budget smaller tiles. fp64
# takes the fp32 tiles of twice its head dim (its registers are twice as wide); a masked forward with a head dim
# up to 64 the d128 tile.
TILES = {
    ("fwd", "half"): {16: (128, 64, 8, 3), 32: (128, 64, 8, 3), 64: (128, 64, 8, 3), 128: (64, 32, 8, 3),
                      256: {80: (32, 16, 8, 2), 90: (64, 16, 8, 1)}},
    ("fwd", "f32"): {16: (64, 32, 8, 2), 32: (64, 32, 8, 2), 64: (64, 32, 8, 2),
                     128: {80: (32, 32, 8, 2), 90: (32, 16, 8, 1)}, 256: (32, 16, 8, 1)},
    ("dkdv", "half"): {16: (32, 128, 8, 2), 32: (32, 128, 8, 2), 64: (16, 128, 8, 2),
                       128: {80: (16, 32, 8, 1), 90: (16, 16, 8, 1)}, 256: (16, 16, 8, 1)},
    ("dkdv", "f32"): {16: {80: (32, 64, 4, 1), 90: (32, 32, 8, 1)}, 32: {80: (32, 32, 8, 1), 90: (16, 64, 8, 1)},
                      64: (16, 32, 8, 1), 128: {80: (16, 16, 8, 2), 90: (16, 16, 8, 1)},
                      256: {80: (16, 16, 8, 1), 90: (16, 16, 16, 1)}},
    ("dq", "half"): {16: (128, 32, 8, 2), 32: (128, 32, 8, 2), 64: (128, 32, 8, 2),
                     128: {80: (32, 32, 8, 1), 90: (64, 16, 8, 1)}, 256: (16, 16, 8, 1)},
    ("dq", "f32"): {16: (64, 16, 8, 1), 32: (64, 16, 8, 1), 64: (64, 16, 8, 1), 128: (16, 16, 8, 1),
                    256: {80: (16, 16, 8, 1), 90: (16, 16, 4, 1)}},
}


def tile_config(kernel: str, key: tuple) -> dict:
    """The shipped config of `kernel` ("fwd", "dkdv", "dq") for a tuning key (dtype, BLOCK_D, BLOCK_DV, mask
    kind, tf32, dropout, arch)."""
    dtype, wide, arch = key[0], max(key[1], key[2]), key[-1]
    half = dtype in ("float16", "bfloat16")
    if dtype == "float64":
        wide *= 2
    if kernel == "fwd" and key[3] and half and wide <= 64:
        wide = 128  # the mask's tile loads take the registers the d128 tile leaves free
    entry = TILES[kernel, "half" if half else "f32"][min(256, max(16, wide))]
    if isinstance(entry, dict):
        entry = entry[90 if arch >= 90 else 80]
    m, n, w, st = entry
    return dict(BLOCK_M=m, BLOCK_N=n, num_warps=w, num_stages=st)


def arch_family() -> int:
    """90 on Hopper and newer (and under the interpreter), else 80: the tile tables' arch key."""
    return 90 if device_arch() >= 90 else 80


def _fwd_heuristic(key: tuple) -> dict:
    """key = (dtype, BLOCK_D, BLOCK_DV, mask kind, tf32, dropout, arch): the TILES entry."""
    return tile_config("fwd", key)


def _fwd_space(key: tuple, space: str) -> list[dict]:
    """The heuristic plus a wider and a narrower key step (and, for "max", the other query tile)."""
    base = _fwd_heuristic(key)
    cands = [base, dict(base, BLOCK_N=max(16, base["BLOCK_N"] // 2)), dict(base, BLOCK_N=base["BLOCK_N"] * 2),
             dict(base, num_stages=max(1, base["num_stages"] - 1))]
    if space == "max":
        cands += [dict(base, BLOCK_M=max(16, base["BLOCK_M"] // 2)), dict(base, num_warps=base["num_warps"] * 2)]
    return list({repr(c): c for c in cands}.values())


def attention_cost(BH: int, L: int, S: int, E: int, EV: int, itemsize: int, causal: bool) -> Cost:
    """q, k, v read and out written once (k/v re-read per query block is assumed served by L2); 2 * L * S *
    (E + Ev) FLOPs of products per head, half of it under causal."""
    frac = 0.5 if causal else 1.0
    return Cost(float(BH) * (L * E + S * E + S * EV + L * EV) * itemsize + 4.0 * BH * L,
                2.0 * BH * L * S * (E + EV) * frac)


FWD_TUNING = Tunable("attention.fwd", _fwd_space, _fwd_heuristic, attention_cost, specs="attention.fwd[")


def mask_view(mask: DeviceArray | None, q: DeviceArray) -> tuple[DeviceArray, tuple, int]:
    """(pointer argument, its 4 strides, MASK_KIND) for an optional (Z, Hq, L, S) mask."""
    if mask is None:
        return q, (0, 0, 0, 0), 0
    return mask, mask.strides, MASK_KINDS["bool" if mask.dtype.name == "bool" else "float"]


def dropout_args(dropout_p: float) -> tuple[int, float, float]:
    """(use_dropout, p_keep, scale): p == 1 keeps nothing and scales by 0 (not by inf)."""
    if dropout_p <= 0.0:
        return 0, 1.0, 1.0
    if dropout_p >= 1.0:
        return 1, 0.0, 0.0
    return 1, 1.0 - dropout_p, 1.0 / (1.0 - dropout_p)


def check_inner(*arrays: DeviceArray) -> None:
    """The kernels index the head dim without a stride: every operand's last dim must be contiguous."""
    for a in arrays:
        if a.shape[-1] > 1 and a.strides[-1] != 1:
            raise ValueError("attention needs operands whose last dim is contiguous (stride 1)")


def attention_forward(out: DeviceArray, lse: DeviceArray, q: DeviceArray, k: DeviceArray, v: DeviceArray,
                      mask: DeviceArray | None, scale: float, causal: bool, dropout_p: float, seed: int,
                      allow_tf32: bool = False, config: dict | None = None) -> None:
    """out = softmax(q k^T * scale + mask) v (dropout on the probabilities) and lse; shapes in the module
    docstring. fp16/bf16/fp32/fp64; config overrides the tuned one (tests)."""
    Z, HQ, L, E = q.shape
    HK, S, EV = k.shape[1], k.shape[2], v.shape[3]
    if Z * HQ * L == 0 or EV == 0:
        return
    check_inner(q, k, v)
    mptr, mstrides, kind = mask_view(mask, q)
    drop, p_keep, drop_scale = dropout_args(dropout_p)
    bd, bdv = block_d(E), block_d(EV)
    precision = "tf32" if allow_tf32 and q.dtype.name == "float32" else "ieee"

    def run(cfg):
        grid = (triton.cdiv(L, cfg["BLOCK_M"]) * Z * HQ,)
        attention_fwd_kernel[grid](out, lse, q, k, v, mptr, L, S, E, EV, HQ, HQ // HK, *q.strides[:3],
                                   *k.strides[:3], *v.strides[:3], *mstrides, scale * LOG2E, int(causal), int(seed),
                                   p_keep, drop_scale, DROPOUT=bool(drop), MASK_KIND=kind,
                                   INPUT_PRECISION=precision, BLOCK_D=bd, BLOCK_DV=bdv, **cfg)

    key = (q.dtype.name, bd, bdv, kind, precision == "tf32", bool(drop), arch_family())
    sizes = dict(BH=Z * HQ, L=L, S=S, E=E, EV=EV, itemsize=q.dtype.itemsize, causal=causal)
    if config is not None:
        run(config)
        return
    tuning.launch(FWD_TUNING, key, sizes, run)


# ---------------------------------------------------------------- AOT / tuner declarations
def fwd_signature(dtype: str, mask: str) -> dict[str, str]:
    """The forward kernel's runtime arguments for a dtype ("fp16") and mask pointer type ("i1", "fp16")."""
    sig = {"out_ptr": f"*{dtype}", "lse_ptr": "*fp32", "q_ptr": f"*{dtype}", "k_ptr": f"*{dtype}",
           "v_ptr": f"*{dtype}", "mask_ptr": f"*{mask}"}
    sig.update({n: "i32" for n in ("L", "S", "HQ", "GROUP")})
    for t, inner in (("q", "l"), ("k", "n"), ("v", "n")):
        sig.update({f"s{t}z": "i32", f"s{t}h": "i32", f"s{t}{inner}": "i32"})
    sig.update(smz="i32", smh="i32", sml="i32", sms="i32")
    sig.update(qk_scale="fp32", causal="i32", seed="i32", p_keep="fp32", drop_scale="fp32")
    return sig


# The mask's innermost stride is 1 at a contiguous launch (the JIT makes it a constant: vector loads); q, k,
# v have no inner stride argument at all (the wrapper requires a contiguous head dim).
FWD_UNIT_ARGS = ("sms",)


def per_arch(name: str, make, key: tuple) -> list[KernelSpec]:
    """One spec for both AOT targets when the tile tables agree, else one per target (`make(name, key, targets)`
    builds a spec)."""
    k80, k90 = key + (80,), key + (90,)
    if make("", k80, ()).configs == make("", k90, ()).configs:
        return [make(name, k90, ())]
    return [make(name.replace("]", ":sm_80]"), k80, ("sm_80",)), make(name.replace("]", ":sm_90]"), k90, ("sm_90",))]


def _fwd_spec(name: str, short: str, mtype: str, kind: str, key: tuple, targets: tuple) -> KernelSpec:
    d = key[1]
    return KernelSpec(
        name, attention_fwd_kernel, fwd_signature(short, mtype),
        dict(E=d, EV=d, DROPOUT=False, MASK_KIND=MASK_KINDS[kind], INPUT_PRECISION="ieee", BLOCK_D=d, BLOCK_DV=d),
        [_fwd_heuristic(key)], _fwd_space(key, "max"), tensor_cores=short != "fp32", unit_args=FWD_UNIT_ARGS,
        # Compute bound (two tl.dot per key block): the width rule for streaming kernels does not apply.
        memory_bound=False, targets=targets)


def _fwd_specs() -> list[KernelSpec]:
    specs = []
    for short, dtype in DTYPES.items():
        for d in HEAD_DIMS:
            specs += per_arch(f"attention.fwd[{short}:d{d}]",
                              lambda n, k, t, short=short: _fwd_spec(n, short, short, "none", k, t),
                              (dtype, d, d, 0, False, False))
    for short in ("fp16", "bf16"):  # the masked variants, for the common head dims
        for d in (64, 128):
            for kind, mtype in (("bool", "i1"), ("float", short)):
                specs += per_arch(f"attention.fwd[{short}:d{d}:{kind}]",
                                  lambda n, k, t, short=short, mtype=mtype, kind=kind: _fwd_spec(n, short, mtype,
                                                                                                 kind, k, t),
                                  (DTYPES[short], d, d, MASK_KINDS[kind], False, False))
    return specs


SPECS = _fwd_specs()
