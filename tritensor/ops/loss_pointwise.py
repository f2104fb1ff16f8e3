"""The pointwise losses as autograd ops over kernels/loss_pointwise.py (NumPy on cpu): one fused kernel forward
(elementwise loss + reduction) and one backward kernel for d/d input and d/d target.

mse_loss, l1_loss, binary_cross_entropy, binary_cross_entropy_with_logits, huber_loss, smooth_l1_loss, kl_div,
poisson_nll_loss, soft_margin_loss. The public functions take PyTorch's ATen arguments (reduction a string,
or torch.*'s integer enum; kl_div also takes "batchmean"); nn.functional adds the deprecated size_average/reduce
flags and PyTorch's Python-level checks and warnings. The operands are broadcast to one shape and made dense
first (a broadcast weight is copied then: the kernels index every operand with one flat offset), so autograd's
expand takes the gradients back to each operand's shape. Weights get no gradient (PyTorch does not
differentiate them either).

The `backward` (create_graph=True) is written in tensor ops from the same formulas as the kernels'.
"""

from __future__ import annotations

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import loss_pointwise as K
from ..tensor import Tensor
from .dispatch import broadcast_shapes, cast, check_same_device
from .unary import check_tensor, torch_type_name

# torch.binary_cross_entropy_with_logits, torch.kl_div and torch.poisson_nll_loss exist (with an integer
# reduction: 0 none, 1 mean, 2 sum, which these accept too); the other losses are nn.functional-only.
__all__ = ["binary_cross_entropy_with_logits", "kl_div", "poisson_nll_loss"]

_REDUCTIONS = ("none", "mean", "sum")
_ENUM = {0: "none", 1: "mean", 2: "sum"}


def _acc(dtype: D.dtype) -> D.dtype:
    return D.float64 if dtype is D.float64 else D.float32


