"""The public functional API (`tt.add`, `tt.sum`, ...), gathered from the op modules."""

from .copy import clone, contiguous  # noqa: F401
from .elementwise import add, mul, neg, sub  # noqa: F401
from .reduction import sum  # noqa: F401,A004
from .views import (  # noqa: F401
    as_strided,
    expand,
    flatten,
    narrow,
    permute,
    reshape,
    squeeze,
    t,
    transpose,
    unbind,
    unflatten,
    unsqueeze,
    view,
)

negative = neg
subtract = sub
multiply = mul
swapaxes = swapdims = transpose

__all__ = ["clone", "contiguous", "add", "mul", "neg", "sub", "sum", "as_strided", "expand", "flatten", "narrow",
           "permute", "reshape", "squeeze", "t", "transpose", "unbind", "unflatten", "unsqueeze", "negative",
           "subtract", "multiply", "swapaxes", "swapdims"]
