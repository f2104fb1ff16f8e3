"""nn.functional's linear maps, padding and one_hot (ops of ops/matmul.py, ops/shape.py, ops/gather_scatter.py)."""

from __future__ import annotations

from ...ops.gather_scatter import one_hot
from ...ops.matmul import linear
from ...ops.shape import pad

__all__ = ["linear", "pad", "one_hot"]
