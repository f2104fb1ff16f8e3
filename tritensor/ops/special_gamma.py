"""The gamma family over kernels/special_gamma.py: tt.lgamma, tt.digamma, tt.polygamma, tt.mvlgamma and
tt.special.gammaln, psi, digamma, polygamma, multigammaln, with Tensor methods and in-place forms.

lgamma and digamma are Functions made by `unary.register_family`; polygamma is the same kind of
Function with the order n as its parameter (the kernel's scalar p0). Derivatives chain down the family
(lgamma' = digamma, digamma' = polygamma(1), polygamma(n)' = polygamma(n + 1)), in tensor ops for
create_graph=True. mvlgamma is a composite of lgamma. Integers are cast to the default float dtype first.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .. import dtypes as D
from ..kernels import special_gamma as K
from ..tensor import Tensor
from .dispatch import cast
from .elementwise import _into, inplace
from .unary import check_tensor, make_function, register_family

_DERIVATIVES: dict[str, Callable] = {
    "lgamma": lambda g, x: g * FUNCTIONS["digamma"].apply(x, (), False),
    "digamma": lambda g, x: g * POLYGAMMA.apply(x, (1,), False),
}
_DESCRIPTIONS = {
    "lgamma": "log|Gamma(x)| elementwise; inf at the poles (0, -1, -2, ...).",
    "digamma": "Digamma psi(x) = d/dx lgamma(x) elementwise; -inf at 0, NaN at negative integers.",
}
FUNCTIONS, _PUBLIC = register_family({k: K.OPS[k] for k in ("lgamma", "digamma")}, _DERIVATIVES, __name__,
                                     descriptions=_DESCRIPTIONS)
lgamma, lgamma_, digamma, digamma_ = _PUBLIC["lgamma"], _PUBLIC["lgamma_"], _PUBLIC["digamma"], _PUBLIC["digamma_"]
POLYGAMMA = make_function("Polygamma", K.OPS["polygamma"],
                          lambda g, x, n: g * POLYGAMMA.apply(x, (n + 1,), False), __name__)


def _as_float(x: Tensor) -> Tensor:
    return x if x.dtype.is_floating_point else cast(x, D.get_default_dtype())


def _polygamma_apply(n: int, x: Tensor, copy_input: bool) -> Tensor:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"polygamma(): argument 'n' (position 1) must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return POLYGAMMA.apply(_as_float(x), (n,), copy_input)


def polygamma(n: int, input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The n-th derivative of digamma elementwise, n >= 0 (torch.polygamma; polygamma(0, x) = digamma(x)).

    Also the Tensor method `x.polygamma(n)`, with the in-place form `polygamma_(n)`.
    """
    check_tensor("polygamma", input)
    result = _polygamma_apply(n, input, False)
    return result if out is None else _into(out, result)


def _polygamma_method(self: Tensor, n: int) -> Tensor:
    """Tensor.polygamma(n): polygamma(n, self)."""
    return polygamma(n, self)


def _polygamma_(self: Tensor, n: int) -> Tensor:
    """In-place polygamma(n, self)."""
    check_tensor("polygamma_", self)
    return inplace(lambda t: _polygamma_apply(n, t, True), self)


def _mvlgamma_apply(x: Tensor, p: int) -> Tensor:
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    x = _as_float(x)
    if not bool((x > 0.5 * (p - 1)).all().item()):
        raise RuntimeError("All elements must be greater than (p-1)/2")
    total = None
    for i in range(p):  # p is small: one lgamma per term keeps every shape as x's
        term = FUNCTIONS["lgamma"].apply(x - 0.5 * i, (), False)
        total = term if total is None else total + term
    return total + p * (p - 1) / 4 * math.log(math.pi)


def mvlgamma(input: Tensor, p: int, *, out: Tensor | None = None) -> Tensor:
    """Multivariate log-gamma of dimension p elementwise: sum_i lgamma(x - i/2) + p(p-1)/4 log(pi).

    Every element must exceed (p - 1)/2 (RuntimeError otherwise, as torch.mvlgamma). Also a Tensor
    method, with the in-place form `mvlgamma_`.
    """
    check_tensor("mvlgamma", input)
    result = _mvlgamma_apply(input, p)
    return result if out is None else _into(out, result)


def _mvlgamma_(self: Tensor, p: int) -> Tensor:
    """In-place mvlgamma."""
    check_tensor("mvlgamma_", self)
    return inplace(lambda t: _mvlgamma_apply(t, p), self)


gammaln = lgamma  # torch.special.gammaln
psi = digamma  # torch.special.psi


def multigammaln(input: Tensor, p: int, *, out: Tensor | None = None) -> Tensor:
    """torch.special.multigammaln: the multivariate log-gamma function of dimension p (as tt.mvlgamma)."""
    return mvlgamma(input, p, out=out)


__all__: list[str] = ["lgamma", "lgamma_", "digamma", "digamma_", "polygamma", "mvlgamma"]
METHODS: dict = {"lgamma": lgamma, "lgamma_": lgamma_, "digamma": digamma, "digamma_": digamma_,
                 "polygamma": _polygamma_method, "polygamma_": _polygamma_, "mvlgamma": mvlgamma,
                 "mvlgamma_": _mvlgamma_}
NAMESPACES = {"special": ["gammaln", "digamma", "psi", "polygamma", "multigammaln"]}
