"""tt.backends.cudnn: PyTorch's cuDNN switches, accepted without effect (tritensor's kernels are Triton kernels, not
cuDNN calls), so scripts that set them port unchanged. `allow_tf32` is read by the convolutions, as PyTorch's
convolutions follow it."""

from __future__ import annotations

__all__ = ["enabled", "benchmark", "deterministic", "allow_tf32", "is_available", "version"]

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False: there is no cuDNN here."""
    return False


def version() -> None:
    """None: there is no cuDNN here."""
    return None
