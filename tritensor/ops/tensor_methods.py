"""Tensor methods and Python operators of the foundation ops (later op families bind theirs through
their module's METHODS, see ops/api.py)."""

from __future__ import annotations

from .. import dtypes as D
from ..tensor import Tensor
from . import copy as C
from . import elementwise as E
from . import reduction as R
from . import views as V


def _method(name: str, fn) -> None:
    setattr(Tensor, name, fn)


def _reflected(fn):
    return lambda self, other: fn(other, self)


for _name, _fn in {
    "add": E.add, "sub": E.sub, "mul": E.mul, "neg": E.neg, "sum": R.sum,
    "view": V.view, "reshape": V.reshape, "permute": V.permute, "transpose": V.transpose, "t": V.t,
    "expand": V.expand, "squeeze": V.squeeze, "unsqueeze": V.unsqueeze, "flatten": V.flatten,
    "unflatten": V.unflatten, "narrow": V.narrow, "as_strided": V.as_strided, "unbind": V.unbind,
    "contiguous": C.contiguous, "clone": C.clone, "copy_": C.copy_, "fill_": C.fill_, "zero_": C.zero_,
    "to": C.to,
    "__add__": E.add, "__radd__": _reflected(E.add), "__mul__": E.mul, "__rmul__": _reflected(E.mul),
    "__sub__": E.sub, "__rsub__": _reflected(E.sub), "__neg__": E.neg,
}.items():
    _method(_name, _fn)

Tensor.subtract = Tensor.sub
Tensor.multiply = Tensor.mul
Tensor.negative = Tensor.neg
Tensor.swapaxes = Tensor.swapdims = Tensor.transpose


def _view_as(self: Tensor, other: Tensor) -> Tensor:
    return V.view(self, other._shape)


def _reshape_as(self: Tensor, other: Tensor) -> Tensor:
    return V.reshape(self, other._shape)


def _expand_as(self: Tensor, other: Tensor) -> Tensor:
    return V.expand(self, other._shape)


Tensor.view_as = _view_as
Tensor.reshape_as = _reshape_as
Tensor.expand_as = _expand_as
Tensor.T = property(lambda self: V.permute(self, tuple(reversed(range(self.ndim)))))
Tensor.mT = property(lambda self: V.transpose(self, -2, -1))
Tensor.H = Tensor.T
Tensor.__iadd__ = lambda self, other: E.inplace(E.add, self, other)
Tensor.__isub__ = lambda self, other: E.inplace(E.sub, self, other)
Tensor.__imul__ = lambda self, other: E.inplace(E.mul, self, other)
Tensor.add_ = lambda self, other, *, alpha=1: E.inplace(E.add, self, other, alpha=alpha)
Tensor.sub_ = lambda self, other, *, alpha=1: E.inplace(E.sub, self, other, alpha=alpha)
Tensor.mul_ = lambda self, other: E.inplace(E.mul, self, other)
Tensor.neg_ = lambda self: E.inplace(lambda x: E.neg(x), self)


# Indexing (__getitem__/__setitem__, basic and advanced) is bound by ops/indexing.py's METHODS.


def _cast(dtype: D.dtype):
    return lambda self, memory_format=None: C.to(self, dtype)


for _name, _dtype in {"float": D.float32, "double": D.float64, "half": D.float16, "bfloat16": D.bfloat16,
                      "long": D.int64, "int": D.int32, "short": D.int16, "char": D.int8, "byte": D.uint8,
                      "bool": D.bool}.items():
    _method(_name, _cast(_dtype))


def _cpu(self: Tensor, memory_format=None) -> Tensor:
    return C.to(self, "cpu")


def _cuda(self: Tensor, device=None, non_blocking: bool = False, memory_format=None) -> Tensor:
    return C.to(self, "cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device))


def _type(self: Tensor, dtype=None, non_blocking: bool = False):
    if dtype is None:
        return self.type_name()
    return C.to(self, dtype)


Tensor.cpu = _cpu
Tensor.cuda = _cuda
Tensor.type = _type
Tensor.new_empty = lambda self, *size, dtype=None, device=None, requires_grad=False: __import__(
    "tritensor").empty(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)
