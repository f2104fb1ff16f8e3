"""nn.Parameter: a Tensor that a Module registers as one of its parameters.

The autograd core and the op dispatch test `type(x) is Tensor` on their hot paths, so a Parameter
stays a plain `Tensor` object carrying a flag (Tensor has a `__dict__` for exactly such per-instance
extras). `Parameter(data)` returns that flagged Tensor, sharing data's memory as PyTorch's does, and
`isinstance(x, nn.Parameter)` checks the flag through the metaclass. Anything derived from a
Parameter (op results, `.detach()`, `.data`) is an ordinary Tensor, as in PyTorch.
"""

from __future__ import annotations

from ..tensor import Tensor

_FLAG = "_is_parameter"


def is_parameter(obj) -> bool:
    return isinstance(obj, Tensor) and obj.__dict__.get(_FLAG, False)


def mark_parameter(t: Tensor) -> Tensor:
    """Flag `t` itself as a Parameter (used where copies dropped the flag: deepcopy, unpickling)."""
    t.__dict__[_FLAG] = True
    return t


class _ParameterMeta(type):
    def __instancecheck__(cls, obj) -> bool:
        return is_parameter(obj)


class Parameter(Tensor, metaclass=_ParameterMeta):
    """Parameter(data=None, requires_grad=True): data's memory, detached, as a leaf flagged as a parameter."""

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Tensor:
        if data is None:
            from ..creation import empty

            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): data must be a Tensor, not {type(data).__name__}")
        t = data.detach()
        t.requires_grad_(requires_grad)
        return mark_parameter(t)


# "Parameter containing:" belongs to the repr of every flagged tensor. Tensor.__repr__ lives in
# tensor.py/formatting.py; until formatting.tensor_repr prints the prefix itself, it is added here
# (idempotently, so the wrapper stays correct once formatting does it).
_PREFIX = "Parameter containing:\n"


def _install_repr() -> None:
    base = Tensor.__repr__
    if getattr(base, "_parameter_aware", False):
        return

    def __repr__(self) -> str:
        text = base(self)
        if self.__dict__.get(_FLAG, False) and not text.startswith(_PREFIX):
            return _PREFIX + text
        return text

    __repr__._parameter_aware = True
    Tensor.__repr__ = __repr__
    Tensor.__str__ = __repr__


_install_repr()
