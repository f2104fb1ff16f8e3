"""nn.functional's residual add + normalization pairs (tritensor extensions, ops of ops/norm_residual.py):
`add_layer_norm` and `add_rms_norm` return (input + residual, norm of that sum), run as one kernel on cuda."""

from __future__ import annotations

from ...ops.norm_residual import add_layer_norm, add_rms_norm

__all__ = ["add_layer_norm", "add_rms_norm"]
