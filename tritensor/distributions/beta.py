"""The Beta distribution on [0, 1], as torch.distributions.Beta."""

from __future__ import annotations

from ..tensor import Tensor
from . import constraints
from ._ops import digamma, lgamma, xlogy
from .distribution import Distribution, broadcast_all
from .gamma import rsample_standard_gamma

__all__ = ["Beta"]


class Beta(Distribution):
    """Beta(concentration1, concentration0): density x^(a-1) (1-x)^(b-1) / B(a, b), a = concentration1.

    Sampling is x / (x + y) of Gamma(a, 1) and Gamma(b, 1) draws; rsample differentiates through them
    (the implicit Gamma gradient).
    """

    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args: bool | None = None) -> None:
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        super().__init__(self.concentration1.shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        """a / (a + b)."""
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self) -> Tensor:
        """(a - 1) / (a + b - 2) (for a, b > 1)."""
        a1 = (self.concentration1 - 1).clamp(min=0.0)
        b1 = (self.concentration0 - 1).clamp(min=0.0)
        return a1 / (a1 + b1)

    @property
    def variance(self) -> Tensor:
        """a b / ((a + b)^2 (a + b + 1))."""
        a, b = self.concentration1, self.concentration0
        total = a + b
        return a * b / (total * total * (total + 1))

    def rsample(self, sample_shape=()) -> Tensor:
        """Beta draws of shape sample_shape + batch_shape, differentiable in both concentrations."""
        shape = tuple(self._extended_shape(sample_shape))
        x = rsample_standard_gamma(self.concentration1, shape)
        y = rsample_standard_gamma(self.concentration0, shape)
        return x / (x + y)

    def log_prob(self, value: Tensor) -> Tensor:
        """xlogy(a - 1, x) + xlogy(b - 1, 1 - x) - lgamma(a) - lgamma(b) + lgamma(a + b)."""
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        return (xlogy(a - 1, value) + xlogy(b - 1, 1 - value) - lgamma(a) - lgamma(b) + lgamma(a + b))

    def entropy(self) -> Tensor:
        """log B(a, b) - (a - 1) psi(a) - (b - 1) psi(b) + (a + b - 2) psi(a + b)."""
        a, b = self.concentration1, self.concentration0
        total = a + b
        return (lgamma(a) + lgamma(b) - lgamma(total) - (a - 1) * digamma(a) - (b - 1) * digamma(b)
                + (total - 2) * digamma(total))
