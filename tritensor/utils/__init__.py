"""tt.utils: PyTorch's utils namespace (`tt.utils.data` is tritensor.data)."""

from . import data

__all__ = ["data"]
