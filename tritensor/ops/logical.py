"""Logical and bitwise ops (logical_and/or/xor/not, bitwise_and/or/xor/not, the shifts) registered over
kernels/logical.py.

Logical ops return bool tensors and record no autograd history. Bitwise ops take integer and bool tensors
(the shifts integers only) with PyTorch's type promotion; a Python-number operand travels to the kernel as
a number once the tensor side has been cast.
"""

from __future__ import annotations

from .. import dtypes as D
from ..kernels import logical as K
from ..tensor import Tensor
from .comparison import in_place
from .dispatch import cast, operands, run_elementwise
from .map_ops import check_shapes, finish, is_number, not_implemented, operator_method, type_error


# ================================================================ logical
def _tensors(op: str, input, other) -> tuple[Tensor, Tensor]:
    if type(input) is not Tensor:
        raise type_error(op, "input", input)
    if type(other) is not Tensor:
        raise type_error(op, "other", other)
    check_shapes(input, other)
    a, b, _ = operands(input, other)
    return a, b


def logical_and(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Elementwise logical AND of the truth values (nonzero is True); a bool tensor."""
    a, b = _tensors("logical_and", input, other)
    return finish(run_elementwise(K.logical_and_ref, K.logical_and, [a, b], D.bool), out)


def logical_or(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Elementwise logical OR of the truth values (nonzero is True); a bool tensor."""
    a, b = _tensors("logical_or", input, other)
    return finish(run_elementwise(K.logical_or_ref, K.logical_or, [a, b], D.bool), out)


def logical_xor(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Elementwise logical XOR of the truth values (nonzero is True); a bool tensor."""
    a, b = _tensors("logical_xor", input, other)
    return finish(run_elementwise(K.logical_xor_ref, K.logical_xor, [a, b], D.bool), out)


def logical_not(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Elementwise logical NOT (zero becomes True); a bool tensor."""
    if type(input) is not Tensor:
        raise type_error("logical_not", "input", input)
    return finish(run_elementwise(K.logical_not_ref, K.logical_not, [input], D.bool), out)


# ================================================================ bitwise
# PyTorch's kernel names in its dtype errors.
_BITWISE_KERNEL = {"bitwise_and": "bitwise_and", "bitwise_or": "bitwise_or", "bitwise_xor": "bitwise_xor",
                   "bitwise_left_shift": "lshift", "bitwise_right_shift": "rshift"}


def _bitwise(name: str, input, other, out: Tensor | None) -> Tensor:
    kernel, ref = getattr(K, name), getattr(K, f"{name}_ref")
    shift = "shift" in name
    if not (type(input) is Tensor or (is_number(input) and type(other) is Tensor)):
        raise type_error(name, "input", input)
    if not (type(other) is Tensor or is_number(other)):
        raise type_error(name, "other", other, "Tensor or Number")
    check_shapes(input, other)
    dtype = D.result_type(input, other)
    if dtype.is_floating_point or (shift and dtype is D.bool):
        device = (input if type(input) is Tensor else other).device
        raise not_implemented(_BITWISE_KERNEL[name], device, dtype)
    if type(input) is Tensor and is_number(other):
        args, params = [cast(input, dtype)], (other,)
    else:
        a, b, dtype = operands(input, other)
        args, params = [a, b], ()
    return finish(run_elementwise(ref, kernel, args, dtype, *params), out)


def bitwise_and(input, other, *, out: Tensor | None = None) -> Tensor:
    """input & other for integer and bool tensors (and Python ints/bools), with type promotion."""
    return _bitwise("bitwise_and", input, other, out)


def bitwise_or(input, other, *, out: Tensor | None = None) -> Tensor:
    """Elementwise bitwise OR of integer or bool tensors (`|`)."""
    return _bitwise("bitwise_or", input, other, out)


def bitwise_xor(input, other, *, out: Tensor | None = None) -> Tensor:
    """Elementwise bitwise XOR of integer or bool tensors (`^`)."""
    return _bitwise("bitwise_xor", input, other, out)


def bitwise_left_shift(input, other, *, out: Tensor | None = None) -> Tensor:
    """input << other for integer tensors; shifts < 0 or >= the bit width give 0, as PyTorch."""
    return _bitwise("bitwise_left_shift", input, other, out)


def bitwise_right_shift(input, other, *, out: Tensor | None = None) -> Tensor:
    """input >> other for integer tensors (arithmetic for signed types)."""
    return _bitwise("bitwise_right_shift", input, other, out)


def bitwise_not(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Elementwise bitwise NOT of an integer tensor, logical NOT of a bool one (`~`)."""
    if type(input) is not Tensor:
        raise type_error("bitwise_not", "input", input)
    if input.dtype.is_floating_point:
        raise not_implemented("bitwise_not", input.device, input.dtype)
    return finish(run_elementwise(K.bitwise_not_ref, K.bitwise_not, [input], input.dtype), out)


# ================================================================ methods and operators
__all__ = ["logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor",
           "bitwise_not", "bitwise_left_shift", "bitwise_right_shift"]

_PREDICATES = ("logical_and", "logical_or", "logical_xor", "logical_not")

METHODS: dict = {
    **{name: globals()[name] for name in __all__},
    **{f"{name}_": in_place(globals()[name], predicate=name in _PREDICATES) for name in __all__},
    "__and__": operator_method(bitwise_and), "__rand__": operator_method(bitwise_and, True),
    "__or__": operator_method(bitwise_or), "__ror__": operator_method(bitwise_or, True),
    "__xor__": operator_method(bitwise_xor), "__rxor__": operator_method(bitwise_xor, True),
    "__lshift__": operator_method(bitwise_left_shift), "__rlshift__": operator_method(bitwise_left_shift, True),
    "__rshift__": operator_method(bitwise_right_shift), "__rrshift__": operator_method(bitwise_right_shift, True),
    "__iand__": in_place(bitwise_and, predicate=False), "__ior__": in_place(bitwise_or, predicate=False),
    "__ixor__": in_place(bitwise_xor, predicate=False), "__ilshift__": in_place(bitwise_left_shift, predicate=False),
    "__irshift__": in_place(bitwise_right_shift, predicate=False),
    "__invert__": bitwise_not,
}
