"""Binary arithmetic ops (div, pow, maximum, ...) registered over kernels/binary.py."""

from __future__ import annotations

__all__: list[str] = []
METHODS: dict = {}
