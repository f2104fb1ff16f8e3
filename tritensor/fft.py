"""tt.fft: Discrete Fourier transforms, as torch.fft: fft/ifft, rfft/irfft, 2-d and n-d forms, frequencies, shifts.

The functions are defined in tritensor/ops/ (their modules list them under `NAMESPACES["fft"]`) and bound
here by ops/api.py, wrapped as every op is (autocast, export tracing, profiling).
"""

from __future__ import annotations

from .ops.api import namespace as _namespace

globals().update(_namespace("fft"))
__all__: list[str] = sorted(_namespace("fft"))
