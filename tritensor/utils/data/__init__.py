"""`from tritensor.utils.data import DataLoader` works as `from torch.utils.data import DataLoader` does.

The implementation is tritensor.data; this package and its modules (dataloader, dataset, distributed, sampler) mirror
torch.utils.data's import paths and re-export it.
"""

from ...data import *  # noqa: F403
from ...data import __all__  # noqa: F401
from . import dataloader, dataset, distributed, sampler  # noqa: F401
