"""Trigonometric and hyperbolic functions (sin, cos, tan, asin, acos, atan, sinh, cosh, tanh) registered
over kernels/trigonometric.py.

Each op is a Function made by `unary.register_family` from its `kernels.trigonometric.OPS` entry (see
ops/unary.py): the fused backward kernel serves plain backward, and the derivative below, written with
tensor ops, serves create_graph=True. Integer and bool inputs are cast to the default float dtype
first, as PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable

from ..kernels import trigonometric as K
from .unary import register_family

# Derivatives in tensor ops (saved is x or the output, per the kernel's `saves`); the Tensor methods
# they call are looked up at call time.
_DERIVATIVES: dict[str, Callable] = {
    "sin": lambda g, x: g * x.cos(),
    "cos": lambda g, x: g * -x.sin(),
    "tan": lambda g, y: g * (y * y + 1),
    "asin": lambda g, x: g * ((1 - x) * (1 + x)).rsqrt(),
    "acos": lambda g, x: g * -((1 - x) * (1 + x)).rsqrt(),
    "atan": lambda g, x: g * (x * x + 1).reciprocal(),
    "sinh": lambda g, x: g * x.cosh(),
    "cosh": lambda g, x: g * x.sinh(),
    "tanh": lambda g, y: g * (1 - y * y),
}

# The docstrings' first lines.
_DESCRIPTIONS = {
    "sin": "Sine elementwise (radians).",
    "cos": "Cosine elementwise (radians).",
    "tan": "Tangent elementwise (radians).",
    "asin": "Arcsine elementwise, in [-pi/2, pi/2]; alias `arcsin`. NaN outside [-1, 1].",
    "acos": "Arccosine elementwise, in [0, pi]; alias `arccos`. NaN outside [-1, 1].",
    "atan": "Arctangent elementwise, in (-pi/2, pi/2); alias `arctan`.",
    "sinh": "Hyperbolic sine elementwise.",
    "cosh": "Hyperbolic cosine elementwise.",
    "tanh": "Hyperbolic tangent elementwise.",
}
FUNCTIONS, _PUBLIC = register_family(K.OPS, _DERIVATIVES, __name__,
                                     aliases={"arcsin": "asin", "arccos": "acos", "arctan": "atan"},
                                     descriptions=_DESCRIPTIONS)
globals().update(_PUBLIC)

__all__: list[str] = list(_PUBLIC)
METHODS: dict = dict(_PUBLIC)
