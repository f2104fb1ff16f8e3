"""Comparisons (eq, ne, lt, le, gt, ge, isclose, allclose, equal) registered over kernels/comparison.py.

Predicates return bool tensors and record no autograd history. A Python-number operand of a comparison
travels to the kernel as a number (no 0-d tensor is made) once type promotion has cast the tensor side; a
number on the left is swapped to the right (2 < x is x > 2).
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..kernels import comparison as K
from ..tensor import Tensor
from .dispatch import cast, check_same_device, operands, run_elementwise
from .elementwise import inplace
from .map_ops import check_shapes, finish, is_number, operator_method, type_error


def all_true(t: Tensor) -> bool:
    """A bool tensor's all() as a Python bool (on the device when the `all` reduction is registered)."""
    reduce_all = getattr(Tensor, "all", None)
    if reduce_all is not None:
        return bool(reduce_all(t))
    return bool(np.all(t._to_host_array()))


# ================================================================ comparisons
_SWAPPED = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}


def _compare(name: str, input, other, out: Tensor | None) -> Tensor:
    if type(input) is not Tensor:
        if type(other) is Tensor and is_number(input):
            return _compare(_SWAPPED[name], other, input, out)  # 2 < x is x > 2
        raise type_error(name, "input", input)
    kernel, ref = getattr(K, name), getattr(K, f"{name}_ref")
    if type(other) is Tensor:
        check_shapes(input, other)
        a, b, _ = operands(input, other)
        result = run_elementwise(ref, kernel, [a, b], D.bool)
    elif is_number(other):
        a = cast(input, D.result_type(input, other))
        result = run_elementwise(ref, kernel, [a], D.bool, other)
    else:
        raise type_error(name, "other", other, "Tensor or Number")
    return finish(result, out)


def eq(input, other, *, out: Tensor | None = None) -> Tensor:
    """input == other elementwise (bool); other a tensor or a number."""
    return _compare("eq", input, other, out)


def ne(input, other, *, out: Tensor | None = None) -> Tensor:
    """`input != other` elementwise (bool); alias `not_equal`. `other` is a tensor or a number."""
    return _compare("ne", input, other, out)


def lt(input, other, *, out: Tensor | None = None) -> Tensor:
    """`input < other` elementwise (bool); alias `less`. `other` is a tensor or a number."""
    return _compare("lt", input, other, out)


def le(input, other, *, out: Tensor | None = None) -> Tensor:
    """`input <= other` elementwise (bool); alias `less_equal`. `other` is a tensor or a number."""
    return _compare("le", input, other, out)


def gt(input, other, *, out: Tensor | None = None) -> Tensor:
    """`input > other` elementwise (bool); alias `greater`. `other` is a tensor or a number."""
    return _compare("gt", input, other, out)


def ge(input, other, *, out: Tensor | None = None) -> Tensor:
    """`input >= other` elementwise (bool); alias `greater_equal`. `other` is a tensor or a number."""
    return _compare("ge", input, other, out)


# ================================================================ isclose, allclose, equal
def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol * |other| (or equal), elementwise and broadcast; same dtypes only."""
    if type(input) is not Tensor:
        raise type_error("isclose", "input", input)
    if type(other) is not Tensor:
        raise type_error("isclose", "other", other)
    if input.dtype is not other.dtype:
        raise RuntimeError(f"{D.scalar_type_name(input.dtype)} did not match "
                           f"{D.scalar_type_name(other.dtype)}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")
    check_same_device(input, other)
    check_shapes(input, other)
    return run_elementwise(K.isclose_ref, K.isclose, [input, other], D.bool, rtol, atol, bool(equal_nan))


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """True if every element satisfies `|input - other| <= atol + rtol * |other|` (see `tt.isclose`).

    Example:
        >>> tt.allclose(tt.tensor([1.0, 2.0]), tt.tensor([1.0, 2.0 + 1e-9]))
        True
    """
    return all_true(isclose(input, other, rtol, atol, equal_nan))


def equal(input: Tensor, other: Tensor) -> bool:
    """True when both tensors have the same shape and the same values (compared after promotion)."""
    if type(input) is not Tensor:
        raise type_error("equal", "input", input)
    if type(other) is not Tensor:
        raise type_error("equal", "other", other)
    if input.device != other.device:
        raise RuntimeError(f"Cannot compare two tensors on different devices. Got: {input.device} and "
                           f"{other.device}")
    if input._shape != other._shape:
        return False
    return all_true(eq(input, other))


# ================================================================ aliases, methods, operators
greater = gt
greater_equal = ge
less = lt
less_equal = le
not_equal = ne


def in_place(fn, predicate: bool = True):
    """x.op_(...) for the predicates and bitwise ops: the result written into x (which keeps its dtype)."""
    def method(self, *args, **kwargs):
        inplace(fn, self, *args, **kwargs)
        if predicate and self.grad_fn is not None:
            # Overwritten by a non-differentiable 0/1 result: nothing flows back to the old value (as fill_).
            self.grad_fn = None
            self._requires_grad = False
        return self

    method.__name__ = f"{fn.__name__}_"
    method.__doc__ = f"In-place `tt.{fn.__name__}`: the result is written into self, which keeps its dtype."
    return method


__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal",
           "isclose", "allclose", "equal"]

METHODS: dict = {
    **{name: globals()[name] for name in __all__},
    **{f"{name}_": in_place(globals()[name]) for name in (
        "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal")},
    "__eq__": operator_method(eq), "__ne__": operator_method(ne), "__lt__": operator_method(lt),
    "__le__": operator_method(le), "__gt__": operator_method(gt), "__ge__": operator_method(ge),
    # Assigning __eq__ after the class body leaves Tensor.__hash__ (id-based) in place; restated so that
    # tensors stay usable as dict keys and set members whatever order the modules load in.
    "__hash__": Tensor.__hash__,
}
