"""torch.utils.data.distributed's import path: DistributedSampler (tritensor.data)."""

from ...data.sampler import DistributedSampler

__all__ = ["DistributedSampler"]
