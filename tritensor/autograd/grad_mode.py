"""Whether operations record the autograd graph: no_grad, enable_grad, set_grad_enabled, inference_mode."""

from __future__ import annotations

import functools


class _State:
    __slots__ = ("enabled", "inference")

    def __init__(self):
        self.enabled = True
        self.inference = False


state = _State()


def is_grad_enabled() -> bool:
    return state.enabled


def is_inference_mode_enabled() -> bool:
    return state.inference


class _Mode:
    """Context manager and decorator that sets grad mode for its extent and restores it after."""

    _enabled = True
    _inference = None

    def __enter__(self):
        self._prev = (state.enabled, state.inference)
        state.enabled = self._enabled
        if self._inference is not None:
            state.inference = self._inference
        return self

    def __exit__(self, *exc):
        state.enabled, state.inference = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)

        return wrapper

    def clone(self):
        return self.__class__()


class no_grad(_Mode):  # noqa: N801
    _enabled = False


class enable_grad(_Mode):  # noqa: N801
    _enabled = True


class set_grad_enabled(_Mode):  # noqa: N801
    def __init__(self, mode: bool):
        self._enabled = bool(mode)
        # Like PyTorch, calling it as a function (not as a context manager) also takes effect.
        self._prev = (state.enabled, state.inference)
        state.enabled = self._enabled

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        state.enabled, state.inference = self._prev
        return False

    def clone(self):
        return set_grad_enabled(self._enabled)


class inference_mode(_Mode):  # noqa: N801
    def __init__(self, mode: bool = True):
        self.mode = bool(mode)
        self._enabled = not self.mode
        self._inference = self.mode

    def __call__(self, fn=None):
        if fn is None:
            return self
        return super().__call__(fn)

    def clone(self):
        return inference_mode(self.mode)
