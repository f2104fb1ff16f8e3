"""tritensor.nn.parallel: data parallelism across processes, as torch.nn.parallel.

`DistributedDataParallel` (tritensor/nn/parallel/distributed.py) wraps a module so that backward averages its
gradients over the ranks of a `tritensor.distributed` process group; reducer.py holds its gradient buckets.
"""

from __future__ import annotations

from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
