"""The public ops the distributions are written with, in one place (the layer's public API only)."""

from __future__ import annotations

from ..creation import full, rand, randn, zeros_like
from ..ops.activations import softplus
from ..ops.sampling import bernoulli, multinomial
from ..ops.special import logit, sigmoid
from ..ops.special_binary import xlogy
from ..ops.special_erf import erfinv
from ..ops.special_gamma import digamma, lgamma
from ..ops.special_igamma import gammainc
from ..ops.where import where

__all__ = ["bernoulli", "digamma", "erfinv", "full", "gammainc", "lgamma", "logit", "multinomial", "rand", "randn",
           "sigmoid", "softplus", "where", "xlogy", "zeros_like"]
