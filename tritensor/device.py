"""Devices: `cpu` (NumPy) and `cuda` (a GPU through cuda.core, or Triton's interpreter on host memory).

Also the state behind the default device of factory functions (`tt.set_default_device`, `with tt.device(...)`):
per thread, as PyTorch keeps it, read by the factories in creation.py.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable


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

    def __enter__(self) -> device:
        """`with tt.device("cuda"):` makes this device the default of the factory functions in this thread until
        the block ends (an explicit `device=` still wins); blocks nest, the innermost one counts."""
        _THREAD.blocks.append(self)
        _note_change()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        _THREAD.blocks.pop()
        _note_change()

    def __call__(self, func: Callable) -> Callable:
        """`@tt.device("cuda")` on a function: each call runs inside `with tt.device("cuda"):`."""

        @functools.wraps(func)
        def with_default_device(*args, **kwargs):
            with self:
                return func(*args, **kwargs)

        return with_default_device


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


# ---------------------------------------------------------------- the default device of factory functions
class _ThreadDefault(threading.local):
    """One thread's factory default, as in PyTorch (a thread starts on cpu whatever its parent set)."""

    def __init__(self) -> None:
        self.base: device | None = None  # set_default_device's device; None is cpu
        self.blocks: list[device] = []  # the open `with tt.device(...)` blocks, innermost last
        self.holder: _Holder | None = None  # present while this thread has a default set (see _Holder)


_THREAD = _ThreadDefault()
_LOCK = threading.RLock()  # re-entrant: a holder dropped while the lock is held must not deadlock
_HOLDERS = 0  # live _Holder objects: threads whose factories must ask _THREAD
_WATCHERS: list[Callable[[bool], None]] = []


class _Holder:
    """Counts one thread with a default device. It lives in that thread's local state, so a thread that ends
    with its default still set releases it too (its locals are dropped): the count falls back to 0 and the
    factories to their one-lookup path."""

    def __init__(self) -> None:
        _add_holders(1)

    def __del__(self) -> None:
        _add_holders(-1)


def _add_holders(n: int) -> None:
    global _HOLDERS
    with _LOCK:
        before = _HOLDERS > 0
        _HOLDERS += n
        after = _HOLDERS > 0
        if before != after:
            for watch in _WATCHERS:
                watch(after)


def _note_change() -> None:
    state = _THREAD
    wanted = state.base is not None or bool(state.blocks)
    if wanted and state.holder is None:
        state.holder = _Holder()
    elif not wanted and state.holder is not None:
        state.holder = None


def watch_default(callback: Callable[[bool], None]) -> None:
    """Call `callback(active)` whenever "some thread has a default device set" changes (and once now).

    The factories keep that flag in a module variable of their own, so without a default device they pay a
    single global lookup and never touch the thread-local state.
    """
    with _LOCK:
        _WATCHERS.append(callback)
        callback(_HOLDERS > 0)


def thread_default() -> device | None:
    """This thread's default device for factory functions as given (cuda may lack an index); None when unset."""
    state = _THREAD
    return state.blocks[-1] if state.blocks else state.base


def set_thread_default(spec) -> None:
    """Sets (or, with None, clears) this thread's default device; open `with tt.device(...)` blocks still win."""
    _THREAD.base = None if spec is None else device(spec)
    _note_change()
