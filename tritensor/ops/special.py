"""Special functions (sigmoid, erf) registered over kernels/special.py.

Each op is a Function made by `unary.register_family` from its `kernels.special.OPS` entry (see
ops/unary.py): the fused backward kernel serves plain backward, and the derivative below, written with
tensor ops, serves create_graph=True. Integer and bool inputs are cast to the default float dtype
first, as PyTorch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..kernels import special as K
from .unary import register_family

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

# Derivatives in tensor ops (saved is x or the output, per the kernel's `saves`); the Tensor methods
# they call are looked up at call time.
_DERIVATIVES: dict[str, Callable] = {
    "sigmoid": lambda g, y: g * (y * (1 - y)),
    "erf": lambda g, x: g * ((x * x).neg().exp() * _TWO_OVER_SQRT_PI),
}

# The docstrings' first lines.
_DESCRIPTIONS = {
    "sigmoid": "Logistic sigmoid 1 / (1 + e**-x) elementwise.",
    "erf": "Gauss error function elementwise.",
}
FUNCTIONS, _PUBLIC = register_family(K.OPS, _DERIVATIVES, __name__, descriptions=_DESCRIPTIONS)
globals().update(_PUBLIC)

__all__: list[str] = list(_PUBLIC)
METHODS: dict = dict(_PUBLIC)
