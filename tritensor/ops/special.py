"""Special functions registered over kernels/special.py: sigmoid (expit), erf, sinc, entr, logit; and the
`tt.special` namespace entries that are other modules' ops (logsumexp, softmax, exp2, round, ...).

sigmoid, erf, sinc and entr are Functions made by `unary.register_family` from their kernels' `UnaryOp`
entries (see ops/unary.py): the fused backward kernel serves plain backward, and the derivative below,
written with tensor ops, serves create_graph=True. logit takes eps as a second (broadcast) operand in x's
dtype, so fp64 clamps at the exact eps. Integer and bool inputs are cast to the default float dtype
first, as PyTorch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import special as K
from ..tensor import Tensor
from .dispatch import cast, run_elementwise, run_elementwise_backward, scalar_tensor
from .elementwise import _into, inplace

# Other modules' ops that torch.special names too: bound into tt.special from here (see NAMESPACES).
from .exponential import exp2, expm1, log1p  # noqa: F401
from .softmax import log_softmax, softmax  # noqa: F401
from .statistics import logsumexp  # noqa: F401
from .unary import check_tensor, register_family
from .unary import round as _round

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _sinc_derivative(g: Tensor, x: Tensor) -> Tensor:
    px = x * math.pi
    d = (px * px.cos() - px.sin()) / (px * x)
    return (g * d).masked_fill(x == 0, 0.0)


# Derivatives in tensor ops (saved is x or the output, per the kernel's `saves`); the Tensor methods
# they call are looked up at call time.
_DERIVATIVES: dict[str, Callable] = {
    "sigmoid": lambda g, y: g * (y * (1 - y)),
    "erf": lambda g, x: g * ((x * x).neg().exp() * _TWO_OVER_SQRT_PI),
    "sinc": _sinc_derivative,
    "entr": lambda g, x: g * -(x.log() + 1),
}

# The docstrings' first lines.
_DESCRIPTIONS = {
    "sigmoid": "Logistic sigmoid 1 / (1 + e**-x) elementwise.",
    "erf": "Gauss error function elementwise.",
    "sinc": "Normalized sinc sin(pi x) / (pi x) elementwise, 1 at x = 0.",
    "entr": "Elementwise entropy term -x log x: 0 at 0, -inf for x < 0 (torch.special.entr).",
}
FUNCTIONS, _PUBLIC = register_family({**K.OPS, **K.SPECIAL_OPS}, _DERIVATIVES, __name__,
                                     {"entr": "SpecialEntr"}, descriptions=_DESCRIPTIONS)
sigmoid, sigmoid_, erf, erf_ = _PUBLIC["sigmoid"], _PUBLIC["sigmoid_"], _PUBLIC["erf"], _PUBLIC["erf_"]
sinc, sinc_, entr = _PUBLIC["sinc"], _PUBLIC["sinc_"], _PUBLIC["entr"]
expit = sigmoid  # torch.special.expit


# ---------------------------------------------------------------- logit
class Logit(Function):
    """logit(x) = log(x / (1 - x)), x clamped to [eps, 1 - eps] when eps is given (eps < 0 encodes None)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, eps: float) -> Tensor:
        e = scalar_tensor(float(eps), x.dtype, x.device)
        ctx.save_for_backward(x)
        ctx.eps = e
        return run_elementwise(K.logit_ref, K.logit, [x, e], x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        d = grad / (x * (1 - x))
        eps = float(ctx.eps.item())
        if eps >= 0:
            d = d.masked_fill((x < eps).logical_or(x > 1 - eps), 0.0)
        return d, None

    def backward_fused(self, grad):
        (x,) = self.saved_tensors
        (gx,) = run_elementwise_backward(K.logit_backward_ref, K.logit_backward, 1, grad, [x, self.eps])
        return gx, None


def _logit_apply(x: Tensor, eps) -> Tensor:
    if not x.dtype.is_floating_point:
        x = cast(x, D.get_default_dtype())
    return Logit.apply(x, -1.0 if eps is None else float(eps))


def logit(input: Tensor, eps: float | None = None, *, out: Tensor | None = None) -> Tensor:
    """log(p / (1 - p)) elementwise; with `eps`, input is first clamped to [eps, 1 - eps] (torch.logit).

    logit(0) = -inf, logit(1) = inf and NaN outside [0, 1] when eps is None. Also a Tensor method, with
    the in-place form `logit_`.
    """
    check_tensor("logit", input)
    result = _logit_apply(input, eps)
    return result if out is None else _into(out, result)


def logit_(input: Tensor, eps: float | None = None) -> Tensor:
    """In-place logit."""
    check_tensor("logit_", input)
    return inplace(lambda t: _logit_apply(t, eps), input)


__all__: list[str] = ["sigmoid", "sigmoid_", "erf", "erf_", "sinc", "sinc_", "logit", "logit_"]
METHODS: dict = {"sigmoid": sigmoid, "sigmoid_": sigmoid_, "erf": erf, "erf_": erf_, "sinc": sinc, "sinc_": sinc_,
                 "logit": logit, "logit_": logit_}
round = _round  # noqa: A001 - torch.special.round, bound under tt.special only
NAMESPACES = {"special": ["expit", "erf", "sinc", "entr", "logit", "logsumexp", "softmax", "log_softmax", "exp2",
                          "expm1", "log1p", "round"]}
