"""tritensor.nn.modules: the layer classes, laid out as torch.nn.modules (module, container, linear, ...).

Each module of this package lists its layer classes in `__all__`; this package collects them, so adding a
family of layers means adding its module. A name declared by two modules is an ImportError.
"""

from __future__ import annotations

from .._collect import collect_public

__all__ = collect_public(__name__, __path__, globals(), "nn")
