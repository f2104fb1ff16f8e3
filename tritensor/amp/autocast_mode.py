"""`tt.autocast` (context manager and decorator) and `custom_fwd` / `custom_bwd` for custom Functions.

The region only sets the autocast state (tt.set_autocast_enabled, ...); the ops read it where they are bound
(tritensor/ops/autocast.py), following PyTorch's per-device policy (tritensor/ops/autocast_policy.py).
"""

from __future__ import annotations

import functools
import inspect
import warnings

from .. import cuda
from .. import dtypes as D
from ..ops.autocast import (
    autocast_decrement_nesting,
    autocast_increment_nesting,
    clear_autocast_cache,
    get_autocast_dtype,
    is_autocast_available,
    is_autocast_cache_enabled,
    is_autocast_enabled,
    set_autocast_cache_enabled,
    set_autocast_dtype,
    set_autocast_enabled,
)
from ..tensor import Tensor

_SUPPORTED = {"cuda": (D.float16, D.bfloat16), "cpu": (D.bfloat16, D.float16)}


class autocast:  # noqa: N801 - PyTorch's name
    """Run the ops of a region in mixed precision: matmuls, convolutions and attention in `dtype` (float16 on
    cuda, bfloat16 on cpu by default), float32-sensitive ops in float32, as PyTorch's autocast.

        with tt.autocast("cuda"):
            loss = loss_fn(model(x), y)   # linear layers in float16, the loss in float32
        loss.backward()                   # outside the region: backward runs in the forward's dtypes

    Also a decorator (`@tt.autocast("cpu")`). Regions nest; `enabled=False` opens an fp32 sub-region.
    cache_enabled: cast each fp32 weight once per outermost region (default: tt.is_autocast_cache_enabled()).
    """

    def __init__(self, device_type: str, dtype: D.dtype | None = None, enabled: bool = True,
                 cache_enabled: bool | None = None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if not is_autocast_available(device_type):
            raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
        self.device = device_type
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self._cache_enabled = is_autocast_cache_enabled() if cache_enabled is None else bool(cache_enabled)
        if enabled and device_type == "cuda" and not cuda.is_available():
            warnings.warn("User provided device_type of 'cuda', but CUDA is not available. Disabling", stacklevel=2)
            enabled = False
        if enabled and self.fast_dtype not in _SUPPORTED[device_type]:
            if device_type == "cpu":
                warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                              "CPU Autocast only supports dtype of torch.bfloat16, torch.float16 currently.",
                              stacklevel=2)
            else:
                warnings.warn("In CUDA autocast, but the target dtype is not supported. Disabling autocast.\n"
                              "CUDA Autocast only supports dtypes of torch.float16, torch.bfloat16 currently.",
                              stacklevel=2)
            enabled = False
        if enabled and device_type == "cuda" and self.fast_dtype is D.bfloat16 and not cuda.is_bf16_supported():
            raise RuntimeError("Current CUDA Device does not support bfloat16. Please switch dtype to float16.")
        self._enabled = bool(enabled)

    def __enter__(self) -> None:
        self.prev_cache_enabled = is_autocast_cache_enabled()
        self.prev = is_autocast_enabled(self.device)
        self.prev_fastdtype = get_autocast_dtype(self.device)
        set_autocast_enabled(self.device, self._enabled)
        set_autocast_dtype(self.device, self.fast_dtype)
        autocast_increment_nesting()
        set_autocast_cache_enabled(self._cache_enabled)

    def __exit__(self, exc_type, exc_val, exc_tb) -> bool:
        # Leaving the outermost region drops the cached weight casts (the weights change at the next step).
        if autocast_decrement_nesting() == 0:
            clear_autocast_cache()
        set_autocast_enabled(self.device, self.prev)
        set_autocast_dtype(self.device, self.prev_fastdtype)
        set_autocast_cache_enabled(self.prev_cache_enabled)
        return False

    def __call__(self, func):
        """Decorate `func` so that every call runs inside this region's settings."""
        if inspect.isgeneratorfunction(func):
            raise TypeError("autocast cannot decorate a generator function")

        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            with autocast(self.device, self.fast_dtype, self._enabled, self._cache_enabled):
                return func(*args, **kwargs)

        return decorate_autocast


def _cast(value, device_type: str, dtype: D.dtype):
    """value with its floating-point tensors of `device_type` (not float64) cast to dtype; containers kept."""
    if isinstance(value, Tensor):
        eligible = value.is_floating_point() and value.device.type == device_type and value.dtype is not D.float64
        return value.to(dtype) if eligible else value
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, dict):
        return {k: _cast(v, device_type, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(v, device_type, dtype) for v in value)
    return value


def custom_fwd(fwd=None, *, device_type: str, cast_inputs: D.dtype | None = None):
    """Decorator for a custom Function's `forward`: with `cast_inputs`, inside an autocast region the forward
    runs with autocast off on its floating-point inputs cast to `cast_inputs`; without it, the forward runs
    as the region says. Either way `custom_bwd` runs the backward in the same autocast state."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        ctx = args[0]
        ctx._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            ctx._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        ctx._fwd_used_autocast = False
        if not is_autocast_enabled(device_type):
            return fwd(*args, **kwargs)
        with autocast(device_type, enabled=False):
            return fwd(*_cast(args, device_type, cast_inputs), **_cast(kwargs, device_type, cast_inputs))

    return decorate_fwd


def custom_bwd(bwd=None, *, device_type: str):
    """Decorator for a custom Function's `backward`: it runs in the autocast state its `custom_fwd` forward
    ran in (a backward otherwise runs with autocast off)."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with autocast(device_type, dtype=ctx._dtype, enabled=ctx._fwd_used_autocast):
            return bwd(*args, **kwargs)

    return decorate_bwd
