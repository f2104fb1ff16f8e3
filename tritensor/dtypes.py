"""Data types and PyTorch's type-promotion rules.

A `dtype` is shared vocabulary for every layer: it names its NumPy dtype (ml_dtypes for bfloat16)
and its Triton element type, and `str(dtype)` ends in a name Triton's launcher recognises.
"""

from __future__ import annotations

import builtins

import ml_dtypes
import numpy as np

# Promotion categories, ordered: a higher category wins regardless of priority.
_BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3


class dtype:  # noqa: N801 - PyTorch's name
    """The element type of a tensor, as torch.dtype: `tt.float32`, `tt.int64`, `tt.bool`, ...

    Attributes: `is_floating_point`, `is_signed`, `itemsize` (bytes), `np` (the NumPy dtype; ml_dtypes for
    bfloat16). `is_complex` is True for complex64 (`cfloat`) and complex128 (`cdouble`), whose
    `to_real()` is float32 / float64 (`to_complex()` goes the other way).

    >>> tt.float16.itemsize, tt.int64.is_floating_point, tt.promote_types(tt.int32, tt.float16)
    (2, False, tritensor.float16)
    """

    __slots__ = ("name", "np", "itemsize", "is_floating_point", "is_complex", "is_signed", "category", "_rank",
                 "_alias")

    def __init__(self, name: str, np_dtype, category: int, rank: int, is_signed: bool, alias: str = ""):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        self.is_floating_point = category == _FLOAT
        self.is_complex = category == _COMPLEX  # an attribute, not a property: read on every op's dispatch
        self.is_signed = is_signed
        self.category = category
        self._rank = rank
        self._alias = alias

    def __repr__(self) -> str:
        return f"tritensor.{self.name}"

    __str__ = __repr__

    def __reduce__(self):
        return (_by_name, (self.name,))

    def to_real(self) -> dtype:
        """The real dtype of a complex dtype's parts (complex64 -> float32); a real dtype itself."""
        return _TO_REAL.get(self, self)

    def to_complex(self) -> dtype:
        """The complex dtype with this floating dtype's parts (float32 -> complex64; float16/bfloat16 ->
        complex64, as tritensor has no complex32); a complex dtype itself."""
        if self.category == _COMPLEX:
            return self
        if self.category != _FLOAT:
            raise RuntimeError(f"to_complex is only supported for floating point types, got {self}")
        return complex128 if self is float64 else complex64


float16 = half = dtype("float16", np.float16, _FLOAT, 1, True)
bfloat16 = dtype("bfloat16", ml_dtypes.bfloat16, _FLOAT, 1, True)
float32 = float = dtype("float32", np.float32, _FLOAT, 2, True)
float64 = double = dtype("float64", np.float64, _FLOAT, 3, True)
uint8 = dtype("uint8", np.uint8, _INT, 0, False)
int8 = dtype("int8", np.int8, _INT, 0, True)
int16 = short = dtype("int16", np.int16, _INT, 1, True)
int32 = int = dtype("int32", np.int32, _INT, 2, True)
int64 = long = dtype("int64", np.int64, _INT, 3, True)
bool = dtype("bool", np.bool_, _BOOL, 0, False)  # noqa: A001 - PyTorch's name
# Complex ranks match their parts' float ranks, so float64 + complex64 promotes to complex128.
complex64 = cfloat = dtype("complex64", np.complex64, _COMPLEX, 2, True)
complex128 = cdouble = dtype("complex128", np.complex128, _COMPLEX, 3, True)
_TO_REAL = {complex64: float32, complex128: float64}

ALL: tuple[dtype, ...] = (float16, bfloat16, float32, float64, uint8, int8, int16, int32, int64, bool)
FLOATING: tuple[dtype, ...] = (float16, bfloat16, float32, float64)
COMPLEX: tuple[dtype, ...] = (complex64, complex128)
_NAMES = {d.name: d for d in ALL + COMPLEX}
_FROM_NP = {d.np: d for d in ALL + COMPLEX}


def _by_name(name: str) -> dtype:
    return _NAMES[name]


def from_numpy_dtype(np_dtype) -> dtype:
    """The tritensor dtype of a NumPy dtype; raises TypeError for ones tritensor lacks."""
    found = _FROM_NP.get(np.dtype(np_dtype))
    if found is None:
        raise TypeError(
            f"can't convert np.ndarray of type {np.dtype(np_dtype)}. The only supported types are: "
            + ", ".join(d.name for d in ALL + COMPLEX)
        )
    return found


