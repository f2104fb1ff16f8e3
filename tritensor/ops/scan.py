"""cumsum, cumprod over kernels/scan.py."""

from __future__ import annotations

__all__: list[str] = []
METHODS: dict = {}
