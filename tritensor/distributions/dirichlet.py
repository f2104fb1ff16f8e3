"""The Dirichlet distribution on the simplex, as torch.distributions.Dirichlet."""

from __future__ import annotations

from ..tensor import Tensor
from . import constraints
from ._ops import digamma, lgamma, xlogy
from .distribution import Distribution, as_float_tensor
from .gamma import rsample_standard_gamma

__all__ = ["Dirichlet"]


class Dirichlet(Distribution):
    """Dirichlet(concentration): density prod_k x_k^(a_k - 1) / B(a) on the simplex (last dimension = events).

    Sampling normalises Gamma(a_k, 1) draws; rsample differentiates through them (the implicit Gamma gradient).
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args: bool | None = None) -> None:
        concentration = as_float_tensor(concentration)
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        """a / sum(a)."""
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self) -> Tensor:
        """(a - 1) / (sum(a) - K) where every a_k > 1."""
        am1 = (self.concentration - 1).clamp(min=0.0)
        return am1 / am1.sum(-1, keepdim=True)

    @property
    def variance(self) -> Tensor:
        """a (a0 - a) / (a0^2 (a0 + 1)), a0 = sum(a)."""
        a0 = self.concentration.sum(-1, keepdim=True)
        return self.concentration * (a0 - self.concentration) / (a0 * a0 * (a0 + 1))

    def rsample(self, sample_shape=()) -> Tensor:
        """Points of the simplex, shape sample_shape + batch_shape + event_shape, differentiable in concentration."""
        g = rsample_standard_gamma(self.concentration, tuple(self._extended_shape(sample_shape)))
        return g / g.sum(-1, keepdim=True)

    def log_prob(self, value: Tensor) -> Tensor:
        """sum_k xlogy(a_k - 1, x_k) + lgamma(sum a) - sum lgamma(a_k)."""
        if self._validate_args:
            self._validate_sample(value)
        a = self.concentration
        return xlogy(a - 1, value).sum(-1) + lgamma(a.sum(-1)) - lgamma(a).sum(-1)

    def entropy(self) -> Tensor:
        """sum lgamma(a_k) - lgamma(a0) - (K - a0) digamma(a0) - sum (a_k - 1) digamma(a_k)."""
        a = self.concentration
        k = a.shape[-1]
        a0 = a.sum(-1)
        return (lgamma(a).sum(-1) - lgamma(a0) - (k - a0) * digamma(a0)
                - ((a - 1) * digamma(a)).sum(-1))
