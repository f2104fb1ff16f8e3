"""Padding layers: ConstantPad, ZeroPad, ReflectionPad, ReplicationPad and CircularPad in 1, 2 and 3 dims, each
`F.pad` with its mode over the last N dims (PyTorch's torch.nn.modules.padding)."""

from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from .module import Module

__all__ = [f"{kind}Pad{n}d" for kind in ("Constant", "Zero", "Reflection", "Replication", "Circular")
           for n in (1, 2, 3)]


def _padding(padding, dims: int) -> tuple[int, ...]:
    # An int pads every side of the last `dims` dims alike; a tuple is (left, right, top, bottom, front, back).
    return (int(padding),) * (2 * dims) if isinstance(padding, int) else tuple(int(p) for p in padding)


class _PadNd(Module):
    """F.pad(input, padding, mode) over the last `_dims` dims."""

    _mode = "constant"
    _dims = 1

    def __init__(self, padding) -> None:
        super().__init__()
        self.padding = _padding(padding, self._dims)

    def forward(self, input: Tensor) -> Tensor:
        """The padded input."""
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        """The padding."""
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    """Pads with a constant `value`."""

    def __init__(self, padding, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        """The input padded with `value`."""
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        """The padding and the value."""
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    """Pads with zeros."""

    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        """The padding."""
        return f"{self.padding}"


class _CircularPadNd(_PadNd):
    """Pads by wrapping around (the input's batched or unbatched forms only, as PyTorch checks)."""

    _mode = "circular"

    def forward(self, input: Tensor) -> Tensor:
        """The input padded circularly."""
        if input.dim() not in (self._dims + 1, self._dims + 2):
            raise ValueError(f"expected {self._dims + 1}D or {self._dims + 2}D input (got {input.dim()}D input)")
        return F.pad(input, self.padding, "circular")


def _layer(kind: str, base: type, n: int, doc: str) -> type:
    """The public class `<kind>Pad<n>d`: base with `_dims = n` and its own docstring."""
    mode = {"Reflection": "reflect", "Replication": "replicate"}.get(kind, base._mode)
    return type(f"{kind}Pad{n}d", (base,), {"_dims": n, "_mode": mode, "__doc__": doc, "__module__": __name__})


_DOCS = {
    "Constant": "Pads the last {n} dim(s) with a constant: `{name}(padding, value)`; padding is an int or a "
                "{k}-tuple (left, right{more}).",
    "Zero": "Pads the last {n} dim(s) with zeros: `{name}(padding)`; padding is an int or a {k}-tuple "
            "(left, right{more}).",
    "Reflection": "Pads the last {n} dim(s) with the reflection of the input (the edge not repeated): "
                  "`{name}(padding)`; each pad must be smaller than its dim.",
    "Replication": "Pads the last {n} dim(s) by repeating the edge values: `{name}(padding)`.",
    "Circular": "Pads the last {n} dim(s) by wrapping the input around: `{name}(padding)`; the input is "
                "{b}D or {c}D.",
}
_BASES = {"Constant": _ConstantPadNd, "Zero": _ZeroPadNd, "Reflection": _PadNd, "Replication": _PadNd,
          "Circular": _CircularPadNd}
_MORE = {1: "", 2: ", top, bottom", 3: ", top, bottom, front, back"}

for _kind, _base in _BASES.items():
    for _n in (1, 2, 3):
        _name = f"{_kind}Pad{_n}d"
        globals()[_name] = _layer(_kind, _base, _n, _DOCS[_kind].format(n=_n, name=_name, k=2 * _n, more=_MORE[_n],
                                                                         b=_n + 1, c=_n + 2))
