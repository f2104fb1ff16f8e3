"""matmul, mm, bmm, addmm, baddbmm, outer, dot, einsum, linear over kernels/matmul.py."""

from __future__ import annotations

__all__: list[str] = []
METHODS: dict = {}
