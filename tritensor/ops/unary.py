"""Unary math ops (exp, log, sin, ...) registered over kernels/unary.py."""

from __future__ import annotations

__all__: list[str] = []
METHODS: dict = {}
