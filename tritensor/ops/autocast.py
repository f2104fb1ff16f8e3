"""Autocast at the one place ops are bound: `autocast_op` wraps every public op function, and casts those
autocast_policy.POLICIES names.

ops/api.py wraps `tt.*` functions and Tensor methods as it binds them, and nn.functional wraps its functions
as it collects them; the wrapper costs one flag test while no autocast region is open (two for a policy op).
Inside a region, an op on tensors of an autocast device type gets its floating-point operands cast as that
device's policy says, then runs with autocast suspended (PyTorch excludes the autocast key below an autocast
kernel), so a composite op is cast once, at its top. The same wrapper lets a tracer above ops (tritensor.onnx)
see every public op call (`op_hook`), without a second table of ops. Also here: PyTorch's functions that read
and set the autocast state.
"""

from __future__ import annotations

import functools
import types

from .. import dtypes as D
from ..autocast_state import DEFAULT_DTYPES, state, suspended
from ..tensor import Tensor
from .autocast_policy import BANNED, BANNED_MESSAGE, FP32, LOWER, POLICIES, PROMOTE
from .copy import to_copy

__all__ = ["is_autocast_enabled", "set_autocast_enabled", "get_autocast_dtype", "set_autocast_dtype",
           "get_autocast_gpu_dtype", "set_autocast_gpu_dtype", "get_autocast_cpu_dtype", "set_autocast_cpu_dtype",
           "is_autocast_cpu_enabled", "set_autocast_cpu_enabled", "is_autocast_cache_enabled",
           "set_autocast_cache_enabled", "clear_autocast_cache", "autocast_increment_nesting",
           "autocast_decrement_nesting", "is_autocast_available"]


# ---------------------------------------------------------------- the state, PyTorch's functions
def _device_type(device_type: str) -> str:
    if not isinstance(device_type, str):
        raise TypeError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if device_type not in DEFAULT_DTYPES:
        raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
    return device_type


def is_autocast_available(device_type: str) -> bool:
    """True for the device types autocast supports here: 'cuda' and 'cpu'."""
    return device_type in DEFAULT_DTYPES


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """True while autocast is on for `device_type` (default 'cuda')."""
    return state.enabled[_device_type("cuda" if device_type is None else device_type)]


