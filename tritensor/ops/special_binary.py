"""The binary special functions: tt.xlogy, tt.special.xlogy, xlog1py and zeta (Hurwitz), broadcast and
promoted as PyTorch's binary ops (Python scalars included), over kernels/special.py and special_gamma.py.

Backward is tensor ops, both arguments (PyTorch's formulas): xlogy: grad * xlogy(x != 0, y) and
grad * x / y; xlog1py: grad * xlog1py(x != 0, y) and grad * x / (1 + y); zeta: the derivative in q is
-s zeta(s + 1, q), and in s PyTorch has none (backward into s raises).
"""

from __future__ import annotations

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import special as K
from ..kernels import special_gamma as KG
from ..tensor import Tensor
from .dispatch import cast, operands, run_elementwise, sum_to
from .elementwise import _into, inplace


def _float_operands(name: str, input, other) -> tuple[Tensor, Tensor]:
    for arg, value in (("self", input), ("other", other)):
        if not isinstance(value, (Tensor, int, float)) or isinstance(value, complex):
            raise TypeError(f"{name}(): argument '{arg}' must be Tensor or Number, not {type(value).__name__}")
    a, b, dtype = operands(input, other)
    if not dtype.is_floating_point:
        dtype = D.get_default_dtype()
        a, b = cast(a, dtype), cast(b, dtype)
    return a, b


class Xlogy(Function):
    """x * log(y), 0 where x == 0 (unless y is NaN)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(a, b)
        return run_elementwise(K.xlogy_ref, K.xlogy, [a, b], a.dtype)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        grad_a = sum_to(grad * Xlogy.apply((a != 0).to(a.dtype), b), a._shape) if need_a else None
        grad_b = sum_to(grad * a / b, b._shape) if need_b else None
        return grad_a, grad_b


class SpecialXlog1Py(Function):
    """x * log1p(y), 0 where x == 0 (unless y is NaN)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(a, b)
        return run_elementwise(K.xlog1py_ref, K.xlog1py, [a, b], a.dtype)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        grad_a = sum_to(grad * SpecialXlog1Py.apply((a != 0).to(a.dtype), b), a._shape) if need_a else None
        grad_b = sum_to(grad * a / (b + 1), b._shape) if need_b else None
        return grad_a, grad_b


class SpecialZeta(Function):
    """Hurwitz zeta(s, q) = sum_k (q + k)^-s."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, s: Tensor, q: Tensor) -> Tensor:
        ctx.save_for_backward(s, q)
        return run_elementwise(KG.zeta_ref, KG.zeta, [s, q], s.dtype)

    @staticmethod
    def backward(ctx, grad):
        s, q = ctx.saved_tensors
        need_s, need_q = ctx.needs_input_grad
        if need_s:
            raise RuntimeError("the derivative for 'zeta' is not implemented.")
        grad_q = sum_to(grad * -s * SpecialZeta.apply(s + 1, q), q._shape) if need_q else None
        return None, grad_q


def xlogy(input, other, *, out: Tensor | None = None) -> Tensor:
    """input * log(other) elementwise, broadcast, and 0 where input == 0 unless other is NaN (torch.xlogy).

    Either argument may be a Python number; integers promote to the default float dtype. Also a Tensor
    method, with the in-place form `xlogy_`.
    """
    a, b = _float_operands("xlogy", input, other)
    result = Xlogy.apply(a, b)
    return result if out is None else _into(out, result)


def _xlogy_(self: Tensor, other) -> Tensor:
    """In-place xlogy."""
    return inplace(xlogy, self, other)


def xlog1py(input, other, *, out: Tensor | None = None) -> Tensor:
    """input * log1p(other) elementwise, broadcast, 0 where input == 0 unless other is NaN (torch.special.xlog1py)."""
    a, b = _float_operands("xlog1py", input, other)
    result = SpecialXlog1Py.apply(a, b)
    return result if out is None else _into(out, result)


def zeta(input, other, *, out: Tensor | None = None) -> Tensor:
    """The Hurwitz zeta function sum_k (other + k)^-input elementwise, broadcast (torch.special.zeta).

    zeta(1, q) = inf, NaN for input < 1; the gradient in `other` is -input * zeta(input + 1, other),
    and PyTorch defines none in `input` (backward into it raises).
    """
    s, q = _float_operands("zeta", input, other)
    result = SpecialZeta.apply(s, q)
    return result if out is None else _into(out, result)


__all__: list[str] = ["xlogy"]
METHODS: dict = {"xlogy": xlogy, "xlogy_": _xlogy_}
NAMESPACES = {"special": ["xlogy", "xlog1py", "zeta"]}