_SCALAR_TYPE_NAMES = {"float16": "Half", "bfloat16": "BFloat16", "float32": "Float", "float64": "Double",
                      "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int", "int64": "Long",
                      "bool": "Bool", "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def scalar_type_name(d: dtype) -> str:
    """PyTorch's scalar type name ('Float', 'Long', ...) as its error messages print it."""
    return _SCALAR_TYPE_NAMES[d.name]


_default_dtype = float32


def get_default_dtype() -> dtype:
    """The floating dtype that float data and factory functions without `dtype` get (float32 at start)."""
    return _default_dtype


def set_default_dtype(d: dtype) -> None:
    """Sets the default floating dtype; raises TypeError for a non-floating dtype.

    >>> tt.set_default_dtype(tt.float64); tt.tensor([1.5]).dtype
    tritensor.float64
    >>> tt.set_default_dtype(tt.float32)
    """
    global _default_dtype
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_dtype = d


def promote_types(a: dtype, b: dtype) -> dtype:
    """The smallest dtype both `a` and `b` convert to without losing range (torch.promote_types)."""
    if a is b:
        return a
    if a.category != b.category:
        if _COMPLEX in (a.category, b.category) and _FLOAT in (a.category, b.category):
            # complex64 + float64 keeps float64's precision: complex128.
            return complex128 if max(a._rank, b._rank) == 3 else complex64
        return a if a.category > b.category else b
    if a.category == _COMPLEX:
        return a if a._rank > b._rank else b
    if a.category == _FLOAT:
        if {a, b} == {float16, bfloat16}:
            return float32
        return a if a._rank > b._rank else b
    if a.category == _INT:
        if a.is_signed == b.is_signed:
            return a if a._rank > b._rank else b
        # uint8 against a signed type: int8 is too small for uint8's range.
        signed = a if a.is_signed else b
        return int16 if signed is int8 else signed
    return bool


def _scalar_category(value) -> int:
    if isinstance(value, builtins.bool):
        return _BOOL
    if isinstance(value, builtins.int):
        return _INT
    if isinstance(value, builtins.float):
        return _FLOAT
    if isinstance(value, builtins.complex):
        return _COMPLEX
    raise TypeError(f"unsupported scalar type {type(value).__name__}")


def scalar_dtype(value) -> dtype:
    """The dtype `tt.tensor(value)` would get for a Python scalar (complex: the default complex dtype)."""
    category = _scalar_category(value)
    return (bool, int64, _default_dtype, default_complex_dtype())[category]


def default_complex_dtype() -> dtype:
    """The complex dtype complex data gets: complex128 when the default dtype is float64, else complex64."""
    return complex128 if _default_dtype is float64 else complex64


def result_type(*operands) -> dtype:
    """PyTorch's result_type: operands are Tensors (anything with .dtype and .ndim) or Python scalars.

    Tensors with dimensions take priority over zero-dim tensors, which take priority over scalars;
    a lower-priority operand only changes the result when its category (bool < int < float) is higher.
    """
    dim_t = zero_t = scal = None
    for op in operands:
        if hasattr(op, "dtype") and hasattr(op, "ndim"):
            if op.ndim:
                dim_t = op.dtype if dim_t is None else promote_types(dim_t, op.dtype)
            else:
                zero_t = op.dtype if zero_t is None else promote_types(zero_t, op.dtype)
        else:
            s = scalar_dtype(op)
            scal = s if scal is None else promote_types(scal, s)
    result = None
    for level in (dim_t, zero_t, scal):
        if level is None:
            continue
        if result is None:
            result = level
        elif level.category > result.category:
            # A complex scalar or 0-d tensor keeps a float tensor's precision (float64 + 1j -> complex128).
            result = promote_types(result, level) if result.category == _FLOAT and level.category == _COMPLEX \
                else level
    if result is None:
        raise TypeError("result_type needs at least one operand")
    return result


def can_cast(from_: dtype, to: dtype) -> builtins.bool:
    """torch.can_cast: same-kind casting (no float -> int, no int/float -> bool)."""
    return from_.category <= to.category
