"""tt.sparse: Sparse tensors, as torch.sparse: sparse x dense products and sums over COO and CSR tensors.

The functions are defined in tritensor/ops/ (their modules list them under `NAMESPACES["sparse"]`) and bound
here by ops/api.py, wrapped as every op is (autocast, export tracing, profiling).
"""

from __future__ import annotations

from .ops.api import namespace as _namespace

globals().update(_namespace("sparse"))
__all__: list[str] = sorted(_namespace("sparse"))
