"""cat, stack, split, chunk, repeat, tile, flip, roll, tril/triu, pad over kernels/shape.py."""

from __future__ import annotations

__all__: list[str] = []
METHODS: dict = {}
