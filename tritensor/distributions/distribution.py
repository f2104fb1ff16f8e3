"""The Distribution base class (torch.distributions.Distribution) and the helpers the distributions share."""

from __future__ import annotations

import math

import numpy as np

from .. import creation
from .. import dtypes as D
from ..autograd import no_grad
from ..ops.broadcast import broadcast_shapes
from ..tensor import Size, Tensor
from . import constraints

__all__ = ["Distribution"]


def as_float_tensor(value, like: Tensor | None = None) -> Tensor:
    """A parameter as a floating tensor (numbers take `like`'s dtype and device, else the default dtype)."""
    if isinstance(value, Tensor):
        return value if value.dtype.is_floating_point else value.to(D.get_default_dtype())
    if like is not None:
        return creation.tensor(float(value), dtype=like.dtype, device=like.device)
    return creation.tensor(float(value), dtype=D.get_default_dtype())


def broadcast_all(*values) -> tuple[Tensor, ...]:
    """Parameters (tensors or numbers) as float tensors broadcast to one shape, as torch's broadcast_all."""
    like = next((v for v in values if isinstance(v, Tensor) and v.dtype.is_floating_point), None)
    tensors = [as_float_tensor(v, like) for v in values]
    shape = broadcast_shapes(*(t.shape for t in tensors))
    return tuple(t.expand(shape) for t in tensors)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """Logits from probabilities, clamped away from 0 and 1 by the dtype's eps (torch's probs_to_logits)."""
    eps = float(np.finfo(probs.dtype.np).eps)
    p = probs.clamp(eps, 1 - eps)
    return (p.log() - (-p).log1p()) if is_binary else p.log()


class Distribution:
    """Base of every distribution: shapes, argument validation, sampling shape helpers and the default
    (NotImplementedError) methods, as torch.distributions.Distribution.

    `validate_args` (default True, as PyTorch under `__debug__`) checks the parameters against
    `arg_constraints` at construction and `log_prob`'s value against `support`, raising ValueError.
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = True
    arg_constraints: dict = {}
    support: constraints.Constraint | None = None

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn default argument validation on or off for every distribution."""
        if value not in (True, False):
            raise ValueError
        Distribution._validate_args = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args: bool | None = None) -> None:
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            self._check_parameters()

    def _check_parameters(self) -> None:
        for param, constraint in self.arg_constraints.items():
            if isinstance(constraint, constraints._Dependent):
                continue
            if param not in self.__dict__ and isinstance(getattr(type(self), param, None), property):
                continue  # the other parameterisation (probs vs logits)
            value = getattr(self, param)
            valid = constraint.check(value)
            if not bool(valid.all().item()):
                raise ValueError(
                    f"Expected parameter {param} ({type(value).__name__} of shape {tuple(value.shape)}) "
                    f"of distribution {self!r} to satisfy the constraint {constraint!r}, "
                    f"but found invalid values:\n{value}")

    @property
    def batch_shape(self) -> Size:
        """The shape over which parameters are batched."""
        return self._batch_shape

    @property
    def event_shape(self) -> Size:
        """The shape of a single sample (without batching)."""
        return self._event_shape

    @property
    def mean(self) -> Tensor:
        """The mean of the distribution."""
        raise NotImplementedError

    @property
    def mode(self) -> Tensor:
        """The mode of the distribution."""
        raise NotImplementedError(f"{self.__class__} does not implement mode")

    @property
    def variance(self) -> Tensor:
        """The variance of the distribution."""
        raise NotImplementedError

    @property
    def stddev(self) -> Tensor:
        """The standard deviation: sqrt(variance)."""
        return self.variance.sqrt()

    def _extended_shape(self, sample_shape=()) -> Size:
        return Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def sample(self, sample_shape=()) -> Tensor:
        """A sample (or sample_shape batch of samples), without gradient; rsample's detached result by default."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()) -> Tensor:
        """A reparameterised sample: gradients flow to the parameters."""
        raise NotImplementedError

    def log_prob(self, value: Tensor) -> Tensor:
        """The log of the probability density/mass function at value."""
        raise NotImplementedError

    def cdf(self, value: Tensor) -> Tensor:
        """The cumulative distribution function at value."""
        raise NotImplementedError

    def icdf(self, value: Tensor) -> Tensor:
        """The inverse cumulative distribution function at value."""
        raise NotImplementedError

    def entropy(self) -> Tensor:
        """The entropy, batched over batch_shape."""
        raise NotImplementedError

    def perplexity(self) -> Tensor:
        """exp(entropy)."""
        return self.entropy().exp()

    def _validate_sample(self, value) -> None:
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        event_dim_start = len(value.shape) - len(self._event_shape)
        if tuple(value.shape[event_dim_start:]) != tuple(self._event_shape):
            raise ValueError(f"The right-most size of value must match event_shape: {value.shape} vs "
                             f"{self._event_shape}.")
        actual_shape = tuple(value.shape)
        expected_shape = tuple(self._batch_shape) + tuple(self._event_shape)
        for i, j in zip(reversed(actual_shape), reversed(expected_shape)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: {actual_shape} vs "
                                 f"{expected_shape}.")
        support = self.support
        valid = support.check(value)
        if not bool(valid.all().item()):
            raise ValueError(
                f"Expected value argument ({type(value).__name__} of shape {tuple(value.shape)}) to be within the "
                f"support ({support!r}) of the distribution {self!r}, but found invalid values:\n{value}")

    def __repr__(self) -> str:
        names = [k for k in self.arg_constraints if k in self.__dict__]
        args = ", ".join(f"{p}: {self.__dict__[p] if self.__dict__[p].numel() == 1 else self.__dict__[p].size()}"
                         for p in names)
        return f"{self.__class__.__name__}({args})"


HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class ProbsOrLogits:
    """A mixin for distributions given either `probs` or `logits`: only the one given is validated (the other
    is derived from it on first use)."""

    def _check_parameters(self) -> None:
        name = "probs" if "probs" in self.__dict__ else "logits"
        saved = self.arg_constraints
        self.arg_constraints = {name: saved[name]}
        try:
            super()._check_parameters()
        finally:
            del self.arg_constraints
