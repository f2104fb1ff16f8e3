"""Containers: Sequential, ModuleList, ModuleDict, ParameterList (PyTorch's indexing, naming and repr)."""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from ...tensor import Tensor
from ..parameter import Parameter, is_parameter
from .module import Module, _addindent

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList"]


def _index(idx, size: int) -> int:
    idx = operator.index(idx)
    if not -size <= idx < size:
        raise IndexError(f"index {idx} is out of range")
    return idx % size


class Sequential(Module):
    """Modules applied in order: Sequential(m1, m2, ...) or Sequential(OrderedDict(name=module, ...))."""

    def __init__(self, *args) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for key, module in args[0].items():
                self.add_module(key, module)
        else:
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.__class__(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(idx, len(self._modules))]

    def __setitem__(self, idx, module: Module) -> None:
        key = list(self._modules.keys())[_index(idx, len(self._modules))]
        setattr(self, key, module)

    def __delitem__(self, idx) -> None:
        if isinstance(idx, slice):
            for key in list(self._modules.keys())[idx]:
                delattr(self, key)
        else:
            delattr(self, list(self._modules.keys())[_index(idx, len(self._modules))])
        # PyTorch renumbers every key 0..n-1 (named ones too).
        modules = list(self._modules.values())
        self._modules.clear()
        for i, module in enumerate(modules):
            self._modules[str(i)] = module

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __add__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but {type(other)} is given.")
        result = Sequential()
        for module in list(self) + list(other):
            result.append(module)
        return result

    def append(self, module: Module) -> Sequential:
        """Adds `module` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Inserts `module` before position `index` (negative counts from the end); returns self."""
        if not isinstance(module, Module):
            raise AssertionError(f"module should be of type: {Module}")
        n = len(self._modules)
        if not -n <= index <= n:
            raise IndexError(f"Index out of range: {index}")
        if index < 0:
            index += n
        for i in range(n, index, -1):
            self._modules[str(i)] = self._modules[str(i - 1)]
        self._modules[str(index)] = module
        return self

    def extend(self, sequential: Iterable[Module]) -> Sequential:
        """Appends each module of an iterable; returns self."""
        for layer in sequential:
            self.append(layer)
        return self

    def pop(self, key: int) -> Module:
        """Removes and returns the module at `key`; later ones are renumbered."""
        v = self[key]
        del self[key]
        return v

    def forward(self, input):
        """Passes `input` through each module in order and returns the last output.

        >>> m = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
        >>> m(tt.zeros(5, 4)).shape
        tritensor.Size([5, 2])
        """
        modules = list(self._modules.values())
        n = len(modules)
        if n < 2:
            return modules[0](input) if n else input
        fuse = _fusion()
        i = 0
        while i < n:
            module = modules[i]
            activation = _fusable(module, modules[i + 1], fuse) if i + 1 < n else None
            if activation is not None:  # Linear / Conv then its activation: one fused call (same values)
                input = _fused_call(module, input, activation, fuse)
                i += 2
            else:
                input = module(input)
                i += 1
        return input


class _Fusion(NamedTuple):
    """What Sequential's fusion reads, resolved on the first forward (`_fusion`)."""

    firsts: tuple  # the fusable first layers' types: Linear first, then the convolutions
    activations: dict  # activation module type -> its `activation=` name given the module (None: not fusable)
    functional: Any  # tritensor.nn.functional
    enabled: Callable[[], bool]  # ops.linear_act.fusion_enabled


_FUSION: _Fusion | None = None


def _fusion() -> _Fusion:
    """The fusion's types and functions: importing them at module level would be a cycle, and an import statement
    per forward cost as much as a small layer's bookkeeping."""
    global _FUSION
    if _FUSION is None:
        from ...ops.linear_act import fusion_enabled
        from .. import functional as F
        from .activation import GELU, ReLU, SiLU
        from .conv import Conv1d, Conv2d, Conv3d
        from .linear import Linear

        def gelu(m):
            return {"none": "gelu", "tanh": "gelu_tanh"}.get(m.approximate)

        activations = {ReLU: lambda m: "relu", SiLU: lambda m: "silu", GELU: gelu}
        _FUSION = _Fusion((Linear, Conv1d, Conv2d, Conv3d), activations, F, fusion_enabled)
    return _FUSION


def _fused_call(first: Module, input, activation: str, fuse: _Fusion | None = None):
    """`first` (a plain nn.Linear or nn.Conv1d/2d/3d with zeros padding) on input, then the activation, as the
    one fused F.linear / F.conv*d call with `activation=`."""
    fuse = fuse or _fusion()
    if type(first) is fuse.firsts[0]:
        return fuse.functional.linear(input, first.weight, first.bias, activation=activation)
    fn = type(first)._fn  # F.conv1d / conv2d / conv3d, as the module's own forward calls it
    return fn(input, first.weight, first.bias, first.stride, first.padding, first.dilation, first.groups,
              activation=activation)


def _fusable_first(module: Module, fuse: _Fusion | None = None) -> bool:
    """A plain nn.Linear, or a plain nn.Conv1d/2d/3d with padding_mode 'zeros' (other modes pad first)."""
    kind = type(module)
    firsts = (fuse or _fusion()).firsts
    if kind is firsts[0]:
        return True
    return kind in firsts[1:] and module.padding_mode == "zeros"


