"""sort, argsort, topk over kernels/sort.py."""

from __future__ import annotations

__all__: list[str] = []
METHODS: dict = {}
