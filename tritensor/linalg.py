"""tt.linalg: Linear algebra, as torch.linalg: norms, determinants, solvers, decompositions (batched; autograd).

The functions are defined in tritensor/ops/ (their modules list them under `NAMESPACES["linalg"]`) and bound
here by ops/api.py, wrapped as every op is (autocast, export tracing, profiling).
"""

from __future__ import annotations

from .ops.api import namespace as _namespace
from .ops.linalg_common import LinAlgError  # noqa: F401 - public (tt.linalg.LinAlgError)

globals().update(_namespace("linalg"))
__all__: list[str] = sorted([*_namespace("linalg"), "LinAlgError"])
