"""The pointwise losses, each one fused kernel forward (elementwise loss + reduction) and one backward.

mse_loss, l1_loss, binary_cross_entropy, binary_cross_entropy_with_logits, huber_loss, smooth_l1_loss,
kl_div, poisson_nll_loss and soft_margin_loss are all `loss = f(x, t[, pos_weight]) [* weight]` per element,
then "none", "sum" or "mean" (kl_div's "batchmean" is a sum divided by the batch size). Each loss is a
small `@triton.jit` function (LOSSES), run by the same two kernels:

- `pointwise_loss_kernel`: operands dense and laid out alike (the ops layer makes them so), indexed with
  flat offsets from one int64 program start; the bulk launches unmasked and the tail masked, so aligned
  pointers give 128-bit loads. Unreduced, it stores the loss per element; reduced, each program stores
  the sum of its block (fp32, fp64 for fp64) into a partials row that `combine_kernel` adds up in one
  program, in a fixed order (deterministic), dividing by the divisor for "mean"/"batchmean".
- `pointwise_loss_backward_kernel`: d loss / d input and d loss / d target in one pass, times the
  incoming gradient: per element for "none", the scalar gradient (divided by the divisor) otherwise.

A loss's scalar parameter (delta, beta, eps) travels as an fp32 (hi, lo) pair (exact to ~48 bits for
fp64); its mode (kl_div's log_target, poisson's log_input/full) as the runtime float `mode`. The NumPy
references (`pointwise_loss_ref`, `pointwise_loss_backward_ref`) live in kernels/loss_pointwise_ref.py and are
re-exported here (K.pointwise_loss_ref), part of this family's interface.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .exponential import _log1p_math
from .ieee_math import div_ieee
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .loss_pointwise_ref import pointwise_loss_backward_ref as pointwise_loss_backward_ref
from .loss_pointwise_ref import pointwise_loss_ref as pointwise_loss_ref
from .special import _sigmoid_pair
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2


# ================================================================ per-element math: loss(x, t, pw, a, mode)
@triton.jit
def _softplus_neg(x):
    # log(1 + exp(-x)) = max(-x, 0) + log1p(exp(-|x|)): never overflows.
    return tl.where(x < 0, -x, 0.0) + _log1p_math(tl.exp(-tl.abs(x)))


@triton.jit
def _log(v):
    # log(v) that never evaluates log(0) or log(<0) (no spurious warnings in the interpreter): -inf at 0, NaN below.
    ok = v > 0
    return tl.where(ok, tl.log(tl.where(ok, v, 1.0)), tl.where(v == 0, float("-inf"), float("nan")))


@triton.jit
def _bce_logs(x):
    # PyTorch clamps both logs at -100, so x = 0 or 1 gives a finite loss.
    log_x = tl.maximum(_log(x), -100.0)
    log_1mx = tl.where(x < 1, tl.maximum(_log1p_math(tl.where(x < 1, -x, 0.0)), -100.0),
                       tl.where(x == 1, -100.0, float("nan")))
    return log_x, log_1mx


@triton.jit
def _bce(x, t, pw, a, mode):
    log_x, log_1mx = _bce_logs(x)
    return (t - 1.0) * log_1mx - t * log_x


@triton.jit
def _bce_backward(x, t, pw, a, mode):
    # PyTorch's formula: (x - t) / max(x (1 - x), 1e-12); d/dt = log(1 - x) - log(x), both clamped.
    log_x, log_1mx = _bce_logs(x)
    dx = div_ieee(x - t, tl.maximum((1.0 - x) * x, 1e-12))
    return dx, log_1mx - log_x


@triton.jit
def _bce_logits(x, t, pw, a, mode):
    # (1 - t) x + (1 + (pw - 1) t) softplus(-x): the stable form (no exp of a large positive number).
    return (1.0 - t) * x + (1.0 + (pw - 1.0) * t) * _softplus_neg(x)


@triton.jit
def _bce_logits_backward(x, t, pw, a, mode):
    s, _ = _sigmoid_pair(x)
    dx = (1.0 + (pw - 1.0) * t) * s - pw * t
    dt = (pw - 1.0) * _softplus_neg(x) - x
    return dx, dt


@triton.jit
def _huber(x, t, pw, a, mode):
    d = x - t
    z = tl.abs(d)
    return tl.where(z < a, 0.5 * d * d, a * (z - 0.5 * a))


@triton.jit
def _huber_backward(x, t, pw, a, mode):
    d = x - t
    dx = tl.where(d <= -a, -a, tl.where(d >= a, a, d))
    return dx, -dx


@triton.jit
def _smooth_l1(x, t, pw, a, mode):
    # beta == 0 is the L1 loss (PyTorch dispatches it to l1_loss); z < 0 never holds, so no 0/0 either.
    d = x - t
    z = tl.abs(d)
    return tl.where(z < a, div_ieee(0.5 * d * d, tl.where(a > 0, a, 1.0)), z - 0.5 * a)


@triton.jit
def _smooth_l1_backward(x, t, pw, a, mode):
    d = x - t
    sign = tl.where(d > 0, 1.0, tl.where(d < 0, -1.0, 0.0))
    dx = tl.where(tl.abs(d) < a, div_ieee(d, tl.where(a > 0, a, 1.0)), sign)
    return dx, -dx


@triton.jit
def _kl_div(x, t, pw, a, mode):
    if mode != 0:  # log_target: exp(t) (t - x)
        loss = tl.exp(t) * (t - x)
    else:  # xlogy(t, t) - t x: 0 log 0 is 0
        loss = tl.where(t == 0, 0.0, t * _log(t)) - t * x
    return loss


@triton.jit
def _kl_div_backward(x, t, pw, a, mode):
    if mode != 0:
        e = tl.exp(t)
        dx = -e
        dt = e * (t - x + 1.0)
    else:
        dx = -t
        dt = _log(t) + 1.0 - x
    return dx, dt


@triton.jit
def _stirling(t, mode):
    # full=True (mode bit 2): t log t - t + log(2 pi t) / 2 where t > 1 (the Stirling approximation of log t!).
    ts = tl.where(t > 1, t, 2.0)
    return tl.where((t > 1) & (mode >= 2), ts * tl.log(ts) - ts + 0.5 * tl.log(6.283185307179586 * ts), 0.0)


@triton.jit
def _poisson_nll(x, t, pw, a, mode):
    if (mode % 2) != 0:  # log_input: exp(x) - t x
        loss = tl.exp(x) - t * x
    else:  # x - t log(x + eps)
        loss = x - t * _log(x + a)
    return loss + _stirling(t, mode)


@triton.jit
def _poisson_nll_backward(x, t, pw, a, mode):
    if (mode % 2) != 0:
        dx = tl.exp(x) - t
        dt = -x
    else:
        dx = 1.0 - div_ieee(t, x + a)
        dt = -_log(x + a)
    ts = tl.where(t > 1, t, 2.0)
    dt += tl.where((t > 1) & (mode >= 2), tl.log(ts) + div_ieee(0.5 + tl.zeros_like(ts), ts), 0.0)
    return dx, dt


@triton.jit
def _soft_margin(x, t, pw, a, mode):
    return _softplus_neg(t * x)


@triton.jit
def _soft_margin_backward(x, t, pw, a, mode):
    _, s = _sigmoid_pair(t * x)  # sigmoid(-t x)
    return -t * s, -x * s


@triton.jit
def _mse(x, t, pw, a, mode):
    return (x - t) * (x - t)


@triton.jit
def _mse_backward(x, t, pw, a, mode):
    return 2.0 * (x - t), 2.0 * (t - x)


@triton.jit
def _l1(x, t, pw, a, mode):
    return tl.abs(x - t)


@triton.jit
def _l1_backward(x, t, pw, a, mode):
    d = x - t
    sign = tl.where(d > 0, 1.0, tl.where(d < 0, -1.0, 0.0))
    return sign, -sign


LOSSES = {  # name -> (forward math, backward math)
    "mse_loss": (_mse, _mse_backward),
    "l1_loss": (_l1, _l1_backward),
    "binary_cross_entropy": (_bce, _bce_backward),
    "binary_cross_entropy_with_logits": (_bce_logits, _bce_logits_backward),
    "huber_loss": (_huber, _huber_backward),
    "smooth_l1_loss": (_smooth_l1, _smooth_l1_backward),
    "kl_div": (_kl_div, _kl_div_backward),
    "poisson_nll_loss": (_poisson_nll, _poisson_nll_backward),
    "soft_margin_loss": (_soft_margin, _soft_margin_backward),
}


# ================================================================ kernels
@triton.jit
def _load(ptr, start, offs, numel, MASKED: tl.constexpr):
    # Masked lanes read 0.5: inside every loss's domain (log(0) would warn in the interpreter); they are
    # dropped before any store or sum.
    if MASKED:
        return compute_type(tl.load((ptr + start) + offs, mask=offs < numel, other=0.5))
    else:
        return compute_type(tl.load((ptr + start) + offs))


@triton.jit
def _param(hi, lo, like):
    return (tl.zeros_like(like) + hi) + lo


@fast_jit
def pointwise_loss_kernel(
    out_ptr,  # REDUCE: (programs,) partial sums (acc dtype), at this launch's first program; else (numel,) losses
    x_ptr, t_ptr,  # (numel,) input and target, dense, one layout
    w_ptr, pw_ptr,  # (numel,) weight and pos_weight (read only with HAS_W / HAS_PW)
    numel,  # elements in this launch (read only when MASKED)
    a_hi, a_lo,  # the loss's scalar parameter (delta, beta, eps) as an fp32 pair
    mode,  # the loss's mode flags as a float (log_target; log_input + 2 * full)
    OP: tl.constexpr,  # @triton.jit fn(x, t, pw, a, mode) -> loss
    HAS_W: tl.constexpr,
    HAS_PW: tl.constexpr,
    REDUCE: tl.constexpr,  # store one partial sum per program instead of the losses
    BLOCK: tl.constexpr,
    MASKED: tl.constexpr,  # False: the bulk (every program full); True: the tail (one program)
):
    start = tl.program_id(0).to(tl.int64) * BLOCK
    offs = tl.arange(0, BLOCK)
    x = _load(x_ptr, start, offs, numel, MASKED)
    acc_type: tl.constexpr = tl.float64 if x.dtype == tl.float64 else tl.float32
    x = x.to(acc_type)
    t = _load(t_ptr, start, offs, numel, MASKED).to(acc_type)
    if HAS_PW:
        pw = _load(pw_ptr, start, offs, numel, MASKED).to(acc_type)
    else:
        pw = tl.full((BLOCK,), 1.0, acc_type)
    loss = OP(x, t, pw, _param(a_hi, a_lo, x), mode)
    if HAS_W:
        loss = loss * _load(w_ptr, start, offs, numel, MASKED).to(acc_type)
    if REDUCE:
        if MASKED:
            loss = tl.where(offs < numel, loss, 0.0)
        tl.store(out_ptr + tl.program_id(0), tl.sum(loss, axis=0))
    elif MASKED:
        tl.store((out_ptr + start) + offs, cast_to(loss, out_ptr.dtype.element_ty), mask=offs < numel)
    else:
        tl.store((out_ptr + start) + offs, cast_to(loss, out_ptr.dtype.element_ty))


@fast_jit
def combine_kernel(
    out_ptr,  # (1,) the reduced loss, in the input's dtype
    part_ptr,  # (n,) partial sums (acc dtype)
    n,  # partials
    divisor,  # "mean": numel, "batchmean": the batch size (read only with DIVIDE)
    DIVIDE: tl.constexpr,
    BLOCK: tl.constexpr,
):
    acc_type: tl.constexpr = part_ptr.dtype.element_ty
    total = tl.zeros((BLOCK,), acc_type)
    for start in range(0, n, BLOCK):  # one program, a fixed order: the same bits every run
        offs = start + tl.arange(0, BLOCK)
        total += tl.load(part_ptr + offs, mask=offs < n, other=0.0)
    result = tl.sum(total, axis=0)
    if DIVIDE:
        # The mean of nothing is NaN, as PyTorch's (0 / 0, without evaluating it: the interpreter would warn).
        d = divisor.to(acc_type)
        result = tl.where(d == 0, float("nan"), result / tl.where(d == 0, 1.0, d))
    tl.store(out_ptr, cast_to(result, out_ptr.dtype.element_ty))


@fast_jit
def pointwise_loss_backward_kernel(
    gx_ptr, gt_ptr,  # (numel,) gradients of input and target (gt written only with NEED_T)
    g_ptr,  # incoming gradient: (numel,) per element, or one element with G_SCALAR
    x_ptr, t_ptr, w_ptr, pw_ptr,  # as the forward
    numel,
    divisor,  # the scalar gradient is divided by it (1 for "sum")
    a_hi, a_lo,
    mode,
    OP: tl.constexpr,  # @triton.jit fn(x, t, pw, a, mode) -> (d loss / dx, d loss / dt)
    HAS_W: tl.constexpr,
    HAS_PW: tl.constexpr,
    G_SCALAR: tl.constexpr,
    NEED_T: tl.constexpr,
    BLOCK: tl.constexpr,
    MASKED: tl.constexpr,
):
    start = tl.program_id(0).to(tl.int64) * BLOCK
    offs = tl.arange(0, BLOCK)
    x = _load(x_ptr, start, offs, numel, MASKED)
    acc_type: tl.constexpr = tl.float64 if x.dtype == tl.float64 else tl.float32
    x = x.to(acc_type)
    t = _load(t_ptr, start, offs, numel, MASKED).to(acc_type)
    if HAS_PW:
        pw = _load(pw_ptr, start, offs, numel, MASKED).to(acc_type)
    else:
        pw = tl.full((BLOCK,), 1.0, acc_type)
    if G_SCALAR:
        g = compute_type(tl.load(g_ptr)).to(acc_type) / divisor.to(acc_type) + tl.zeros_like(x)
    else:
        g = _load(g_ptr, start, offs, numel, MASKED).to(acc_type)
    if HAS_W:
        g = g * _load(w_ptr, start, offs, numel, MASKED).to(acc_type)
    dx, dt = OP(x, t, pw, _param(a_hi, a_lo, x), mode)
    if MASKED:
        tl.store((gx_ptr + start) + offs, cast_to(g * dx, gx_ptr.dtype.element_ty), mask=offs < numel)
        if NEED_T:
            tl.store((gt_ptr + start) + offs, cast_to(g * dt, gt_ptr.dtype.element_ty), mask=offs < numel)
    else:
        tl.store((gx_ptr + start) + offs, cast_to(g * dx, gx_ptr.dtype.element_ty))
        if NEED_T:
            tl.store((gt_ptr + start) + offs, cast_to(g * dt, gt_ptr.dtype.element_ty))


# ================================================================ launch wrappers
def _split(value: float) -> tuple[float, float]:
    """value as hi + lo, each exact in fp32 (Triton passes Python floats as fp32), ~48 bits together."""
    hi = float(np.float32(value))
    return hi, float(value) - hi


def _heuristic(key: tuple) -> dict:
    # 8 elements per thread; 16-bit inputs take 8 warps so a program still moves 128 bits per access.
    return dict(BLOCK=2048, num_warps=8) if key[2] <= 2 else dict(BLOCK=1024, num_warps=4)


_SPACE = [dict(BLOCK=1024, num_warps=4), dict(BLOCK=2048, num_warps=8), dict(BLOCK=512, num_warps=4)]
COMBINE_BLOCK = 1024

# Forward: reads the operands once, writes losses (or a partial per block); backward: reads them and the
# gradient, writes one or two gradients. ~20 FLOPs per element (a log or an exp and their neighbours).
POINTWISE_LOSS_TUNING = Tunable("loss_pointwise.forward", _SPACE, _heuristic,
                                lambda numel, itemsizes: Cost(float(numel) * itemsizes, 20.0 * numel))
POINTWISE_LOSS_BACKWARD_TUNING = Tunable("loss_pointwise.backward", _SPACE, _heuristic,
                                         lambda numel, itemsizes: Cost(float(numel) * itemsizes, 25.0 * numel))
COMBINE_TUNING = Tunable("loss_pointwise.combine", [dict(BLOCK=COMBINE_BLOCK, num_warps=4),
                                                    dict(BLOCK=256, num_warps=2)],
                         lambda key: dict(BLOCK=COMBINE_BLOCK, num_warps=4),
                         lambda n, acc_itemsize: Cost(float(n) * acc_itemsize, float(n)))


def partials_numel(numel: int) -> int:
    """How many partial sums a reduced forward of `numel` elements writes (the scratch's size)."""
    return triton.cdiv(numel, 512)  # the smallest BLOCK of the space


def _flat(arrays: list[DeviceArray | None], start: int, count: int) -> list:
    return [None if a is None else a.view_as((count,), (1,), a.offset + start) for a in arrays]


def pointwise_loss(out: DeviceArray, x: DeviceArray, t: DeviceArray, weight: DeviceArray | None = None,
                   pos_weight: DeviceArray | None = None, *, loss: str, param: float = 0.0, mode: float = 0.0,
                   partials: DeviceArray | None = None, divisor: int | None = None) -> None:
    """The loss `loss` (a LOSSES name) of x against t, times weight; pos_weight for the with-logits BCE.

    Every operand is dense (numel,) in one layout, x's dtype. Unreduced (partials None): out is (numel,).
    Reduced: out is (1,) in x's dtype, partials an acc-dtype (fp32, fp64 for fp64) scratch of
    `partials_numel(numel)` elements; out = the sum, divided by divisor unless it is None."""
    numel = x.numel()
    op = LOSSES[loss][0]
    reduce = partials is not None
    if numel == 0:
        if reduce:  # PyTorch: the sum of nothing is 0, the mean 0 / 0 = NaN
            combine(out, partials, 0, divisor)
        return
    w, pw = weight if weight is not None else x, pos_weight if pos_weight is not None else x

    def run(cfg):
        block = cfg["BLOCK"]
        bulk = numel - numel % block
        const = dict(OP=op, HAS_W=weight is not None, HAS_PW=pos_weight is not None, REDUCE=reduce, **cfg)
        dst = partials if reduce else out
        if bulk:
            pointwise_loss_kernel[(bulk // block,)](dst, *_flat([x, t, w, pw], 0, bulk), bulk, *_split(param),
                                                    float(mode), MASKED=False, **const)
        if bulk < numel:
            # The tail starts at a multiple of BLOCK, so its pointers keep the bulk's alignment.
            tail_out = partials.view_as((1,), (1,), partials.offset + bulk // block) if reduce else \
                out.view_as((numel - bulk,), (1,), out.offset + bulk)
            pointwise_loss_kernel[(1,)](tail_out, *_flat([x, t, w, pw], bulk, numel - bulk), numel - bulk,
                                        *_split(param), float(mode), MASKED=True, **const)
        if reduce:
            combine(out, partials, triton.cdiv(numel, block), divisor)

    itemsizes = x.dtype.itemsize * (2 + (weight is not None) + (pos_weight is not None)) + \
        (0 if reduce else out.dtype.itemsize)
    key = (loss, x.dtype.name, x.dtype.itemsize, reduce, weight is not None, pos_weight is not None, next_pow2(numel))
    tuning.launch(POINTWISE_LOSS_TUNING, key, dict(numel=numel, itemsizes=itemsizes), run)


def combine(out: DeviceArray, partials: DeviceArray, n: int, divisor: int | None) -> None:
    """out[0] = sum(partials[:n]) (divided by divisor unless it is None), in one program."""
    def run(cfg):
        combine_kernel[(1,)](out, partials, n, int(divisor or 0), DIVIDE=divisor is not None, **cfg)

    key = (divisor is not None, partials.dtype.name, out.dtype.name, next_pow2(n))
    tuning.launch(COMBINE_TUNING, key, dict(n=n, acc_itemsize=partials.dtype.itemsize), run)


def pointwise_loss_backward(grad_x: DeviceArray, grad_t: DeviceArray | None, grad: DeviceArray, x: DeviceArray,
                            t: DeviceArray, weight: DeviceArray | None = None, pos_weight: DeviceArray | None = None,
                            *, loss: str, param: float = 0.0, mode: float = 0.0, divisor: int | None = None) -> None:
    """grad_x (and grad_t when given) of the loss `loss`; operands as `pointwise_loss`'s.

    grad: (numel,) for an unreduced loss (divisor None), or one element for a reduced one, which is divided by
    divisor ("mean": numel, "batchmean": the batch size, "sum": 1)."""
    numel = x.numel()
    if numel == 0:
        return
    op = LOSSES[loss][1]
    g_scalar = divisor is not None
    w, pw = weight if weight is not None else x, pos_weight if pos_weight is not None else x
    gt = grad_t if grad_t is not None else grad_x
    g = grad.view_as((1,), (1,)) if g_scalar else grad

    def run(cfg):
        block = cfg["BLOCK"]
        bulk = numel - numel % block
        const = dict(OP=op, HAS_W=weight is not None, HAS_PW=pos_weight is not None, G_SCALAR=g_scalar,
                     NEED_T=grad_t is not None, **cfg)
        for begin, count, masked, grid in ((0, bulk, False, bulk // block), (bulk, numel - bulk, True, 1)):
            if count == 0:
                continue
            gv = g if g_scalar else g.view_as((count,), (1,), g.offset + begin)
            pointwise_loss_backward_kernel[(grid,)](*_flat([grad_x, gt], begin, count), gv,
                                                    *_flat([x, t, w, pw], begin, count), count, int(divisor or 1),
                                                    *_split(param), float(mode), MASKED=masked, **const)

    itemsizes = x.dtype.itemsize * (3 + (grad_t is not None) + (not g_scalar) + (weight is not None)
                                    + (pos_weight is not None))
    key = (loss, x.dtype.name, x.dtype.itemsize, g_scalar, grad_t is not None, weight is not None,
           pos_weight is not None, next_pow2(numel))
    tuning.launch(POINTWISE_LOSS_BACKWARD_TUNING, key, dict(numel=numel, itemsizes=itemsizes), run)


# ================================================================ AOT / tuner declarations
_SIG_DTYPES = {"fp32": "fp32", "fp16": "fp32", "bf16": "fp32", "fp64": "fp64"}  # input dtype -> acc dtype


def _fwd_sig(dtype: str, reduce: bool) -> dict[str, str]:
    out = _SIG_DTYPES[dtype] if reduce else dtype
    sig = {"out_ptr": f"*{out}"}
    sig.update({name: f"*{dtype}" for name in ("x_ptr", "t_ptr", "w_ptr", "pw_ptr")})
    sig.update(numel="i32", a_hi="fp32", a_lo="fp32", mode="fp32")
    return sig


def _bwd_sig(dtype: str) -> dict[str, str]:
    sig = {name: f"*{dtype}" for name in ("gx_ptr", "gt_ptr", "g_ptr", "x_ptr", "t_ptr", "w_ptr", "pw_ptr")}
    sig.update(numel="i32", divisor="i32", a_hi="fp32", a_lo="fp32", mode="fp32")
    return sig


def _shipped(dtype: str) -> list[dict]:
    return [dict(_heuristic((None, None, 2 if dtype in ("fp16", "bf16") else 4)), MASKED=False)]


_SPEC_SPACE = [dict(c, MASKED=False) for c in _SPACE]
# (loss, dtype, weight, pos_weight, reduced): every loss reduced in fp32 (the training path); the unreduced,
# weighted and 16-bit/fp64 builds on the losses that see them most. Backward: every loss in fp32 with both
# gradients, plus the weighted and 16-bit variants.
_FWD_CASES = [(name, "fp32", False, False, True) for name in LOSSES] + [
    ("binary_cross_entropy_with_logits", "fp32", False, False, False),
    ("binary_cross_entropy", "fp32", True, False, True),
    ("binary_cross_entropy_with_logits", "fp32", True, True, True),
    ("binary_cross_entropy_with_logits", "bf16", False, False, True),
    ("smooth_l1_loss", "fp16", False, False, True),
    ("kl_div", "fp64", False, False, True)]
_BWD_CASES = [(name, "fp32", False, False) for name in LOSSES] + [
    ("binary_cross_entropy_with_logits", "fp32", True, True),
    ("binary_cross_entropy_with_logits", "bf16", False, False)]

SPECS = [
    KernelSpec(f"loss_pointwise.{name}{'[reduce]' if reduce else ''}{'[weight]' if hw else ''}"
               f"{'[pos_weight]' if hp else ''}[{dtype}]", pointwise_loss_kernel, _fwd_sig(dtype, reduce),
               dict(OP=LOSSES[name][0], HAS_W=hw, HAS_PW=hp, REDUCE=reduce), _shipped(dtype), _SPEC_SPACE)
    for name, dtype, hw, hp, reduce in _FWD_CASES
] + [
    KernelSpec(f"loss_pointwise.{name}_backward{'[weight]' if hw else ''}{'[pos_weight]' if hp else ''}[{dtype}]",
               pointwise_loss_backward_kernel, _bwd_sig(dtype),
               dict(OP=LOSSES[name][1], HAS_W=hw, HAS_PW=hp, G_SCALAR=True, NEED_T=True), _shipped(dtype),
               _SPEC_SPACE)
    for name, dtype, hw, hp in _BWD_CASES
] + [
    KernelSpec(f"loss_pointwise.combine[{acc}->{dtype}]", combine_kernel,
               {"out_ptr": f"*{dtype}", "part_ptr": f"*{acc}", "n": "i32", "divisor": "i32"}, dict(DIVIDE=True),
               COMBINE_TUNING.all_configs()[:1], COMBINE_TUNING.all_configs(),
               memory_bound=False)  # one program over a few partials: latency, not bandwidth
    for dtype, acc in (("fp32", "fp32"), ("bf16", "fp32"), ("fp16", "fp32"), ("fp64", "fp64"))
]