def set_autocast_enabled(device_type, enabled: bool | None = None) -> None:
    """Turn autocast on or off for a device type: `set_autocast_enabled('cpu', True)`, or the legacy
    `set_autocast_enabled(True)` for cuda."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    state.set_enabled(_device_type(device_type), enabled)


def get_autocast_dtype(device_type: str) -> D.dtype:
    """The lower-precision dtype autocast uses on `device_type` (float16 on cuda, bfloat16 on cpu by default)."""
    return state.dtype[_device_type(device_type)]


def set_autocast_dtype(device_type: str, dtype: D.dtype) -> None:
    """Set the lower-precision dtype autocast uses on `device_type`."""
    state.dtype[_device_type(device_type)] = dtype


def get_autocast_gpu_dtype() -> D.dtype:
    """The autocast dtype of cuda (deprecated in PyTorch for `get_autocast_dtype('cuda')`)."""
    return state.dtype["cuda"]


def set_autocast_gpu_dtype(dtype: D.dtype) -> None:
    """Set the autocast dtype of cuda."""
    state.dtype["cuda"] = dtype


def get_autocast_cpu_dtype() -> D.dtype:
    """The autocast dtype of cpu (deprecated in PyTorch for `get_autocast_dtype('cpu')`)."""
    return state.dtype["cpu"]


def set_autocast_cpu_dtype(dtype: D.dtype) -> None:
    """Set the autocast dtype of cpu."""
    state.dtype["cpu"] = dtype


def is_autocast_cpu_enabled() -> bool:
    """True while autocast is on for cpu."""
    return state.enabled["cpu"]


def set_autocast_cpu_enabled(enabled: bool) -> None:
    """Turn cpu autocast on or off."""
    state.set_enabled("cpu", enabled)


def is_autocast_cache_enabled() -> bool:
    """True when lower-precision copies of fp32 leaf weights are cached inside autocast regions."""
    return state.cache_enabled


def set_autocast_cache_enabled(enabled: bool) -> None:
    """Turn the autocast weight-cast cache on or off."""
    state.cache_enabled = bool(enabled)


def clear_autocast_cache() -> None:
    """Drop every cached weight cast (autocast does so on leaving its outermost region)."""
    state.cache.clear()


def autocast_increment_nesting() -> int:
    """Enter one autocast region; returns the new depth."""
    state.nesting += 1
    return state.nesting


def autocast_decrement_nesting() -> int:
    """Leave one autocast region; returns the new depth (0: outside every region)."""
    state.nesting -= 1
    return state.nesting


# ---------------------------------------------------------------- the wrapper
class _OpHook:
    """The slot a layer above ops fills to see every public op call: `trace` is None, or
    `trace(name, call, args, kwargs)`, which must return `call(*args, **kwargs)`.

    One slot, so the wrapper's fast path stays one `is None` test. Two layers share it by chaining:
    `install(fn)` puts `fn` in the slot and returns the hook it replaced, which `fn` calls in place of `call`
    (tritensor.profiler does so, so a profile sees the calls whether or not an export trace is running
    below it); `restore(fn, previous)` puts that one back. tritensor.onnx sets `trace` directly (it refuses
    to start while the slot is taken)."""

    __slots__ = ("trace",)

    def __init__(self) -> None:
        self.trace = None

    def install(self, fn):
        """Put `fn` in the slot; returns the hook that was there (None or a function `fn` must chain to)."""
        previous, self.trace = self.trace, fn
        return previous

    def restore(self, fn, previous) -> None:
        """Undo `install(fn)`: put `previous` back, if `fn` is still the one installed (a hook installed
        later and not removed, or one cleared by its owner, is left as it is)."""
        if self.trace is fn:
            self.trace = previous


op_hook = _OpHook()


def autocast_op(name: str, fn, namespace: str = ""):
    """fn as it is bound: with autocast applied per POLICIES[device][name] when a device type lists `name`, and
    visible to `op_hook.trace` (tracing for export) under `name`; fn itself when it is not a plain function (a
    class, a constant) or is already wrapped. `namespace` tells the tracer which signature the op has ("F" for
    nn.functional, "" for `tt.*`/Tensor methods)."""
    if not isinstance(fn, types.FunctionType) or getattr(fn, "_op_name", None) is not None:
        return fn
    policies = {device: table[name] for device, table in POLICIES.items() if name in table}
    qualified = f"{namespace}.{name}" if namespace else name

    if policies:
        @functools.wraps(fn)
        def call(*args, **kwargs):
            if not state.active:
                return fn(*args, **kwargs)
            return _autocast_call(fn, policies, args, kwargs)

        @functools.wraps(fn)
        def op(*args, **kwargs):
            if not state.active and op_hook.trace is None:  # the fast path
                return fn(*args, **kwargs)
            if op_hook.trace is None:
                return _autocast_call(fn, policies, args, kwargs)
            return op_hook.trace(qualified, call, args, kwargs)
    else:
        @functools.wraps(fn)
        def op(*args, **kwargs):
            if op_hook.trace is None:  # the fast path
                return fn(*args, **kwargs)
            return op_hook.trace(qualified, fn, args, kwargs)

    op._autocast_policies = policies or None
    op._op_name = qualified
    # pickle finds a function by module and name: point it at the namespace the wrapper is bound in, where that
    # name is this very object (tt.stack, F.relu), not at the defining module's plain function.
    op.__module__ = {"": "tritensor", "F": "tritensor.nn.functional"}.get(namespace, f"tritensor.{namespace}")
    op.__qualname__ = name
    return op


def checks_hook_itself(name: str):
    """Decorator for a hot op that tests `op_hook.trace is None` (and autocast being off, where it matters)
    before its fast path, and otherwise calls its general path as bound by `autocast_op`: binding leaves the
    op unwrapped, so that a plain call pays no wrapper layer. Only for ops without an autocast policy."""

    def mark(fn):
        if any(name in table for table in POLICIES.values()):
            raise ValueError(f"{name} has an autocast policy: it must be bound through autocast_op")
        fn._op_name = name
        fn._autocast_policies = None
        return fn

    return mark


def _first_tensor(values):
    for v in values:
        if type(v) is Tensor or isinstance(v, Tensor):
            return v
        if isinstance(v, (list, tuple)):
            for w in v:
                if isinstance(w, Tensor):
                    return w
    return None


def _eligible(v, device_type: str) -> bool:
    # PyTorch casts floating-point tensors of the region's device type, never float64 ones.
    return (isinstance(v, Tensor) and v.dtype.is_floating_point and v.dtype is not D.float64
            and v.device.type == device_type)


def _widest(values, device_type: str) -> D.dtype | None:
    widest = None
    for v in values:
        items = v if isinstance(v, (list, tuple)) else (v,)
        for t in items:
            if _eligible(t, device_type):
                widest = t.dtype if widest is None else D.promote_types(widest, t.dtype)
    return widest


def _cast(v, dtype: D.dtype, device_type: str, cacheable: bool):
    if isinstance(v, (list, tuple)) and any(isinstance(w, Tensor) for w in v):
        return type(v)(_cast(w, dtype, device_type, cacheable) for w in v)
    if not _eligible(v, device_type) or v.dtype is dtype:
        return v
    # A fp32 leaf weight is cast once per outermost region (PyTorch's cast cache).
    if cacheable and state.cache_enabled and v.dtype is D.float32 and v._requires_grad and v.is_leaf:
        hit = state.cache.get(id(v))
        if hit is not None and hit[0] is v:
            return hit[1]
        cast = to_copy(v, dtype, v.device)
        state.cache[id(v)] = (v, cast)
        return cast
    return to_copy(v, dtype, v.device)


def _autocast_call(fn, policies: dict, args: tuple, kwargs: dict):
    # Explicit dtype= and out= calls are not eligible (PyTorch's op eligibility rules).
    if kwargs.get("dtype") is not None or kwargs.get("out") is not None:
        return fn(*args, **kwargs)
    first = _first_tensor(args)
    if first is None:
        first = _first_tensor(kwargs.values())
    if first is None:
        return fn(*args, **kwargs)
    device_type = first.device.type
    policy = policies.get(device_type)
    if policy is None or not state.enabled.get(device_type, False):
        return fn(*args, **kwargs)
    if policy is BANNED:
        raise RuntimeError(BANNED_MESSAGE)
    if policy is LOWER:
        dtype = state.dtype[device_type]
    elif policy is FP32:
        dtype = D.float32
    else:
        assert policy is PROMOTE
        dtype = _widest((*args, *kwargs.values()), device_type)
        if dtype is None:
            return fn(*args, **kwargs)
    cacheable = policy is LOWER
    args = tuple(_cast(a, dtype, device_type, cacheable) for a in args)
    kwargs = {k: _cast(v, dtype, device_type, cacheable) for k, v in kwargs.items()}
    with suspended():
        return fn(*args, **kwargs)
