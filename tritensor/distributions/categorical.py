"""The Categorical distribution over {0, ..., K-1}, by probs or logits, as torch.distributions.Categorical."""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes as D
from ..ops.broadcast import broadcast_shapes
from ..tensor import Tensor
from . import constraints
from ._ops import full, multinomial
from .distribution import Distribution, ProbsOrLogits, as_float_tensor, probs_to_logits

__all__ = ["Categorical"]


class Categorical(ProbsOrLogits, Distribution):
    """Categorical(probs=None, logits=None): index k with probability probs[..., k] (normalised), or
    softmax(logits)[..., k]; the last dimension indexes the categories."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            probs = as_float_tensor(probs)
            if probs.dim() < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
            param = self.probs
        else:
            logits = as_float_tensor(logits)
            if logits.dim() < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
            param = self.logits
        self._num_events = param.shape[-1]
        super().__init__(param.shape[:-1], validate_args=validate_args)

    def __getattr__(self, name: str):
        if name == "logits" and "probs" in self.__dict__:
            self.logits = probs_to_logits(self.probs)
            return self.logits
        if name == "probs" and "logits" in self.__dict__:
            self.probs = self.logits.softmax(-1)
            return self.probs
        raise AttributeError(name)

    @property
    def support(self) -> constraints.Constraint:
        """The integers 0 .. K-1."""
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def param_shape(self):
        """The shape of probs/logits."""
        return (self.probs if "probs" in self.__dict__ else self.logits).shape

    @property
    def mean(self) -> Tensor:
        """NaN (categories are labels), shaped like batch_shape."""
        return full(tuple(self.batch_shape), math.nan, dtype=self._dtype(), device=self._device())

    @property
    def mode(self) -> Tensor:
        """The most probable category."""
        return self.probs.argmax(-1)

    @property
    def variance(self) -> Tensor:
        """NaN, shaped like batch_shape."""
        return full(tuple(self.batch_shape), math.nan, dtype=self._dtype(), device=self._device())

    def _dtype(self):
        return (self.probs if "probs" in self.__dict__ else self.logits).dtype

    def _device(self):
        return (self.probs if "probs" in self.__dict__ else self.logits).device

    def sample(self, sample_shape=()) -> Tensor:
        """int64 category indices of shape sample_shape + batch_shape (tt.multinomial, global generator)."""
        sample_shape = tuple(sample_shape)
        n = 1
        for s in sample_shape:
            n *= s
        probs_2d = self.probs.detach().reshape(-1, self._num_events)
        samples_2d = multinomial(probs_2d, max(n, 1), True).t()
        return samples_2d.reshape(sample_shape + tuple(self.batch_shape))

    def log_prob(self, value: Tensor) -> Tensor:
        """logits[..., value], broadcast against batch_shape."""
        if self._validate_args:
            self._validate_sample(value)
        value = value.to(D.int64).unsqueeze(-1)
        logits = self.logits
        shape = broadcast_shapes(tuple(value.shape[:-1]), tuple(logits.shape[:-1]))
        value = value.expand(tuple(shape) + (1,))
        logits = logits.expand(tuple(shape) + (self._num_events,))
        return logits.gather(-1, value).squeeze(-1)

    def entropy(self) -> Tensor:
        """-sum_k probs_k logits_k, with logits clamped to the dtype's min (0 * -inf counts as 0)."""
        min_real = float(np.finfo(self.logits.dtype.np).min)
        logits = self.logits.clamp(min=min_real)
        return -(logits * self.probs).sum(-1)
