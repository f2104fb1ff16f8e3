"""`from tritensor.utils.tensorboard import SummaryWriter` works as `from torch.utils.tensorboard import SummaryWriter`.

TensorBoard event files are written by tensorboardX (the `tensorboard` extra: `pip install "tritensor[tensorboard]"`).
Importing this package needs nothing beyond tritensor; constructing a SummaryWriter without tensorboardX raises
ImportError naming the extra.
"""

from .writer import SummaryWriter

__all__ = ["SummaryWriter"]
