"""Exponentials and logarithms (exp, exp2, expm1, log, log2, log10, log1p) registered over
kernels/exponential.py.

Each op is a Function made by `unary.register_family` from its `kernels.exponential.OPS` entry (see
ops/unary.py): the fused backward kernel serves plain backward, and the derivative below, written with
tensor ops, serves create_graph=True. Integer and bool inputs are cast to the default float dtype
first, as PyTorch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..kernels import exponential as K
from .unary import register_family

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)

# Derivatives in tensor ops (saved is x or the output, per the kernel's `saves`); the Tensor methods
# they call are looked up at call time.
_DERIVATIVES: dict[str, Callable] = {
    "exp": lambda g, y: g * y,
    "exp2": lambda g, y: g * (y * _LN2),
    "expm1": lambda g, y: g * (y + 1),
    "log": lambda g, x: g * x.reciprocal(),
    "log2": lambda g, x: g * (x * _LN2).reciprocal(),
    "log10": lambda g, x: g * (x * _LN10).reciprocal(),
    "log1p": lambda g, x: g * (x + 1).reciprocal(),
}

# PyTorch's node names where they are not the op's name capitalised.
_NODE_NAMES = {"expm1": "Expm1", "exp2": "Exp2", "log1p": "Log1P"}
# The docstrings' first lines.
_DESCRIPTIONS = {
    "exp": "e**x elementwise.",
    "exp2": "2**x elementwise.",
    "expm1": "e**x - 1 elementwise, accurate for small x.",
    "log": "Natural logarithm elementwise; log(0) is -inf, negative inputs give NaN.",
    "log2": "Base-2 logarithm elementwise.",
    "log10": "Base-10 logarithm elementwise.",
    "log1p": "log(1 + x) elementwise, accurate for small x.",
}
FUNCTIONS, _PUBLIC = register_family(K.OPS, _DERIVATIVES, __name__, _NODE_NAMES, descriptions=_DESCRIPTIONS)
globals().update(_PUBLIC)

__all__: list[str] = list(_PUBLIC)
METHODS: dict = dict(_PUBLIC)
