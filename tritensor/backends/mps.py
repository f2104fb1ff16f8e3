"""tt.backends.mps: Apple's Metal backend, which tritensor does not have (scripts ask before choosing a device)."""

from __future__ import annotations

__all__ = ["is_available", "is_built"]


def is_available() -> bool:
    """False: tritensor has no MPS device."""
    return False


def is_built() -> bool:
    """False: tritensor is not built with MPS."""
    return False
