"""The Gamma distribution (shape `concentration`, inverse scale `rate`), as torch.distributions.Gamma."""

from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from . import constraints
from ._gamma_grad import StandardGamma
from ._ops import digamma, gammainc, lgamma, rand, randn, where, xlogy
from .distribution import Distribution, broadcast_all

__all__ = ["Gamma"]


def standard_gamma(concentration: Tensor, shape) -> Tensor:
    """Gamma(concentration, 1) draws of `shape` (concentration broadcast to it), without gradient.

    Marsaglia and Tsang's method ("A simple method for generating gamma variables", 2000) on tensor ops:
    d = a - 1/3, c = 1/sqrt(9d), x ~ N(0, 1), v = (1 + c x)^3, accept when log u < x^2/2 + d - d v + d log v;
    rejected lanes draw again until every lane is accepted (each round accepts over 95%). Concentrations
    below 1 draw Gamma(a + 1) and multiply by u^(1/a).
    """
    with no_grad():
        a = concentration.detach().expand(shape)
        boost = a < 1
        ab = where(boost, a + 1, a)
        d = ab - 1 / 3
        c = (9 * d).rsqrt()
        result = a * 0
        pending = a == a
        while bool(pending.any().item()):
            x = randn(*shape, dtype=a.dtype, device=a.device)
            u = rand(*shape, dtype=a.dtype, device=a.device)
            v = (1 + c * x) ** 3
            vs = where(v > 0, v, v * 0 + 1)
            accept = (v > 0).logical_and(u.log() < 0.5 * x * x + d - d * vs + d * vs.log())
            take = accept.logical_and(pending)
            result = where(take, d * vs, result)
            pending = pending.logical_and(accept.logical_not())
        u = rand(*shape, dtype=a.dtype, device=a.device)
        scale = where(boost, u ** (1 / where(boost, a, a * 0 + 1)), a * 0 + 1)
        return (result * scale).clamp(min=float(np.finfo(a.dtype.np).tiny))


def rsample_standard_gamma(concentration: Tensor, shape) -> Tensor:
    """Gamma(concentration, 1) draws of `shape` whose gradient in concentration is the implicit one."""
    return StandardGamma.apply(concentration.expand(shape), lambda a: standard_gamma(a, shape))


class Gamma(Distribution):
    """Gamma(concentration, rate): density rate^a x^(a-1) e^(-rate x) / Gamma(a) on x >= 0.

    Sampling is Marsaglia-Tsang on the global generator; rsample carries the implicit reparameterisation
    gradient in concentration (see _gamma_grad.py) and the plain one in rate (x = x1 / rate).
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args: bool | None = None) -> None:
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        """concentration / rate."""
        return self.concentration / self.rate

    @property
    def mode(self) -> Tensor:
        """(concentration - 1) / rate, clamped at 0."""
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self) -> Tensor:
        """concentration / rate^2."""
        return self.concentration / (self.rate * self.rate)

    def sample(self, sample_shape=()) -> Tensor:
        """Gamma draws of shape sample_shape + batch_shape."""
        shape = tuple(self._extended_shape(sample_shape))
        return standard_gamma(self.concentration, shape) / self.rate.detach().expand(shape)

    def rsample(self, sample_shape=()) -> Tensor:
        """Gamma draws differentiable in concentration and rate."""
        shape = tuple(self._extended_shape(sample_shape))
        return rsample_standard_gamma(self.concentration, shape) / self.rate.expand(shape)

    def log_prob(self, value: Tensor) -> Tensor:
        """xlogy(a, rate) + xlogy(a - 1, value) - rate value - lgamma(a)."""
        if self._validate_args:
            self._validate_sample(value)
        a, rate = self.concentration, self.rate
        return xlogy(a, rate) + xlogy(a - 1, value) - rate * value - lgamma(a)

    def cdf(self, value: Tensor) -> Tensor:
        """P(concentration, rate * value): the regularised lower incomplete gamma function (tt.special.gammainc,
        a kernel on the tensors' device). Differentiable in rate and value; the gradient in concentration raises
        NotImplementedError in backward, as PyTorch's."""
        if self._validate_args:
            self._validate_sample(value)
        return gammainc(self.concentration, self.rate * value)

    def entropy(self) -> Tensor:
        """a - log(rate) + lgamma(a) + (1 - a) digamma(a)."""
        a = self.concentration
        return a - self.rate.log() + lgamma(a) + (1 - a) * digamma(a)
