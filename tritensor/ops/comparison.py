"""Comparisons, logical/bitwise ops, where, clamp, isnan, ... over kernels/comparison.py."""

from __future__ import annotations

__all__: list[str] = []
METHODS: dict = {}
