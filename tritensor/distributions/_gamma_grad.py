"""Reparameterised Gamma sampling: the implicit gradient of a standard Gamma draw x ~ Gamma(a, 1) in a.

x = F^-1(u; a) for a uniform u, so dx/da = -(dP(a, x)/da) / p(x; a), with P the regularised lower
incomplete gamma function and p the density (Figurnov et al., "Implicit reparameterization gradients",
2018; PyTorch's _standard_gamma_grad computes the same quantity). dP/da is computed here with tensor ops:

- x < a + 1: the series P = sum_n exp((a + n) log x - x - lgamma(a + n + 1)), differentiated term by term
  (d/da of a term is the term times log x - digamma(a + n + 1), digamma stepping by 1/(a + n + 1));
- x >= a + 1: Q = 1 - P = exp(a log x - x - lgamma(a)) CF(a, x) with the continued fraction of Numerical
  Recipes' gcf evaluated by Lentz's method, carrying each quantity's derivative in a (forward mode);
- a > 500: the Wilson-Hilferty approximation x = a (1 - 1/(9a) + z/(3 sqrt a))^3 differentiated at fixed z
  (relative error O(1/a)), since the two expansions above need O(sqrt a) terms.

Both expansions stop once every lane's last term is below 1e-16 of its sum (checked every 8 steps).
"""

from __future__ import annotations

from ..autograd import Function, no_grad
from ..tensor import Tensor
from ._ops import digamma, lgamma, where

_MAX_TERMS = 400
_WH_ABOVE = 500.0


def _converged(term: Tensor, total: Tensor) -> bool:
    return bool((term.abs() <= 1e-16 * total.abs()).all().item())


def _series_dp(a: Tensor, x: Tensor, logx: Tensor) -> Tensor:
    """dP/da for x < a + 1 (other lanes are given x = a, inside the series' range)."""
    k = a + 1
    term = (a * logx - x - lgamma(k)).exp()
    psi = digamma(k)
    total = term * (logx - psi)
    for n in range(_MAX_TERMS):
        term = term * x / k
        psi = psi + 1 / k
        k = k + 1
        step = term * (logx - psi)
        total = total + step
        if n % 8 == 7 and _converged(step, total):
            break
    return total


def _fraction_dp(a: Tensor, x: Tensor, logx: Tensor) -> Tensor:
    """dP/da = -dQ/da for x >= a + 1, by the continued fraction and its derivative in a."""
    b = x + 1 - a
    c = b * 0 + 1e300
    dc = b * 0
    d = 1 / b
    dd = d * d  # d/da (1/b) = 1/b^2, as db/da = -1
    h, dh = d, dd
    for i in range(1, _MAX_TERMS + 1):
        an = -i * (i - a)
        b = b + 2
        pre = an * d + b
        dpre = i * d + an * dd - 1
        c_new = b + an / c
        dc = -1 + (i * c - an * dc) / (c * c)
        c = c_new
        d = 1 / pre
        dd = -dpre * d * d
        step = d * c
        dstep = dd * c + d * dc
        dh = dh * step + h * dstep
        h = h * step
        if i % 8 == 0 and _converged(step - 1, step):
            break
    front = (a * logx - x - lgamma(a)).exp()
    dq = front * h * (logx - digamma(a)) + front * dh
    return -dq


def _wilson_hilferty_dx(a: Tensor, x: Tensor) -> Tensor:
    """dx/da at fixed z for x = a (1 - 1/(9a) + z/(3 sqrt a))^3."""
    root_a = a.sqrt()
    cube = (x / a) ** (1 / 3)
    z = (cube - 1 + 1 / (9 * a)) * 3 * root_a
    return cube ** 3 + 3 * a * cube ** 2 * (1 / (9 * a * a) - z / (6 * a * root_a))


def standard_gamma_grad(a: Tensor, x: Tensor) -> Tensor:
    """dx/da of standard Gamma draws x at concentrations a (same shape), without gradient."""
    with no_grad():
        big = a > _WH_ABOVE
        a_ = where(big, a * 0 + 1, a)
        x_ = where(big, a * 0 + 1, x)
        low = x_ < a_ + 1
        logx = x_.log()
        dp_series = _series_dp(a_, where(low, x_, a_), where(low, logx, a_.log()))
        x_hi = where(low, a_ + 1, x_)
        dp_fraction = _fraction_dp(a_, x_hi, x_hi.log())
        dp = where(low, dp_series, dp_fraction)
        density = ((a_ - 1) * logx - x_ - lgamma(a_)).exp()
        dx = -dp / density
        return where(big, _wilson_hilferty_dx(a, x), dx)


class StandardGamma(Function):
    """x ~ Gamma(a, 1) with the implicit reparameterisation gradient dx/da (backward)."""

    @staticmethod
    def forward(ctx, a: Tensor, sampler) -> Tensor:
        x = sampler(a)
        ctx.save_for_backward(a, x)
        return x

    @staticmethod
    def backward(ctx, grad):
        a, x = ctx.saved_tensors
        return grad * standard_gamma_grad(a.detach(), x.detach()), None
