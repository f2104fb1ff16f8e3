"""`from tritensor.utils.data import DataLoader` works as `from torch.utils.data import DataLoader` does:
this module re-exports tritensor.data."""

from ..data import *  # noqa: F403
from ..data import __all__  # noqa: F401
