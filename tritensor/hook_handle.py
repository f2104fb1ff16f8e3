"""The handle every `register_*_hook` returns (tensors, graph nodes, modules, optimizers).

It lives below the Tensor, which re-exports it: tensor.py keeps to the Tensor's own metadata.
"""

from __future__ import annotations


class RemovableHandle:
    """A handle returned by `register_*_hook`: `remove()` unregisters the hook (also usable as a context manager)."""

    def __init__(self, remove):
        self._remove = remove

    def remove(self) -> None:
        """Unregisters the hook; calling it again does nothing."""
        if self._remove is not None:
            try:
                self._remove()
            except (ValueError, KeyError):
                pass
            self._remove = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
