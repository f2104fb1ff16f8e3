"""Bessel functions over kernels/special_bessel.py: tt.i0 and tt.special.i0, i0e, i1, i1e (differentiable),
bessel_j0, bessel_j1, bessel_y0, bessel_y1 (PyTorch defines no derivative for these: backward raises).

Integers are cast to the default float dtype first, as PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import special_bessel as K
from ..tensor import Tensor
from .dispatch import cast, run_elementwise
from .elementwise import _into
from .unary import check_tensor, register_family


def _i0e_derivative(g, x):
    return g * (FUNCTIONS["i1e"].apply(x, (), False) - x.sign() * FUNCTIONS["i0e"].apply(x, (), False))


def _i1_derivative(g, x):
    zero = x == 0
    xs = x.masked_fill(zero, 1.0)
    d = FUNCTIONS["i0"].apply(x, (), False) - FUNCTIONS["i1"].apply(x, (), False) / xs
    return g * d.masked_fill(zero, 0.5)


def _i1e_derivative(g, x):
    zero = x == 0
    xs = x.masked_fill(zero, 1.0)
    d = FUNCTIONS["i0e"].apply(x, (), False) - FUNCTIONS["i1e"].apply(x, (), False) * (x.sign() + 1 / xs)
    return g * d.masked_fill(zero, 0.5)


_DERIVATIVES: dict[str, Callable] = {
    "i0": lambda g, x: g * FUNCTIONS["i1"].apply(x, (), False),
    "i0e": _i0e_derivative,
    "i1": _i1_derivative,
    "i1e": _i1e_derivative,
}
_DESCRIPTIONS = {
    "i0": "Modified Bessel function of the first kind, order 0, elementwise.",
    "i0e": "Exponentially scaled modified Bessel function e^-|x| I0(x) elementwise (torch.special.i0e).",
    "i1": "Modified Bessel function of the first kind, order 1, elementwise (torch.special.i1).",
    "i1e": "Exponentially scaled modified Bessel function e^-|x| I1(x) elementwise (torch.special.i1e).",
}
_NODE_NAMES = {"i0": "I0", "i0e": "SpecialI0E", "i1": "SpecialI1", "i1e": "SpecialI1E"}
FUNCTIONS, _PUBLIC = register_family(K.OPS, _DERIVATIVES, __name__, _NODE_NAMES, descriptions=_DESCRIPTIONS)
i0, i0_, i0e, i1, i1e = _PUBLIC["i0"], _PUBLIC["i0_"], _PUBLIC["i0e"], _PUBLIC["i1"], _PUBLIC["i1e"]


def _forward_only(name: str) -> type[Function]:
    wrapper, ref = K.FORWARD_ONLY[name]

    def forward(ctx, x: Tensor) -> Tensor:
        return run_elementwise(ref, wrapper, [x.contiguous()], x.dtype)  # the J/Y kernel reads dense input

    def backward(ctx, grad):
        raise RuntimeError(f"the derivative for 'special_{name}' is not implemented.")

    node = "Special" + "".join(part.capitalize() for part in name.split("_"))
    return type(node, (Function,), {"differentiable_forward": False, "forward": staticmethod(forward),
                                    "backward": staticmethod(backward), "__module__": __name__,
                                    "__doc__": f"Autograd node of {name} (no derivative, as PyTorch)."})


def _make_bessel(name: str, order: str) -> Callable:
    function = _forward_only(name)

    def fn(input: Tensor, *, out: Tensor | None = None) -> Tensor:
        check_tensor(name, input)
        x = input if input.dtype.is_floating_point else cast(input, D.get_default_dtype())
        result = function.apply(x)
        return result if out is None else _into(out, result)

    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = __name__
    fn.__doc__ = (f"Bessel function of the {order} elementwise (torch.special.{name}).\n\n"
                  "    PyTorch defines no derivative for it: backward through it raises.\n    ")
    return fn


bessel_j0 = _make_bessel("bessel_j0", "first kind, order 0,")
bessel_j1 = _make_bessel("bessel_j1", "first kind, order 1,")
bessel_y0 = _make_bessel("bessel_y0", "second kind, order 0,")
bessel_y1 = _make_bessel("bessel_y1", "second kind, order 1,")

__all__: list[str] = ["i0", "i0_"]
METHODS: dict = {"i0": i0, "i0_": i0_}
NAMESPACES = {"special": ["i0", "i0e", "i1", "i1e", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1"]}