class _PointwiseLoss(Function):
    """Shared by every pointwise loss; a subclass per loss only names its grad_fn (PyTorch's node names).

    Arguments already validated and broadcast: x, t (and weight, pos_weight when given) of one shape and dtype,
    dense; reduction one of none/sum/mean; divisor the mean's denominator (numel, or the batch for batchmean)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, t: Tensor, weight: Tensor | None, pos_weight: Tensor | None, loss: str, param: float,
                mode: float, reduction: str, divisor: int | None) -> Tensor:
        ctx.args = (loss, param, mode, reduction, divisor)
        ctx.save_for_backward(x, t, weight, pos_weight)
        kw = dict(loss=loss, param=param, mode=mode)
        if x.device.type == "cpu":
            host = [None if a is None else a._host() for a in (x, t, weight, pos_weight)]
            return Tensor._wrap(K.pointwise_loss_ref(*host, reduction=reduction, divisor=divisor, **kw))
        devs = [None if a is None else a._dev() for a in (x, t, weight, pos_weight)]
        if reduction == "none":
            out = Tensor._empty(x._shape, x.dtype, x.device)
            K.pointwise_loss(out._dev().view_as((x.numel(),), (1,)), *devs, **kw)
            return out
        out = Tensor._empty((), x.dtype, x.device)
        partials = Tensor._empty((max(1, K.partials_numel(x.numel())),), _acc(x.dtype), x.device)
        K.pointwise_loss(out._dev().view_as((1,), (1,)), *devs, partials=partials._dev(), divisor=divisor, **kw)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, t, weight, pos_weight = ctx.saved_tensors
        loss, param, mode, reduction, divisor = ctx.args
        need_x, need_t = ctx.needs_input_grad[:2]
        dx, dt = _grads(loss, x, t, pos_weight, param, mode)
        g = grad if divisor is None else grad / divisor
        if weight is not None:
            g = g * weight
        return (g * dx if need_x else None), (g * dt if need_t else None), None, None, None, None, None, None, None

    def backward_fused(self, grad):
        x, t, weight, pos_weight = self.saved_tensors
        loss, param, mode, reduction, divisor = self.args
        need_t = self.needs_input_grad[1]
        kw = dict(loss=loss, param=param, mode=mode, divisor=None if reduction == "none" else divisor or 1)
        if x.device.type == "cpu":
            host = [None if a is None else a._host() for a in (x, t, weight, pos_weight)]
            gx, gt = K.pointwise_loss_backward_ref(grad._host(), *host, need_t=need_t, **kw)
            gx, gt = Tensor._wrap(gx), (Tensor._wrap(gt) if need_t else None)
        else:
            gx = Tensor._empty(x._shape, x.dtype, x.device)
            gt = Tensor._empty(x._shape, x.dtype, x.device) if need_t else None
            flat = (x.numel(),), (1,)
            g = grad.contiguous()
            devs = [None if a is None else a._dev().view_as(*flat) for a in (x, t, weight, pos_weight)]
            K.pointwise_loss_backward(gx._dev().view_as(*flat), None if gt is None else gt._dev().view_as(*flat),
                                      g._dev().view_as((g.numel(),), (1,)), *devs, **kw)
        return gx, gt, None, None, None, None, None, None, None


class MseLoss(_PointwiseLoss):
    """mse_loss (grad_fn MseLossBackward0)."""


class L1LossFunction(_PointwiseLoss):
    """l1_loss (grad_fn L1LossBackward0)."""


class BinaryCrossEntropy(_PointwiseLoss):
    """binary_cross_entropy (grad_fn BinaryCrossEntropyBackward0)."""


class BinaryCrossEntropyWithLogits(_PointwiseLoss):
    """binary_cross_entropy_with_logits."""


class HuberLossFunction(_PointwiseLoss):
    """huber_loss (grad_fn HuberLossBackward0)."""


class SmoothL1LossFunction(_PointwiseLoss):
    """smooth_l1_loss (grad_fn SmoothL1LossBackward0)."""


class KlDiv(_PointwiseLoss):
    """kl_div."""


class PoissonNllLoss(_PointwiseLoss):
    """poisson_nll_loss."""


class SoftMarginLossFunction(_PointwiseLoss):
    """soft_margin_loss (grad_fn SoftMarginLossBackward0)."""


def _softplus_neg(x: Tensor) -> Tensor:
    return (-x).clamp_min(0) + (-x.abs()).exp().log1p()


def _grads(loss: str, x: Tensor, t: Tensor, pw: Tensor | None, a: float, mode: float) -> tuple[Tensor, Tensor]:
    """(d loss / dx, d loss / dt) per element in tensor ops (differentiable again), as the kernels compute them."""
    if loss in ("mse_loss", "l1_loss"):
        dx = 2 * (x - t) if loss == "mse_loss" else (x - t).sign()
        return dx, -dx
    if loss == "binary_cross_entropy":
        return (x - t) / ((1 - x) * x).clamp_min(1e-12), (-x).log1p().clamp_min(-100) - x.log().clamp_min(-100)
    if loss == "binary_cross_entropy_with_logits":
        if pw is None:
            return x.sigmoid() - t, -x
        return (1 + (pw - 1) * t) * x.sigmoid() - pw * t, (pw - 1) * _softplus_neg(x) - x
    if loss in ("huber_loss", "smooth_l1_loss"):
        d = x - t
        if loss == "huber_loss":
            dx = d.clamp(-a, a)
        else:
            dx = d.sign() if a == 0 else (d / a).clamp(-1, 1)
        return dx, -dx
    if loss == "kl_div":
        if mode:
            return -t.exp(), t.exp() * (t - x + 1)
        return -t, t.log() + 1 - x
    if loss == "poisson_nll_loss":
        dx, dt = (x.exp() - t, -x) if int(mode) % 2 else (1 - t / (x + a), -(x + a).log())
        if mode >= 2:
            big = t > 1
            ts = t.masked_fill(~big, 2.0)
            dt = dt + (ts.log() + 0.5 / ts).masked_fill(~big, 0.0)
        return dx, dt
    s = (t * x).neg().sigmoid()  # soft_margin_loss
    return -t * s, -x * s


# ---------------------------------------------------------------- shared argument handling
def check_reduction(reduction: str | int, allowed: tuple = _REDUCTIONS) -> str:
    """The reduction string (torch.*'s integer enum 0/1/2 mapped to none/mean/sum); PyTorch's ValueError for
    an unknown one."""
    if isinstance(reduction, int) and not isinstance(reduction, bool):
        reduction = _ENUM.get(reduction, reduction)
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _check_float(name: str, *tensors: Tensor) -> None:
    for t in tensors:
        if t is not None and not t.dtype.is_floating_point:
            raise RuntimeError(f"\"{name}\" not implemented for '{torch_type_name(t.dtype)}'")


def _run(fn: type, input: Tensor, target: Tensor, weight: Tensor | None, pos_weight: Tensor | None, loss: str,
         reduction: str, param: float = 0.0, mode: float = 0.0, batchmean: bool = False) -> Tensor:
    """Broadcast and cast the operands to input's dtype, make them dense, run the fused op."""
    check_tensor(loss, input)
    if not isinstance(target, Tensor):
        raise TypeError(f"{loss}(): argument 'target' (position 2) must be Tensor, not {type(target).__name__}")
    ops = [t for t in (input, target, weight, pos_weight) if t is not None]
    check_same_device(*ops)
    dtype = D.result_type(input, target)
    _check_float(loss, input if not dtype.is_floating_point else None)
    shape = broadcast_shapes(*(t._shape for t in ops))
    x, t, w, pw = (None if a is None else cast(a, dtype).expand(*shape).contiguous()
                   for a in (input, target, weight, pos_weight))
    if w is not None:
        w = w.detach()
    if pw is not None:
        pw = pw.detach()
    divisor = None
    if reduction == "mean":
        divisor = x.numel()
    elif batchmean:
        divisor = shape[0] if shape else 1
    red = "mean" if batchmean or reduction == "mean" else reduction
    return fn.apply(x, t, w, pw, loss, float(param), float(mode), red, divisor)


# ---------------------------------------------------------------- public functions (ATen's arguments)
def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """(input - target)^2, broadcast, reduced."""
    reduction = check_reduction(reduction)
    return _run(MseLoss, input, target, None, None, "mse_loss", reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """|input - target|, broadcast, reduced (its gradient at 0 is 0)."""
    reduction = check_reduction(reduction)
    return _run(L1LossFunction, input, target, None, None, "l1_loss", reduction)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """-w (t log x + (1 - t) log(1 - x)), each log clamped at -100; x must lie in [0, 1]."""
    reduction = check_reduction(reduction)
    if input.device.type == "cpu":
        xh = input.detach()._host()
        if ((xh < 0) | (xh > 1)).any():
            raise RuntimeError("all elements of input should be between 0 and 1")
    return _run(BinaryCrossEntropy, input, target, weight, None, "binary_cross_entropy", reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     pos_weight: Tensor | None = None, reduction: str = "mean") -> Tensor:
    """BCE of sigmoid(input) in the stable form (1 - t) x + (1 + (pw - 1) t) log(1 + exp(-x)), times weight."""
    reduction = check_reduction(reduction)
    return _run(BinaryCrossEntropyWithLogits, input, target, weight, pos_weight, "binary_cross_entropy_with_logits",
                reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - delta / 2), d = input - target."""
    reduction = check_reduction(reduction)
    if not delta > 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    return _run(HuberLossFunction, input, target, None, None, "huber_loss", reduction, delta)


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - beta / 2 (beta == 0: the L1 loss)."""
    reduction = check_reduction(reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    return _run(SmoothL1LossFunction, input, target, None, None, "smooth_l1_loss", reduction, beta)


def kl_div(input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """target (log target - input) pointwise (input holds log-probabilities); "batchmean" divides the sum by
    the batch size (input's first dim)."""
    reduction = check_reduction(reduction, _REDUCTIONS + ("batchmean",))
    batchmean = reduction == "batchmean"
    return _run(KlDiv, input, target, None, None, "kl_div", "sum" if batchmean else reduction, 0.0,
                1.0 if log_target else 0.0, batchmean)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False, eps: float = 1e-8,
                     reduction: str = "mean") -> Tensor:
    """exp(input) - target input (log_input), else input - target log(input + eps); full adds the Stirling
    term target log target - target + log(2 pi target) / 2 where target > 1."""
    reduction = check_reduction(reduction)
    return _run(PoissonNllLoss, input, target, None, None, "poisson_nll_loss", reduction, eps,
                (1.0 if log_input else 0.0) + (2.0 if full else 0.0))


def soft_margin_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target input)) (targets +1 / -1)."""
    reduction = check_reduction(reduction)
    return _run(SoftMarginLossFunction, input, target, None, None, "soft_margin_loss", reduction)
