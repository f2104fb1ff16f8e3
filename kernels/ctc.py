"""The CTC loss: the alpha (forward) and beta (backward) recursions over time, one program per batch item.

For a target l_1..l_L the extended labels are l' = (blank, l_1, blank, l_2, ..., l_L, blank), 2L + 1 of them.
With lp the (T, N, C) log-probabilities, both recursions are in log space:

  alpha[0, 0] = lp[0, blank], alpha[0, 1] = lp[0, l_1]
  alpha[t, s] = lp[t, l'_s] + lse(alpha[t-1, s], alpha[t-1, s-1], alpha[t-1, s-2] if l'_s != blank and l'_s != l'_{s-2})
  loss = -lse(alpha[T_b-1, 2L], alpha[T_b-1, 2L-1])

and beta the same from the end. One program holds a row of the 2L + 1 states in registers
(BLOCK_S >= 2 * max target length + 1 lanes) and walks time; the shifted reads of the previous row come back
through the (N, T, 2S+1)-shaped alpha/beta buffers (the backward needs alpha anyway), with a barrier
between a row's store and the next step's loads. Time is inherently sequential, so the grid is the batch:
the kernel is latency-bound (memory_bound=False on its specs), as cuDNN's and PyTorch's CTC kernels are.

The gradient is PyTorch's (LossCTC's): with occupancies occ[t, s] = exp(alpha + beta + nll - lp[t, l'_s]),
  grad[t, c] = g_b * (exp(lp[t, c]) - sum over s with l'_s == c of occ[t, s])   for t < T_b, else 0,
which is the gradient through a log_softmax that produced lp (the exp(lp) term vanishes there). The per-class
sums are a dense (BLOCK_S, BLOCK_C) comparison per class chunk: deterministic, no atomics.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .strided import cast_to
from .tuning import Cost, Tunable, next_pow2

NEG_INF = float("-inf")


@triton.jit
def _lse3(a, b, c):
    m = tl.maximum(tl.maximum(a, b), c)
    safe = tl.where(m == float("-inf"), 0.0, m)
    total = tl.exp(a - safe) + tl.exp(b - safe) + tl.exp(c - safe)
    # All three -inf: no log(0) (the interpreter would warn); the result is -inf.
    return tl.where(m == float("-inf"), m, safe + tl.log(tl.where(m == float("-inf"), 1.0, total)))


@triton.jit
def _labels(tgt_ptr, off, L, s, blank, stride_tgt):
    """(l'_s, l'_{s+2} != l'_s for odd s; the skip into s allowed): the extended labels of this item."""
    odd = (s % 2) == 1
    k = (s - 1) // 2  # the target index of an odd s
    lab = tl.where(odd & (s < 2 * L + 1), tl.load(tgt_ptr + off + k * stride_tgt, mask=odd & (s < 2 * L + 1),
                                                  other=0), blank).to(tl.int64)
    prev = tl.load(tgt_ptr + off + (k - 1) * stride_tgt, mask=odd & (s >= 3) & (s < 2 * L + 1), other=-1)
    skip = odd & (s >= 3) & (lab != prev.to(tl.int64))  # alpha[t-1, s-2] may feed alpha[t, s]
    return lab, skip


@fast_jit
def ctc_forward_kernel(
    loss_ptr,  # (N,) per-item negative log-likelihood (acc dtype)
    alpha_ptr,  # (N, T, SS) alpha buffer (acc dtype), SS = the row pitch >= 2 * S + 1
    lp_ptr,  # (T, N, C) log-probabilities
    tgt_ptr,  # targets, int64: item b's labels at tgt_off[b] + k * stride_tgt
    tgt_off_ptr,  # (N,) int64 offsets of each item's labels
    in_len_ptr, tgt_len_ptr,  # (N,) int64 input / target lengths
    SS,  # alpha row pitch
    T,
    stride_lt, stride_ln, stride_lc,  # lp strides
    stride_tgt,
    blank,
    BLOCK_S: tl.constexpr,  # >= 2 * max target length + 1
):
    b = tl.program_id(0)
    acc_type: tl.constexpr = tl.float64 if lp_ptr.dtype.element_ty == tl.float64 else tl.float32
    s = tl.arange(0, BLOCK_S)
    L = tl.load(tgt_len_ptr + b)
    Tb = tl.load(in_len_ptr + b)
    off = tl.load(tgt_off_ptr + b)
    S2 = 2 * L + 1
    smask = s < S2
    lab, skip = _labels(tgt_ptr, off, L, s, blank, stride_tgt)
    lp_b = lp_ptr + b.to(tl.int64) * stride_ln
    row = alpha_ptr + b.to(tl.int64) * T * SS
    a = tl.load(lp_b + lab * stride_lc, mask=(s < 2) & smask & ((s * 0 + Tb) > 0), other=float("-inf")).to(acc_type)
    tl.store(row + s, a, mask=smask)
    for t in range(1, Tb):
        tl.debug_barrier()  # the previous row's stores are visible to every lane before the shifted loads
        prev = row + (t - 1) * SS
        a1 = tl.load(prev + s - 1, mask=smask & (s >= 1), other=float("-inf"))
        a2 = tl.load(prev + s - 2, mask=smask & skip, other=float("-inf"))
        x = tl.load(lp_b + t * stride_lt + lab * stride_lc, mask=smask, other=0.0).to(acc_type)
        a = tl.where(smask, _lse3(a, a1, a2) + x, float("-inf"))
        tl.store(row + t * SS + s, a, mask=smask)
    last = tl.where(((s == S2 - 1) | (s == S2 - 2)) & (s >= 0), a, float("-inf"))
    m = tl.max(last, axis=0)
    safe = tl.where(m == float("-inf"), 0.0, m)
    total = tl.sum(tl.exp(last - safe), axis=0)
    ll = tl.where(m == float("-inf"), m, safe + tl.log(tl.where(m == float("-inf"), 1.0, total)))
    ll = tl.where(Tb == 0, tl.where(L == 0, 0.0, float("-inf")), ll)  # no frames: only the empty target
    tl.store(loss_ptr + b, cast_to(-ll, loss_ptr.dtype.element_ty))


@fast_jit
def ctc_backward_kernel(
    grad_ptr,  # (T, N, C) output: d loss / d lp (lp's dtype)
    g_ptr,  # (N,) incoming gradient per item (acc dtype; 0 where zero_infinity drops an infinite loss)
    beta_ptr,  # (N, T, SS) beta scratch (acc dtype)
    alpha_ptr,  # (N, T, SS) the forward's alpha
    nll_ptr,  # (N,) the forward's per-item loss
    lp_ptr, tgt_ptr, tgt_off_ptr, in_len_ptr, tgt_len_ptr,  # as the forward
    SS, T, C,
    stride_lt, stride_ln, stride_lc,
    stride_gt, stride_gn, stride_gc,  # grad strides
    stride_tgt,
    blank,
    BLOCK_S: tl.constexpr,
    BLOCK_C: tl.constexpr,  # classes per chunk of the gradient row
):
    b = tl.program_id(0)
    acc_type: tl.constexpr = tl.float64 if lp_ptr.dtype.element_ty == tl.float64 else tl.float32
    s = tl.arange(0, BLOCK_S)
    L = tl.load(tgt_len_ptr + b)
    Tb = tl.load(in_len_ptr + b)
    off = tl.load(tgt_off_ptr + b)
    S2 = 2 * L + 1
    smask = s < S2
    lab, _ = _labels(tgt_ptr, off, L, s, blank, stride_tgt)
    # The skip out of s into s + 2 is allowed when l'_{s+2} is a label different from l'_s.
    lab2, skip2 = _labels(tgt_ptr, off, L, s + 2, blank, stride_tgt)
    skip2 = skip2 & (s + 2 < S2)
    lp_b = lp_ptr + b.to(tl.int64) * stride_ln
    g_b = grad_ptr + b.to(tl.int64) * stride_gn
    row = beta_ptr + b.to(tl.int64) * T * SS
    arow = alpha_ptr + b.to(tl.int64) * T * SS
    g = tl.load(g_ptr + b).to(acc_type)
    nll = tl.load(nll_ptr + b).to(acc_type)
    c0 = tl.arange(0, BLOCK_C)
    # Frames past this item's input length get a zero gradient.
    for t in range(Tb, T):
        for cs in range(0, C, BLOCK_C):
            c = cs + c0
            tl.store(g_b + t * stride_gt + c * stride_gc, tl.zeros((BLOCK_C,), acc_type).to(grad_ptr.dtype.element_ty),
                     mask=c < C)
    beta = tl.full((BLOCK_S,), float("-inf"), acc_type)
    for i in range(0, Tb):
        t = Tb - 1 - i
        x = tl.load(lp_b + t * stride_lt + lab * stride_lc, mask=smask, other=0.0).to(acc_type)
        if i == 0:
            beta = tl.where(smask & (s >= S2 - 2), x, float("-inf"))
        else:
            tl.debug_barrier()
            nxt = row + (t + 1) * SS
            b1 = tl.load(nxt + s + 1, mask=s + 1 < S2, other=float("-inf"))
            b2 = tl.load(nxt + s + 2, mask=skip2, other=float("-inf"))
            beta = tl.where(smask, _lse3(beta, b1, b2) + x, float("-inf"))
        tl.store(row + t * SS + s, beta, mask=smask)
        alpha = tl.load(arow + t * SS + s, mask=smask, other=float("-inf"))
        # An impossible alignment (nll = inf) gives NaN occupancies, as PyTorch's (zero_infinity zeroes g there).
        live = smask & (alpha > float("-inf")) & (beta > float("-inf"))
        occ = tl.where(live, tl.exp(tl.where(live, alpha + beta, 0.0) + nll - x), 0.0)
        for cs in range(0, C, BLOCK_C):
            c = cs + c0
            hit = tl.sum(tl.where(lab[:, None] == c[None, :].to(tl.int64), occ[:, None], 0.0), axis=0)
            y = tl.load(lp_b + t * stride_lt + c * stride_lc, mask=c < C, other=0.0).to(acc_type)
            gr = (tl.exp(y) - hit) * g
            tl.store(g_b + t * stride_gt + c * stride_gc, cast_to(gr, grad_ptr.dtype.element_ty), mask=c < C)


# ---------------------------------------------------------------- launch wrappers
def _block_s(max_target: int) -> int:
    return max(16, triton.next_power_of_2(2 * max_target + 1))


def _fwd_heuristic(key: tuple) -> dict:
    # One warp per 32 lanes of the state row, at least one: a row is the whole program's work per step.
    return dict(num_warps=max(1, min(8, key[-1] // 64)))


def _bwd_heuristic(key: tuple) -> dict:
    block_s = key[-1]
    # The (BLOCK_S, BLOCK_C) comparison tile at <= 32 values per thread.
    block_c = max(16, min(triton.next_power_of_2(max(key[-2], 1)), 8192 // block_s))
    return dict(BLOCK_C=block_c, num_warps=4 if block_s * block_c <= 4096 else 8)


def _bwd_space(key: tuple, space: str) -> list[dict]:
    h = _bwd_heuristic(key)
    alt = dict(h, BLOCK_C=max(16, h["BLOCK_C"] // 2))
    return list({repr(c): c for c in (h, alt, dict(h, num_warps=8 if h["num_warps"] == 4 else 4))}.values())


# Forward: T steps of 2L+1 states, each reading 3 states and one log-probability; backward adds the gradient row.
CTC_FORWARD_TUNING = Tunable("ctc.forward", lambda key, space: [_fwd_heuristic(key),
                                                               dict(num_warps=2 * _fwd_heuristic(key)["num_warps"])],
                             _fwd_heuristic, lambda N, T, S, C, itemsize: Cost(
                                 float(N) * T * S * (3 * itemsize + itemsize), 10.0 * N * T * S))
CTC_BACKWARD_TUNING = Tunable("ctc.backward", _bwd_space, _bwd_heuristic, lambda N, T, S, C, itemsize: Cost(
    float(N) * T * (4 * S + 2 * C) * itemsize, float(N) * T * S * C))


def ctc_forward(loss: DeviceArray, alpha: DeviceArray, lp: DeviceArray, targets: DeviceArray,
                tgt_off: DeviceArray, in_len: DeviceArray, tgt_len: DeviceArray, stride_tgt: int, max_target: int,
                blank: int) -> None:
    """Per-item loss (N,) and alpha (N, T, SS), both acc dtype (fp32, fp64 for fp64 lp); lp is (T, N, C) any
    strides; targets int64 with item b's k-th label at tgt_off[b] + k * stride_tgt; lengths int64 (N,)."""
    T, N, C = lp.shape
    if N == 0:
        return
    block_s = _block_s(max_target)

    def run(cfg):
        ctc_forward_kernel[(N,)](loss, alpha, lp, targets, tgt_off, in_len, tgt_len, alpha.strides[1], T,
                                 *lp.strides, stride_tgt, blank, BLOCK_S=block_s, **cfg)

    key = (lp.dtype.name, next_pow2(T), block_s)
    tuning.launch(CTC_FORWARD_TUNING, key, dict(N=N, T=T, S=block_s, C=C, itemsize=lp.dtype.itemsize), run)


def ctc_backward(grad: DeviceArray, g: DeviceArray, beta: DeviceArray, alpha: DeviceArray, nll: DeviceArray,
                 lp: DeviceArray, targets: DeviceArray, tgt_off: DeviceArray, in_len: DeviceArray,
                 tgt_len: DeviceArray, stride_tgt: int, max_target: int, blank: int) -> None:
    """grad (T, N, C) in lp's dtype from the per-item incoming gradient g (N,); beta an (N, T, SS) scratch."""
    T, N, C = lp.shape
    if N == 0 or T == 0 or C == 0:
        return
    block_s = _block_s(max_target)

    def run(cfg):
        ctc_backward_kernel[(N,)](grad, g, beta, alpha, nll, lp, targets, tgt_off, in_len, tgt_len, alpha.strides[1],
                                  T, C, *lp.strides, *grad.strides, stride_tgt, blank, BLOCK_S=block_s, **cfg)

    key = (lp.dtype.name, next_pow2(T), next_pow2(C), block_s)
    tuning.launch(CTC_BACKWARD_TUNING, key, dict(N=N, T=T, S=block_s, C=C, itemsize=lp.dtype.itemsize), run,
                  repeatable=True)


# ---------------------------------------------------------------- NumPy reference
def _lse(*xs):
    m = np.max(np.stack(xs), axis=0)
    safe = np.where(np.isneginf(m), 0.0, m)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isneginf(m), m, safe + np.log(sum(np.exp(x - safe) for x in xs)))


def _extended(labels: np.ndarray, blank: int) -> tuple[np.ndarray, np.ndarray]:
    L = len(labels)
    ext = np.full(2 * L + 1, blank, np.int64)
    ext[1::2] = labels
    skip = np.zeros(2 * L + 1, bool)
    skip[3::2] = labels[1:] != labels[:-1]
    return ext, skip


def ctc_alpha_ref(lp: np.ndarray, labels: np.ndarray, blank: int) -> np.ndarray:
    """alpha (T, 2L + 1) of one item: lp (T, C) in float64."""
    ext, skip = _extended(labels, blank)
    T, S = lp.shape[0], len(ext)
    alpha = np.full((T, S), -np.inf)
    if T == 0:
        return alpha
    alpha[0, :2] = lp[0, ext[:2]]
    for t in range(1, T):
        a1 = np.concatenate([[-np.inf], alpha[t - 1]])[:S]
        a2 = np.where(skip, np.concatenate([[-np.inf, -np.inf], alpha[t - 1]])[:S], -np.inf)
        alpha[t] = _lse(alpha[t - 1], a1, a2) + lp[t, ext]
    return alpha


def ctc_beta_ref(lp: np.ndarray, labels: np.ndarray, blank: int) -> np.ndarray:
    """beta (T, 2L + 1) of one item (including lp at t, as PyTorch's)."""
    ext, skip = _extended(labels, blank)
    T, S = lp.shape[0], len(ext)
    beta = np.full((T, S), -np.inf)
    if T == 0:
        return beta
    beta[T - 1, max(0, S - 2):] = lp[T - 1, ext[max(0, S - 2):]]
    skip2 = np.concatenate([skip, [False, False]])[2:]
    for t in range(T - 2, -1, -1):
        b1 = np.concatenate([beta[t + 1], [-np.inf]])[1:]
        b2 = np.where(skip2, np.concatenate([beta[t + 1], [-np.inf, -np.inf]])[2:], -np.inf)
        beta[t] = _lse(beta[t + 1], b1, b2) + lp[t, ext]
    return beta


def ctc_loss_ref(lp: np.ndarray, targets: list[np.ndarray], in_len: np.ndarray, blank: int = 0) -> np.ndarray:
    """Per-item negative log-likelihood (N,) in float64: lp (T, N, C), targets one label array per item."""
    out = np.zeros(lp.shape[1])
    for b, labels in enumerate(targets):
        Tb = int(in_len[b])
        if Tb == 0:
            out[b] = 0.0 if len(labels) == 0 else np.inf
            continue
        alpha = ctc_alpha_ref(lp[:Tb, b].astype(np.float64), np.asarray(labels, np.int64), blank)
        out[b] = -_lse(alpha[-1, -1], alpha[-1, -2] if alpha.shape[1] > 1 else -np.inf)
    return out


def ctc_grad_ref(grad: np.ndarray, lp: np.ndarray, targets: list[np.ndarray], in_len: np.ndarray,
                 nll: np.ndarray, blank: int = 0) -> np.ndarray:
    """PyTorch's CTC gradient wrt lp (T, N, C) for per-item incoming gradients grad (N,), in lp's dtype."""
    T, N, C = lp.shape
    out = np.zeros((T, N, C))
    for b, labels in enumerate(targets):
        Tb = int(in_len[b])
        if Tb == 0:
            continue
        x = lp[:Tb, b].astype(np.float64)
        labels = np.asarray(labels, np.int64)
        ext, _ = _extended(labels, blank)
        alpha, beta = ctc_alpha_ref(x, labels, blank), ctc_beta_ref(x, labels, blank)
        with np.errstate(invalid="ignore", over="ignore"):
            live = np.isfinite(alpha) & np.isfinite(beta)
            occ = np.where(live, np.exp(np.where(live, alpha + beta, 0.0) + nll[b] - x[:, ext]), 0.0)
            hit = np.zeros((Tb, C))
            np.add.at(hit, (slice(None), ext), occ)
            out[:Tb, b] = (np.exp(x) - hit) * grad[b]
    return out.astype(lp.dtype)


# ---------------------------------------------------------------- AOT / tuner declarations
def _sig(dtype: str, acc: str, backward: bool) -> dict[str, str]:
    if backward:
        sig = {"grad_ptr": f"*{dtype}", "g_ptr": f"*{acc}", "beta_ptr": f"*{acc}", "alpha_ptr": f"*{acc}",
               "nll_ptr": f"*{acc}"}
    else:
        sig = {"loss_ptr": f"*{acc}", "alpha_ptr": f"*{acc}"}
    sig.update({"lp_ptr": f"*{dtype}", "tgt_ptr": "*i64", "tgt_off_ptr": "*i64", "in_len_ptr": "*i64",
                "tgt_len_ptr": "*i64", "SS": "i32", "T": "i32"})
    if backward:
        sig["C"] = "i32"
    sig.update(stride_lt="i32", stride_ln="i32", stride_lc="i32")
    if backward:
        sig.update(stride_gt="i32", stride_gn="i32", stride_gc="i32")
    sig.update(stride_tgt="i32", blank="i32")
    return sig


# Time is a sequential loop and each step touches one short row: latency-bound, never a 128-bit stream.
SPECS = [
    KernelSpec(f"ctc.forward[{dtype},S{block_s}]", ctc_forward_kernel, _sig(dtype, dtype, False), dict(BLOCK_S=block_s),
               [_fwd_heuristic((block_s,))], CTC_FORWARD_TUNING.configs((dtype, 1, block_s)), memory_bound=False)
    for dtype in ("fp32", "fp64") for block_s in (64, 256)
] + [
    KernelSpec(f"ctc.backward[{dtype},S{block_s}]", ctc_backward_kernel, _sig(dtype, dtype, True),
               dict(BLOCK_S=block_s), [_bwd_heuristic((32, block_s))], _bwd_space((dtype, 1, 32, block_s), "max"),
               memory_bound=False)
    for dtype in ("fp32", "fp64") for block_s in (64, 256)
]
