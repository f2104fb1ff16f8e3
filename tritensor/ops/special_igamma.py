"""The regularised incomplete gamma functions over kernels/special_igamma.py: tt.igamma / tt.igammac (with the
Tensor methods igamma, igammac and in-place igamma_, igammac_) and tt.special.gammainc / gammaincc.

Both operands are tensors (PyTorch has no Number overload), broadcast and promoted as a binary float op:
integer and bool inputs compute in the default float dtype. Backward is tensor ops, PyTorch's formula:
d/dx P(a, x) = exp((a - 1) log x - x - lgamma(a)) = -d/dx Q(a, x); PyTorch defines no derivative in `a`, so a
backward that needs one raises NotImplementedError with its message.
"""

from __future__ import annotations

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import special_igamma as K
from ..tensor import Tensor
from .dispatch import cast, operands, run_elementwise, sum_to
from .elementwise import _into, inplace
from .special_gamma import lgamma


def _float_operands(name: str, input, other, first: int = 1) -> tuple[Tensor, Tensor]:
    """input and other as tensors of one float dtype on one device (PyTorch's binary float op promotion)."""
    for pos, (arg, value) in enumerate((("input", input), ("other", other)), start=first):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' (position {pos}) must be Tensor, not {type(value).__name__}")
    a, x, dtype = operands(input, other)
    if dtype.is_complex:
        kernel = "igammac" if name.endswith(("igammac", "gammaincc")) else "igamma"  # the aliases run these
        raise RuntimeError(f"\"{kernel}_{a.device.type}\" not implemented for '{D.scalar_type_name(dtype)}'")
    if not dtype.is_floating_point:
        dtype = D.get_default_dtype()
        a, x = cast(a, dtype), cast(x, dtype)
    return a, x


def _density(a: Tensor, x: Tensor) -> Tensor:
    """x^(a-1) e^-x / Gamma(a), the x-derivative of P, in PyTorch's exact form (NaN/inf where it gives them)."""
    return ((a - 1) * x.log() - x - lgamma(a)).exp()


class Igamma(Function):
    """P(a, x), the regularised lower incomplete gamma function."""

    differentiable_forward = False
    _kernels = (K.igamma_ref, K.igamma)  # (cpu reference, Triton kernel): a tuple, so nothing binds them
    _negated = False  # d/dx of P is the density, of Q = 1 - P its negation

    @staticmethod
    def forward(ctx, a: Tensor, x: Tensor) -> Tensor:
        ctx.save_for_backward(a, x)
        return run_elementwise(*ctx._kernels, [a, x], a.dtype)

    @staticmethod
    def backward(ctx, grad):
        a, x = ctx.saved_tensors
        need_a, need_x = ctx.needs_input_grad
        if need_a:
            raise NotImplementedError(f"the derivative for '{type(ctx).__name__.lower()}: input' is not implemented.")
        if not need_x:
            return None, None
        density = _density(a, x)
        return None, sum_to(grad * (-density if ctx._negated else density), x._shape)


class Igammac(Igamma):
    """Q(a, x) = 1 - P(a, x), the regularised upper incomplete gamma function."""

    _kernels = (K.igammac_ref, K.igammac)
    _negated = True


def igamma(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The regularised lower incomplete gamma function P(input, other) elementwise, broadcast (torch.igamma).

    P(a, x) = 1/Gamma(a) * integral_0^x t^(a-1) e^-t dt for a, x >= 0 (NaN for a negative operand; P(0, x) = 1
    for x > 0, P(a, 0) = 0). Integer inputs promote to the default float dtype. Differentiable in `other`
    (d/dx P = x^(a-1) e^-x / Gamma(a)); a backward into `input` raises NotImplementedError, as PyTorch's.
    """
    a, x = _float_operands("igamma", input, other)
    result = Igamma.apply(a, x)
    return result if out is None else _into(out, result)


def igammac(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The regularised upper incomplete gamma function Q(input, other) = 1 - P(input, other) (torch.igammac).

    Computed directly (not as 1 - P), so small tails keep their precision; edge values, promotion and
    gradients as `igamma` (d/dx Q = -x^(a-1) e^-x / Gamma(a); none in `input`).
    """
    a, x = _float_operands("igammac", input, other)
    result = Igammac.apply(a, x)
    return result if out is None else _into(out, result)


def gammainc(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The regularised lower incomplete gamma function (torch.special.gammainc, an alias of torch.igamma)."""
    a, x = _float_operands("special_gammainc", input, other)
    result = Igamma.apply(a, x)
    return result if out is None else _into(out, result)


def gammaincc(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The regularised upper incomplete gamma function (torch.special.gammaincc, an alias of torch.igammac)."""
    a, x = _float_operands("special_gammaincc", input, other)
    result = Igammac.apply(a, x)
    return result if out is None else _into(out, result)


def _method(fn):
    def method(self: Tensor, other: Tensor) -> Tensor:
        if not isinstance(other, Tensor):  # a method's `other` is its first argument
            raise TypeError(f"{fn.__name__}(): argument 'other' (position 1) must be Tensor, not "
                            f"{type(other).__name__}")
        return fn(self, other)

    method.__name__ = fn.__name__
    method.__doc__ = f"Tensor method form of tt.{fn.__name__}(self, other)."
    return method


def _inplace_method(fn):
    def method(self: Tensor, other: Tensor) -> Tensor:
        if not isinstance(other, Tensor):
            raise TypeError(f"{fn.__name__}_(): argument 'other' (position 1) must be Tensor, not "
                            f"{type(other).__name__}")
        return inplace(fn, self, other)

    method.__name__ = f"{fn.__name__}_"
    method.__doc__ = f"In-place tt.{fn.__name__}: self = {fn.__name__}(self, other), in self's dtype."
    return method


__all__: list[str] = ["igamma", "igammac"]
METHODS: dict = {"igamma": _method(igamma), "igammac": _method(igammac),
                 "igamma_": _inplace_method(igamma), "igammac_": _inplace_method(igammac)}
NAMESPACES = {"special": ["gammainc", "gammaincc"]}
