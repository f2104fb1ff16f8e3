"""torch.utils.data.sampler's import path: the samplers (tritensor.data)."""

from ...data.sampler import (
                             BatchSampler,
                             RandomSampler,
                             Sampler,
                             SequentialSampler,
                             SubsetRandomSampler,
                             WeightedRandomSampler,
)

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler"]
