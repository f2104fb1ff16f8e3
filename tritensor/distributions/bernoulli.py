"""The Bernoulli distribution, parameterised by probs or logits, as torch.distributions.Bernoulli."""

from __future__ import annotations

import math

from ..tensor import Tensor
from . import constraints
from ._ops import bernoulli, sigmoid, softplus
from .distribution import Distribution, ProbsOrLogits, broadcast_all, probs_to_logits

__all__ = ["Bernoulli"]


class Bernoulli(ProbsOrLogits, Distribution):
    """Bernoulli(probs=None, logits=None): 1 with probability probs (= sigmoid(logits)), else 0."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
            param = self.probs
        else:
            (self.logits,) = broadcast_all(logits)
            param = self.logits
        self._param = param
        super().__init__(param.shape, validate_args=validate_args)

    def __getattr__(self, name: str):
        # The other parameterisation, computed on first use (torch's lazy_property).
        if name == "logits" and "probs" in self.__dict__:
            self.logits = probs_to_logits(self.probs, is_binary=True)
            return self.logits
        if name == "probs" and "logits" in self.__dict__:
            self.probs = sigmoid(self.logits)
            return self.probs
        raise AttributeError(name)

    @property
    def mean(self) -> Tensor:
        """probs."""
        return self.probs

    @property
    def mode(self) -> Tensor:
        """1 where probs > 1/2, 0 below, NaN at exactly 1/2."""
        mode = (self.probs >= 0.5).to(self.probs.dtype)
        return mode.masked_fill(self.probs == 0.5, math.nan)

    @property
    def variance(self) -> Tensor:
        """probs (1 - probs)."""
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()) -> Tensor:
        """0/1 draws in probs' dtype (tt.bernoulli, from the global generator)."""
        shape = self._extended_shape(sample_shape)
        return bernoulli(self.probs.detach().expand(shape))

    def log_prob(self, value: Tensor) -> Tensor:
        """value * logits - softplus(logits), i.e. -BCE-with-logits."""
        if self._validate_args:
            self._validate_sample(value)
        logits = self.logits
        return value * logits - softplus(logits)

    def entropy(self) -> Tensor:
        """softplus(logits) - probs * logits."""
        return softplus(self.logits) - self.probs * self.logits
