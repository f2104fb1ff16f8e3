"""tt.distributions: probability distributions with sampling, log densities, entropies and KL, as torch.distributions.

Normal, Uniform (reparameterised rsample), Bernoulli, Categorical (probs or logits), Beta, Gamma,
Dirichlet; `kl_divergence` with `register_kl`; parameter and support constraints in `constraints`.
Everything is written with the public tensor ops and tt.special, so it runs on cpu and cuda alike and
draws from the global generator (tt.manual_seed).
"""

from __future__ import annotations

from . import constraints
from .bernoulli import Bernoulli
from .beta import Beta
from .categorical import Categorical
from .dirichlet import Dirichlet
from .distribution import Distribution
from .gamma import Gamma
from .kl import kl_divergence, register_kl
from .normal import Normal
from .uniform import Uniform

__all__ = ["Bernoulli", "Beta", "Categorical", "Dirichlet", "Distribution", "Gamma", "Normal", "Uniform",
           "constraints", "kl_divergence", "register_kl"]
