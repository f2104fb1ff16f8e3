"""tritensor.nn.functional: PyTorch's torch.nn.functional.

One module per area (activation, loss, normalization, ...); each lists its public functions in `__all__`
and this package collects them all, so adding an area means adding its module. A name declared by two
modules is an ImportError. Every function is an op of tritensor.ops under its PyTorch name, or the thin
Python layer PyTorch itself keeps in torch.nn.functional (argument checks, deprecated flags, warnings).
"""

from __future__ import annotations

from ...ops.autocast import autocast_op as _autocast_op
from .._collect import collect_public

# Each function is bound through ops/autocast.py's wrapper: autocast where PyTorch's policy names it
# (ops/autocast_policy.py), and seen by the export tracer (tritensor.onnx) under "F.<name>".
__all__ = collect_public(__name__, __path__, globals(), "nn.functional",
                         wrap=lambda name, obj: _autocast_op(name, obj, "F"))
