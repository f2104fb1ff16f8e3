"""`tt.cuda.amp`: PyTorch's older torch.cuda.amp names, kept working with the FutureWarning PyTorch gives.

tritensor.amp registers this module as `tritensor.cuda.amp` (tritensor.cuda sits below the op layer and cannot
import amp itself).
"""

from __future__ import annotations

import functools
import warnings

from .. import dtypes as D
from . import autocast_mode
from .grad_scaler import GradScaler as _GradScaler

__all__ = ["autocast", "GradScaler", "custom_fwd", "custom_bwd"]


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"`tritensor.cuda.amp.{old}(args...)` is deprecated. Please use `tritensor.amp.{new}` instead.",
                  FutureWarning, stacklevel=3)


class autocast(autocast_mode.autocast):  # noqa: N801 - PyTorch's name
    """`tt.autocast("cuda", ...)` under its deprecated name."""

    def __init__(self, enabled: bool = True, dtype: D.dtype = D.float16, cache_enabled: bool = True):
        _deprecated("autocast", "autocast('cuda', args...)")
        super().__init__("cuda", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


class GradScaler(_GradScaler):
    """`tt.amp.GradScaler("cuda", ...)` under its deprecated name."""

    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:
        _deprecated("GradScaler", "GradScaler('cuda', args...)")
        super().__init__("cuda", init_scale=init_scale, growth_factor=growth_factor, backoff_factor=backoff_factor,
                         growth_interval=growth_interval, enabled=enabled)


def custom_fwd(fwd=None, *, cast_inputs: D.dtype | None = None):
    """`tt.amp.custom_fwd(device_type="cuda", ...)` under its deprecated name."""
    _deprecated("custom_fwd", "custom_fwd(args..., device_type='cuda')")
    if fwd is None:
        return functools.partial(autocast_mode.custom_fwd, device_type="cuda", cast_inputs=cast_inputs)
    return autocast_mode.custom_fwd(fwd, device_type="cuda", cast_inputs=cast_inputs)


def custom_bwd(bwd=None):
    """`tt.amp.custom_bwd(device_type="cuda")` under its deprecated name."""
    _deprecated("custom_bwd", "custom_bwd(args..., device_type='cuda')")
    if bwd is None:
        return functools.partial(autocast_mode.custom_bwd, device_type="cuda")
    return autocast_mode.custom_bwd(bwd, device_type="cuda")
