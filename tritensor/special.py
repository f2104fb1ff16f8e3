"""tt.special: Special functions, as torch.special: error functions, gamma family, Bessel functions, logits.

The functions are defined in tritensor/ops/ (their modules list them under `NAMESPACES["special"]`) and bound
here by ops/api.py, wrapped as every op is (autocast, export tracing, profiling).
"""

from __future__ import annotations

from .ops.api import namespace as _namespace

globals().update(_namespace("special"))
__all__: list[str] = sorted(_namespace("special"))