def _fusable(first: Module, second: Module, fuse: _Fusion | None = None) -> str | None:
    """The `activation=` of F.linear / F.conv*d that runs `first` (see `_fusable_first`) then `second` (nn.ReLU,
    nn.GELU or nn.SiLU) as one op, or None where they must run one by one: other module types (subclasses may
    override forward) or any forward hook / pre-hook on either, which must see the intermediate result; and while
    exporting."""
    fuse = fuse or _fusion()
    name = fuse.activations.get(type(second))
    if name is None or not _fusable_first(first, fuse) or not fuse.enabled():
        return None
    if first._forward_hooks or first._forward_pre_hooks or second._forward_hooks or second._forward_pre_hooks:
        return None
    return name(second)


class ModuleList(Module):
    """A list of submodules, registered under "0", "1", ... (its repr folds runs of identical modules)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.__class__(list(self._modules.values())[idx])
        return self._modules[str(_index(idx, len(self._modules)))]

    def __setitem__(self, idx: int, module: Module) -> None:
        setattr(self, str(_index(idx, len(self._modules))), module)

    def __delitem__(self, idx) -> None:
        if isinstance(idx, slice):
            for k in range(len(self._modules))[idx]:
                delattr(self, str(k))
        else:
            delattr(self, str(_index(idx, len(self._modules))))
        modules = list(self._modules.values())
        self._modules.clear()
        for i, module in enumerate(modules):
            self._modules[str(i)] = module

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList(list(self) + list(other))

    def append(self, module: Module) -> ModuleList:
        """Adds `module` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Appends each module of an iterable; returns self."""
        if not isinstance(modules, Iterable):
            raise TypeError("ModuleList.extend should be called with an iterable, but got " + type(modules).__name__)
        offset = len(self)
        for i, module in enumerate(modules):
            self.add_module(str(offset + i), module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Inserts `module` before position `index` (clamped to the list, as list.insert does)."""
        n = len(self._modules)
        if index < 0:
            index = max(0, index + n)
        index = min(index, n)
        for i in range(n, index, -1):
            self._modules[str(i)] = self._modules[str(i - 1)]
        self._modules[str(index)] = module

    def pop(self, key: int) -> Module:
        """Removes and returns the module at `key`; later ones are renumbered."""
        v = self[key]
        del self[key]
        return v

    def __repr__(self) -> str:
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        blocks: list[list] = []  # [start, end, repr] runs of identical reprs
        for i, r in enumerate(reprs):
            if blocks and blocks[-1][2] == r:
                blocks[-1][1] = i
            else:
                blocks.append([i, i, r])
        lines = []
        for start, end, r in blocks:
            text = f"({start}): {r}" if start == end else f"({start}-{end}): {end - start + 1} x {r}"
            lines.append(_addindent(text, 2))
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """An ordered dict of submodules."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def clear(self) -> None:
        """Removes every module."""
        self._modules.clear()

    def pop(self, key: str) -> Module:
        """Removes and returns the module under `key`."""
        v = self[key]
        del self[key]
        return v

    def keys(self):
        """The keys, in insertion order."""
        return self._modules.keys()

    def items(self):
        """The (key, module) pairs, in insertion order."""
        return self._modules.items()

    def values(self):
        """The modules, in insertion order."""
        return self._modules.values()

    def update(self, modules) -> None:
        """Adds or replaces modules from a mapping or an iterable of (key, module) pairs."""
        if isinstance(modules, Mapping):
            for key, module in modules.items():
                self[key] = module
            return
        for j, pair in enumerate(modules):
            if not isinstance(pair, Iterable) or isinstance(pair, (str, Module)):
                raise TypeError(f"ModuleDict update sequence element #{j} should be Iterable; is "
                                f"{type(pair).__name__}")
            pair = tuple(pair)
            if len(pair) != 2:
                raise ValueError(f"ModuleDict update sequence element #{j} has length {len(pair)}; 2 is required")
            self[pair[0]] = pair[1]


class ParameterList(Module):
    """A list of parameters, registered under "0", "1", ...; plain tensors are wrapped as Parameters."""

    def __init__(self, values: Iterable | None = None) -> None:
        super().__init__()
        self._size = 0
        if values is not None:
            self += values

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.__class__([self[i] for i in range(self._size)[idx]])
        return getattr(self, str(_index(idx, self._size)))

    def __setitem__(self, idx: int, param) -> None:
        idx = _index(idx, self._size)
        if isinstance(param, Tensor) and not is_parameter(param):
            param = Parameter(param)
        setattr(self, str(idx), param)

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator:
        return iter(self[i] for i in range(self._size))

    def __iadd__(self, parameters: Iterable) -> ParameterList:
        return self.extend(parameters)

    def append(self, value) -> ParameterList:
        """Adds `value` at the end (a plain tensor becomes a Parameter); returns self."""
        new_idx = self._size
        self._size += 1
        self[new_idx] = value
        return self

    def extend(self, values: Iterable) -> ParameterList:
        """Appends each value of an iterable (plain tensors become Parameters); returns self."""
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise TypeError("ParameterList.extend should be called with an iterable, but got " + type(values).__name__)
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        """One line per entry: its kind, dtype and size (and device when on cuda)."""
        lines = []
        for k, p in enumerate(self):
            if isinstance(p, Tensor):
                size = "x".join(str(s) for s in p.size())
                device = f" ({p.device})" if p.device.type == "cuda" else ""
                kind = "Parameter" if is_parameter(p) else "Tensor"
                lines.append(f"  ({k}): {kind} containing: [{p.dtype} of size {size}{device}]")
            else:
                lines.append(f"  ({k}): Object of type: {type(p).__name__}")
        return "\n".join(lines)
