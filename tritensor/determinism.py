"""tt.use_deterministic_algorithms: a process-wide switch that ops with a nondeterministic kernel read.

With it on, such ops take their deterministic variant (embedding's backward: a sorted, fixed-order segment
sum instead of atomics); with warn_only the choice is the same, as only ops without a deterministic
variant would differ (they warn instead of raising).
"""

from __future__ import annotations

_state = {"enabled": False, "warn_only": False}


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Sets whether ops must use deterministic algorithms (PyTorch's torch.use_deterministic_algorithms)."""
    if not isinstance(mode, bool):
        raise RuntimeError(f"use_deterministic_algorithms expects a bool, but got {type(mode).__name__}")
    if not isinstance(warn_only, bool):
        raise RuntimeError(f"warn_only expects a bool, but got {type(warn_only).__name__}")
    _state["enabled"] = mode
    _state["warn_only"] = warn_only


def are_deterministic_algorithms_enabled() -> bool:
    """True when `use_deterministic_algorithms(True)` is in effect."""
    return _state["enabled"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """True when deterministic algorithms are on with warn_only=True."""
    return _state["warn_only"]


__all__ = ["use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled"]
