"""tritensor.amp: automatic mixed precision, as PyTorch's torch.amp.

`autocast` runs each op of a region in the dtype PyTorch's per-device policy gives it (matmuls and
convolutions in float16/bfloat16, reductions and losses in float32); `GradScaler` scales the loss so
that float16 gradients do not underflow, and skips the steps whose gradients overflowed.
"""

from __future__ import annotations

import sys

from .. import cuda as _cuda
from ..ops.autocast import is_autocast_available
from .autocast_mode import autocast, custom_bwd, custom_fwd
from .grad_scaler import GradScaler

__all__ = ["autocast", "custom_fwd", "custom_bwd", "GradScaler", "is_autocast_available"]

# `tt.cuda.amp` / `import tritensor.cuda.amp`: PyTorch's older names (tritensor.cuda cannot import this layer).
from . import cuda_amp as _cuda_amp  # noqa: E402 - after the names it re-exports

sys.modules[f"{_cuda.__name__}.amp"] = _cuda_amp
_cuda.amp = _cuda_amp
