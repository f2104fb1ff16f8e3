"""isnan, isinf, isfinite, isposinf, isneginf and nan_to_num registered over kernels/nonfinite.py.

The predicates return bool tensors and record no autograd history (integers and bools are finite).
nan_to_num is differentiable (grad * isfinite(x)): its backward is written with tensor ops (second
derivatives) and has a fused kernel/reference pass.
"""

from __future__ import annotations

import math

from .. import dtypes as D
from ..autograd.function import Function
from ..autograd.grad_mode import state
from ..creation import zeros
from ..kernels import nonfinite as K
from ..tensor import Tensor
from .comparison import eq
from .dispatch import run_elementwise
from .elementwise import inplace, mul
from .map_ops import finish, fused_grads, type_error


def _predicate(name: str, input: Tensor) -> Tensor:
    if type(input) is not Tensor:
        raise type_error(name, "input", input)
    return run_elementwise(getattr(K, f"{name}_ref"), getattr(K, name), [input], D.bool)


def isnan(input: Tensor) -> Tensor:
    """Elementwise test for NaN (a bool tensor)."""
    return _predicate("isnan", input)


def isinf(input: Tensor) -> Tensor:
    """Elementwise test for +inf or -inf (a bool tensor)."""
    return _predicate("isinf", input)


def isfinite(input: Tensor) -> Tensor:
    """Elementwise test for a finite value: neither inf nor NaN (a bool tensor)."""
    return _predicate("isfinite", input)


def _is_signed_inf(input: Tensor, value: float, out: Tensor | None) -> Tensor:
    if type(input) is not Tensor:
        raise type_error("isposinf" if value > 0 else "isneginf", "input", input)
    if input.dtype.is_floating_point:
        return eq(input, value, out=out)
    # Integers are never infinite: eq against an impossible value would still need a float cast.
    return finish(zeros(input._shape, dtype=D.bool, device=input.device), out)


def isposinf(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Elementwise test for +inf (a bool tensor)."""
    return _is_signed_inf(input, math.inf, out)


def isneginf(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Elementwise test for -inf (a bool tensor)."""
    return _is_signed_inf(input, -math.inf, out)


class NanToNum(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, nan, posinf, neginf) -> Tensor:
        if ctx.needs_input_grad:
            ctx.save_for_backward(x)
        return run_elementwise(K.nan_to_num_ref, K.nan_to_num, [x], x.dtype, nan, posinf, neginf)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        # A product, as PyTorch: an inf/NaN gradient at a non-finite x stays NaN.
        return mul(grad, isfinite(x)), None, None, None

    def backward_fused(self, grad):
        (x,) = self.saved_tensors
        (gx,) = fused_grads(K.OPS["nan_to_num"], (True,), grad, [x])
        return gx, None, None, None


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None, *,
               out: Tensor | None = None) -> Tensor:
    """NaN -> nan, +inf -> posinf (default: the dtype's max), -inf -> neginf (default: its lowest); integer
    and bool tensors are copied."""
    if type(input) is not Tensor:
        raise type_error("nan_to_num", "input", input)
    return finish(NanToNum.apply(input, nan, posinf, neginf), out)


def _nan_to_num_in_place(self: Tensor, nan: float = 0.0, posinf=None, neginf=None) -> Tensor:
    """In-place nan_to_num."""
    src = self.clone() if state.enabled and self._requires_grad else self
    return inplace(lambda _, *a: nan_to_num(src, *a), self, nan, posinf, neginf)


__all__ = ["isnan", "isinf", "isfinite", "isposinf", "isneginf", "nan_to_num"]
METHODS: dict = {**{name: globals()[name] for name in __all__}, "nan_to_num_": _nan_to_num_in_place}
