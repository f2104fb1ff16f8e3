"""nn.Parameter: a Tensor that a Module registers as one of its parameters.

The autograd core and the op dispatch test `type(x) is Tensor` on their hot paths, so a Parameter
stays a plain `Tensor` object that names the class it stands for in its `__dict__` (Tensor has one for
exactly such per-instance extras): `Parameter(data)` returns that marked Tensor, sharing data's memory
as PyTorch's does, `isinstance(x, nn.Parameter)` checks the mark through the metaclass, and the Tensor
core's `__repr__` prints a marked tensor through the class it names (`Parameter.__repr__`: "Parameter
containing:"). Anything derived from a Parameter (op results, `.detach()`, `.data`) is an ordinary
Tensor, as in PyTorch.
"""

from __future__ import annotations

from ..creation import empty
from ..formatting import tensor_repr
from ..tensor import Tensor

# The __dict__ key naming the Tensor subclass an instance stands for (read by Tensor.__repr__).
_CLASS_KEY = "_tensor_class"


def is_parameter(obj) -> bool:
    """True if `obj` is a tensor marked as an nn.Parameter (what `isinstance(obj, nn.Parameter)` checks)."""
    return isinstance(obj, Tensor) and obj.__dict__.get(_CLASS_KEY) is Parameter


def mark_parameter(t: Tensor) -> Tensor:
    """Mark `t` itself as a Parameter (used where copies dropped the mark: deepcopy, unpickling)."""
    t.__dict__[_CLASS_KEY] = Parameter
    return t


class _ParameterMeta(type):
    def __instancecheck__(cls, obj) -> bool:
        return is_parameter(obj)


class Parameter(Tensor, metaclass=_ParameterMeta):
    """Parameter(data=None, requires_grad=True): data's memory, detached, as a leaf marked as a parameter."""

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Tensor:
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): data must be a Tensor, not {type(data).__name__}")
        t = data.detach()
        t.requires_grad_(requires_grad)
        return mark_parameter(t)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + tensor_repr(self)

    __str__ = __repr__
