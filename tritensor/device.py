"""Devices: `cpu` (NumPy) and `cuda` (a GPU through cuda.core, or Triton's interpreter on host memory)."""

from __future__ import annotations

import os


class device:  # noqa: N801 - PyTorch's name
    """tt.device("cpu"), tt.device("cuda"), tt.device("cuda:1"), tt.device("cuda", 1)."""

    __slots__ = ("type", "index")
    _cache: dict = {}

    def __new__(cls, spec, index: int | None = None):
        if isinstance(spec, device):
            return spec
        key = (spec, index)
        found = cls._cache.get(key)
        if found is not None:
            return found
        if isinstance(spec, int):
            type_, index = "cuda", spec
        elif isinstance(spec, str):
            type_, _, idx = spec.partition(":")
            if idx:
                if index is not None:
                    raise RuntimeError(f"type (string) must not include an index because index was passed "
                                       f"explicitly: {spec}")
                if not idx.isdigit():
                    raise RuntimeError(f"Invalid device string: '{spec}'")
                index = int(idx)
        else:
            raise TypeError(f"device() received an invalid combination of arguments - got ({type(spec).__name__})")
        if type_ not in ("cpu", "cuda"):
            raise RuntimeError(f"Expected one of cpu, cuda device type at start of device string: {spec}")
        if type_ == "cpu" and index not in (None, 0):
            raise RuntimeError(f"CPU device index must be -1 or zero, got {index}")
        self = object.__new__(cls)
        object.__setattr__(self, "type", type_)
        object.__setattr__(self, "index", index)
        cls._cache[key] = self
        return self

    def __setattr__(self, name, value):
        raise AttributeError("device is immutable")

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (str(self),))


CPU = device("cpu")


# os.environ writes through to this bytes mapping on POSIX (os.putenv and the mapping, in one assignment), so reading
# it sees every change made through os.environ (monkeypatch.setenv included) for ~0.05 us instead of the ~1 us of
# os.environ.get's key encoding: interpreting() runs once per cuda allocation.
_ENV_BYTES = os.environ._data if os.name == "posix" and isinstance(getattr(os.environ, "_data", None), dict) else None


def interpreting() -> bool:
    """True when Triton runs kernels in its interpreter (TRITON_INTERPRET=1): cuda lives in host memory."""
    if _ENV_BYTES is not None:
        return _ENV_BYTES.get(b"TRITON_INTERPRET", b"0") not in (b"", b"0")
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")
