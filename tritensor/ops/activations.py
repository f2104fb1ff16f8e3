"""Activation functions (relu, gelu, silu, ...) registered over kernels/activations.py."""

from __future__ import annotations

__all__: list[str] = []
METHODS: dict = {}
