"""Global autograd switches: no_grad, enable_grad, set_grad_enabled, inference_mode, anomaly detection.

Each mode object works as a context manager and as a decorator (plain and generator functions);
the previous state is restored on exit, exceptions included.
"""

from __future__ import annotations

import functools
import inspect
import warnings

from ..grad_state import state
from ..tensor import Tensor


def is_grad_enabled() -> bool:
    """True if operations are recorded for autograd now (False inside no_grad / inference_mode)."""
    return state.enabled


def is_inference_mode_enabled() -> bool:
    """True inside an active `inference_mode()` block."""
    return state.inference


def is_anomaly_enabled() -> bool:
    """True while anomaly detection is on (`detect_anomaly` / `set_detect_anomaly(True)`)."""
    return state.anomaly


def is_anomaly_check_nan_enabled() -> bool:
    """True if anomaly detection also raises when a backward produces NaN."""
    return state.check_nan


def _decorate(mode_factory, fn):
    """fn run under a fresh mode object per call (so recursion and re-entry nest correctly)."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator_wrapper(*args, **kwargs):
            gen = fn(*args, **kwargs)
            # The mode holds while the generator body runs, not while the caller holds a yielded value.
            try:
                with mode_factory():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with mode_factory():
                            gen.close()
                        raise
                    except BaseException as exc:
                        with mode_factory():
                            response = gen.throw(exc)
                    else:
                        with mode_factory():
                            response = gen.send(request)
            except StopIteration as stop:
                return stop.value

        return generator_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with mode_factory():
            return fn(*args, **kwargs)

    return wrapper


class _Mode:
    """Sets grad mode for its extent and restores the previous state after (also on exceptions)."""

    _enabled = True

    def __enter__(self):
        self._prev = state.enabled
        state.enabled = self._enabled
        return self

    def __exit__(self, *exc) -> bool:
        state.enabled = self._prev
        return False

    def __call__(self, fn):
        return _decorate(self.clone, fn)

    def clone(self):
        """A fresh, unentered copy of this mode object (used when it decorates a function)."""
        return self.__class__()


class _BareDecorator(_Mode):
    """`@no_grad` works without parentheses too, as in PyTorch."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        if not callable(orig_func):
            raise TypeError(f"{cls.__name__}() takes no arguments, got {orig_func!r}")
        return cls()(orig_func)


class no_grad(_BareDecorator):  # noqa: N801
    """Ops inside do not record the graph (results have requires_grad=False)."""

    _enabled = False


class enable_grad(_BareDecorator):  # noqa: N801
    """Re-enables recording inside a no_grad region."""

    _enabled = True


class set_grad_enabled(_Mode):  # noqa: N801
    """set_grad_enabled(mode): takes effect at once when called (like PyTorch); as a context manager or
    decorator the previous mode comes back on exit."""

    def __init__(self, mode: bool):
        self._enabled = bool(mode)
        self._prev = state.enabled
        state.enabled = self._enabled

    def __enter__(self):
        return self

    def __call__(self, fn):
        # Decorating must not leave the mode switched: undo what __init__ did.
        state.enabled = self._prev
        return _decorate(self.clone, fn)

    def clone(self):
        """A fresh, unentered `set_grad_enabled` with the same mode."""
        return set_grad_enabled(self._enabled)


class inference_mode(_Mode):  # noqa: N801
    """no_grad that also marks every tensor made inside as an inference tensor (`is_inference()`),
    which autograd refuses to save for backward later."""

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)

    def __new__(cls, mode=True):
        if callable(mode) and not isinstance(mode, bool):  # bare @inference_mode
            inst = super().__new__(cls)
            inst.__init__(True)
            return inst(mode)
        return super().__new__(cls)

    def __enter__(self):
        self._prev = (state.enabled, state.inference)
        # Like c10::InferenceMode: grad mode is the opposite of the inference flag.
        state.enabled = not self.mode
        state.inference = self.mode
        _sync_inference()
        return self

    def __exit__(self, *exc) -> bool:
        state.enabled, state.inference = self._prev
        _sync_inference()
        return False

    def __call__(self, fn=None):
        if fn is None:
            return self
        return _decorate(self.clone, fn)

    def clone(self):
        """A fresh, unentered `inference_mode` with the same mode."""
        return inference_mode(self.mode)


_plain_constructors = None


def _sync_inference() -> None:
    """While inference mode is on, Tensor's internal constructors flag what they build; outside it they are
    the plain ones again, so the normal per-op path pays nothing for the feature."""
    global _plain_constructors
    if _plain_constructors is None:
        _plain_constructors = {name: Tensor.__dict__[name] for name in ("_wrap", "_fresh", "_make", "_empty")}
    if not state.inference:
        for name, sm in _plain_constructors.items():
            setattr(Tensor, name, sm)
        return
    for name, sm in _plain_constructors.items():
        setattr(Tensor, name, staticmethod(_flagging(sm.__func__)))


def _flagging(make):
    def make_inference(*args, **kwargs):
        t = make(*args, **kwargs)
        t._inference = True
        return t

    return make_inference


class set_detect_anomaly:  # noqa: N801
    """set_detect_anomaly(mode, check_nan=True): takes effect at once; as a context manager it restores on exit."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self._prev = (state.anomaly, state.check_nan)
        state.anomaly = bool(mode)
        state.check_nan = bool(check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        state.anomaly, state.check_nan = self._prev
        return False


class detect_anomaly:  # noqa: N801
    """Record each node's forward stack; a backward that produces NaN raises naming the forward op, and an error
    inside a backward is reported with the stack of the forward call that created that node."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
                      "enabled for debugging.", stacklevel=2)

    def __enter__(self):
        self._prev = (state.anomaly, state.check_nan)
        state.anomaly = True
        state.check_nan = self.check_nan
        return self

    def __exit__(self, *exc) -> bool:
        state.anomaly, state.check_nan = self._prev
        return False

    def __call__(self, fn):
        check_nan = self.check_nan

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = (state.anomaly, state.check_nan)
            state.anomaly, state.check_nan = True, check_nan
            try:
                return fn(*args, **kwargs)
            finally:
                state.anomaly, state.check_nan = prev

        return wrapper
