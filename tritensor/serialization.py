"""tt.serialization: the allow-list of extra globals a PyTorch checkpoint may name (torch.serialization's API).

`tt.load` reads PyTorch's zip checkpoints with a restricted unpickler (`tritensor.torch_checkpoint`): by default
it accepts only what a state dict holds (tensors, parameters, storages, dtypes, devices, OrderedDict and
Python's primitive containers). A checkpoint that names another class or function is refused, unless that
object was allow-listed here. Allow-listing an object only lets the unpickler return it by name; nothing is
imported on the file's say-so.

>>> with tt.serialization.safe_globals([MyConfig]):
...     ckpt = tt.load("run.pt")
"""

from __future__ import annotations

from typing import Any

__all__ = ["add_safe_globals", "clear_safe_globals", "get_safe_globals", "safe_globals"]

# "module.qualname" -> (the object, the entry as given): the user's allow-list
_SAFE: dict[str, tuple[Any, Any]] = {}


def _entry_name(entry: Any) -> tuple[str, Any]:
    """The "module.qualname" an entry stands for: an object, or a (object, "module.name") pair."""
    if isinstance(entry, tuple):
        if len(entry) != 2 or not isinstance(entry[1], str):
            raise TypeError(f"a safe global is an object or an (object, \"module.name\") tuple; got {entry!r}")
        return entry[1], entry[0]
    module = getattr(entry, "__module__", None)
    qualname = getattr(entry, "__qualname__", None) or getattr(entry, "__name__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise TypeError(f"{entry!r} has no __module__/__qualname__; pass it as (object, \"module.name\")")
    return f"{module}.{qualname}", entry


def add_safe_globals(safe_globals: list[Any]) -> None:
    """Allow-list classes or functions a checkpoint may name, as torch.serialization.add_safe_globals.

    Each entry is the object itself (matched by its `__module__` and `__qualname__`) or a tuple
    `(object, "module.name")` for an object pickled under another name. The allow-list is process-wide.
    """
    pairs = [_entry_name(entry) for entry in safe_globals]
    for (name, obj), entry in zip(pairs, safe_globals):
        _SAFE[name] = (obj, entry)


def get_safe_globals() -> list[Any]:
    """The entries added with `add_safe_globals`, in the order they were added."""
    return [entry for _, entry in _SAFE.values()]


def clear_safe_globals() -> None:
    """Empty the allow-list: only the defaults (what a state dict holds) load again."""
    _SAFE.clear()


class safe_globals:  # noqa: N801 - PyTorch's name
    """Context manager: `add_safe_globals(list)` on entry; on exit, the allow-list as it was before."""

    def __init__(self, safe_globals: list[Any]) -> None:
        self.safe_globals = list(safe_globals)
        self._saved: dict[str, tuple[Any, Any]] = {}

    def __enter__(self) -> safe_globals:
        self._saved = dict(_SAFE)
        add_safe_globals(self.safe_globals)
        return self

    def __exit__(self, *exc: object) -> None:
        _SAFE.clear()
        _SAFE.update(self._saved)


def _lookup(name: str) -> tuple[bool, Any]:
    """(found, object) for a global "module.name" the user allow-listed."""
    hit = _SAFE.get(name)
    return (False, None) if hit is None else (True, hit[0])
