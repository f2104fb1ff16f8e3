"""torch.utils.data.dataloader's import path: DataLoader and the default collate functions (tritensor.data)."""

from ...data.collate import default_collate, default_convert
from ...data.dataloader import DataLoader

__all__ = ["DataLoader", "default_collate", "default_convert"]
