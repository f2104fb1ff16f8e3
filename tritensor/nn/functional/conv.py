"""nn.functional's convolutions (ops of ops/conv.py: implicit-GEMM Triton kernels on cuda, NumPy on cpu)."""

from __future__ import annotations

from ...ops.conv import conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
