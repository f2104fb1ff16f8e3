"""tritensor.nn.parallel: data parallelism across processes and across the devices of one process, as
torch.nn.parallel.

`DistributedDataParallel` (tritensor/nn/parallel/distributed.py) wraps a module so that backward averages its
gradients over the ranks of a `tritensor.distributed` process group; reducer.py holds its gradient buckets.
`DataParallel` (data_parallel.py) splits each batch over the cuda devices of one process, with the functions
it is built from (scatter, replicate, parallel_apply, gather) and the functional `data_parallel`.
"""

from __future__ import annotations

from .data_parallel import DataParallel, data_parallel, gather, parallel_apply, replicate, scatter
from .distributed import DistributedDataParallel

# torch.nn.parallel's own list (scatter_kwargs is in data_parallel, as PyTorch keeps it in scatter_gather)
__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel", "gather", "parallel_apply", "replicate",
           "scatter"]
