"""gather, scatter, index_select, masked ops, advanced indexing over kernels/indexing.py."""

from __future__ import annotations

__all__: list[str] = []
METHODS: dict = {}
