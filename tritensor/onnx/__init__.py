"""tritensor.onnx: PyTorch's torch.onnx: export a model to ONNX (`export`), by tracing one run.

Needs the `onnx` package (the `onnx` extra); onnxruntime runs the exported files.
"""

from __future__ import annotations

from .export import build_model, export
from .graph import UnsupportedOperatorError

__all__ = ["export", "build_model", "UnsupportedOperatorError"]
