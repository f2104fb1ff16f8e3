"""tritensor.nn.functional: PyTorch's torch.nn.functional.

One module per area (activation, loss, normalization, ...); each lists its public functions in `__all__`
and this package collects them all, so adding an area means adding its module. A name declared by two
modules is an ImportError. Every function is an op of tritensor.ops under its PyTorch name, or the thin
Python layer PyTorch itself keeps in torch.nn.functional (argument checks, deprecated flags, warnings).
"""

from __future__ import annotations

from .._collect import collect_public

__all__ = collect_public(__name__, __path__, globals(), "nn.functional")
