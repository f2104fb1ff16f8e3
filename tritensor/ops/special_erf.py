"""erfc, erfinv, ndtr, ndtri and log_ndtr registered over kernels/special_erf.py (tt.erfc, tt.erfinv,
tt.special.ndtr, ...), with their Tensor methods and in-place forms where PyTorch has them.

Each op is a Function made by `unary.register_family`; the derivatives below, in tensor ops, serve
create_graph=True (plain backward runs the fused backward kernel). Integers are cast to the default float
dtype first, as PyTorch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..kernels import special_erf as K
from .unary import register_family

_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


def _log_ndtr_derivative(g, x):
    # PyTorch: grad / sqrt(2 pi) * exp(-(log_ndtr(x) + x^2 / 2)), the output recomputed from x.
    return g * ((FUNCTIONS["log_ndtr"].apply(x.detach(), (), False) + x * x * 0.5).neg().exp() * _INV_SQRT_2PI)


_DERIVATIVES: dict[str, Callable] = {
    "erfc": lambda g, x: g * ((x * x).neg().exp() * (-2 / math.sqrt(math.pi))),
    "erfinv": lambda g, y: g * ((y * y).exp() * _SQRT_PI_OVER_2),
    "ndtr": lambda g, x: g * ((x * x * -0.5).exp() * _INV_SQRT_2PI),
    "ndtri": lambda g, y: g * ((y * y * 0.5).exp() * math.sqrt(2 * math.pi)),
    "log_ndtr": _log_ndtr_derivative,
}

_DESCRIPTIONS = {
    "erfc": "Complementary error function 1 - erf(x) elementwise, accurate in the right tail.",
    "erfinv": "Inverse error function elementwise: erfinv(+-1) = +-inf, NaN outside [-1, 1].",
    "ndtr": "Standard normal cumulative distribution function elementwise (torch.special.ndtr).",
    "ndtri": "Standard normal quantile, the inverse of ndtr, elementwise (torch.special.ndtri).",
    "log_ndtr": "log(ndtr(x)) elementwise, accurate far into the left tail (torch.special.log_ndtr).",
}
_NODE_NAMES = {"ndtr": "SpecialNdtr", "ndtri": "SpecialNdtri", "log_ndtr": "SpecialLogNdtr"}
FUNCTIONS, _PUBLIC = register_family(K.OPS, _DERIVATIVES, __name__, _NODE_NAMES, descriptions=_DESCRIPTIONS)
erfc, erfc_, erfinv, erfinv_ = _PUBLIC["erfc"], _PUBLIC["erfc_"], _PUBLIC["erfinv"], _PUBLIC["erfinv_"]
ndtr, ndtri, log_ndtr = _PUBLIC["ndtr"], _PUBLIC["ndtri"], _PUBLIC["log_ndtr"]

__all__: list[str] = ["erfc", "erfc_", "erfinv"]
METHODS: dict = {"erfc": erfc, "erfc_": erfc_, "erfinv": erfinv, "erfinv_": erfinv_}
NAMESPACES = {"special": ["erfc", "erfinv", "ndtr", "ndtri", "log_ndtr"]}
